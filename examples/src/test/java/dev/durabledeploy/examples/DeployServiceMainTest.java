package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("the deploy service with nothing configured but its tokens")
class DeployServiceMainTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "0123456789abcdef0123456789abcdef";

  // Nothing of the host's environment: the embedded defaults, on a free port, one token.
  private static final Map<String, String> NOTHING_CONFIGURED =
      Map.of("PORT", "0", BearerTokens.ENV, "user:ops=" + TOKEN);

  private final HttpClient http = HttpClient.newHttpClient();

  @TempDir Path data;

  @Test
  @DisplayName("keeps a deploy's metadata and bytes across a stop and a start on the same ./data")
  void deploysSurviveARestart() throws Exception {
    String id;
    try (DeployServiceMain.Service service = DeployServiceMain.start(NOTHING_CONFIGURED, data)) {
      HttpRequest anonymous =
          HttpRequest.newBuilder(
                  URI.create("http://127.0.0.1:" + service.port() + "/sites/site-a/deploys"))
              .POST(HttpRequest.BodyPublishers.ofString("{}"))
              .build();
      assertThat(http.send(anonymous, HttpResponse.BodyHandlers.ofString()).statusCode())
          .isEqualTo(401);
      id = json(send(service, "POST", "/sites/site-a/deploys", "{}")).get("deployId").asText();
      assertThat(
              send(
                      service,
                      "PUT",
                      "/sites/site-a/deploys/" + id + "/files/index.html",
                      "<h1>1</h1>")
                  .statusCode())
          .isEqualTo(201);
      HttpResponse<String> done =
          send(
              service,
              "POST",
              "/sites/site-a/deploys/" + id + "/finalize",
              "{\"alias\":\"production\",\"files\":[\"index.html\"]}");
      assertThat(done.statusCode()).isEqualTo(200);
    }
    assertThat(data.resolve("pg").resolve("PG_VERSION")).exists();
    assertThat(Files.list(data.resolve("blobs")).findAny()).isPresent();

    try (DeployServiceMain.Service again = DeployServiceMain.start(NOTHING_CONFIGURED, data)) {
      JsonNode deploys = json(send(again, "GET", "/sites/site-a/deploys", null));
      assertThat(deploys).hasSize(1);
      assertThat(deploys.get(0).toString()).contains(id);
      JsonNode aliases = json(send(again, "GET", "/sites/site-a/aliases", null));
      assertThat(aliases).hasSize(1);
      assertThat(aliases.get(0).toString()).contains("production").contains(id);
    }
  }

  private HttpResponse<String> send(
      DeployServiceMain.Service service, String method, String path, String body) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + service.port() + path))
            .header("Authorization", "Bearer " + TOKEN)
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build();
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    return JSON.readTree(response.body());
  }
}
