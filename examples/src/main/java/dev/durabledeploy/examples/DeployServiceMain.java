package dev.durabledeploy.examples;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.engine.temporal.TemporalEngine;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * Runs {@link DeployServer}. Configured by environment variables; anything unset falls back to an
 * embedded default:
 *
 * <pre>
 * PORT                                   8080
 * DURABLE_DEPLOY_PG_URL (+ _USER, _PASSWORD)        PostgreSQL, else
 * DURABLE_DEPLOY_VALKEY_URL (redis://[:password@]host:port, or rediss://)  Valkey, else in memory
 * DURABLE_DEPLOY_S3_ENDPOINT, _BUCKET (+ _ACCESS_KEY, _SECRET_KEY, _REGION)  S3, else ./data/blobs
 * DURABLE_DEPLOY_TEMPORAL_TARGET (host:port, + _NAMESPACE, _TASK_QUEUE)  Temporal, else in process
 * </pre>
 */
public final class DeployServiceMain {

  private DeployServiceMain() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
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
    if (env.containsKey("DURABLE_DEPLOY_PG_URL")) {
      builder.store(
          PostgresStore.builder()
              .jdbcUrl(env.get("DURABLE_DEPLOY_PG_URL"))
              .username(env.getOrDefault("DURABLE_DEPLOY_PG_USER", "postgres"))
              .password(env.getOrDefault("DURABLE_DEPLOY_PG_PASSWORD", ""))
              .migrateOnStart(true)
              .build());
    } else if (env.containsKey("DURABLE_DEPLOY_VALKEY_URL")) {
      builder.store(ValkeyStore.builder().uri(env.get("DURABLE_DEPLOY_VALKEY_URL")).build());
    } else {
      builder.store(new InMemoryStore());
    }
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
      builder.blobRoot(Path.of("data", "blobs"));
    }
    DurableDeploy plane = builder.build().start();
    DeployServer server =
        DeployServer.start(plane, Integer.parseInt(env.getOrDefault("PORT", "8080")));
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  plane.close();
                }));
    System.out.println("durable-deploy service on http://127.0.0.1:" + server.port());
  }
}
