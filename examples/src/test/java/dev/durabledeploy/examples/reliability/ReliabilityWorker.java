package dev.durabledeploy.examples.reliability;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import java.nio.file.Path;

/**
 * The worker JVM the kill test starts and SIGKILLs: runs the seeded {@link Workload} until it is
 * killed, printing {@code READY} once the plane is up, {@code OP <name>} after every operation,
 * {@code UPLOAD <key>} and {@code SETTLED <key>} around every upload (so the test knows which were
 * in flight at the kill), {@code VIOLATION <what>} for every failed check and {@code STATS
 * <k=v...>} (its counters so far) after every operation. Arguments: JDBC URL, user, blob root,
 * seed, site count, incarnation; the password comes in the environment variable {@code
 * HARNESS_PG_PASSWORD} so it never shows in a process listing.
 */
public final class ReliabilityWorker {

  private ReliabilityWorker() {}

  public static void main(String[] args) throws Exception {
    String password = System.getenv().getOrDefault("HARNESS_PG_PASSWORD", "");
    FileSystemBlobStore blobs = new FileSystemBlobStore(Path.of(args[2]));
    Plane plane = new Plane(args[0], args[1], password, blobs);
    Deliveries.createTable(plane.consumerDb());
    plane.deploy.start();
    Workload workload =
        new Workload(
            plane,
            Long.parseLong(args[3]),
            Integer.parseInt(args[4]),
            blobs,
            "worker-" + args[5],
            System.out::println);
    System.out.println("READY");
    while (true) {
      String op = workload.step();
      System.out.println("OP " + op);
      System.out.println("STATS " + workload.stats());
    }
  }
}
