package dev.durabledeploy.spi.engine;

/**
 * The body of a workflow. Must be idempotent: runs are delivered at least once (docs/invariants.md
 * E3). A thrown exception fails the attempt; the definition's retry policy decides what follows.
 */
@FunctionalInterface
public interface WorkflowHandler {

  void run(RunContext context) throws Exception;
}
