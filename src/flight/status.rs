//! The one table from pgflight's errors to gRPC statuses. The match is exhaustive on purpose:
//! a new error variant must decide its status code here.

use datafusion::error::DataFusionError;
use tokio_postgres::error::SqlState;
use tonic::{Code, Status};

use crate::flight::limits::TooManyStreams;
use crate::flight::refusal::Refusal;
use crate::flight::signing::SealError;
use crate::pg::PgError;
use crate::pg::copy::CopyError;
use crate::plan::PlanError;
use crate::plan::guard::GuardError;

/// Longest message put on the wire; longer ones are cut on a character boundary.
const MAX_MESSAGE_BYTES: usize = 4096;

/// The gRPC status a client receives for a PostgreSQL failure.
pub fn pg_status(err: &PgError) -> Status {
    let code = match err {
        PgError::Refused { .. }
        | PgError::ConnectTimeout { .. }
        | PgError::Tls { .. }
        | PgError::ConnectionLost { .. } => Code::Unavailable,
        PgError::Auth { .. } => Code::Unauthenticated,
        PgError::UnknownDatabase { .. } => Code::NotFound,
        PgError::TooManyConnections { .. } | PgError::PoolExhausted { .. } => {
            Code::ResourceExhausted
        }
        PgError::QueryTimeout { .. } => Code::DeadlineExceeded,
        PgError::Cancelled { .. } => Code::Cancelled,
        PgError::ReadOnly { .. } | PgError::UnsafeRole { .. } => Code::PermissionDenied,
        PgError::Sql(db) => sqlstate_code(db.code()),
        PgError::Decode(CopyError::Value { .. }) => Code::OutOfRange,
        PgError::SnapshotExpired | PgError::ChangesUnavailable(_) => Code::FailedPrecondition,
        PgError::InvalidRead(_) => Code::InvalidArgument,
        PgError::Decode(_)
        | PgError::ChangeStream(_)
        | PgError::Client { .. }
        | PgError::Setup(_) => Code::Internal,
    };
    Status::new(code, truncate(err.to_string()))
}

/// The gRPC status for a planning failure.
pub fn plan_status(err: &PlanError) -> Status {
    match err {
        PlanError::InvalidRequest(_) => Status::invalid_argument(truncate(err.to_string())),
        PlanError::NotFound(_) => Status::not_found(truncate(err.to_string())),
        PlanError::Unsupported(_) => Status::unimplemented(truncate(err.to_string())),
        PlanError::Stale(_) => Status::failed_precondition(truncate(err.to_string())),
        PlanError::Guard(GuardError::Denied { .. }) => {
            Status::permission_denied(truncate(err.to_string()))
        }
        PlanError::Guard(GuardError::Unreadable { .. }) => {
            Status::invalid_argument(truncate(err.to_string()))
        }
        PlanError::Pg(pg) => pg_status(pg),
        PlanError::DataFusion(df) => Status::new(datafusion_code(df), truncate(err.to_string())),
        PlanError::Arrow(_) => Status::internal(truncate(err.to_string())),
    }
}

/// A DataFusion failure's code, by its root cause: a statement the user wrote wrong is
/// INVALID_ARGUMENT, exhausted resources RESOURCE_EXHAUSTED, anything else pgflight's fault.
fn datafusion_code(err: &DataFusionError) -> Code {
    match err.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => Code::InvalidArgument,
        DataFusionError::ResourcesExhausted(_) => Code::ResourceExhausted,
        DataFusionError::External(inner) => match inner.downcast_ref::<PgError>() {
            Some(pg) => pg_status(pg).code(),
            None => Code::Internal,
        },
        _ => Code::Internal,
    }
}

/// The gRPC status for a DoGet beyond `max_streams_per_user`.
pub fn streams_status(err: &TooManyStreams) -> Status {
    Status::resource_exhausted(err.to_string())
}

