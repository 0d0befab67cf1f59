package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The files a finalized deploy must contain, as the client declares them: by path only ({@link
 * #of(String...)}: finalize checks presence and records the sizes it finds), or with each file's
 * size and SHA-256 ({@link #ofEntries(Entry...)}: finalize also checks both against what the blob
 * store holds, so a deploy cannot be finalized with other bytes than the client built).
 *
 * @param files every path, sorted
 * @param entries the declared size and SHA-256 of each path, for a manifest built from entries;
 *     empty for one built from paths only
 */
public record Manifest(SortedSet<UploadPath> files, SortedMap<UploadPath, Entry> entries) {

  /**
   * One declared file.
   *
   * @param size its length in bytes
   * @param sha256 the SHA-256 of its bytes, 64 hex digits (case-insensitive; kept in lowercase)
   */
  public record Entry(UploadPath path, long size, String sha256) {

    public Entry {
      Objects.requireNonNull(path, "path");
      if (size < 0) {
        throw new InvalidInputException(
            "manifest", "declares a negative size for " + path.value() + ": " + size);
      }
      if (sha256 == null) {
        throw new InvalidInputException("manifest", "declares no SHA-256 for " + path.value());
      }
      sha256 = Inputs.requireSha256("manifest", sha256.toLowerCase(Locale.ROOT).strip());
    }

    /** An entry for a validated path; an invalid one throws naming the field {@code path}. */
    public static Entry of(String path, long size, String sha256) {
      return new Entry(UploadPath.of(path), size, sha256);
    }
  }

  public Manifest {
    files = Collections.unmodifiableSortedSet(new TreeSet<>(files));
    entries = Collections.unmodifiableSortedMap(new TreeMap<>(entries));
    for (UploadPath declared : entries.keySet()) {
      if (!files.contains(declared)) {
        throw new InvalidInputException(
            "manifest", "declares " + declared.value() + " without listing it");
      }
    }
  }

  /** A manifest of paths only: finalize checks presence and records sizes from the store. */
  public Manifest(SortedSet<UploadPath> files) {
    this(files, new TreeMap<>());
  }

  public static Manifest of(Collection<UploadPath> files) {
    return new Manifest(new TreeSet<>(files));
  }

  /** A manifest of validated paths; an invalid one throws naming the field {@code path}. */
  public static Manifest of(String... paths) {
    return of(Arrays.stream(paths).map(UploadPath::new).toList());
  }

  /**
   * A manifest declaring each file's size and SHA-256, which finalize checks. (Not an overload of
   * {@code of}: {@code Manifest.of()} must keep meaning the empty manifest of paths.)
   */
  public static Manifest ofEntries(Entry... entries) {
    return ofEntries(Arrays.asList(entries));
  }

  /**
   * A manifest declaring each file's size and SHA-256, which finalize checks.
   *
   * @throws InvalidInputException (field {@code manifest}) when a path is declared twice
   */
  public static Manifest ofEntries(Collection<Entry> entries) {
    TreeMap<UploadPath, Entry> byPath = new TreeMap<>();
    for (Entry entry : entries) {
      if (byPath.put(entry.path(), entry) != null) {
        throw new InvalidInputException("manifest", "declares " + entry.path().value() + " twice");
      }
    }
    return new Manifest(new TreeSet<>(byPath.keySet()), byPath);
  }

  /** The declared size and SHA-256 of {@code path}, if this manifest declares them. */
  public Optional<Entry> entry(UploadPath path) {
    return Optional.ofNullable(entries.get(path));
  }

  public int size() {
    return files.size();
  }
}
