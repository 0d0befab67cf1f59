package dev.durabledeploy.examples;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.engine.temporal.TemporalEngine;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * Runs {@link DeployServer}. Configured by environment variables; anything unset falls back to an
 * embedded default that keeps its data under {@code ./data}, so a restart finds every deploy again:
 *
 * <pre>
 * PORT                                   8080
 * DURABLE_DEPLOY_PG_URL (+ _USER, _PASSWORD)        PostgreSQL, else
 * DURABLE_DEPLOY_VALKEY_URL (redis://[:password@]host:port, or rediss://)  Valkey, else an
 *                                        embedded PostgreSQL in ./data/pg
 * DURABLE_DEPLOY_S3_ENDPOINT, _BUCKET (+ _ACCESS_KEY, _SECRET_KEY, _REGION)  S3, else ./data/blobs
 * DURABLE_DEPLOY_TEMPORAL_TARGET (host:port, + _NAMESPACE, _TASK_QUEUE)  Temporal, else in process
 * DURABLE_DEPLOY_TOKENS (actor=token,...)  the bearer tokens mutations need, else none: every
 *                                        mutation is refused with 401
 * </pre>
 */
public final class DeployServiceMain {

  /** Where the embedded defaults keep their data, relative to the working directory. */
  public static final Path DEFAULT_DATA = Path.of("data");

  private DeployServiceMain() {}

  public static void main(String[] args) throws Exception {
    Service service = start(System.getenv(), DEFAULT_DATA);
    Runtime.getRuntime().addShutdownHook(new Thread(service::close));
    System.out.println("durable-deploy service on http://127.0.0.1:" + service.port());
  }

  /**
   * Starts the service as {@link #main} does: configured by {@code env}, with the embedded
   * defaults' data under {@code data} ({@code pg/} and {@code blobs/}).
   */
  public static Service start(Map<String, String> env, Path data) throws IOException {
    // Before anything starts: a malformed token list is refused with nothing to stop again.
    BearerTokens tokens = BearerTokens.parse(env.get(BearerTokens.ENV));
    if (tokens.isEmpty()) {
      System.err.println(
          BearerTokens.ENV + " is not set: every mutation will be refused with 401 (reads work)");
    }
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      DurableDeploy.Builder builder = DurableDeploy.builder();
      if (env.containsKey("DURABLE_DEPLOY_TEMPORAL_TARGET")) {
        builder.engine(
            TemporalEngine.builder()
                .target(env.get("DURABLE_DEPLOY_TEMPORAL_TARGET"))
                .namespace(env.getOrDefault("DURABLE_DEPLOY_TEMPORAL_NAMESPACE", "default"))
                .taskQueue(
                    env.getOrDefault(
                        "DURABLE_DEPLOY_TEMPORAL_TASK_QUEUE", TemporalEngine.DEFAULT_TASK_QUEUE))
                .build());
      } else {
        builder.engine(ExecutorEngine.builder().build());
      }
      Store store;
      if (env.containsKey("DURABLE_DEPLOY_PG_URL")) {
        store =
            PostgresStore.builder()
                .jdbcUrl(env.get("DURABLE_DEPLOY_PG_URL"))
                .username(env.getOrDefault("DURABLE_DEPLOY_PG_USER", "postgres"))
                .password(env.getOrDefault("DURABLE_DEPLOY_PG_PASSWORD", ""))
                .migrateOnStart(true)
                .build();
      } else if (env.containsKey("DURABLE_DEPLOY_VALKEY_URL")) {
        store = ValkeyStore.builder().uri(env.get("DURABLE_DEPLOY_VALKEY_URL")).build();
      } else {
        EmbeddedPostgres pg = embeddedPostgres(data.resolve("pg"));
        opened.push(pg);
        store =
            PostgresStore.builder()
                .jdbcUrl(pg.getJdbcUrl("postgres", "postgres"))
                .username("postgres")
                .migrateOnStart(true)
                .build();
      }
      opened.push(store);
      builder.store(store);
      if (env.containsKey("DURABLE_DEPLOY_S3_ENDPOINT")) {
        builder.blobStore(
            S3BlobStore.builder()
                .endpoint(URI.create(env.get("DURABLE_DEPLOY_S3_ENDPOINT")))
                .bucket(env.getOrDefault("DURABLE_DEPLOY_S3_BUCKET", "deploys"))
                .region(env.getOrDefault("DURABLE_DEPLOY_S3_REGION", "us-east-1"))
                .pathStyle(true)
                .credentials(
                    StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(
                            env.getOrDefault("DURABLE_DEPLOY_S3_ACCESS_KEY", ""),
                            env.getOrDefault("DURABLE_DEPLOY_S3_SECRET_KEY", ""))))
                .build());
      } else {
        builder.blobRoot(data.resolve("blobs"));
      }
      DurableDeploy plane = builder.build().start();
      opened.push(plane);
      DeployServer server =
          DeployServer.start(plane, Integer.parseInt(env.getOrDefault("PORT", "8080")), tokens);
      opened.push(server::close);
      return new Service(server, opened);
    } catch (IOException | RuntimeException e) {
      // Whatever started before the failure is stopped again, so a refused start leaves no
      // database running on ./data/pg.
      try {
        new Service(null, opened).close();
      } catch (RuntimeException stopping) {
        e.addSuppressed(stopping);
      }
      throw e;
    }
  }

  /**
   * The embedded default: a PostgreSQL whose data directory is kept across starts (created by
   * {@code initdb} on the first one), with the durability zonky turns off for tests turned back on:
   * a deploy the API acknowledged survives a crash of the process or the machine.
   */
  private static EmbeddedPostgres embeddedPostgres(Path directory) throws IOException {
    Files.createDirectories(directory);
    return EmbeddedPostgres.builder()
        .setDataDirectory(directory)
        .setCleanDataDirectory(false)
        .setServerConfig("fsync", "on")
        .setServerConfig("synchronous_commit", "on")
        .setServerConfig("full_page_writes", "on")
        .start();
  }

  /** A running service: its HTTP server and everything {@link #start} opened for it. */
  public static final class Service implements AutoCloseable {
    private final DeployServer server;
    private final Deque<AutoCloseable> opened;

    private Service(DeployServer server, Deque<AutoCloseable> opened) {
      this.server = server;
      this.opened = opened;
    }

    /** The HTTP port the service listens on. */
    public int port() {
      return server.port();
    }

    /** Stops the server, the plane, the store and the embedded database, in that order. */
    @Override
    public synchronized void close() {
      RuntimeException failure = null;
      while (!opened.isEmpty()) {
        try {
          opened.pop().close();
        } catch (Exception e) {
          if (failure == null) {
            failure = new IllegalStateException("stopping the deploy service failed", e);
          } else {
            failure.addSuppressed(e);
          }
        }
      }
      if (failure != null) {
        throw failure;
      }
    }
  }
}
