//! Runs a [`ChangesRead`]: the slot's changes of one relation, decoded into Arrow batches as
//! they arrive and handed on through a bounded channel, like [`crate::pg::source`] does for
//! COPY.
//!
//! `pg_logical_slot_peek_binary_changes(slot, upto, NULL, 'proto_version', '1',
//! 'publication_names', slot, 'binary', 'true')` decodes every transaction whose commit record
//! starts before `upto` and that the slot has not confirmed, whole (pgoutput emits a transaction
//! at its commit, never a part of it), and consumes nothing: the same read gives the same rows
//! until a later request confirms them. The statement is cancelled when the reader goes away.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;

use crate::pg::change_rows::ChangeRows;
use crate::pg::metrics::{QueryTimer, record_error, record_rows};
use crate::pg::pgoutput::format_lsn;
use crate::pg::read::ChangesRead;
use crate::pg::source::BatchStream;
use crate::pg::sql::quote_ident;
use crate::pg::types::TypeOptions;
use crate::pg::{PgError, PgPool};

/// Batches decoded ahead of the reader.
const BATCHES_IN_FLIGHT: usize = 2;

/// The statement a changes read runs: `$1` slot, `$2` upper bound, `$3` publication names.
pub const PEEK: &str = "SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::text::pg_lsn, \
                    NULL, 'proto_version', '1', 'publication_names', $3, 'binary', 'true')";

type BatchSender = mpsc::Sender<Result<arrow::array::RecordBatch, PgError>>;

/// Runs `read` on a pooled connection; dropping the stream cancels the statement.
pub fn run(
    pool: Arc<PgPool>,
    read: ChangesRead,
    options: TypeOptions,
    batch_size: usize,
) -> Result<BatchStream, PgError> {
    let rows = ChangeRows::new(
        &read.schema,
        &read.table,
        &read.columns,
        &options,
        batch_size,
    )?;
    let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::spawn(async move {
        if let Err(err) = peek(&pool, &read, rows, &tx).await {
            if matches!(err, PgError::ChangeStream(_) | PgError::Decode(_)) {
                record_error(&err);
            }
            let _ = tx.send(Err(err)).await;
        }
    });
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })))
}

async fn peek(
    pool: &PgPool,
    read: &ChangesRead,
    mut rows: ChangeRows,
    tx: &BatchSender,
) -> Result<(), PgError> {
    let started = Instant::now();
    let client = pool.get().await?;
    let upto = format_lsn(read.upto);
    let publication = quote_ident(&read.slot);
    let params: [&(dyn ToSql + Sync); 3] = [&read.slot, &upto, &publication];
    let timer = QueryTimer::start("changes");
    let outcome = async {
        let reader_left = tx.closed();
        tokio::pin!(reader_left);
        let stream = tokio::select! {
            biased;
            stream = client.query_raw(PEEK, params) => stream.map_err(|e| pool.error(e))?,
            () = &mut reader_left => return Ok(false),
        };
        futures::pin_mut!(stream);
        loop {
            let row = tokio::select! {
                biased;
                row = stream.next() => row,
                () = &mut reader_left => return Ok(false),
            };
            let Some(row) = row else { break };
            let row = row.map_err(|e| pool.error(e))?;
            rows.push(row.get::<_, &[u8]>(0))?;
            while let Some(batch) = rows.next_batch()? {
                if !send(tx, batch).await {
                    return Ok(false);
                }
            }
        }
        while let Some(batch) = rows.finish()? {
            if !send(tx, batch).await {
                break;
            }
        }
        Ok(true)
    }
    .await;
    timer.finish();
    if !matches!(outcome, Ok(true)) {
        pool.cancel(client.cancel_token()).await;
    }
    tracing::info!(
        slot = %read.slot,
        read = %crate::pg::sql::qualified_name(&read.schema, &read.table),
        upto = %upto,
        changes = rows.changes(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        completed = matches!(outcome, Ok(true)),
        "changes read"
    );
    outcome.map(|_| ())
}

/// Hands a batch to the reader, counting its rows as extracted; false when the reader left.
async fn send(tx: &BatchSender, batch: arrow::array::RecordBatch) -> bool {
    let rows = batch.num_rows() as u64;
    let sent = tx.send(Ok(batch)).await.is_ok();
    if sent {
        record_rows(rows);
    }
    sent
}
