//! The ONE place that maps Cybersource statuses to domain outcomes.
//!
//! Input: which operation answered ([`Operation`]), the response `status`, the Decision Manager
//! decision if the response carries one (`riskInformation.profile.decision`: `ACCEPT`, `REVIEW`,
//! `REJECT`), and `errorInformation.reason`. Output: a [`PaymentOutcome`].
//!
//! Rules (docs/cybersource.md: statuses, Decision Manager, reason codes, errors):
//! * A status is only ever [`PaymentOutcome::Approved`] when it is a documented success status
//!   *of that operation* (`AUTHORIZED` for an authorization, `PENDING`/`TRANSMITTED` for a
//!   capture or refund, `REVERSED` for a reversal, `VOIDED`/`CANCELLED` for a void, `ACCEPTED` for
//!   a standalone decision). Anything not recognised is [`PaymentOutcome::Unknown`], never
//!   approved.
//! * An approval can only be downgraded by a risk decision (`REVIEW` → Review, `REJECT` →
//!   RejectedByFraud), never the other way round.
//! * `PARTIAL_AUTHORIZED` is not an approval of the order: it maps to
//!   `Declined { reason: "PARTIAL_AUTHORIZED" }`; the partial hold must be reversed.
//! * `DECLINED` with a Decision Manager / watch-list reason is a fraud rejection; with
//!   `CONSUMER_AUTHENTICATION_REQUIRED` / `PENDING_AUTHENTICATION` it needs 3-D Secure.

use serde::{Deserialize, Serialize};

/// The domain reading of a Cybersource answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// The operation succeeded (authorized, captured, refunded, reversed, voided, accepted).
    Approved,
    /// Decision Manager opened a case; hold until a reviewer decides.
    Review,
    /// Decision Manager (or a watch list) rejected it; do not capture.
    RejectedByFraud,
    /// The issuer/processor declined.
    Declined { reason: String },
    /// Cybersource refused the request as invalid.
    Invalid { reason: String },
    /// 3-D Secure payer authentication is needed.
    NeedsAuthentication,
    /// A status this integration does not know. Never treated as approved.
    Unknown { raw: String },
}

impl PaymentOutcome {
    pub fn is_approved(&self) -> bool {
        matches!(self, PaymentOutcome::Approved)
    }

    /// Stable snake_case name for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PaymentOutcome::Approved => "approved",
            PaymentOutcome::Review => "review",
            PaymentOutcome::RejectedByFraud => "rejected_by_fraud",
            PaymentOutcome::Declined { .. } => "declined",
            PaymentOutcome::Invalid { .. } => "invalid",
            PaymentOutcome::NeedsAuthentication => "needs_authentication",
            PaymentOutcome::Unknown { .. } => "unknown",
        }
    }
}

/// Which call produced the status (the same word means different things per operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `POST /pts/v2/payments` with `capture: false`.
    Authorization,
    /// `POST /pts/v2/payments` with `capture: true`.
    Sale,
    /// `POST /pts/v2/payments/{id}/captures`.
    Capture,
    /// `POST /pts/v2/payments/{id}/refunds`, `POST /pts/v2/captures/{id}/refunds`.
    Refund,
    /// `POST /pts/v2/payments/{id}/reversals`, `POST /pts/v2/reversals`.
    Reversal,
    /// `POST /pts/v2/{payments|captures|refunds|credits}/{id}/voids`, `POST /pts/v2/voids`.
    Void,
    /// Standalone Decision Manager, `POST /risk/v1/decisions`.
    RiskDecision,
}

/// `errorInformation.reason` values that mean Decision Manager or a watch list said no.
pub const FRAUD_REASONS: &[&str] = &[
    "DECISION_PROFILE_REJECT",
    "SCORE_EXCEEDS_THRESHOLD",
    "CUSTOMER_WATCHLIST_MATCH",
    "ADDRESS_COUNTRY_WATCHLIST_MATCH",
    "EMAIL_COUNTRY_WATCHLIST_MATCH",
    "IP_COUNTRY_WATCHLIST_MATCH",
];

