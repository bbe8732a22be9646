//! What a spec may define: the mappings the code calls (with the shape of their input and the
//! fields their target knows) and the rules with the policies the code offers. A spec can
//! choose among these; it cannot add one (docs/architecture.md §9).

use serde_json::{json, Value};

/// How a mapping is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `fields:` target field ← expression.
    Fields,
    /// `expr:` one expression giving the whole document.
    Document,
}

/// Which fields a target system knows besides custom ones.
#[derive(Debug, Clone, Copy)]
pub enum Targets {
    /// NetSuite record fields; custom fields start with `cust`.
    NetSuite(&'static [&'static str]),
    /// Salesforce object fields; custom fields end in `__c`.
    Salesforce(&'static [&'static str]),
    /// Clarity's fields (the assumed contract): no custom fields.
    Clarity(&'static [&'static str]),
    /// A document mapping giving an object of these top-level parts only.
    Parts(&'static [&'static str]),
    /// Checked by the code that reads the result.
    Free,
}

/// What `cybersource.authorization` may add to an authorization request: merchant-defined data
/// (Decision Manager rules and reports read it), buyer, device and merchant descriptor
/// information. The money, the payment source and the actions stay code.
pub const CYBERSOURCE_AUTHORIZATION_PARTS: &[&str] = &[
    "merchantDefinedInformation",
    "buyerInformation",
    "deviceInformation",
    "merchantInformation",
];

impl Targets {
    /// Is `field` a field of this target?
    pub fn knows(&self, field: &str) -> bool {
        match self {
            Targets::NetSuite(k) => k.contains(&field) || field.starts_with("cust"),
            Targets::Salesforce(k) => k.contains(&field) || field.ends_with("__c"),
            Targets::Clarity(k) | Targets::Parts(k) => k.contains(&field),
            Targets::Free => true,
        }
    }

    pub fn known(&self) -> &'static [&'static str] {
        match self {
            Targets::NetSuite(k)
            | Targets::Salesforce(k)
            | Targets::Clarity(k)
            | Targets::Parts(k) => k,
            Targets::Free => &[],
        }
    }
}

/// One mapping the code calls.
pub struct MappingInfo {
    pub name: &'static str,
    pub form: Form,
    pub what: &'static str,
    /// A sample of its input (every optional field present), for the field checks and previews.
    pub sample: fn() -> Value,
    pub targets: Targets,
}

/// One rule the code asks.
pub struct RuleInfo {
    pub name: &'static str,
    pub what: &'static str,
    pub policies: &'static [&'static str],
    pub sample: fn() -> Value,
}

const NS_CUSTOMER: &[&str] = &[
    "isPerson",
    "firstName",
    "lastName",
    "companyName",
    "email",
    "phone",
    "subsidiary",
    "currency",
    "addressBook",
    "entityId",
    "comments",
    "category",
    "terms",
    "priceLevel",
    "salesRep",
];
const NS_SALES_ORDER: &[&str] = &[
    "entity",
    "tranDate",
    "otherRefNum",
    "memo",
    "item",
    "shippingCost",
    "shippingAddress",
    "billingAddress",
    "currency",
    "subsidiary",
    "location",
    "department",
    "class",
    "shipMethod",
    "discountItem",
    "discountRate",
    "orderStatus",
    "salesRep",
];
const NS_DEPOSIT: &[&str] = &[
    "customer",
    "salesOrder",
    "payment",
    "tranDate",
    "memo",
    "account",
    "undepFunds",
    "paymentMethod",
    "currency",
    "subsidiary",
    "department",
    "class",
    "location",
];
const NS_REFUND: &[&str] = &[
    "customer",
    "total",
    "tranDate",
    "memo",
    "account",
    "paymentMethod",
    "currency",
    "subsidiary",
    "department",
    "class",
    "location",
];
const SF_CASE: &[&str] = &[
    "Subject",
    "Description",
    "Status",
    "Priority",
    "Origin",
    "Type",
    "Reason",
    "SuppliedName",
    "SuppliedEmail",
    "SuppliedPhone",
    "SuppliedCompany",
    "AccountId",
    "ContactId",
    "OwnerId",
    "ParentId",
];

