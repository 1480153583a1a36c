//! The one COPY source: runs a [`Read`] (a relation scan or a pass-through statement) as binary
//! `COPY … TO STDOUT`, decodes the bytes into Arrow batches as they arrive and hands them on
//! through a bounded channel, so a slow reader slows the COPY and memory stays bounded.
//!
//! Every read goes the same way: a pooled connection; the exported snapshot imported, or (for
//! client SQL) a read-only transaction begun, so that nothing the statement does outlives it;
//! one COPY per statement (a statement with bound parameter rows runs once per row); the
//! statement cancelled when the reader goes away (watched only while PostgreSQL is silent, so
//! the hot path does not pay for it); the transaction rolled back and the connection returned,
//! or discarded when it cannot be rolled back. Metrics count every COPY, its rows and its
//! decode errors, whatever the kind of read.
//!
//! Each COPY runs in a span of its own (`postgres COPY`: relation, fingerprint, rows), a child
//! of the caller's span (the Flight call's). When traces are exported, the read always runs in a
//! transaction whose `application_name` carries the trace id ([`trace_tag`]).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::pg::cancel::{self, Registration};
use crate::pg::copy::CopyDecoder;
use crate::pg::fingerprint::fingerprint;
use crate::pg::metrics::{QueryTimer, record_error, record_rows};
use crate::pg::read::{Read, read_source::Source};
use crate::pg::render::{scan_copy, settings_sql, statement_copies};
use crate::pg::settings::Setting;
use crate::pg::snapshot;
use crate::pg::trace_tag;
use crate::pg::types::{ColumnPlan, TypeOptions};
use crate::pg::{PgConnection, PgError, PgPool};

/// Batches decoded ahead of the reader: the bound on server memory per stream.
const BATCHES_IN_FLIGHT: usize = 2;

/// A stream of record batches from PostgreSQL.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, PgError>> + Send>>;

/// Runs `read` on a pooled connection with `settings` (`SET LOCAL`); batches of `batch_size`
/// rows arrive as they are decoded. Dropping the stream cancels the statement and returns the
/// connection to the pool, and so does a cancel of the read's query ([`crate::pg::cancel`]); a
/// read of a query cancelled already is refused.
pub fn run(
    pool: Arc<PgPool>,
    read: Read,
    options: TypeOptions,
    batch_size: usize,
    settings: &[Setting],
) -> Result<BatchStream, PgError> {
    let columns = read.column_plans(&options);
    if let Some(id) = read.query_id() {
        if !cancel::is_query_id(id) {
            return Err(PgError::InvalidRead(format!("{id:?} is not a query id")));
        }
        if pool.reads().is_cancelled(id) {
            return Err(cancel::cancelled());
        }
    }
    let mut statements = match &read.source {
        Some(Source::Scan(scan)) => vec![scan_copy(scan, &columns)],
        Some(Source::Statement(statement)) => statement_copies(statement, &columns)?,
        None => {
            return Err(PgError::InvalidRead(
                "the read names nothing to read".into(),
            ));
        }
    };
    if let Some(id) = read.query_id() {
        let tag = cancel::query_tag(id);
        statements = statements
            .into_iter()
            .map(|sql| tag.clone() + &sql)
            .collect();
    }
    let trace_id = crate::telemetry::traces::current_trace_id();
    let job = Job {
        transaction: transaction(&read, settings, trace_id.is_some())?,
        statements,
        columns,
        batch_size,
        label: label(&read),
        relation: relation(&read),
        trace_id,
    };
    let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::spawn(
        async move {
            if let Err(err) = job.run(&pool, &read, &tx).await {
                let _ = tx.send(Err(err)).await;
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })))
}

