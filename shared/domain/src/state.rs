//! The order state machine (README "What happens to an order") as one transition table.
//!
//! Every state change in the system is a [`Transition`], and a `Transition` can only be built
//! from a pair that is in [`TRANSITIONS`]. Stores write transitions conditionally (expected
//! state + version), so an illegal or stale change is an error, never a silent overwrite.
//!
//! Beyond the core lifecycle (authorize → capture → refund, with review, reject, void and
//! disputes) the table adds five edges, each needed by a documented flow:
//! - `Rejected → Voiding`: Decision Manager can reject an authorization the issuer approved
//!   (Cybersource `AUTHORIZED_RISK_DECLINED`); the held funds must then be reversed.
//! - `PartiallyRefunded → Refunding`: a second partial refund.
//! - `PartiallyRefunded → Disputed`: a chargeback after a partial refund.
//! - `Authorizing → Received`: a soft decline (issuer or processor unavailable) on one payment
//!   route with another route left; the order is ready for the next authorization attempt
//!   (dynamic routing's cascade; no hold exists after a decline).
//! - `Received → Voided`: a cancellation recorded before any authorization was made (or while
//!   a cascade waits for its next attempt): nothing is held, so nothing is reversed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Domain order states. Clarity's status vocabulary is a mapping onto these, not the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OrderState {
    Received,
    Authorizing,
    Authorized,
    PendingReview,
    Declined,
    Rejected,
    Capturing,
    Captured,
    Voiding,
    Voided,
    Refunding,
    PartiallyRefunded,
    Refunded,
    Disputed,
    DisputeWon,
    DisputeLost,
}

use OrderState::*;

impl OrderState {
    pub const ALL: [OrderState; 16] = [
        Received,
        Authorizing,
        Authorized,
        PendingReview,
        Declined,
        Rejected,
        Capturing,
        Captured,
        Voiding,
        Voided,
        Refunding,
        PartiallyRefunded,
        Refunded,
        Disputed,
        DisputeWon,
        DisputeLost,
    ];

    /// States that mean "a step has claimed this order and is causing an external effect".
    pub const fn is_in_progress(self) -> bool {
        matches!(self, Authorizing | Capturing | Voiding | Refunding)
    }

    /// States with no way out.
    pub fn is_terminal(self) -> bool {
        !TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Received => "Received",
            Authorizing => "Authorizing",
            Authorized => "Authorized",
            PendingReview => "PendingReview",
            Declined => "Declined",
            Rejected => "Rejected",
            Capturing => "Capturing",
            Captured => "Captured",
            Voiding => "Voiding",
            Voided => "Voided",
            Refunding => "Refunding",
            PartiallyRefunded => "PartiallyRefunded",
            Refunded => "Refunded",
            Disputed => "Disputed",
            DisputeWon => "DisputeWon",
            DisputeLost => "DisputeLost",
        }
    }

    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transition table: every legal `(from, to)` pair, and nothing else.
pub const TRANSITIONS: &[(OrderState, OrderState)] = &[
    (Received, Authorizing),
    (Authorizing, Authorized),
    (Authorizing, PendingReview),
    (Authorizing, Declined),
    (Authorizing, Rejected),
    (Authorizing, Received),
    (Authorized, Capturing),
    (Capturing, Captured),
    (PendingReview, Authorized),
    (PendingReview, Rejected),
    (Authorized, Voiding),
    (PendingReview, Voiding),
    (Rejected, Voiding),
    (Voiding, Voided),
    (Received, Voided),
    (Captured, Refunding),
    (PartiallyRefunded, Refunding),
    (Refunding, PartiallyRefunded),
    (Refunding, Refunded),
    (Captured, Disputed),
    (PartiallyRefunded, Disputed),
    (Disputed, DisputeWon),
    (Disputed, DisputeLost),
];

/// Is `from → to` in the table?
pub fn is_legal(from: OrderState, to: OrderState) -> bool {
    TRANSITIONS.contains(&(from, to))
}

/// An attempt to make a change the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal order transition {from} -> {to}")]
pub struct IllegalTransition {
    pub from: OrderState,
    pub to: OrderState,
}

