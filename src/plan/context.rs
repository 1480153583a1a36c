//! What planning and executing a read need from the server: the pool, the type options, the
//! batch size, the default schema and the split limits; and the stream a read produces.

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::Stream;

use crate::pg::PgPool;
use crate::pg::types::TypeOptions;
use crate::plan::PlanError;
use crate::plan::endpoints::PartitionOptions;
use crate::plan::guard::StatementGuard;

/// What planning and executing need (from configuration).
#[derive(Clone)]
pub struct ReadContext {
    /// The PostgreSQL pool.
    pub pool: Arc<PgPool>,
    /// Type-mapping options.
    pub options: TypeOptions,
    /// Rows per record batch.
    pub batch_size: usize,
    /// The schema unqualified names resolve in (the configured `schema`).
    pub default_schema: String,
    /// When and how far reads are split into endpoints.
    pub partitions: PartitionOptions,
    /// The statement guard client SQL passes before it reaches PostgreSQL (clients sharing one
    /// role: `auth = "none"` or `"password"`); `None` when each client has its own role.
    pub guard: Option<Arc<StatementGuard>>,
}

/// A stream of result batches.
pub type QueryStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, PlanError>> + Send>>;
