package dev.durabledeploy.spi.engine;

import dev.durabledeploy.spi.Inputs;
import java.time.ZoneId;
import java.util.Map;
import java.util.Objects;

/**
 * Submits a workflow on a cron schedule.
 *
 * @param id unique per engine; scheduling the same id again replaces the schedule
 * @param expression a five-field Unix cron expression, e.g. {@code 0 3 * * *}; engines validate it
 *     at {@link WorkflowEngine#schedule}
 */
public record CronSchedule(
    String id, String workflow, String expression, ZoneId zone, Map<String, String> input) {

  public CronSchedule {
    Inputs.requireText("scheduleId", id, 100);
    Inputs.requireText("workflow", workflow, 64);
    Inputs.requireText("cron", expression, 200);
    Objects.requireNonNull(zone, "zone");
    input = Map.copyOf(input);
  }

  /** A UTC schedule with an empty input. */
  public static CronSchedule utc(String id, String workflow, String expression) {
    return new CronSchedule(id, workflow, expression, ZoneId.of("UTC"), Map.of());
  }
}
