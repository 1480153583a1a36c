//! OpenTelemetry traces (with `otlp_endpoint`): the `tracing` spans of Flight calls and
//! PostgreSQL statements exported over OTLP/gRPC, a client's W3C `traceparent` continued, and
//! the trace id of the span running now (for `application_name`). Without `otlp_endpoint`
//! nothing here runs and no span leaves the process.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Why traces cannot be exported to `otlp_endpoint`.
#[derive(Debug, thiserror::Error)]
#[error("otlp_endpoint: cannot export traces to {endpoint}: {source}")]
pub struct TracesError {
    /// The configured endpoint.
    endpoint: String,
    /// What the OTLP exporter said.
    source: opentelemetry_otlp::ExporterBuildError,
}

/// The running exporter; [`Traces::shutdown`] sends the spans still buffered.
#[derive(Debug, Default)]
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    /// Flushes and stops the exporter (blocks until the collector answered or gave up).
    pub fn shutdown(self) {
        if let Some(provider) = self.0
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "could not send the last spans to otlp_endpoint");
        }
    }
}

/// The `tracing` layer that exports spans to `endpoint` (OTLP over gRPC), and its exporter.
/// Must be called inside the Tokio runtime (the gRPC channel lives on it).
pub fn layer<S>(endpoint: &str) -> Result<(Box<dyn Layer<S> + Send + Sync>, Traces), TracesError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TracesError {
            endpoint: endpoint.to_string(),
            source,
        })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("pgflight")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let tracer = provider.tracer("pgflight");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
    Ok((layer, Traces(Some(provider))))
}

/// Makes `span` a child of the trace named by `headers`' W3C `traceparent` (and `tracestate`),
/// when they carry a valid one; otherwise `span` starts a trace of its own.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: then there is nothing to continue.
        let _ = span.set_parent(parent);
    }
}

/// The trace id (32 hex digits) of the span running now, when traces are exported.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Reads propagation fields from HTTP (gRPC metadata) headers.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}
