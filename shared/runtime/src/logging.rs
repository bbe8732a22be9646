//! JSON logs through `tracing`. Every message handled by the batch runner runs inside a span
//! carrying `order_id` and `event_id`, and the JSON formatter writes the span's fields on every
//! line, so each log line names its order and event.

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// Install the JSON subscriber (idempotent; later calls do nothing). Level from `RUST_LOG`,
/// default `info`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_span_events(FmtSpan::NONE)
        .try_init();
}

/// The span every message is handled in.
#[macro_export]
macro_rules! message_span {
    ($order_id:expr, $event_id:expr) => {
        tracing::info_span!("message", order_id = %$order_id, event_id = %$event_id)
    };
}
