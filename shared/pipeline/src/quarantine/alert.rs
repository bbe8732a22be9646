//! What the integration team is told: which order, what failed, where, and the mapping
//! assistant's suggested fix ([`o2c_spec::suggest`]) for the field that failed.

use o2c_domain::quarantine::{QuarantineClass, Quarantined};
use o2c_spec::suggest::{self, apply::target_of_contract_path, Candidate};
use serde_json::Value;

/// The assistant's proposal for the field that failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// The canonical field (`customer.email`).
    pub target: String,
    /// Where the contract reads it (`order.customer.email`).
    pub contract_path: String,
    /// The best candidate in the event's own order, when there is a confident one.
    pub candidate: Option<Candidate>,
}

impl Fix {
    /// One line for alerts and `o2c quarantine show`.
    pub fn line(&self) -> String {
        match &self.candidate {
            Some(c) => format!(
                "map {} -> {} (the contract's {}); confidence {:.2}: {}",
                c.source, self.target, self.contract_path, c.confidence, c.why
            ),
            None => format!(
                "no field of this order looks like {} (the contract's {}): add it in Clarity or give the mapping a default",
                self.target, self.contract_path
            ),
        }
    }
}

/// The order as the sender sent it, from a kept body (`payload.order`, else the payload).
pub fn sample_of(body: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(body).ok()?;
    let payload = v.get("payload")?;
    Some(payload.get("order").unwrap_or(payload).clone())
}

/// The suggested fix for a kept event: the failing path's canonical field and the assistant's
/// best source for it in the event's order (never a card-like or secret field: the assistant
/// does not propose those). `None` when the path is not a mapped field (a rule or lookup).
pub fn fix_for(record: &Quarantined) -> Option<Fix> {
    let target = target_of_contract_path(&record.failure.path)?;
    let sample = record.body.as_deref().and_then(sample_of)?;
    let own = record
        .failure
        .path
        .strip_prefix("order.")
        .unwrap_or(&record.failure.path)
        .to_string();
    let candidate = suggest::suggest(&sample)
        .into_iter()
        .find(|s| s.target == target)
        .and_then(|s| {
            s.candidates
                .into_iter()
                .filter(|c| c.confidence >= 0.5)
                // The contract's own place is what failed; propose somewhere else.
                .find(|c| record.failure.class != QuarantineClass::MissingField || c.source != own)
        });
    Some(Fix {
        target: target.to_string(),
        contract_path: record.failure.path.clone(),
        candidate,
    })
}

fn what_failed(r: &Quarantined) -> String {
    let value = r
        .failure
        .value
        .as_deref()
        .map(|v| format!(" (value {v:?})"))
        .unwrap_or_default();
    format!(
        "{} at {}{value}: {}",
        r.failure.class, r.failure.path, r.failure.message
    )
}

/// Subject and message of the alert for one newly quarantined event.
pub fn event_alert(stage: &str, r: &Quarantined) -> (String, String) {
    let order = r.order_id.as_deref().unwrap_or("(no order id)");
    let subject = format!(
        "[o2c {stage}] order {order} quarantined: {} at {}",
        r.failure.class, r.failure.path
    );
    let fix = match fix_for(r) {
        Some(f) => f.line(),
        None if r.body.is_none() => "the body was over the size cap and was not kept: fix the spec, then ask Clarity to resend the event (the catch-up poller also takes in payable orders)".to_string(),
        None => "no mapping suggestion for this path (a rule or lookup of the spec): see the spec's validation and preview".to_string(),
    };
    let message = format!(
        "Clarity event {id} ({kind}) for order {order} did not map under spec {spec} and was quarantined (accepted, not processed).\n\
         \n\
         What failed: {what}\n\
         Suggested fix: {fix}\n\
         \n\
         Next steps (stage {stage}):\n\
         \x20 o2c quarantine show {id} --stage {stage}          the masked event and the full suggestion\n\
         \x20 o2c quarantine show {id} --stage {stage} --body > sample.json\n\
         \x20 o2c spec suggest --sample sample.json --target order --apply spec-fix/   a spec change to review, then o2c spec push\n\
         \x20 o2c quarantine replay {id} --stage {stage} --dry-run   then without --dry-run\n\
         \n\
         Kept (encrypted) until {until}.",
        id = r.event_id,
        kind = r.event_type,
        spec = r.spec_version,
        what = what_failed(r),
        until = r.expires_at,
    );
    (subject, message)
}

/// Subject and message of the one alert sent when a minute's quarantines pass the limit.
pub fn flood_alert(stage: &str, minute: &str, limit: u64, r: &Quarantined) -> (String, String) {
    let subject = format!("[o2c {stage}] quarantine flood: more than {limit} events in a minute");
    let message = format!(
        "More than {limit} Clarity events were quarantined in the minute starting {minute}Z; individual alerts are suppressed until the next minute \
         (every event is still kept, counted in the Quarantined metric and watched by the QuarantineRate alarm).\n\
         \n\
         Latest: event {id} ({kind}), {what}, under spec {spec}.\n\
         A whole flood failing the same way usually means the sender changed its payload or a spec version broke a mapping:\n\
         \x20 o2c quarantine list --stage {stage}\n\
         \x20 o2c spec history --stage {stage}",
        id = r.event_id,
        kind = r.event_type,
        what = what_failed(r),
        spec = r.spec_version,
    );
    (subject, message)
}
