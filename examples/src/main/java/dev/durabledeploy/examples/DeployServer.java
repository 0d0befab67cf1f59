package dev.durabledeploy.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.Finalized;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.UploadConflictException;
import dev.durabledeploy.core.site.SiteRegistry;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.AccessDeniedException;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.exception.DeployBytesMissingException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP host over the deploy plane, with the JDK's {@code HttpServer} and no framework:
 *
 * <pre>
 * POST   /sites/{site}/deploys                       {"sha": "..."}         → 201 {"deployId"}
 * PUT    /sites/{site}/deploys/{id}/files/{path...}  bytes                  → 201
 * POST   /sites/{site}/deploys/{id}/finalize         {"alias", "files": []} → 200
 * POST   /sites/{site}/aliases/{alias}               {"deployId"}, If-Match → 200 | 409 drift
 * DELETE /sites/{site}/deploys/{id}                                         → 200 {"expiresAt"}
 * POST   /sites/{site}/deploys/{id}/restore                                 → 200
 * GET    /sites/{site}/deploys | aliases | trash
 * GET    /sites?after=&amp;limit=                      → 200 {"sites": [], "next"}
 * POST   /sites/{site}                               {"displayName", "owner", "labels"} → 201
 * PUT    /sites/{site}                               same body, If-Match: version → 200 | 409
 * GET    /sites/{site}                                                      → 200 | 404
 * DELETE /sites/{site}                               trash it → 200 {"restorableUntil"}
 * POST   /sites/{site}/restore                                              → 200 | 409 | 404
 * GET    /events                                      server-sent lifecycle events
 * </pre>
 *
 * Errors map to status codes: invalid input 400 (with the field), unknown 404, drift and conflicts
 * 409 (drift with the current alias), expired 410, site busy 423, transient backend trouble 503
 * with {@code Retry-After}.
 *
 * <p><b>Who is asking.</b> A mutation (any method but GET) needs {@code Authorization: Bearer
 * <token>}, a token the host configured ({@link BearerTokens}); the token's actor is the one the
 * plane's {@link dev.durabledeploy.spi.Authorizer} is asked about and the audit log records. No
 * token, or one the server does not know, is 401 with {@code WWW-Authenticate}; an actor the
 * authorizer refuses is 403 naming the action. Reads stay open, as the plane's authorizer does not
 * check them either: they change nothing, and this server listens on the loopback interface only,
 * behind whatever the host puts in front of it. A GET that does send a token must send a valid one,
 * so a client with a wrong token learns it on its first request.
 */
