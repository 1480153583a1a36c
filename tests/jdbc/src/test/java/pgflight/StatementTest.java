package pgflight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.time.LocalDate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Statements and prepared statements as DBeaver's SQL editor runs them. */
class StatementTest {
  @Test
  void maxRowsAndFetchSize() throws SQLException {
    try (Connection conn = Env.flight();
        Statement st = conn.createStatement()) {
      st.setMaxRows(2);
      st.setFetchSize(1);
      int rows = 0;
      try (ResultSet rs = st.executeQuery("SELECT g FROM generate_series(1, 100) AS g")) {
        while (rs.next()) {
          rows++;
        }
      }
      assertEquals(2, rows);
      st.setMaxRows(0);
      try (ResultSet rs = st.executeQuery("SELECT id FROM customers ORDER BY id")) {
        int n = 0;
        while (rs.next()) {
          assertEquals(++n, rs.getInt(1));
        }
        assertEquals(3, n);
      }
    }
  }

  @Test
  void preparedStatementTypedParameters() throws SQLException {
    try (Connection conn = Env.flight()) {
      try (PreparedStatement ps =
          conn.prepareStatement("SELECT name FROM customers WHERE id = ? OR id = ? ORDER BY id")) {
        ps.setInt(1, 1);
        ps.setLong(2, 3L);
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertEquals("Ada", rs.getString(1));
          assertTrue(rs.next());
          assertEquals("Linus", rs.getString(1));
          assertFalse(rs.next());
        }
      }
      try (PreparedStatement ps =
          conn.prepareStatement(
              "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id"
                  + " WHERE c.name = ? AND o.total >= ? AND o.placed_at >= ?")) {
        ps.setString(1, "Ada");
        // A numeric parameter is Utf8 in the parameter schema (PostgreSQL reports no precision
        // for parameters): the driver binds a String there, not a BigDecimal.
        ps.setString(2, new BigDecimal("10.50").toPlainString());
        ps.setTimestamp(3, Timestamp.from(Instant.parse("2024-01-02T03:04:05.123456Z")));
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertEquals(2, rs.getLong(1));
        }
      }
      try (PreparedStatement ps =
          conn.prepareStatement("SELECT count(*) FROM families WHERE d = ?")) {
        ps.setDate(1, Date.valueOf(LocalDate.of(2024, 2, 29)));
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertEquals(1, rs.getLong(1));
        }
      }
      try (PreparedStatement ps =
          conn.prepareStatement("SELECT ?::text IS NULL, coalesce(?::int4, 42)")) {
        ps.setNull(1, Types.VARCHAR);
        ps.setNull(2, Types.INTEGER);
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertTrue(rs.getBoolean(1));
          assertEquals(42, rs.getInt(2));
        }
      }
    }
  }

  @Test
  void preparedStatementRunsAgainWithNewParameters() throws SQLException {
    try (Connection conn = Env.flight();
        PreparedStatement ps =
            conn.prepareStatement("SELECT count(*) FROM orders WHERE customer_id = ?")) {
      long[] expected = {2, 1, 0};
      for (int id = 1; id <= 3; id++) {
        ps.setInt(1, id);
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertEquals(expected[id - 1], rs.getLong(1), "customer " + id);
        }
      }
    }
  }

  /** Hundreds of statements on one connection: nothing piles up on the server. */
  @Test
  void manyStatementsOnOneConnection() throws SQLException {
    try (Connection conn = Env.flight()) {
      for (int i = 0; i < 300; i++) {
        try (PreparedStatement ps = conn.prepareStatement("SELECT ?::int8 + " + i)) {
          ps.setLong(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            assertTrue(rs.next());
            assertEquals(2L * i, rs.getLong(1));
          }
        }
        try (Statement st = conn.createStatement();
            ResultSet rs = st.executeQuery("SELECT " + i)) {
          assertTrue(rs.next());
        }
      }
      try (Statement st = conn.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgflight'")) {
        assertTrue(rs.next());
        assertTrue(rs.getLong(1) <= 10, "pgflight sessions: " + rs.getLong(1));
      }
    }
  }

  static final String LONG = "SELECT count(*) FROM generate_series(1, 20000000000) AS g";

  static long stillRunning(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    + " AND query LIKE '%generate_series(1, 20000000000)%'"
                    + " AND pid <> pg_backend_pid()")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Test
  void cancelALongQuery() throws Exception {
    try (Connection conn = Env.flight();
        Statement st = conn.createStatement()) {
      CompletableFuture<Object> running =
          CompletableFuture.supplyAsync(
              () -> {
                try (ResultSet rs = st.executeQuery(LONG)) {
                  rs.next();
                  return rs.getLong(1);
                } catch (SQLException e) {
                  return e;
                }
              });
      try (Connection watch = Env.flight()) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (stillRunning(watch) == 0) {
          assertTrue(System.nanoTime() < deadline, "the long query never started");
          Thread.sleep(100);
        }
        st.cancel();
        Object outcome = running.get(20, TimeUnit.SECONDS);
        assertTrue(outcome instanceof SQLException, "the long query returned " + outcome);
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (stillRunning(watch) > 0) {
          assertTrue(System.nanoTime() < deadline, "a backend still runs the cancelled query");
          Thread.sleep(100);
        }
      }
    }
  }

  @Test
  void writesAreRefused() throws SQLException {
    try (Connection conn = Env.flight();
        Statement st = conn.createStatement()) {
      SQLException err =
          assertThrows(SQLException.class, () -> st.executeUpdate("DELETE FROM orders"));
      assertTrue(String.valueOf(err.getMessage()).contains("read-only"), err.getMessage());
      try (ResultSet rs = st.executeQuery("SELECT count(*) FROM orders")) {
        rs.next();
        assertEquals(3, rs.getLong(1));
      }
      assertNull(conn.getWarnings());
    }
  }
}
