package dev.durabledeploy.engine.executor;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cron schedules: five-field Unix expressions (cron-utils), armed on the timer while the engine
 * runs. Missed fires are skipped, never caught up: after a start or a fire, the next fire is the
 * next matching time after now. A fire submits like any caller. Every method is called with the
 * engine lock held, except {@link #schedule}, which takes it.
 */
final class CronSchedules {

  private static final Logger LOG = LoggerFactory.getLogger(CronSchedules.class);
  private static final CronParser CRON =
      new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

  private final EngineState state;
  private final WorkerThreads threads;
  private final Clock clock;
  private final Function<Submission, CompletionStage<RunHandle>> submit;
  private final Map<String, CronSchedule> schedules = new HashMap<>();
  private final Map<String, ScheduledFuture<?>> timers = new HashMap<>();

  CronSchedules(
      EngineState state,
      WorkerThreads threads,
      Clock clock,
      Function<Submission, CompletionStage<RunHandle>> submit) {
    this.state = state;
    this.threads = threads;
    this.clock = clock;
    this.submit = submit;
  }

  /** Adds or replaces a schedule; armed at once when the engine runs, else at start. */
  void schedule(CronSchedule schedule) {
    Cron cron;
    try {
      cron = CRON.parse(schedule.expression()).validate();
    } catch (IllegalArgumentException e) {
      throw new InvalidInputException(
          "cron",
          "'"
              + schedule.expression()
              + "' is not a five-field Unix cron expression: "
              + e.getMessage());
    }
    state.lockedRun(
        () -> {
          schedules.put(schedule.id(), schedule);
          if (state.running()) {
            arm(schedule, ExecutionTime.forCron(cron));
          }
        });
  }

  boolean unschedule(String scheduleId) {
    Optional.ofNullable(timers.remove(scheduleId)).ifPresent(f -> f.cancel(false));
    return schedules.remove(scheduleId) != null;
  }

  /** At start. */
  void armAll() {
    for (CronSchedule schedule : schedules.values()) {
      arm(schedule, ExecutionTime.forCron(CRON.parse(schedule.expression())));
    }
  }

  /** At stop. */
  void cancelAll() {
    timers.values().forEach(f -> f.cancel(false));
    timers.clear();
  }

  private void arm(CronSchedule schedule, ExecutionTime times) {
    Optional.ofNullable(timers.remove(schedule.id())).ifPresent(f -> f.cancel(false));
    ZonedDateTime now = ZonedDateTime.ofInstant(clock.instant(), schedule.zone());
    Optional<ZonedDateTime> next = times.nextExecution(now);
    if (next.isEmpty()) {
      return;
    }
    timers.put(
        schedule.id(),
        threads.schedule(() -> fire(schedule, times), Duration.between(now, next.get()).toNanos()));
  }

  private void fire(CronSchedule schedule, ExecutionTime times) {
    submit
        .apply(new Submission(schedule.workflow(), schedule.input(), null))
        .whenComplete(
            (h, e) -> {
              if (e != null) {
                LOG.warn("cron schedule {} could not submit: {}", schedule.id(), e.toString());
              }
            });
    state.lockedRun(
        () -> {
          if (state.running() && schedules.get(schedule.id()) == schedule) {
            arm(schedule, times);
          }
        });
  }
}
