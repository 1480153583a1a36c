//! Flight request metrics, recorded by a layer around the gRPC services (so no handler has to
//! remember): `flight_requests_total{method}` when a call arrives and
//! `flight_bytes_sent_total{method}` as its response body goes out. The bytes are the gRPC
//! messages sent (each encoded `FlightData`, `FlightInfo`, … with its 5-byte gRPC length
//! prefix), before HTTP/2 framing.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use metrics::Counter;

/// Flight calls received, by `method` (`DoGet`, `GetFlightInfo`, …).
pub const REQUESTS_TOTAL: &str = "flight_requests_total";
/// Response bytes sent, by `method`.
pub const BYTES_SENT_TOTAL: &str = "flight_bytes_sent_total";

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
}

/// The Flight method a request path names, when it names one.
fn flight_method(path: &str) -> Option<&'static str> {
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
    let bytes = metrics::counter!(BYTES_SENT_TOTAL, "method" => method);
    response.map(|inner| Body::new(CountingBody { inner, bytes }))
}

/// A response body that counts its data bytes as they are sent; trailers (the gRPC status)
/// pass through untouched.
struct CountingBody {
    inner: Body,
    bytes: Counter,
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.increment(data.len() as u64);
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
}
