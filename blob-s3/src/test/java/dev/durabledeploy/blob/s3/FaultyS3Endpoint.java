package dev.durabledeploy.blob.s3;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An S3 endpoint that misbehaves on purpose: an HTTP proxy in front of a real S3 server (the test
 * kit's S3Proxy) that forwards every request unchanged, except that the next CopyObject requests it
 * is told to break are answered by the proxy itself, without reaching the server: {@code 404
 * NoSuchKey} (what a lagging replica or a confused gateway answers), or {@code 200} with a copy
 * result although nothing was copied. Works with servers that do not check signatures (the proxy
 * changes the Host header), which the in-process S3Proxy does not.
 */
final class FaultyS3Endpoint implements AutoCloseable {

  /** Headers the JDK client sets itself and refuses to take from the caller. */
  private static final Set<String> HOP_BY_HOP =
      Set.of("host", "content-length", "connection", "expect", "upgrade", "transfer-encoding");

  private final URI upstream;
  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final AtomicInteger notFound = new AtomicInteger();
  private final AtomicInteger fakeSuccess = new AtomicInteger();

  /** The copy sources ({@code x-amz-copy-source}) of every CopyObject seen, faulted or not. */
  final List<String> copies = new CopyOnWriteArrayList<>();

  /** The object keys named in every DeleteObjects request that reached the server. */
  final List<String> deleted = new CopyOnWriteArrayList<>();

  FaultyS3Endpoint(URI upstream) {
    this.upstream = upstream;
    try {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.createContext("/", this::handle);
    server.setExecutor(executor);
    server.start();
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  /** The next {@code n} CopyObject requests are answered 404 NoSuchKey and copy nothing. */
  void copiesAnswerNotFound(int n) {
    notFound.set(n);
  }

  /** The next {@code n} CopyObject requests are answered 200 and copy nothing. */
  void copiesAnswerSuccessWithoutCopying(int n) {
    fakeSuccess.set(n);
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      byte[] body;
      try (InputStream in = exchange.getRequestBody()) {
        body = in.readAllBytes();
      }
      String copySource = exchange.getRequestHeaders().getFirst("x-amz-copy-source");
      if ("PUT".equals(exchange.getRequestMethod()) && copySource != null) {
        copies.add(copySource);
        if (notFound.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
          reply(
              exchange,
              404,
              "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                  + "</Message></Error>");
          return;
        }
        if (fakeSuccess.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
          reply(
              exchange,
              200,
              "<CopyObjectResult><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
                  + "<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag>"
                  + "</CopyObjectResult>");
          return;
        }
      }
      if ("POST".equals(exchange.getRequestMethod())
          && exchange.getRequestURI().getRawQuery() != null
          && exchange.getRequestURI().getRawQuery().startsWith("delete")) {
        String xml = new String(body, StandardCharsets.UTF_8);
        for (String part : xml.split("<Key>")) {
          int end = part.indexOf("</Key>");
          if (end >= 0) {
            deleted.add(part.substring(0, end));
          }
        }
      }
      forward(exchange, body);
    }
  }

  private void forward(HttpExchange exchange, byte[] body) throws IOException {
    URI requestUri = exchange.getRequestURI();
    String target =
        upstream
            + requestUri.getRawPath()
            + (requestUri.getRawQuery() == null ? "" : "?" + requestUri.getRawQuery());
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(target))
            .method(
                exchange.getRequestMethod(),
                body.length == 0
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
    for (Map.Entry<String, List<String>> header : exchange.getRequestHeaders().entrySet()) {
      if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
        header.getValue().forEach(v -> request.header(header.getKey(), v));
      }
    }
    HttpResponse<byte[]> response;
    try {
      response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while forwarding", e);
    }
    boolean head = "HEAD".equals(exchange.getRequestMethod());
    response
        .headers()
        .map()
        .forEach(
            (name, values) -> {
              String lower = name.toLowerCase(Locale.ROOT);
              boolean keep =
                  !HOP_BY_HOP.contains(lower) || (head && lower.equals("content-length"));
              if (keep && !lower.equals("date") && !lower.startsWith(":")) {
                exchange.getResponseHeaders().put(name, values);
              }
            });
    byte[] answer = response.body();
    // -1: no body; a HEAD keeps the object's Content-Length header copied above.
    exchange.sendResponseHeaders(
        response.statusCode(), head || answer.length == 0 ? -1 : answer.length);
    if (!head && answer.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(answer);
      }
    }
  }

  private static void reply(HttpExchange exchange, int status, String xml) throws IOException {
    byte[] bytes =
        ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + xml).getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/xml");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
