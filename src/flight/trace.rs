//! A trace span per Flight call (with `otlp_endpoint`): `flight <Method>`, a child of the
//! client's W3C `traceparent` when it sends one, open until the response body ends so that the
//! PostgreSQL statements of a DoGet stream are its children. At the end it carries the relation
//! or SQL fingerprint and the rows sent (from the call's [`AuditRecord`], filled by the
//! handlers) and the gRPC status code.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use tracing::Instrument;

use crate::flight::audit::AuditRecord;
use crate::flight::metrics::flight_method;
use crate::telemetry::traces::continue_trace;

/// axum middleware around the gRPC routes (with `otlp_endpoint`).
pub async fn trace(mut request: Request, next: Next) -> Response {
    let Some(method) = flight_method(request.uri().path()) else {
        return next.run(request).await;
    };
    let span = tracing::info_span!(
        "flight",
        otel.name = format!("flight {method}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = "arrow.flight.protocol.FlightService",
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        pgflight.subject = tracing::field::Empty,
        pgflight.rows = tracing::field::Empty,
    );
    continue_trace(&span, request.headers());
    let record = match request.extensions().get::<AuditRecord>() {
        Some(record) => record.clone(),
        None => {
            let record = AuditRecord::default();
            request.extensions_mut().insert(record.clone());
            record
        }
    };
    let response = next.run(request).instrument(span.clone()).await;
    let mut end = End {
        span,
        record,
        code: grpc_status(response.headers()),
        ended: false,
    };
    if end.code.is_some() {
        // A trailers-only answer (an error, or an empty stream): nothing more will come.
        end.finish();
    }
    response.map(|inner| Body::new(TracedBody { inner, end }))
}

/// The numeric gRPC status in `headers`, if they carry one.
fn grpc_status(headers: &HeaderMap) -> Option<u16> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The end of a call: records what the handlers learned and the status on the span.
struct End {
    span: tracing::Span,
    record: AuditRecord,
    code: Option<u16>,
    ended: bool,
}

impl End {
    fn finish(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        let (subject, rows) = self.record.subject_and_rows();
        if let Some(subject) = subject {
            self.span.record("pgflight.subject", subject);
        }
        self.span.record("pgflight.rows", rows);
        // No status at all: the client went away mid-stream (CANCELLED).
        let code = self.code.unwrap_or(1);
        self.span.record("rpc.grpc.status_code", code);
        if code != 0 {
            self.span.record("otel.status_code", "error");
        }
    }
}

impl Drop for End {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The response body, polled inside the call's span (a DoGet's reads start while it streams).
struct TracedBody {
    inner: Body,
    end: End,
}

impl HttpBody for TracedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let span = self.end.span.clone();
        let _entered = span.enter();
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
        {
            self.end.code = Some(grpc_status(trailers).unwrap_or(0));
            self.end.finish();
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
