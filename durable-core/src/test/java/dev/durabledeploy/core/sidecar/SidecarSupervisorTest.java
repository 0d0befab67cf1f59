package dev.durabledeploy.core.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.events.AsyncEventBus;
import dev.durabledeploy.spi.events.SidecarEvent;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.testkit.RecordingEventBus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("SidecarSupervisor with real OS processes")
class SidecarSupervisorTest {

  private static final String JAVA = ProcessHandle.current().info().command().orElse("java");
  private static final String CP = System.getProperty("java.class.path");
  private static final RetryPolicy FAST_RESTARTS =
      RetryPolicy.defaults()
          .withMaxAttempts(3)
          .withBackoff(Duration.ofMillis(10), Duration.ofMillis(50), 2);

  @TempDir Path dir;
  private final RecordingEventBus events = new RecordingEventBus();
  private final List<SidecarSupervisor> started = new ArrayList<>();

  @AfterEach
  void stopAll() {
    started.forEach(SidecarSupervisor::stop);
  }

  private static List<String> sidecar(String... args) {
    List<String> command = new ArrayList<>(List.of(JAVA, "-cp", CP, TestSidecar.class.getName()));
    command.addAll(List.of(args));
    return command;
  }

  private SidecarSupervisor.Builder supervisor() {
    return SidecarSupervisor.builder("indexer")
        .directory(dir)
        .events(events)
        .restartPolicy(FAST_RESTARTS)
        .healthTimeout(Duration.ofSeconds(5))
        .stopGrace(Duration.ofSeconds(2));
  }

  private SidecarSupervisor start(SidecarSupervisor s) {
    started.add(s);
    s.start();
    return s;
  }

  private List<String> kinds() {
    return events.events(SidecarEvent.class).stream()
        .map(e -> e.getClass().getSimpleName())
        .toList();
  }

  @Test
  @DisplayName("without a command or with a missing directory it stays IDLE and runs nothing")
  void idle() {
    assertThat(SidecarSupervisor.builder("indexer").build().start()).isEqualTo(SidecarStatus.IDLE);
    assertThat(
            supervisor()
                .directory(dir.resolve("missing"))
                .command(sidecar("serve", "n", "x"))
                .build()
                .start())
        .isEqualTo(SidecarStatus.IDLE);
    assertThat(events.events()).isEmpty();
  }

