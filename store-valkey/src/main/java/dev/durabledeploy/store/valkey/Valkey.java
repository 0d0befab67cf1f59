package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Calls to the server: Lua scripts by {@code EVALSHA} (loaded once, re-loaded on {@code NOSCRIPT},
 * e.g. after {@code SCRIPT FLUSH} or a restart), and the translation of every failure into a typed
 * exception with a message that names the operation and the server's host and port, never its
 * password: {@link TransientStoreException} for what passes (connection loss, also when the server
 * refuses the credentials on reconnecting; failover; a server out of memory), {@link
 * ConfigurationException} of {@code uri} for a command the server refuses for who sends it (NOAUTH,
 * WRONGPASS, an ACL's NOPERM), which only the operator can fix.
 */
final class Valkey {

  /**
   * The ACL a store's user needs, for {@code <ns>} its namespace: every key and channel of the
   * namespace; reads, writes, scripts, pub/sub, the connection handshake and {@code CONFIG GET}
   * (for the start-up check of the server's settings) and {@code TIME} (job leases written by
   * another host expire on the server's clock).
   */
  static final String ACL_RULES =
      "~<ns>:* &<ns>:* +@read +@write +@scripting +@pubsub +@connection -@dangerous +config|get +time";

  private final RedisCommands<String, String> commands;
  private final String server;
  private final String namespace;
  private final Map<String, String> digests = new ConcurrentHashMap<>();
  private final Map<String, String> sources = new ConcurrentHashMap<>();

  /** The error code of the last reconnection the server refused on credentials, or null. */
  private volatile String credentialsRefused;

  Valkey(RedisCommands<String, String> commands, RedisURI uri, String namespace) {
    this.commands = commands;
    this.server = uri.getHost() + ":" + uri.getPort();
    this.namespace = namespace;
  }

  /** {@code host:port} of the server, for messages. */
  String server() {
    return server;
  }

  /**
   * Lettuce reconnects in the background; when the server refuses its credentials there (a password
   * rotated under a running store) commands only see "not connected", so the store reports the
   * refusal here and {@link #call} names it instead of a server that is down.
   */
  void reconnectFailed(Throwable cause) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = cause; t != null; t = t.getCause()) {
      all.append(t.getMessage()).append(' ');
    }
    String code = credentialCode(all.toString());
    if (code != null) {
      credentialsRefused = code;
    }
  }

  /** A connection was established (and authenticated) again. */
  void reconnected() {
    credentialsRefused = null;
  }

  RedisCommands<String, String> commands() {
    return commands;
  }

  /** Runs {@code body}, translating failures (see class comment). */
  <T> T call(String what, Supplier<T> body) {
    try {
      return body.get();
    } catch (RedisCommandExecutionException e) {
      throw refused(what, e);
    } catch (RedisException e) {
      String code = credentialsRefused;
      if (code != null) {
        // Transient, like any lost connection: it comes back by itself once the server accepts
        // the credentials again, and the lock watchdog and releases keep treating it as such.
        throw new TransientStoreException(
            what
                + " on Valkey/Redis "
                + server
                + " failed: not connected, the server refuses the store's credentials ("
                + code
                + ") since the connection was lost; if the password was rotated, build the"
                + " store with the new one (or restore the old one)");
      }
      throw transientFailure(what, e);
    }
  }

  /** The exception for an error reply of the server. */
  RuntimeException refused(String what, RedisCommandExecutionException e) {
    String m = e.getMessage() == null ? "" : e.getMessage();
    String prefix = what + " on Valkey/Redis " + server + " was refused";
    if (isTransientReply(m)) {
      return transientFailure(what, e);
    }
    if (m.startsWith("OOM") || m.contains("-OOM ") || m.contains("OOM command not allowed")) {
      return new TransientStoreException(
          prefix
              + ": the server is out of memory (used memory reached maxmemory, and the"
              + " noeviction policy refuses writes rather than drop keys); free memory or raise"
              + " maxmemory, then retry. INFO memory shows the use; an undrained or unpurged"
              + " outbox and a long audit log (auditLogLength) are what this store grows");
    }
    String code = credentialCode(m);
    if (code != null) {
      return new ConfigurationException(
          "uri",
          prefix
              + " ("
              + code
              + "): the server refused the store's credentials; check the user and password of"
              + " the URI");
    }
    if (isPermissionReply(m)) {
      return new ConfigurationException(
          "uri",
          prefix
              + " ("
              + clean(m)
              + "): the URI's user lacks a permission the store needs; grant it with ACL SETUSER"
              + " <user> "
              + ACL_RULES.replace("<ns>", namespace));
    }
    // The server refused the command itself: a bug in this adapter, not an outage.
    return new IllegalStateException(prefix + ": " + clean(m));
  }

  private TransientStoreException transientFailure(String what, RedisException e) {
    // No cause: Lettuce's messages and causes may carry connection details.
    return new TransientStoreException(
        what
            + " on Valkey/Redis "
            + server
            + " failed: "
            + e.getClass().getSimpleName()
            + " ("
            + clean(e.getMessage())
            + "); check that the server is up and reachable");
  }

  /** Error replies that pass: a server loading, busy with a script, failing over. */
  private static boolean isTransientReply(String message) {
    String m = message == null ? "" : message;
    return m.startsWith("LOADING")
        || m.startsWith("BUSY")
        || m.startsWith("READONLY")
        || m.startsWith("MASTERDOWN")
        || m.startsWith("TRYAGAIN")
        || m.startsWith("CLUSTERDOWN");
  }

  /** {@code NOAUTH} or {@code WRONGPASS} when {@code message} is a refusal of credentials. */
  static String credentialCode(String message) {
    if (message == null) {
      return null;
    }
    if (message.contains("WRONGPASS")) {
      return "WRONGPASS";
    }
    if (message.contains("NOAUTH")) {
      return "NOAUTH";
    }
    return null;
  }

  /**
   * An ACL refusal: {@code NOPERM ...} (also inside a script's error on Redis 7 and Valkey), or
   * Redis 6.2's wording for a command a script ran.
   */
  static boolean isPermissionReply(String message) {
    return message != null
        && (message.contains("NOPERM") || message.contains("The user executing the script can't"));
  }

  /**
   * Runs the Lua script {@code name} (from {@code /valkey/<name>.lua} on the classpath) with {@code
   * keys} and {@code args}.
   */
  <T> T script(String name, ScriptOutputType type, List<String> keys, List<String> args) {
    String source = sources.computeIfAbsent(name, Valkey::load);
    String[] k = keys.toArray(String[]::new);
    String[] a = args.toArray(String[]::new);
    return call(
        name,
        () -> {
          String digest = digests.computeIfAbsent(name, n -> commands.scriptLoad(source));
          try {
            return commands.evalsha(digest, type, k, a);
          } catch (RedisNoScriptException flushed) {
            String reloaded = commands.scriptLoad(source);
            digests.put(name, reloaded);
            return commands.evalsha(reloaded, type, k, a);
          }
        });
  }

  /**
   * The source of a script; a first line {@code -- include <lib>} prepends {@code <lib>.lua}, so
   * scripts can share Lua functions (EVALSHA has no includes).
   */
  private static String load(String name) {
    String source = read(name);
    String include = "-- include ";
    if (source.startsWith(include)) {
      String lib = source.substring(include.length(), source.indexOf('\n')).trim();
      return read(lib) + "\n" + source;
    }
    return source;
  }

  private static String read(String name) {
    String resource = "/valkey/" + name + ".lua";
    try (InputStream in = Valkey.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing script " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + resource + " failed", e);
    }
  }

  /** Error text from the server or Lettuce, without anything that looks like a credential. */
  static String clean(String message) {
    if (message == null) {
      return "no detail";
    }
    return message.replaceAll("(?i)(rediss?://)[^@\\s]*@", "$1***@").replaceAll("\\s+", " ");
  }
}
