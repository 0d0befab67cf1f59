package dev.durabledeploy.core.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.SiteProfile;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A plane that refuses deploys to unregistered sites. */
class RequireRegisteredSitesTest extends CoreFixture {

  private static final SiteProfile DOCS = SiteProfile.of("Docs", "team:docs");

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().requireRegisteredSites(true).build();
  }

  @Test
  @DisplayName("requireRegisteredSites: init of an unregistered site is refused, nothing written")
  void refused() {
    assertThatThrownBy(() -> deploys.init(SITE, null))
        .isInstanceOf(SiteNotFoundException.class)
        .hasMessageContaining("site 'site-a' is not registered")
        .hasMessageContaining("requireRegisteredSites");
    assertThat(store.metadata().listDeploys(SITE)).isEmpty();
    assertThat(store.metadata().findSite(SITE)).isEmpty();
    assertThat(store.metadata().auditLog(SITE, 10)).isEmpty();
    plane.sites().register(SITE, DOCS);
    assertThat(deploys.init(SITE, null).state()).isEqualTo(DeployState.PENDING);
  }
}