/// Every mapping the code calls.
pub const MAPPINGS: &[MappingInfo] = &[
    MappingInfo {
        name: "cybersource.authorization",
        form: Form::Document,
        what: "order → parts added to the Cybersource authorization request ({} adds none)",
        sample: sample_order_context,
        targets: Targets::Parts(CYBERSOURCE_AUTHORIZATION_PARTS),
    },
    MappingInfo {
        name: "clarity.order",
        form: Form::Document,
        what: "Clarity order as received → the order the intake reads (CLARITY_ASSUMED.md §4.4)",
        sample: sample_clarity_order,
        targets: Targets::Free,
    },
    MappingInfo {
        name: "clarity.customer",
        form: Form::Fields,
        what: "order → Clarity customer (E4)",
        sample: sample_order_context,
        targets: Targets::Clarity(&[
            "id",
            "email",
            "firstName",
            "lastName",
            "company",
            "phone",
            "billingAddress",
            "shippingAddress",
            "externalIds",
        ]),
    },
    MappingInfo {
        name: "clarity.payment_info",
        form: Form::Fields,
        what: "order in a domain state → Clarity payment info (E2)",
        sample: sample_state_context,
        targets: Targets::Clarity(&[
            "processor",
            "status",
            "amount",
            "currency",
            "transactionId",
            "reconciliationId",
            "authorizationCode",
            "cardBrand",
            "cardLast4",
        ]),
    },
    MappingInfo {
        name: "erp.customer",
        form: Form::Fields,
        what: "order → NetSuite customer",
        sample: sample_order_context,
        targets: Targets::NetSuite(NS_CUSTOMER),
    },
    MappingInfo {
        name: "erp.sales_order",
        form: Form::Fields,
        what: "order → NetSuite salesOrder",
        sample: sample_order_context,
        targets: Targets::NetSuite(NS_SALES_ORDER),
    },
    MappingInfo {
        name: "erp.customer_deposit",
        form: Form::Fields,
        what: "captured payment → NetSuite customerDeposit",
        sample: sample_order_context,
        targets: Targets::NetSuite(NS_DEPOSIT),
    },
    MappingInfo {
        name: "erp.customer_refund",
        form: Form::Fields,
        what: "refund → NetSuite customerRefund",
        sample: sample_refund_context,
        targets: Targets::NetSuite(NS_REFUND),
    },
    MappingInfo {
        name: "erp.chargeback",
        form: Form::Fields,
        what: "chargeback → NetSuite customerRefund",
        sample: sample_chargeback_context,
        targets: Targets::NetSuite(NS_REFUND),
    },
    MappingInfo {
        name: "crm.fraud_case",
        form: Form::Fields,
        what: "fraud rejection → Salesforce Case",
        sample: sample_fraud_context,
        targets: Targets::Salesforce(SF_CASE),
    },
    MappingInfo {
        name: "crm.dispute_case",
        form: Form::Fields,
        what: "chargeback → Salesforce Case",
        sample: sample_chargeback_context,
        targets: Targets::Salesforce(SF_CASE),
    },
];

/// Every rule the code asks, with the policies it offers.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        name: "capture",
        what: "when an accepted authorization is captured (decided at intake, over .order)",
        policies: &["on_accept", "on_shipment", "manual"],
        sample: sample_rule_context,
    },
    RuleInfo {
        name: "erp",
        what: "whether the order goes to the ERP (over .order)",
        policies: &["sync", "skip"],
        sample: sample_rule_context,
    },
    RuleInfo {
        name: "crm_case",
        what: "whether a rejected payment opens a CRM case (over .order and .outcome)",
        policies: &["open", "none"],
        sample: sample_outcome_context,
    },
    RuleInfo {
        name: "refund",
        what: "which return event refunds: the request or the receipt of the items (over .order and .return)",
        policies: &["on_request", "on_receipt"],
        sample: sample_return_context,
    },
];

/// Lookup tables the code reads directly (besides those expressions use), each with the keys
/// it needs.
pub const LOOKUPS: &[(&str, &[&str])] = &[
    (
        "customer_reasons",
        &[
            "payment_declined",
            "payment_authentication_required",
            "payment_not_completed",
            "order_review",
            "order_cancelled",
            "payment_disputed",
            "payment_dispute_closed",
            "payment_reversed",
        ],
    ),
    ("crm", &["case_key_field"]),
    ("clarity_status_out", STATES),
    ("clarity_payment_status", STATES),
];

/// The order states (`o2c_domain::OrderState`), the keys of `clarity_status_out`.
pub const STATES: &[&str] = &[
    "Received",
    "Authorizing",
    "Authorized",
    "PendingReview",
    "Declined",
    "Rejected",
    "Capturing",
    "Captured",
    "Voiding",
    "Voided",
    "Refunding",
    "PartiallyRefunded",
    "Refunded",
    "Disputed",
    "DisputeWon",
    "DisputeLost",
];

/// The Clarity order statuses of the assumed contract (CLARITY_ASSUMED.md §4.5).
pub const CLARITY_STATUSES: &[&str] = &[
    "pending_payment",
    "payment_received",
    "payment_failed",
    "on_hold",
    "processing",
    "shipped",
    "completed",
    "cancelled",
];

/// Lookups whose values the code reads, with what each value may be.
pub const LOOKUP_VALUES: &[(&str, &[&str], &[&str])] = &[
    // (table, allowed keys (empty: any), allowed values besides null)
    ("clarity_status_out", STATES, CLARITY_STATUSES),
    ("clarity_status_in", CLARITY_STATUSES, STATES),
    ("clarity_status", &[], CLARITY_STATUSES),
    (
        "clarity_payment_status",
        STATES,
        &["authorized", "captured", "declined", "review", "voided"],
    ),
];

pub fn mapping(name: &str) -> Option<&'static MappingInfo> {
    MAPPINGS.iter().find(|m| m.name == name)
}

pub fn rule(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.name == name)
}

