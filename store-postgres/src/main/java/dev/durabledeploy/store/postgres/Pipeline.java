package dev.durabledeploy.store.postgres;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

/**
 * Statements sent to PostgreSQL in one round trip: pgjdbc sends every statement of one prepared
 * multi-statement text (and their parameters) before it waits for the first answer. Each statement
 * still runs on its own, in order, so under READ COMMITTED each one sees what was committed before
 * it started (a read after a lock sees what the lock's previous holder committed), and the first
 * that fails skips the rest.
 *
 * <p>A null parameter is sent untyped, so the server takes the type from where it is used (a {@code
 * timestamptz} column, a {@code text} one).
 */
final class Pipeline {

  private final StringBuilder sql = new StringBuilder();
  private final List<Object> parameters = new ArrayList<>();

  /** Adds a statement, its {@code ?}s bound to {@code parameters} in order. */
  Pipeline add(String statement, Object... parameters) {
    if (!sql.isEmpty()) {
      sql.append(";\n");
    }
    sql.append(statement);
    this.parameters.addAll(java.util.Arrays.asList(parameters));
    return this;
  }

  boolean isEmpty() {
    return sql.isEmpty();
  }

  /**
   * Sends the statements and reads every answer; the result sets of the statements that return rows
   * go to {@code results}, in order, each read before the next.
   */
  void run(Connection connection, ResultSets results) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(sql.toString())) {
      for (int i = 0; i < parameters.size(); i++) {
        bind(connection, statement, i + 1, parameters.get(i));
      }
      boolean isResultSet = statement.execute();
      while (true) {
        if (isResultSet) {
          try (ResultSet rs = statement.getResultSet()) {
            results.accept(rs);
          }
        } else if (statement.getUpdateCount() == -1) {
          return;
        }
        isResultSet = statement.getMoreResults();
      }
    }
  }

  /** Sends the statements, ignoring what they return. */
  void run(Connection connection) throws SQLException {
    run(connection, rs -> {});
  }

  private static void bind(Connection connection, PreparedStatement statement, int at, Object value)
      throws SQLException {
    if (value == null) {
      statement.setNull(at, Types.OTHER);
    } else if (value instanceof String s) {
      statement.setString(at, s);
    } else if (value instanceof String[] texts) {
      Array array = connection.createArrayOf("text", texts);
      statement.setArray(at, array);
    } else if (value instanceof Long[] numbers) {
      Array array = connection.createArrayOf("bigint", numbers);
      statement.setArray(at, array);
    } else {
      statement.setObject(at, value);
    }
  }

  /** Reads one result set of a pipeline. */
  @FunctionalInterface
  interface ResultSets {
    void accept(ResultSet rs) throws SQLException;
  }
}
