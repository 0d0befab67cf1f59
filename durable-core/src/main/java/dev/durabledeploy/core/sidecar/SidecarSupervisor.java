package dev.durabledeploy.core.sidecar;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.SidecarEvent;
import dev.durabledeploy.spi.events.SidecarEvent.Step;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.spi.support.Threads;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Supervises an optional helper process (an out-of-process indexer, a build worker) so the rest of
 * the host, and its UI, can watch it.
 *
 * <p>{@link #start()} runs the build steps synchronously — a failing step ends in {@link
 * SidecarStatus#FAILED} with an {@code Error(BUILD)} event naming the step by its number and
 * program ({@code build step 2 (sh)}; never its arguments, which may hold a password) with the tail
 * of its output — then spawns the process with two environment variables: {@value
 * #ENDPOINT_VARIABLE} ({@code 127.0.0.1:<port>}) and {@value #TOKEN_VARIABLE}, a one-time token.
 * The sidecar connects to the endpoint and sends one line, {@code HELLO <token> <id>
 * <capability,...>}; the supervisor answers {@code OK} (status {@link SidecarStatus#CONNECTED}) or
 * {@code DENIED} (a wrong token is logged, never the token). It then sends a line at least every
 * health timeout ({@code PING}); silence, a dropped connection or the process's exit clears its
 * capabilities. An unexpected exit is restarted after the retry policy's backoff; after {@code
 * maxAttempts} failures in a row without a connection it is {@link SidecarStatus#FAILED}. {@link
 * #stop()} terminates the whole process tree (polite first, forcibly after a grace period), as does
 * a JVM shutdown hook.
 *
 * <p><b>Process trees.</b> Where {@code setsid} and {@code kill} are on the host's {@code PATH}
 * (Linux), every child starts as the leader of a process group of its own and stopping it signals
 * the whole group, so a process the child started and detached (a daemon, {@code cmd &} in a
 * subshell that exits) is stopped too although it is no longer the child's descendant. Without them
 * (macOS, Windows) children stay in the host's group and a stop reaches only the processes still
 * descended from the child: a detached one keeps running. A process that leaves its group on
 * purpose ({@code setsid}, {@code daemon(3)}) escapes either way; only the host's service manager
 * (systemd's {@code KillMode=control-group}, a container) stops those.
 *
 * <p>Children get an allow-listed environment, never the host's whole one (which holds its database
 * password, S3 keys, {@code AWS_*}): {@link #DEFAULT_ENVIRONMENT}, the variables the host names
 * with {@link Builder#inheritEnvironment}, and the values it sets with {@link Builder#environment}.
 * A build step that runs longer than {@link Builder#buildStepTimeout} is stopped with every process
 * it started; the output tail of a failed step is bounded ({@value OutputTail#MAX_LINES} lines of
 * at most {@value OutputTail#MAX_LINE_CHARS} characters, {@value OutputTail#MAX_CHARS} in all, a
 * cut line marked as such) and redacted as one text, so a private key printed over several lines is
 * masked too, before it is logged or published. A connected sidecar that misses its health deadline
 * (silence longer than the health timeout) or drops its connection while alive cannot connect again
 * (its token was one-time), so it is stopped and restarted with a fresh token, like one that
 * exited.
 *
 * <p>With no command configured, or a directory that does not exist, the supervisor stays {@link
 * SidecarStatus#IDLE} and runs nothing. Events go to the bus under topic {@code sidecar}; a late
 * subscriber asks {@code events.latest("sidecar:<name>")}.
 *
 * <p><b>Parts.</b> This class holds the status and its lock, and decides (start, spawn, restart,
 * stop); package-private collaborators do the rest: {@code BuildSteps} runs a step, {@code
 * ChildProcesses} makes and stops children and names them in messages, {@code HandshakeServer} owns
 * the loopback endpoint and its connections and asks this class about each one.
 */
public final class SidecarSupervisor implements AutoCloseable {

  public static final String ENDPOINT_VARIABLE = "DURABLE_SIDECAR_ENDPOINT";
  public static final String TOKEN_VARIABLE = "DURABLE_SIDECAR_TOKEN";
  public static final Duration DEFAULT_HEALTH_TIMEOUT = Duration.ofSeconds(10);
  public static final Duration DEFAULT_STOP_GRACE = Duration.ofSeconds(5);

  /** The longest one build step may run before it is stopped and the start fails. */
  public static final Duration DEFAULT_BUILD_STEP_TIMEOUT = Duration.ofMinutes(30);

  /**
   * The host variables every child gets (when the host has them): what tools need to find
   * themselves, a home, a locale, a time zone and a temp directory, on Unix and Windows.
   */
  public static final Set<String> DEFAULT_ENVIRONMENT =
      Set.of(
          "PATH",
          "HOME",
          "USER",
          "LANG",
          "LC_ALL",
          "LC_CTYPE",
          "TZ",
          "TMPDIR",
          "TEMP",
          "TMP",
          "SYSTEMROOT",
          "COMSPEC",
          "PATHEXT");

  private static final Logger LOG = LoggerFactory.getLogger(SidecarSupervisor.class);

  private final String name;
  private final Path directory;
  private final List<List<String>> buildSteps;
  private final List<String> command;
  private final EventBus events;
  private final RetryPolicy restartPolicy;
  private final Duration healthTimeout;
  private final Clock clock;
  private final SecureRandom tokens = new SecureRandom();
  private final SplittableRandom jitter = new SplittableRandom();
  private final Thread shutdownHook;
  private final ChildProcesses children;
  private final BuildSteps builds;
  private final HandshakeServer handshake;

  // Guarded by this.
  private SidecarStatus status = SidecarStatus.IDLE;
  private Process process;
  private Process buildStep;
  private String token;
  private String node;
  private List<String> capabilities = List.of();
  private int failuresInARow;
  private boolean stopping;

  private SidecarSupervisor(Builder b) {
    this.name = b.name;
    this.directory = b.directory;
    this.buildSteps = b.buildSteps;
    this.command = b.command;
    this.events = b.events;
    this.restartPolicy = b.restartPolicy;
    this.healthTimeout = b.healthTimeout;
    Set<String> names = new HashSet<>(DEFAULT_ENVIRONMENT);
    names.addAll(b.inherited);
    this.children =
        new ChildProcesses(b.directory, Set.copyOf(names), Map.copyOf(b.environment), b.stopGrace);
    this.builds = new BuildSteps(name, children, b.buildStepTimeout, b.stopGrace);
    this.handshake = new HandshakeServer(name, healthTimeout, new Sessions());
    this.clock = b.clock;
    this.shutdownHook = new Thread(this::stop, "durable-sidecar-shutdown-" + name);
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  public synchronized SidecarStatus status() {
    return status;
  }

  /** The connected sidecar's id, or empty. */
  public synchronized Optional<String> node() {
    return Optional.ofNullable(node);
  }

  /** What the connected sidecar offers; empty unless connected. */
  public synchronized List<String> capabilities() {
    return capabilities;
  }

  /** The loopback endpoint sidecars connect back to, while started. */
  public synchronized Optional<java.net.InetSocketAddress> callbackAddress() {
    return handshake.address();
  }

  /** Builds and spawns the sidecar; returns its status (IDLE when none is configured). */
  public SidecarStatus start() {
    synchronized (this) {
      if (command == null || directory == null || !Files.isDirectory(directory)) {
        status = SidecarStatus.IDLE;
        return status;
      }
      if (status != SidecarStatus.IDLE && status != SidecarStatus.FAILED) {
        return status;
      }
      stopping = false;
      failuresInARow = 0;
      status = SidecarStatus.BUILDING;
    }
    publish(new SidecarEvent.Building(name, directory, clock.instant()));
    for (int i = 0; i < buildSteps.size(); i++) {
      String failure = builds.run(i, buildSteps.get(i), new StepGate());
      synchronized (this) {
        if (stopping) {
          status = SidecarStatus.IDLE;
          return status;
        }
      }
      if (failure != null) {
        fail(Step.BUILD, failure);
        return status();
      }
    }
    try {
      synchronized (this) {
        handshake.open();
      }
    } catch (IOException e) {
      fail(Step.SPAWN, "cannot open the loopback callback endpoint: " + e.getMessage());
      return status();
    }
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    spawn();
    return status();
  }

  /** The supervisor's side of a build step: started and forgotten under this supervisor's lock. */
  private final class StepGate implements BuildSteps.Gate {
    @Override
    public Process start(ProcessBuilder pb) throws IOException {
      synchronized (SidecarSupervisor.this) {
        if (stopping) {
          return null;
        }
        buildStep = pb.start();
        return buildStep;
      }
    }

    @Override
    public void finished(Process step) {
      synchronized (SidecarSupervisor.this) {
        if (buildStep == step) {
          buildStep = null;
        }
      }
    }
  }

  private void spawn() {
    Process started;
    synchronized (this) {
      if (stopping) {
        return;
      }
      byte[] secret = new byte[16];
      tokens.nextBytes(secret);
      token = HexFormat.of().formatHex(secret);
      ProcessBuilder pb = children.builder(command).inheritIO();
      pb.environment().put(ENDPOINT_VARIABLE, "127.0.0.1:" + handshake.port());
      pb.environment().put(TOKEN_VARIABLE, token);
      String label = "the sidecar command (" + ChildProcesses.program(command) + ")";
      String failure = children.notRunnable(command, pb, label);
      if (failure == null) {
        try {
          process = pb.start();
        } catch (IOException e) {
          failure = ChildProcesses.cannotRun(command, label, e);
        }
      }
      if (failure != null) {
        process = null;
        status = SidecarStatus.FAILED;
        publish(new SidecarEvent.Error(name, Step.SPAWN, failure, clock.instant()));
        return;
      }
      status = SidecarStatus.STARTING;
      started = process;
    }
    publish(new SidecarEvent.Starting(name, directory, clock.instant()));
    started.onExit().thenAccept(this::exited);
  }

  private void exited(Process which) {
    int exit = which.exitValue();
    Duration delay;
    synchronized (this) {
      if (which != process) {
        return;
      }
      process = null;
      handshake.dropConnection();
      if (stopping) {
        status = SidecarStatus.IDLE;
        publish(new SidecarEvent.Exited(name, exit, clock.instant()));
        return;
      }
      failuresInARow++;
      publish(new SidecarEvent.Exited(name, exit, clock.instant()));
      if (failuresInARow >= restartPolicy.maxAttempts()) {
        status = SidecarStatus.FAILED;
        publish(
            new SidecarEvent.Error(
                name,
                Step.RUN,
                "exited "
                    + failuresInARow
                    + " times in a row without connecting (last exit code "
                    + exit
                    + ")",
                clock.instant()));
        return;
      }
      status = SidecarStatus.STARTING;
      delay = restartPolicy.delayBefore(failuresInARow, jitter);
    }
    LOG.warn("sidecar {} exited with {}; restarting in {}", name, exit, delay);
    Threads.startDaemon(
        "durable-sidecar-restart-" + name,
        () -> {
          try {
            Thread.sleep(delay.toMillis());
            spawn();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
  }

  /** The handshake server's questions, answered under this supervisor's lock. */
  private final class Sessions implements HandshakeServer.Sessions {
    @Override
    public HandshakeServer.Accepted hello(
        String presented, String id, List<String> offered, Socket socket) {
      synchronized (SidecarSupervisor.this) {
        if (token == null || !presented.equals(token)) {
          return null;
        }
        token = null; // one-time
        node = id;
        capabilities = offered;
        status = SidecarStatus.CONNECTED;
        failuresInARow = 0;
        handshake.connectedOn(socket);
        return new HandshakeServer.Accepted(process);
      }
    }

    @Override
    public void connected(String id) {
      publish(new SidecarEvent.Connected(name, id, clock.instant()));
    }

    @Override
    public void ended(Socket socket, String id, Process mine) {
      boolean wasCurrent;
      synchronized (SidecarSupervisor.this) {
        wasCurrent = handshake.endIfCurrent(socket);
        if (wasCurrent) {
          capabilities = List.of();
          node = null;
          if (status == SidecarStatus.CONNECTED) {
            status = SidecarStatus.STARTING;
          }
        }
      }
      if (wasCurrent) {
        publish(new SidecarEvent.Disconnected(name, id, clock.instant()));
        restartIfStillRunning(mine);
      }
    }
  }

  /**
   * A sidecar that went silent or dropped its connection but still runs can never connect again:
   * its token was one-time. It is stopped, and {@link #exited} restarts it with a fresh token.
   */
  private void restartIfStillRunning(Process which) {
    synchronized (this) {
      if (which == null || which != process || stopping || !which.isAlive()) {
        return;
      }
    }
    LOG.warn(
        "sidecar {} is running but no longer connected (silent for {} or disconnected); restarting"
            + " it with a fresh token",
        name,
        healthTimeout);
    children.stopTree(which);
  }

  /** Stops the process tree: politely, then forcibly after the grace period. No orphan is left. */
  public void stop() {
    Process running;
    Process building;
    ServerSocket listening;
    synchronized (this) {
      stopping = true;
      running = process;
      building = buildStep;
      listening = handshake.detach();
    }
    if (building != null) {
      children.stopTree(building);
    }
    if (running != null) {
      children.stopTree(running);
    }
    HandshakeServer.close(listening);
    handshake.dropConnection();
    synchronized (this) {
      if (status != SidecarStatus.FAILED) {
        status = SidecarStatus.IDLE;
      }
      capabilities = List.of();
      node = null;
    }
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException | IllegalArgumentException shuttingDownOrNotRegistered) {
      // Running in the hook itself, or never started.
    }
  }

  @Override
  public void close() {
    stop();
  }

  private void fail(Step step, String reason) {
    synchronized (this) {
      status = SidecarStatus.FAILED;
    }
    LOG.warn("sidecar {} failed in {}: {}", name, step, reason);
    publish(new SidecarEvent.Error(name, step, reason, clock.instant()));
  }

  private void publish(SidecarEvent event) {
    if (events != null) {
      events.publish(event);
    }
  }

  /** Configures a {@link SidecarSupervisor}. */
  public static final class Builder {
    private final String name;
    private Path directory;
    private List<List<String>> buildSteps = List.of();
    private List<String> command;
    private EventBus events;
    private RetryPolicy restartPolicy = RetryPolicy.defaults();
    private Duration healthTimeout = DEFAULT_HEALTH_TIMEOUT;
    private Duration stopGrace = DEFAULT_STOP_GRACE;
    private Duration buildStepTimeout = DEFAULT_BUILD_STEP_TIMEOUT;
    private Set<String> inherited = Set.of();
    private Map<String, String> environment = Map.of();
    private Clock clock = Clock.systemUTC();

    private Builder(String name) {
      this.name =
          Inputs.requireMatch(
              "sidecar",
              name,
              64,
              java.util.regex.Pattern.compile("[a-z][a-z0-9-]*"),
              "must match [a-z][a-z0-9-]*");
    }

    /** The sidecar's working directory; if it does not exist the sidecar stays IDLE. */
    public Builder directory(Path directory) {
      this.directory = directory;
      return this;
    }

    /** Commands run in order before each start, e.g. {@code ["mvn", "-q", "package"]}. */
    public Builder buildSteps(List<List<String>> steps) {
      this.buildSteps = steps.stream().map(List::copyOf).toList();
      return this;
    }

    /** The long-lived process. */
    public Builder command(List<String> command) {
      this.command = List.copyOf(command);
      return this;
    }

    public Builder events(EventBus events) {
      this.events = events;
      return this;
    }

    /** Restart backoff; {@code maxAttempts} failures in a row without connecting end in FAILED. */
    public Builder restartPolicy(RetryPolicy policy) {
      this.restartPolicy = policy;
      return this;
    }

    /** Silence longer than this is a disconnect. */
    public Builder healthTimeout(Duration timeout) {
      this.healthTimeout = timeout;
      return this;
    }

    /** How long stop waits after the polite signal before killing. */
    public Builder stopGrace(Duration grace) {
      this.stopGrace = grace;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** The longest one build step may run; default {@link #DEFAULT_BUILD_STEP_TIMEOUT}. */
    public Builder buildStepTimeout(Duration timeout) {
      this.buildStepTimeout = timeout;
      return this;
    }

    /**
     * Host environment variables passed to the build steps and the sidecar besides {@link
     * #DEFAULT_ENVIRONMENT} (e.g. {@code JAVA_HOME}, {@code MAVEN_OPTS}). Every other host variable
     * is withheld.
     */
    public Builder inheritEnvironment(Collection<String> names) {
      this.inherited = Set.copyOf(names);
      return this;
    }

    /** Variables set for the build steps and the sidecar, whatever the host has. */
    public Builder environment(Map<String, String> values) {
      this.environment = Map.copyOf(values);
      return this;
    }

    public SidecarSupervisor build() {
      if (command != null && command.isEmpty()) {
        throw new ConfigurationException("command", "must not be empty");
      }
      if (buildSteps.stream().anyMatch(List::isEmpty)) {
        throw new ConfigurationException("buildSteps", "a build step must not be empty");
      }
      if (buildStepTimeout == null || buildStepTimeout.toMillis() < 100) {
        throw new ConfigurationException("buildStepTimeout", "must be at least 100 ms");
      }
      if (environment.containsKey(ENDPOINT_VARIABLE) || environment.containsKey(TOKEN_VARIABLE)) {
        throw new ConfigurationException(
            "environment",
            ENDPOINT_VARIABLE + " and " + TOKEN_VARIABLE + " are set by the supervisor");
      }
      if (healthTimeout == null || healthTimeout.toMillis() < 100) {
        throw new ConfigurationException("healthTimeout", "must be at least 100 ms");
      }
      return new SidecarSupervisor(this);
    }
  }
}
