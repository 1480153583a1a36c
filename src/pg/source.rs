//! The one read driver: runs a [`Read`] and hands its rows on as Arrow batches through a
//! bounded channel, so a slow reader slows PostgreSQL and memory stays bounded. A relation scan
//! is a binary `COPY … TO STDOUT` (the fastest way for many rows); client SQL goes through the
//! extended protocol in binary ([`crate::pg::data_rows`]: prepared once per connection, its
//! parameters bound, once per bound row), its `DataRow`s decoded by the same column decoders.
//!
//! Every read goes the same way: a pooled connection (one found closed before PostgreSQL
//! answered is replaced once); the message that begins the read's transaction (the exported
//! snapshot imported, or a read-only transaction, the session settings and the backend's tag,
//! [`crate::pg::backend_tag`]) sent together with the statement, without waiting: one round
//! trip; the statement cancelled when the reader goes away (watched only while PostgreSQL is
//! silent, so the hot path does not pay for it); the transaction rolled back after the reader
//! has its last batch (the connection returns to the pool once it is), or the connection
//! discarded when it cannot be rolled back. Metrics count every statement, its rows and its
//! decode errors, whatever the kind of read.
//!
//! Each statement runs in a span of its own (`postgres COPY` or `postgres EXECUTE`: relation,
//! fingerprint, rows), a child of the caller's span (the Flight call's).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tracing::Instrument;

use crate::pg::backend_tag::BackendTag;
use crate::pg::cancel::{self, Registration};
use crate::pg::copy::{CopyDecoder, CopyError};
use crate::pg::data_rows::{self, TextParam};
use crate::pg::fingerprint::fingerprint;
use crate::pg::metrics::{QueryTimer, record_error, record_rows};
use crate::pg::read::{Read, read_source::Source};
use crate::pg::render::{scan_copy, settings_sql, statement_query};
use crate::pg::settings::Setting;
use crate::pg::snapshot;
use crate::pg::types::{ColumnPlan, TypeOptions};
use crate::pg::{PgConnection, PgError, PgPool};

/// How long a cancelled statement may still run before its cancel is sent again.
const CANCEL_AGAIN_AFTER: Duration = Duration::from_millis(100);

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
    let work = match &read.source {
        Some(Source::Scan(scan)) => Work::Copy(scan_copy(scan, &columns)),
        Some(Source::Statement(statement)) => Work::Statement {
            sql: statement_query(statement, &columns),
            executions: data_rows::executions(statement)?,
        },
        None => {
            return Err(PgError::InvalidRead(
                "the read names nothing to read".into(),
            ));
        }
    };
    let trace_id = crate::telemetry::traces::current_trace_id();
    let job = Job {
        transaction: transaction(&read, settings, trace_id.as_deref())?,
        work,
        columns,
        batch_size,
        label: label(&read),
        relation: relation(&read),
        traced: trace_id.is_some(),
    };
    let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::spawn(
        async move {
            job.run(&pool, &read, tx).await;
        }
        .instrument(tracing::Span::current()),
    );
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })))
}

