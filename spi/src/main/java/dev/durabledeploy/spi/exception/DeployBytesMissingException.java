package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.util.List;

/**
 * An alias move (promote, rollback) was refused because the target deploy's marker or some of its
 * files are no longer in the blob store: its row says it is finalized, but a serve plane pointed at
 * it would serve a broken site. Nothing was changed. Find out who removed the objects (the
 * reconciler reports them as {@code CONTENT_CHANGED} or {@code ROW_WITHOUT_BYTES}); make a new
 * deploy and promote that instead.
 */
public class DeployBytesMissingException extends DurableDeployException {

  /** How many missing paths the exception lists; {@link #missingCount()} has the total. */
  public static final int LISTED = 20;

  private final SiteId site;
  private final DeployId deployId;
  private final List<String> missing;
  private final int missingCount;

  /**
   * @param missing what is missing, sorted: paths relative to the deploy, the marker by its file
   *     name
   * @param detail why, e.g. "its marker is missing" or "3 of its 120 files are missing"
   */
  public DeployBytesMissingException(
      SiteId site, DeployId deployId, List<String> missing, String detail) {
    super(
        "deploy '"
            + deployId
            + "' of site '"
            + site
            + "' cannot be aliased: "
            + detail
            + (missing.isEmpty()
                ? ""
                : ": "
                    + missing.stream().limit(LISTED).toList()
                    + (missing.size() > LISTED
                        ? " and " + (missing.size() - LISTED) + " more"
                        : ""))
            + "; check the blob store for lost objects, or deploy again and promote the new"
            + " deploy");
    this.site = site;
    this.deployId = deployId;
    this.missing = List.copyOf(missing.subList(0, Math.min(LISTED, missing.size())));
    this.missingCount = missing.size();
  }

  public SiteId site() {
    return site;
  }

  public DeployId deployId() {
    return deployId;
  }

  /** The first {@value #LISTED} missing objects, relative to the deploy's prefix. */
  public List<String> missing() {
    return missing;
  }

  /** How many objects are missing in all. */
  public int missingCount() {
    return missingCount;
  }
}
