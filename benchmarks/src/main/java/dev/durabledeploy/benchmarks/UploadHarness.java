package dev.durabledeploy.benchmarks;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;

/**
 * Uploads and finalize on a real plane: {@link PostgresStore} on the durable server and {@link
 * S3BlobStore} on S3Proxy in this process (a DNS-valid bucket, path-style), each beside raw S3 on
 * the same server through the very same {@link S3Client} (so the same settings and connection
 * pool).
 *
 * <ul>
 *   <li>2,000 files of 16 KiB through {@link DeployService#upload} by {@value #THREADS} threads,
 *       against {@code PutObject} of the same files by as many threads; rounds alternate (raw,
 *       ours, ...) after one warm-up round of each, and the medians are compared.
 *   <li>finalize of a deploy of 20,000 tiny files (uploaded once through the plane, untimed) with a
 *       manifest of sizes and SHA-256s, against listing the deploy's prefix with raw {@code
 *       ListObjectsV2} pages (the median of listings before and after).
 * </ul>
 *
 * The S3 requests each side sends are counted and printed in the figure names.
 */
final class UploadHarness implements Bench.Section {

  // The sizes the issue asks for; a scratch run may scale them down (-Dbench.uploads.files=...).
  static final int FILES = Integer.getInteger("bench.uploads.files", 2_000);
  static final int FILE_SIZE = 16 * 1024;
  static final int THREADS = 16;
  static final int ROUNDS = 3;
  static final int FINALIZE_FILES = Integer.getInteger("bench.uploads.finalizeFiles", 20_000);
  static final int LISTINGS = 1;

  /** Counts S3 requests by operation name. */
  static final class Requests implements ExecutionInterceptor {
    final Map<String, LongAdder> byOperation = new ConcurrentHashMap<>();

