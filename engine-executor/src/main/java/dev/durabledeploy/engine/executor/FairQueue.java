package dev.durabledeploy.engine.executor;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.function.Consumer;

/**
 * The runs waiting for a worker, by concurrency key. A key with work waits in one round-robin queue
 * of ready keys and gets one turn per round, so a key with 10,000 queued runs does not starve a key
 * with one; a key whose run is running or waiting for a retry is busy and not ready, so runs of one
 * key never overlap and start in submission order. Every method is called with the engine lock
 * held.
 */
final class FairQueue {

  private static final class KeyQueue {
    final String name;
    final ArrayDeque<Run> runs = new ArrayDeque<>();
    boolean busy;
    boolean inReady;

    KeyQueue(String name) {
      this.name = name;
    }
  }

  private final EngineState state;
  private final Condition workAvailable;
  private final Map<String, KeyQueue> keys = new HashMap<>();
  private final ArrayDeque<KeyQueue> ready = new ArrayDeque<>();
  private int queued;

  FairQueue(EngineState state) {
    this.state = state;
    this.workAvailable = state.lock.newCondition();
  }

  /** Runs waiting for a worker or for their key. */
  int size() {
    return queued;
  }

  /** Queues a run behind its key, or in front of it (a retry that is due). */
  void enqueue(Run run, boolean front) {
    KeyQueue key = keys.computeIfAbsent(run.queueKey, KeyQueue::new);
    if (front) {
      key.runs.addFirst(run);
    } else {
      key.runs.addLast(run);
    }
    queued++;
    markReady(key);
  }

  /**
   * Waits for the next ready key and takes its first run, leaving the key busy until {@link
   * #release} or {@link #retryDue}. Null once the engine stops running.
   */
  Run take() {
    while (ready.isEmpty() && state.running()) {
      workAvailable.awaitUninterruptibly();
    }
    if (ready.isEmpty()) {
      return null;
    }
    KeyQueue key = ready.pollFirst();
    key.inReady = false;
    queued--;
    key.busy = true;
    return key.runs.pollFirst();
  }

  /** The run finished: its key takes its next turn. */
  void release(Run run) {
    KeyQueue key = keys.get(run.queueKey);
    if (key != null) {
      key.busy = false;
      markReady(key);
    }
  }

  /** The run's retry is due: it goes first of its key, which stayed busy while it waited. */
  void retryDue(Run run) {
    keys.get(run.queueKey).busy = false;
    enqueue(run, true);
  }

  /** At stop: hands every queued run to {@code handBack} and wakes the workers so they exit. */
  void drain(Consumer<Run> handBack) {
    for (KeyQueue key : keys.values()) {
      key.runs.forEach(handBack);
      queued -= key.runs.size();
      key.runs.clear();
    }
    ready.clear();
    workAvailable.signalAll();
  }

  private void markReady(KeyQueue key) {
    if (!key.busy && !key.inReady && !key.runs.isEmpty()) {
      key.inReady = true;
      ready.addLast(key);
      workAvailable.signal();
    } else if (!key.busy && key.runs.isEmpty()) {
      keys.remove(key.name);
    }
  }
}
