//! JSON logs through `tracing`. Every message handled by the batch runner runs inside a span
//! carrying `order_id` and `event_id`, and the JSON formatter writes the current span's fields
//! on every line, so each log line names its order and event.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The subscriber every function uses, writing JSON lines to `writer`, filtered by `filter`
/// (`Targets`: per-target levels such as `info,o2c_pipeline=debug`; no regex engine in the
/// binaries, unlike `EnvFilter`).
pub fn json_subscriber<W>(writer: W, filter: Targets) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .flatten_event(true)
                .with_target(false)
                .with_writer(writer),
        )
        .with(filter)
}

/// The level filter from a `RUST_LOG`-style value; `info` when unset or unreadable.
pub fn filter_from(value: Option<&str>) -> Targets {
    value
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// Install the JSON subscriber on stdout (later calls do nothing). Levels from `RUST_LOG`,
/// default `info`.
pub fn init() {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout, filter));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{run_batch, DeadLetter, DeadLetterSink, MessageHandler, QueueMessage};
    use async_trait::async_trait;
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use o2c_domain::recipe::StepFailure;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    struct Logs;
    #[async_trait]
    impl MessageHandler for Logs {
        async fn handle(&self, _m: &QueueMessage) -> Result<(), StepFailure> {
            tracing::info!(step = "authorize", "authorizing");
            tracing::warn!("a warning");
            Ok(())
        }
    }
    struct NoSink;
    #[async_trait]
    impl DeadLetterSink for NoSink {
        async fn dead_letter(&self, _l: &DeadLetter) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_json_with_order_and_event_ids() {
        let buf = Buf::default();
        let sub = json_subscriber(buf.clone(), filter_from(None));
        let mut m = SqsMessage::default();
        m.message_id = Some("m-1".into());
        m.body = Some("{}".into());
        m.attributes
            .insert("MessageGroupId".into(), "ord-42".into());
        m.attributes
            .insert("MessageDeduplicationId".into(), "evt-7".into());
        let mut e = SqsEvent::default();
        e.records = vec![m];
        tracing::subscriber::with_default(sub, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(run_batch(&Logs, &NoSink, e));
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() >= 3, "{out}");
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).expect(line);
            assert_eq!(v["span"]["order_id"], "ord-42", "{line}");
            assert_eq!(v["span"]["event_id"], "evt-7", "{line}");
            assert!(
                v["level"].is_string() && v["timestamp"].is_string(),
                "{line}"
            );
        }
    }
}
