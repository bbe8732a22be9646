//! `o2c quarantine list | show | replay`: the quarantine operations
//! ([`o2c_pipeline::quarantine::ops`]) against a stage's tables and queues, rendered for a
//! terminal (or as JSON).
//!
//! A stage's resources: `O2C_<STAGE>_<VAR>` (e.g. `O2C_PROD_QUARANTINE_TABLE_NAME`), or the plain
//! variable when `STAGE` names that stage (as `infra/local/.state/local.env` sets them):
//! `TABLE_NAME`, `QUARANTINE_TABLE_NAME`, `ORDERS_QUEUE_URL`, `REFUNDS_QUEUE_URL`.

use o2c_aws::quarantine::DynamoQuarantine;
use o2c_aws::sqs::SqsPublisher;
use o2c_aws::DynamoOrderStore;
use o2c_domain::ports::{QueueName, SystemClock};
use o2c_domain::quarantine::Quarantined;
use o2c_pipeline::quarantine::alert::fix_for;
use o2c_pipeline::quarantine::ops::{QuarantineOps, Replay};
use o2c_pipeline::redrive::patch::PatchOp;
use o2c_pipeline::webhook::ClarityEvents;
use o2c_spec::Specs;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A stage's variable (see the module documentation).
pub fn stage_var(stage: &str, var: &str) -> Result<String, String> {
    let scoped = format!("O2C_{}_{var}", stage.to_ascii_uppercase().replace('-', "_"));
    if let Ok(v) = std::env::var(&scoped) {
        return Ok(v);
    }
    match (std::env::var("STAGE"), std::env::var(var)) {
        (Ok(s), Ok(v)) if s == stage => Ok(v),
        _ => Err(format!(
            "stage {stage}: set {scoped} (or STAGE={stage} and {var}, as infra/local/.state/local.env does)"
        )),
    }
}

/// The operations on a stage (the AWS configuration from the standard chain).
pub async fn ops_for(stage: &str) -> Result<QuarantineOps, String> {
    let sdk = o2c_aws::aws_config(None).await;
    let store = Arc::new(DynamoOrderStore::from_conf(
        &sdk,
        stage_var(stage, "TABLE_NAME")?,
    ));
    let publisher = Arc::new(SqsPublisher::from_conf(
        &sdk,
        [
            (QueueName::Orders, stage_var(stage, "ORDERS_QUEUE_URL")?),
            (QueueName::Refunds, stage_var(stage, "REFUNDS_QUEUE_URL")?),
        ]
        .into_iter()
        .collect(),
    ));
    let (specs, _) = Specs::load(store.clone(), Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    Ok(QuarantineOps {
        store: Arc::new(DynamoQuarantine::from_conf(
            &sdk,
            stage_var(stage, "QUARANTINE_TABLE_NAME")?,
        )),
        events: ClarityEvents {
            store,
            publisher,
            clock: Arc::new(SystemClock),
            remember: Duration::from_secs(7 * 24 * 3600),
            function: "o2c-quarantine",
            specs: Arc::new(specs),
        },
        clock: Arc::new(SystemClock),
    })
}

fn state(q: &Quarantined) -> String {
    match &q.resolution {
        None => "open".into(),
        Some(r) => format!("{} by {} at {}", r.outcome, r.by, r.at),
    }
}

/// One line per event.
pub fn render_list(items: &[Quarantined]) -> String {
    if items.is_empty() {
        return "no quarantined events".into();
    }
    let mut out = vec![format!(
        "{:<28} {:<16} {:<18} {:<14} {:<34} {:<6} state",
        "event", "type", "order", "class", "path", "spec"
    )];
    for q in items {
        out.push(format!(
            "{:<28} {:<16} {:<18} {:<14} {:<34} {:<6} {}",
            q.event_id,
            q.event_type,
            q.order_id.as_deref().unwrap_or("-"),
            q.failure.class.name(),
            q.failure.path,
            q.spec_version,
            state(q)
        ));
    }
    out.push(format!(
        "{} event(s); {} open",
        items.len(),
        items.iter().filter(|q| q.is_open()).count()
    ));
    out.join("\n")
}

/// The listing as JSON (no bodies: the masked view only).
pub fn list_json(items: &[Quarantined]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|q| {
                let mut v = serde_json::to_value(q).unwrap_or(Value::Null);
                v.as_object_mut().map(|m| m.remove("body"));
                v
            })
            .collect(),
    )
}

/// One event: the failure, the masked view and the suggested fix.
pub fn render_show(q: &Quarantined) -> String {
    let fix = fix_for(q)
        .map(|f| f.line())
        .unwrap_or_else(|| "none for this path".into());
    format!(
        "event {}  ({}, order {})\nreceived {}  deliveries {}  kept until {}  body {} bytes{}\nspec {}\nfailed: {} at {}{}: {}\nsuggested fix: {fix}\nstate: {}\n\nmasked view:\n{}",
        q.event_id,
        q.event_type,
        q.order_id.as_deref().unwrap_or("-"),
        q.received_at,
        q.deliveries,
        q.expires_at,
        q.body_bytes,
        if q.body.is_none() { " (over the cap: not kept)" } else { "" },
        q.spec_version,
        q.failure.class,
        q.failure.path,
        q.failure.value.as_deref().map(|v| format!(" (value {v:?})")).unwrap_or_default(),
        q.failure.message,
        state(q),
        serde_json::to_string_pretty(&q.view).unwrap_or_default()
    )
}

/// One replay's line.
pub fn render_replay(event_id: &str, r: &Replay, dry_run: bool) -> String {
    let what = match r {
        Replay::Done {
            order_id,
            status,
            resolved_now,
        } => format!(
            "replayed: order {} {status}{}",
            order_id.as_deref().unwrap_or("-"),
            if *resolved_now {
                ""
            } else {
                " (resolved by a racing replay)"
            }
        ),
        Replay::AlreadyResolved(res) => format!(
            "already resolved: {} (order {}) by {} at {}, nothing done",
            res.outcome,
            res.order_id.as_deref().unwrap_or("-"),
            res.by,
            res.at
        ),
        Replay::WouldSucceed { summary } => format!("would succeed: {summary}"),
        Replay::StillFailing {
            failure,
            spec_version,
        } => format!(
            "still failing under spec {spec_version}: {} at {}: {}{}",
            failure.class,
            failure.path,
            failure.message,
            if dry_run { "" } else { " (kept)" }
        ),
        Replay::Refused { status, answer } => format!("refused ({status}): {answer} (kept)"),
    };
    format!("{event_id}: {what}")
}

/// Read a JSON Patch file (an RFC 6902 array).
pub fn read_patch(path: &std::path::Path) -> Result<Vec<PatchOp>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not an RFC 6902 JSON Patch array: {e}", path.display()))
}

/// `replay` output as JSON.
pub fn replay_json(results: &[(String, Replay)]) -> Value {
    json!(results
        .iter()
        .map(|(id, r)| r.to_json(id))
        .collect::<Vec<_>>())
}
