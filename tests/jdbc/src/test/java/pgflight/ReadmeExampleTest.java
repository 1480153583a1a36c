package pgflight;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * README "Clients" (JDBC) quotes the lines between the markers; test_readme.py checks that the
 * README and this file agree.
 */
class ReadmeExampleTest {
  static String firstCustomer(String port, String user, String password) throws SQLException {
    // README-BEGIN
    String url = "jdbc:arrow-flight-sql://localhost:" + port + "?useEncryption=false";
    Properties props = new Properties();
    props.setProperty("user", user); // with auth = "password"
    props.setProperty("password", password);
    try (Connection conn = DriverManager.getConnection(url, props);
        PreparedStatement ps = conn.prepareStatement("SELECT name FROM customers WHERE id = ?")) {
      ps.setInt(1, 1);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString("name");
      }
    }
    // README-END
  }

  @Test
  void readmeExample() throws SQLException {
    Map.Entry<String, String> user = Env.users().entrySet().iterator().next();
    assertEquals(
        "Ada", firstCustomer(Env.get("PGFLIGHT_JDBC_AUTH_PORT"), user.getKey(), user.getValue()));
  }
}
