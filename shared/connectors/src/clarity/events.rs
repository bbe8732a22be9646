//! Clarity webhook events: the envelope (`CLARITY_ASSUMED.md` §A3/§A4 style) and its typed payloads.
//!
//! | `type` | payload | where defined |
//! |---|---|---|
//! | `order.created` | `{order}` | CLARITY_ASSUMED.md §4.9 |
//! | `order.updated` | `{order, changedFields}` | CLARITY_ASSUMED.md §4.9 |
//! | `order.cancelled` | `{order, reason?, cancelledBy?}` | CLARITY_ASSUMED.md §A3 |
//! | `return.requested` | `{return: ReturnRequest, order?}` | CLARITY_ASSUMED.md §A4 |
//! | `return.received` | `{return: ReturnRequest, order?}` | CLARITY_ASSUMED.md §A6 |
//! | `customer.updated` | `{customer}` | CLARITY_ASSUMED.md §4.9 |
//! | `inventory.updated` | `{sku, locationId, quantityOnHand, quantityAvailable}` | CLARITY_ASSUMED.md §4.9 |
//!
//! Any other type reads as [`ClarityEvent::Unknown`] (answer 200 and ignore it, CLARITY_ASSUMED.md
//! §4.9 step 7).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dto::{Customer, Order};

/// `{ "id", "type", "occurredAt", "payload" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    #[serde(default)]
    pub payload: Value,
}

/// One returned line of a return request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnLine {
    pub line_item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub quantity: u32,
    /// Money (decimal string) refunded for this line.
    pub amount: String,
}

/// A customer's return / refund request (CLARITY_ASSUMED.md §A4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnRequest {
    pub id: String,
    pub order_id: String,
    /// `requested` (`return.requested`) or `received` (`return.received`).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub lines: Vec<ReturnLine>,
    /// Money: shipping refunded on top of the lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_refund: Option<String>,
    /// Money: the amount to refund (lines + shipping unless set otherwise).
    pub refund_amount: String,
    pub currency: String,
    pub requested_at: String,
    /// When the merchant's warehouse recorded the returned items (`return.received`, A6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
}

/// `inventory.updated` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryUpdated {
    pub sku: String,
    pub location_id: String,
    pub quantity_on_hand: i64,
    pub quantity_available: i64,
}

/// A typed event.
#[derive(Debug, Clone, PartialEq)]
pub enum ClarityEvent {
    OrderCreated {
        order: Box<Order>,
    },
    OrderUpdated {
        order: Box<Order>,
        changed_fields: Vec<String>,
    },
    OrderCancelled {
        order: Box<Order>,
        reason: Option<String>,
        cancelled_by: Option<String>,
    },
    ReturnRequested {
        request: ReturnRequest,
        order: Option<Box<Order>>,
    },
    /// The returned items arrived (A6): the refund waits for this under the spec's
    /// `refund: on_receipt`.
    ReturnReceived {
        request: ReturnRequest,
        order: Option<Box<Order>>,
    },
    CustomerUpdated {
        customer: Box<Customer>,
    },
    InventoryUpdated(InventoryUpdated),
    /// A type this version does not handle.
    Unknown {
        event_type: String,
    },
}

/// The envelope's payload does not have its type's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event_type} payload malformed: {reason}")]
pub struct EventError {
    pub event_type: String,
    pub reason: String,
    /// Where in the payload (`order.customer.email`): for a missing field, the field itself.
    pub path: String,
}

impl EventError {
    /// Stable code, like [`super::webhook::WebhookError::code`].
    pub fn code(&self) -> &'static str {
        "payload_malformed"
    }

    /// A payload that does not fit is a 400 (CLARITY_ASSUMED.md §4.9 step 4).
    pub fn http_status(&self) -> u16 {
        400
    }
}