fn sample_address() -> Value {
    json!({"first_name": "Ľubica", "last_name": "Šťastná", "line1": "Hlavná 1", "line2": "Byt 4",
           "city": "Košice", "region": "KE", "postal_code": "04001", "country": "SK",
           "phone": "+421900000000"})
}

/// The order part of every context (see `crate::context::order`).
pub fn sample_order() -> Value {
    json!({
        "id": "ord_ORD-9", "clarity_id": "ORD-9", "currency": "USD",
        "created_at": "2024-06-01T12:00:00Z", "created_date": "2024-06-01",
        "channel": "web", "attributes": {"gift_message": "Happy birthday"},
        "customer": {"id": "C-9", "clarity_id": "C-9", "first_name": "Ľubica", "last_name": "Šťastná",
                     "email": "lubica@example.sk", "phone": "+421900000000", "erp_id": "88",
                     "crm_id": "003X"},
        "bill_to": sample_address(), "ship_to": sample_address(),
        "lines": [{"sku": "SKU-1", "name": "Čaj", "quantity": 2, "unit_price": "50.00",
                   "discount": "0.00", "tax": "0.00", "amount": "100.00", "total": "100.00"}],
        "shipping": "7.99", "total": "107.99", "total_minor": 10799, "tax_total": "0.00",
        "payment": {"reference": "ord_ORD-9-authorize", "transaction_id": "7000000000000000001",
                    "authorized": "107.99", "captured": "107.99", "card_brand": "visa",
                    "card_last4": "1111"}
    })
}

fn sample_ids() -> Value {
    json!({"customer": "clr-cust-C-9", "sales_order": "clr-so-ORD-9",
           "deposit": "cybs-7000000000000000001"})
}

pub fn sample_order_context() -> Value {
    json!({"order": sample_order(), "ids": sample_ids()})
}

pub fn sample_refund_context() -> Value {
    json!({"order": sample_order(), "ids": sample_ids(),
           "refund": {"id": "rf-1", "amount": "10.00", "reason": "return", "reference": "ord_ORD-9-refund-rf-1",
                      "transaction_id": "7000000000000000002", "requested_date": "2024-06-02"}})
}

pub fn sample_chargeback_context() -> Value {
    json!({"order": sample_order(), "ids": sample_ids(),
           "chargeback": {"id": "cb-7000000000000000001", "amount": "107.99", "currency": "USD",
                          "reason_code": "10.4", "status": "open", "received_at": "2024-06-10T00:00:00Z",
                          "received_date": "2024-06-10", "transaction_id": "7000000000000000001",
                          "notes": "Respond by 2024-06-30."}})
}

pub fn sample_fraud_context() -> Value {
    json!({"order": sample_order(), "ids": sample_ids(),
           "fraud": {"transaction_id": "7000000000000000001", "decision": "REJECT",
                     "reason": "DECISION_PROFILE_REJECT", "score": "87", "profile": "Default",
                     "rules": [{"name": "Velocity", "decision": "REJECT"}]}})
}

/// The input of `clarity.payment_info`: the order and its domain state.
pub fn sample_state_context() -> Value {
    json!({"order": sample_order(), "state": "Captured"})
}

/// The input of the order-only rules (`capture`, `erp`).
pub fn sample_rule_context() -> Value {
    json!({"order": sample_order()})
}

/// The input of `crm_case`: the order and the authorization's outcome.
pub fn sample_outcome_context() -> Value {
    json!({"order": sample_order(),
           "outcome": {"result": "approved", "decision": "ACCEPT", "fraud_rejected": false,
                       "reviewer_rejected": false}})
}

/// The input of `refund`: the order and the customer's return.
pub fn sample_return_context() -> Value {
    json!({"order": sample_order(),
           "return": {"id": "RET-1", "stage": "requested", "amount": "50.00", "amount_minor": 5000,
                      "reason": "damaged", "items": 1}})
}

/// A Clarity order (the assumed contract's shape); a merchant's real one may differ, which is
/// what `clarity.order` is for, so its fields are not checked.
pub fn sample_clarity_order() -> Value {
    json!({
        "id": "ORD-9", "orderNumber": "9", "status": "pending_payment", "currency": "USD",
        "customer": {"id": "C-9", "email": "lubica@example.sk", "firstName": "Ľubica", "lastName": "Šťastná"},
        "billingAddress": {"firstName": "Ľubica", "lastName": "Šťastná", "line1": "Hlavná 1", "city": "Košice",
                           "postalCode": "04001", "countryCode": "SK"},
        "lineItems": [{"id": "L1", "sku": "SKU-1", "name": "Čaj", "quantity": 2, "unitPrice": "50.00",
                       "discountTotal": "0.00", "taxTotal": "0.00", "lineTotal": "100.00"}],
        "totals": {"subtotal": "100.00", "discountTotal": "0.00", "shippingTotal": "0.00",
                   "taxTotal": "0.00", "grandTotal": "100.00"},
        "payment": {"processor": "cybersource", "status": "none", "instrumentToken": "tok"},
        "metadata": {"channel": "web"},
        "createdAt": "2024-06-01T12:00:00Z", "updatedAt": "2024-06-01T12:00:00Z", "version": 1
    })
}
