package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;

/**
 * One line of the append-only audit log, written by the store in the same atom as the command it
 * records.
 *
 * @param action the command, e.g. {@code alias.move}; see {@link MetadataStore} for each
 * @param target what it acted on: a deploy id or {@code alias:<name>}
 * @param before the state before, e.g. the previous alias target, or {@code null}
 * @param after the state after, or {@code null}
 */
public record AuditEntry(
    long id,
    Instant at,
    Actor actor,
    String action,
    SiteId site,
    String target,
    String before,
    String after) {}
