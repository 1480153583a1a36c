//! What the Flight layer refuses by itself, before any room below is asked: writes, what
//! pgflight does not offer, malformed parameters, handles and patterns, failed authentication,
//! tokens it cannot make. One enum, so that [`crate::flight::status`] stays the one table from
//! errors to gRPC statuses.

use arrow_flight::error::FlightError;

/// The words for everything that would write.
pub const READ_ONLY: &str = "pgflight is read-only";

/// A request the Flight layer refuses.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A write (update, ingestion): every session is read-only.
    #[error("{READ_ONLY}: {what} is refused; only queries run")]
    Write {
        /// What was asked for.
        what: &'static str,
    },
    /// Substrait plans, transactions, savepoints.
    #[error(
        "{what} is not supported: {READ_ONLY}; send SQL queries (each runs in its own read-only transaction)"
    )]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// A prepared statement inside a transaction.
    #[error("{READ_ONLY} and offers no transactions")]
    Transaction,
    /// DoPut parameter batches that cannot be read.
    #[error("parameters: {0}")]
    Parameters(#[source] FlightError),
    /// Parameter batches with the wrong number of columns.
    #[error("{bound} parameter column(s) bound; the statement has {expected} parameter(s)")]
    ParameterCount {
        /// Columns bound.
        bound: usize,
        /// Parameters the statement has.
        expected: usize,
    },
    /// A prepared statement handle pgflight did not issue (or of another version).
    #[error("prepared statement handle was not issued by this pgflight")]
    ForeignHandle,
    /// A LIKE pattern ending in a lone escape character.
    #[error(
        "pattern {pattern:?} ends with the escape character \\; write \\\\ for a literal backslash"
    )]
    Pattern {
        /// The pattern.
        pattern: String,
    },
    /// An action body that is not the message its type names.
    #[error("{action}: not a {message}: {source}")]
    Undecodable {
        /// The action.
        action: &'static str,
        /// The message expected.
        message: &'static str,
        /// prost's words.
        source: prost::DecodeError,
    },
    /// RenewFlightEndpoint of an endpoint that does not expire (not part of a split read).
    #[error(
        "only the endpoints of a split request expire (they share a snapshot held for \
         snapshot_ttl); this endpoint has nothing to renew"
    )]
    NotRenewable,
    /// A DoAction type pgflight does not answer.
    #[error("unknown action {action:?}; ListActions names the actions pgflight answers")]
    UnknownAction {
        /// The action type asked for.
        action: String,
    },
    /// Authentication failed (the message says how; never a password).
    #[error("{0}")]
    Unauthenticated(String),
    /// The operating system gave no random numbers.
    #[error("no random numbers")]
    NoRandom,
    /// A token could not be encrypted.
    #[error("cannot encrypt the token")]
    TokenEncryption,
    /// A bearer token that is no valid header value (never happens with base64 tokens).
    #[error("bearer token is not a valid header value")]
    TokenHeader,
}
