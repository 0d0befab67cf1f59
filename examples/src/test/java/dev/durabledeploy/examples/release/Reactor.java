package dev.durabledeploy.examples.release;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * The reactor as its POM files say it is: every module, recursively from the root pom's {@code
 * <modules>}, and which of them are published.
 *
 * <p>Published means the module's POM (or a POM it inherits from) does not set the property {@code
 * maven.deploy.skip} to {@code true}. That one property is the whole rule: the root pom's release
 * profile reads it too, so a new module is published, documented and checked unless it opts out
 * like {@code examples} and {@code benchmarks}. Read from the files rather than from a list in this
 * class, so a module added tomorrow is checked without editing anything here.
 */
final class Reactor {

  static final String BOM_ARTIFACT_ID = "durable-deploy-bom";

  /** One module's POM, with what it inherits from the POMs of its {@code <parent>} chain. */
  record Module(Path dir, Element pom, Optional<Module> parent) {

    String artifactId() {
      return text(pom, "artifactId").orElseThrow();
    }

    String groupId() {
      return text(pom, "groupId")
          .or(() -> child(pom, "parent").flatMap(p -> text(p, "groupId")))
          .orElseThrow(() -> new IllegalStateException(dir + "/pom.xml has no groupId"));
    }

    String version() {
      return text(pom, "version")
          .or(() -> child(pom, "parent").flatMap(p -> text(p, "version")))
          .orElseThrow(() -> new IllegalStateException(dir + "/pom.xml has no version"));
    }

    String packaging() {
      return text(pom, "packaging").orElse("jar");
    }

    String coordinates() {
      return groupId() + ":" + artifactId() + ":" + packaging() + ":" + version();
    }

    /** The value of a property, from this POM or the nearest one it inherits from. */
    Optional<String> property(String name) {
      return child(pom, "properties")
          .flatMap(p -> text(p, name))
          .or(() -> parent.flatMap(p -> p.property(name)));
    }

    boolean published() {
      return !property("maven.deploy.skip").map(String::strip).orElse("false").equals("true");
    }

    /** A top-level element of this POM or of the nearest POM it inherits it from. */
    Optional<Element> inherited(String element) {
      return child(pom, element).or(() -> parent.flatMap(p -> p.inherited(element)));
    }

    /** A top-level element of this POM itself, with its text. */
    Optional<String> own(String element) {
      return text(pom, element);
    }

    /** Where the module sits, relative to the reactor root, for messages. */
    String where(Path root) {
      Path relative = root.relativize(dir);
      return relative.toString().isEmpty() ? "pom.xml" : relative + "/pom.xml";
    }
  }

  /** One {@code <dependency>} of a POM's {@code <dependencyManagement>}. */
  record ManagedDependency(String groupId, String artifactId, String version) {}

  private final Path root;
  private final List<Module> modules;

  private Reactor(Path root, List<Module> modules) {
    this.root = root;
    this.modules = modules;
  }

  /**
   * The reactor that contains {@code moduleDir}: climbs while the directory above has a pom.xml
   * whose {@code <modules>} lists the directory below, so it finds the root from any module.
   */
  static Reactor containing(Path moduleDir) {
    Path dir = moduleDir.toAbsolutePath().normalize();
    while (dir.getParent() != null && listsModule(dir.getParent(), dir)) {
      dir = dir.getParent();
    }
    return at(dir);
  }

  /** The reactor whose root pom.xml is in {@code root}. */
  static Reactor at(Path root) {
    Path normalized = root.toAbsolutePath().normalize();
    Map<Path, Module> byDir = new LinkedHashMap<>();
    collect(normalized, byDir);
    return new Reactor(normalized, List.copyOf(byDir.values()));
  }

  Path root() {
    return root;
  }

  List<Module> modules() {
    return modules;
  }

  List<Module> published() {
    return modules.stream().filter(Module::published).toList();
  }

  /** The published modules a host puts on its class path: every published module but POMs. */
  List<Module> publishedJars() {
    return published().stream().filter(m -> m.packaging().equals("jar")).toList();
  }

  Module bom() {
    return modules.stream()
        .filter(m -> m.artifactId().equals(BOM_ARTIFACT_ID))
        .findFirst()
        .orElseThrow(
            () ->
                new AssertionError(
                    "no module with artifactId "
                        + BOM_ARTIFACT_ID
                        + " in the reactor at "
                        + root
                        + "; the BOM must be one of the root pom's <modules>"));
  }

  /**
   * What is wrong with the BOM, each problem with what to change; empty when it lists exactly the
   * published artifacts that a host depends on (every published module but the POMs).
   */
  List<String> bomProblems() {
    Module bom = bom();
    String bomFile = bom.where(root);
    Map<String, ManagedDependency> listed = new LinkedHashMap<>();
    for (ManagedDependency d : managedDependencies(bom)) {
      listed.put(d.groupId() + ":" + d.artifactId(), d);
    }
    Map<String, Module> wanted = new LinkedHashMap<>();
    for (Module m : publishedJars()) {
      wanted.put(m.groupId() + ":" + m.artifactId(), m);
    }
    List<String> problems = new ArrayList<>();
    wanted.forEach(
        (key, m) -> {
          if (!listed.containsKey(key)) {
            problems.add(
                bomFile
                    + " does not list the published module "
                    + m.where(root)
                    + "; add to its <dependencyManagement><dependencies>:\n"
                    + "      <dependency>\n"
                    + "        <groupId>"
                    + m.groupId()
                    + "</groupId>\n"
                    + "        <artifactId>"
                    + m.artifactId()
                    + "</artifactId>\n"
                    + "        <version>${project.version}</version>\n"
                    + "      </dependency>\n"
                    + "  (or, if it is not meant for Maven Central, set"
                    + " <maven.deploy.skip>true</maven.deploy.skip> in "
                    + m.where(root)
                    + "'s <properties>)");
          } else if (!listed.get(key).version().equals("${project.version}")) {
            problems.add(
                bomFile
                    + " pins "
                    + key
                    + " to "
                    + listed.get(key).version()
                    + "; use <version>${project.version}</version>, the BOM's own version");
          }
        });
    Map<String, Module> all = new LinkedHashMap<>();
    modules.forEach(m -> all.put(m.groupId() + ":" + m.artifactId(), m));
    listed.forEach(
        (key, d) -> {
          if (wanted.containsKey(key)) {
            return;
          }
          Module m = all.get(key);
          String why =
              m == null
                  ? "no module of the reactor has these coordinates"
                  : !m.published()
                      ? m.where(root) + " sets maven.deploy.skip, so it is not published"
                      : "it is a POM, not an artifact a host depends on";
          problems.add(
              bomFile + " lists " + key + ", but " + why + "; remove that <dependency> from it");
        });
    return problems;
  }

