package dev.durabledeploy.examples.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.durabledeploy.examples.release.Reactor.Module;
import java.io.File;
import java.io.IOException;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a host takes from Maven Central, checked on the artifacts this build made: the BOM, the POM
 * metadata Central requires, and each published jar on the module path.
 *
 * <p>It lives in {@code examples} because this module sees every published jar: in a reactor {@code
 * mvn verify} a sibling dependency resolves to its packaged jar, so this test reads the jars a
 * release would upload. Which modules are published comes from the POM files (see {@link Reactor}),
 * never from a list here, so a new module is checked the day it is added.
 */
@DisplayName("release artifacts")
class ReleaseArtifactsTest {

  private static final Reactor REACTOR =
      Reactor.containing(Path.of(System.getProperty("basedir", System.getProperty("user.dir"))));

  @Test
  @DisplayName("the BOM lists every published module and nothing else")
  void bomListsEveryPublishedModule() {
    assertThat(REACTOR.bomProblems())
        .as("the BOM and the published modules of %s disagree", REACTOR.root())
        .isEmpty();
    assertThat(
            Reactor.managedDependencies(REACTOR.bom()).stream()
                .map(Reactor.ManagedDependency::artifactId))
        .as("sanity: the modules this release publishes today")
        .contains("spi", "durable-core", "testkit", "store-memory", "testkit-plane")
        .doesNotContain("examples", "benchmarks");
  }

  @TestFactory
  @DisplayName(
      "every published POM has its own name and description, and a URL, licence,"
          + " developers and SCM")
  Stream<DynamicTest> publishedPomsCarryCentralMetadata() {
    return REACTOR.published().stream()
        .map(
            m ->
                dynamicTest(
                    m.artifactId(),
                    () ->
                        assertThat(REACTOR.metadataProblems(m))
                            .as(m.where(REACTOR.root()))
                            .isEmpty()));
  }

  @Test
  @DisplayName("this test's class path holds every published jar, so the checks below see them all")
  void everyPublishedJarIsOnTheTestClassPath() {
    List<String> missing =
        REACTOR.publishedJars().stream()
            .filter(m -> onTestClassPath(m) == null)
            .map(
                m ->
                    m.artifactId()
                        + ": add to examples/pom.xml <dependencies>:\n"
                        + "    <dependency>\n"
                        + "      <groupId>"
                        + m.groupId()
                        + "</groupId>\n"
                        + "      <artifactId>"
                        + m.artifactId()
                        + "</artifactId>\n"
                        + "      <scope>test</scope>\n"
                        + "    </dependency>")
            .toList();
    assertThat(missing)
        .as("published modules that examples' tests cannot see (ReleaseArtifactsTest loads them)")
        .isEmpty();
  }

  @TestFactory
  @DisplayName(
      "every published jar is a named module after its root package and loads on the"
          + " module path")
  Stream<DynamicTest> publishedJarsLoadOnTheModulePath() throws IOException {
    Map<Module, Path> jars = new LinkedHashMap<>();
    for (Module m : REACTOR.publishedJars()) {
      Path entry = onTestClassPath(m);
      if (entry != null) {
        jars.put(m, entry);
      }
    }
    List<Path> directories = jars.values().stream().filter(Files::isDirectory).toList();
    Assumptions.assumeTrue(
        directories.isEmpty(),
        () ->
            "the module-path check needs the packaged jars, and this build put class directories"
                + " on the class path ("
                + directories
                + "): run it with `mvn verify`, which packages every module first");

    // One layer for all of them, as a host's module path would hold them: a package split
    // between two of our jars, or two jars claiming one name, fails here.
    ModuleFinder finder = ModuleFinder.of(jars.values().toArray(Path[]::new));
    Set<String> names =
        finder.findAll().stream().map(r -> r.descriptor().name()).collect(Collectors.toSet());
    Configuration configuration =
        ModuleLayer.boot().configuration().resolve(finder, ModuleFinder.of(), names);
    ModuleLayer layer =
        ModuleLayer.boot()
            .defineModulesWithOneLoader(configuration, ReleaseArtifactsTest.class.getClassLoader());

    List<DynamicTest> tests = new ArrayList<>();
    for (Map.Entry<Module, Path> e : jars.entrySet()) {
      Module m = e.getKey();
      Path jar = e.getValue();
      tests.add(dynamicTest(m.artifactId(), () -> loadsAsNamedModule(m, jar, finder, layer)));
    }
    return tests.stream();
  }

