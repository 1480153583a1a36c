package pgflight;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Calendar;
import java.util.List;
import java.util.TimeZone;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * ResultSet getters of every type family of DESIGN.md "Types", compared with what PostgreSQL
 * answers through pgjdbc for the same rows, in the JVM's time zone (the suite also runs in
 * America/Los_Angeles).
 */
class ResultSetTest {
  static Connection flight;
  static Connection pg;

  @BeforeAll
  static void open() throws SQLException {
    flight = Env.flight();
    pg = Env.postgres();
  }

  @AfterAll
  static void close() throws SQLException {
    flight.close();
    pg.close();
  }

  interface Check {
    void compare(String column, ResultSet f, ResultSet p) throws SQLException;
  }

  /** Runs `sql` on both and compares each row with `check`, column by column. */
  static void compare(String sql, String[] columns, Check check) throws SQLException {
    try (Statement fs = flight.createStatement();
        Statement ps = pg.createStatement();
        ResultSet f = fs.executeQuery(sql);
        ResultSet p = ps.executeQuery(sql)) {
      int rows = 0;
      while (p.next()) {
        assertTrue(f.next(), "pgflight has fewer rows than PostgreSQL");
        rows++;
        for (String column : columns) {
          Object po = p.getObject(column);
          Object fo = f.getObject(column);
          String where = column + " in row " + rows;
          if (po == null) {
            assertNull(fo, where);
            assertTrue(f.wasNull(), where);
            continue;
          }
          assertNotNull(fo, where);
          check.compare(column, f, p);
        }
      }
      assertFalse(f.next(), "pgflight has more rows than PostgreSQL");
      assertEquals(3, rows);
    }
  }

  static String[] cols(String names) {
    return names.split(", ");
  }

  @Test
  void integersBooleansAndFloats() throws SQLException {
    compare(
        // oid is UInt32; the driver reads UInt32 as signed (4294967295 comes back as -1), so
        // cast it in SQL for JDBC.
        "SELECT id, i2, i4, i8, o::int8 AS o FROM families ORDER BY id",
        cols("id, i2, i4, i8, o"),
        (c, f, p) -> {
          assertEquals(p.getLong(c), f.getLong(c), c);
          assertEquals(p.getString(c), f.getString(c), c);
        });
    compare(
        "SELECT b FROM families ORDER BY id",
        cols("b"),
        (c, f, p) -> assertEquals(p.getBoolean(c), f.getBoolean(c)));
    compare(
        "SELECT f4, f8 FROM families ORDER BY id",
        cols("f4, f8"),
        (c, f, p) -> {
          assertEquals(p.getDouble(c), f.getDouble(c), 0.0, c);
          assertEquals(p.getObject(c).getClass(), f.getObject(c).getClass(), c);
        });
    try (Statement st = flight.createStatement();
        ResultSet rs = st.executeQuery("SELECT i2, i4, i8 FROM families WHERE id = 1")) {
      rs.next();
      assertEquals(Short.class, rs.getObject(1).getClass());
      assertEquals(Integer.class, rs.getObject(2).getClass());
      assertEquals(Long.class, rs.getObject(3).getClass());
      assertEquals(9007199254740993L, rs.getLong(3));
    }
  }

  @Test
  void numerics() throws SQLException {
    compare(
        "SELECT n, nu FROM families ORDER BY id",
        cols("n, nu"),
        (c, f, p) -> {
          BigDecimal expected = p.getBigDecimal(c);
          assertEquals(0, expected.compareTo(f.getBigDecimal(c)), c + ": " + f.getBigDecimal(c));
        });
    try (Statement st = flight.createStatement();
        ResultSet rs = st.executeQuery("SELECT n FROM families WHERE id = 1")) {
      rs.next();
      assertEquals(new BigDecimal("123456789.123"), rs.getBigDecimal(1));
      ResultSetMetaData md = rs.getMetaData();
      assertEquals(12, md.getPrecision(1));
      assertEquals(3, md.getScale(1));
    }
  }

  @Test
  void textLikeTypes() throws SQLException {
    compare(
        // ip (inet) is left out: pgflight sends inet::text, which always shows the netmask
        // ('::1/128'), where pgjdbc shows the output function's '::1' (tests/it/types.rs).
        "SELECT t, vc, c, u, j, jb, e FROM families ORDER BY id",
        cols("t, vc, c, u, j, jb, e"),
        (c, f, p) -> assertEquals(p.getString(c), f.getString(c), c));
  }

  @Test
  void bytea() throws SQLException {
    compare(
        "SELECT by FROM families ORDER BY id",
        cols("by"),
        (c, f, p) -> assertArrayEquals(p.getBytes(c), f.getBytes(c)));
  }

