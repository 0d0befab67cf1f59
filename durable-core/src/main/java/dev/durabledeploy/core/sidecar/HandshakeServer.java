package dev.durabledeploy.core.sidecar;

import dev.durabledeploy.spi.support.Threads;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The loopback endpoint a sidecar connects back to: one line {@code HELLO <token> <id>
 * <capability,...>} answered {@code OK} or {@code DENIED}, then any line as a heartbeat at least
 * every health timeout. Whether a token is good, and what a connection means, is the supervisor's
 * ({@link Sessions}); this class owns the sockets and their threads.
 */
final class HandshakeServer {

  private static final Logger LOG = LoggerFactory.getLogger(SidecarSupervisor.class);

  /** The supervisor's side of a connection. */
  interface Sessions {
    /**
     * Whether {@code token} is the one-time token of the current process; if so, the sidecar is
     * connected (and {@link #current} is {@code socket}) when this returns. Null when refused, else
     * the process the connection belongs to (itself null when that process already exited).
     */
    Accepted hello(String token, String id, List<String> capabilities, Socket socket);

    /** The sidecar was told {@code OK}. */
    void connected(String id);

    /** The connection of sidecar {@code id}, accepted for {@code process}, ended. */
    void ended(Socket socket, String id, Process process);
  }

  /** A connection the supervisor accepted for {@code process}. */
  record Accepted(Process process) {}

  private final String name;
  private final Duration healthTimeout;
  private final Sessions sessions;
  private final AtomicReference<Socket> connection = new AtomicReference<>();
  private volatile ServerSocket server;

  HandshakeServer(String name, Duration healthTimeout, Sessions sessions) {
    this.name = name;
    this.healthTimeout = healthTimeout;
    this.sessions = sessions;
  }

  /** Opens a new loopback endpoint on a free port and starts accepting on it. */
  void open() throws IOException {
    server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
    Threads.startDaemon("durable-sidecar-accept-" + name, this::acceptConnections);
  }

  /** The endpoint's port; only while open. */
  int port() {
    return server.getLocalPort();
  }

  Optional<InetSocketAddress> address() {
    ServerSocket listening = server;
    return listening == null
        ? Optional.empty()
        : Optional.of(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), listening.getLocalPort()));
  }

  /** Stops taking connections: returns the endpoint for {@link #close(ServerSocket)}. */
  ServerSocket detach() {
    ServerSocket listening = server;
    server = null;
    return listening;
  }

  static void close(ServerSocket listening) {
    if (listening != null) {
      try {
        listening.close();
      } catch (IOException ignored) {
        // Already closed.
      }
    }
  }

  /** Records {@code socket} as the connection of the current sidecar. */
  void connectedOn(Socket socket) {
    connection.set(socket);
  }

  /** Whether {@code socket} was the current connection; it no longer is. */
  boolean endIfCurrent(Socket socket) {
    return connection.compareAndSet(socket, null);
  }

  /** Closes the current connection, if any; its handler then reports the end. */
  void dropConnection() {
    Socket current = connection.get();
    if (current != null) {
      try {
        current.close();
      } catch (IOException ignored) {
        // Closing a dead socket.
      }
    }
  }

  private void acceptConnections() {
    while (true) {
      ServerSocket listening = server;
      if (listening == null || listening.isClosed()) {
        return;
      }
      try {
        Socket socket = listening.accept();
        Threads.startDaemon("durable-sidecar-conn-" + name, () -> handle(socket));
      } catch (IOException closed) {
        return;
      }
    }
  }

  /** One connection: the handshake, then heartbeats until silence or EOF. */
  private void handle(Socket socket) {
    String id = null;
    Process mine = null;
    try (socket) {
      socket.setSoTimeout((int) healthTimeout.toMillis());
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      OutputStream out = socket.getOutputStream();
      String hello = in.readLine();
      String[] parts = hello == null ? new String[0] : hello.split(" ", 4);
      Accepted accepted =
          parts.length >= 3 && parts[0].equals("HELLO")
              ? sessions.hello(parts[1], parts[2], capabilities(parts), socket)
              : null;
      if (accepted == null) {
        LOG.warn(
            "sidecar {}: refused a connection from {} with a wrong or reused token",
            name,
            socket.getRemoteSocketAddress());
        out.write("DENIED\n".getBytes(StandardCharsets.UTF_8));
        return;
      }
      mine = accepted.process();
      id = parts[2];
      out.write("OK\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      sessions.connected(id);
      while (in.readLine() != null) {
        // Any line is a heartbeat.
      }
    } catch (SocketTimeoutException silent) {
      LOG.warn("sidecar {} stopped answering for {}", name, healthTimeout);
    } catch (IOException dropped) {
      // The connection dropped; handled below.
    } finally {
      if (id != null) {
        sessions.ended(socket, id, mine);
      }
    }
  }

  private static List<String> capabilities(String[] parts) {
    return parts.length == 4 && !parts[3].isBlank()
        ? List.copyOf(Arrays.asList(parts[3].split(",")))
        : List.of();
  }
}
