//! What `pgflight check` reports about a database: server version, TLS state, the role's
//! powers, and which relations of the configured schema it can read.

use crate::pg::roles::{RolePowers, role_powers};
use crate::pg::{PgError, PgPool};

/// Facts about the server and the configured role, as one session sees them.
#[derive(Debug, Clone)]
pub struct ServerReport {
    /// PostgreSQL's `server_version`.
    pub version: String,
    /// `server_version_num`, e.g. 150018.
    pub version_num: i32,
    /// TLS protocol and cipher of this session, when encrypted.
    pub tls: Option<String>,
    /// The role the session runs as.
    pub user: String,
    /// Whether the role is a superuser.
    pub superuser: bool,
    /// Whether sessions default to read-only transactions (pgflight's sessions always should).
    pub read_only: bool,
    /// Relations of the schema the role may SELECT from.
    pub readable: Vec<String>,
    /// Relations of the schema the role may not SELECT from.
    pub unreadable: Vec<String>,
    /// Tables of the schema the role could write to outside pgflight (least privilege check).
    pub writable: Vec<String>,
    /// The role's attributes and predefined-role memberships.
    pub powers: RolePowers,
    /// `wal_level` (`logical` is what change data capture needs).
    pub wal_level: String,
}

/// Gathers the report for `schema` through one pooled session.
pub async fn server_report(pool: &PgPool, schema: &str) -> Result<ServerReport, PgError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'),
                    current_setting('server_version_num')::int,
                    (SELECT CASE WHEN ssl THEN version || ' ' || cipher END
                       FROM pg_stat_ssl WHERE pid = pg_backend_pid()),
                    current_user::text,
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                    current_setting('default_transaction_read_only') = 'on',
                    current_setting('wal_level')",
            &[],
        )
        .await
        .map_err(|e| pool.error(e))?;
    let relations = client
        .query(
            "SELECT c.relname::text,
                    has_table_privilege(c.oid, 'SELECT'),
                    c.relkind IN ('r', 'p')
                      AND (has_table_privilege(c.oid, 'INSERT')
                           OR has_table_privilege(c.oid, 'UPDATE')
                           OR has_table_privilege(c.oid, 'DELETE'))
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
                AND NOT c.relispartition
              ORDER BY c.relname",
            &[&schema],
        )
        .await
        .map_err(|e| pool.error(e))?;
    let powers = role_powers(&client).await.map_err(|e| pool.error(e))?;
    let mut report = ServerReport {
        version: row.get(0),
        version_num: row.get(1),
        tls: row.get(2),
        user: row.get(3),
        superuser: row.get::<_, Option<bool>>(4).unwrap_or(false),
        read_only: row.get(5),
        readable: Vec::new(),
        unreadable: Vec::new(),
        writable: Vec::new(),
        powers,
        wal_level: row.get(6),
    };
    for relation in relations {
        let name: String = relation.get(0);
        if relation.get::<_, bool>(2) {
            report.writable.push(name.clone());
        }
        if relation.get::<_, bool>(1) {
            report.readable.push(name);
        } else {
            report.unreadable.push(name);
        }
    }
    Ok(report)
}