/// The transaction a read runs in, as the one message that begins it: the exported snapshot's,
/// or a read-only one for client SQL, a read with session settings or a tagged read (rolled
/// back, so neither the settings, the tag nor a `set_config` of the statement survive it); none
/// for a plain scan (the session is read-only already). The settings are applied after the
/// snapshot is imported (which must come first), then the backend is tagged
/// ([`BackendTag`]: the snapshot and part, the query, the trace).
fn transaction(
    read: &Read,
    settings: &[Setting],
    trace_id: Option<&str>,
) -> Result<Option<String>, PgError> {
    let tag = BackendTag {
        snapshot: read.snapshot().map(|id| (id, read.part)),
        query: read.query_id(),
        trace: trace_id,
    };
    let statement = matches!(read.source, Some(Source::Statement(_)));
    let begin = match read.snapshot() {
        Some(id) => snapshot::import_sql(id)?,
        None if statement || !settings.is_empty() || !tag.is_empty() => {
            "BEGIN READ ONLY".to_string()
        }
        None => return Ok(None),
    };
    let mut parts = vec![begin];
    parts.extend(settings_sql(settings));
    if !tag.is_empty() {
        parts.push(tag.set_sql());
    }
    Ok(Some(parts.join("; ")))
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

/// What a read sends PostgreSQL once its transaction has begun.
enum Work {
    /// One binary COPY (a scan: the fastest way for many rows).
    Copy(String),
    /// A statement through the extended protocol, once per row of parameter values.
    Statement {
        sql: String,
        executions: Vec<Vec<TextParam>>,
    },
}

/// One read, rendered.
struct Job {
    /// The message that begins the read's transaction, sent together with the first statement.
    transaction: Option<String>,
    work: Work,
    columns: Vec<ColumnPlan>,
    batch_size: usize,
    label: String,
    relation: Option<String>,
    /// Whether traces are exported (the span then carries the statement's fingerprint).
    traced: bool,
}

/// A read on its connection.
struct Reading<'a> {
    pool: &'a PgPool,
    client: &'a PgConnection,
    read: &'a Read,
    tx: &'a BatchSender,
    /// The message that begins the read's transaction.
    begin: Option<&'a str>,
    /// Set when the snapshot is held by another instance, which learns from the tag.
    tagged_since: OnceLock<Instant>,
}

impl Job {
    /// Runs the read, sends its batches (or its error) to `tx`, then ends its transaction
    /// without making the reader wait: the connection returns to the pool afterwards.
    async fn run(self, pool: &PgPool, read: &Read, tx: BatchSender) {
        let started = Instant::now();
        let (client, outcome, rows, tagged_since) = match self.attempt(pool, read, &tx).await {
            Ok(done) => done,
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        };
        let completed = matches!(outcome, Ok(true));
        log_finished(&self.label, rows, started.elapsed(), completed);
        if let Err(err) = outcome {
            let _ = tx.send(Err(err)).await;
        }
        drop(tx);
        let began = self.transaction.is_some();
        match tagged_since.map(|since| snapshot::TAG_VISIBLE.saturating_sub(since.elapsed())) {
            // A short read keeps its tag a little longer, so that the holder's next look sees
            // it.
            Some(linger) if !linger.is_zero() => tokio::time::sleep(linger).await,
            _ => {}
        }
        if !completed {
            // The statement was cancelled (in `attempt`); PostgreSQL drops a cancel that
            // reaches the backend between two protocol messages, so it is sent again until
            // PostgreSQL answers.
            stop_then_end(pool, client, began).await;
            return;
        }
        end_transaction(client, began).await;
    }

    /// Runs the read on a pooled connection; a connection found closed before PostgreSQL sent
    /// anything (a restarted server, a terminated backend) is replaced once. Returns the
    /// connection, the outcome, the rows read and when the backend was tagged for a holder
    /// elsewhere.
    async fn attempt(
        &self,
        pool: &PgPool,
        read: &Read,
        tx: &BatchSender,
    ) -> Result<(PgConnection, Result<bool, PgError>, u64, Option<Instant>), PgError> {
        let mut retried = false;
        loop {
            let client = pool.get().await?;
            let mut registration = match read.query_id() {
                Some(id) => Some(pool.reads().register(id, client.cancel_token())?),
                None => None,
            };
            let reading = Reading {
                pool,
                client: &client,
                read,
                tx,
                begin: self.transaction.as_deref(),
                tagged_since: OnceLock::new(),
            };
            let (outcome, rows) = self.read_on(&reading, registration.as_mut()).await;
            let tagged_since = reading.tagged_since.get().copied();
            if let (Err(err), Work::Statement { sql, .. }, 0, false) =
                (&outcome, &self.work, rows, retried)
                && data_rows::forget_if_stale(&client, sql, err)
            {
                drop(registration);
                end_transaction(client, self.transaction.is_some()).await;
                retried = true;
                tracing::debug!("a statement prepared earlier changed; preparing it again");
                continue;
            }
            if !matches!(outcome, Ok(true)) {
                // The reader left mid-read, the query was cancelled, or decoding failed: stop
                // PostgreSQL sending the rest.
                if client.is_closed() && rows == 0 && !retried {
                    drop(registration);
                    drop(deadpool_postgres::Object::take(client));
                    retried = true;
                    tracing::debug!("a pooled connection was closed; reading on a new one");
                    continue;
                }
                pool.cancel(client.cancel_token()).await;
            }
            drop(registration);
            return Ok((client, outcome, rows, tagged_since));
        }
    }

