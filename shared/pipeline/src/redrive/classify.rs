//! Classification of a dead letter from its message attributes, and what to do about it in
//! words ([`hint`]).

use super::{ATTR_FAILURE_CLASS, ATTR_FAILURE_REASON, ATTR_SOURCE_QUEUE};
use o2c_domain::ports::QueueName;
use o2c_domain::recipe::FailureClass;
use serde_json::Value;
use std::collections::BTreeMap;

/// The classified reason of a dead letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub class: FailureClass,
    pub reason: String,
    pub source_queue: Option<String>,
}

/// Classify from the message attributes (see the module docs).
pub fn classify(attributes: &BTreeMap<String, String>) -> Classified {
    let attr = |k: &str| {
        attributes
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty() && *v != "(none)")
            .map(str::to_string)
    };
    let source_queue = attr(ATTR_SOURCE_QUEUE);
    let reason = attr(ATTR_FAILURE_REASON);
    match attr(ATTR_FAILURE_CLASS) {
        None => Classified {
            class: FailureClass::RetriesExhausted,
            reason: reason.unwrap_or_else(|| {
                "moved by SQS after maxReceiveCount receives without success (retryable failures \
                 every time; no failure_class attribute)"
                    .into()
            }),
            source_queue,
        },
        Some(raw) => match serde_json::from_value::<FailureClass>(Value::String(raw.clone())) {
            Ok(class) => Classified {
                class,
                reason: reason.unwrap_or_else(|| "(no reason given)".into()),
                source_queue,
            },
            Err(_) => Classified {
                class: FailureClass::Internal,
                reason: format!(
                    "unrecognised failure_class {raw:?}: {}",
                    reason.unwrap_or_default()
                ),
                source_queue,
            },
        },
    }
}

/// What to do, in words, by class.
pub fn hint(class: FailureClass, order_state: Option<&str>, queue: QueueName) -> String {
    let state = order_state
        .map(|s| format!(" The order is now {s}."))
        .unwrap_or_default();
    let h = match class {
        FailureClass::Mapping | FailureClass::Validation => {
            "The message (or the order's data) is invalid: see the suggestion; replay with it, \
             with your own patch, or as is after fixing the data at the source."
                .to_string()
        }
        FailureClass::TerminalApi => "An external API refused the request for good: fix the cause \
             (credentials, the data it names) before replaying as is."
            .to_string(),
        FailureClass::IllegalTransition => format!(
            "The order was not in a state the {queue} step starts from.{state} Replay only if \
             the order has since reached that state; otherwise discard."
        ),
        FailureClass::NotFound => {
            "The order was not found: replay once it exists, or discard.".to_string()
        }
        FailureClass::RetriesExhausted => format!(
            "Failed retryably maxReceiveCount times (throttling, timeouts, a lease held \
             elsewhere): replay as is once the downstream is healthy.{state}"
        ),
        FailureClass::Internal => {
            "A bug or corrupt data: read the function's logs for this message before replaying."
                .to_string()
        }
    };
    if matches!(
        class,
        FailureClass::IllegalTransition | FailureClass::RetriesExhausted
    ) {
        h
    } else {
        format!("{h}{state}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(class: &str, reason: &str) -> BTreeMap<String, String> {
        [
            (ATTR_FAILURE_CLASS, class),
            (ATTR_FAILURE_REASON, reason),
            (
                ATTR_SOURCE_QUEUE,
                "arn:aws:sqs:us-east-1:123456789012:o2c-captures.fifo",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn attributes_classify_and_missing_ones_mean_retries_exhausted() {
        let c = classify(&attrs(
            "mapping",
            "message body is not a valid command: unknown variant `captur`",
        ));
        assert_eq!(c.class, FailureClass::Mapping);
        assert!(c.reason.contains("captur"));
        assert!(c.source_queue.unwrap().ends_with("o2c-captures.fifo"));

        for (raw, class) in [
            ("validation", FailureClass::Validation),
            ("terminal-api", FailureClass::TerminalApi),
            ("illegal-transition", FailureClass::IllegalTransition),
            ("not-found", FailureClass::NotFound),
            ("retries-exhausted", FailureClass::RetriesExhausted),
            ("internal", FailureClass::Internal),
        ] {
            assert_eq!(classify(&attrs(raw, "x")).class, class, "{raw}");
        }

        let c = classify(&BTreeMap::new());
        assert_eq!(c.class, FailureClass::RetriesExhausted);
        assert!(c.reason.contains("maxReceiveCount"));
        assert_eq!(c.source_queue, None);

        let c = classify(&attrs("exploded", "boom"));
        assert_eq!(c.class, FailureClass::Internal);
        assert!(c.reason.contains("exploded"));
    }
}
