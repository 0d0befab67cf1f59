package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPrefix;
import java.util.List;

/**
 * Where everything lives in the blob store. A site id is a slug that never starts with an
 * underscore, so {@code _trash/} and {@code _purging/} can never collide with a site.
 *
 * <pre>
 * &lt;site&gt;/deploys/&lt;deployId&gt;/...             the deploy's files
 * &lt;site&gt;/deploys/&lt;deployId&gt;/.durable-deploy.json  the marker: written by finalize
 * &lt;site&gt;/aliases/&lt;alias&gt;.json               the alias projection for a serve plane
 * _trash/&lt;site&gt;/&lt;deployId&gt;/...             soft-deleted bytes until the purge
 * _purging/&lt;site&gt;.json                     a site purge in progress: written first, deleted last
 * </pre>
 */
public final class BlobLayout {

  /** The marker's file name inside a deploy prefix; uploads may not use it. */
  public static final String MARKER_NAME = ".durable-deploy.json";

  public static final String TRASH = "_trash";

  public static final String PURGING = "_purging";

  /** The root of trashed sites' bytes: {@code _trash-site/<site>/} mirrors {@code <site>/}. */
  public static final String SITE_TRASH = "_trash-site";

  private BlobLayout() {}

  public static BlobPrefix site(SiteId site) {
    return BlobPrefix.of(site.value());
  }

  public static BlobPrefix deploys(SiteId site) {
    return BlobPrefix.of(site.value(), "deploys");
  }

  public static BlobPrefix deploy(SiteId site, DeployId id) {
    return BlobPrefix.of(site.value(), "deploys", id.value());
  }

  public static BlobKey marker(SiteId site, DeployId id) {
    return deploy(site, id).resolve(MARKER_NAME);
  }

  public static BlobPrefix trash(SiteId site) {
    return BlobPrefix.of(TRASH, site.value());
  }

  public static BlobPrefix trash(SiteId site, DeployId id) {
    return BlobPrefix.of(TRASH, site.value(), id.value());
  }

  /** Where a trashed site's bytes wait for a restore or the purge: {@code _trash-site/<site>/}. */
  public static BlobPrefix siteTrash(SiteId site) {
    return BlobPrefix.of(SITE_TRASH, site.value());
  }

  /**
   * The roots under which a site's name is the first segment: the bucket's top level ({@code
   * <site>/}), the deploy trash and the site trash. A walk for every site the bucket has walks all
   * three: a site whose only bytes are trash still has bytes someone must expire.
   */
  public static List<BlobPrefix> siteRoots() {
    return List.of(BlobPrefix.ROOT, BlobPrefix.of(TRASH), BlobPrefix.of(SITE_TRASH));
  }

  /** Every prefix that holds bytes of {@code site}: {@code <site>/}, its deploy and site trash. */
  public static List<BlobPrefix> bytesOf(SiteId site) {
    return List.of(site(site), trash(site), siteTrash(site));
  }

  /** Where {@code purgeSite} records that it started, so a crash half way is finished later. */
  public static BlobKey purgeIntent(SiteId site) {
    return purgeIntents().resolve(site.value() + ".json");
  }

  public static BlobPrefix purgeIntents() {
    return BlobPrefix.of(PURGING);
  }

  public static BlobPrefix aliases(SiteId site) {
    return BlobPrefix.of(site.value(), "aliases");
  }

  public static BlobKey alias(SiteId site, AliasName alias) {
    return aliases(site).resolve(alias.value() + ".json");
  }
}