    /// Sends the work; the outcome and the rows decoded.
    async fn read_on(
        &self,
        reading: &Reading<'_>,
        mut registration: Option<&mut Registration>,
    ) -> (Result<bool, PgError>, u64) {
        match &self.work {
            Work::Copy(sql) => {
                let mut decoder = CopyDecoder::new(&self.columns, self.batch_size);
                let span = self.statement_span("COPY", sql);
                let start = reading.begin_then(reading.client.copy_out(sql.as_str()));
                let mut outcome = pump(
                    reading,
                    registration,
                    "copy",
                    start,
                    &mut decoder,
                    |d, c| d.push(&c),
                )
                .instrument(span.clone())
                .await;
                if matches!(outcome, Ok(true)) {
                    outcome = flush(&mut decoder, reading.tx).await;
                }
                finish_span(&span, &outcome, &decoder);
                (outcome, decoder.rows_decoded())
            }
            Work::Statement { sql, executions } => {
                let mut decoder = CopyDecoder::for_rows(&self.columns, self.batch_size);
                let span = self.statement_span("EXECUTE", sql);
                let mut outcome = Ok(true);
                let mut first = true;
                for params in executions {
                    let client = reading.client;
                    let execute = async move {
                        let statement = data_rows::prepare(client, sql).await?;
                        let params = params.iter().map(|p| p as &dyn ToSql);
                        client.query_raw(&statement, params).await
                    };
                    let start = match std::mem::take(&mut first) {
                        true => reading.begin_then(execute).left_future(),
                        false => async { execute.await.map_err(|e| reading.pool.error(e)) }
                            .right_future(),
                    };
                    let registration = registration.as_deref_mut();
                    outcome = pump(
                        reading,
                        registration,
                        "execute",
                        start,
                        &mut decoder,
                        |d, r| data_rows::push_row(d, &r),
                    )
                    .instrument(span.clone())
                    .await;
                    if !matches!(outcome, Ok(true)) || reading.tx.is_closed() {
                        break;
                    }
                }
                if matches!(outcome, Ok(true)) {
                    decoder.end_rows();
                    outcome = flush(&mut decoder, reading.tx).await;
                }
                finish_span(&span, &outcome, &decoder);
                (outcome, decoder.rows_decoded())
            }
        }
    }

