package dev.durabledeploy.benchmarks;

/**
 * Runs the several-hosts drain alone, 1 and 3 hosts alternated {@code args[0]} times (default 3) on
 * one durable server, printing each drain's figures and diagnostics.
 */
final class MultiHostDrainRun {

  private MultiHostDrainRun() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    try (DurablePostgres pg = DurablePostgres.start()) {
      System.out.println("server: " + pg.describe());
      if (args.length > 1) {
        // A diagnostic run: the server logs every statement slower than args[1] ms.
        try (java.sql.Connection c = pg.connect();
            java.sql.Statement s = c.createStatement()) {
          s.execute("ALTER SYSTEM SET log_min_duration_statement = " + Integer.parseInt(args[1]));
          s.execute("SELECT pg_reload_conf()");
        }
      }
      for (int round = 1; round <= rounds; round++) {
        for (int hosts : new int[] {1, 3}) {
          MultiHostDrainHarness.Result r = MultiHostDrainHarness.drain(pg, hosts);
          System.out.printf(
              java.util.Locale.ROOT,
              "round %d hosts %d: %.0f ms, delivered %d, redeliveries %d, order violations %d,"
                  + " per host %s%n  %s%n",
              round,
              hosts,
              r.seconds() * 1000,
              r.distinctDelivered(),
              r.redeliveries(),
              r.orderViolations(),
              r.perHost(),
              r.diagnostics());
        }
      }
    }
  }
}