/// Declines that say nothing about the card, only about the path to the issuer: another route
/// (merchant id / processor) may well approve the same card, so routing cascades on them.
/// From the reason lists of `docs/cybersource.md` (§2.3 payments 201 `errorInformation.reason`,
/// §2.5 400 reasons): the issuer or processor was unavailable or failed (`ISSUER_UNAVAILABLE`,
/// `PROCESSOR_ERROR`, `PROCESSOR_UNAVAILABLE`), or this merchant id cannot take the payment
/// (`INVALID_MERCHANT_CONFIGURATION`, `CARD_TYPE_NOT_ACCEPTED`). Everything else is the
/// cardholder's or the issuer's answer about the card (`INSUFFICIENT_FUND`, `EXPIRED_CARD`,
/// `STOLEN_LOST_CARD`, `PROCESSOR_DECLINED`, `GENERAL_DECLINE`, ...) and would only be repeated
/// elsewhere; fraud rejects never cascade.
pub const SOFT_DECLINE_REASONS: &[&str] = &[
    "ISSUER_UNAVAILABLE",
    "PROCESSOR_ERROR",
    "PROCESSOR_UNAVAILABLE",
    "INVALID_MERCHANT_CONFIGURATION",
    "CARD_TYPE_NOT_ACCEPTED",
];

/// A TSS (transaction details) reason code as the `errorInformation.reason` a payments 201
/// would have carried. TSS reports Cybersource's numeric reason codes
/// (`applicationInformation.reasonCode`, docs/cybersource.md, transaction details), not the REST reason names, so a
/// decline found by reconciliation needs this to tell soft from hard. Codes from the
/// Cybersource reason-code table: 202 expired card, 203 general decline, 204 insufficient funds,
/// 205 stolen or lost card, 207 issuing bank unavailable, 233 processor decline, 236 processor
/// failure. Others: `None` (a plain decline).
pub fn reason_of_code(code: &str) -> Option<&'static str> {
    Some(match code.trim() {
        "202" => "EXPIRED_CARD",
        "203" => "GENERAL_DECLINE",
        "204" => "INSUFFICIENT_FUND",
        "205" => "STOLEN_LOST_CARD",
        "207" => "ISSUER_UNAVAILABLE",
        "233" => "PROCESSOR_DECLINED",
        "236" => "PROCESSOR_ERROR",
        _ => return None,
    })
}

/// A decline or refusal another route may approve (see [`SOFT_DECLINE_REASONS`]).
pub fn is_soft_decline(outcome: &PaymentOutcome) -> bool {
    match outcome {
        PaymentOutcome::Declined { reason } | PaymentOutcome::Invalid { reason } => {
            SOFT_DECLINE_REASONS.contains(&reason.as_str())
        }
        _ => false,
    }
}

/// `errorInformation.reason` values that ask for payer authentication (3-D Secure).
pub const AUTHENTICATION_REASONS: &[&str] =
    &["CONSUMER_AUTHENTICATION_REQUIRED", "PENDING_AUTHENTICATION"];

fn norm(s: Option<&str>) -> Option<String> {
    s.map(|v| v.trim().to_ascii_uppercase())
        .filter(|v| !v.is_empty())
}