public final class DeployServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(DeployServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final DurableDeploy plane;
  private final HttpServer server;
  private final BearerTokens tokens;
  private final ExecutorService threads = Executors.newCachedThreadPool();

  private DeployServer(DurableDeploy plane, HttpServer server, BearerTokens tokens) {
    this.plane = plane;
    this.server = server;
    this.tokens = tokens;
  }

  /**
   * Serves {@code plane} on {@code port} (0: any free port) on the loopback interface; mutations
   * need one of {@code tokens} ({@link BearerTokens#none()}: every mutation is refused).
   */
  public static DeployServer start(DurableDeploy plane, int port, BearerTokens tokens)
      throws IOException {
    java.util.Objects.requireNonNull(tokens, "tokens");
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    DeployServer app = new DeployServer(plane, server, tokens);
    server.createContext("/", app::handle);
    server.setExecutor(app.threads);
    server.start();
    return app;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }

  /** A request failed with a status of its own. */
  private static final class HttpError extends RuntimeException {
    final int status;

    HttpError(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      try {
        route(exchange);
      } catch (RuntimeException e) {
        fail(exchange, e);
      }
    }
  }

  private void route(HttpExchange x) throws IOException {
    String method = x.getRequestMethod();
    Actor actor = authenticate(x, method);
    List<String> p = segments(x.getRequestURI().getRawPath());
    if (p.size() == 1 && p.get(0).equals("events") && method.equals("GET")) {
      events(x);
      return;
    }
    if (p.size() == 1 && p.get(0).equals("sites") && method.equals("GET")) {
      listSites(x);
      return;
    }
    if (p.size() >= 2
        && p.size() <= 3
        && p.get(0).equals("sites")
        && (p.size() == 2 || p.get(2).equals("restore"))) {
      site(x, method, SiteId.of(p.get(1)), p.size() == 3, actor);
      return;
    }
    if (p.size() < 3 || !p.get(0).equals("sites")) {
      throw new HttpError(404, "no such resource");
    }
    SiteId site = SiteId.of(p.get(1));
    var deploys = plane.deploys().as(actor);
    String collection = p.get(2);
    if (collection.equals("deploys") && p.size() == 3) {
      if (method.equals("POST")) {
        JsonNode body = body(x);
        String sha = body.hasNonNull("sha") ? body.get("sha").asText() : null;
        Deploy d = deploys.init(site, sha);
        send(
            x,
            201,
            JSON.createObjectNode().put("deployId", d.id().value()).put("state", d.state().name()));
      } else if (method.equals("GET")) {
        List<ObjectNode> out = new ArrayList<>();
        for (Deploy d : deploys.deploys(site)) {
          out.add(
              JSON.createObjectNode()
                  .put("deployId", d.id().value())
                  .put("state", d.state().name())
                  .put("createdAt", d.createdAt().toString()));
        }
        send(x, 200, JSON.valueToTree(out));
      } else {
        throw new HttpError(405, "method not allowed");
      }
      return;
    }
    if (collection.equals("deploys") && p.size() >= 4) {
      DeployId id = DeployId.of(p.get(3));
      if (p.size() == 4 && method.equals("DELETE")) {
        Tombstone t = deploys.delete(site, id);
        send(
            x,
            200,
            JSON.createObjectNode()
                .put("deployId", id.value())
                .put("expiresAt", t.expiresAt().toString()));
      } else if (p.size() >= 6 && p.get(4).equals("files") && method.equals("PUT")) {
        UploadPath path = UploadPath.of(String.join("/", p.subList(5, p.size())));
        long size = contentLength(x);
        String type = x.getRequestHeaders().getFirst("Content-Type");
        try (InputStream in = x.getRequestBody()) {
          if (type == null) {
            deploys.upload(site, id, path, in, size);
          } else {
            deploys.upload(site, id, path, in, size, BlobMetadata.ofType(type));
          }
        }
        send(x, 201, JSON.createObjectNode().put("path", path.value()).put("size", size));
      } else if (p.size() == 5 && p.get(4).equals("finalize") && method.equals("POST")) {
        JsonNode body = body(x);
        AliasName alias = AliasName.of(body.path("alias").asText(AliasName.PRODUCTION.value()));
        List<String> files = new ArrayList<>();
        body.path("files").forEach(f -> files.add(f.asText()));
        Finalized done =
            deploys.finalizeDeploy(
                site, id, alias, Manifest.of(files.toArray(String[]::new)), expectation(x));
        send(x, 200, alias(done.alias()));
      } else if (p.size() == 5 && p.get(4).equals("restore") && method.equals("POST")) {
        Deploy d = deploys.restore(site, id);
        send(
            x,
            200,
            JSON.createObjectNode().put("deployId", d.id().value()).put("state", d.state().name()));
      } else {
        throw new HttpError(404, "no such resource");
      }
      return;
    }
    if (collection.equals("aliases")) {
      if (p.size() == 3 && method.equals("GET")) {
        List<ObjectNode> out = new ArrayList<>();
        deploys.aliases(site).forEach(a -> out.add(alias(a)));
        send(x, 200, JSON.valueToTree(out));
      } else if (p.size() == 4 && method.equals("POST")) {
        AliasName alias = AliasName.of(p.get(3));
        DeployId target = DeployId.of(body(x).path("deployId").asText());
        send(x, 200, alias(deploys.promote(site, target, alias, expectation(x))));
      } else {
        throw new HttpError(404, "no such resource");
      }
      return;
    }
    if (collection.equals("trash") && p.size() == 3 && method.equals("GET")) {
      List<ObjectNode> out = new ArrayList<>();
      for (Tombstone t : deploys.trash(site)) {
        out.add(
            JSON.createObjectNode()
                .put("deployId", t.deployId().value())
                .put("expiresAt", t.expiresAt().toString()));
      }
      send(x, 200, JSON.valueToTree(out));
      return;
    }
    throw new HttpError(404, "no such resource");
  }

  /** {@code GET /sites?after=&limit=}: one page of site records. */
  private void listSites(HttpExchange x) throws IOException {
    String after = null;
    int limit = 100;
    String query = x.getRequestURI().getRawQuery();
    if (query != null) {
      for (String pair : query.split("&")) {
        String[] kv = pair.split("=", 2);
        String value = kv.length > 1 ? URLDecoder.decode(kv[1], StandardCharsets.UTF_8) : "";
        if (kv[0].equals("after") && !value.isEmpty()) {
          after = value;
        } else if (kv[0].equals("limit")) {
          try {
            limit = Integer.parseInt(value);
          } catch (NumberFormatException e) {
            throw new InvalidInputException("limit", "must be a number from 1 to 1000");
          }
        }
      }
    }
    SiteId cursor;
    try {
      cursor = after == null ? null : SiteId.of(after);
    } catch (InvalidInputException e) {
      throw new InvalidInputException("after", "must be a site id: " + e.getMessage());
    }
    SiteRegistry.Page page = plane.sites().list(cursor, limit);
    ObjectNode out = JSON.createObjectNode();
    var items = out.putArray("sites");
    page.items().forEach(r -> items.add(site(r)));
    out.put("next", page.next() == null ? null : page.next().value());
    send(x, 200, out);
  }

  /**
   * {@code /sites/{site}}: GET the record, POST to register it, PUT to update its profile ({@code
   * If-Match}: the record version), DELETE to trash it; {@code POST /sites/{site}/restore} to
   * restore it.
   */
  private void site(HttpExchange x, String method, SiteId site, boolean restore, Actor actor)
      throws IOException {
    var sites = plane.sites().as(actor);
    if (restore) {
      if (!method.equals("POST")) {
        throw new HttpError(405, "method not allowed");
      }
      send(x, 200, site(sites.restore(site)));
      return;
    }
    switch (method) {
      case "GET" ->
          send(
              x,
              200,
              site(
                  sites
                      .find(site)
                      .orElseThrow(
                          () -> new HttpError(404, "site '" + site + "' is not registered"))));
      case "POST" -> send(x, 201, site(sites.register(site, profile(body(x)))));
      case "PUT" -> {
        long version = 0;
        String ifMatch = x.getRequestHeaders().getFirst("If-Match");
        if (ifMatch != null) {
          try {
            version = Long.parseLong(ifMatch.replace("\"", "").trim());
          } catch (NumberFormatException e) {
            throw new InvalidInputException("If-Match", "must be a site record version number");
          }
        }
        send(x, 200, site(sites.update(site, profile(body(x)), version)));
      }
      case "DELETE" -> {
        SiteDeletion d = sites.delete(site);
        ObjectNode out =
            JSON.createObjectNode()
                .put("site", site.value())
                .put("deploys", d.deploys())
                .put("aliases", d.aliases())
                .put("tombstones", d.tombstones());
        out.put(
            "restorableUntil", d.restorableUntil() == null ? null : d.restorableUntil().toString());
        send(x, 200, out);
      }
      default -> throw new HttpError(405, "method not allowed");
    }
  }

  private static SiteProfile profile(JsonNode body) {
    java.util.Map<String, String> labels = new java.util.TreeMap<>();
    JsonNode given = body.get("labels");
    if (given != null && !given.isNull()) {
      if (!given.isObject()) {
        throw new InvalidInputException("labels", "must be an object of string values");
      }
      given
          .fields()
          .forEachRemaining(
              e -> {
                if (!e.getValue().isTextual()) {
                  throw new InvalidInputException(
                      "labels." + e.getKey(),
                      "must be a string, not " + e.getValue().getNodeType());
                }
                labels.put(e.getKey(), e.getValue().asText());
              });
    }
    for (String field : List.of("displayName", "owner")) {
      if (body.has(field) && !body.get(field).isTextual() && !body.get(field).isNull()) {
        throw new InvalidInputException(field, "must be a string");
      }
    }
    return new SiteProfile(
        body.hasNonNull("displayName") ? body.get("displayName").asText() : null,
        body.hasNonNull("owner") ? body.get("owner").asText() : null,
        labels);
  }

  private static ObjectNode site(Site r) {
    ObjectNode out =
        JSON.createObjectNode()
            .put("site", r.id().value())
            .put("displayName", r.profile().displayName())
            .put("owner", r.profile().owner())
            .put("state", r.state().name())
            .put("version", r.version())
            .put("createdAt", r.createdAt().toString())
            .put("updatedAt", r.updatedAt().toString());
    out.set("labels", JSON.valueToTree(r.profile().labels()));
    out.put("purgeAfter", r.purgeAfter() == null ? null : r.purgeAfter().toString());
    return out;
  }

  /** Server-sent events of every operation, until the client goes away. */
  private void events(HttpExchange x) throws IOException {
    LinkedBlockingQueue<LifecycleEvent> queue = new LinkedBlockingQueue<>(10_000);
    x.getResponseHeaders().set("Content-Type", "text/event-stream");
    x.getResponseHeaders().set("Cache-Control", "no-cache");
    x.sendResponseHeaders(200, 0);
    try (Subscription sub = plane.events().subscribe(EventBus.topic("operation"), queue::offer);
        OutputStream out = x.getResponseBody()) {
      out.write(": connected\n\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      while (true) {
        LifecycleEvent e = queue.poll(15, TimeUnit.SECONDS);
        String line =
            e == null
                ? ": keep-alive\n\n"
                : "event: " + e.getClass().getSimpleName() + "\ndata: " + event(e) + "\n\n";
        out.write(line.getBytes(StandardCharsets.UTF_8));
        out.flush();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException clientGone) {
      // The subscriber went away; its subscription is closed above.
    }
  }

  private static String event(LifecycleEvent e) {
    ObjectNode node =
        JSON.createObjectNode()
            .put("type", e.getClass().getSimpleName())
            .put("subject", e.subject())
            .put("at", e.at().toString());
    if (e instanceof OperationEvent op) {
      node.put("operation", op.operation());
      node.put("site", op.site() == null ? null : op.site().value());
    }
    return node.toString();
  }

  private static ObjectNode alias(Alias a) {
    return JSON.createObjectNode()
        .put("alias", a.name().value())
        .put("deployId", a.target().value())
        .put("version", a.version());
  }

  private static AliasExpectation expectation(HttpExchange x) {
    String ifMatch = x.getRequestHeaders().getFirst("If-Match");
    if (ifMatch == null) {
      return AliasExpectation.ANY;
    }
    try {
      return AliasExpectation.version(Long.parseLong(ifMatch.replace("\"", "").trim()));
    } catch (NumberFormatException e) {
      throw new InvalidInputException("If-Match", "must be an alias version number");
    }
  }

  /** Who reads anonymously: reads are not authorized and write no audit entry. */
  private static final Actor ANONYMOUS = Actor.of("http:anonymous");

  /**
   * The actor of the request's bearer token; {@link #ANONYMOUS} for a GET without one. The token
   * itself is never logged nor echoed.
   */
  private Actor authenticate(HttpExchange x, String method) {
    String header = x.getRequestHeaders().getFirst("Authorization");
    if (header == null) {
      if (method.equals("GET")) {
        return ANONYMOUS;
      }
      x.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"durable-deploy\"");
      throw new HttpError(
          401,
          "a "
              + method
              + " needs a bearer token: send the header 'Authorization: Bearer <token>' with a"
              + " token the server's host configured");
    }
    String token =
        header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
    Optional<Actor> actor = tokens.actorFor(token);
    if (actor.isEmpty()) {
      x.getResponseHeaders()
          .set("WWW-Authenticate", "Bearer realm=\"durable-deploy\", error=\"invalid_token\"");
      throw new HttpError(
          401,
          token == null
              ? "the Authorization header must be 'Bearer <token>'"
              : "the bearer token is not one this server knows; send a token the server's host"
                  + " configured");
    }
    return actor.get();
  }

  private static long contentLength(HttpExchange x) {
    String length = x.getRequestHeaders().getFirst("Content-Length");
    if (length == null) {
      throw new InvalidInputException("Content-Length", "is required for uploads");
    }
    try {
      return Long.parseLong(length);
    } catch (NumberFormatException e) {
      throw new InvalidInputException("Content-Length", "is not a number");
    }
  }

  private static JsonNode body(HttpExchange x) throws IOException {
    byte[] bytes = x.getRequestBody().readNBytes(64 * 1024);
    if (bytes.length == 0) {
      return JSON.createObjectNode();
    }
    try {
      return JSON.readTree(bytes);
    } catch (IOException e) {
      throw new InvalidInputException("body", "is not JSON");
    }
  }

  /** Decoded path segments; "..", "." and empty segments reach the validators and fail there. */
  private static List<String> segments(String rawPath) {
    List<String> out = new ArrayList<>();
    for (String s :
        Arrays.asList(rawPath.split("/", -1)).subList(1, rawPath.split("/", -1).length)) {
      out.add(URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8));
    }
    if (!out.isEmpty() && out.get(out.size() - 1).isEmpty() && out.size() > 1) {
      out.remove(out.size() - 1);
    }
    return out;
  }

  private static void send(HttpExchange x, int status, JsonNode body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    x.getResponseHeaders().set("Content-Type", "application/json");
    x.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = x.getResponseBody()) {
      out.write(bytes);
    }
  }

  private static void fail(HttpExchange x, RuntimeException e) throws IOException {
    ObjectNode body = JSON.createObjectNode().put("error", e.getMessage());
    int status;
    if (e instanceof HttpError h) {
      status = h.status;
    } else if (e instanceof AccessDeniedException denied) {
      status = 403;
      body.put("action", denied.action());
    } else if (e instanceof InvalidInputException i) {
      status = 400;
      body.put("field", i.field());
    } else if (e instanceof DeployNotFoundException || e instanceof SiteNotFoundException) {
      status = 404;
    } else if (e instanceof AliasDriftException d) {
      status = 409;
      d.current().ifPresent(a -> body.set("current", alias(a)));
    } else if (e instanceof DeployAliasedException
        || e instanceof DeployBytesMissingException
        || e instanceof DeployStateException
        || e instanceof SiteStateException
        || e instanceof UploadConflictException) {
      status = 409;
    } else if (e instanceof TombstoneExpiredException) {
      status = 410;
    } else if (e instanceof SiteBusyException) {
      status = 423;
      x.getResponseHeaders().set("Retry-After", "1");
    } else if (e instanceof TransientStoreException
        || e instanceof RepoCloneException
        || (e instanceof RemoteCallException r && r.isTransient())) {
      status = 503;
      x.getResponseHeaders().set("Retry-After", "5");
      // Which host, port, bucket or repository failed is for the operator, not the client.
      LOG.warn(
          "request {} {} answered 503: {}",
          x.getRequestMethod(),
          x.getRequestURI().getRawPath(),
          Inputs.redactCredentials(e.getMessage()));
      body.put(
          "error",
          (e instanceof RepoCloneException ? "the repository" : "the deploy backend")
              + " is temporarily unavailable; retry this "
              + x.getRequestMethod()
              + " request after 5 seconds");
    } else {
      status = 500;
      LOG.error("request {} {} failed", x.getRequestMethod(), x.getRequestURI().getRawPath(), e);
      body.put("error", "internal error; see the server log");
    }
    send(x, status, body);
  }
}
