//! Prometheus metrics: one recorder per process (the `metrics` facade's global recorder, so
//! every room records with `metrics::counter!` and friends) and the `/metrics` route that
//! renders it in the Prometheus text format.
//!
//! Several servers in one process (the integration tests) share the recorder, so counters
//! are process-wide; gauges that describe one server's pool are refreshed from that server
//! just before each scrape.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets (seconds) for every `*_duration_seconds` metric: from a catalog lookup
/// (milliseconds) to a long extraction (minutes).
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed as the global `metrics` recorder on first use.
/// Should another global recorder already be installed, pgflight's metrics still render from
/// this handle's own (then empty) registry and a warning says why.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), &DURATION_BUCKETS)
            .expect("duration buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(err) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %err, "another metrics recorder is installed; /metrics stays empty");
        }
        handle
    })
}

/// Called before each scrape to bring gauges up to date (e.g. the pool's occupancy).
pub type GaugeRefresh = Arc<dyn Fn() + Send + Sync>;

/// The `/metrics` route. Installs the recorder if nothing did yet.
pub fn router(refresh: GaugeRefresh) -> Router {
    handle();
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(refresh)
}

async fn scrape(State(refresh): State<GaugeRefresh>) -> impl IntoResponse {
    refresh();
    let handle = handle();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
