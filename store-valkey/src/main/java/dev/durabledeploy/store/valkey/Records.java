package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * How metadata rows are stored in hash fields. Deploys, aliases and tombstones hold only ids, shas,
 * states and times (no '|' possible), so they are '|'-separated; an audit entry holds free text
 * (actors), so its fields are length-prefixed ({@code <length>:<text>}, {@code ~} for null).
 *
 * <p>A deploy is {@code sha|state|created|finalized|released[|restored]} and a tombstone that
 * record's first five fields, {@code |deleted|expires}, then {@code [|restored]}: the restore time
 * came later, so it goes last and a record written before it (without it) still reads.
 */
final class Records {

  private Records() {}

  static String deploy(Deploy d) {
    return String.join(
        "|",
        d.sha() == null ? "" : d.sha(),
        d.state().name(),
        Micros.of(d.createdAt()),
        time(d.finalizedAt()),
        time(d.releasedAt()),
        time(d.restoredAt()));
  }

  static Deploy deploy(SiteId site, DeployId id, String value) {
    String[] f = value.split("\\|", -1);
    return deploy(site, id, f, f.length > 5 ? f[5] : "");
  }

  private static Deploy deploy(SiteId site, DeployId id, String[] f, String restored) {
    return new Deploy(
        site,
        id,
        f[0].isEmpty() ? null : f[0],
        DeployState.valueOf(f[1]),
        Micros.parse(f[2]),
        Micros.parse(f[3]),
        Micros.parse(f[4]),
        Micros.parse(restored));
  }

  static String alias(AliasRow row) {
    return String.join(
        "|",
        row.target() == null ? "" : row.target().value(),
        Long.toString(row.version()),
        Micros.of(row.updatedAt()));
  }

  static AliasRow alias(String value) {
    String[] f = value.split("\\|", -1);
    return new AliasRow(
        f[0].isEmpty() ? null : DeployId.of(f[0]), Long.parseLong(f[1]), Micros.parse(f[2]));
  }

  static String tombstone(Tombstone t) {
    Deploy d = t.deploy();
    return String.join(
        "|",
        d.sha() == null ? "" : d.sha(),
        d.state().name(),
        Micros.of(d.createdAt()),
        time(d.finalizedAt()),
        time(d.releasedAt()),
        Micros.of(t.deletedAt()),
        Micros.of(t.expiresAt()),
        time(d.restoredAt()));
  }

  static Tombstone tombstone(SiteId site, DeployId id, String value) {
    String[] f = value.split("\\|", -1);
    return new Tombstone(
        deploy(site, id, f, f.length > 7 ? f[7] : ""), Micros.parse(f[5]), Micros.parse(f[6]));
  }

  private static String time(Instant at) {
    return at == null ? "" : Micros.of(at);
  }

  /** The audit record without its id (the commit script numbers it). */
  static String audit(
      Instant at, Actor actor, String action, String target, String before, String after) {
    StringBuilder out = new StringBuilder();
    for (String field :
        new String[] {Micros.of(at), actor.value(), action, target, before, after}) {
      if (field == null) {
        out.append('~');
      } else {
        out.append(field.length()).append(':').append(field);
      }
    }
    return out.toString();
  }

  /** Parses {@code <id>:<record>} as pushed by the commit script. */
  static AuditEntry audit(SiteId site, String stored) {
    int colon = stored.indexOf(':');
    long id = Long.parseLong(stored.substring(0, colon));
    List<String> fields = new ArrayList<>(6);
    int i = colon + 1;
    while (i < stored.length()) {
      if (stored.charAt(i) == '~') {
        fields.add(null);
        i++;
      } else {
        int sep = stored.indexOf(':', i);
        int length = Integer.parseInt(stored.substring(i, sep));
        fields.add(stored.substring(sep + 1, sep + 1 + length));
        i = sep + 1 + length;
      }
    }
    return new AuditEntry(
        id,
        Micros.parse(fields.get(0)),
        Actor.of(fields.get(1)),
        fields.get(2),
        site,
        fields.get(3),
        fields.get(4),
        fields.get(5));
  }
}