/// The transaction a read runs in: the exported snapshot's, a read-only one for client SQL,
/// a read with session settings or a traced read (rolled back, so neither the settings, the
/// traced `application_name` nor a `set_config` of the statement survive it), or none for a
/// plain scan (the session is read-only already). The settings are applied after the snapshot
/// is imported (which must come first).
fn transaction(read: &Read, settings: &[Setting], traced: bool) -> Result<Option<String>, PgError> {
    let begin = match read.snapshot() {
        Some(id) => Some(snapshot::import_sql(id, read.part)?),
        None => match (&read.source, settings.is_empty()) {
            (Some(Source::Statement(_)), _) | (_, false) => Some("BEGIN READ ONLY".to_string()),
            _ if traced => Some("BEGIN READ ONLY".to_string()),
            _ => None,
        },
    };
    Ok(match (begin, settings_sql(settings)) {
        (Some(begin), Some(set)) => Some(format!("{begin}; {set}")),
        (begin, _) => begin,
    })
}

/// The relation a scan reads (`schema.table`, as named), for its span.
fn relation(read: &Read) -> Option<String> {
    match &read.source {
        Some(Source::Scan(scan)) => Some(format!("{}.{}", scan.schema, scan.table)),
        _ => None,
    }
}

/// What the log says was read.
fn label(read: &Read) -> String {
    match &read.source {
        Some(Source::Scan(scan)) => crate::pg::sql::qualified_name(&scan.schema, &scan.table),
        _ => "statement".to_string(),
    }
}

type BatchSender = mpsc::Sender<Result<RecordBatch, PgError>>;

/// One read, rendered.
struct Job {
    transaction: Option<String>,
    statements: Vec<String>,
    columns: Vec<ColumnPlan>,
    batch_size: usize,
    label: String,
    relation: Option<String>,
    /// The trace the read belongs to, when traces are exported.
    trace_id: Option<String>,
}

impl Job {
    async fn run(self, pool: &PgPool, read: &Read, tx: &BatchSender) -> Result<(), PgError> {
        let started = Instant::now();
        let client = pool.get().await?;
        let mut registration = match read.query_id() {
            Some(id) => Some(pool.reads().register(id, client.cancel_token())?),
            None => None,
        };
        // Set when the snapshot is held by another instance, which learns from the tag.
        let mut tagged_since = None;
        if let Some(begin) = &self.transaction {
            if let Err(err) = client.batch_execute(begin).await {
                let err = match pool.error(err) {
                    PgError::Sql(db)
                        if read.snapshot().is_some() && db.message().contains("snapshot") =>
                    {
                        PgError::SnapshotExpired
                    }
                    other => other,
                };
                end_transaction(client, true).await;
                return Err(err);
            }
            if let Some(id) = read.snapshot()
                && !pool.snapshots().imported(id, read.part)
            {
                tagged_since = Some(Instant::now());
            }
            if let Some(trace_id) = &self.trace_id
                && let Err(err) = client
                    .batch_execute(&trace_tag::application_name_sql(trace_id))
                    .await
            {
                end_transaction(client, true).await;
                return Err(pool.error(err));
            }
        }
        let mut rows = 0;
        let mut outcome = Ok(true);
        for sql in &self.statements {
            let mut decoder = CopyDecoder::new(&self.columns, self.batch_size);
            let span = self.statement_span(sql);
            outcome = copy(pool, &client, sql, &mut decoder, tx, registration.as_mut())
                .instrument(span.clone())
                .await;
            span.record("db.response.returned_rows", decoder.rows_decoded());
            if outcome.is_err() {
                span.record("otel.status_code", "error");
            }
            rows += decoder.rows_decoded();
            if !matches!(outcome, Ok(true)) || tx.is_closed() {
                break;
            }
        }
        if let Err(err @ PgError::Decode(_)) = &outcome {
            record_error(err);
        }
        if !matches!(outcome, Ok(true)) {
            // The reader left mid-COPY, the query was cancelled, or decoding failed: stop
            // PostgreSQL sending the rest.
            pool.cancel(client.cancel_token()).await;
        }
        drop(registration);
        let began = self.transaction.is_some();
        match tagged_since.map(|since| snapshot::TAG_VISIBLE.saturating_sub(since.elapsed())) {
            // A short read keeps its tag a little longer, so that the holder's next look sees
            // it; the reader does not wait for that.
            Some(linger) if !linger.is_zero() => {
                tokio::spawn(async move {
                    tokio::time::sleep(linger).await;
                    end_transaction(client, began).await;
                });
            }
            _ => end_transaction(client, began).await,
        }
        tracing::info!(
            read = %self.label,
            rows,
            elapsed_ms = started.elapsed().as_millis() as u64,
            completed = matches!(outcome, Ok(true)),
            "read finished"
        );
        outcome.map(|_| ())
    }