#[derive(Deserialize)]
struct OrderPayload {
    order: Box<Order>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderUpdatedPayload {
    order: Box<Order>,
    #[serde(default)]
    changed_fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderCancelledPayload {
    order: Box<Order>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    cancelled_by: Option<String>,
}

#[derive(Deserialize)]
struct ReturnPayload {
    #[serde(rename = "return")]
    request: ReturnRequest,
    #[serde(default)]
    order: Option<Box<Order>>,
}

#[derive(Deserialize)]
struct CustomerPayload {
    customer: Box<Customer>,
}

impl ClarityEvent {
    pub const ORDER_CREATED: &'static str = "order.created";
    pub const ORDER_UPDATED: &'static str = "order.updated";
    pub const ORDER_CANCELLED: &'static str = "order.cancelled";
    pub const RETURN_REQUESTED: &'static str = "return.requested";
    pub const RETURN_RECEIVED: &'static str = "return.received";
    pub const CUSTOMER_UPDATED: &'static str = "customer.updated";
    pub const INVENTORY_UPDATED: &'static str = "inventory.updated";

    /// Read the envelope's payload by its type.
    pub fn from_envelope(envelope: &EventEnvelope) -> Result<ClarityEvent, EventError> {
        fn read<T: serde::de::DeserializeOwned>(e: &EventEnvelope) -> Result<T, EventError> {
            serde_path_to_error::deserialize(&e.payload).map_err(|err| {
                // serde's message names the field and expected type; values are not echoed
                // for the types used here except enum variants (statuses), which are not PII.
                let reason = err.inner().to_string();
                let at = err.path().to_string();
                let missing = reason
                    .strip_prefix("missing field `")
                    .and_then(|r| r.strip_suffix('`'));
                let path = match (at.as_str(), missing) {
                    (".", Some(f)) => f.to_string(),
                    (p, Some(f)) => format!("{p}.{f}"),
                    (p, None) => p.to_string(),
                };
                EventError {
                    event_type: e.event_type.clone(),
                    reason,
                    path,
                }
            })
        }
        Ok(match envelope.event_type.as_str() {
            Self::ORDER_CREATED => ClarityEvent::OrderCreated {
                order: read::<OrderPayload>(envelope)?.order,
            },
            Self::ORDER_UPDATED => {
                let p: OrderUpdatedPayload = read(envelope)?;
                ClarityEvent::OrderUpdated {
                    order: p.order,
                    changed_fields: p.changed_fields,
                }
            }
            Self::ORDER_CANCELLED => {
                let p: OrderCancelledPayload = read(envelope)?;
                ClarityEvent::OrderCancelled {
                    order: p.order,
                    reason: p.reason,
                    cancelled_by: p.cancelled_by,
                }
            }
            Self::RETURN_REQUESTED => {
                let p: ReturnPayload = read(envelope)?;
                ClarityEvent::ReturnRequested {
                    request: p.request,
                    order: p.order,
                }
            }
            Self::RETURN_RECEIVED => {
                let p: ReturnPayload = read(envelope)?;
                ClarityEvent::ReturnReceived {
                    request: p.request,
                    order: p.order,
                }
            }
            Self::CUSTOMER_UPDATED => ClarityEvent::CustomerUpdated {
                customer: read::<CustomerPayload>(envelope)?.customer,
            },
            Self::INVENTORY_UPDATED => ClarityEvent::InventoryUpdated(read(envelope)?),
            other => ClarityEvent::Unknown {
                event_type: other.to_owned(),
            },
        })
    }

    /// The Clarity order the event is about, if any.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            ClarityEvent::OrderCreated { order }
            | ClarityEvent::OrderUpdated { order, .. }
            | ClarityEvent::OrderCancelled { order, .. } => Some(&order.id),
            ClarityEvent::ReturnRequested { request, .. }
            | ClarityEvent::ReturnReceived { request, .. } => Some(&request.order_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> Value {
        json!({
            "id": "ORD-1001", "orderNumber": "100001", "status": "cancelled", "currency": "JPY",
            "customer": {"id": "CUST-1", "email": "a@example.com"},
            "billingAddress": {"firstName": "花子", "lastName": "山田", "line1": "1-1 Chiyoda", "city": "Tokyo",
                               "countryCode": "JP"},
            "lineItems": [{"id": "L1", "sku": "SKU-1", "name": "Tea", "quantity": 1, "unitPrice": "1500",
                           "discountTotal": "0", "taxTotal": "150", "lineTotal": "1650"}],
            "totals": {"subtotal": "1500", "discountTotal": "0", "shippingTotal": "0", "taxTotal": "150",
                       "grandTotal": "1650"},
            "createdAt": "2024-06-01T12:00:00Z", "updatedAt": "2024-06-01T12:05:00Z", "version": 2
        })
    }

    fn envelope(t: &str, payload: Value) -> EventEnvelope {
        EventEnvelope {
            id: "evt_1".into(),
            event_type: t.into(),
            occurred_at: "2024-06-01T12:05:00Z".into(),
            payload,
        }
    }

    #[test]
    fn typed_payloads() {
        let e = ClarityEvent::from_envelope(&envelope("order.created", json!({"order": order()})))
            .unwrap();
        assert!(matches!(&e, ClarityEvent::OrderCreated { order } if order.currency == "JPY"));
        assert_eq!(e.order_id(), Some("ORD-1001"));

        let e = ClarityEvent::from_envelope(&envelope(
            "order.cancelled",
            json!({"order": order(), "reason": "customer_request", "cancelledBy": "customer"}),
        ))
        .unwrap();
        assert!(
            matches!(&e, ClarityEvent::OrderCancelled { reason: Some(r), cancelled_by: Some(b), .. }
                         if r == "customer_request" && b == "customer")
        );

        let ret = json!({"return": {"id": "RET-1", "orderId": "ORD-1001", "status": "requested",
                                    "reason": "damaged", "lines": [{"lineItemId": "L1", "sku": "SKU-1",
                                    "quantity": 1, "amount": "1650"}], "shippingRefund": "0",
                                    "refundAmount": "1650", "currency": "JPY",
                                    "requestedAt": "2024-06-02T09:00:00Z"},
                         "order": order()});
        let e = ClarityEvent::from_envelope(&envelope("return.requested", ret)).unwrap();
        match &e {
            ClarityEvent::ReturnRequested { request, order } => {
                assert_eq!(request.refund_amount, "1650");
                assert_eq!(request.lines[0].line_item_id, "L1");
                assert!(order.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.order_id(), Some("ORD-1001"));

        let e = ClarityEvent::from_envelope(&envelope(
            "inventory.updated",
            json!({"sku": "SKU-1", "locationId": "WH1", "quantityOnHand": 5, "quantityAvailable": 3}),
        ))
        .unwrap();
        assert!(matches!(
            e,
            ClarityEvent::InventoryUpdated(InventoryUpdated {
                quantity_available: 3,
                ..
            })
        ));

        let e = ClarityEvent::from_envelope(&envelope("loyalty.points", json!({}))).unwrap();
        assert_eq!(
            e,
            ClarityEvent::Unknown {
                event_type: "loyalty.points".into()
            }
        );
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_a_typed_400() {
        // The CLARITY_ASSUMED.md §4.9 signature vector's payload is deliberately not a full Order.
        let e = ClarityEvent::from_envelope(&envelope(
            "order.created",
            json!({"order": {"id": "ORD-1001", "status": "pending_payment"}}),
        ))
        .unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("payload_malformed", 400));
        assert!(e.to_string().contains("order.created"));
    }

    #[test]
    fn return_received_reads_the_same_return_with_its_receipt_time() {
        let ret = json!({"return": {"id": "RET-1", "orderId": "ORD-1001", "status": "received",
                                    "lines": [], "refundAmount": "1650", "currency": "JPY",
                                    "requestedAt": "2024-06-02T09:00:00Z",
                                    "receivedAt": "2024-06-05T15:30:00Z"}});
        let e = ClarityEvent::from_envelope(&envelope("return.received", ret)).unwrap();
        assert_eq!(e.order_id(), Some("ORD-1001"));
        let ClarityEvent::ReturnReceived { request, order } = e else {
            panic!("not a return.received: {e:?}")
        };
        assert_eq!(request.received_at.as_deref(), Some("2024-06-05T15:30:00Z"));
        assert!(order.is_none());
        let bad = json!({"return": {"id": "RET-1", "status": "received"}});
        let err = ClarityEvent::from_envelope(&envelope("return.received", bad)).unwrap_err();
        assert_eq!(err.http_status(), 400);
    }
}
