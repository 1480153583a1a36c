//! `/healthz` (the process is up) and `/readyz` (PostgreSQL answers through the pool), served
//! beside the gRPC services on the same port.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// A check that succeeds when the server can do its work, or fails with its own error `E` (the
/// pool's, for the server), whose message `/readyz` shows.
pub type ReadinessCheck<E> =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), E>> + Send>> + Send + Sync>;

/// `/healthz`: always answers while the process runs (no credentials, ever).
pub fn health_router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}

/// `/readyz`: whether PostgreSQL answers.
pub fn readiness_router<E: Error + Send + 'static>(readiness: ReadinessCheck<E>) -> Router {
    Router::new()
        .route("/readyz", get(readyz::<E>))
        .with_state(readiness)
}

async fn readyz<E: Error + Send + 'static>(
    State(readiness): State<ReadinessCheck<E>>,
) -> (StatusCode, String) {
    match readiness().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}
