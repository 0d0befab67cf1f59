package dev.durabledeploy.examples.plane;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import dev.durabledeploy.testkit.plane.DeployPlaneContract;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The production wiring of a multi-instance host: PostgreSQL and S3. */
@DisplayName("whole plane: PostgreSQL store + S3 blobs + executor engine")
class PostgresS3ExecutorPlaneTest extends DeployPlaneContract {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final S3Extension S3 = new S3Extension();

  @Override
  protected Store createStore(MutableClock clock) {
    return Planes.postgres(PG, clock);
  }

  @Override
  protected BlobStore createBlobStore(MutableClock clock, Path root) {
    return S3BlobStore.builder()
        .bucket(S3.newBucket())
        .endpoint(S3.endpoint())
        .region(S3.region())
        .pathStyle(true)
        .credentials(
            StaticCredentialsProvider.create(
                AwsBasicCredentials.create(S3.accessKey(), S3.secretKey())))
        .build();
  }

  @Override
  protected WorkflowEngine createEngine(MutableClock clock) {
    return ExecutorEngine.builder().clock(clock).build();
  }
}