/// A checked state change. The only ways to build one validate it against the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    from: OrderState,
    to: OrderState,
}

impl Transition {
    /// A forward transition from the table.
    pub fn new(from: OrderState, to: OrderState) -> Result<Self, IllegalTransition> {
        if is_legal(from, to) {
            Ok(Transition { from, to })
        } else {
            Err(IllegalTransition { from, to })
        }
    }

    /// Undo a claim: `in_progress → from`, legal only when `from → in_progress` is, and
    /// `in_progress` is an in-progress state. Used when an effect definitely did not happen.
    pub fn release(in_progress: OrderState, from: OrderState) -> Result<Self, IllegalTransition> {
        if in_progress.is_in_progress() && is_legal(from, in_progress) {
            Ok(Transition {
                from: in_progress,
                to: from,
            })
        } else {
            Err(IllegalTransition {
                from: in_progress,
                to: from,
            })
        }
    }

    pub const fn from(&self) -> OrderState {
        self.from
    }

    pub const fn to(&self) -> OrderState {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core lifecycle of `docs/architecture.md` §4 (the table adds the five edges listed in
    /// this module's documentation).
    const CORE_EDGES: &[(OrderState, OrderState)] = &[
        (Received, Authorizing),
        (Authorizing, Authorized),
        (Authorizing, PendingReview),
        (Authorizing, Declined),
        (Authorizing, Rejected),
        (Authorized, Capturing),
        (Capturing, Captured),
        (PendingReview, Authorized),
        (PendingReview, Rejected),
        (Authorized, Voiding),
        (PendingReview, Voiding),
        (Voiding, Voided),
        (Captured, Refunding),
        (Refunding, PartiallyRefunded),
        (Refunding, Refunded),
        (Captured, Disputed),
        (Disputed, DisputeWon),
        (Disputed, DisputeLost),
    ];

    #[test]
    fn every_design_edge_is_legal() {
        for &(from, to) in CORE_EDGES {
            assert!(Transition::new(from, to).is_ok(), "{from} -> {to}");
        }
    }

    #[test]
    fn every_pair_outside_the_table_is_rejected() {
        let mut legal = 0;
        let mut rejected = 0;
        for from in OrderState::ALL {
            for to in OrderState::ALL {
                let expected = TRANSITIONS.contains(&(from, to));
                match Transition::new(from, to) {
                    Ok(t) => {
                        assert!(expected, "{from} -> {to} accepted but not in table");
                        assert_eq!((t.from(), t.to()), (from, to));
                        legal += 1;
                    }
                    Err(e) => {
                        assert!(!expected, "{from} -> {to} in table but rejected");
                        assert_eq!(e, IllegalTransition { from, to });
                        rejected += 1;
                    }
                }
            }
        }
        assert_eq!(legal, TRANSITIONS.len());
        assert_eq!(legal + rejected, 16 * 16);
        // No self-loops, and the table has no duplicates.
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert_ne!(a.0, a.1);
            assert!(!TRANSITIONS[i + 1..].contains(a), "duplicate {a:?}");
        }
    }

    #[test]
    fn only_the_documented_additions_extend_the_design() {
        let extra: Vec<_> = TRANSITIONS
            .iter()
            .filter(|e| !CORE_EDGES.contains(e))
            .collect();
        assert_eq!(
            extra,
            vec![
                &(Authorizing, Received),
                &(Rejected, Voiding),
                &(Received, Voided),
                &(PartiallyRefunded, Refunding),
                &(PartiallyRefunded, Disputed)
            ]
        );
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = OrderState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            vec![Declined, Voided, Refunded, DisputeWon, DisputeLost]
        );
    }

    #[test]
    fn release_only_undoes_a_legal_claim() {
        assert!(Transition::release(Capturing, Authorized).is_ok());
        assert!(Transition::release(Refunding, PartiallyRefunded).is_ok());
        assert!(Transition::release(Capturing, Received).is_err());
        assert!(Transition::release(Authorized, Received).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderState::parse("captured"), None);
    }
}
