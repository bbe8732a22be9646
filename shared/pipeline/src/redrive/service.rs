//! The service: [`Redrive`] runs a pass over the selected DLQs on the [`DeadLetterQueues`]
//! port — receive (hidden), describe, replay the selected ([`super::replay`]), release the
//! rest.
//!
//! FIFO note: while one message of an order's group is hidden, SQS holds back the later ones of
//! the same group, so a listing shows the head of each order's dead letters; a replay pass makes
//! further passes as long as it deleted something.

use super::classify::{classify, hint};
use super::mask::{cut, preview, redact_card_like};
use super::suggest::{suggest, Facts};
use super::types::{
    Action, MessageReport, QueueReport, RedriveError, RedriveRequest, RedriveResponse,
    ReplayOutcome, Summary, DEFAULT_MAX_MESSAGES, DEFAULT_MIN_CONFIDENCE, MAX_MESSAGES,
};
use o2c_aws::dlq::SqsDeadLetterQueues;
use o2c_domain::ports::{DeadLetterQueues, DlqMessage};
use o2c_domain::ports::{OrderStore, QueueName};
use o2c_domain::OrderId;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A queue and its DLQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueUrls {
    pub source: String,
    pub dlq: String,
}

/// dlq-redrive.
#[derive(Clone)]
pub struct Redrive {
    pub port: Arc<dyn DeadLetterQueues>,
    pub queues: BTreeMap<QueueName, QueueUrls>,
    /// Reads the order's state and currency (optional: without it, suggestions use the message
    /// alone).
    pub store: Option<Arc<dyn OrderStore>>,
    /// How long received messages stay hidden during a pass (longer than a pass takes).
    pub hide_secs: u32,
    /// Long poll before concluding a DLQ is empty (short polls may miss messages on SQS).
    pub wait_secs: u32,
}

impl Redrive {
    /// From a function configuration whose `queue_urls` hold the source queues
    /// ([`crate::specs::DLQ_REDRIVE`] sends to all five) and whose `dlq_urls` hold their DLQs
    /// (`<X>_DLQ_URL`), and the adapters (SQS client and order store).
    pub fn from_config(
        config: &o2c_runtime::config::FunctionConfig,
        adapters: &o2c_runtime::wiring::Adapters,
    ) -> Result<Redrive, o2c_runtime::ConfigError> {
        let queues = config
            .queue_urls
            .iter()
            .map(|(q, url)| {
                let dlq = config
                    .dlq_urls
                    .get(q)
                    .ok_or(o2c_runtime::ConfigError::Missing(q.dlq_url_env()))?;
                Ok((
                    *q,
                    QueueUrls {
                        source: url.clone(),
                        dlq: dlq.clone(),
                    },
                ))
            })
            .collect::<Result<_, o2c_runtime::ConfigError>>()?;
        Ok(Redrive {
            port: Arc::new(SqsDeadLetterQueues::from_conf(&adapters.sdk)),
            queues,
            store: Some(adapters.store.clone() as Arc<dyn OrderStore>),
            hide_secs: config.timeout.as_secs().clamp(30, 900) as u32,
            wait_secs: 1,
        })
    }

    /// The Lambda's entry: a JSON event in, a JSON response out.
    pub async fn handle_json(&self, event: Value) -> Result<Value, RedriveError> {
        let request: RedriveRequest =
            serde_json::from_value(event).map_err(|e| RedriveError::BadRequest(e.to_string()))?;
        let response = self.handle(&request).await?;
        Ok(serde_json::to_value(&response).unwrap_or(Value::Null))
    }

    pub async fn handle(&self, request: &RedriveRequest) -> Result<RedriveResponse, RedriveError> {
        let queues = request.validate()?;
        let mut response = RedriveResponse {
            action: request.action,
            dry_run: request.dry_run,
            queues: Vec::new(),
            not_found: Vec::new(),
            summary: Summary::default(),
        };
        let mut wanted: Option<Vec<String>> = request.message_ids.clone();
        for queue in queues {
            let Some(urls) = self.queues.get(&queue) else {
                response.queues.push(QueueReport {
                    queue: queue.to_string(),
                    dlq_url: String::new(),
                    messages: Vec::new(),
                    error: Some(format!("{} is not configured", queue.dlq_url_env())),
                });
                continue;
            };
            if wanted.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
            let report = self.queue_pass(queue, urls, request, wanted.as_mut()).await;
            response.queues.push(report);
        }
        response.not_found = wanted.unwrap_or_default();
        let s = &mut response.summary;
        for m in response.queues.iter().flat_map(|q| &q.messages) {
            s.listed += 1;
            let min = request.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
            if m.suggestion.as_ref().is_some_and(|x| x.is_automatic(min)) {
                s.with_automatic_fix += 1;
            }
            match m.replay.as_ref().map(|r| r.outcome) {
                Some(ReplayOutcome::Replayed) => s.replayed += 1,
                Some(ReplayOutcome::WouldReplay) => s.would_replay += 1,
                Some(ReplayOutcome::Skipped) => s.skipped += 1,
                Some(ReplayOutcome::Failed) => s.failed += 1,
                None => {}
            }
        }
        tracing::info!(
            action = ?request.action,
            dry_run = request.dry_run,
            listed = s.listed,
            replayed = s.replayed,
            would_replay = s.would_replay,
            skipped = s.skipped,
            failed = s.failed,
            "dlq-redrive pass done"
        );
        Ok(response)
    }

