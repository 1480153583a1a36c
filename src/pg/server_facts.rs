//! What GetSqlInfo reports about the PostgreSQL server itself, asked in one query: its version,
//! its SQL keywords (`pg_get_keywords()`), its identifier length limit and its connection limit.

use crate::pg::{PgError, PgPool};

/// Facts about the PostgreSQL server behind the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    /// `server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)".
    pub version: String,
    /// Every keyword the server's parser knows, upper case, sorted.
    pub keywords: Vec<String>,
    /// Longest identifier in bytes (`max_identifier_length`, 63 by default).
    pub max_identifier_length: i64,
    /// The server's `max_connections`.
    pub max_connections: i64,
}

/// Asks the server, in one round trip.
pub async fn server_facts(pool: &PgPool) -> Result<ServerFacts, PgError> {
    let client = pool.get().await?;
    let row = client
        .query_one(SERVER_FACTS_SQL, &[])
        .await
        .map_err(|e| pool.error(e))?;
    Ok(ServerFacts {
        version: row.get(0),
        keywords: row.get(1),
        max_identifier_length: row.get(2),
        max_connections: row.get(3),
    })
}

const SERVER_FACTS_SQL: &str = "SELECT current_setting('server_version'), \
     array(SELECT upper(word) FROM pg_get_keywords() ORDER BY 1), \
     current_setting('max_identifier_length')::int8, \
     current_setting('max_connections')::int8";
