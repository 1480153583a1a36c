//! What the role pgflight logs in as may do beyond reading: superuser, BYPASSRLS, membership
//! of the roles that reach the server's files and programs. pgflight refuses to serve as such
//! a role unless `allow_superuser = true` (DESIGN.md "Security"): any client that reaches the
//! port would otherwise read server files or other roles' password hashes through SQL.

use tokio_postgres::Client;

use crate::pg::sql::quote_ident;

/// Predefined roles whose members reach the server's files or programs through SQL.
pub const SERVER_ACCESS_ROLES: [&str; 3] = [
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
];

/// Predefined roles reported by `pgflight check` (not refused): they widen what a client may
/// see or do, but not beyond the database.
const REPORTED_ROLES: [&str; 6] = [
    "pg_signal_backend",
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_read_all_settings",
    "pg_read_all_stats",
    "pg_monitor",
];

/// The attributes and memberships of the role a session runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePowers {
    /// The role's name.
    pub role: String,
    /// `rolsuper`.
    pub superuser: bool,
    /// `rolbypassrls`: row-level security does not apply to it.
    pub bypass_rls: bool,
    /// `rolreplication`.
    pub replication: bool,
    /// `rolcreaterole`.
    pub create_role: bool,
    /// `rolcreatedb`.
    pub create_db: bool,
    /// The predefined roles (of [`SERVER_ACCESS_ROLES`] and the reported ones) it is a member
    /// of, directly or through other roles.
    pub memberships: Vec<String>,
    /// Superuser roles it is a member of (it may `SET ROLE` to a superuser).
    pub superuser_roles: Vec<String>,
}

/// The statement that reads [`RolePowers`] of `current_user` (PostgreSQL 12+; a predefined
/// role that a version lacks is simply not found).
const POWERS_SQL: &str = "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, r.rolreplication,
        r.rolcreaterole, r.rolcreatedb,
        ARRAY(SELECT g.rolname::text FROM pg_roles g
               WHERE g.rolname = ANY($1) AND g.oid <> r.oid
                 AND pg_has_role(r.oid, g.oid, 'MEMBER')
               ORDER BY g.rolname),
        ARRAY(SELECT g.rolname::text FROM pg_roles g
               WHERE g.rolsuper AND g.oid <> r.oid AND pg_has_role(r.oid, g.oid, 'MEMBER')
               ORDER BY g.rolname)
   FROM pg_roles r WHERE r.rolname = current_user";

/// Reads the powers of the role `client` runs as.
pub async fn role_powers(client: &Client) -> Result<RolePowers, tokio_postgres::Error> {
    let names: Vec<&str> = SERVER_ACCESS_ROLES
        .iter()
        .chain(REPORTED_ROLES.iter())
        .copied()
        .collect();
    let row = client.query_one(POWERS_SQL, &[&names]).await?;
    Ok(RolePowers {
        role: row.get(0),
        superuser: row.get(1),
        bypass_rls: row.get(2),
        replication: row.get(3),
        create_role: row.get(4),
        create_db: row.get(5),
        memberships: row.get(6),
        superuser_roles: row.get(7),
    })
}

impl RolePowers {
    /// Why pgflight refuses to serve as this role; empty when it may.
    pub fn dangers(&self) -> Vec<String> {
        let mut dangers = Vec::new();
        if self.superuser {
            dangers.push(
                "it is a superuser (it reads server files and other roles' password hashes, \
                 signals any session, bypasses row-level security)"
                    .to_string(),
            );
        }
        if !self.superuser && !self.superuser_roles.is_empty() {
            dangers.push(format!(
                "it is a member of the superuser role(s) {} (it may SET ROLE to them)",
                self.superuser_roles.join(", ")
            ));
        }
        if self.bypass_rls {
            dangers.push("it has BYPASSRLS (row-level security does not apply to it)".into());
        }
        for role in &self.memberships {
            if SERVER_ACCESS_ROLES.contains(&role.as_str()) {
                dangers.push(format!(
                    "it is a member of {role} (the server's files or programs, through SQL)"
                ));
            }
        }
        dangers
    }