  private static void loadsAsNamedModule(Module m, Path jar, ModuleFinder finder, ModuleLayer layer)
      throws Exception {
    List<String> entries;
    String declared;
    try (JarFile file = new JarFile(jar.toFile())) {
      entries = Collections.list(file.entries()).stream().map(JarEntry::getName).toList();
      Attributes main = file.getManifest() == null ? null : file.getManifest().getMainAttributes();
      declared = main == null ? null : main.getValue("Automatic-Module-Name");
    }
    String root = Reactor.rootPackage(Reactor.packagesOf(entries));
    String pom = m.where(REACTOR.root());
    if (declared == null) {
      fail(
          jar.getFileName()
              + " ("
              + jar
              + ") has no Automatic-Module-Name in META-INF/MANIFEST.MF, so a host on the module"
              + " path gets a name guessed from the file name; add <automatic.module.name>"
              + root
              + "</automatic.module.name> to the <properties> of "
              + pom
              + " (the root pom's jar plugin writes it into the manifest)");
    }
    assertThat(declared)
        .as(
            "%s's Automatic-Module-Name (from <automatic.module.name> in %s) is its root package",
            jar.getFileName(), pom)
        .isEqualTo(root);

    ModuleReference reference =
        finder
            .find(declared)
            .orElseThrow(() -> new AssertionError(declared + " not found in " + jar));
    ModuleDescriptor descriptor = reference.descriptor();
    assertThat(descriptor.isAutomatic()).as("%s is an automatic module", declared).isTrue();
    java.lang.Module module =
        layer
            .findModule(declared)
            .orElseThrow(() -> new AssertionError(declared + " not in the layer"));

    List<String> entryClasses =
        entries.stream()
            .filter(n -> n.endsWith(".class") && !n.contains("$"))
            .filter(
                n -> n.equals(root.replace('.', '/') + "/" + n.substring(n.lastIndexOf('/') + 1)))
            .filter(n -> !n.endsWith("/package-info.class"))
            .map(n -> n.substring(0, n.length() - ".class".length()).replace('/', '.'))
            .toList();
    ClassLoader loader = layer.findLoader(declared);
    List<String> publicClasses = new ArrayList<>();
    for (String name : entryClasses) {
      Class<?> type = Class.forName(name, false, loader);
      assertThat(type.getModule())
          .as("%s is loaded from the module %s, not from the class path", name, declared)
          .isSameAs(module);
      if (Modifier.isPublic(type.getModifiers())) {
        publicClasses.add(name);
        // resolves every type in its public signatures: a dependency the jar needs but cannot
        // reach from the module path fails here
        assertThat(type.getMethods()).isNotNull();
        assertThat(type.getConstructors()).isNotNull();
      }
    }
    assertThat(publicClasses)
        .as("%s has a public entry class in its root package %s", jar.getFileName(), root)
        .isNotEmpty();
  }

