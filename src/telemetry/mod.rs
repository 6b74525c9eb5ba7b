//! Structured logging with `tracing`. Log lines never carry secrets or full personal ids: the
//! types that hold them redact themselves in `Debug`/`Display`, and requests log route
//! templates, never raw paths or query strings.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; `RUST_LOG` overrides the configured level. Safe to call twice
/// (the second call does nothing), which tests rely on.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

pub mod metrics;
pub use metrics::Metrics;
