//! `pgflight check`: connect with the configuration and say what pgflight would see and serve,
//! or what is wrong, in the words of the seed connector's troubleshooting section.

use std::fmt::Write as _;

use crate::config::Config;
use crate::pg::probe::{ServerReport, server_report};
use crate::pg::{PgError, PgPool};

/// Exit codes of `pgflight check`, one per failure class.
pub mod exit {
    /// Everything works.
    pub const OK: u8 = 0;
    /// The configuration is invalid.
    pub const CONFIG: u8 = 2;
    /// PostgreSQL could not be reached (refused, timed out, connection lost).
    pub const UNREACHABLE: u8 = 3;
    /// Authentication failed.
    pub const AUTH: u8 = 4;
    /// The TLS connection failed.
    pub const TLS: u8 = 5;
    /// The database does not exist.
    pub const DATABASE: u8 = 6;
    /// The role can read none of the schema's relations, or the server is overloaded.
    pub const PRIVILEGES: u8 = 7;
    /// Anything else.
    pub const OTHER: u8 = 8;
}

/// Runs the check; returns the text to print and the exit code.
pub async fn run_check(config: &Config) -> (String, u8) {
    // Unchecked: check reports the role's powers instead of refusing them.
    let pool = match PgPool::unchecked(config) {
        Ok(pool) => pool,
        Err(err) => return (format!("Error: {err}\n"), exit_code(&err)),
    };
    let result = server_report(&pool, &config.schema).await;
    pool.close();
    match result {
        Ok(report) => {
            let refused = !config.allow_superuser && !report.powers.dangers().is_empty();
            let code = if refused || (report.readable.is_empty() && !report.unreadable.is_empty()) {
                exit::PRIVILEGES
            } else {
                exit::OK
            };
            (describe(config, &report), code)
        }
        Err(err) => (format!("Error: {err}\n"), exit_code(&err)),
    }
}

/// The exit code for a failure.
pub fn exit_code(err: &PgError) -> u8 {
    match err {
        PgError::Refused { .. }
        | PgError::ConnectTimeout { .. }
        | PgError::ConnectionLost { .. } => exit::UNREACHABLE,
        PgError::Auth { .. } => exit::AUTH,
        PgError::Tls { .. } => exit::TLS,
        PgError::UnknownDatabase { .. } => exit::DATABASE,
        PgError::TooManyConnections { .. }
        | PgError::PoolExhausted { .. }
        | PgError::UnsafeRole { .. } => exit::PRIVILEGES,
        PgError::Setup(_) => exit::CONFIG,
        PgError::QueryTimeout { .. }
        | PgError::Cancelled { .. }
        | PgError::ReadOnly { .. }
        | PgError::Sql(_)
        | PgError::Decode(_)
        | PgError::SnapshotExpired
        | PgError::ChangeStream(_)
        | PgError::ChangesUnavailable(_)
        | PgError::InvalidRead(_)
        | PgError::Client { .. } => exit::OTHER,
    }
}

/// What change data capture needs that this server and role lack, or that it is ready.
fn changes_readiness(report: &ServerReport) -> String {
    let mut missing = Vec::new();
    if report.version_num < 140_000 {
        missing.push("PostgreSQL 14 or later".to_string());
    }
    if report.wal_level != "logical" {
        missing.push(format!(
            "wal_level = logical (it is {}; ALTER SYSTEM SET wal_level = logical, then restart)",
            report.wal_level
        ));
    }
    if !report.powers.replication && !report.superuser {
        missing.push(format!(
            "the REPLICATION attribute (ALTER ROLE {} REPLICATION)",
            crate::pg::sql::quote_ident(&report.user)
        ));
    }
    if missing.is_empty() {
        "ready (wal_level = logical, role has REPLICATION)".to_string()
    } else {
        format!("not available: needs {}", missing.join("; "))
    }
}

fn describe(config: &Config, report: &ServerReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "PostgreSQL {} at {}", report.version, config.summary());
    let _ = writeln!(
        out,
        "TLS: {}",
        report
            .tls
            .as_deref()
            .unwrap_or("not in use (the connection is not encrypted)")
    );
    let _ = writeln!(
        out,
        "Role: {}{}; pgflight sessions are read-only: {}",
        report.user,
        if report.superuser { " (superuser)" } else { "" },
        if report.read_only { "yes" } else { "NO" }
    );
    let _ = writeln!(out, "Role attributes: {}", report.powers.describe());
    let _ = writeln!(
        out,
        "Change data capture (changes requests): {}",
        changes_readiness(report)
    );
    if !report.powers.dangers().is_empty() {
        if config.allow_superuser {
            let _ = writeln!(
                out,
                "Warning: allow_superuser = true, so pgflight serve runs as {} although {}",
                report.user,
                report.powers.dangers().join("; ")
            );
        } else {
            let _ = writeln!(
                out,
                "Refused: {}",
                report.powers.refusal(&config.database, &config.schema)
            );
        }
    }
    if !report.writable.is_empty() {
        let _ = writeln!(
            out,
            "Note: the role may write to {} table(s) of schema {:?} outside pgflight; a least-privilege role needs only SELECT",
            report.writable.len(),
            config.schema
        );
    }
    let _ = writeln!(
        out,
        "Schema {:?}: {} relation(s) readable{}",
        config.schema,
        report.readable.len(),
        if report.readable.is_empty() { "" } else { ":" }
    );
    for name in &report.readable {
        let _ = writeln!(out, "  {name}");
    }
    if !report.unreadable.is_empty() {
        let _ = writeln!(
            out,
            "Not readable by {} (GRANT SELECT to expose them): {}",
            report.user,
            report.unreadable.join(", ")
        );
    }
    out
}
