package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.UploadPath;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/** The files a finalized deploy must contain, as the client declares them. */
public record Manifest(SortedSet<UploadPath> files) {

  public Manifest {
    files = Collections.unmodifiableSortedSet(new TreeSet<>(files));
  }

  public static Manifest of(Collection<UploadPath> files) {
    return new Manifest(new TreeSet<>(files));
  }

  /** A manifest of validated paths; an invalid one throws naming the field {@code path}. */
  public static Manifest of(String... paths) {
    return of(Arrays.stream(paths).map(UploadPath::new).toList());
  }

  public int size() {
    return files.size();
  }
}
