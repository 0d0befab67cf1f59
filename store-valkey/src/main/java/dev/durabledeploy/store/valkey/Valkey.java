package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.TransientStoreException;
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
 * e.g. after {@code SCRIPT FLUSH} or a restart), and the translation of every failure into {@link
 * TransientStoreException} with a message that names the operation and the server's host and port,
 * never its password.
 */
final class Valkey {

  private final RedisCommands<String, String> commands;
  private final String server;
  private final Map<String, String> digests = new ConcurrentHashMap<>();
  private final Map<String, String> sources = new ConcurrentHashMap<>();

  Valkey(RedisCommands<String, String> commands, RedisURI uri) {
    this.commands = commands;
    this.server = uri.getHost() + ":" + uri.getPort();
  }

  RedisCommands<String, String> commands() {
    return commands;
  }

  /** Runs {@code body}, translating failures (see class comment). */
  <T> T call(String what, Supplier<T> body) {
    try {
      return body.get();
    } catch (RedisCommandExecutionException e) {
      if (!isTransientReply(e.getMessage())) {
        // The server refused the command itself: a bug in this adapter, not an outage.
        throw new IllegalStateException(
            what + " on Valkey/Redis " + server + " was refused: " + clean(e.getMessage()));
      }
      throw transientFailure(what, e);
    } catch (RedisException e) {
      throw transientFailure(what, e);
    }
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