    /// The span of one COPY: the relation (for a scan) and, when traces are exported, the
    /// statement's fingerprint (never its values: the parse is paid only then).
    fn statement_span(&self, sql: &str) -> tracing::Span {
        let span = tracing::info_span!(
            "postgres",
            otel.name = "postgres COPY",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            db.system.name = "postgresql",
            db.operation.name = "COPY",
            db.collection.name = self.relation.as_deref(),
            db.query.text = tracing::field::Empty,
            db.response.returned_rows = tracing::field::Empty,
        );
        if self.trace_id.is_some() {
            span.record("db.query.text", fingerprint(sql));
        }
        span
    }
}

/// Runs one COPY into `decoder`, handing batches to the reader: `Ok(true)` once PostgreSQL has
/// sent everything, `Ok(false)` when the reader left before; the cancelled error when the
/// read's query was cancelled meanwhile.
async fn copy(
    pool: &PgPool,
    client: &PgConnection,
    sql: &str,
    decoder: &mut CopyDecoder,
    tx: &BatchSender,
    registration: Option<&mut Registration>,
) -> Result<bool, PgError> {
    tracing::debug!(%sql, "copy started");
    let timer = QueryTimer::start("copy");
    let outcome = async {
        // Made once: polled only while PostgreSQL has nothing for us (the data comes first,
        // so the hot path does not pay for watching the reader).
        let reader_left = tx.closed();
        tokio::pin!(reader_left);
        let stopped = async move {
            match registration {
                Some(registration) => registration.stopped().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stopped);
        // PostgreSQL sends the CopyOutResponse with the first data (an aggregate's only row
        // comes at the end), so the reader may leave before `copy_out` returns.
        let stream = tokio::select! {
            biased;
            stream = client.copy_out(sql) => stream.map_err(|e| pool.error(e))?,
            () = &mut reader_left => return Ok(false),
            () = &mut stopped => return Err(stopped_by_cancel()),
        };
        futures::pin_mut!(stream);
        loop {
            let chunk = tokio::select! {
                biased;
                chunk = stream.next() => chunk,
                () = &mut reader_left => return Ok(false),
                () = &mut stopped => return Err(stopped_by_cancel()),
            };
            let Some(chunk) = chunk else { break };
            decoder.push(&chunk.map_err(|e| pool.error(e))?)?;
            while let Some(batch) = decoder.next_batch()? {
                let sent = tokio::select! {
                    sent = send(tx, batch) => sent,
                    () = &mut stopped => return Err(stopped_by_cancel()),
                };
                if !sent {
                    return Ok(false);
                }
            }
        }
        // PostgreSQL has finished: a reader leaving now needs no cancel.
        while let Some(batch) = decoder.finish()? {
            if !send(tx, batch).await {
                break;
            }
        }
        Ok(true)
    }
    .await;
    timer.finish();
    outcome
}

/// The error of a read its query's cancel stopped, counted in `postgres_errors_total`
/// (kind `cancelled`) as PostgreSQL's own cancellations are.
fn stopped_by_cancel() -> PgError {
    let err = cancel::cancelled();
    record_error(&err);
    err
}

/// Ends the read's transaction, if it began one, before the connection goes back; a connection
/// that cannot roll back is closed instead of returning to the pool.
async fn end_transaction(client: PgConnection, began: bool) {
    if began && let Err(err) = client.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %err, "could not end a read's transaction; closing its connection");
        drop(deadpool_postgres::Object::take(client));
    }
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
