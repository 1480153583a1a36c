//! One error type for PostgreSQL access, with failures classified the way a person fixes them
//! (the seed connector's troubleshooting words: connection refused, authentication failed, SSL
//! connection failed, query timeout). The Flight layer maps each variant to a gRPC status.

use std::error::Error as StdError;
use std::time::Duration;

use tokio_postgres::error::{DbError, SqlState};

/// What went wrong while talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// Nothing listens at the address, or the network refused.
    #[error(
        "connection refused by {target}: {reason}. Check host and port, that PostgreSQL is running, and firewall settings"
    )]
    Refused {
        /// `host:port` that was tried.
        target: String,
        /// The operating system's words.
        reason: String,
    },
    /// No answer within `connect_timeout`.
    #[error(
        "connection to {target} timed out after {after:?}. Check host and port, firewall settings, or raise connect_timeout"
    )]
    ConnectTimeout {
        /// `host:port` that was tried.
        target: String,
        /// The configured connect timeout.
        after: Duration,
    },
    /// PostgreSQL rejected the credentials or `pg_hba.conf` has no entry for this login.
    #[error(
        "authentication failed for user \"{user}\": {message}. Verify username and password, check pg_hba.conf, ensure the user may log in"
    )]
    Auth {
        /// The PostgreSQL role.
        user: String,
        /// PostgreSQL's (or the client library's) words.
        message: String,
    },
    /// The TLS handshake failed or the server's TLS requirements were not met.
    #[error(
        "SSL connection failed: {message}. Verify the SSL configuration (sslmode, sslrootcert, sslcert, sslkey) and certificate validity, or try another sslmode"
    )]
    Tls {
        /// Which check failed.
        message: String,
    },
    /// The database named in the configuration does not exist.
    #[error("database \"{database}\" does not exist: check the database setting")]
    UnknownDatabase {
        /// The configured database.
        database: String,
    },
    /// PostgreSQL refused the connection because its own limit is reached.
    #[error(
        "PostgreSQL has too many connections: {message}. Lower max_connections here or raise it in PostgreSQL"
    )]
    TooManyConnections {
        /// PostgreSQL's words.
        message: String,
    },
    /// Every pooled connection stayed busy for longer than `connect_timeout`.
    #[error(
        "all {size} PostgreSQL connections are busy (waited {waited:?}); raise max_connections or retry later"
    )]
    PoolExhausted {
        /// The pool's size (`max_connections`).
        size: usize,
        /// How long the request waited.
        waited: Duration,
    },
    /// The statement ran past `statement_timeout`.
    #[error(
        "query timeout after {after:?}: raise statement_timeout (or the client's deadline or session statement_timeout, when shorter), index the cursor field, or reduce batch_size"
    )]
    QueryTimeout {
        /// The configured statement timeout.
        after: Duration,
    },
    /// The statement was cancelled (by the client going away, or by an administrator).
    #[error("query cancelled: {message}")]
    Cancelled {
        /// PostgreSQL's words.
        message: String,
    },
    /// A write was attempted; every pgflight session is read-only.
    #[error("pgflight is read-only: {message}")]
    ReadOnly {
        /// PostgreSQL's words.
        message: String,
    },
    /// PostgreSQL rejected a statement (any other SQLSTATE).
    #[error("{}", describe_db_error(.0))]
    Sql(Box<DbError>),
    /// The connection broke while in use (server restart, network failure).
    #[error("lost the connection to PostgreSQL: {message}")]
    ConnectionLost {
        /// What the client library reported.
        message: String,
    },
    /// Anything the client library reports that fits no class above.
    #[error("PostgreSQL client error: {message}")]
    Client {
        /// What the client library reported.
        message: String,
    },
    /// The binary COPY stream could not be decoded (or a value does not fit its Arrow type).
    #[error("{0}")]
    Decode(#[from] crate::pg::copy::CopyError),
    /// The snapshot shared by a split request's endpoints is gone: released once every
    /// endpoint had started, or after `snapshot_ttl`, or with the instance that held it.
    #[error(
        "request expired: its snapshot is no longer held (every endpoint had started, or \
         snapshot_ttl passed); call GetFlightInfo again"
    )]
    SnapshotExpired,
    /// A change stream (pgoutput messages) pgflight cannot read, or that no longer matches the
    /// planned columns.
    #[error("change stream: {0}")]
    ChangeStream(String),
    /// Change data capture cannot run here as it stands: what is missing (wal_level, the
    /// REPLICATION attribute, the slot, the publication, PostgreSQL 14) and how to fix it.
    #[error("{0}")]
    ChangesUnavailable(String),
    /// The configuration cannot produce a connection (bad certificate file, …).
    #[error("{0}")]
    Setup(String),
    /// A read cannot be rendered as it stands (a parameter without a value, …).
    #[error("{0}")]
    InvalidRead(String),
    /// The role logged in as may do more than read (superuser, BYPASSRLS, server files) and
    /// `allow_superuser` is off: the message says why and gives the SQL of a read-only role.
    #[error("{message}")]
    UnsafeRole {
        /// What [`crate::pg::roles::RolePowers::refusal`] says.
        message: String,
    },
}

