//! The integration spec in the pipeline (docs/spec.md): which version serves, what is pinned on
//! an order at intake, and the rules the steps ask.
//!
//! * Intake maps the Clarity order through the active version's `clarity.order`, pins that
//!   version on the order (`spec_version`) with the `capture` rule's decision, and records both
//!   on the timeline. Every later mapping and rule of the order runs under the pinned version,
//!   so a change never alters an order in flight and a redelivery computes the same bodies.
//! * A function looks at the active pointer every `SPEC_REFRESH_SECS` (default 30); an active
//!   version that does not validate is not served: the newest valid older one is, loudly (log
//!   line, `SpecFallback` metric, alarm in the template).

use o2c_connectors::clarity::events::EventEnvelope;
use o2c_connectors::mapping::MappingError;
use o2c_domain::model::CapturePolicy;
use o2c_domain::model::Refund;
use o2c_domain::ports::OrderRecord;
use o2c_domain::recipe::{FailureClass, StepFailure};
use o2c_domain::{Order, TimelineEntry, Timestamp};
use o2c_spec::{context, Decision, LoadOutcome, Spec, Specs};
use serde_json::{json, Value};
use std::sync::Arc;

/// Timeline entry of the pinning.
pub const PINNED: &str = "spec.pinned";

/// Log (and count) what loading or refreshing the active version found.
pub fn report(function: &str, outcome: &LoadOutcome) {
    match outcome {
        LoadOutcome::Bundled => {
            tracing::info!("integration spec: none stored; the bundled one serves")
        }
        LoadOutcome::Active(v) => {
            tracing::info!(version = %v, "integration spec: active version serves")
        }
        LoadOutcome::FellBack {
            active,
            serving,
            problems,
        } => {
            o2c_runtime::metrics::count(function, "SpecFallback");
            tracing::error!(active = %active, serving = %serving, problems = %problems,
                "integration spec: the active version is not valid; an older valid version serves");
        }
    }
}

/// The version new orders pin now (refreshing the active pointer when due).
pub async fn current(specs: &Specs, function: &str) -> Result<Arc<Spec>, String> {
    let (spec, changed) = specs.current().await.map_err(|e| e.to_string())?;
    if let Some(outcome) = changed {
        report(function, &outcome);
    }
    Ok(spec)
}

/// The version `order` pinned; a store outage is retried, a version that no longer compiles is
/// a configuration failure (dead letter with the reason).
pub async fn for_order(specs: &Specs, order: &Order) -> Result<Arc<Spec>, StepFailure> {
    specs
        .pinned(order.spec_version.as_deref())
        .await
        .map_err(|e| match e {
            o2c_spec::store::StoreError::Unavailable(m) if !m.contains("no longer compiles") => {
                StepFailure::RetryLater(m)
            }
            other => StepFailure::NonRetryable {
                class: FailureClass::Internal,
                reason: format!("order {}: spec {}", order.id, other),
            },
        })
}

/// A spec evaluation failure as a mapping error.
fn spec_error(e: o2c_spec::EvalError) -> MappingError {
    let path = match &e.field {
        Some(f) => format!("spec {} {}.{f}", e.version, e.entry),
        None => format!("spec {} {}", e.version, e.entry),
    };
    MappingError::invalid(path, "", e.message)
}

/// Map the order of a Clarity event (`payload.order`, when there is one) through the spec's
/// `clarity.order`, in place, before the event is read.
pub fn inbound(spec: &Spec, envelope: &mut EventEnvelope) -> Result<(), MappingError> {
    let Some(order) = envelope.payload.get_mut("order") else {
        return Ok(());
    };
    if !order.is_object() {
        return Ok(());
    }
    *order = spec
        .map_document("clarity.order", order)
        .map_err(spec_error)?;
    Ok(())
}

/// A Clarity order (as the merchant's Clarity sends it) mapped through `clarity.order`.
pub fn inbound_order(spec: &Spec, order: &Value) -> Result<Value, MappingError> {
    spec.map_document("clarity.order", order)
        .map_err(spec_error)
}

/// Pin `spec` on a new order and take the decisions made at intake (`capture`); the timeline
/// entry says which version and what it decided.
pub fn pin(
    order: &mut Order,
    spec: &Spec,
    now: Timestamp,
) -> Result<(TimelineEntry, Decision), MappingError> {
    let ctx = json!({"order": context::order(order)});
    let d = spec.decide("capture", &ctx).map_err(spec_error)?;
    let policy = CapturePolicy::parse(&d.policy).ok_or_else(|| {
        MappingError::invalid(
            format!("spec {} rules.capture", spec.version),
            &d.policy,
            "is not a capture policy",
        )
    })?;
    order.spec_version = Some(spec.version.clone());
    order.capture_policy = Some(policy);
    // The rates an expression may convert this order's amounts with: pinned with the version,
    // so this entry is the rate and date of every conversion the order's mappings make.
    let rates = spec
        .document
        .rates
        .as_ref()
        .and_then(|r| r.describe_from(order.currency().code()))
        .map(|r| format!("; {r}"))
        .unwrap_or_default();
    let entry = TimelineEntry::new(
        now,
        PINNED,
        format!(
            "spec {} (hash {}): {}{rates}",
            spec.version,
            spec.hash,
            describe(&d)
        ),
    );
    Ok((entry, d))
}

/// `capture: on_shipment (reason)`.
pub fn describe(d: &Decision) -> String {
    format!("{}: {} ({})", d.rule, d.policy, d.reason)
}

/// The spec's `erp` rule for an order: `Some(decision)` when it says skip.
pub fn erp_skip(spec: &Spec, order: &Order) -> Result<Option<Decision>, MappingError> {
    let d = spec
        .decide("erp", &json!({"order": context::order(order)}))
        .map_err(spec_error)?;
    Ok((d.policy == "skip").then_some(d))
}

/// The spec's `crm_case` rule: open a case for this order's rejected payment?
pub fn crm_case(
    spec: &Spec,
    record: &OrderRecord,
    result: &str,
    decision: &str,
    fraud_rejected: bool,
    reviewer_rejected: bool,
) -> Result<Decision, MappingError> {
    let ctx = json!({
        "order": context::order(&record.order),
        "outcome": {
            "result": result,
            "decision": decision,
            "fraud_rejected": fraud_rejected,
            "reviewer_rejected": reviewer_rejected,
        },
    });
    spec.decide("crm_case", &ctx).map_err(spec_error)
}

/// The spec's `refund` rule for a return at `stage` (`requested`, `received`): `on_request` or
/// `on_receipt`, over `.order` and `.return`.
pub fn refund_trigger(
    spec: &Spec,
    order: &Order,
    refund: &Refund,
    stage: &str,
    items: usize,
) -> Result<Decision, MappingError> {
    let ctx = json!({
        "order": context::order(order),
        "return": context::return_request(refund, stage, items),
    });
    spec.decide("refund", &ctx).map_err(spec_error)
}
