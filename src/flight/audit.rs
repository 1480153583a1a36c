//! The audit log (`audit = true`): one structured line per Flight call, at its end — time (the
//! log line's own), user, client address, method, the relation or a SQL fingerprint (literals
//! replaced by `?`), rows and bytes sent, duration and gRPC status code. Never a password, a
//! token or a literal value. Lines go through `tracing` with target `pgflight::audit` (JSON
//! with `log_format = "json"`).
//!
//! A layer around the gRPC routes ([`audit`]) puts an [`AuditRecord`] in each request's
//! extensions; the gateway fills in the user, the service the subject and the rows; the line is
//! written when the response body ends (its trailers carry the status) or is dropped (the
//! client went away: `cancelled`).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

use crate::flight::metrics::{flight_method, status_name};
use crate::pg::read::read_source::Source;
use crate::plan::command::Command;
use crate::plan::read_plan::{ReadPlan, plan_body::Body as PlanBody};
use crate::plan::relations::fingerprint;
use crate::plan::request::ExtractionMode;

/// The address of the client of a connection (put into every request's extensions).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

#[derive(Debug, Default)]
struct Fields {
    user: Option<String>,
    subject: Option<String>,
    rows: u64,
}

/// What the handlers add to a call's audit line.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord(Arc<Mutex<Fields>>);

impl AuditRecord {
    /// The record of `request`, when auditing is on.
    pub fn of<T>(request: &tonic::Request<T>) -> Option<AuditRecord> {
        request.extensions().get::<AuditRecord>().cloned()
    }

    fn fields(&self) -> std::sync::MutexGuard<'_, Fields> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The authenticated user (empty with `auth = "none"`).
    pub fn set_user(&self, user: &str) {
        self.fields().user = Some(user.to_string());
    }

    /// The relation read, or the SQL fingerprint (never SQL with its literals).
    pub fn set_subject(&self, subject: String) {
        self.fields().subject = Some(subject);
    }

    /// `rows` more rows sent.
    pub fn add_rows(&self, rows: usize) {
        self.fields().rows += rows as u64;
    }

    /// The subject and the rows sent so far (for the call's trace span).
    pub fn subject_and_rows(&self) -> (Option<String>, u64) {
        let fields = self.fields();
        (fields.subject.clone(), fields.rows)
    }
}

/// The audit subject of a command: the relation named, or the SQL fingerprint.
pub fn command_subject(command: &Command) -> String {
    match command {
        Command::Extract(request) => match &request.mode {
            ExtractionMode::FullTable { entity }
            | ExtractionMode::Incremental { entity, .. }
            | ExtractionMode::Changes { entity, .. } => entity.clone(),
        },
        Command::Path(path) => path.join("."),
        Command::Statement { sql, .. } => fingerprint(sql),
        Command::Described { statement, .. } => fingerprint(&statement.sql),
        Command::Explain(inner) => format!("EXPLAIN {}", command_subject(inner)),
    }
}

/// The audit subject of a read plan (DoGet).
pub fn plan_subject(plan: &ReadPlan) -> String {
    match &plan.body {
        Some(PlanBody::Read(read)) => match &read.source {
            Some(Source::Scan(scan)) => format!("{}.{}", scan.schema, scan.table),
            Some(Source::Statement(statement)) => fingerprint(&statement.sql),
            None => String::new(),
        },
        Some(PlanBody::Query(query)) => format!("{}.{}", query.schema, query.table),
        Some(PlanBody::Explain(_)) => "EXPLAIN".into(),
        Some(PlanBody::Changes(changes)) => format!("{}.{}", changes.schema, changes.table),
        None => String::new(),
    }
}

/// axum middleware around the gRPC routes (with `audit = true`).
pub async fn audit(mut request: Request, next: Next) -> Response {
    let Some(method) = flight_method(request.uri().path()) else {
        return next.run(request).await;
    };
    let record = AuditRecord::default();
    let client = request.extensions().get::<ClientAddr>().map(|c| c.0);
    request.extensions_mut().insert(record.clone());
    let started = Instant::now();
    let response = next.run(request).await;
    let line = Line {
        record,
        method,
        client,
        started,
        bytes: 0,
        code: status_code(response.headers()),
        written: false,
    };
    response.map(|inner| Body::new(AuditBody { inner, line }))
}

/// The gRPC status code in `headers`, if they carry one.
fn status_code(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get("grpc-status")
        .map(|v| status_name(v.as_bytes()).unwrap_or("ok"))
}

struct Line {
    record: AuditRecord,
    method: &'static str,
    client: Option<SocketAddr>,
    started: Instant,
    bytes: u64,
    code: Option<&'static str>,
    written: bool,
}

impl Line {
    fn write(&mut self, code: &'static str) {
        if self.written {
            return;
        }
        self.written = true;
        let fields = self.record.fields();
        tracing::info!(
            target: "pgflight::audit",
            user = fields.user.as_deref().unwrap_or(""),
            client = %self.client.map(|c| c.to_string()).unwrap_or_default(),
            method = self.method,
            subject = fields.subject.as_deref().unwrap_or(""),
            rows = fields.rows,
            bytes = self.bytes,
            duration_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            code,
            "audit"
        );
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        // Ended without trailers: a trailers-only answer (status in the headers), or a client
        // that went away mid-stream.
        let code = self.code.unwrap_or("cancelled");
        self.write(code);
    }
}

struct AuditBody {
    inner: Body,
    line: Line,
}

impl HttpBody for AuditBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.line.bytes += data.len() as u64;
            } else if let Some(trailers) = frame.trailers_ref() {
                let code = status_code(trailers).unwrap_or("ok");
                self.line.write(code);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