  /** The Central metadata a published POM lacks, as sentences naming the POM and the element. */
  List<String> metadataProblems(Module m) {
    List<String> problems = new ArrayList<>();
    for (String own : List.of("name", "description")) {
      if (m.own(own).filter(s -> !s.isBlank()).isEmpty()) {
        problems.add(m.where(root) + " has no <" + own + "> of its own");
      }
    }
    for (String inherited : List.of("url", "licenses", "developers", "scm")) {
      if (m.inherited(inherited).filter(e -> !e.getTextContent().isBlank()).isEmpty()) {
        problems.add(
            m.where(root)
                + " has no <"
                + inherited
                + ">, neither its own nor from a parent (the root pom's is inherited by every"
                + " module with a <parent>; the BOM repeats it)");
      }
    }
    return problems;
  }

  static List<ManagedDependency> managedDependencies(Module m) {
    return child(m.pom(), "dependencyManagement").flatMap(dm -> child(dm, "dependencies")).stream()
        .flatMap(ds -> children(ds, "dependency").stream())
        .map(
            d ->
                new ManagedDependency(
                    text(d, "groupId").orElse(""),
                    text(d, "artifactId").orElse(""),
                    text(d, "version").orElse("")))
        .toList();
  }

  /** Every package that holds a class in the given class-file entry names of a jar. */
  static Set<String> packagesOf(List<String> entryNames) {
    return entryNames.stream()
        .filter(n -> n.endsWith(".class") && !n.startsWith("META-INF/"))
        .filter(n -> !n.equals("module-info.class") && n.contains("/"))
        .map(n -> n.substring(0, n.lastIndexOf('/')).replace('/', '.'))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  /** The longest package that is, or encloses, every package given: a jar's root package. */
  static String rootPackage(Set<String> packages) {
    String root = null;
    for (String p : packages) {
      if (root == null) {
        root = p;
        continue;
      }
      while (!(p.equals(root) || p.startsWith(root + "."))) {
        int dot = root.lastIndexOf('.');
        root = dot < 0 ? "" : root.substring(0, dot);
      }
    }
    return root == null ? "" : root;
  }

  private static void collect(Path dir, Map<Path, Module> byDir) {
    Module m = read(dir, byDir);
    byDir.putIfAbsent(dir, m);
    for (Path child : moduleDirs(dir, m.pom())) {
      collect(child, byDir);
    }
  }

  private static Module read(Path dir, Map<Path, Module> known) {
    Element pom = parse(dir.resolve("pom.xml"));
    Optional<Module> parent =
        child(pom, "parent")
            .flatMap(
                p -> {
                  Path parentPom =
                      dir.resolve(text(p, "relativePath").orElse("../pom.xml")).normalize();
                  Path parentDir = Files.isDirectory(parentPom) ? parentPom : parentPom.getParent();
                  if (!Files.isRegularFile(parentDir.resolve("pom.xml"))) {
                    return Optional.empty();
                  }
                  Module candidate =
                      known.containsKey(parentDir) ? known.get(parentDir) : read(parentDir, known);
                  // a parent from a repository (not this reactor) gives nothing we can read here
                  return candidate.artifactId().equals(text(p, "artifactId").orElse(""))
                      ? Optional.of(candidate)
                      : Optional.empty();
                });
    return new Module(dir, pom, parent);
  }

  private static List<Path> moduleDirs(Path dir, Element pom) {
    return child(pom, "modules").stream()
        .flatMap(ms -> children(ms, "module").stream())
        .map(e -> dir.resolve(e.getTextContent().strip()).normalize())
        .map(p -> p.getFileName().toString().equals("pom.xml") ? p.getParent() : p)
        .toList();
  }

  private static boolean listsModule(Path parentDir, Path dir) {
    Path pomFile = parentDir.resolve("pom.xml");
    return Files.isRegularFile(pomFile) && moduleDirs(parentDir, parse(pomFile)).contains(dir);
  }

  private static Element parse(Path pomFile) {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setNamespaceAware(false);
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      return factory.newDocumentBuilder().parse(pomFile.toFile()).getDocumentElement();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + pomFile, e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot parse " + pomFile + ": " + e.getMessage(), e);
    }
  }

  private static Optional<Element> child(Element parent, String name) {
    return children(parent, name).stream().findFirst();
  }

  private static List<Element> children(Element parent, String name) {
    List<Element> found = new ArrayList<>();
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        found.add(e);
      }
    }
    return found;
  }

  private static Optional<String> text(Element parent, String name) {
    return child(parent, name).map(e -> e.getTextContent().strip());
  }
}
