//! Why a request could not be planned or run.

use crate::pg::PgError;
use crate::pg::catalog::EntityError;

/// A planning failure; the Flight layer turns each variant into a gRPC status.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The request is malformed (bad JSON, bad names, wrong types).
    #[error("{0}")]
    InvalidRequest(String),
    /// The relation (or column) named does not exist or is not visible to the role.
    #[error("{0}")]
    NotFound(String),
    /// The request asks for something pgflight does not do (yet).
    #[error("{0}")]
    Unsupported(String),
    /// What was planned no longer matches the database (a table changed in between).
    #[error("{0}")]
    Stale(String),
    /// PostgreSQL failed.
    #[error(transparent)]
    Pg(#[from] PgError),
}

impl From<EntityError> for PlanError {
    fn from(err: EntityError) -> Self {
        match err {
            EntityError::Malformed { .. } => PlanError::InvalidRequest(err.to_string()),
            EntityError::Pg(pg) => PlanError::Pg(pg),
        }
    }
}
