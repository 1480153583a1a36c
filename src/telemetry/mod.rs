//! Logs (tracing, text or JSON), Prometheus metrics, and the plain-HTTP operational endpoints.

pub mod http;
pub mod metrics;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogLevel};

/// Installs the global tracing subscriber. `RUST_LOG`, when set, refines `log_level`
/// (e.g. `RUST_LOG=pgflight=debug,tower=warn`). Safe to call more than once: later calls
/// leave the first subscriber in place.
pub fn init_logging(level: LogLevel, format: LogFormat) {
    let default = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
