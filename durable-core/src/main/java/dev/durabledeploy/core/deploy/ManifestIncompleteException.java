package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.List;

/**
 * Finalize found manifest files missing from the blob store. Lists the first {@value #LISTED}
 * missing paths (sorted) and the total, so a client can upload them and finalize again.
 */
public class ManifestIncompleteException extends InvalidInputException {

  public static final int LISTED = 20;

  private final List<UploadPath> missing;
  private final int missingCount;

  public ManifestIncompleteException(List<UploadPath> missing) {
    super(
        "manifest",
        missing.size()
            + " file(s) of the manifest were not uploaded: "
            + missing.stream().limit(LISTED).map(UploadPath::value).toList()
            + (missing.size() > LISTED ? " and " + (missing.size() - LISTED) + " more" : ""));
    this.missing = List.copyOf(missing.subList(0, Math.min(LISTED, missing.size())));
    this.missingCount = missing.size();
  }

  /** The first {@value #LISTED} missing paths. */
  public List<UploadPath> missing() {
    return missing;
  }

  /** How many paths are missing in all. */
  public int missingCount() {
    return missingCount;
  }
}