/// The gRPC status for what the Flight layer refuses by itself.
pub fn refusal_status(refusal: &Refusal) -> Status {
    let code = match refusal {
        Refusal::Write { .. } => Code::PermissionDenied,
        Refusal::Unsupported { .. } | Refusal::Transaction => Code::Unimplemented,
        Refusal::Parameters(_)
        | Refusal::ParameterCount { .. }
        | Refusal::ForeignHandle
        | Refusal::Pattern { .. }
        | Refusal::Undecodable { .. }
        | Refusal::UnknownAction { .. }
        | Refusal::NotRenewable
        | Refusal::Compression(_) => Code::InvalidArgument,
        Refusal::SessionCookie(_) => Code::FailedPrecondition,
        Refusal::Deadline(_) => Code::DeadlineExceeded,
        Refusal::Unauthenticated(_) => Code::Unauthenticated,
        Refusal::NoRandom | Refusal::TokenEncryption | Refusal::TokenHeader => Code::Internal,
    };
    Status::new(code, truncate(refusal.to_string()))
}

/// The gRPC status for a refused ticket or handle.
pub fn ticket_status(err: &SealError) -> Status {
    let code = match err {
        SealError::Forged => Code::InvalidArgument,
        SealError::OtherIdentity => Code::PermissionDenied,
        SealError::Expired => Code::FailedPrecondition,
    };
    Status::new(code, err.to_string())
}

/// The gRPC status for an Arrow failure while building or encoding an answer (pgflight's
/// fault).
pub fn arrow_status(err: &arrow::error::ArrowError) -> Status {
    Status::internal(truncate(format!("could not build the answer: {err}")))
}

/// The gRPC status for a failure of arrow-flight's builders or encoder: the status it carries,
/// or INTERNAL (pgflight built something the protocol cannot say).
pub fn flight_status(err: &arrow_flight::error::FlightError) -> Status {
    match err {
        arrow_flight::error::FlightError::Tonic(status) => status.as_ref().clone(),
        other => Status::internal(truncate(other.to_string())),
    }
}

/// SQLSTATE classes by rule (DESIGN.md "Errors").
fn sqlstate_code(state: &SqlState) -> Code {
    let code = state.code();
    match code {
        "42501" => Code::PermissionDenied,
        "42P01" | "3F000" | "42883" => Code::NotFound,
        // Serialization failure, deadlock, an object in use (a replication slot another request
        // is reading), a lock not available: try again.
        "40001" | "40P01" | "55006" | "55P03" => Code::Aborted,
        "25006" => Code::PermissionDenied,
        "57014" => Code::Cancelled,
        _ => match &code[..2.min(code.len())] {
            "08" => Code::Unavailable,
            "28" => Code::Unauthenticated,
            "42" | "22" | "0A" => Code::InvalidArgument,
            "53" => Code::ResourceExhausted,
            // Object not in prerequisite state (wal_level, an invalidated replication slot).
            "55" => Code::FailedPrecondition,
            "57" => Code::Unavailable,
            _ => Code::Internal,
        },
    }
}

/// Cuts `message` to at most `MAX_MESSAGE_BYTES`, on a character boundary.
fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_classes_map_by_rule() {
        assert_eq!(sqlstate_code(&SqlState::UNDEFINED_TABLE), Code::NotFound);
        assert_eq!(
            sqlstate_code(&SqlState::INSUFFICIENT_PRIVILEGE),
            Code::PermissionDenied
        );
        assert_eq!(
            sqlstate_code(&SqlState::SYNTAX_ERROR),
            Code::InvalidArgument
        );
        assert_eq!(
            sqlstate_code(&SqlState::DIVISION_BY_ZERO),
            Code::InvalidArgument
        );
        assert_eq!(
            sqlstate_code(&SqlState::T_R_SERIALIZATION_FAILURE),
            Code::Aborted
        );
        assert_eq!(
            sqlstate_code(&SqlState::OUT_OF_MEMORY),
            Code::ResourceExhausted
        );
        assert_eq!(
            sqlstate_code(&SqlState::CONNECTION_FAILURE),
            Code::Unavailable
        );
        assert_eq!(sqlstate_code(&SqlState::OBJECT_IN_USE), Code::Aborted);
        assert_eq!(
            sqlstate_code(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE),
            Code::FailedPrecondition
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let message = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = truncate(message);
        assert!(cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
