package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.examples.BearerTokens;
import dev.durabledeploy.examples.DeployServer;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.AccessDeniedException;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A hostile client against the example server's site routes. */
class SiteRoutesHostileTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ALICE = "alice-0123456789abcdef0123456789";
  private static final String BOB = "bob-fedcba9876543210fedcba98765";
  private static final SiteId SITE = SiteId.of("site-a");
  private final HttpClient http = HttpClient.newHttpClient();
  private DurableDeploy plane;
  private DeployServer server;

  @BeforeEach
  void start() throws Exception {
    plane =
        DurableDeploy.builder()
            .store(new InMemoryStore())
            .blobStore(new InMemoryBlobStore())
            .engine(ExecutorEngine.builder().build())
            .retryPolicy(RetryPolicy.noRetry())
            .authorizer(
                (actor, site, action) -> {
                  if (actor.value().equals("user:bob")) {
                    throw new AccessDeniedException(actor, site, action, "bob may only read");
                  }
                })
            .build()
            .start();
    server =
        DeployServer.start(
            plane,
            0,
            BearerTokens.of(Map.of(ALICE, Actor.of("user:alice"), BOB, Actor.of("user:bob"))));
  }

  @AfterEach
  void stop() {
    server.close();
    plane.close();
  }

  private HttpResponse<String> send(String method, String path, String body, String token)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private void register() throws Exception {
    var r =
        send(
            "POST",
            "/sites/site-a",
            "{\"displayName\":\"Site A\",\"owner\":\"team-a\",\"labels\":{\"tier\":\"gold\"}}",
            ALICE);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
  }

  @Test
  @DisplayName("PUT with labels of the wrong type (an array) is 400 and keeps the labels")
  void labelsOfTheWrongType() throws Exception {
    register();
    var r =
        send(
            "PUT",
            "/sites/site-a",
            "{\"displayName\":\"Site A\",\"owner\":\"team-a\",\"labels\":[\"tier=gold\"]}",
            ALICE);
    assertThat(plane.sites().find(SITE).orElseThrow().profile().labels())
        .as("labels after a PUT answered %d %s", r.statusCode(), r.body())
        .containsEntry("tier", "gold");
    assertThat(r.statusCode()).isEqualTo(400);
  }

  @Test
  @DisplayName("a label value that is a JSON object is 400, not stored as an empty string")
  void labelValueOfTheWrongType() throws Exception {
    var r =
        send(
            "POST",
            "/sites/site-a",
            "{\"displayName\":\"Site A\",\"owner\":\"team-a\",\"labels\":{\"tier\":{\"x\":1}}}",
            ALICE);
    assertThat(r.statusCode())
        .as("answered %s; stored %s", r.body(), plane.sites().find(SITE))
        .isEqualTo(400);
  }

  @Test
  @DisplayName("holds: no token, an unknown token and a refused actor change nothing")
  void unauthenticatedAndRefused() throws Exception {
    register();
    assertThat(send("DELETE", "/sites/site-a", null, null).statusCode()).isEqualTo(401);
    assertThat(send("DELETE", "/sites/site-a", null, "nope-nope-nope").statusCode()).isEqualTo(401);
    var denied = send("DELETE", "/sites/site-a", null, BOB);
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(denied.body()).path("action").asText()).isEqualTo("site.delete");
    assertThat(send("POST", "/sites/site-a/restore", null, BOB).statusCode()).isEqualTo(403);
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.ACTIVE);
  }

  @Test
  @DisplayName("holds: bad paging input is 400 naming the field, never 500")
  void badPaging() throws Exception {
    register();
    for (String q :
        new String[] {
          "limit=0",
          "limit=-1",
          "limit=1001",
          "limit=99999999999",
          "limit=abc",
          "after=NOT%20A%20SLUG"
        }) {
      var r = send("GET", "/sites?" + q, null, null);
      assertThat(r.statusCode()).as(q + " " + r.body()).isEqualTo(400);
      JsonNode body = JSON.readTree(r.body());
      assertThat(body.path("field").asText()).as(q).isNotEmpty();
    }
    var page = JSON.readTree(send("GET", "/sites?limit=1", null, null).body());
    assertThat(page.path("sites")).hasSize(1);
    var next = page.path("next").asText();
    var after = JSON.readTree(send("GET", "/sites?limit=1&after=" + next, null, null).body());
    assertThat(after.path("sites")).isEmpty();
    assertThat(after.path("next").isNull()).isTrue();
  }

  @Test
  @DisplayName("holds: bad JSON, a missing field and a bad If-Match are 400; a stale one is 409")
  void badBodies() throws Exception {
    register();
    assertThat(send("POST", "/sites/site-b", "{not json", ALICE).statusCode()).isEqualTo(400);
    assertThat(send("POST", "/sites/site-b", "{\"owner\":\"x\"}", ALICE).statusCode())
        .isEqualTo(400);
    assertThat(
            send("POST", "/sites/site-b", "{\"displayName\":\"a\u0000b\",\"owner\":\"x\"}", ALICE)
                .statusCode())
        .isEqualTo(400);
    HttpRequest stale =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/sites/site-a"))
            .header("Authorization", "Bearer " + ALICE)
            .header("If-Match", "\"7\"")
            .method(
                "PUT",
                HttpRequest.BodyPublishers.ofString("{\"displayName\":\"B\",\"owner\":\"x\"}"))
            .build();
    assertThat(http.send(stale, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(409);
    assertThat(plane.sites().find(SiteId.of("site-b"))).isEmpty();
    assertThat(plane.sites().find(SITE).orElseThrow().version()).isEqualTo(1);
  }
}
