//! The SQS batch runner: lifts a per-message handler to a batch with partial batch failures
//! (`ReportBatchItemFailures`).
//!
//! - Messages of one FIFO group are handled in order; once one fails, the later messages of that
//!   group in the batch are reported failed too (unprocessed), so SQS redelivers them in order.
//!   Different groups are handled concurrently.
//! - A non-retryable failure goes to the dead-letter sink at once with its classified reason and
//!   the message is acknowledged; if dead-lettering fails, the message is reported failed (SQS
//!   redelivers it, and its own redrive policy moves it to the DLQ after maxReceiveCount).
//! - A panic in one message fails that message only.
//! - The invocation's deadline (from the Lambda context, see [`crate::lambda`]) travels with
//!   every message ([`QueueMessage::deadline`]) so each handler bounds its external calls by it.
//!   A message is not started when less than [`ANSWER_MARGIN`] is left, and a handler still
//!   running [`ANSWER_MARGIN`] before the deadline is stopped: either way the message is reported
//!   failed (retried later; the step recipe's claim and lease make a stopped step safe to run
//!   again), and the batch answers in time instead of timing out as a whole.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
use o2c_domain::recipe::{FailureClass, StepFailure};
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use tracing::Instrument;

tokio::task_local! {
    static INVOCATION_DEADLINE: Option<Instant>;
}

/// The deadline of the message being handled (its invocation's), for code behind a port that
/// does not see the message (e.g. an API client adapter). `None` outside a handler, or when the
/// invocation has no known deadline.
pub fn current_deadline() -> Option<Instant> {
    INVOCATION_DEADLINE.try_with(|d| *d).ok().flatten()
}

/// Time kept at the end of an invocation to answer the batch: handlers are stopped, and no
/// message is started, this close to the deadline.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(300);

/// The parts of an SQS message a handler needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
    /// FIFO `MessageGroupId` (our order id); `None` on standard queues.
    pub group_id: Option<String>,
    /// FIFO `MessageDeduplicationId` (the event id).
    pub dedup_id: Option<String>,
    /// `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// The queue's ARN.
    pub source_arn: Option<String>,
    /// When the invocation must be finished (the Lambda context's deadline). `None` when the
    /// caller has no Lambda context (the local bridge, tests): handlers then bound their calls
    /// by their own budgets, derived from `FUNCTION_TIMEOUT_SECS`.
    pub deadline: Option<Instant>,
}

impl QueueMessage {
    pub fn from_sqs(m: &SqsMessage) -> QueueMessage {
        QueueMessage {
            message_id: m.message_id.clone().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
            group_id: m.attributes.get("MessageGroupId").cloned(),
            dedup_id: m.attributes.get("MessageDeduplicationId").cloned(),
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            source_arn: m.event_source_arn.clone(),
            deadline: None,
        }
    }
}

/// Handles one message.
#[async_trait]
pub trait MessageHandler: Send + Sync {
    async fn handle(&self, message: &QueueMessage) -> Result<(), StepFailure>;
}

/// A message on its way to a DLQ, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub message: QueueMessage,
    pub class: FailureClass,
    pub reason: String,
}

/// Where non-retryable messages go (the consumed queue's DLQ).
#[async_trait]
pub trait DeadLetterSink: Send + Sync {
    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), String>;
}

/// Run a batch without a known invocation deadline (the local bridge, tests): the response
/// lists every message that must be redelivered.
pub async fn run_batch(
    handler: &dyn MessageHandler,
    sink: &dyn DeadLetterSink,
    event: SqsEvent,
) -> SqsBatchResponse {
    run_batch_until(handler, sink, event, None).await
}

