//! What planning and executing a read need from the server: the pool, the type options, the
//! batch size, the default schema and the split limits, changed by the client's session
//! ([`ReadSession`]); and the stream a read produces.

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::Stream;

use crate::pg::PgPool;
use crate::pg::settings::{SEARCH_PATH, Setting};
use crate::pg::sql::quote_ident;
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
    /// PostgreSQL settings every read runs with (the client session's, `SET LOCAL`).
    pub settings: Vec<Setting>,
}

/// What a client's session (Flight SQL session options, already checked) changes for its
/// requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSession {
    /// The schema unqualified names resolve in: the default schema of extraction requests
    /// and the whole `search_path` of SQL.
    pub schema: Option<String>,
    /// PostgreSQL settings (from [`crate::pg::settings::SESSION_SETTINGS`]).
    pub settings: Vec<Setting>,
    /// Rows per record batch.
    pub batch_size: Option<usize>,
}

impl ReadContext {
    /// This context as `session` changes it.
    pub fn with_session(&self, session: &ReadSession) -> ReadContext {
        let mut ctx = self.clone();
        if let Some(schema) = &session.schema {
            ctx.default_schema = schema.clone();
            ctx.settings
                .push(Setting::new(SEARCH_PATH, quote_ident(schema)));
        }
        ctx.settings.extend(session.settings.iter().cloned());
        if let Some(batch_size) = session.batch_size {
            ctx.batch_size = batch_size;
        }
        ctx
    }

    /// The session's `search_path`, if it set one (planning queries resolve names on it).
    pub fn search_path(&self) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.name == SEARCH_PATH)
            .map(|s| s.value.as_str())
    }
}

/// A stream of result batches.
pub type QueryStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, PlanError>> + Send>>;