    /// The attributes and memberships worth reporting (`pgflight check`), in words.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (set, name) in [
            (self.superuser, "SUPERUSER"),
            (self.bypass_rls, "BYPASSRLS"),
            (self.replication, "REPLICATION"),
            (self.create_role, "CREATEROLE"),
            (self.create_db, "CREATEDB"),
        ] {
            if set {
                parts.push(name.to_string());
            }
        }
        if !self.memberships.is_empty() {
            parts.push(format!("member of {}", self.memberships.join(", ")));
        }
        if !self.superuser_roles.is_empty() {
            parts.push(format!(
                "member of superuser role(s) {}",
                self.superuser_roles.join(", ")
            ));
        }
        if parts.is_empty() {
            "no special attributes or predefined-role memberships".into()
        } else {
            parts.join("; ")
        }
    }

    /// The refusal: why, and the SQL that makes a read-only role for `database` and `schema`.
    pub fn refusal(&self, database: &str, schema: &str) -> String {
        format!(
            "pgflight refuses to serve as role {role}: {why}. Any client that reaches pgflight \
             would run SQL with these powers. Serve as a read-only role instead, e.g. (as an \
             administrator; ALTER DEFAULT PRIVILEGES as the role that creates the tables):\n{sql}\n\
             then set username = \"pgflight_reader\" (and its password). To serve as {role} \
             anyway, set allow_superuser = true (pgflight then warns at every start)",
            role = quote_ident(&self.role),
            why = self.dangers().join("; "),
            sql = reader_role_sql("pgflight_reader", database, schema),
        )
    }
}

/// The SQL that creates a login role `role` that can read every relation of `schema`, now and
/// later.
pub fn reader_role_sql(role: &str, database: &str, schema: &str) -> String {
    let role = quote_ident(role);
    let schema = quote_ident(schema);
    [
        format!("  CREATE ROLE {role} LOGIN PASSWORD '<a strong password>';"),
        format!(
            "  GRANT CONNECT ON DATABASE {} TO {role};",
            quote_ident(database)
        ),
        format!("  GRANT USAGE ON SCHEMA {schema} TO {role};"),
        format!("  GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};"),
        format!("  ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role};"),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> RolePowers {
        RolePowers {
            role: "reader".into(),
            superuser: false,
            bypass_rls: false,
            replication: false,
            create_role: false,
            create_db: false,
            memberships: vec![],
            superuser_roles: vec![],
        }
    }

    #[test]
    fn a_plain_role_has_no_dangers() {
        assert!(reader().dangers().is_empty());
        let escalates = RolePowers {
            superuser_roles: vec!["admin".into()],
            ..reader()
        };
        assert!(escalates.dangers()[0].contains("SET ROLE"));
        let monitor = RolePowers {
            memberships: vec!["pg_monitor".into()],
            ..reader()
        };
        assert!(monitor.dangers().is_empty());
        assert_eq!(monitor.describe(), "member of pg_monitor");
    }

    #[test]
    fn superuser_bypassrls_and_server_file_roles_are_dangers() {
        let files = RolePowers {
            bypass_rls: true,
            memberships: vec!["pg_read_server_files".into()],
            ..reader()
        };
        let dangers = files.dangers();
        assert_eq!(dangers.len(), 2, "{dangers:?}");
        assert!(dangers[1].contains("pg_read_server_files"));
        let root = RolePowers {
            role: "postgres".into(),
            superuser: true,
            ..reader()
        };
        let message = root.refusal("my db", "public");
        assert!(message.contains("superuser"), "{message}");
        assert!(
            message.contains("GRANT CONNECT ON DATABASE \"my db\""),
            "{message}"
        );
        assert!(message.contains("allow_superuser = true"), "{message}");
    }
}