    /// One DLQ: receive (hidden), report, replay the selected, release the rest.
    async fn queue_pass(
        &self,
        queue: QueueName,
        urls: &QueueUrls,
        request: &RedriveRequest,
        mut wanted: Option<&mut Vec<String>>,
    ) -> QueueReport {
        let limit = request
            .max_messages
            .unwrap_or(DEFAULT_MAX_MESSAGES)
            .clamp(1, MAX_MESSAGES);
        let mut report = QueueReport {
            queue: queue.to_string(),
            dlq_url: urls.dlq.clone(),
            messages: Vec::new(),
            error: None,
        };
        // Every message received, by id, with its latest receipt handle and whether it is gone.
        let mut held: Vec<(DlqMessage, bool)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut facts_cache: HashMap<String, Facts> = HashMap::new();
        loop {
            let fresh = match self
                .receive_all(&urls.dlq, limit, &mut held, &mut index)
                .await
            {
                Ok(f) => f,
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            };
            if fresh.is_empty() {
                break;
            }
            let mut deleted_any = false;
            for i in fresh {
                let m = held[i].0.clone();
                if let Some(w) = wanted.as_deref_mut() {
                    match w.iter().position(|id| *id == m.message_id) {
                        Some(p) => {
                            w.remove(p);
                        }
                        None => continue,
                    }
                }
                let facts = match facts_cache.get(m.group_id.as_deref().unwrap_or("")) {
                    Some(f) => f.clone(),
                    None => {
                        let f = self.facts(m.group_id.as_deref()).await;
                        facts_cache.insert(m.group_id.clone().unwrap_or_default(), f.clone());
                        f
                    }
                };
                let mut item = describe(queue, &m, &facts);
                if request.action == Action::Replay {
                    let r = self.replay_one(queue, urls, &m, &item, request).await;
                    if r.deleted {
                        held[i].1 = true;
                        deleted_any = true;
                    }
                    item.replay = Some(r);
                }
                report.messages.push(item);
            }
            let done = wanted.as_ref().is_some_and(|w| w.is_empty());
            if done || !deleted_any || held.len() >= limit || request.action == Action::List {
                break;
            }
        }
        for (m, gone) in &held {
            if !gone {
                if let Err(e) = self.port.release(&urls.dlq, &m.receipt_handle).await {
                    tracing::warn!(queue = %queue, message_id = %m.message_id, error = %e, "release failed; visible again after the hide timeout");
                }
            }
        }
        report
    }

    /// Receive until the DLQ yields nothing new or `limit` is reached; the indexes of the new
    /// messages in `held`.
    async fn receive_all(
        &self,
        dlq_url: &str,
        limit: usize,
        held: &mut Vec<(DlqMessage, bool)>,
        index: &mut HashMap<String, usize>,
    ) -> Result<Vec<usize>, String> {
        let mut fresh = Vec::new();
        let mut waited = false;
        while held.len() < limit {
            let want = (limit - held.len()).min(10);
            let wait = if waited { self.wait_secs } else { 0 };
            let batch = self
                .port
                .receive(dlq_url, want, self.hide_secs, wait)
                .await?;
            let mut new_here = 0;
            for m in batch {
                match index.get(&m.message_id) {
                    // Received again (its hide timeout ran out): keep the newest receipt.
                    Some(&i) => held[i].0.receipt_handle = m.receipt_handle,
                    None => {
                        index.insert(m.message_id.clone(), held.len());
                        fresh.push(held.len());
                        held.push((m, false));
                        new_here += 1;
                    }
                }
            }
            if new_here == 0 {
                if waited || self.wait_secs == 0 {
                    break;
                }
                waited = true;
            }
        }
        Ok(fresh)
    }

    async fn facts(&self, group_id: Option<&str>) -> Facts {
        let mut f = Facts {
            group_id: group_id.map(str::to_string),
            ..Facts::default()
        };
        let (Some(store), Some(id)) = (&self.store, group_id.and_then(|g| OrderId::new(g).ok()))
        else {
            return f;
        };
        match store.get(&id).await {
            Ok(Some(r)) => {
                f.order_state = Some(r.state);
                f.order_currency = Some(r.order.total.currency());
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(order_id = %id, error = %e, "order lookup failed"),
        }
        f
    }
}

/// The report of one message (without replay).
pub fn describe(queue: QueueName, m: &DlqMessage, facts: &Facts) -> MessageReport {
    let c = classify(&m.attributes);
    let state = facts.order_state.map(|s| s.as_str().to_string());
    let suggestion = suggest(queue, c.class, &c.reason, &m.body, facts);
    MessageReport {
        message_id: m.message_id.clone(),
        order_id: m.group_id.clone(),
        class: c.class,
        reason: cut(&redact_card_like(&c.reason), 1024),
        source_queue: c.source_queue,
        receive_count: m.receive_count,
        sent_timestamp_ms: m.sent_timestamp_ms,
        body_preview: preview(&m.body),
        hint: hint(c.class, state.as_deref(), queue),
        order_state: state,
        suggestion,
        replay: None,
    }
}
