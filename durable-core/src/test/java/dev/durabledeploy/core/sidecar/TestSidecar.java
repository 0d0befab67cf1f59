package dev.durabledeploy.core.sidecar;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

/**
 * The sidecar the tests launch with the current JVM. Modes: {@code serve <id> <caps>} connects back
 * and heartbeats; {@code spawner <id> <caps>} first starts a grandchild process, to test that stop
 * kills the tree; {@code crash} exits at once with code 3; {@code env <file> [<id> <caps>]} writes
 * the names of its environment variables to {@code file}, then serves (or exits 0 without id);
 * {@code leak} prints secrets and fails; {@code tree <pidfile>} starts a grandchild, writes both
 * pids and sleeps; {@code mute-once <file> <id> <caps>} connects, then (the first time only, marked
 * by {@code file}) falls silent while staying alive. Its sleeps are the simulated process's own
 * pacing (idling, heartbeat interval), not synchronisation of any test.
 */
public final class TestSidecar {

  private TestSidecar() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("crash")) {
      System.exit(3);
    }
    if (args[0].equals("leak")) {
      System.out.println("connecting with password=hunter2-in-output");
      System.out.println("Authorization: Bearer tok3n-in-0utput-123");
      System.out.println("DURABLE_DEPLOY_S3_SECRET_KEY=s3-key-in-output");
      System.exit(1);
    }
    if (args[0].equals("env")) {
      Files.write(Path.of(args[1]), new TreeSet<>(System.getenv().keySet()));
      if (args.length < 3) {
        return;
      }
      args = new String[] {"serve", args[2], args[3]};
    }
    if (args[0].equals("tree")) {
      String java = ProcessHandle.current().info().command().orElse("java");
      Process child =
          new ProcessBuilder(
                  java,
                  "-cp",
                  System.getProperty("java.class.path"),
                  TestSidecar.class.getName(),
                  "sleep")
              .start();
      Files.writeString(Path.of(args[1]), ProcessHandle.current().pid() + " " + child.pid());
      Thread.sleep(300_000);
      return;
    }
    boolean mute = false;
    if (args[0].equals("mute-once")) {
      Path marker = Path.of(args[1]);
      mute = !Files.exists(marker);
      if (mute) {
        Files.createFile(marker);
      }
      args = new String[] {"serve", args[2], args[3]};
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
      if (mute) {
        Thread.sleep(300_000); // alive, connected, silent: a hung sidecar
      }
      while (true) {
        out.write("PING\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        Thread.sleep(100);
      }
    }
  }
}
