package dev.durabledeploy.examples;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The release history the end-to-end scenarios start from, and what it projects. */
final class Releases {

  private Releases() {}

  /**
   * Finalizes {@code count} deploys of {@code index.html} and {@code app.js} to production, one a
   * minute; deploy {@code i} gets the sha {@code shas.get(i)} ({@code null} for a random id).
   */
  static List<Deploy> toProduction(
      DurableDeploy plane, SiteId site, MutableClock clock, List<String> shas) {
    List<Deploy> deploys = new ArrayList<>();
    for (int i = 0; i < shas.size(); i++) {
      Deploy d = plane.deploys().init(site, shas.get(i));
      for (String file : List.of("index.html", "app.js")) {
        byte[] bytes = (file + " v" + i).getBytes(StandardCharsets.UTF_8);
        plane
            .deploys()
            .upload(
                site, d.id(), UploadPath.of(file), new ByteArrayInputStream(bytes), bytes.length);
      }
      plane
          .deploys()
          .finalizeDeploy(site, d.id(), AliasName.PRODUCTION, Manifest.of("index.html", "app.js"));
      deploys.add(d);
      clock.advance(Duration.ofMinutes(1));
    }
    return deploys;
  }

  /**
   * The field {@code field} ({@code deployId}, {@code version}) of the site's production alias
   * projection as JSON text without quotes, or {@code ""} before the first projection.
   */
  static String projected(BlobStore blobs, SiteId site, String field) {
    return blobs
        .get(BlobLayout.alias(site, AliasName.PRODUCTION))
        .map(
            c -> {
              try (BlobContent content = c) {
                String json = new String(content.readAllBytes(), StandardCharsets.UTF_8);
                return json.replaceAll(".*\"" + field + "\":\"?([^\",}]*)\"?.*", "$1");
              }
            })
        .orElse("");
  }
}