  /** The class-path entry Maven resolved for a module: its packaged jar, or its class directory. */
  private static Path onTestClassPath(Module m) {
    Path target = m.dir().resolve("target");
    String jarName = m.artifactId() + "-" + m.version() + ".jar";
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (entry.isBlank()) {
        continue;
      }
      Path path = Path.of(entry).toAbsolutePath().normalize();
      if ((path.startsWith(target) && !path.endsWith("test-classes"))
          || path.getFileName().toString().equals(jarName)) {
        return path;
      }
    }
    return null;
  }

  @Nested
  @DisplayName("on a reactor that gained a module")
  class WhenAModuleIsAdded {

    @TempDir Path dir;

    @Test
    @DisplayName("the BOM check names the module to add and the entry to remove")
    void reportsTheMissingAndTheExtraEntry() throws IOException {
      pom(
          "",
          """
          <groupId>dev.durabledeploy</groupId><artifactId>durable-deploy-parent</artifactId>
          <version>1.2.0-SNAPSHOT</version><packaging>pom</packaging>
          <name>p</name><description>d</description><url>https://example.org</url>
          <licenses><license><name>Apache-2.0</name></license></licenses>
          <developers><developer><name>them</name></developer></developers>
          <scm><url>https://example.org</url></scm>
          <modules><module>bom</module><module>spi</module><module>store-memory</module>
            <module>examples</module></modules>""");
      pom(
          "bom",
          """
          <groupId>dev.durabledeploy</groupId><artifactId>durable-deploy-bom</artifactId>
          <version>1.2.0-SNAPSHOT</version><packaging>pom</packaging>
          <name>b</name><description>d</description><url>https://example.org</url>
          <licenses><license><name>Apache-2.0</name></license></licenses>
          <developers><developer><name>them</name></developer></developers>
          <scm><url>https://example.org</url></scm>
          <dependencyManagement><dependencies>
            <dependency><groupId>dev.durabledeploy</groupId><artifactId>spi</artifactId>
              <version>${project.version}</version></dependency>
            <dependency><groupId>dev.durabledeploy</groupId><artifactId>examples</artifactId>
              <version>${project.version}</version></dependency>
          </dependencies></dependencyManagement>""");
      pom("spi", child("spi", "<name>s</name><description>d</description>"));
      pom("store-memory", child("store-memory", ""));
      pom(
          "examples",
          child(
              "examples",
              "<name>e</name><description>d</description>"
                  + "<properties><maven.deploy.skip>true</maven.deploy.skip></properties>"));

      Reactor reactor = Reactor.containing(dir.resolve("examples"));

      assertThat(reactor.root()).isEqualTo(dir.toAbsolutePath().normalize());
      assertThat(reactor.published().stream().map(Module::artifactId))
          .containsExactly("durable-deploy-parent", "durable-deploy-bom", "spi", "store-memory");
      assertThat(reactor.bomProblems())
          .containsExactly(
              "bom/pom.xml does not list the published module store-memory/pom.xml; add to its"
                  + " <dependencyManagement><dependencies>:\n"
                  + "      <dependency>\n"
                  + "        <groupId>dev.durabledeploy</groupId>\n"
                  + "        <artifactId>store-memory</artifactId>\n"
                  + "        <version>${project.version}</version>\n"
                  + "      </dependency>\n"
                  + "  (or, if it is not meant for Maven Central, set"
                  + " <maven.deploy.skip>true</maven.deploy.skip> in store-memory/pom.xml's"
                  + " <properties>)",
              "bom/pom.xml lists dev.durabledeploy:examples, but examples/pom.xml sets"
                  + " maven.deploy.skip, so it is not published; remove that <dependency> from it");
      Module storeMemory =
          reactor.modules().stream()
              .filter(m -> m.artifactId().equals("store-memory"))
              .findFirst()
              .orElseThrow();
      assertThat(storeMemory.coordinates())
          .isEqualTo("dev.durabledeploy:store-memory:jar:1.2.0-SNAPSHOT");
      assertThat(reactor.metadataProblems(storeMemory))
          .containsExactly(
              "store-memory/pom.xml has no <name> of its own",
              "store-memory/pom.xml has no <description> of its own");
    }

    @Test
    @DisplayName("a jar's root package is the package that encloses all of its classes")
    void rootPackage() {
      assertThat(
              Reactor.rootPackage(
                  Reactor.packagesOf(
                      List.of(
                          "META-INF/MANIFEST.MF",
                          "dev/durabledeploy/core/DurableDeploy.class",
                          "dev/durabledeploy/core/gc/SiteGc.class",
                          "dev/durabledeploy/core/deploy/DeployService$1.class"))))
          .isEqualTo("dev.durabledeploy.core");
      assertThat(
              Reactor.rootPackage(
                  Reactor.packagesOf(
                      List.of(
                          "dev/durabledeploy/store/postgres/a/A.class",
                          "dev/durabledeploy/store/postgres/b/B.class"))))
          .isEqualTo("dev.durabledeploy.store.postgres");
    }

    private String child(String artifactId, String rest) {
      return "<parent><groupId>dev.durabledeploy</groupId>"
          + "<artifactId>durable-deploy-parent</artifactId><version>1.2.0-SNAPSHOT</version>"
          + "</parent><artifactId>"
          + artifactId
          + "</artifactId>"
          + rest;
    }

    private void pom(String module, String body) throws IOException {
      Path moduleDir = dir.resolve(module);
      Files.createDirectories(moduleDir);
      Files.writeString(
          moduleDir.resolve("pom.xml"),
          "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>"
              + body
              + "</project>");
    }
  }
}
