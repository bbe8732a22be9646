//! What each Lambda function is: its name, the queues it sends to, the queue it consumes and the
//! secrets it reads. One place, used by the binaries, the local stack and the tests.

use o2c_domain::ports::QueueName;
use o2c_runtime::lambda::FunctionSpec;

pub const AUTHORIZE: FunctionSpec = FunctionSpec {
    name: "authorize",
    sends_to: &[
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: Some(QueueName::Orders),
    secrets: &["CYBERSOURCE_SECRET_ID", "CYBERSOURCE_ROUTE_B_SECRET_ID"],
};

/// Sends to refunds: a capture that completed after a cancellation was recorded queues the
/// full refund (see `cancel`).
pub const CAPTURE: FunctionSpec = FunctionSpec {
    name: "capture",
    sends_to: &[
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: Some(QueueName::Captures),
    secrets: &["CYBERSOURCE_SECRET_ID", "CYBERSOURCE_ROUTE_B_SECRET_ID"],
};

/// Writes the dispute's effects itself (ERP record, CRM case, Clarity status + metadata): no
/// queue, four secrets (see `pollers::chargeback`).
pub const CHARGEBACK_POLLER: FunctionSpec = FunctionSpec {
    name: "chargeback-poller",
    sends_to: &[],
    consumes: None,
    secrets: &[
        "CYBERSOURCE_SECRET_ID",
        "CLARITY_SECRET_ID",
        "ERP_SECRET_ID",
        "CRM_SECRET_ID",
    ],
};

/// Scheduled: lists Clarity's recently updated orders and takes in every payable one whose
/// webhook never arrived, through the webhook's intake: sends to orders (authorize).
pub const CLARITY_CATCHUP: FunctionSpec = FunctionSpec {
    name: "clarity-catchup",
    sends_to: &[QueueName::Orders],
    consumes: None,
    secrets: &["CLARITY_SECRET_ID"],
};

/// Sends to orders (new orders to authorize) and refunds (cancellations → void, returns →
/// refund).
pub const CLARITY_ORDER_WEBHOOK: FunctionSpec = FunctionSpec {
    name: "clarity-order-webhook",
    sends_to: &[QueueName::Orders, QueueName::Refunds],
    consumes: None,
    secrets: &["CLARITY_SECRET_ID"],
};

pub const CLARITY_SYNC: FunctionSpec = FunctionSpec {
    name: "clarity-sync",
    sends_to: &[],
    consumes: Some(QueueName::ClaritySync),
    secrets: &["CLARITY_SECRET_ID"],
};

pub const CYBERSOURCE_NOTIFICATION: FunctionSpec = FunctionSpec {
    name: "cybersource-notification",
    sends_to: &[
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: None,
    secrets: &["CYBERSOURCE_SECRET_ID", "CYBERSOURCE_ROUTE_B_SECRET_ID"],
};

pub const DLQ_REDRIVE: FunctionSpec = FunctionSpec {
    name: "dlq-redrive",
    sends_to: &[
        QueueName::Orders,
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: None,
    secrets: &[],
};

/// Sends to captures: an order whose capture policy is `on_shipment` is captured when it ships.
pub const ERP_POLLER: FunctionSpec = FunctionSpec {
    name: "erp-poller",
    sends_to: &[QueueName::Captures],
    consumes: None,
    secrets: &["ERP_SECRET_ID", "CLARITY_SECRET_ID"],
};

pub const ERP_SYNC: FunctionSpec = FunctionSpec {
    name: "erp-sync",
    sends_to: &[],
    consumes: Some(QueueName::ErpSync),
    secrets: &["ERP_SECRET_ID", "CRM_SECRET_ID"],
};

/// Sends to its own queue: a return refunded while a cancellation was recorded queues the
/// refund of the rest (see `cancel`).
pub const REFUND: FunctionSpec = FunctionSpec {
    name: "refund",
    sends_to: &[
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: Some(QueueName::Refunds),
    secrets: &["CYBERSOURCE_SECRET_ID", "CYBERSOURCE_ROUTE_B_SECRET_ID"],
};

/// Every function.
pub const ALL: &[&FunctionSpec] = &[
    &AUTHORIZE,
    &CAPTURE,
    &CHARGEBACK_POLLER,
    &CLARITY_CATCHUP,
    &CLARITY_ORDER_WEBHOOK,
    &CLARITY_SYNC,
    &CONSOLE,
    &CYBERSOURCE_NOTIFICATION,
    &DLQ_REDRIVE,
    &ERP_POLLER,
    &ERP_SYNC,
    &REFUND,
];

/// The operator console (HTTP API): reads orders, the quarantine, the dead letters and the audit
/// trail; replays quarantined events (to orders and refunds, as the webhook does) and dead
/// letters (to their source queues, as dlq-redrive does).
pub const CONSOLE: FunctionSpec = FunctionSpec {
    name: "console",
    sends_to: &[
        QueueName::Orders,
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: None,
    secrets: &["CONSOLE_SECRET_ID"],
};