/// Maps one Cybersource answer to a domain outcome. See the module docs for the rules.
pub fn classify(
    operation: Operation,
    status: &str,
    risk_decision: Option<&str>,
    error_reason: Option<&str>,
) -> PaymentOutcome {
    let status_n = status.trim().to_ascii_uppercase();
    let decision = norm(risk_decision);
    let reason = norm(error_reason);
    let reason_or = |fallback: &str| reason.clone().unwrap_or_else(|| fallback.to_owned());
    let unknown = || PaymentOutcome::Unknown {
        raw: status.to_owned(),
    };

    // An approval, unless Decision Manager says otherwise.
    let approved = || match decision.as_deref() {
        Some("REJECT") => PaymentOutcome::RejectedByFraud,
        Some("REVIEW") => PaymentOutcome::Review,
        _ => PaymentOutcome::Approved,
    };
    let declined = || {
        let r = reason.as_deref();
        if r.is_some_and(|r| FRAUD_REASONS.contains(&r)) || decision.as_deref() == Some("REJECT") {
            PaymentOutcome::RejectedByFraud
        } else if r.is_some_and(|r| AUTHENTICATION_REASONS.contains(&r)) {
            PaymentOutcome::NeedsAuthentication
        } else {
            PaymentOutcome::Declined {
                reason: reason_or("DECLINED"),
            }
        }
    };

    match (operation, status_n.as_str()) {
        // Failures common to every operation.
        (_, "INVALID_REQUEST") => PaymentOutcome::Invalid {
            reason: reason_or("INVALID_REQUEST"),
        },
        (_, "DECLINED") => declined(),

        // Authorization / sale (payments 201, `docs/cybersource.md` §2.3, §2.7).
        (Operation::Authorization | Operation::Sale, s) => match s {
            "AUTHORIZED" => approved(),
            // A sale that the processor captured online.
            "TRANSMITTED" | "PENDING" if operation == Operation::Sale => approved(),
            "PARTIAL_AUTHORIZED" => PaymentOutcome::Declined {
                reason: "PARTIAL_AUTHORIZED".to_owned(),
            },
            "AUTHORIZED_PENDING_REVIEW" | "PENDING_REVIEW" => {
                if decision.as_deref() == Some("REJECT") {
                    PaymentOutcome::RejectedByFraud
                } else {
                    PaymentOutcome::Review
                }
            }
            "AUTHORIZED_RISK_DECLINED" | "REJECTED" => PaymentOutcome::RejectedByFraud,
            "PENDING_AUTHENTICATION" | "CHALLENGE" => PaymentOutcome::NeedsAuthentication,
            "AUTHENTICATION_FAILED" => PaymentOutcome::Declined {
                reason: reason_or("AUTHENTICATION_FAILED"),
            },
            "FAILED" => PaymentOutcome::Declined {
                reason: reason_or("FAILED"),
            },
            // `SERVER_ERROR` (a 502 body) says nothing about whether the auth happened.
            _ => unknown(),
        },

        // Capture and refund 201: PENDING (batched) or TRANSMITTED (online) (`docs/cybersource.md`
        // §2.4).
        (Operation::Capture | Operation::Refund, "PENDING" | "TRANSMITTED") => approved(),
        (Operation::Capture | Operation::Refund, "FAILED") => PaymentOutcome::Declined {
            reason: reason_or("FAILED"),
        },

        // Reversal 201: REVERSED.
        (Operation::Reversal, "REVERSED") => PaymentOutcome::Approved,
        (Operation::Reversal, "FAILED") => PaymentOutcome::Declined {
            reason: reason_or("FAILED"),
        },

        // Void 201: VOIDED, CANCELLED, FAILED.
        (Operation::Void, "VOIDED" | "CANCELLED") => PaymentOutcome::Approved,
        (Operation::Void, "FAILED") => PaymentOutcome::Declined {
            reason: reason_or("FAILED"),
        },

        // Standalone Decision Manager (`docs/cybersource.md` §2.7).
        (Operation::RiskDecision, s) => match s {
            "ACCEPTED" => approved(),
            "PENDING_REVIEW" => PaymentOutcome::Review,
            "REJECTED" => PaymentOutcome::RejectedByFraud,
            "PENDING_AUTHENTICATION" | "CHALLENGE" => PaymentOutcome::NeedsAuthentication,
            "AUTHENTICATION_FAILED" => PaymentOutcome::Declined {
                reason: reason_or("AUTHENTICATION_FAILED"),
            },
            _ => unknown(),
        },

        _ => unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;
    use PaymentOutcome as O;

    fn c(op: Operation, status: &str) -> PaymentOutcome {
        classify(op, status, None, None)
    }
    fn declined(r: &str) -> PaymentOutcome {
        O::Declined { reason: r.into() }
    }

    #[test]
    fn soft_declines_are_path_failures_only() {
        for r in ["ISSUER_UNAVAILABLE", "PROCESSOR_ERROR"] {
            assert!(
                is_soft_decline(&classify(Authorization, "DECLINED", None, Some(r))),
                "{r}"
            );
        }
        for r in [
            "PROCESSOR_UNAVAILABLE",
            "INVALID_MERCHANT_CONFIGURATION",
            "CARD_TYPE_NOT_ACCEPTED",
        ] {
            assert!(is_soft_decline(&O::Invalid { reason: r.into() }), "{r}");
        }
        for r in [
            "INSUFFICIENT_FUND",
            "EXPIRED_CARD",
            "STOLEN_LOST_CARD",
            "PROCESSOR_DECLINED",
            "GENERAL_DECLINE",
            "CONTACT_PROCESSOR",
        ] {
            assert!(
                !is_soft_decline(&classify(Authorization, "DECLINED", None, Some(r))),
                "{r}"
            );
        }
        // Fraud rejects and 3-D Secure never cascade, whatever the reason text.
        assert!(!is_soft_decline(&classify(
            Authorization,
            "DECLINED",
            Some("REJECT"),
            Some("ISSUER_UNAVAILABLE")
        )));
        assert!(!is_soft_decline(&O::RejectedByFraud));
        assert!(!is_soft_decline(&O::NeedsAuthentication));
        assert!(!is_soft_decline(&O::Approved));
    }
    fn unknown(r: &str) -> PaymentOutcome {
        O::Unknown { raw: r.into() }
    }

    /// `docs/cybersource.md` §2.3: every documented payments-201 status, plus Hyperswitch's extra
    /// statuses.
    #[test]
    fn authorization_statuses() {
        let table = [
            ("AUTHORIZED", O::Approved),
            ("PARTIAL_AUTHORIZED", declined("PARTIAL_AUTHORIZED")),
            ("AUTHORIZED_PENDING_REVIEW", O::Review),
            ("AUTHORIZED_RISK_DECLINED", O::RejectedByFraud),
            ("PENDING_AUTHENTICATION", O::NeedsAuthentication),
            ("PENDING_REVIEW", O::Review),
            ("DECLINED", declined("DECLINED")),
            (
                "INVALID_REQUEST",
                O::Invalid {
                    reason: "INVALID_REQUEST".into(),
                },
            ),
            // Hyperswitch extras: none of them is an approval of an auth-only request.
            ("TRANSMITTED", unknown("TRANSMITTED")),
            ("PENDING", unknown("PENDING")),
            ("REVERSED", unknown("REVERSED")),
            ("VOIDED", unknown("VOIDED")),
            ("CHALLENGE", O::NeedsAuthentication),
            ("ACCEPTED", unknown("ACCEPTED")),
            ("CANCELLED", unknown("CANCELLED")),
            // Payer authentication and 5xx bodies.
            ("AUTHENTICATION_FAILED", declined("AUTHENTICATION_FAILED")),
            ("SERVER_ERROR", unknown("SERVER_ERROR")),
            ("FAILED", declined("FAILED")),
        ];
        for (status, expected) in table {
            assert_eq!(c(Authorization, status), expected, "{status}");
        }
    }

    #[test]
    fn sale_statuses() {
        assert_eq!(c(Sale, "AUTHORIZED"), O::Approved);
        assert_eq!(c(Sale, "TRANSMITTED"), O::Approved);
        assert_eq!(c(Sale, "PENDING"), O::Approved);
        assert_eq!(c(Sale, "AUTHORIZED_PENDING_REVIEW"), O::Review);
        assert_eq!(c(Sale, "AUTHORIZED_RISK_DECLINED"), O::RejectedByFraud);
        assert_eq!(c(Sale, "REVERSED"), unknown("REVERSED"));
    }

    /// `docs/cybersource.md` §2.4 follow-on statuses.
    #[test]
    fn capture_and_refund_statuses() {
        for op in [Capture, Refund] {
            assert_eq!(c(op, "PENDING"), O::Approved);
            assert_eq!(c(op, "TRANSMITTED"), O::Approved);
            assert_eq!(
                classify(op, "DECLINED", None, Some("INVALID_CARD")),
                declined("INVALID_CARD")
            );
            assert_eq!(
                classify(op, "INVALID_REQUEST", None, Some("EXCEEDS_AUTH_AMOUNT")),
                O::Invalid {
                    reason: "EXCEEDS_AUTH_AMOUNT".into()
                }
            );
            assert_eq!(c(op, "FAILED"), declined("FAILED"));
            for other in [
                "AUTHORIZED",
                "REVERSED",
                "VOIDED",
                "ACCEPTED",
                "SETTLED",
                "",
            ] {
                assert!(matches!(c(op, other), O::Unknown { .. }), "{op:?} {other}");
            }
        }
    }

    #[test]
    fn reversal_statuses() {
        assert_eq!(c(Reversal, "REVERSED"), O::Approved);
        assert_eq!(
            classify(
                Reversal,
                "INVALID_REQUEST",
                None,
                Some("AUTH_ALREADY_REVERSED")
            ),
            O::Invalid {
                reason: "AUTH_ALREADY_REVERSED".into()
            }
        );
        assert_eq!(c(Reversal, "DECLINED"), declined("DECLINED"));
        assert_eq!(c(Reversal, "FAILED"), declined("FAILED"));
        assert_eq!(c(Reversal, "VOIDED"), unknown("VOIDED"));
        assert_eq!(c(Reversal, "PENDING"), unknown("PENDING"));
    }

    #[test]
    fn void_statuses() {
        assert_eq!(c(Void, "VOIDED"), O::Approved);
        assert_eq!(c(Void, "CANCELLED"), O::Approved);
        assert_eq!(c(Void, "FAILED"), declined("FAILED"));
        assert_eq!(
            classify(Void, "INVALID_REQUEST", None, Some("NOT_VOIDABLE")),
            O::Invalid {
                reason: "NOT_VOIDABLE".into()
            }
        );
        assert_eq!(c(Void, "REVERSED"), unknown("REVERSED"));
    }

    /// `docs/cybersource.md` §2.7 standalone decision statuses.
    #[test]
    fn risk_decision_statuses() {
        let table = [
            ("ACCEPTED", O::Approved),
            ("REJECTED", O::RejectedByFraud),
            ("PENDING_REVIEW", O::Review),
            ("DECLINED", declined("DECLINED")),
            ("PENDING_AUTHENTICATION", O::NeedsAuthentication),
            (
                "INVALID_REQUEST",
                O::Invalid {
                    reason: "INVALID_REQUEST".into(),
                },
            ),
            ("AUTHENTICATION_FAILED", declined("AUTHENTICATION_FAILED")),
            ("CHALLENGE", O::NeedsAuthentication),
            ("AUTHORIZED", unknown("AUTHORIZED")),
        ];
        for (status, expected) in table {
            assert_eq!(c(RiskDecision, status), expected, "{status}");
        }
    }

    #[test]
    fn risk_decision_can_only_downgrade_an_approval() {
        let a = |d| classify(Authorization, "AUTHORIZED", Some(d), None);
        assert_eq!(a("ACCEPT"), O::Approved);
        assert_eq!(a("IGNORE"), O::Approved);
        assert_eq!(a("REVIEW"), O::Review);
        assert_eq!(a("REJECT"), O::RejectedByFraud);
        assert_eq!(a("reject"), O::RejectedByFraud);
        // ACCEPT never upgrades anything.
        assert_eq!(
            classify(Authorization, "DECLINED", Some("ACCEPT"), None),
            declined("DECLINED")
        );
        assert_eq!(
            classify(Authorization, "PENDING_REVIEW", Some("ACCEPT"), None),
            O::Review
        );
        assert_eq!(
            classify(Authorization, "PENDING_REVIEW", Some("REJECT"), None),
            O::RejectedByFraud
        );
        assert_eq!(
            classify(Authorization, "SOMETHING_NEW", Some("ACCEPT"), None),
            unknown("SOMETHING_NEW")
        );
        assert_eq!(
            classify(Authorization, "DECLINED", Some("REJECT"), None),
            O::RejectedByFraud
        );
    }

    /// `docs/cybersource.md` §2.3: every documented `errorInformation.reason` on a DECLINED
    /// payment.
    #[test]
    fn declined_reasons() {
        let fraud = FRAUD_REASONS;
        let auth = ["CONSUMER_AUTHENTICATION_REQUIRED", "PENDING_AUTHENTICATION"];
        let plain = [
            "AVS_FAILED",
            "CONTACT_PROCESSOR",
            "EXPIRED_CARD",
            "PROCESSOR_DECLINED",
            "INSUFFICIENT_FUND",
            "STOLEN_LOST_CARD",
            "ISSUER_UNAVAILABLE",
            "UNAUTHORIZED_CARD",
            "CVN_NOT_MATCH",
            "EXCEEDS_CREDIT_LIMIT",
            "INVALID_CVN",
            "BLOCKED_BY_CARDHOLDER",
            "DECLINED_CHECK",
            "BLACKLISTED_CUSTOMER",
            "SUSPENDED_ACCOUNT",
            "PAYMENT_REFUSED",
            "CV_FAILED",
            "INVALID_ACCOUNT",
            "GENERAL_DECLINE",
            "INVALID_MERCHANT_CONFIGURATION",
            "ACH_VERIFICATION_FAILED",
            "DECISION_PROFILE_REVIEW",
            "CONSUMER_AUTHENTICATION_FAILED",
            "ALLOWABLE_PIN_RETRIES_EXCEEDED",
            "PROCESSOR_ERROR",
            "DAGGREJECTED",
            "DAGGDENIED",
            "DSYSREJECTED",
        ];
        for r in fraud {
            assert_eq!(
                classify(Authorization, "DECLINED", None, Some(r)),
                O::RejectedByFraud,
                "{r}"
            );
        }
        for r in auth {
            assert_eq!(
                classify(Authorization, "DECLINED", None, Some(r)),
                O::NeedsAuthentication,
                "{r}"
            );
        }
        for r in plain {
            assert_eq!(
                classify(Authorization, "DECLINED", None, Some(r)),
                declined(r),
                "{r}"
            );
        }
        // `docs/cybersource.md` §2.7: review reason on a review status.
        assert_eq!(
            classify(
                Authorization,
                "AUTHORIZED_PENDING_REVIEW",
                None,
                Some("DECISION_PROFILE_REVIEW")
            ),
            O::Review
        );
    }

    /// `docs/cybersource.md` §2.5: every documented 400 reason comes back as Invalid with that
    /// reason.
    #[test]
    fn invalid_request_reasons() {
        for r in [
            "MISSING_FIELD",
            "INVALID_DATA",
            "DUPLICATE_REQUEST",
            "INVALID_CARD",
            "CARD_TYPE_NOT_ACCEPTED",
            "INVALID_MERCHANT_CONFIGURATION",
            "PROCESSOR_UNAVAILABLE",
            "INVALID_AMOUNT",
            "INVALID_CARD_TYPE",
            "INVALID_PAYMENT_ID",
            "NOT_SUPPORTED",
        ] {
            for op in [Authorization, Capture, Refund, Reversal, Void] {
                assert_eq!(
                    classify(op, "INVALID_REQUEST", None, Some(r)),
                    O::Invalid { reason: r.into() },
                    "{op:?} {r}"
                );
            }
        }
    }

    #[test]
    fn unknown_is_never_approved() {
        for op in [
            Authorization,
            Sale,
            Capture,
            Refund,
            Reversal,
            Void,
            RiskDecision,
        ] {
            for s in [
                "",
                "  ",
                "OK",
                "SUCCESS",
                "APPROVED",
                "AUTHORISED",
                "SETTLED",
            ] {
                let o = classify(op, s, Some("ACCEPT"), None);
                assert!(!o.is_approved(), "{op:?} {s:?}");
                assert_eq!(o, unknown(s));
            }
        }
    }

    #[test]
    fn status_is_matched_case_insensitively_and_trimmed() {
        assert_eq!(c(Authorization, " authorized "), O::Approved);
        assert_eq!(c(Void, "voided"), O::Approved);
    }

    #[test]
    fn serde_shape() {
        let v = serde_json::to_value(declined("EXPIRED_CARD")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"outcome": "declined", "reason": "EXPIRED_CARD"})
        );
        let back: PaymentOutcome = serde_json::from_value(v).unwrap();
        assert_eq!(back, declined("EXPIRED_CARD"));
        assert_eq!(O::RejectedByFraud.code(), "rejected_by_fraud");
    }
}
