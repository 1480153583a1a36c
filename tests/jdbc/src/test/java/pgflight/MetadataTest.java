package pgflight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What DBeaver reads when it opens a connection and browses the navigator. */
class MetadataTest {
  static Connection conn;
  static DatabaseMetaData meta;

  @BeforeAll
  static void open() throws SQLException {
    conn = Env.flight();
    meta = conn.getMetaData();
  }

  @AfterAll
  static void close() throws SQLException {
    conn.close();
  }

  static List<String> column(ResultSet rs, String name) throws SQLException {
    List<String> values = new ArrayList<>();
    try (rs) {
      while (rs.next()) {
        values.add(rs.getString(name));
      }
    }
    return values;
  }

  @Test
  void catalogsAndSchemas() throws SQLException {
    assertEquals(List.of(Env.database()), column(meta.getCatalogs(), "TABLE_CAT"));
    List<String> schemas = column(meta.getSchemas(), "TABLE_SCHEM");
    assertTrue(schemas.contains("public"), schemas.toString());
    assertFalse(schemas.contains("pg_toast"), schemas.toString());
    assertEquals(List.of("public"), column(meta.getSchemas(Env.database(), "pub%"), "TABLE_SCHEM"));
  }

  @Test
  void tablesOfEachType() throws SQLException {
    List<String> types = column(meta.getTableTypes(), "TABLE_TYPE");
    assertTrue(types.containsAll(List.of("TABLE", "VIEW", "MATERIALIZED VIEW")), types.toString());
    Map<String, List<String>> expected =
        Map.of(
            "TABLE", List.of("customers", "families", "orders"),
            "VIEW", List.of("customer_totals"),
            "MATERIALIZED VIEW", List.of("order_counts"));
    for (Map.Entry<String, List<String>> e : expected.entrySet()) {
      List<String> names =
          column(meta.getTables(null, "public", "%", new String[] {e.getKey()}), "TABLE_NAME");
      assertEquals(e.getValue(), new ArrayList<>(new TreeSet<>(names)), e.getKey());
    }
    List<String> all = column(meta.getTables(null, "public", "cust%", null), "TABLE_NAME");
    assertEquals(List.of("customer_totals", "customers"), new ArrayList<>(new TreeSet<>(all)));
    try (ResultSet rs = meta.getTables(Env.database(), "public", "customers", null)) {
      assertTrue(rs.next());
      assertEquals(Env.database(), rs.getString("TABLE_CAT"));
      assertEquals("TABLE", rs.getString("TABLE_TYPE"));
    }
  }

  /** One row of getColumns, by column name. */
  static Map<String, Map<String, Object>> columns(String table) throws SQLException {
    Map<String, Map<String, Object>> out = new HashMap<>();
    try (ResultSet rs = meta.getColumns(null, "public", table, "%")) {
      while (rs.next()) {
        Map<String, Object> row = new HashMap<>();
        for (String key :
            List.of(
                "TYPE_NAME",
                "DATA_TYPE",
                "COLUMN_SIZE",
                "DECIMAL_DIGITS",
                "IS_NULLABLE",
                "REMARKS",
                "IS_AUTOINCREMENT",
                "ORDINAL_POSITION")) {
          row.put(key, rs.getObject(key));
        }
        out.put(rs.getString("COLUMN_NAME"), row);
      }
    }
    return out;
  }

  @Test
  void columnsOfATable() throws SQLException {
    Map<String, Map<String, Object>> cols = columns("families");
    assertEquals(27, cols.size(), cols.keySet().toString());
    Object[][] expected = {
      // column, TYPE_NAME (PostgreSQL's format_type), DATA_TYPE (from the Arrow type)
      {"id", "integer", Types.INTEGER},
      {"b", "boolean", Types.BOOLEAN},
      {"i2", "smallint", Types.SMALLINT},
      {"i8", "bigint", Types.BIGINT},
      {"f4", "real", Types.FLOAT},
      {"f8", "double precision", Types.DOUBLE},
      {"n", "numeric(12,3)", Types.DECIMAL},
      {"t", "text", Types.VARCHAR},
      {"vc", "character varying(10)", Types.VARCHAR},
      {"by", "bytea", Types.VARBINARY},
      {"d", "date", Types.DATE},
      {"tm", "time without time zone", Types.TIME},
      {"ts", "timestamp without time zone", Types.TIMESTAMP},
      {"tstz", "timestamp with time zone", Types.TIMESTAMP_WITH_TIMEZONE},
      {"ai", "integer[]", Types.ARRAY},
    };
    List<String> wrong = new ArrayList<>();
    for (Object[] e : expected) {
      Map<String, Object> col = cols.get((String) e[0]);
      assertNotNull(col, (String) e[0]);
      if (!e[1].equals(col.get("TYPE_NAME"))
          || (Integer) e[2] != ((Number) col.get("DATA_TYPE")).intValue()) {
        wrong.add(e[0] + ": " + col.get("TYPE_NAME") + " " + col.get("DATA_TYPE"));
      }
    }
    assertEquals(List.of(), wrong);
    assertEquals(12, ((Number) cols.get("n").get("COLUMN_SIZE")).intValue());
    assertEquals(3, ((Number) cols.get("n").get("DECIMAL_DIGITS")).intValue());
    assertEquals(10, ((Number) cols.get("vc").get("COLUMN_SIZE")).intValue());
    assertEquals("NO", cols.get("id").get("IS_NULLABLE"));
    assertEquals("YES", cols.get("b").get("IS_NULLABLE"));
    assertEquals(1, ((Number) cols.get("id").get("ORDINAL_POSITION")).intValue());
    assertEquals(120, ((Number) columns("customers").get("email").get("COLUMN_SIZE")).intValue());
  }

