package dev.durabledeploy.spi.retry;

import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/** Decides whether a failure may pass if the same call is tried again. */
@FunctionalInterface
public interface FailureClassifier {

  /** Whether {@code failure} is transient: worth retrying. */
  boolean isTransient(Throwable failure);

  /**
   * The library's rules. Transient: {@link TransientStoreException}, {@link
   * EngineUnavailableException}, a transient {@link RemoteCallException} (408, 429, 5xx), timeouts,
   * and I/O errors other than "file not found". Permanent: everything else, notably validation
   * ({@link dev.durabledeploy.spi.exception.InvalidInputException}), 4xx answers and every other
   * {@link DurableDeployException}. Wrappers ({@link CompletionException}, {@link
   * ExecutionException}, {@link UncheckedIOException}) are looked through.
   */
  FailureClassifier DEFAULT = FailureClassifier::defaultIsTransient;

  private static boolean defaultIsTransient(Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException
            || t instanceof ExecutionException
            || t instanceof UncheckedIOException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof TransientStoreException || t instanceof EngineUnavailableException) {
      return true;
    }
    if (t instanceof RemoteCallException remote) {
      return remote.isTransient();
    }
    if (t instanceof DurableDeployException) {
      return false;
    }
    if (t instanceof TimeoutException) {
      return true;
    }
    if (t instanceof FileNotFoundException || t instanceof NoSuchFileException) {
      return false;
    }
    return t instanceof IOException;
  }
}
