package dev.durabledeploy.spi;

import dev.durabledeploy.spi.exception.AccessDeniedException;

/**
 * Decides who may do what: consulted once at the entry of every mutation a host calls (the deploy
 * lifecycle, GC runs, reconcile repairs, backfill, purges, outbox dead letters), before any lock is
 * taken or anything is written, so a refused call leaves no trace but its exception. Reads
 * (listings, plans, dry runs, report-only reconciles) are not consulted, and neither is the
 * library's own background work (the workflows and crons that run as {@code system:*}): the host
 * authorized the mutation that caused it.
 *
 * <p>An implementation returns to allow and throws {@link AccessDeniedException} to refuse. It is
 * called on the caller's thread, concurrently, and should answer from memory (a role table, a
 * cached policy): it runs on every mutation. The default, {@link #ALLOW_ALL}, suits an embedded
 * plane whose only callers are the host's own code.
 *
 * <pre>{@code
 * DurableDeploy.builder()
 *     .authorizer((actor, site, action) -> {
 *       if (!policy.allows(actor, site, action)) {
 *         throw new AccessDeniedException(actor, site, action);
 *       }
 *     })
 * }</pre>
 */
@FunctionalInterface
public interface Authorizer {

  /** Allows every actor every action: the default for a plane embedded in its only caller. */
  Authorizer ALLOW_ALL = (actor, site, action) -> {};

  /**
   * Returns when {@code actor} may perform {@code action} on {@code site}.
   *
   * @param actor who asks: the actor of the view the call went through ({@code
   *     plane.deploys().as(actor)}, {@code plane.gc().as(actor)}, ...), or that view's default
   *     ({@link Actor#SYSTEM}, {@code system:gc}, ...) when the host bound none
   * @param site the site acted on, or {@code null} for an action across every site ({@link
   *     Actions#TOMBSTONE_PURGE}, a backfill of the whole bucket, outbox dead letters)
   * @param action one of {@link Actions}
   * @throws AccessDeniedException to refuse; the call then fails with it, having changed nothing
   */
  void authorize(Actor actor, SiteId site, String action);
}
