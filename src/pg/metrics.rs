//! What PostgreSQL access records for Prometheus (through the `metrics` facade; the recorder
//! and `/metrics` live in `telemetry`): statements run and their duration, rows extracted,
//! errors by kind, and the pool's occupancy.

use std::time::Instant;

use crate::pg::{PgError, PoolStatus};

/// Statements sent to PostgreSQL, by `kind` (`copy`, `catalog`, `metadata`).
pub const QUERIES_TOTAL: &str = "postgres_queries_total";
/// How long statements took, by `kind` (for a COPY: until its last row was handed on).
pub const QUERY_DURATION_SECONDS: &str = "postgres_query_duration_seconds";
/// Rows decoded from COPY streams and handed to readers.
pub const ROWS_EXTRACTED_TOTAL: &str = "postgres_rows_extracted_total";
/// Failures, by `kind` (see [`error_kind`]).
pub const ERRORS_TOTAL: &str = "postgres_errors_total";
/// Pooled connections checked out and in use now.
pub const CONNECTIONS_ACTIVE: &str = "postgres_connections_active";
/// `max_connections`: the pool's size limit.
pub const POOL_SIZE: &str = "postgres_pool_size";
/// Connections open now (busy or idle).
pub const POOL_OPEN: &str = "postgres_pool_connections_open";
/// Open connections idle in the pool.
pub const POOL_IDLE: &str = "postgres_pool_idle";
/// Requests waiting for a connection.
pub const POOL_WAITING: &str = "postgres_pool_waiting";

/// Describes the metrics above to the recorder (HELP lines).
pub fn describe() {
    metrics::describe_counter!(QUERIES_TOTAL, "Statements sent to PostgreSQL, by kind");
    metrics::describe_histogram!(
        QUERY_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Statement duration, by kind (a COPY until its last row was handed on)"
    );
    metrics::describe_counter!(ROWS_EXTRACTED_TOTAL, "Rows extracted from PostgreSQL");
    metrics::describe_counter!(ERRORS_TOTAL, "PostgreSQL failures, by kind");
    metrics::describe_gauge!(CONNECTIONS_ACTIVE, "PostgreSQL connections in use");
    metrics::describe_gauge!(POOL_SIZE, "Connection pool size limit (max_connections)");
    metrics::describe_gauge!(POOL_OPEN, "PostgreSQL connections open (in use or idle)");
    metrics::describe_gauge!(POOL_IDLE, "PostgreSQL connections idle in the pool");
    metrics::describe_gauge!(POOL_WAITING, "Requests waiting for a PostgreSQL connection");
    // Series that exist from the start, so that rate() and alerts see a 0 before the first event.
    metrics::counter!(ROWS_EXTRACTED_TOTAL).increment(0);
    for kind in ERROR_KINDS {
        metrics::counter!(ERRORS_TOTAL, "kind" => kind).increment(0);
    }
}

/// Every value of the `kind` label of [`ERRORS_TOTAL`].
pub const ERROR_KINDS: [&str; 19] = [
    "refused",
    "connect_timeout",
    "auth",
    "tls",
    "unknown_database",
    "too_many_connections",
    "pool_exhausted",
    "timeout",
    "cancelled",
    "read_only",
    "sql",
    "connection_lost",
    "client",
    "decode",
    "snapshot_expired",
    "setup",
    "unsafe_role",
    "change_stream",
    "changes_unavailable",
];

/// The `kind` label of [`ERRORS_TOTAL`] (one of [`ERROR_KINDS`]): the seed connector's classes
/// (`refused`, `auth`, `tls`, `timeout` for a statement timeout) and pgflight's finer ones.
pub fn error_kind(err: &PgError) -> &'static str {
    match err {
        PgError::Refused { .. } => "refused",
        PgError::ConnectTimeout { .. } => "connect_timeout",
        PgError::Auth { .. } => "auth",
        PgError::Tls { .. } => "tls",
        PgError::UnknownDatabase { .. } => "unknown_database",
        PgError::TooManyConnections { .. } => "too_many_connections",
        PgError::PoolExhausted { .. } => "pool_exhausted",
        PgError::QueryTimeout { .. } => "timeout",
        PgError::Cancelled { .. } => "cancelled",
        PgError::ReadOnly { .. } => "read_only",
        PgError::Sql(_) => "sql",
        PgError::ConnectionLost { .. } => "connection_lost",
        PgError::Client { .. } => "client",
        PgError::Decode(_) => "decode",
        PgError::SnapshotExpired => "snapshot_expired",
        PgError::Setup(_) => "setup",
        PgError::InvalidRead(_) => "client",
        PgError::UnsafeRole { .. } => "unsafe_role",
        PgError::ChangeStream(_) => "change_stream",
        PgError::ChangesUnavailable(_) => "changes_unavailable",
    }
}

/// Counts one failure.
pub fn record_error(err: &PgError) {
    metrics::counter!(ERRORS_TOTAL, "kind" => error_kind(err)).increment(1);
}

/// Counts `rows` more rows extracted.
pub fn record_rows(rows: u64) {
    metrics::counter!(ROWS_EXTRACTED_TOTAL).increment(rows);
}

/// Publishes a pool's occupancy.
pub fn record_pool(status: PoolStatus) {
    metrics::gauge!(POOL_SIZE).set(status.max_size as f64);
    metrics::gauge!(POOL_OPEN).set(status.open as f64);
    metrics::gauge!(POOL_IDLE).set(status.idle as f64);
    metrics::gauge!(POOL_WAITING).set(status.waiting as f64);
    metrics::gauge!(CONNECTIONS_ACTIVE).set(status.open.saturating_sub(status.idle) as f64);
}

/// One statement: counted when it starts, its duration recorded when it ends.
pub struct QueryTimer {
    kind: &'static str,
    started: Instant,
}

impl QueryTimer {
    /// Counts a statement of `kind` and starts its clock.
    pub fn start(kind: &'static str) -> QueryTimer {
        metrics::counter!(QUERIES_TOTAL, "kind" => kind).increment(1);
        QueryTimer {
            kind,
            started: Instant::now(),
        }
    }

    /// Records the statement's duration.
    pub fn finish(self) {
        metrics::histogram!(QUERY_DURATION_SECONDS, "kind" => self.kind)
            .record(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_is_listed() {
        let samples = [
            PgError::Refused {
                target: String::new(),
                reason: String::new(),
            },
            PgError::Auth {
                user: String::new(),
                message: String::new(),
            },
            PgError::Setup(String::new()),
        ];
        for err in &samples {
            assert!(ERROR_KINDS.contains(&error_kind(err)));
        }
    }
}
