package pgflight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** Connecting as DBeaver does: with and without credentials, catalog/schema, TLS and mTLS. */
class ConnectTest {
  static long count(Connection conn, String sql) throws SQLException {
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      assertTrue(rs.next());
      return rs.getLong(1);
    }
  }

  @Test
  void withoutCredentials() throws SQLException {
    try (Connection conn = Env.flight()) {
      assertEquals(3, count(conn, "SELECT count(*) FROM customers"));
      assertTrue(conn.isValid(5));
    }
  }

  /**
   * Closes a connection opened with the `catalog` property. Driver 18.3.0 closes its client
   * twice, and the second CloseSession runs on a channel already shut down: close() throws
   * "Channel shutdown invoked" (a driver bug; the session was closed by the first call).
   */
  static void closeCatalogConnection(Connection conn) {
    try {
      conn.close();
    } catch (SQLException e) {
      assertTrue(String.valueOf(e.getMessage()).contains("Channel shutdown"), e.getMessage());
    }
  }

  @Test
  void withCatalogAndSchemaProperties() throws SQLException {
    Properties props = new Properties();
    props.setProperty("catalog", Env.database());
    // Not a driver property: the driver sends it as a gRPC header, which pgflight ignores.
    props.setProperty("schema", "public");
    Connection conn = Env.flight("PGFLIGHT_JDBC_PORT", props);
    try {
      assertEquals(3, count(conn, "SELECT count(*) FROM orders"));
    } finally {
      closeCatalogConnection(conn);
    }
    Properties other = new Properties();
    other.setProperty("catalog", "no_such_database");
    SQLException err =
        assertThrows(SQLException.class, () -> Env.flight("PGFLIGHT_JDBC_PORT", other));
    assertTrue(String.valueOf(err.getMessage()).contains("catalog"), err.getMessage());
  }

  @Test
  void passwordAuthEveryUser() throws SQLException {
    for (Map.Entry<String, String> user : Env.users().entrySet()) {
      Properties props = new Properties();
      props.setProperty("user", user.getKey());
      props.setProperty("password", user.getValue());
      try (Connection conn = Env.flight("PGFLIGHT_JDBC_AUTH_PORT", props)) {
        assertEquals(3, count(conn, "SELECT count(*) FROM customers"), user.getKey());
      }
    }
  }

  @Test
  void wrongOrMissingPasswordIsRefused() {
    Map.Entry<String, String> user = Env.users().entrySet().iterator().next();
    Properties wrong = new Properties();
    wrong.setProperty("user", user.getKey());
    wrong.setProperty("password", user.getValue() + "x");
    SQLException err =
        assertThrows(
            SQLException.class,
            () -> count(Env.flight("PGFLIGHT_JDBC_AUTH_PORT", wrong), "SELECT 1"));
    assertTrue(String.valueOf(err.getMessage()).toLowerCase().contains("auth"), err.getMessage());
    assertThrows(
        SQLException.class,
        () -> count(Env.flight("PGFLIGHT_JDBC_AUTH_PORT", new Properties()), "SELECT 1"));
  }

  @Test
  void tls() throws SQLException {
    String url =
        "jdbc:arrow-flight-sql://localhost:"
            + Env.get("PGFLIGHT_JDBC_TLS_PORT")
            + "?useEncryption=true&useSystemTrustStore=false&tlsRootCerts="
            + Env.get("PGFLIGHT_JDBC_CA");
    try (Connection conn = DriverManager.getConnection(url)) {
      assertEquals(3, count(conn, "SELECT count(*) FROM customers"));
    }
    // Plaintext to a TLS port fails.
    assertThrows(
        SQLException.class,
        () ->
            count(
                DriverManager.getConnection(
                    "jdbc:arrow-flight-sql://127.0.0.1:"
                        + Env.get("PGFLIGHT_JDBC_TLS_PORT")
                        + "?useEncryption=false"),
                "SELECT 1"));
  }

  @Test
  void mutualTls() throws SQLException {
    String base =
        "jdbc:arrow-flight-sql://localhost:"
            + Env.get("PGFLIGHT_JDBC_MTLS_PORT")
            + "?useEncryption=true&useSystemTrustStore=false&tlsRootCerts="
            + Env.get("PGFLIGHT_JDBC_CA");
    String withCert =
        base
            + "&clientCertificate="
            + Env.get("PGFLIGHT_JDBC_CLIENT_CERT")
            + "&clientKey="
            + Env.get("PGFLIGHT_JDBC_CLIENT_KEY");
    try (Connection conn = DriverManager.getConnection(withCert)) {
      assertEquals(3, count(conn, "SELECT count(*) FROM customers"));
    }
    assertThrows(
        SQLException.class, () -> count(DriverManager.getConnection(base), "SELECT 1"));
  }
}
