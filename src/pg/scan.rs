//! Reads: a `ScanSpec` becomes `COPY (SELECT …) TO STDOUT (FORMAT binary)`, whose bytes are
//! decoded into Arrow batches as they arrive and handed on through a bounded channel, so a
//! slow reader slows the COPY and memory stays bounded. A reader that goes away cancels the
//! PostgreSQL statement.

use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::pg::copy::CopyDecoder;
use crate::pg::metrics::{QueryTimer, record_error, record_rows};
use crate::pg::snapshot;
use crate::pg::sql::qualified_name;
use crate::pg::types::{ColumnPlan, arrow_schema};
use crate::pg::{PgConnection, PgError, PgPool};

/// Batches decoded ahead of the reader: the bound on server memory per stream.
const BATCHES_IN_FLIGHT: usize = 2;

/// A stream of record batches from PostgreSQL.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, PgError>> + Send>>;

/// What to read from one relation.
#[derive(Debug, Clone, Default)]
pub struct ScanSpec {
    /// The relation's schema.
    pub schema: String,
    /// The relation's name.
    pub table: String,
    /// The columns to read, in output order.
    pub columns: Vec<ColumnPlan>,
    /// A boolean SQL expression PostgreSQL evaluates (already rendered; identifiers quoted,
    /// literals typed).
    pub filter: Option<String>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// An exported snapshot to read in (the endpoints of one split request share it).
    pub snapshot: Option<String>,
}

impl ScanSpec {
    /// The Arrow schema of the batches this scan produces.
    pub fn schema(&self) -> SchemaRef {
        arrow_schema(&self.columns)
    }

    /// The `SELECT` this scan runs.
    pub fn select_sql(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(ColumnPlan::select_expr).collect();
        let mut sql = format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            qualified_name(&self.schema, &self.table)
        );
        if let Some(filter) = &self.filter {
            sql.push_str(" WHERE ");
            sql.push_str(filter);
        }
        if let Some(limit) = self.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        sql
    }

    /// The `COPY` statement sent to PostgreSQL.
    pub fn copy_sql(&self) -> String {
        format!("COPY ({}) TO STDOUT (FORMAT binary)", self.select_sql())
    }
}

/// Runs `spec` on a pooled connection; batches of `batch_size` rows arrive as they are decoded.
/// Dropping the stream cancels the statement and returns the connection to the pool.
pub fn scan(pool: Arc<PgPool>, spec: ScanSpec, batch_size: usize) -> BatchStream {
    let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::spawn(async move {
        if let Err(err) = copy_into(&pool, &spec, batch_size, &tx).await {
            let _ = tx.send(Err(err)).await;
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Ends the transaction an imported snapshot was read in, before the connection goes back.
async fn end_snapshot_transaction(client: &PgConnection, spec: &ScanSpec) {
    if spec.snapshot.is_some()
        && let Err(err) = client.batch_execute("ROLLBACK").await
    {
        tracing::warn!(error = %err, "could not end a snapshot transaction");
    }
}

type BatchSender = mpsc::Sender<Result<RecordBatch, PgError>>;

async fn copy_into(
    pool: &PgPool,
    spec: &ScanSpec,
    batch_size: usize,
    tx: &BatchSender,
) -> Result<(), PgError> {
    let started = std::time::Instant::now();
    let client = pool.get().await?;
    if let Some(id) = &spec.snapshot {
        if let Err(err) = client.batch_execute(&snapshot::import_sql(id)?).await {
            end_snapshot_transaction(&client, spec).await;
            return Err(match pool.error(err) {
                PgError::Sql(db) if db.message().contains("snapshot") => PgError::SnapshotExpired,
                other => other,
            });
        }
        pool.snapshots().imported(id).await;
    }
    let sql = spec.copy_sql();
    tracing::debug!(%sql, "scan started");
    let timer = QueryTimer::start("copy");
    let copy = match client.copy_out(sql.as_str()).await {
        Ok(copy) => copy,
        Err(err) => {
            end_snapshot_transaction(&client, spec).await;
            return Err(pool.error(err));
        }
    };
    futures::pin_mut!(copy);
    let mut decoder = CopyDecoder::new(&spec.columns, batch_size);
    let outcome: Result<bool, PgError> = async {
        // Made once: polled only while PostgreSQL has nothing for us (the data comes first,
        // so the hot path does not pay for watching the reader).
        let reader_left = tx.closed();
        tokio::pin!(reader_left);
        loop {
            let chunk = tokio::select! {
                biased;
                chunk = copy.next() => chunk,
                () = &mut reader_left => return Ok(false),
            };
            let Some(chunk) = chunk else {
                break;
            };
            decoder.push(&chunk.map_err(|e| pool.error(e))?)?;
            while let Some(batch) = decoder.next_batch()? {
                if !send(tx, batch).await {
                    return Ok(false);
                }
            }
        }
        while let Some(batch) = decoder.finish()? {
            if !send(tx, batch).await {
                return Ok(true);
            }
        }
        Ok(true)
    }
    .await;
    timer.finish();
    if let Err(err @ PgError::Decode(_)) = &outcome {
        record_error(err);
    }
    if !matches!(outcome, Ok(true)) {
        // The reader left, or decoding failed: stop PostgreSQL from sending the rest.
        pool.cancel(client.cancel_token()).await;
    }
    end_snapshot_transaction(&client, spec).await;
    tracing::info!(
        schema = %spec.schema,
        table = %spec.table,
        rows = decoder.rows_decoded(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        completed = matches!(outcome, Ok(true)),
        "scan finished"
    );
    outcome.map(|_| ())
}

/// Hands a batch to the reader, counting its rows as extracted; false when the reader left.
async fn send(tx: &BatchSender, batch: RecordBatch) -> bool {
    let rows = batch.num_rows() as u64;
    let sent = tx.send(Ok(batch)).await.is_ok();
    if sent {
        record_rows(rows);
    }
    sent
}
