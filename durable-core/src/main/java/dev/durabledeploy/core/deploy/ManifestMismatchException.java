package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.List;

/**
 * Finalize found files whose stored size or SHA-256 differs from what the manifest declares. Lists
 * the first {@value #LISTED} (sorted by path) and the total; the deploy is pending again, so the
 * client can upload the right bytes (a re-upload replaces a path) and finalize again.
 */
public class ManifestMismatchException extends InvalidInputException {

  public static final int LISTED = 20;

  /**
   * One file that differs.
   *
   * @param what {@code "size"} or {@code "sha256"}
   * @param declared what the manifest says
   * @param stored what the blob store holds
   */
  public record Mismatch(String path, String what, String declared, String stored) {
    @Override
    public String toString() {
      return path + " (" + what + " " + declared + " declared, " + stored + " stored)";
    }
  }

  private final List<Mismatch> mismatches;
  private final int mismatchCount;

  public ManifestMismatchException(List<Mismatch> mismatches) {
    this(
        mismatches.stream()
            .sorted(java.util.Comparator.comparing(Mismatch::path).thenComparing(Mismatch::what))
            .toList(),
        true);
  }

  private ManifestMismatchException(List<Mismatch> mismatches, boolean sorted) {
    super(
        "manifest",
        mismatches.size()
            + " file(s) differ from the manifest: "
            + mismatches.stream().limit(LISTED).map(Mismatch::toString).toList()
            + (mismatches.size() > LISTED ? " and " + (mismatches.size() - LISTED) + " more" : "")
            + "; upload them again and finalize again");
    this.mismatches = List.copyOf(mismatches.subList(0, Math.min(LISTED, mismatches.size())));
    this.mismatchCount = mismatches.size();
  }

  /** The first {@value #LISTED} mismatches. */
  public List<Mismatch> mismatches() {
    return mismatches;
  }

  /** How many files differ in all. */
  public int mismatchCount() {
    return mismatchCount;
  }
}