    /// The span of one statement: the relation (for a scan) and, when traces are exported,
    /// the statement's fingerprint (never its values: the parse is paid only then).
    fn statement_span(&self, operation: &'static str, sql: &str) -> tracing::Span {
        let span = tracing::info_span!(
            "postgres",
            otel.name = format!("postgres {operation}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            db.system.name = "postgresql",
            db.operation.name = operation,
            db.collection.name = self.relation.as_deref(),
            db.query.text = tracing::field::Empty,
            db.response.returned_rows = tracing::field::Empty,
        );
        if self.traced {
            span.record("db.query.text", fingerprint(sql));
        }
        span
    }
}

/// Reads that take this long are logged at INFO even when they completed.
const SLOW_READ: Duration = Duration::from_secs(1);

/// Logs the end of a read: at INFO when it failed, was cancelled or left by its client, or
/// took [`SLOW_READ`] or more; at DEBUG otherwise (the audit log records every call).
fn log_finished(label: &str, rows: u64, elapsed: Duration, completed: bool) {
    let elapsed_ms = elapsed.as_millis() as u64;
    if completed && elapsed < SLOW_READ {
        tracing::debug!(read = %label, rows, elapsed_ms, completed, "read finished");
    } else {
        tracing::info!(read = %label, rows, elapsed_ms, completed, "read finished");
    }
}

/// Records a statement's rows and, on failure, its status on its span; counts a decode error.
fn finish_span(span: &tracing::Span, outcome: &Result<bool, PgError>, decoder: &CopyDecoder) {
    span.record("db.response.returned_rows", decoder.rows_decoded());
    if outcome.is_err() {
        span.record("otel.status_code", "error");
    }
    if let Err(err @ PgError::Decode(_)) = outcome {
        record_error(err);
    }
}

impl Reading<'_> {
    /// `start` sent right behind the message that begins the transaction, without waiting
    /// for its answer (tokio-postgres pipelines requests polled together): one round trip. An
    /// error of the beginning wins (the statement's is then only "transaction aborted").
    async fn begin_then<S>(
        &self,
        start: impl Future<Output = Result<S, tokio_postgres::Error>>,
    ) -> Result<S, PgError> {
        let Some(begin) = self.begin else {
            return start.await.map_err(|e| self.pool.error(e));
        };
        let (begun, started) = futures::join!(self.client.batch_execute(begin), start);
        if let Err(err) = begun {
            return Err(match self.pool.error(err) {
                PgError::Sql(db)
                    if self.read.snapshot().is_some() && db.message().contains("snapshot") =>
                {
                    PgError::SnapshotExpired
                }
                other => other,
            });
        }
        if let Some(id) = self.read.snapshot()
            && !self.pool.snapshots().imported(id, self.read.part)
        {
            let _ = self.tagged_since.set(Instant::now());
        }
        started.map_err(|e| self.pool.error(e))
    }
}
/// Starts a statement (`start`: its stream of chunks or rows) and feeds what PostgreSQL sends
/// into `decoder`, handing full batches to the reader: `Ok(true)` once PostgreSQL has sent
/// everything, `Ok(false)` when the reader left before; the cancelled error when the read's
/// query was cancelled meanwhile. The reader and the cancel are watched only while PostgreSQL
/// is silent, so the hot path does not pay for them.
async fn pump<S, T>(
    reading: &Reading<'_>,
    registration: Option<&mut Registration>,
    kind: &'static str,
    start: impl Future<Output = Result<S, PgError>>,
    decoder: &mut CopyDecoder,
    mut feed: impl FnMut(&mut CopyDecoder, T) -> Result<(), CopyError>,
) -> Result<bool, PgError>
where
    S: Stream<Item = Result<T, tokio_postgres::Error>>,
{
    let tx = reading.tx;
    let timer = QueryTimer::start(kind);
    let outcome = async {
        let reader_left = tx.closed();
        tokio::pin!(reader_left);
        let stopped = async move {
            match registration {
                Some(registration) => registration.stopped().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stopped);
        // PostgreSQL answers a COPY with the first data (an aggregate's only row comes at the
        // end), so the reader may leave before the statement starts.
        let stream = tokio::select! {
            biased;
            stream = start => stream?,
            () = &mut reader_left => return Ok(false),
            () = &mut stopped => return Err(stopped_by_cancel()),
        };
        futures::pin_mut!(stream);
        loop {
            let item = tokio::select! {
                biased;
                item = stream.next() => item,
                () = &mut reader_left => return Ok(false),
                () = &mut stopped => return Err(stopped_by_cancel()),
            };
            let Some(item) = item else { break };
            feed(decoder, item.map_err(|e| reading.pool.error(e))?)?;
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
        Ok(true)
    }
    .await;
    timer.finish();
    outcome
}

/// PostgreSQL has finished: hands the decoder's last rows to the reader (a reader leaving now
/// needs no cancel).
async fn flush(decoder: &mut CopyDecoder, tx: &BatchSender) -> Result<bool, PgError> {
    while let Some(batch) = decoder.finish()? {
        if !send(tx, batch).await {
            break;
        }
    }
    Ok(true)
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

/// Ends the read's transaction (or, without one, waits for PostgreSQL's answer to an empty
/// query) while cancelling the statement still running before it again every
/// [`CANCEL_AGAIN_AFTER`]; the connection returns to the pool only once PostgreSQL answered.
async fn stop_then_end(pool: &PgPool, client: PgConnection, began: bool) {
    let token = client.cancel_token();
    let result = {
        let ended = client.batch_execute(if began { "ROLLBACK" } else { "" });
        tokio::pin!(ended);
        loop {
            tokio::select! {
                result = &mut ended => break result,
                () = tokio::time::sleep(CANCEL_AGAIN_AFTER) => pool.cancel(token.clone()).await,
            }
        }
    };
    if let Err(err) = result {
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