  @Test
  void datesAndTimes() throws SQLException {
    compare(
        "SELECT d FROM families ORDER BY id",
        cols("d"),
        (c, f, p) -> {
          assertEquals(p.getDate(c).toLocalDate(), f.getDate(c).toLocalDate(), c);
          assertEquals(p.getDate(c).toString(), f.getDate(c).toString(), c);
        });
    compare(
        "SELECT tm FROM families ORDER BY id",
        cols("tm"),
        (c, f, p) -> {
          // time of day: even getObject(col, LocalTime.class) goes through the shifted
          // getTime in the driver, so it is only right in a UTC JVM.
          if (UTC_JVM) {
            assertEquals(
                p.getObject(c, LocalTime.class).truncatedTo(ChronoUnit.SECONDS),
                f.getObject(c, LocalTime.class).truncatedTo(ChronoUnit.SECONDS),
                c);
            assertEquals(p.getTime(c).toLocalTime(), f.getTime(c).toLocalTime(), c);
          }
        });
  }

  /**
   * Driver 18.3.0's java.sql getters (getTimestamp, getTime, with or without a Calendar) shift
   * values by the JVM's offset unless the JVM runs in UTC: they build the result with
   * Timestamp.valueOf in the JVM's zone after adjusting by the connection Calendar. The values
   * on the wire are right, and the java.time accessors (getObject(col, Instant.class /
   * OffsetDateTime.class / LocalDateTime.class / LocalTime.class)) read them right in every
   * zone: those are asserted always, the java.sql getters only in a UTC JVM.
   */
  static final boolean UTC_JVM =
      ZoneId.systemDefault().normalized().equals(ZoneOffset.UTC);

  @Test
  void timestampsWithoutTimeZone() throws SQLException {
    Calendar utc = Calendar.getInstance(TimeZone.getTimeZone("UTC"));
    compare(
        "SELECT ts FROM families ORDER BY id",
        cols("ts"),
        (c, f, p) -> {
          // The wall-clock value, whatever the JVM's zone.
          LocalDateTime expected = p.getObject(c, LocalDateTime.class);
          assertEquals(expected, f.getObject(c, LocalDateTime.class), c);
          if (UTC_JVM) {
            assertEquals(p.getTimestamp(c), f.getTimestamp(c), c);
            assertEquals(p.getTimestamp(c, utc), f.getTimestamp(c, utc), c + " with a Calendar");
          }
        });
  }

  @Test
  void timestampsWithTimeZone() throws SQLException {
    compare(
        "SELECT tstz FROM families ORDER BY id",
        cols("tstz"),
        (c, f, p) -> {
          OffsetDateTime expected = p.getObject(c, OffsetDateTime.class);
          assertEquals(expected.toInstant(), f.getObject(c, Instant.class), c);
          assertEquals(expected.toInstant(), f.getObject(c, OffsetDateTime.class).toInstant(), c);
          if (UTC_JVM) {
            assertEquals(p.getTimestamp(c).toInstant(), f.getTimestamp(c).toInstant(), c);
            assertEquals(p.getTimestamp(c).getNanos(), f.getTimestamp(c).getNanos(), c);
          }
        });
    try (Statement st = flight.createStatement();
        ResultSet rs = st.executeQuery("SELECT tstz FROM families WHERE id = 1")) {
      rs.next();
      assertEquals(Instant.parse("2024-11-03T08:30:00.500Z"), rs.getObject(1, Instant.class));
    }
  }

  @Test
  void intervals() throws SQLException {
    try (Statement st = flight.createStatement();
        ResultSet rs = st.executeQuery("SELECT iv FROM families ORDER BY id")) {
      assertTrue(rs.next());
      assertNotNull(rs.getObject(1));
      assertNotNull(rs.getString(1));
      assertTrue(rs.next());
      assertNotNull(rs.getObject(1));
      assertTrue(rs.next());
      assertNull(rs.getObject(1));
    }
  }

  static List<String> elements(Array array) throws SQLException {
    List<String> out = new ArrayList<>();
    for (Object o : (Object[]) array.getArray()) {
      out.add(String.valueOf(o));
    }
    return out;
  }

  @Test
  void arrays() throws SQLException {
    compare(
        "SELECT ai, at FROM families ORDER BY id",
        cols("ai, at"),
        (c, f, p) -> assertEquals(elements(p.getArray(c)), elements(f.getArray(c)), c));
    try (Statement st = flight.createStatement();
        ResultSet rs = st.executeQuery("SELECT ai FROM families WHERE id = 1")) {
      rs.next();
      assertEquals(Arrays.asList(1, null, 3), Arrays.asList((Object[]) rs.getArray(1).getArray()));
    }
  }
}
