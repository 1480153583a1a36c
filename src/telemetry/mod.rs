//! Logs (tracing, text or JSON), OpenTelemetry traces (with `otlp_endpoint`), Prometheus
//! metrics, and the plain-HTTP operational endpoints.

pub mod http;
pub mod metrics;
pub mod traces;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, LogLevel};
pub use traces::{Traces, TracesError};

/// Installs the global tracing subscriber: log lines on standard error and, with
/// `otlp_endpoint`, spans exported over OTLP (keep the returned [`Traces`] and shut it down
/// last, so the final spans leave). `RUST_LOG`, when set, refines `log_level`
/// (e.g. `RUST_LOG=pgflight=debug,tower=warn`). Safe to call more than once: later calls
/// leave the first subscriber in place.
pub fn init_logging(
    level: LogLevel,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<Traces, TracesError> {
    let default = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    }];
    let mut exported = Traces::default();
    if let Some(endpoint) = otlp_endpoint {
        let (layer, traces) = traces::layer(endpoint)?;
        layers.push(layer);
        exported = traces;
    }
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
    Ok(exported)
}