/// Run a batch that must be answered before `deadline` (the invocation's): every message
/// carries it to its handler. The response lists every message that must be redelivered.
pub async fn run_batch_until(
    handler: &dyn MessageHandler,
    sink: &dyn DeadLetterSink,
    event: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let messages: Vec<QueueMessage> = event
        .records
        .iter()
        .map(|r| QueueMessage {
            deadline,
            ..QueueMessage::from_sqs(r)
        })
        .collect();
    // Group in arrival order; a message without a group is its own group.
    let mut groups: BTreeMap<String, Vec<QueueMessage>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for m in messages {
        let key = m
            .group_id
            .clone()
            .unwrap_or_else(|| format!("\u{0}{}", m.message_id));
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(m);
    }
    let runs = order.into_iter().map(|key| {
        let group = groups.remove(&key).unwrap_or_default();
        run_group(handler, sink, group)
    });
    let failed: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// Handle one group in order; returns the ids to redeliver.
async fn run_group(
    handler: &dyn MessageHandler,
    sink: &dyn DeadLetterSink,
    group: Vec<QueueMessage>,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut blocked = false;
    for m in group {
        if blocked {
            tracing::info!(message_id = %m.message_id, "skipped: an earlier message of its group failed");
            failed.push(m.message_id);
            continue;
        }
        let span = tracing::info_span!(
            "message",
            order_id = %m.group_id.as_deref().unwrap_or("-"),
            event_id = %m.dedup_id.as_deref().unwrap_or(&m.message_id),
            message_id = %m.message_id,
            receive_count = m.receive_count,
        );
        let ok = handle_one(handler, sink, &m).instrument(span).await;
        if !ok {
            failed.push(m.message_id);
            blocked = true;
        }
    }
    failed
}

/// True when the message is done with (processed or dead-lettered).
async fn handle_one(
    handler: &dyn MessageHandler,
    sink: &dyn DeadLetterSink,
    m: &QueueMessage,
) -> bool {
    let run =
        AssertUnwindSafe(INVOCATION_DEADLINE.scope(m.deadline, handler.handle(m))).catch_unwind();
    let outcome = match m.deadline {
        None => run.await,
        Some(deadline) => {
            let stop = deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline);
            if Instant::now() >= stop {
                tracing::warn!("not started: no time left in this invocation; retry later");
                return false;
            }
            match tokio::time::timeout_at(stop.into(), run).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(
                        "stopped: the invocation's deadline is near; retry later (the step's \
                         claim makes it safe to run again)"
                    );
                    return false;
                }
            }
        }
    };
    match outcome {
        Ok(Ok(())) => {
            tracing::info!("processed");
            true
        }
        Ok(Err(StepFailure::RetryLater(reason))) => {
            tracing::warn!(%reason, "retry later");
            false
        }
        Ok(Err(StepFailure::NonRetryable { class, reason })) => {
            let letter = DeadLetter {
                message: m.clone(),
                class,
                reason: reason.clone(),
            };
            match sink.dead_letter(&letter).await {
                Ok(()) => {
                    tracing::error!(failure_class = %class, %reason, "dead-lettered");
                    true
                }
                Err(e) => {
                    tracing::error!(failure_class = %class, %reason, error = %e, "dead-lettering failed; will be redelivered");
                    false
                }
            }
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(panic = %what, "handler panicked");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn msg(id: &str, group: Option<&str>, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        if let Some(g) = group {
            m.attributes.insert("MessageGroupId".into(), g.into());
            m.attributes
                .insert("MessageDeduplicationId".into(), format!("dedup-{id}"));
        }
        m.attributes
            .insert("ApproximateReceiveCount".into(), "2".into());
        m
    }

    fn event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    /// Behaves by body: "ok", "retry", "dead", "panic".
    #[derive(Default)]
    struct ByBody {
        seen: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl MessageHandler for ByBody {
        async fn handle(&self, m: &QueueMessage) -> Result<(), StepFailure> {
            self.seen.lock().unwrap().push(m.message_id.clone());
            match m.body.as_str() {
                "ok" => Ok(()),
                "retry" => Err(StepFailure::RetryLater("busy".into())),
                "dead" => Err(StepFailure::NonRetryable {
                    class: FailureClass::Mapping,
                    reason: "order.total: \"abc\" is not a decimal".into(),
                }),
                "panic" => panic!("boom"),
                other => panic!("unexpected body {other}"),
            }
        }
    }

    #[derive(Default)]
    struct Sink {
        letters: Mutex<Vec<DeadLetter>>,
        fail: bool,
    }

    #[async_trait]
    impl DeadLetterSink for Sink {
        async fn dead_letter(&self, l: &DeadLetter) -> Result<(), String> {
            if self.fail {
                return Err("dlq unavailable".into());
            }
            self.letters.lock().unwrap().push(l.clone());
            Ok(())
        }
    }

    fn failures(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    fn run(h: &ByBody, s: &Sink, records: Vec<SqsMessage>) -> SqsBatchResponse {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(run_batch(h, s, event(records)))
    }

    #[test]
    fn all_ok_reports_no_failures() {
        let (h, s) = (ByBody::default(), Sink::default());
        let r = run(
            &h,
            &s,
            vec![msg("1", Some("a"), "ok"), msg("2", Some("b"), "ok")],
        );
        assert!(r.batch_item_failures.is_empty());
        assert_eq!(h.seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_failed_message_fails_the_rest_of_its_group_only() {
        let (h, s) = (ByBody::default(), Sink::default());
        let r = run(
            &h,
            &s,
            vec![
                msg("a1", Some("a"), "ok"),
                msg("a2", Some("a"), "retry"),
                msg("b1", Some("b"), "ok"),
                msg("a3", Some("a"), "ok"),
                msg("b2", Some("b"), "ok"),
            ],
        );
        assert_eq!(failures(&r), ["a2", "a3"]);
        let seen = h.seen.lock().unwrap().clone();
        assert!(
            !seen.contains(&"a3".to_string()),
            "a3 must not run after a2 failed"
        );
        assert!(seen.contains(&"b2".to_string()));
    }

    #[test]
    fn non_retryable_goes_to_the_dlq_with_its_reason_and_is_acknowledged() {
        let (h, s) = (ByBody::default(), Sink::default());
        let r = run(
            &h,
            &s,
            vec![msg("1", Some("a"), "dead"), msg("2", Some("a"), "ok")],
        );
        assert!(r.batch_item_failures.is_empty());
        let letters = s.letters.lock().unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].class, FailureClass::Mapping);
        assert!(letters[0].reason.contains("order.total"));
        assert_eq!(letters[0].message.group_id.as_deref(), Some("a"));
        assert_eq!(letters[0].message.receive_count, 2);
    }

    #[test]
    fn when_the_dlq_is_down_the_message_is_redelivered() {
        let h = ByBody::default();
        let s = Sink {
            fail: true,
            ..Default::default()
        };
        let r = run(
            &h,
            &s,
            vec![msg("1", Some("a"), "dead"), msg("2", Some("a"), "ok")],
        );
        assert_eq!(failures(&r), ["1", "2"]);
    }

    /// Records the deadline each message brought; "slow" sleeps 10 s.
    #[derive(Default)]
    struct Deadlines(Mutex<Vec<(String, Option<Instant>)>>);

    #[async_trait]
    impl MessageHandler for Deadlines {
        async fn handle(&self, m: &QueueMessage) -> Result<(), StepFailure> {
            // The deadline is also what code behind a port sees.
            assert_eq!(current_deadline(), m.deadline);
            self.0
                .lock()
                .unwrap()
                .push((m.message_id.clone(), m.deadline));
            if m.body == "slow" {
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            Ok(())
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn every_handler_call_gets_the_invocations_deadline() {
        let (h, s) = (Deadlines::default(), Sink::default());
        let deadline = Instant::now() + Duration::from_secs(30);
        let r = block_on(run_batch_until(
            &h,
            &s,
            event(vec![
                msg("a1", Some("a"), "ok"),
                msg("a2", Some("a"), "ok"),
                msg("x", None, "ok"),
            ]),
            Some(deadline),
        ));
        assert!(r.batch_item_failures.is_empty());
        let seen = h.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|(_, d)| *d == Some(deadline)), "{seen:?}");

        // Without a Lambda context (bridge, tests) there is no invocation deadline.
        let h = Deadlines::default();
        block_on(run_batch(&h, &s, event(vec![msg("b", None, "ok")])));
        assert_eq!(h.0.lock().unwrap()[0].1, None);
        assert_eq!(current_deadline(), None, "outside a handler");
    }

    #[test]
    fn a_handler_running_into_the_deadline_is_stopped_and_its_message_retried() {
        let (h, s) = (Deadlines::default(), Sink::default());
        let start = Instant::now();
        let deadline = start + ANSWER_MARGIN + Duration::from_millis(500);
        let r = block_on(run_batch_until(
            &h,
            &s,
            event(vec![
                msg("a1", Some("a"), "slow"),
                msg("a2", Some("a"), "ok"),
                msg("b1", Some("b"), "ok"),
            ]),
            Some(deadline),
        ));
        // The batch is answered before the deadline, not after the slow handler's 10 s.
        assert!(Instant::now() < deadline, "{:?}", start.elapsed());
        assert_eq!(failures(&r), ["a1", "a2"]);
        let seen: Vec<String> =
            h.0.lock()
                .unwrap()
                .iter()
                .map(|(id, _)| id.clone())
                .collect();
        assert!(seen.contains(&"b1".to_string()));
        assert!(!seen.contains(&"a2".to_string()));

        // A batch that arrives with no time left starts nothing and redelivers everything.
        let h = Deadlines::default();
        let r = block_on(run_batch_until(
            &h,
            &s,
            event(vec![msg("c1", Some("c"), "ok"), msg("d1", None, "ok")]),
            Some(Instant::now() + ANSWER_MARGIN / 2),
        ));
        assert_eq!(failures(&r), ["c1", "d1"]);
        assert!(h.0.lock().unwrap().is_empty());
        assert!(s.letters.lock().unwrap().is_empty());
    }

    #[test]
    fn a_panic_fails_that_message_only() {
        let (h, s) = (ByBody::default(), Sink::default());
        let r = run(
            &h,
            &s,
            vec![
                msg("x", None, "panic"),
                msg("y", None, "ok"),
                msg("p1", Some("p"), "panic"),
                msg("p2", Some("p"), "ok"),
                msg("q1", Some("q"), "ok"),
            ],
        );
        assert_eq!(failures(&r), ["x", "p1", "p2"]);
    }
}
