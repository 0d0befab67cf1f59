package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a host says about a site: the part of its {@link Site record} that {@code register} and
 * {@code update} set. Validated on construction, so a profile that exists is one every store can
 * keep.
 *
 * @param displayName a human name, 1 to {@value #MAX_DISPLAY_NAME} characters
 * @param owner who owns the site (a user, a team), 1 to {@value #MAX_OWNER} characters
 * @param labels at most {@value #MAX_LABELS} labels; keys are 1 to 63 characters of lowercase
 *     letters, digits, {@code . _ / -} starting with a letter or digit, values 0 to {@value
 *     #MAX_LABEL_VALUE} characters without control characters. Kept sorted by key.
 */
public record SiteProfile(String displayName, String owner, Map<String, String> labels) {

  public static final int MAX_DISPLAY_NAME = 200;
  public static final int MAX_OWNER = 128;
  public static final int MAX_LABELS = 32;
  public static final int MAX_LABEL_VALUE = 256;

  private static final Pattern LABEL_KEY = Pattern.compile("[a-z0-9][a-z0-9._/-]{0,62}");

  public SiteProfile {
    Inputs.requireText("displayName", displayName, MAX_DISPLAY_NAME);
    Inputs.requireText("owner", owner, MAX_OWNER);
    if (labels == null) {
      throw new InvalidInputException("labels", "is required (pass an empty map for none)");
    }
    if (labels.size() > MAX_LABELS) {
      throw new InvalidInputException(
          "labels", "has " + labels.size() + " entries, at most " + MAX_LABELS + " allowed");
    }
    TreeMap<String, String> sorted = new TreeMap<>();
    for (Map.Entry<String, String> e : labels.entrySet()) {
      String key = e.getKey();
      Inputs.requireMatch(
          "labels",
          key,
          63,
          LABEL_KEY,
          "is not a label key: lowercase letters, digits and . _ / - (starting with a letter or"
              + " digit), at most 63 characters");
      String value = e.getValue();
      if (value == null) {
        throw new InvalidInputException("labels." + key, "is null; use an empty string");
      }
      if (!value.isEmpty()) {
        Inputs.requireText("labels." + key, value, MAX_LABEL_VALUE);
      }
      sorted.put(key, value);
    }
    labels = java.util.Collections.unmodifiableMap(sorted);
  }

  /** A profile with no labels. */
  public static SiteProfile of(String displayName, String owner) {
    return new SiteProfile(displayName, owner, Map.of());
  }
}
