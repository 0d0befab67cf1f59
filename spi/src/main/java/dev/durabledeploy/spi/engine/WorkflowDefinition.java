package dev.durabledeploy.spi.engine;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A named workflow an engine can run.
 *
 * @param name e.g. {@code gc-site}: {@code [a-z][a-z0-9-]{0,63}}
 * @param concurrencyKey computes the key from a submission's input; runs with the same key never
 *     overlap (e.g. the site, so one site's GC runs one at a time)
 * @param retryPolicy attempts and backoff of a failing run; exhausted runs are dead-lettered
 * @param debounce collapses bursts per concurrency key, or {@code null} for none
 */
public record WorkflowDefinition(
    String name,
    Function<Map<String, String>, String> concurrencyKey,
    RetryPolicy retryPolicy,
    Debounce debounce,
    WorkflowHandler handler) {

  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{0,63}");

  public WorkflowDefinition {
    Inputs.requireMatch("workflow", name, 64, NAME, "must match [a-z][a-z0-9-]{0,63}");
    Objects.requireNonNull(concurrencyKey, "concurrencyKey");
    Objects.requireNonNull(retryPolicy, "retryPolicy");
    if (handler == null) {
      throw new ConfigurationException(name + ".handler", "is required");
    }
  }

  /** Starts a definition with every run on one shared key, default retries and no debounce. */
  public static Builder named(String name) {
    return new Builder(name);
  }

  /** The concurrency key of {@code input}; a null or empty key becomes the workflow's name. */
  public String keyOf(Map<String, String> input) {
    String key = concurrencyKey.apply(input);
    return key == null || key.isEmpty() ? name : key;
  }

  /** Fluent construction of a {@link WorkflowDefinition}. */
  public static final class Builder {
    private final String name;
    private Function<Map<String, String>, String> concurrencyKey = input -> null;
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private Debounce debounce;

    private Builder(String name) {
      this.name = name;
    }

    /** Runs whose inputs share {@code key} never overlap. */
    public Builder concurrencyKey(Function<Map<String, String>, String> key) {
      this.concurrencyKey = key;
      return this;
    }

    /** Shorthand: the concurrency key is the input attribute {@code attribute}. */
    public Builder keyedBy(String attribute) {
      return concurrencyKey(input -> input.get(attribute));
    }

    public Builder retryPolicy(RetryPolicy policy) {
      this.retryPolicy = policy;
      return this;
    }

    public Builder debounce(Debounce debounce) {
      this.debounce = debounce;
      return this;
    }

    public WorkflowDefinition handler(WorkflowHandler handler) {
      return new WorkflowDefinition(name, concurrencyKey, retryPolicy, debounce, handler);
    }
  }
}
