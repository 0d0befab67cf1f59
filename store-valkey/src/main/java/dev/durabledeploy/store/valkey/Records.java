package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How metadata rows are stored in hash fields. Deploys, aliases and tombstones hold only ids, shas,
 * states and times (no '|' possible), so they are '|'-separated; an audit entry holds free text
 * (actors), so its fields are length-prefixed ({@code <length>:<text>}, {@code ~} for null).
 *
 * <p>A deploy is {@code sha|state|created|finalized|released[|restored]} and a tombstone that
 * record's first five fields, {@code |deleted|expires}, then {@code [|restored]}: the restore time
 * came later, so it goes last and a record written before it (without it) still reads. A site
 * record holds free text (its profile) too, so it is length-prefixed like an audit entry.
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
    return fields(Micros.of(at), actor.value(), action, target, before, after);
  }

  /** Parses {@code <id>:<record>} as pushed by the commit script. */
  static AuditEntry audit(SiteId site, String stored) {
    int colon = stored.indexOf(':');
    long id = Long.parseLong(stored.substring(0, colon));
    List<String> fields = fields(stored, colon + 1);
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

  /**
   * A site record: {@code displayName, owner, state, created, updated, purgeAfter, version}, then
   * each label's key and value in key order, all length-prefixed (the profile is free text).
   */
  static String site(Site r) {
    List<String> fields = new ArrayList<>(7 + 2 * r.profile().labels().size());
    fields.add(r.profile().displayName());
    fields.add(r.profile().owner());
    fields.add(r.state().name());
    fields.add(Micros.of(r.createdAt()));
    fields.add(Micros.of(r.updatedAt()));
    fields.add(r.purgeAfter() == null ? null : Micros.of(r.purgeAfter()));
    fields.add(Long.toString(r.version()));
    r.profile()
        .labels()
        .forEach(
            (k, v) -> {
              fields.add(k);
              fields.add(v);
            });
    return fields(fields.toArray(String[]::new));
  }

  static Site site(SiteId site, String stored) {
    List<String> f = fields(stored, 0);
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = 7; i + 1 < f.size(); i += 2) {
      labels.put(f.get(i), f.get(i + 1));
    }
    return new Site(
        site,
        new SiteProfile(f.get(0), f.get(1), labels),
        SiteState.valueOf(f.get(2)),
        Micros.parse(f.get(3)),
        Micros.parse(f.get(4)),
        Micros.parse(f.get(5)),
        Long.parseLong(f.get(6)));
  }

  /** Length-prefixed fields: {@code <length>:<text>} each, {@code ~} for null. */
  private static String fields(String... fields) {
    StringBuilder out = new StringBuilder();
    for (String field : fields) {
      if (field == null) {
        out.append('~');
      } else {
        out.append(field.length()).append(':').append(field);
      }
    }
    return out.toString();
  }

  private static List<String> fields(String stored, int from) {
    List<String> fields = new ArrayList<>();
    int i = from;
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
    return fields;
  }
}
