package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.AccessDeniedException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("the deploy service over real HTTP")
class DeployServerTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ALICE_TOKEN = "alice-0123456789abcdef0123456789";
  private static final String BOB_TOKEN = "bob-fedcba9876543210fedcba98765";
  private static final Actor BOB = Actor.of("user:bob");
  private static final SiteId SITE = SiteId.of("site-a");
  private final HttpClient http = HttpClient.newHttpClient();
  private InMemoryStore store;
  private FaultInjectingBlobStore blobs;
  private DurableDeploy plane;
  private DeployServer server;

  @BeforeEach
  void start() throws Exception {
    store = new InMemoryStore();
    blobs = new FaultInjectingBlobStore(new InMemoryBlobStore());
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(ExecutorEngine.builder().build())
            .retryPolicy(RetryPolicy.noRetry())
            .options(DeployOptions.builder().lockTimeout(Duration.ofMillis(200)).build())
            // Bob holds a valid token but may change nothing.
            .authorizer(
                (actor, site, action) -> {
                  if (actor.equals(BOB)) {
                    throw new AccessDeniedException(actor, site, action, "bob may only read");
                  }
                })
            .build()
            .start();
    server =
        DeployServer.start(
            plane, 0, BearerTokens.of(Map.of(ALICE_TOKEN, Actor.of("user:alice"), BOB_TOKEN, BOB)));
  }

  @AfterEach
  void stop() {
    server.close();
    plane.close();
  }

  /** A request as Alice, whose token the server knows and whom the authorizer allows. */
  private HttpResponse<String> send(String method, String path, String body, String... headers)
      throws Exception {
    String[] withToken = Arrays.copyOf(headers, headers.length + 2);
    withToken[headers.length] = "Authorization";
    withToken[headers.length + 1] = "Bearer " + ALICE_TOKEN;
    return sendRaw(method, path, body, withToken);
  }

  /** A request with exactly {@code headers}. */
  private HttpResponse<String> sendRaw(String method, String path, String body, String... headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  /** Creates, uploads and finalizes a deploy to {@code alias}; returns its id. */
  private String publish(String alias, String html) throws Exception {
    String id = json(send("POST", "/sites/site-a/deploys", "{}")).get("deployId").asText();
    assertThat(send("PUT", "/sites/site-a/deploys/" + id + "/files/index.html", html).statusCode())
        .isEqualTo(201);
    assertThat(
            send("PUT", "/sites/site-a/deploys/" + id + "/files/css/a.css", "body{}").statusCode())
        .isEqualTo(201);
    HttpResponse<String> done =
        send(
            "POST",
            "/sites/site-a/deploys/" + id + "/finalize",
            "{\"alias\":\"" + alias + "\",\"files\":[\"index.html\",\"css/a.css\"]}");
    assertThat(done.statusCode()).isEqualTo(200);
    return id;
  }

  @Test
  @DisplayName("happy path: create, upload, finalize, list, promote, delete, restore")
  void happyPath() throws Exception {
    String v1 = publish("production", "<h1>1</h1>");
    String v2 = publish("preview", "<h1>2</h1>");
    JsonNode aliases = json(send("GET", "/sites/site-a/aliases", null));
    assertThat(aliases).hasSize(2);
    HttpResponse<String> promoted =
        send(
            "POST",
            "/sites/site-a/aliases/production",
            "{\"deployId\":\"" + v2 + "\"}",
            "If-Match",
            "1");
    assertThat(promoted.statusCode()).isEqualTo(200);
    assertThat(json(promoted).get("version").asLong()).isEqualTo(2);
    assertThat(store.metadata().auditLog(SiteId.of("site-a"), 1).get(0).actor().value())
        .isEqualTo("user:alice");
    HttpResponse<String> deleted = send("DELETE", "/sites/site-a/deploys/" + v1, null);
    assertThat(deleted.statusCode()).isEqualTo(200);
    assertThat(json(send("GET", "/sites/site-a/trash", null))).hasSize(1);
    assertThat(send("POST", "/sites/site-a/deploys/" + v1 + "/restore", null).statusCode())
        .isEqualTo(200);
    assertThat(json(send("GET", "/sites/site-a/deploys", null))).hasSize(2);
  }

  @Test
  @DisplayName("sites: register, read, list, update by version, delete restorably, restore")
  void sites() throws Exception {
    HttpResponse<String> registered =
        send(
            "POST",
            "/sites/site-a",
            "{\"displayName\":\"Docs\",\"owner\":\"team:docs\",\"labels\":{\"env\":\"prod\"}}");
    assertThat(registered.statusCode()).isEqualTo(201);
    assertThat(json(registered).get("state").asText()).isEqualTo("ACTIVE");
    assertThat(json(registered).get("labels").get("env").asText()).isEqualTo("prod");
    assertThat(json(send("GET", "/sites/site-a", null)).get("version").asLong()).isEqualTo(1);
    assertThat(send("GET", "/sites/nobody", null).statusCode()).isEqualTo(404);
    String live = publish("production", "<h1>1</h1>");

    HttpResponse<String> stale =
        send("PUT", "/sites/site-a", "{\"displayName\":\"X\",\"owner\":\"t\"}", "If-Match", "7");
    assertThat(stale.statusCode()).isEqualTo(409);
    assertThat(json(stale).get("error").asText()).contains("not the expected 7");
    HttpResponse<String> updated =
        send(
            "PUT",
            "/sites/site-a",
            "{\"displayName\":\"Docs 2\",\"owner\":\"t\"}",
            "If-Match",
            "1");
    assertThat(updated.statusCode()).isEqualTo(200);
    assertThat(json(updated).get("version").asLong()).isEqualTo(2);
    HttpResponse<String> bad =
        send("POST", "/sites/site-b", "{\"displayName\":\"\",\"owner\":\"t\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("field").asText()).isEqualTo("displayName");

    JsonNode page = json(send("GET", "/sites?limit=10", null));
    assertThat(page.get("sites")).hasSize(1);
    assertThat(page.get("next").isNull()).isTrue();

    HttpResponse<String> deleted = send("DELETE", "/sites/site-a", null);
    assertThat(deleted.statusCode()).isEqualTo(200);
    assertThat(json(deleted).get("restorableUntil").asText()).isNotEmpty();
    assertThat(json(send("GET", "/sites/site-a", null)).get("state").asText()).isEqualTo("TRASHED");
    HttpResponse<String> refused = send("POST", "/sites/site-a/deploys", "{}");
    assertThat(refused.statusCode()).isEqualTo(409);
    assertThat(json(refused).get("error").asText()).contains("restoreSite");
    assertThat(sendRaw("POST", "/sites/site-a/restore", null).statusCode()).isEqualTo(401);
    assertThat(
            sendRaw("POST", "/sites/site-a/restore", null, "Authorization", "Bearer " + BOB_TOKEN)
                .statusCode())
        .isEqualTo(403);

    HttpResponse<String> restored = send("POST", "/sites/site-a/restore", null);
    assertThat(restored.statusCode()).isEqualTo(200);
    assertThat(json(restored).get("state").asText()).isEqualTo("ACTIVE");
    assertThat(json(send("GET", "/sites/site-a/aliases", null)).get(0).get("deployId").asText())
        .isEqualTo(live);
    assertThat(send("GET", "/sites/site-a/restore", null).statusCode()).isEqualTo(405);
  }

  @Test
  @DisplayName(
      "errors map to 400 with the field, 404, 409 with the current alias, 410, 423 and 503")
  void errorMapping() throws Exception {
    HttpResponse<String> badSite = send("POST", "/sites/Bad_Site/deploys", "{}");
    assertThat(badSite.statusCode()).isEqualTo(400);
    assertThat(json(badSite).get("field").asText()).isEqualTo("site");

    assertThat(
            send(
                    "POST",
                    "/sites/site-a/deploys/20260101-000000-abcdef0/finalize",
                    "{\"files\":[\"index.html\"]}")
                .statusCode())
        .isEqualTo(404);

    String v1 = publish("production", "<h1>1</h1>");
    String v2 = publish("preview", "<h1>2</h1>");
    HttpResponse<String> drift =
        send(
            "POST",
            "/sites/site-a/aliases/production",
            "{\"deployId\":\"" + v2 + "\"}",
            "If-Match",
            "7");
    assertThat(drift.statusCode()).isEqualTo(409);
    assertThat(json(drift).get("current").get("deployId").asText()).isEqualTo(v1);

    assertThat(send("DELETE", "/sites/site-a/deploys/" + v1, null).statusCode()).isEqualTo(409);

    try (SiteLock held = store.siteLocks().acquire(SiteId.of("site-a"), Duration.ofSeconds(5))) {
      HttpResponse<String> busy = send("DELETE", "/sites/site-a/deploys/" + v2, null);
      assertThat(busy.statusCode()).isEqualTo(423);
      assertThat(busy.headers().firstValue("Retry-After")).isPresent();
    }

    String pending = json(send("POST", "/sites/site-a/deploys", "{}")).get("deployId").asText();
    blobs
        .failOnCall(1, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new TransientStoreException("bucket throttled"));
    HttpResponse<String> unavailable =
        send("PUT", "/sites/site-a/deploys/" + pending + "/files/index.html", "x");
    assertThat(unavailable.statusCode()).isEqualTo(503);
    assertThat(unavailable.headers().firstValue("Retry-After")).isPresent();
  }

  @Test
  @DisplayName("path traversal in the URL path is refused with 400, nothing stored")
  void traversal() throws Exception {
    String id = json(send("POST", "/sites/site-a/deploys", "{}")).get("deployId").asText();
    for (String path :
        List.of(
            "/sites/site-a/deploys/" + id + "/files/../../other-site/x",
            "/sites/site-a/deploys/" + id + "/files/%2e%2e/%2e%2e/x",
            "/sites/site-a/deploys/" + id + "/files/a%5Cb",
            "/sites/%2e%2e/deploys")) {
      HttpResponse<String> r = send(path.endsWith("deploys") ? "POST" : "PUT", path, "x");
      assertThat(r.statusCode()).as(path).isEqualTo(400);
    }
    assertThat(blobs.listAll(dev.durabledeploy.spi.blob.BlobPrefix.ROOT)).isEmpty();
  }

  @Test
  @DisplayName("20 concurrent promotes with the same If-Match: exactly one wins")
  void concurrentPromotes() throws Exception {
    publish("production", "<h1>1</h1>");
    String v2 = publish("preview", "<h1>2</h1>");
    List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      responses.add(
          http.sendAsync(
              HttpRequest.newBuilder(
                      URI.create(
                          "http://127.0.0.1:" + server.port() + "/sites/site-a/aliases/production"))
                  .header("If-Match", "1")
                  .header("Authorization", "Bearer " + ALICE_TOKEN)
                  .POST(HttpRequest.BodyPublishers.ofString("{\"deployId\":\"" + v2 + "\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString()));
    }
    int ok = 0;
    int conflict = 0;
    for (var r : responses) {
      int status = r.get(30, TimeUnit.SECONDS).statusCode();
      if (status == 200) {
        ok++;
      } else if (status == 409 || status == 423) {
        conflict++;
      }
    }
    assertThat(ok).isEqualTo(1);
    assertThat(conflict).isEqualTo(19);
  }

  @Test
  @DisplayName("GET /events streams lifecycle events as server-sent events")
  void events() throws Exception {
    HttpResponse<InputStream> stream =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/events"))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.headers().firstValue("Content-Type")).contains("text/event-stream");
    CountDownLatch sawFinalize = new CountDownLatch(1);
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      assertThat(reader.readLine()).isEqualTo(": connected");
      CompletableFuture.runAsync(
          () -> {
            try {
              publish("production", "<h1>sse</h1>");
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      String line;
      while (System.nanoTime() < deadline && (line = reader.readLine()) != null) {
        if (line.startsWith("data:") && line.contains("\"operation\":\"finalize\"")) {
          sawFinalize.countDown();
          break;
        }
      }
    }
    assertThat(sawFinalize.getCount()).isZero();
  }

  @Test
  @DisplayName("a 503 says what to retry, never which host, port or bucket failed")
  void unavailableBodyNamesNoBackend() throws Exception {
    String pending = json(send("POST", "/sites/site-a/deploys", "{}")).get("deployId").asText();
    blobs
        .failOnCall(1, FaultInjectingBlobStore.When.BEFORE)
        .throwing(
            () ->
                new TransientStoreException(
                    "PUT https://minio.internal.example:9000/deploys-prod/site-a failed:"
                        + " secret_key=s3cr3t-k3y timed out"));
    HttpResponse<String> unavailable =
        send("PUT", "/sites/site-a/deploys/" + pending + "/files/index.html", "x");
    assertThat(unavailable.statusCode()).isEqualTo(503);
    assertThat(unavailable.body())
        .contains("retry this PUT request")
        .doesNotContain("minio.internal.example")
        .doesNotContain("9000")
        .doesNotContain("deploys-prod")
        .doesNotContain("s3cr3t-k3y");
  }

  @Nested
  @DisplayName("who may change what")
  class Authentication {

    @Test
    @DisplayName(
        "a mutation without a bearer token is 401, saying what to send, and writes nothing")
    void noToken() throws Exception {
      HttpResponse<String> r = sendRaw("POST", "/sites/site-a/deploys", "{}");
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate"))
          .contains("Bearer realm=\"durable-deploy\"");
      assertThat(json(r).get("error").asText()).contains("Authorization: Bearer <token>");
      assertThat(store.metadata().listDeploys(SITE)).isEmpty();
    }

    @Test
    @DisplayName(
        "X-Actor proves nothing: without a token it is 401, with one the token's actor counts")
    void xActorIsNotTrusted() throws Exception {
      assertThat(
              sendRaw("POST", "/sites/site-a/deploys", "{}", "X-Actor", "user:root").statusCode())
          .isEqualTo(401);
      assertThat(send("POST", "/sites/site-a/deploys", "{}", "X-Actor", "user:root").statusCode())
          .isEqualTo(201);
      assertThat(store.metadata().auditLog(SITE, 1).get(0).actor().value()).isEqualTo("user:alice");
    }

    @Test
    @DisplayName("an unknown or malformed token is 401 and the answer never echoes it")
    void unknownToken() throws Exception {
      String guess = "guess-0123456789abcdef0123456789";
      for (String header : List.of("Bearer " + guess, "Basic " + guess, "Bearer")) {
        HttpResponse<String> r =
            sendRaw("POST", "/sites/site-a/deploys", "{}", "Authorization", header);
        assertThat(r.statusCode()).as(header).isEqualTo(401);
        assertThat(r.headers().firstValue("WWW-Authenticate").orElseThrow())
            .contains("invalid_token");
        assertThat(r.body()).doesNotContain(guess);
      }
      assertThat(store.metadata().listDeploys(SITE)).isEmpty();
    }

    @Test
    @DisplayName("a valid token whose actor the authorizer refuses is 403 naming the action")
    void refusedActor() throws Exception {
      String id = publish("production", "<h1>1</h1>");
      int audited = store.metadata().auditLog(SITE, 100).size();
      String bob = "Bearer " + BOB_TOKEN;
      HttpResponse<String> init =
          sendRaw("POST", "/sites/site-a/deploys", "{}", "Authorization", bob);
      assertThat(init.statusCode()).isEqualTo(403);
      assertThat(json(init).get("action").asText()).isEqualTo("deploy.init");
      assertThat(json(init).get("error").asText())
          .contains("'user:bob'")
          .contains("deploy.init")
          .contains("bob may only read")
          .doesNotContain(BOB_TOKEN);
      HttpResponse<String> delete =
          sendRaw("DELETE", "/sites/site-a/deploys/" + id, null, "Authorization", bob);
      assertThat(delete.statusCode()).isEqualTo(403);
      assertThat(json(delete).get("action").asText()).isEqualTo("deploy.delete");
      assertThat(store.metadata().listDeploys(SITE)).hasSize(1);
      assertThat(store.metadata().listTombstones(SITE)).isEmpty();
      assertThat(store.metadata().auditLog(SITE, 100)).hasSize(audited);
    }

    @Test
    @DisplayName("reads need no token, but a token sent with one must be valid")
    void reads() throws Exception {
      publish("production", "<h1>1</h1>");
      assertThat(sendRaw("GET", "/sites/site-a/deploys", null).statusCode()).isEqualTo(200);
      assertThat(
              sendRaw("GET", "/sites/site-a/aliases", null, "Authorization", "Bearer " + BOB_TOKEN)
                  .statusCode())
          .isEqualTo(200);
      assertThat(
              sendRaw(
                      "GET",
                      "/sites/site-a/deploys",
                      null,
                      "Authorization",
                      "Bearer not-a-token-0123456789abcdef")
                  .statusCode())
          .isEqualTo(401);
    }
  }
}
