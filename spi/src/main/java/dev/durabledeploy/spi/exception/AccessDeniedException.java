package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import java.util.Objects;
import java.util.Optional;

/**
 * The host's {@link dev.durabledeploy.spi.Authorizer} refused an actor an action. Nothing was
 * changed: the check runs before the mutation takes a lock or writes anything. The message names
 * the actor by its id (never a credential: an actor is a name such as {@code user:alice}, the token
 * that proved it stays with the host), the site and the action; an HTTP host answers 403.
 */
public class AccessDeniedException extends DurableDeployException {

  private final Actor actor;
  private final SiteId site;
  private final String action;

  /**
   * @param site the site, or {@code null} for an action across every site
   */
  public AccessDeniedException(Actor actor, SiteId site, String action) {
    this(actor, site, action, null);
  }

  /**
   * @param site the site, or {@code null} for an action across every site
   * @param reason why, for the caller (e.g. {@code "role viewer may only read"}), or {@code null};
   *     it must hold no credential
   */
  public AccessDeniedException(Actor actor, SiteId site, String action, String reason) {
    super(message(actor, site, action, reason));
    this.actor = actor;
    this.site = site;
    this.action = action;
  }

  private static String message(Actor actor, SiteId site, String action, String reason) {
    Objects.requireNonNull(actor, "actor");
    Objects.requireNonNull(action, "action");
    return "access denied: actor '"
        + actor.value()
        + "' may not "
        + action
        + (site == null ? " across all sites" : " on site '" + site + "'")
        + (reason == null || reason.isBlank() ? "" : ": " + reason)
        + "; ask the host's operator for this permission";
  }

  /** Who was refused. */
  public Actor actor() {
    return actor;
  }

  /** The site, or empty for an action across every site. */
  public Optional<SiteId> site() {
    return Optional.ofNullable(site);
  }

  /** The refused action, one of {@link dev.durabledeploy.spi.Actions}. */
  public String action() {
    return action;
  }
}
