package dev.durabledeploy.core.sidecar;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * The sidecar the tests launch with the current JVM. Modes: {@code serve <id> <caps>} connects back
 * and heartbeats; {@code spawner <id> <caps>} first starts a grandchild process, to test that stop
 * kills the tree; {@code crash} exits at once with code 3. Its sleeps are the simulated process's
 * own pacing (idling, heartbeat interval), not synchronisation of any test.
 */
public final class TestSidecar {

  private TestSidecar() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("crash")) {
      System.exit(3);
    }
    if (args[0].equals("spawner")) {
      String java = ProcessHandle.current().info().command().orElse("java");
      new ProcessBuilder(
              java,
              "-cp",
              System.getProperty("java.class.path"),
              TestSidecar.class.getName(),
              "sleep")
          .inheritIO()
          .start();
    }
    if (args[0].equals("sleep")) {
      Thread.sleep(300_000);
      return;
    }
    String[] endpoint = System.getenv("DURABLE_SIDECAR_ENDPOINT").split(":");
    try (Socket socket = new Socket(endpoint[0], Integer.parseInt(endpoint[1]))) {
      OutputStream out = socket.getOutputStream();
      out.write(
          ("HELLO " + System.getenv("DURABLE_SIDECAR_TOKEN") + " " + args[1] + " " + args[2] + "\n")
              .getBytes(StandardCharsets.UTF_8));
      out.flush();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      if (!"OK".equals(in.readLine())) {
        System.exit(4);
      }
      while (true) {
        out.write("PING\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        Thread.sleep(100);
      }
    }
  }
}