/// What a connection attempt was for, so that errors can name it.
#[derive(Debug, Clone)]
pub struct ConnectTarget {
    /// `host:port`.
    pub address: String,
    /// The role logging in.
    pub user: String,
    /// The database asked for.
    pub database: String,
    /// The configured connect timeout.
    pub connect_timeout: Duration,
    /// The configured statement timeout.
    pub statement_timeout: Duration,
}

impl PgError {
    /// Classifies an error from tokio-postgres raised while connecting or running a statement.
    pub fn classify(err: tokio_postgres::Error, target: &ConnectTarget) -> PgError {
        if let Some(db) = err.as_db_error() {
            return Self::from_db_error(db, target);
        }
        let text = chain_text(&err);
        if let Some(io) = find_source::<std::io::Error>(&err) {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return PgError::Refused {
                        target: target.address.clone(),
                        reason: io.to_string(),
                    };
                }
                std::io::ErrorKind::TimedOut => {
                    return PgError::ConnectTimeout {
                        target: target.address.clone(),
                        after: target.connect_timeout,
                    };
                }
                _ => {}
            }
        }
        if find_source::<rustls::Error>(&err).is_some()
            || err.to_string() == "error performing TLS handshake"
        {
            return PgError::Tls { message: text };
        }
        if err.to_string() == "timeout waiting for server" {
            return PgError::ConnectTimeout {
                target: target.address.clone(),
                after: target.connect_timeout,
            };
        }
        if err.to_string() == "authentication error" {
            return PgError::Auth {
                user: target.user.clone(),
                message: text,
            };
        }
        if err.is_closed() || find_source::<std::io::Error>(&err).is_some() {
            return PgError::ConnectionLost { message: text };
        }
        PgError::Client { message: text }
    }

    /// Classifies an error PostgreSQL itself sent, by SQLSTATE.
    pub fn from_db_error(db: &DbError, target: &ConnectTarget) -> PgError {
        let code = db.code();
        let message = db.message().to_string();
        // PostgreSQL 14+ says "no encryption", 12 and 13 "SSL off".
        if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && (message.contains("no encryption") || message.contains("SSL off"))
        {
            return PgError::Tls {
                message: format!(
                    "the server requires an encrypted connection ({message}); use sslmode=prefer or stronger"
                ),
            };
        }
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return PgError::Auth {
                user: target.user.clone(),
                message,
            };
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return PgError::UnknownDatabase {
                database: target.database.clone(),
            };
        }
        if *code == SqlState::TOO_MANY_CONNECTIONS {
            return PgError::TooManyConnections { message };
        }
        if *code == SqlState::QUERY_CANCELED {
            return if message.contains("statement timeout") {
                PgError::QueryTimeout {
                    after: target.statement_timeout,
                }
            } else {
                PgError::Cancelled { message }
            };
        }
        if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            return PgError::ReadOnly { message };
        }
        if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
        {
            return PgError::ConnectionLost { message };
        }
        PgError::Sql(Box::new(db.clone()))
    }

    /// The SQLSTATE, when PostgreSQL sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            PgError::Sql(db) => Some(db.code().code()),
            _ => None,
        }
    }
}

/// PostgreSQL's message with its detail, hint and position, as psql would show them.
fn describe_db_error(db: &DbError) -> String {
    let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    if let Some(detail) = db.detail() {
        text.push_str(&format!("; DETAIL: {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; HINT: {hint}"));
    }
    if let Some(tokio_postgres::error::ErrorPosition::Original(pos)) = db.position() {
        text.push_str(&format!("; at character {pos}"));
    }
    text
}

/// The error and each of its causes, looking inside `io::Error` wrappers too (TLS failures
/// arrive as an `io::Error` holding a `rustls::Error`).
fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut found = Vec::new();
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        found.push(e);
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    found
}

/// The error's message followed by each of its causes.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for cause in causes(err) {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause_text);
        }
    }
    text
}

/// The first cause of type `T` in the error's chain.
fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    causes(err).into_iter().find_map(|e| e.downcast_ref::<T>())
}
