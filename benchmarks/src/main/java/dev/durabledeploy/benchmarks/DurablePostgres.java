package dev.durabledeploy.benchmarks;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The PostgreSQL server every benchmark runs on, durable: {@code synchronous_commit=on} and {@code
 * fsync=on}, set explicitly on the embedded server (whose default is {@code
 * synchronous_commit=off}, which acknowledges commits before they are durable), or a server given
 * by {@code DURABLE_DEPLOY_BENCH_PG_URL} (with {@code DURABLE_DEPLOY_BENCH_PG_USER} and {@code
 * DURABLE_DEPLOY_BENCH_PG_PASSWORD}). A server that is not durable is refused rather than measured.
 */
final class DurablePostgres implements AutoCloseable {

  static final String URL_ENV = "DURABLE_DEPLOY_BENCH_PG_URL";

  private final EmbeddedPostgres embedded;
  private final String url;
  private final String user;
  private final String password;
  private final Map<String, String> settings;

  private DurablePostgres(EmbeddedPostgres embedded, String url, String user, String password)
      throws SQLException {
    this.embedded = embedded;
    this.url = url;
    this.user = user;
    this.password = password;
    this.settings = readSettings();
    if (!"on".equals(settings.get("synchronous_commit")) || !"on".equals(settings.get("fsync"))) {
      close();
      throw new IllegalStateException(
          "refusing to benchmark a PostgreSQL that is not durable: " + describe());
    }
  }

  static DurablePostgres start() throws Exception {
    String external = System.getenv(URL_ENV);
    if (external != null && !external.isBlank()) {
      return new DurablePostgres(
          null,
          external,
          System.getenv().getOrDefault("DURABLE_DEPLOY_BENCH_PG_USER", "postgres"),
          System.getenv().getOrDefault("DURABLE_DEPLOY_BENCH_PG_PASSWORD", "postgres"));
    }
    EmbeddedPostgres pg =
        EmbeddedPostgres.builder()
            .setServerConfig("synchronous_commit", "on")
            .setServerConfig("fsync", "on")
            .setServerConfig("full_page_writes", "on")
            .setServerConfig("max_connections", "300")
            .start();
    return new DurablePostgres(pg, pg.getJdbcUrl("postgres", "postgres"), "postgres", "postgres");
  }

  String url() {
    return url;
  }

  String user() {
    return user;
  }

  String password() {
    return password;
  }

  /** A new connection of its own; the caller closes it. */
  Connection connect() throws SQLException {
    return DriverManager.getConnection(url, user, password);
  }

  /** The server's version and durability settings, as printed beside the figures. */
  String describe() {
    return settings.entrySet().stream()
        .map(e -> e.getKey() + "=" + e.getValue())
        .collect(Collectors.joining(", "));
  }

  private Map<String, String> readSettings() throws SQLException {
    Map<String, String> out = new LinkedHashMap<>();
    try (Connection c = connect();
        Statement s = c.createStatement()) {
      for (String name :
          new String[] {
            "server_version",
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "full_page_writes",
            "shared_buffers"
          }) {
        try (ResultSet rs = s.executeQuery("SHOW " + name)) {
          rs.next();
          out.put(name, rs.getString(1));
        }
      }
    }
    out.put("server", embedded != null ? "embedded (io.zonky.test)" : "external (" + URL_ENV + ")");
    return out;
  }

  @Override
  public void close() {
    if (embedded != null) {
      try {
        embedded.close();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("stopping the embedded PostgreSQL failed", e);
      }
    }
  }
}