    @Override
    public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
      byOperation
          .computeIfAbsent(
              attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME), o -> new LongAdder())
          .increment();
    }

    long total() {
      return byOperation.values().stream().mapToLong(LongAdder::sum).sum();
    }

    Map<String, Long> snapshot() {
      Map<String, Long> out = new java.util.TreeMap<>();
      byOperation.forEach((k, v) -> out.put(k, v.sum()));
      return out;
    }

    void reset() {
      byOperation.clear();
    }
  }

  @Override
  public List<Figure> run(Bench bench) throws Exception {
    // S3Proxy's in-memory store in this process, stopped at the end (its Jetty threads would keep
    // the JVM alive), as the testkit's S3 fixture starts it: no signature checks (see S3Server).
    org.gaul.s3proxy.blobstore.BlobStore backend =
        new org.gaul.s3proxy.nio2blob.TransientNio2BlobStore();
    org.gaul.s3proxy.S3Proxy proxy =
        org.gaul.s3proxy.S3Proxy.builder()
            .blobStore(backend)
            .endpoint(java.net.URI.create("http://127.0.0.1:0"))
            .awsAuthentication(org.gaul.s3proxy.AuthenticationType.NONE, null, null)
            .build();
    proxy.start();
    try {
      return run(bench, proxy, backend);
    } finally {
      proxy.stop();
    }
  }

  private List<Figure> run(
      Bench bench, org.gaul.s3proxy.S3Proxy proxy, org.gaul.s3proxy.blobstore.BlobStore backend)
      throws Exception {
    String bucket = "bench-uploads";
    backend.createContainer(bucket, org.gaul.s3proxy.blobstore.options.CreateContainerOptions.NONE);
    java.net.URI endpoint = java.net.URI.create("http://127.0.0.1:" + proxy.getPort());
    Requests requests = new Requests();
    try (S3Client s3 = client(endpoint, requests);
        S3BlobStore blobs =
            S3BlobStore.builder()
                .bucket(bucket)
                .endpoint(endpoint)
                .pathStyle(true)
                .client(s3)
                .build();
        PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl(bench.postgres().url())
                .username(bench.postgres().user())
                .password(bench.postgres().password())
                .schema("bench_uploads")
                .poolSize(THREADS + 4)
                .migrateOnStart(true)
                .build();
        DurableDeploy plane =
            DurableDeploy.builder()
                .store(store)
                .blobStore(blobs)
                .engine(ExecutorEngine.builder().build())
                .build()
                .start()) {
      List<Figure> rows = new ArrayList<>();
      rows.add(uploads(plane.deploys(), s3, bucket, requests));
      rows.add(finalize(plane.deploys(), s3, bucket, requests));
      return rows;
    }
  }

  /** The client both sides use, configured as {@link S3BlobStore} configures its own. */
  private static S3Client client(java.net.URI endpoint, Requests requests) {
    return S3Client.builder()
        .region(Region.of(S3BlobStore.DEFAULT_REGION))
        .endpointOverride(endpoint)
        .forcePathStyle(true)
        .serviceConfiguration(c -> c.chunkedEncodingEnabled(false))
        .credentialsProvider(
            StaticCredentialsProvider.create(
                AwsBasicCredentials.create("bench-access-key", "bench-secret-key")))
        .overrideConfiguration(
            o -> o.retryStrategy(r -> r.maxAttempts(1)).addExecutionInterceptor(requests))
        .build();
  }

  private static Figure uploads(
      DeployService deploys, S3Client s3, String bucket, Requests requests) throws Exception {
    SiteId site = SiteId.of("bench-uploads");
    byte[][] bodies = new byte[FILES][];
    java.util.Random random = new java.util.Random(42);
    for (int i = 0; i < FILES; i++) {
      bodies[i] = new byte[FILE_SIZE];
      random.nextBytes(bodies[i]);
    }
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Double> raw = new ArrayList<>();
      List<Double> ours = new ArrayList<>();
      long rawRequests = 0;
      long ourRequests = 0;
      Map<String, Long> ourByOperation = Map.of();
      for (int round = 0; round <= ROUNDS; round++) {
        String prefix = "raw-uploads/" + round + "/";
        requests.reset();
        double rawRate =
            parallel(
                pool,
                i ->
                    s3.putObject(
                        r ->
                            r.bucket(bucket)
                                .key(prefix + "f" + i + ".bin")
                                .contentType("application/octet-stream")
                                .contentLength((long) FILE_SIZE),
                        RequestBody.fromBytes(bodies[i])));
        rawRequests = requests.total();
        Deploy d = deploys.init(site, null);
        DeployId id = d.id();
        requests.reset();
        double ourRate =
            parallel(
                pool,
                i ->
                    deploys.upload(
                        site,
                        id,
                        UploadPath.of("f" + i + ".bin"),
                        new ByteArrayInputStream(bodies[i]),
                        FILE_SIZE));
        ourRequests = requests.total();
        ourByOperation = requests.snapshot();
        System.out.printf(
            Locale.ROOT,
            "uploads round %d: raw %.0f files/s, ours %.0f files/s %s%n",
            round,
            rawRate,
            ourRate,
            ourByOperation);
        if (round > 0) {
          raw.add(rawRate);
          ours.add(ourRate);
        }
      }
      double rawMedian = median(raw);
      double ourMedian = median(ours);
      System.out.printf(
          Locale.ROOT,
          "uploads: raw %s files/s, ours %s files/s; S3 requests per file: raw %.2f, ours %.2f %s%n",
          raw,
          ours,
          (double) rawRequests / FILES,
          (double) ourRequests / FILES,
          ourByOperation);
      return new Figure(
          String.format(
              Locale.ROOT,
              "uploads, %,d files of 16 KiB, %d threads, DeployService.upload on PostgreSQL + S3"
                  + " (S3Proxy), median of %d rounds (%.2f S3 requests/file)",
              FILES,
              THREADS,
              ROUNDS,
              (double) ourRequests / FILES),
          ourMedian,
          "files/s",
          "raw S3 PutObject, same client, same threads, alternated",
          rawMedian,
          ">= 0.9x",
          ourMedian / rawMedian >= 0.9);
    } finally {
      pool.shutdownNow();
    }
  }

  private static Figure finalize(
      DeployService deploys, S3Client s3, String bucket, Requests requests) throws Exception {
    SiteId site = SiteId.of("bench-finalize");
    Deploy d = deploys.init(site, null);
    DeployId id = d.id();
    List<Manifest.Entry> entries = new ArrayList<>();
    String[] paths = new String[FINALIZE_FILES];
    byte[][] bodies = new byte[FINALIZE_FILES][];
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    for (int i = 0; i < FINALIZE_FILES; i++) {
      paths[i] = i == 0 ? "index.html" : String.format(Locale.ROOT, "assets/f%05d.txt", i);
      bodies[i] = ("file " + i + "\n").getBytes(StandardCharsets.UTF_8);
      entries.add(
          Manifest.Entry.of(
              paths[i], bodies[i].length, HexFormat.of().formatHex(sha.digest(bodies[i]))));
    }
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      parallel(
          pool,
          FINALIZE_FILES,
          i ->
              deploys.upload(
                  site,
                  id,
                  UploadPath.of(paths[i]),
                  new ByteArrayInputStream(bodies[i]),
                  bodies[i].length));
    } finally {
      pool.shutdownNow();
    }
    System.out.printf(Locale.ROOT, "finalize: %,d files uploaded%n", FINALIZE_FILES);
    String prefix = "bench-finalize/deploys/" + id + "/";
    List<Double> listings = new ArrayList<>();
    for (int i = 0; i < LISTINGS; i++) {
      listings.add(listMillis(s3, bucket, prefix));
    }
    requests.reset();
    Manifest manifest = Manifest.ofEntries(entries);
    long start = System.nanoTime();
    deploys.finalizeDeploy(site, id, AliasName.PRODUCTION, manifest);
    double finalizeMillis = (System.nanoTime() - start) / 1e6;
    Map<String, Long> finalizeRequests = requests.snapshot();
    long finalizeTotal = requests.total();
    for (int i = 0; i < LISTINGS; i++) {
      listings.add(listMillis(s3, bucket, prefix));
    }
    double listing = median(listings);
    System.out.printf(
        Locale.ROOT,
        "finalize: %.1f ms, S3 requests %s; listings %s ms%n",
        finalizeMillis,
        finalizeRequests,
        listings);
    return new Figure(
        String.format(
            Locale.ROOT,
            "finalize of a %,d-file deploy, manifest of sizes and SHA-256s, PostgreSQL + S3"
                + " (S3Proxy) (%,d S3 requests)",
            FINALIZE_FILES,
            finalizeTotal),
        finalizeMillis,
        "ms",
        "raw ListObjectsV2 of its prefix, same client (median of " + 2 * LISTINGS + ")",
        listing,
        "<= 2x",
        finalizeMillis / listing <= 2);
  }

  private static double listMillis(S3Client s3, String bucket, String prefix) {
    long start = System.nanoTime();
    int objects = 0;
    String token = null;
    do {
      String next = token;
      ListObjectsV2Response page =
          s3.listObjectsV2(r -> r.bucket(bucket).prefix(prefix).continuationToken(next));
      objects += page.keyCount();
      token = page.isTruncated() ? page.nextContinuationToken() : null;
    } while (token != null);
    double millis = (System.nanoTime() - start) / 1e6;
    if (objects < FINALIZE_FILES) {
      throw new IllegalStateException("listed " + objects + " objects under " + prefix);
    }
    return millis;
  }

  @FunctionalInterface
  interface Task {
    void run(int i) throws Exception;
  }

  private static double parallel(ExecutorService pool, Task task) throws Exception {
    return parallel(pool, FILES, task);
  }

  /** Runs {@code task} for 0..n-1 on {@link #THREADS} threads; returns tasks per second. */
  private static double parallel(ExecutorService pool, int n, Task task) throws Exception {
    AtomicInteger next = new AtomicInteger();
    List<Future<?>> workers = new ArrayList<>();
    long start = System.nanoTime();
    for (int t = 0; t < THREADS; t++) {
      workers.add(
          pool.submit(
              () -> {
                for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
                  task.run(i);
                }
                return null;
              }));
    }
    for (Future<?> w : workers) {
      w.get();
    }
    return n / ((System.nanoTime() - start) / 1e9);
  }

  private static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(null);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  /** Runs this section alone on a fresh durable server. */
  public static void main(String[] args) throws Exception {
    try (DurablePostgres postgres = DurablePostgres.start()) {
      long start = System.nanoTime();
      for (Figure f :
          new UploadHarness()
              .run(new Bench(postgres, java.nio.file.Path.of("target"), "scratch"))) {
        System.out.println(f);
      }
      System.out.printf(Locale.ROOT, "section took %.1f s%n", (System.nanoTime() - start) / 1e9);
    }
  }
}
