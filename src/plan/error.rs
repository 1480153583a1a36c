//! Why a request could not be planned or run.

use crate::pg::PgError;
use crate::pg::catalog::EntityError;
use crate::plan::guard::GuardError;

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
    /// The statement guard refused the statement before it reached PostgreSQL.
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// PostgreSQL failed.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// DataFusion failed while planning or evaluating a statement (its kind says whose fault).
    #[error("{}", first_line(.0))]
    DataFusion(#[source] Box<datafusion::error::DataFusionError>),
    /// A result could not be assembled as planned (a server bug, not the request's fault).
    #[error("result does not match its schema: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// DataFusion's message on one line.
fn first_line(err: &datafusion::error::DataFusionError) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl From<EntityError> for PlanError {
    fn from(err: EntityError) -> Self {
        match err {
            EntityError::Malformed { .. } => PlanError::InvalidRequest(err.to_string()),
            EntityError::Pg(pg) => PlanError::Pg(pg),
        }
    }
}
