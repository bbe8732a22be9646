//! Timeline entries: what happened to an order, when, why, and the external reference.

use crate::state::OrderState;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One line of an order's history, appended with every transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// What happened, e.g. `authorize.claimed`, `capture.recorded`.
    pub what: String,
    /// Why, in words an operator understands.
    pub why: String,
    /// The external reference (Cybersource transaction id, ERP id, ...), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<OrderState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<OrderState>,
}

impl TimelineEntry {
    pub fn new(at: Timestamp, what: impl Into<String>, why: impl Into<String>) -> Self {
        TimelineEntry {
            at,
            what: what.into(),
            why: why.into(),
            external_ref: None,
            from: None,
            to: None,
        }
    }

    pub fn with_ref(mut self, external_ref: impl Into<String>) -> Self {
        self.external_ref = Some(external_ref.into());
        self
    }

    pub fn with_states(mut self, from: OrderState, to: OrderState) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }
}