  /** REMARKS from pg_description, IS_AUTOINCREMENT for identity and serial columns. */
  @Test
  void remarksAndAutoIncrement() throws SQLException {
    Map<String, Map<String, Object>> customers = columns("customers");
    assertEquals("Full name, as written by the customer", customers.get("name").get("REMARKS"));
    assertNull(customers.get("email").get("REMARKS"));
    assertEquals("YES", customers.get("id").get("IS_AUTOINCREMENT"), "identity");
    assertEquals("NO", customers.get("name").get("IS_AUTOINCREMENT"));
    assertEquals("YES", columns("orders").get("id").get("IS_AUTOINCREMENT"), "bigserial");
    assertEquals("NO", columns("orders").get("customer_id").get("IS_AUTOINCREMENT"));
    assertEquals("numeric(12,3): Decimal128(12,3)", columns("families").get("n").get("REMARKS"));
  }

  /** The same facts in a result set's metadata (a single-relation query is planned from it). */
  @Test
  void resultSetMetaData() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT id, name FROM customers")) {
      ResultSetMetaData md = rs.getMetaData();
      assertTrue(md.isAutoIncrement(1));
      assertFalse(md.isAutoIncrement(2));
      assertTrue(md.isReadOnly(1) && md.isReadOnly(2));
      assertEquals("customers", md.getTableName(1));
      assertEquals("public", md.getSchemaName(1));
      assertEquals(ResultSetMetaData.columnNoNulls, md.isNullable(2));
    }
  }

  @Test
  void keys() throws SQLException {
    try (ResultSet rs = meta.getPrimaryKeys(null, "public", "orders")) {
      assertTrue(rs.next());
      assertEquals("id", rs.getString("COLUMN_NAME"));
      assertEquals(1, rs.getInt("KEY_SEQ"));
      assertFalse(rs.next());
    }
    for (ResultSet rs :
        List.of(
            meta.getImportedKeys(null, "public", "orders"),
            meta.getExportedKeys(null, "public", "customers"),
            meta.getCrossReference(null, "public", "customers", null, "public", "orders"))) {
      try (rs) {
        assertTrue(rs.next());
        assertEquals("customers", rs.getString("PKTABLE_NAME"));
        assertEquals("id", rs.getString("PKCOLUMN_NAME"));
        assertEquals("orders", rs.getString("FKTABLE_NAME"));
        assertEquals("customer_id", rs.getString("FKCOLUMN_NAME"));
        assertEquals("public", rs.getString("FKTABLE_SCHEM"));
        assertFalse(rs.next());
      }
    }
    try (ResultSet rs = meta.getCrossReference(null, "public", "orders", null, "public", "customers")) {
      assertFalse(rs.next());
    }
  }

  @Test
  void typeInfo() throws SQLException {
    // The driver does not implement getTypeInfo (it never sends GetXdbcTypeInfo): no rows,
    // but no error either (DBeaver calls it).
    column(meta.getTypeInfo(), "TYPE_NAME");
  }

  @Test
  void whatDbeaverReads() throws SQLException {
    assertEquals("\"", meta.getIdentifierQuoteString());
    List<String> keywords =
        Arrays.stream(meta.getSQLKeywords().split(",")).map(String::trim).toList();
    assertTrue(keywords.containsAll(List.of("ILIKE", "LIMIT", "RETURNING")), keywords.toString());
    assertTrue(meta.supportsANSI92EntryLevelSQL());
    assertTrue(meta.isReadOnly());
    assertEquals("pgflight", meta.getDatabaseProductName());
    assertTrue(meta.getDatabaseProductVersion().contains("PostgreSQL"), meta.getDatabaseProductVersion());
    assertEquals(63, meta.getMaxColumnNameLength());
    assertEquals(63, meta.getMaxTableNameLength());
    assertEquals(63, meta.getMaxSchemaNameLength());
    assertTrue(meta.supportsOuterJoins());
    assertTrue(meta.supportsGroupBy());
    // storesLowerCaseIdentifiers() and friends: the driver does not read them from SqlInfo
    // (Avatica's defaults answer), so they are not asserted.
    assertEquals(".", meta.getCatalogSeparator());
    assertNotNull(meta.getSearchStringEscape());
  }
}
