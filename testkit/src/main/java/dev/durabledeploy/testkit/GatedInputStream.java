package dev.durabledeploy.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * An upload body that holds its caller inside {@code read} until the test opens the gate: the way
 * to park an upload in the middle of its write and run another operation (finalize, delete, purge,
 * GC) at exactly that point, with real threads and no sleeps.
 *
 * <pre>{@code
 * GatedInputStream body = new GatedInputStream(bytes);
 * Future<BlobInfo> upload = pool.submit(() -> deploys.upload(site, id, path, body, bytes.length));
 * body.awaitReading(Duration.ofSeconds(10));   // the store is reading it now
 * deploys.finalizeDeploy(...);                  // runs while the upload is blocked
 * body.open();                                  // the upload goes on
 * }</pre>
 *
 * The first read blocks until {@link #open()}; every read after that returns bytes as usual. A
 * reader that waits longer than the stream's deadline (default one minute) gets an {@link
 * IOException}, so a test that forgets to open the gate fails instead of hanging.
 */
public final class GatedInputStream extends InputStream {

  private final byte[] bytes;
  private final Duration deadline;
  private final CountDownLatch reading = new CountDownLatch(1);
  private final CountDownLatch gate = new CountDownLatch(1);
  private int position;

  public GatedInputStream(byte[] bytes) {
    this(bytes, Duration.ofMinutes(1));
  }

  public GatedInputStream(byte[] bytes, Duration deadline) {
    this.bytes = bytes.clone();
    this.deadline = deadline;
  }

  /** Lets every blocked and future read go on. */
  public void open() {
    gate.countDown();
  }

  /**
   * Waits until a reader is blocked in (or past) the first read.
   *
   * @throws IllegalStateException when nobody started reading within {@code timeout}
   */
  public void awaitReading(Duration timeout) {
    try {
      if (!reading.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("nobody read the gated stream within " + timeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a reader", e);
    }
  }

  /** Whether a reader has reached the gate. */
  public boolean isBeingRead() {
    return reading.getCount() == 0;
  }

  private void pass() throws IOException {
    reading.countDown();
    try {
      if (!gate.await(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IOException("the gate of this test stream was never opened (" + deadline + ")");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted at the gate");
    }
  }

  @Override
  public synchronized int read() throws IOException {
    pass();
    return position < bytes.length ? bytes[position++] & 0xff : -1;
  }

  @Override
  public synchronized int read(byte[] b, int off, int len) throws IOException {
    pass();
    if (len == 0) {
      return 0;
    }
    if (position >= bytes.length) {
      return -1;
    }
    int n = Math.min(len, bytes.length - position);
    System.arraycopy(bytes, position, b, off, n);
    position += n;
    return n;
  }
}
