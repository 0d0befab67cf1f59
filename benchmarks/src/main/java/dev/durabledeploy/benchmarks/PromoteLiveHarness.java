package dev.durabledeploy.benchmarks;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.alias.AliasProjection;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.ForwardingWorkflowEngine;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.options.CreateContainerOptions;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * Promote → live: from {@code promote} (or {@code rollback}) returning to the alias projection
 * object ({@link BlobLayout#alias}) holding the new target in the bucket, on the production wiring
 * of a host: {@link PostgresStore} on the durable server, {@link S3BlobStore} on an in-process
 * S3Proxy (path-style, a DNS-valid bucket), the {@link ExecutorEngine}, everything else default.
 * Baseline: the promote call's own latency, the same samples.
 *
 * <p>Detection adds no latency: an SDK interceptor on the plane's own S3 client stamps the moment
 * the response to the projection's {@code PutObject} arrived, i.e. when the object is in the bucket
 * (nothing polls the server in between, which on two cores would slow what it measures). After each
 * sample, outside the timing, a raw S3 client reads the object and checks it names the new target;
 * a sample whose object does not is counted as a mismatch and fails the figure.
 *
 * <p>Each site alternates between two deploys, a promote then a rollback; the next move starts when
 * the previous one is live, so every sample is one move of one alias. Where the time goes: relay
 * lag (return to the relay's submission to the engine, stamped by a wrapper of the engine), engine
 * queue (to the {@code alias-project} run's {@code Started} event), and the run (site lock, reads,
 * the version guard's GET, the PUT).
 *
 * <p>Samples: up to {@link #SINGLE_SITE_SAMPLES} moves of one site, then up to {@link
 * #SAMPLES_PER_SITE} moves on each of {@link #SITES} sites at once, each within {@link #TIME_BOX};
 * the figures name the counts taken.
 */
final class PromoteLiveHarness implements Bench.Section {

  /** Moves measured with one site, at most (see {@link #TIME_BOX}). */
  static final int SINGLE_SITE_SAMPLES = 400;

  /** Sites moving at once, one thread each. */
  static final int SITES = 16;

  /** Moves per site with {@link #SITES} sites, at most. */
  static final int SAMPLES_PER_SITE = 40;

  /**
   * Each configuration stops taking samples after this long (the counts are reported), so the
   * section stays under a minute on a slow machine.
   */
  static final Duration TIME_BOX = Duration.ofSeconds(10);

  private static final int WARMUP_MOVES = 30;
  private static final AliasName LIVE = AliasName.PRODUCTION;

  /** The PUT response times of each projection key, handed to whoever waits for the next one. */
  private static final class ProjectionPuts implements ExecutionInterceptor {
    final Map<String, CompletableFuture<Long>> next = new ConcurrentHashMap<>();
    final Map<String, Long> putStarted = new ConcurrentHashMap<>();

    CompletableFuture<Long> expect(String key) {
      CompletableFuture<Long> f = new CompletableFuture<>();
      next.put(key, f);
      return f;
    }

    @Override
    public void beforeTransmission(
        Context.BeforeTransmission context, ExecutionAttributes attributes) {
      if (context.request() instanceof PutObjectRequest put) {
        putStarted.put(put.key(), System.nanoTime());
      }
    }

    @Override
    public void afterExecution(Context.AfterExecution context, ExecutionAttributes attributes) {
      if (context.request() instanceof PutObjectRequest put) {
        CompletableFuture<Long> f = next.remove(put.key());
        if (f != null) {
          f.complete(System.nanoTime());
        }
      }
    }
  }

  /**
   * The host's engine, stamping when the relay handed it each site's {@code alias-project} run (a
   * map write; nothing waits on it).
   */
  private static final class StampedEngine extends ForwardingWorkflowEngine {
    private final Map<String, Long> submitted;

    StampedEngine(WorkflowEngine engine, Map<String, Long> submitted) {
      super(engine);
      this.submitted = submitted;
    }

    @Override
    public CompletionStage<RunHandle> submit(Submission submission) {
      if (submission.workflow().equals(AliasProjection.WORKFLOW)) {
        submitted.put(submission.input().get(StandardEvents.KEY_SITE), System.nanoTime());
      }
      return super.submit(submission);
    }
  }

  /** One move: its call, the time to live, and where that time went (nanoseconds). */
  private record Sample(long call, long live, long toSubmit, long toRunStart, long putTook) {}

  /** Percentiles of one configuration, in milliseconds. */
  record Result(
      int sites,
      int samples,
      double callP50,
      double callP99,
      double liveP50,
      double liveP99,
      double relayP50,
      double relayP99,
      double queueP50,
      double queueP99,
      double runP50,
      double runP99,
      double putP50,
      double putP99,
      int mismatches) {}

  @Override
  public List<Figure> run(Bench bench) throws Exception {
    List<Result> results = measure(bench);
    List<Figure> rows = new ArrayList<>();
    for (Result r : results) {
      String label =
          String.format(
              Locale.ROOT,
              "promote -> live (alias projection in S3), %d site(s) at once, %,d moves",
              r.sites(),
              r.samples());
      rows.add(Figure.beside(label + ": p50", r.liveP50(), "ms", "promote call p50", r.callP50()));
      rows.add(
          new Figure(
              label + ": p99" + (r.mismatches() > 0 ? " (" + r.mismatches() + " MISMATCHED)" : ""),
              r.liveP99(),
              "ms",
              "promote call p99",
              r.callP99(),
              "<= 2x",
              r.mismatches() == 0 && r.liveP99() <= 2 * r.callP99()));
      rows.add(
          Figure.reported(
              label + ": of which relay lag (return -> engine submit) p50", r.relayP50(), "ms"));
      rows.add(Figure.reported(label + ": of which relay lag p99", r.relayP99(), "ms"));
      rows.add(
          Figure.reported(
              label + ": of which engine queue (submit -> alias-project started) p50",
              r.queueP50(),
              "ms"));
      rows.add(Figure.reported(label + ": of which engine queue p99", r.queueP99(), "ms"));
      rows.add(
          Figure.reported(
              label + ": of which alias-project run to the PUT's response p50", r.runP50(), "ms"));
      rows.add(
          Figure.reported(
              label + ": of which alias-project run to the PUT's response p99", r.runP99(), "ms"));
      rows.add(Figure.reported(label + ": of which the PUT itself p50", r.putP50(), "ms"));
    }
    LagChart.bars(
        bench.out().resolve(bench.date() + "-promote-live.png"),
        "Promote -> live on PostgreSQL + S3Proxy, beside the promote call",
        "sites promoting at once",
        results.stream().map(r -> r.sites() + "").toList(),
        series(results));
    return rows;
  }

  private static Map<String, List<Double>> series(List<Result> results) {
    Map<String, List<Double>> series = new LinkedHashMap<>();
    series.put("promote call p50", results.stream().map(Result::callP50).toList());
    series.put("promote call p99", results.stream().map(Result::callP99).toList());
    series.put("promote -> live p50", results.stream().map(Result::liveP50).toList());
    series.put("promote -> live p99", results.stream().map(Result::liveP99).toList());
    return series;
  }

  static List<Result> measure(Bench bench) throws Exception {
    // S3Proxy in this process, as blob-s3's tests run it (testkit's S3Server): its in-memory
    // backend, no signature checks. Started and stopped here: its Jetty threads would keep the
    // suite's JVM alive.
    BlobStore backend = new TransientNio2BlobStore();
    String bucket = "promote-live";
    backend.createContainer(bucket, CreateContainerOptions.NONE);
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(backend)
            .endpoint(URI.create("http://127.0.0.1:0"))
            .awsAuthentication(AuthenticationType.NONE, null, null)
            .build();
    proxy.start();
    try {
      return measure(bench, URI.create("http://127.0.0.1:" + proxy.getPort()), bucket);
    } finally {
      proxy.stop();
    }
  }

  private static List<Result> measure(Bench bench, URI endpoint, String bucket) throws Exception {
    ProjectionPuts puts = new ProjectionPuts();
    var credentials =
        StaticCredentialsProvider.create(AwsBasicCredentials.create("access", "secret"));
    try (PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl(bench.postgres().url())
                .username(bench.postgres().user())
                .password(bench.postgres().password())
                .schema("promote_live_" + ProcessHandle.current().pid())
                .migrateOnStart(true)
                .build();
        S3Client raw =
            S3Client.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(credentials)
                .build()) {
      S3BlobStore blobs =
          S3BlobStore.builder()
              .bucket(bucket)
              .endpoint(endpoint)
              .region(Region.US_EAST_1.id())
              .pathStyle(true)
              .credentials(credentials)
              .interceptor(puts)
              .build();
      Map<String, Long> submitted = new ConcurrentHashMap<>();
      try (DurableDeploy plane =
          DurableDeploy.builder()
              .store(store)
              .blobStore(blobs)
              .engine(new StampedEngine(ExecutorEngine.builder().build(), submitted))
              .build()
              .start()) {
        Map<SiteId, Instant> runStarted = new ConcurrentHashMap<>();
        try (Subscription ignored =
            plane
                .events()
                .subscribe(
                    EventBus.topic("operation"),
                    e -> {
                      if (e instanceof OperationEvent.Started s
                          && s.operation().equals(AliasProjection.WORKFLOW)) {
                        runStarted.put(s.site(), s.at());
                      }
                    })) {
          List<Site> sites = new ArrayList<>();
          for (int i = 0; i < SITES; i++) {
            sites.add(Site.create(plane, SiteId.of("promote-live-" + i)));
          }
          Mover mover = new Mover(plane, puts, raw, bucket, runStarted, submitted);
          for (Site site : sites) {
            mover.move(site); // every site's projection exists
          }
          for (int i = 0; i < WARMUP_MOVES; i++) {
            mover.move(sites.get(0));
          }
          Result one = mover.measure(sites.subList(0, 1), SINGLE_SITE_SAMPLES);
          Result many = mover.measure(sites, SAMPLES_PER_SITE);
          return List.of(one, many);
        }
      }
    }
  }

  /** A site with two active deploys; {@link #LIVE} alternates between them. */
  private static final class Site {
    final SiteId id;
    final DeployId a;
    final DeployId b;
    final String key;
    boolean onA = true;

    private Site(SiteId id, DeployId a, DeployId b) {
      this.id = id;
      this.a = a;
      this.b = b;
      this.key = BlobLayout.alias(id, LIVE).value();
    }

    static Site create(DurableDeploy plane, SiteId id) {
      DeployId a = deploy(plane, id, AliasName.of("pin-a"));
      DeployId b = deploy(plane, id, AliasName.of("pin-b"));
      plane.deploys().promote(id, a, LIVE, AliasExpectation.ANY);
      return new Site(id, a, b);
    }

    private static DeployId deploy(DurableDeploy plane, SiteId id, AliasName alias) {
      var d = plane.deploys().init(id, null);
      byte[] html = ("<h1>" + d.id().value() + "</h1>").getBytes(StandardCharsets.UTF_8);
      plane
          .deploys()
          .upload(id, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
      plane.deploys().finalizeDeploy(id, d.id(), alias, Manifest.of("index.html"));
      return d.id();
    }
  }

  private record Mover(
      DurableDeploy plane,
      ProjectionPuts puts,
      S3Client raw,
      String bucket,
      Map<SiteId, Instant> runStarted,
      Map<String, Long> submitted) {

    Result measure(List<Site> sites, int perSite) throws Exception {
      AtomicInteger mismatches = new AtomicInteger();
      long deadline = System.nanoTime() + TIME_BOX.toNanos();
      List<Sample> samples = new ArrayList<>();
      ExecutorService threads = Executors.newFixedThreadPool(sites.size());
      try {
        List<Future<List<Sample>>> each = new ArrayList<>();
        for (Site site : sites) {
          each.add(
              threads.submit(
                  () -> {
                    List<Sample> mine = new ArrayList<>(perSite);
                    for (int i = 0; i < perSite && System.nanoTime() < deadline; i++) {
                      Sample s = move(site);
                      if (s == null) {
                        mismatches.incrementAndGet();
                      } else {
                        mine.add(s);
                      }
                    }
                    return mine;
                  }));
        }
        for (Future<List<Sample>> f : each) {
          samples.addAll(f.get(5, TimeUnit.MINUTES));
        }
      } finally {
        threads.shutdownNow();
      }
      Percentiles call = percentiles(samples, Sample::call);
      Percentiles live = percentiles(samples, Sample::live);
      Percentiles relay = percentiles(samples, Sample::toSubmit);
      Percentiles queue = percentiles(samples, s -> s.toRunStart() - s.toSubmit());
      Percentiles run = percentiles(samples, s -> s.live() - s.toRunStart());
      Percentiles put = percentiles(samples, Sample::putTook);
      return new Result(
          sites.size(),
          samples.size(),
          call.micros(50) / 1000,
          call.micros(99) / 1000,
          live.micros(50) / 1000,
          live.micros(99) / 1000,
          relay.micros(50) / 1000,
          relay.micros(99) / 1000,
          queue.micros(50) / 1000,
          queue.micros(99) / 1000,
          run.micros(50) / 1000,
          run.micros(99) / 1000,
          put.micros(50) / 1000,
          put.micros(99) / 1000,
          mismatches.get());
    }

    private static Percentiles percentiles(
        List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
      return new Percentiles(samples.stream().mapToLong(f).toArray());
    }

    /** One move of the site's live alias, timed until live; null when the object disagrees. */
    Sample move(Site site) throws Exception {
      DeployId target = site.onA ? site.b : site.a;
      CompletableFuture<Long> landed = puts.expect(site.key);
      runStarted.remove(site.id);
      submitted.remove(site.id.value());
      long start = System.nanoTime();
      if (site.onA) {
        plane.deploys().promote(site.id, target, LIVE, AliasExpectation.current(site.a));
      } else {
        plane.deploys().rollback(site.id, LIVE, target, AliasExpectation.current(site.b));
      }
      long returned = System.nanoTime();
      Instant returnedAt = Clock.systemUTC().instant();
      long putLanded = landed.get(1, TimeUnit.MINUTES);
      Long submittedAt = submitted.get(site.id.value());
      Long putStarted = puts.putStarted.get(site.key);
      site.onA = !site.onA;
      String body =
          raw.getObjectAsBytes(b -> b.bucket(bucket).key(site.key))
              .asString(StandardCharsets.UTF_8);
      if (!body.contains("\"" + target.value() + "\"")) {
        return null;
      }
      // The run's Started event is published before its PUT, but delivered to us asynchronously.
      Instant started = null;
      for (int i = 0; i < 1000 && (started = runStarted.get(site.id)) == null; i++) {
        Thread.onSpinWait();
        Thread.sleep(0, 100_000);
      }
      long live = putLanded - returned;
      long toRunStart =
          started == null ? live : Math.max(0, Duration.between(returnedAt, started).toNanos());
      long toSubmit = submittedAt == null ? 0 : Math.max(0, submittedAt - returned);
      toRunStart = Math.max(toSubmit, Math.min(live, toRunStart));
      return new Sample(
          returned - start,
          live,
          toSubmit,
          toRunStart,
          putStarted == null ? 0 : putLanded - putStarted);
    }
  }

  /** Runs this section alone on a fresh durable server: {@code java -cp ... PromoteLiveHarness}. */
  public static void main(String[] args) throws Exception {
    java.nio.file.Path out = java.nio.file.Path.of(args.length > 0 ? args[0] : "/tmp");
    try (DurablePostgres postgres = DurablePostgres.start()) {
      Bench bench =
          new Bench(postgres, out, java.time.LocalDate.now(java.time.ZoneOffset.UTC).toString());
      for (Figure f : new PromoteLiveHarness().run(bench)) {
        System.out.printf(
            Locale.ROOT,
            "%-120s %10.2f %s   %s %s%n",
            f.figure(),
            f.value(),
            f.unit(),
            Double.isNaN(f.baselineValue())
                ? ""
                : String.format(Locale.ROOT, "%.2f", f.baselineValue()),
            f.pass() ? "" : "FAIL");
      }
    }
  }
}
