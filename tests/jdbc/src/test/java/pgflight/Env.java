package pgflight;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Where the servers are: tests/clients/test_jdbc.py starts PostgreSQL and several pgflight
 * servers, then runs this suite with their addresses in PGFLIGHT_JDBC_* variables.
 */
final class Env {
  private Env() {}

  static String get(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      throw new IllegalStateException(
          name + " is not set: run this suite through tests/clients/test_jdbc.py (scripts/test.sh)");
    }
    return value;
  }

  /** The configured PostgreSQL database: pgflight's one catalog. */
  static String database() {
    return get("PGFLIGHT_JDBC_DATABASE");
  }

  static String url(String portVariable, String options) {
    return "jdbc:arrow-flight-sql://127.0.0.1:" + get(portVariable) + "?" + options;
  }

  /** A connection to the server with auth = "none", as DBeaver opens it. */
  static Connection flight() throws SQLException {
    return DriverManager.getConnection(url("PGFLIGHT_JDBC_PORT", "useEncryption=false"));
  }

  static Connection flight(String portVariable, Properties properties) throws SQLException {
    return DriverManager.getConnection(url(portVariable, "useEncryption=false"), properties);
  }

  /** PostgreSQL itself (pgjdbc), to compare with. */
  static Connection postgres() throws SQLException {
    return DriverManager.getConnection(
        get("PGFLIGHT_JDBC_PG_URL"), get("PGFLIGHT_JDBC_PG_USER"), get("PGFLIGHT_JDBC_PG_PASSWORD"));
  }

  /** The users the password server knows: user → password (PGFLIGHT_JDBC_USERS, user:password lines). */
  static Map<String, String> users() {
    Map<String, String> users = new LinkedHashMap<>();
    for (String line : get("PGFLIGHT_JDBC_USERS").split("\n")) {
      int colon = line.indexOf(':');
      users.put(line.substring(0, colon), line.substring(colon + 1));
    }
    return users;
  }
}
