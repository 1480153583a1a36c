//! Flight request metrics, recorded by a layer around the gRPC services (so no handler has to
//! remember): `flight_requests_total{method}` when a call arrives and
//! `flight_bytes_sent_total{method}` as its response body goes out. The bytes are the gRPC
//! messages sent (each encoded `FlightData`, `FlightInfo`, … with its 5-byte gRPC length
//! prefix), before HTTP/2 framing. `flight_errors_total{method,code}` counts the calls that
//! ended with a non-OK gRPC status (read from the response's `grpc-status`, in its headers for
//! an immediate refusal or in its trailers for a stream that failed midway), e.g.
//! `code="unauthenticated"`; `flight_auth_failures_total{reason}` counts refused credentials
//! and tokens (recorded by [`crate::flight::auth`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use metrics::Counter;

/// Flight calls received, by `method` (`DoGet`, `GetFlightInfo`, …).
pub const REQUESTS_TOTAL: &str = "flight_requests_total";
/// Response bytes sent, by `method`.
pub const BYTES_SENT_TOTAL: &str = "flight_bytes_sent_total";
/// Calls that ended with a non-OK gRPC status, by `method` and `code` (snake_case code name).
pub const ERRORS_TOTAL: &str = "flight_errors_total";
/// Flight authentication failures, by `reason`: `missing` (no credentials), `credentials`
/// (wrong user name or password), `token` (a malformed, forged or expired bearer token).
pub const AUTH_FAILURES_TOTAL: &str = "flight_auth_failures_total";

const SERVICE_PREFIX: &str = "/arrow.flight.protocol.FlightService/";
const METHODS: [&str; 10] = [
    "Handshake",
    "ListFlights",
    "GetFlightInfo",
    "PollFlightInfo",
    "GetSchema",
    "DoGet",
    "DoPut",
    "DoExchange",
    "DoAction",
    "ListActions",
];

/// Describes the metrics above to the recorder (HELP lines).
pub fn describe() {
    metrics::describe_counter!(REQUESTS_TOTAL, "Flight calls received, by method");
    metrics::describe_counter!(
        BYTES_SENT_TOTAL,
        metrics::Unit::Bytes,
        "Flight response bytes sent (gRPC messages), by method"
    );
    metrics::describe_counter!(
        ERRORS_TOTAL,
        "Flight calls that ended with a non-OK gRPC status, by method and code"
    );
    metrics::describe_counter!(
        AUTH_FAILURES_TOTAL,
        "Flight authentication failures (credentials or bearer tokens refused), by reason"
    );
}

/// Counts one refused Flight authentication (`reason`: see [`AUTH_FAILURES_TOTAL`]).
pub fn auth_failure(reason: &'static str) {
    metrics::counter!(AUTH_FAILURES_TOTAL, "reason" => reason).increment(1);
}

/// The snake_case name of a gRPC status code (`grpc-status` header value), `None` for OK.
pub(crate) fn status_name(value: &[u8]) -> Option<&'static str> {
    error_code(value)
}

fn error_code(value: &[u8]) -> Option<&'static str> {
    let code = std::str::from_utf8(value)
        .ok()?
        .trim()
        .parse::<i32>()
        .ok()?;
    Some(match tonic::Code::from_i32(code) {
        tonic::Code::Ok => return None,
        tonic::Code::Cancelled => "cancelled",
        tonic::Code::Unknown => "unknown",
        tonic::Code::InvalidArgument => "invalid_argument",
        tonic::Code::DeadlineExceeded => "deadline_exceeded",
        tonic::Code::NotFound => "not_found",
        tonic::Code::AlreadyExists => "already_exists",
        tonic::Code::PermissionDenied => "permission_denied",
        tonic::Code::ResourceExhausted => "resource_exhausted",
        tonic::Code::FailedPrecondition => "failed_precondition",
        tonic::Code::Aborted => "aborted",
        tonic::Code::OutOfRange => "out_of_range",
        tonic::Code::Unimplemented => "unimplemented",
        tonic::Code::Internal => "internal",
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::DataLoss => "data_loss",
        tonic::Code::Unauthenticated => "unauthenticated",
    })
}

/// Counts `flight_errors_total` when `headers` (response headers or trailers) carry a non-OK
/// `grpc-status`.
fn count_error(method: &'static str, headers: &HeaderMap) {
    if let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| error_code(v.as_bytes()))
    {
        metrics::counter!(ERRORS_TOTAL, "method" => method, "code" => code).increment(1);
    }
}

/// The Flight method a request path names, when it names one.
pub(crate) fn flight_method(path: &str) -> Option<&'static str> {
    let name = path.strip_prefix(SERVICE_PREFIX)?;
    METHODS.into_iter().find(|m| *m == name)
}

/// axum middleware (`axum::middleware::from_fn(count)`) around the gRPC routes.
pub async fn count(request: Request, next: Next) -> Response {
    let Some(method) = flight_method(request.uri().path()) else {
        return next.run(request).await;
    };
    metrics::counter!(REQUESTS_TOTAL, "method" => method).increment(1);
    let response = next.run(request).await;
    // A trailers-only response (an immediate error) has its status in the headers.
    count_error(method, response.headers());
    let bytes = metrics::counter!(BYTES_SENT_TOTAL, "method" => method);
    response.map(|inner| {
        Body::new(CountingBody {
            inner,
            bytes,
            method,
        })
    })
}

/// A response body that counts its data bytes as they are sent, and the gRPC status in its
/// trailers when that is an error; frames pass through untouched.
struct CountingBody {
    inner: Body,
    bytes: Counter,
    method: &'static str,
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.bytes.increment(data.len() as u64);
            } else if let Some(trailers) = frame.trailers_ref() {
                count_error(self.method, trailers);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_read_from_grpc_paths() {
        assert_eq!(
            flight_method("/arrow.flight.protocol.FlightService/DoGet"),
            Some("DoGet")
        );
        assert_eq!(
            flight_method("/arrow.flight.protocol.FlightService/GetFlightInfo"),
            Some("GetFlightInfo")
        );
        assert_eq!(
            flight_method("/arrow.flight.protocol.FlightService/Nope"),
            None
        );
        assert_eq!(flight_method("/metrics"), None);
    }

    #[test]
    fn grpc_status_codes_are_named() {
        assert_eq!(error_code(b"0"), None);
        assert_eq!(error_code(b"16"), Some("unauthenticated"));
        assert_eq!(error_code(b"3"), Some("invalid_argument"));
        assert_eq!(error_code(b"14"), Some("unavailable"));
        assert_eq!(error_code(b"x"), None);
    }
}