  @Test
  @DisplayName(
      "builds, spawns and connects back with its capabilities: Building, Starting, Connected")
  void connects() {
    SidecarSupervisor s =
        start(
            supervisor()
                .buildSteps(List.of(List.of(JAVA, "-version")))
                .command(sidecar("serve", "node-1", "search,index"))
                .build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
    assertThat(s.capabilities()).containsExactly("search", "index");
    assertThat(s.node()).contains("node-1");
    assertThat(kinds()).containsExactly("Building", "Starting", "Connected");
    assertThat(events.latest("sidecar:indexer")).get().isInstanceOf(SidecarEvent.Connected.class);
  }

  @Test
  @DisplayName("a failing build step ends FAILED with the command and the tail of its output")
  void buildFails() {
    SidecarSupervisor s =
        start(
            supervisor()
                .buildSteps(List.of(List.of(JAVA, "-cp", dir.toString(), "NoSuchMainClass")))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(s.status()).isEqualTo(SidecarStatus.FAILED);
    assertThat(kinds()).containsExactly("Building", "Error");
    SidecarEvent.Error error = events.events(SidecarEvent.Error.class).get(0);
    assertThat(error.step()).isEqualTo(SidecarEvent.Step.BUILD);
    assertThat(error.reason())
        .startsWith("build step 1 (java) exited with 1")
        .contains("Could not find or load main class")
        .doesNotContain("-cp");
  }

  @Test
  @DisplayName("a missing executable is named with how to fix it, not a raw IOException")
  void missingExecutable() {
    SidecarSupervisor s =
        start(
            supervisor()
                .buildSteps(List.of(List.of("definitely-not-installed-xyz", "package")))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(s.status()).isEqualTo(SidecarStatus.FAILED);
    assertThat(events.events(SidecarEvent.Error.class).get(0).reason())
        .contains("'definitely-not-installed-xyz' was not found")
        .contains("install it");
  }

  @Test
  @DisplayName("a connection with a wrong token is refused and logged without the token")
  void wrongToken() throws Exception {
    SidecarSupervisor s = start(supervisor().command(sidecar("serve", "node-1", "search")).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
    InetSocketAddress endpoint = s.callbackAddress().orElseThrow();
    PrintStream original = System.err;
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
    String answer;
    try (Socket socket = new Socket(endpoint.getAddress(), endpoint.getPort())) {
      socket
          .getOutputStream()
          .write("HELLO guessed-token-123 mallory evil\n".getBytes(StandardCharsets.UTF_8));
      answer =
          new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
    } finally {
      System.setErr(original);
    }
    assertThat(answer).isEqualTo("DENIED");
    assertThat(s.node()).contains("node-1");
    assertThat(s.capabilities()).containsExactly("search");
    assertThat(log.toString(StandardCharsets.UTF_8))
        .contains("refused")
        .doesNotContain("guessed-token-123");
  }

  @Test
  @DisplayName(
      "a killed sidecar is seen Disconnected and Exited, loses its capabilities, restarts and reconnects")
  void restartsAfterKill() {
    SidecarSupervisor s = start(supervisor().command(sidecar("serve", "node-1", "search")).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
    ProcessHandle child =
        ProcessHandle.current().children().filter(ProcessHandle::isAlive).findFirst().orElseThrow();
    child.destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> events.events(SidecarEvent.Exited.class).size() == 1);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> events.events(SidecarEvent.Connected.class).size() == 2);
    assertThat(kinds()).containsSubsequence("Connected", "Disconnected", "Starting", "Connected");
    assertThat(kinds()).contains("Exited");
    assertThat(s.status()).isEqualTo(SidecarStatus.CONNECTED);
    assertThat(s.capabilities()).containsExactly("search");
  }

  @Test
  @DisplayName("a sidecar that crashes on every start is FAILED after three attempts")
  void crashLoop() {
    SidecarSupervisor s = start(supervisor().command(sidecar("crash")).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.FAILED);
    assertThat(events.events(SidecarEvent.Exited.class))
        .hasSize(3)
        .allMatch(e -> e.exitCode() == 3);
    assertThat(kinds()).endsWith("Exited", "Error");
    assertThat(events.events(SidecarEvent.Error.class).get(0).step())
        .isEqualTo(SidecarEvent.Step.RUN);
  }

  @Test
  @DisplayName("stop leaves no child process behind, grandchildren included")
  void stopKillsTree() {
    SidecarSupervisor s = start(supervisor().command(sidecar("spawner", "node-1", "x")).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).count() >= 2);
    s.stop();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> ProcessHandle.current().descendants().noneMatch(ProcessHandle::isAlive));
    assertThat(s.status()).isEqualTo(SidecarStatus.IDLE);
    assertThat(s.capabilities()).isEmpty();
  }

  @Test
  @DisplayName("a blocked subscriber does not delay the supervisor")
  void slowSubscriber() {
    AsyncEventBus bus = new AsyncEventBus(new SimpleMeterRegistry());
    CountDownLatch never = new CountDownLatch(1);
    bus.subscribe(
        e -> true,
        e -> {
          try {
            never.await();
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
          }
        });
    try {
      SidecarSupervisor s =
          start(supervisor().events(bus).command(sidecar("serve", "node-1", "x")).build());
      await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
      assertThat(bus.latest("sidecar:indexer")).get().isInstanceOf(SidecarEvent.Connected.class);
    } finally {
      never.countDown();
      bus.close();
    }
  }

  @Test
  @DisplayName("build steps and the sidecar see an allow-listed environment, never host secrets")
  void allowListedEnvironment() throws Exception {
    assertThat(System.getenv("DURABLE_DEPLOY_TEST_HOST_SECRET")).isNotNull();
    Path stepEnv = dir.resolve("step-env.txt");
    Path sidecarEnv = dir.resolve("sidecar-env.txt");
    SidecarSupervisor s =
        start(
            supervisor()
                .buildSteps(List.of(sidecar("env", stepEnv.toString())))
                .command(sidecar("env", sidecarEnv.toString(), "node-1", "x"))
                .build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
    for (Path env : List.of(stepEnv, sidecarEnv)) {
      assertThat(Files.readAllLines(env))
          .contains("PATH")
          .doesNotContain("DURABLE_DEPLOY_TEST_HOST_SECRET");
    }
    assertThat(Files.readAllLines(sidecarEnv))
        .contains(SidecarSupervisor.ENDPOINT_VARIABLE, SidecarSupervisor.TOKEN_VARIABLE);
  }

  @Test
  @DisplayName(
      "the output tail of a failed build step is redacted before it is logged or published")
  void redactedTail() {
    PrintStream original = System.err;
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
    SidecarSupervisor s;
    try {
      s =
          start(
              supervisor().buildSteps(List.of(sidecar("leak"))).command(sidecar("crash")).build());
    } finally {
      System.setErr(original);
    }
    assertThat(s.status()).isEqualTo(SidecarStatus.FAILED);
    String reason = events.events(SidecarEvent.Error.class).get(0).reason();
    for (String text : List.of(reason, log.toString(StandardCharsets.UTF_8))) {
      assertThat(text)
          .doesNotContain("hunter2-in-output")
          .doesNotContain("tok3n-in-0utput-123")
          .doesNotContain("s3-key-in-output");
    }
    assertThat(reason).contains("password=***").contains("exited with 1");
  }

  @Test
  @DisplayName("a sidecar that misses its health deadline is restarted with a fresh token")
  void healthDeadlineRestarts() {
    SidecarSupervisor s =
        start(
            supervisor()
                .healthTimeout(Duration.ofMillis(500))
                .command(sidecar("mute-once", dir.resolve("muted").toString(), "node-1", "x"))
                .build());
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> events.events(SidecarEvent.Connected.class).size() == 2);
    assertThat(kinds())
        .containsSubsequence("Connected", "Disconnected", "Exited", "Starting", "Connected");
    assertThat(s.status()).isEqualTo(SidecarStatus.CONNECTED);
  }

  private static List<ProcessHandle> pids(Path pidFile) throws Exception {
    return java.util.Arrays.stream(Files.readString(pidFile).trim().split(" "))
        .map(p -> ProcessHandle.of(Long.parseLong(p)))
        .flatMap(java.util.Optional::stream)
        .toList();
  }

  @Test
  @DisplayName("stop during a build step stops the step and the processes it started")
  void stopDuringBuild() throws Exception {
    Path pidFile = dir.resolve("step.pids");
    SidecarSupervisor s =
        supervisor()
            .buildSteps(List.of(sidecar("tree", pidFile.toString())))
            .command(sidecar("serve", "n", "x"))
            .build();
    started.add(s);
    java.util.concurrent.CompletableFuture<SidecarStatus> starting =
        java.util.concurrent.CompletableFuture.supplyAsync(s::start);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> Files.exists(pidFile) && Files.readString(pidFile).contains(" "));
    List<ProcessHandle> tree = pids(pidFile);
    assertThat(tree).hasSize(2).allMatch(ProcessHandle::isAlive);
    s.stop();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> tree.stream().noneMatch(ProcessHandle::isAlive));
    assertThat(starting.get(30, java.util.concurrent.TimeUnit.SECONDS))
        .isNotEqualTo(SidecarStatus.CONNECTED);
    assertThat(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)).isEmpty();
  }

  @Test
  @DisplayName("a build step that outlives its timeout is stopped with its children and named")
  void buildStepTimeout() throws Exception {
    Path pidFile = dir.resolve("slow.pids");
    SidecarSupervisor s =
        start(
            supervisor()
                .buildStepTimeout(Duration.ofSeconds(3))
                .buildSteps(List.of(sidecar("tree", pidFile.toString())))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(s.status()).isEqualTo(SidecarStatus.FAILED);
    assertThat(events.events(SidecarEvent.Error.class).get(0).reason())
        .contains("did not finish within PT3S");
    List<ProcessHandle> tree = pids(pidFile);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> tree.stream().noneMatch(ProcessHandle::isAlive));
  }

  @Test
  @DisplayName("variables the host names, and values it sets, reach the children")
  void namedEnvironment() throws Exception {
    Path env = dir.resolve("named-env.txt");
    SidecarSupervisor s =
        start(
            supervisor()
                .inheritEnvironment(java.util.Set.of("DURABLE_DEPLOY_TEST_HOST_SECRET"))
                .environment(java.util.Map.of("INDEXER_MODE", "fast"))
                .buildSteps(List.of(sidecar("env", env.toString())))
                .command(sidecar("serve", "n", "x"))
                .build());
    await().atMost(Duration.ofSeconds(30)).until(() -> s.status() == SidecarStatus.CONNECTED);
    assertThat(Files.readAllLines(env))
        .contains("DURABLE_DEPLOY_TEST_HOST_SECRET", "INDEXER_MODE", "PATH");
  }

  /** Starts with System.err captured; returns {Error reason, captured log}. */
  private String[] failCapturing(SidecarSupervisor s) {
    started.add(s);
    PrintStream original = System.err;
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
    try {
      s.start();
    } finally {
      System.setErr(original);
    }
    assertThat(s.status()).isEqualTo(SidecarStatus.FAILED);
    String reason = events.events(SidecarEvent.Error.class).get(0).reason();
    return new String[] {reason, log.toString(StandardCharsets.UTF_8)};
  }

  @Test
  @DisplayName("a private key printed by a failing build step is not logged or published")
  void privateKeyInOutput() {
    String script =
        "echo 'loading deploy key'; "
            + "echo '-----BEGIN OPENSSH PRIVATE KEY-----'; "
            + "echo 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQHostileBody1'; "
            + "echo 'QyNTUxOQAAACBHostileBody2xKq0AAAAAAAAAAAAAAAAAAAAAAAAAAA'; "
            + "echo '-----END OPENSSH PRIVATE KEY-----'; "
            + "exit 1";
    String[] out =
        failCapturing(
            supervisor()
                .buildSteps(List.of(List.of("sh", "-c", script)))
                .command(sidecar("serve", "n", "x"))
                .build());
    for (String text : out) {
      assertThat(text)
          .doesNotContain("HostileBody1")
          .doesNotContain("HostileBody2")
          .contains("loading deploy key")
          .contains("-----BEGIN OPENSSH PRIVATE KEY-----***");
    }
  }

  @Test
  @DisplayName("a failing build step is named by its number and program, never its arguments")
  void secretInArguments() {
    String[] out =
        failCapturing(
            supervisor()
                .buildSteps(
                    List.of(
                        List.of("sh", "-c", "exit 0"),
                        List.of(
                            "sh",
                            "-c",
                            "exit 3",
                            "docker",
                            "login",
                            "-u",
                            "ci",
                            "-p",
                            "DockerPw-ArgvSecret-1",
                            "registry.example")))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(out[0]).startsWith("build step 2 (sh) exited with 3");
    for (String text : out) {
      assertThat(text).doesNotContain("DockerPw-ArgvSecret-1").doesNotContain("docker login");
    }
  }

  @Test
  @DisplayName("a missing sidecar program is named without the command's arguments")
  void missingSidecarProgram() {
    SidecarSupervisor s =
        start(
            supervisor()
                .command(List.of("definitely-not-installed-xyz", "--token", "Argv-Secret-2"))
                .build());
    assertThat(s.status()).isEqualTo(SidecarStatus.FAILED);
    assertThat(events.events(SidecarEvent.Error.class).get(0).reason())
        .contains("'definitely-not-installed-xyz' was not found")
        .contains("the sidecar command (definitely-not-installed-xyz)")
        .doesNotContain("Argv-Secret-2");
  }

  @Test
  @DisplayName("one endless output line is read bounded and kept cut, with a marker")
  void hugeLineIsBounded() {
    String[] out =
        failCapturing(
            supervisor()
                .buildSteps(
                    List.of(
                        List.of("sh", "-c", "head -c 8388608 /dev/zero | tr '\\000' a; exit 1")))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(out[0].length()).as("Error event reason length").isLessThan(2_000);
    assertThat(out[0]).contains("a".repeat(1_000) + " [line cut: it had 8388608 characters]");
    assertThat(out[1].length()).as("captured log length").isLessThan(4_000);
  }

  @Test
  @DisplayName(
      "a long quoted secret cut at the line bound is masked, not shown up to the cut (review)")
  void longQuotedSecretCutAtTheLineBound() {
    // Broke before: the line is scrubbed with 200 characters beyond its cut; a quoted value that
    // runs past them has no closing quote there, so NAMED_VALUE did not match and the token was
    // shown from its start to the cut (about 100 characters of it here).
    StringBuilder token = new StringBuilder("ya29.");
    java.util.Random random = new java.util.Random(12);
    for (int i = 0; i < 400; i++) {
      token.append((char) ('a' + random.nextInt(26)));
    }
    String line =
        "{\"pad\":\""
            + "x".repeat(870)
            + "\",\"access_token\":\""
            + token
            + "\",\"expires_in\":3599}";
    String[] out =
        failCapturing(
            supervisor()
                .buildSteps(List.of(List.of("sh", "-c", "printf '%s\\n' \"$0\"; exit 1", line)))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(out[0]).contains("access_token").contains("[line cut");
    assertThat(out[0]).doesNotContain(token.substring(5, 25));
    assertThat(out[1]).doesNotContain(token.substring(5, 25));
  }

  @Test
  @DisplayName("the tail is bounded in lines and characters, the oldest lines dropped first")
  void tailIsBoundedInTotal() {
    String[] out =
        failCapturing(
            supervisor()
                .buildSteps(
                    List.of(
                        List.of(
                            "sh",
                            "-c",
                            "i=0; while [ $i -lt 100 ]; do printf 'line-%03d-%0900d\\n' $i 0;"
                                + " i=$((i+1)); done; echo last; exit 1")))
                .command(sidecar("serve", "n", "x"))
                .build());
    assertThat(out[0].length()).isLessThan(8_200);
    assertThat(out[0]).contains("earlier lines cut").contains("line-099-").endsWith("last");
    assertThat(out[0]).doesNotContain("line-080-");
  }

  @Test
  @DisplayName("a secret that straddles a line's cut is masked whole, not half shown")
  void secretAcrossTheCut() {
    String[] out =
        failCapturing(
            supervisor()
                .buildSteps(
                    List.of(
                        List.of(
                            "sh",
                            "-c",
                            "printf '%0980d https://deployer:TokStraddle-123456@git.example/r\\n' 0;"
                                + " exit 1")))
                .command(sidecar("serve", "n", "x"))
                .build());
    for (String text : out) {
      assertThat(text).doesNotContain("TokStradd");
    }
    assertThat(out[0]).contains("https://***@").contains("[line cut: it had");
  }

  @Test
  @DisplayName("stop ends a daemon the sidecar started (double fork), where setsid is available")
  void detachedGrandchildStopped() throws Exception {
    Assumptions.assumeTrue(
        ProcessGroups.detect().available(), "setsid and kill are not on this host's PATH");
    Path pidFile = dir.resolve("daemon.pid");
    SidecarSupervisor s =
        start(
            supervisor()
                .command(
                    List.of(
                        "sh",
                        "-c",
                        "sh -c 'sleep 600 >/dev/null 2>&1 & echo $! > " + pidFile + "'; sleep 600"))
                .build());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> Files.exists(pidFile) && !Files.readString(pidFile).isBlank());
    ProcessHandle daemon =
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();
    try {
      assertThat(daemon.isAlive()).isTrue();
      assertThat(ProcessHandle.current().descendants()).doesNotContain(daemon);
      s.stop();
      await().atMost(Duration.ofSeconds(20)).until(() -> !daemon.isAlive());
      assertThat(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)).isEmpty();
    } finally {
      daemon.destroyForcibly(); // only the process this test started, by its id
    }
  }
}
