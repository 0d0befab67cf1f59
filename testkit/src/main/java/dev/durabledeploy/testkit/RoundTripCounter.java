package dev.durabledeploy.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy in front of a server (PostgreSQL, Valkey) that counts round trips: a round trip is a
 * turn of the conversation, client bytes that follow server bytes (or open the connection), however
 * many reads and statements they span. Pipelined statements sent before the client waits count
 * once, which is what a driver-level count of statements cannot tell. Point the client at {@link
 * #port()} on the loopback address; read {@link #roundTrips()} before and after the call measured,
 * with nothing else talking through the proxy meanwhile.
 */
public final class RoundTripCounter implements AutoCloseable {

  private final ServerSocket listening;
  private final String upstreamHost;
  private final int upstreamPort;
  private final AtomicLong roundTrips = new AtomicLong();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  /** Starts forwarding connections made to {@link #port()} to {@code host:port}. */
  public RoundTripCounter(String host, int port) {
    this.upstreamHost = host;
    this.upstreamPort = port;
    try {
      listening = new ServerSocket();
      listening.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    } catch (IOException e) {
      throw new UncheckedIOException("the round-trip counter could not listen", e);
    }
    Thread accept = new Thread(this::accept, "round-trip-counter-accept");
    accept.setDaemon(true);
    accept.start();
  }

  /** The local port clients connect to. */
  public int port() {
    return listening.getLocalPort();
  }

  /** Round trips of every connection through the proxy so far. */
  public long roundTrips() {
    return roundTrips.get();
  }

  private void accept() {
    while (!listening.isClosed()) {
      try {
        Socket client = listening.accept();
        Socket server = new Socket(upstreamHost, upstreamPort);
        client.setTcpNoDelay(true);
        server.setTcpNoDelay(true);
        sockets.add(client);
        sockets.add(server);
        // true while the last bytes seen went from the server to the client (or none yet)
        boolean[] serverSpokeLast = {true};
        pump(
            client,
            server,
            () -> {
              synchronized (serverSpokeLast) {
                if (serverSpokeLast[0]) {
                  roundTrips.incrementAndGet();
                  serverSpokeLast[0] = false;
                }
              }
            });
        pump(
            server,
            client,
            () -> {
              synchronized (serverSpokeLast) {
                serverSpokeLast[0] = true;
              }
            });
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private static void pump(Socket from, Socket to, Runnable onBytes) {
    Thread t =
        new Thread(
            () -> {
              byte[] buffer = new byte[64 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                  // Counted before forwarding, so the answer can never be seen first.
                  onBytes.run();
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // a side closed: close both below
              } finally {
                closeQuietly(from);
                closeQuietly(to);
              }
            },
            "round-trip-counter-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  @Override
  public void close() {
    closeQuietly(listening);
    sockets.forEach(RoundTripCounter::closeQuietly);
  }

  private static void closeQuietly(ServerSocket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
