//! Clarity wire DTOs: the ASSUMED "Clarity Integration API v1" resources (order, customer,
//! payment info, shipment), plus the inventory level of `CLARITY_ASSUMED.md` §A1 (E6).
//!
//! * camelCase on the wire; unknown fields are ignored (`CLARITY_ASSUMED.md` §4.1), optional ones
//!   may be absent or null.
//! * Money stays a decimal string here (`"107.99"`); [`crate::mapping`] turns it into
//!   [`o2c_domain::Money`] exactly and reports the field path of anything it cannot read.
//! * `Debug` of anything holding PII (names, emails, phones, addresses) or an instrument token
//!   is masked: those fields are [`Pii`] (`o2c_domain::pii`).

use std::collections::BTreeMap;
use std::fmt;

use o2c_domain::pii::{AddressLine, Email, Name, Phone, Pii, PostalCode, Token};
use serde::{Deserialize, Serialize};

/// Order status (`CLARITY_ASSUMED.md` §4.5). Anything this version does not know reads as
/// [`ClarityStatus::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClarityStatus {
    PendingPayment,
    PaymentReceived,
    PaymentFailed,
    OnHold,
    Processing,
    Shipped,
    Completed,
    Cancelled,
    #[serde(other)]
    Other,
}

impl ClarityStatus {
    pub const ALL: [ClarityStatus; 8] = [
        ClarityStatus::PendingPayment,
        ClarityStatus::PaymentReceived,
        ClarityStatus::PaymentFailed,
        ClarityStatus::OnHold,
        ClarityStatus::Processing,
        ClarityStatus::Shipped,
        ClarityStatus::Completed,
        ClarityStatus::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ClarityStatus::PendingPayment => "pending_payment",
            ClarityStatus::PaymentReceived => "payment_received",
            ClarityStatus::PaymentFailed => "payment_failed",
            ClarityStatus::OnHold => "on_hold",
            ClarityStatus::Processing => "processing",
            ClarityStatus::Shipped => "shipped",
            ClarityStatus::Completed => "completed",
            ClarityStatus::Cancelled => "cancelled",
            ClarityStatus::Other => "other",
        }
    }
}

impl fmt::Display for ClarityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `PaymentInfo.status` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    None,
    Authorized,
    Captured,
    Declined,
    Review,
    Voided,
    #[serde(other)]
    Other,
}

/// `Address` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub first_name: Pii<Name>,
    pub last_name: Pii<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Pii<Name>>,
    pub line1: Pii<AddressLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<Pii<AddressLine>>,
    pub city: String,
    /// ISO 3166-2 subdivision part (`TX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Pii<PostalCode>>,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Pii<Phone>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii<Email>>,
}

/// `LineItem` (`CLARITY_ASSUMED.md` §4.4).
/// `lineTotal = quantity × unitPrice − discountTotal + taxTotal`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: String,
    pub discount_total: String,
    pub tax_total: String,
    pub line_total: String,
}

/// `Totals` (`CLARITY_ASSUMED.md` §4.4).
/// `grandTotal = subtotal − discountTotal + shippingTotal + taxTotal`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub subtotal: String,
    pub discount_total: String,
    pub shipping_total: String,
    pub tax_total: String,
    pub grand_total: String,
}

/// `CustomerRef` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRef {
    pub id: String,
    pub email: Pii<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Pii<Name>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Pii<Name>>,
}

/// `PaymentInfo` (`CLARITY_ASSUMED.md` §4.4); in a PATCH it is merged field by field, so every
/// field is optional and only what is set is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PaymentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciliation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    /// A Cybersource transient token (JWT) or TMS payment-instrument id; never a PAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument_token: Option<Pii<Token>>,
    /// ASSUMED addition (CLARITY_ASSUMED.md §A2): the TMS customer id that goes with a TMS
    /// payment-instrument id in `instrumentToken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tms_customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `Order` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub order_number: String,
    pub status: ClarityStatus,
    pub currency: String,
    pub customer: CustomerRef,
    pub billing_address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    pub line_items: Vec<LineItem>,
    pub totals: Totals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

/// `OrderPatch` (`CLARITY_ASSUMED.md` §4.4): at least one member; `payment` and `metadata` are
/// merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ClarityStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl OrderPatch {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.status_reason.is_none()
            && self.payment.is_none()
            && self.metadata.is_none()
    }
}

/// `Customer.externalIds` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerExternalIds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<String>,
}

/// `Customer` (`CLARITY_ASSUMED.md` §4.4). `createdAt`, `updatedAt` and `version` are read-only:
/// read, never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: String,
    pub email: Pii<Email>,
    pub first_name: Pii<Name>,
    pub last_name: Pii<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Pii<Name>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Pii<Phone>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ids: Option<CustomerExternalIds>,
    #[serde(default, skip_serializing)]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub version: Option<u64>,
}

/// One line of a shipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentLine {
    pub line_item_id: String,
    pub quantity: u32,
}

/// `ShipmentCreate` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentCreate {
    pub carrier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub tracking_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    /// RFC 3339 UTC.
    pub shipped_at: String,
    pub lines: Vec<ShipmentLine>,
}

/// `Shipment` (`CLARITY_ASSUMED.md` §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipment {
    pub id: String,
    pub order_id: String,
    pub carrier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub tracking_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    pub shipped_at: String,
    pub lines: Vec<ShipmentLine>,
    pub created_at: String,
}

/// E6 request body (CLARITY_ASSUMED.md §A1): the absolute stock of one SKU at one location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryLevelUpdate {
    pub quantity_on_hand: u64,
    /// Defaults to `quantityOnHand` on the server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_available: Option<u64>,
}

/// E6 response: `InventoryLevel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryLevel {
    pub sku: String,
    pub location_id: String,
    pub quantity_on_hand: u64,
    pub quantity_available: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// One field error of a problem body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem details in Clarity's shape (`CLARITY_ASSUMED.md` §4.6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Problem {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order_json() -> serde_json::Value {
        json!({
            "id": "ORD-1001", "orderNumber": "100001", "status": "pending_payment", "currency": "USD",
            "customer": {"id": "CUST-1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
            "billingAddress": {"firstName": "Ada", "lastName": "Lovelace", "line1": "1 Main St", "city": "Austin",
                               "region": "TX", "postalCode": "78701", "countryCode": "US", "email": "ada@example.com"},
            "lineItems": [{"id": "L1", "sku": "SKU-1", "name": "Mug", "quantity": 2, "unitPrice": "12.50",
                           "discountTotal": "0.00", "taxTotal": "2.00", "lineTotal": "27.00", "futureField": 1}],
            "totals": {"subtotal": "25.00", "discountTotal": "0.00", "shippingTotal": "5.00", "taxTotal": "2.00",
                       "grandTotal": "32.00"},
            "payment": {"processor": "cybersource", "status": "none", "instrumentToken": "eyJhbGciOi.x.y"},
            "metadata": {}, "createdAt": "2024-06-01T12:00:00Z", "updatedAt": "2024-06-01T12:00:00Z",
            "version": 1, "somethingNew": {"a": 1}
        })
    }

    #[test]
    fn order_reads_ignoring_unknown_fields_and_debug_masks_pii() {
        let o: Order = serde_json::from_value(order_json()).unwrap();
        assert_eq!(o.status, ClarityStatus::PendingPayment);
        assert_eq!(o.line_items[0].unit_price, "12.50");
        assert_eq!(o.shipping_address, None);
        let dbg = format!("{o:?}");
        for pii in [
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1 Main St",
            "eyJhbGciOi",
        ] {
            assert!(!dbg.contains(pii), "{pii} in {dbg}");
        }
        // An unknown status does not break reading.
        let mut j = order_json();
        j["status"] = json!("awaiting_pickup");
        let o: Order = serde_json::from_value(j).unwrap();
        assert_eq!(o.status, ClarityStatus::Other);
    }

    #[test]
    fn patch_sends_only_what_is_set_and_customer_never_sends_read_only_fields() {
        let p = OrderPatch {
            status: Some(ClarityStatus::OnHold),
            status_reason: Some("Decision Manager review".into()),
            ..OrderPatch::default()
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"status": "on_hold", "statusReason": "Decision Manager review"})
        );
        assert!(OrderPatch::default().is_empty());
        let c: Customer = serde_json::from_value(json!({
            "id": "CUST-1", "email": "a@b.co", "firstName": "A", "lastName": "B",
            "createdAt": "2024-06-01T12:00:00Z", "updatedAt": "2024-06-01T12:00:00Z", "version": 3
        }))
        .unwrap();
        assert_eq!(c.version, Some(3));
        let out = serde_json::to_value(&c).unwrap();
        assert_eq!(
            out,
            json!({"id": "CUST-1", "email": "a@b.co", "firstName": "A", "lastName": "B"})
        );
    }

    #[test]
    fn debug_of_a_customer_shows_no_email_name_address_or_phone() {
        let address = Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: Some("Analytical Engines Ltd".into()),
            line1: "12 Marylebone Road".into(),
            line2: Some("Flat 3".into()),
            city: "London".into(),
            region: None,
            postal_code: Some("NW1 5LR".into()),
            country_code: "GB".into(),
            phone: Some("+44 20 7946 0958".into()),
            email: Some("ada@example.com".into()),
        };
        let c = Customer {
            id: "C-1".into(),
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: Some("Analytical Engines Ltd".into()),
            phone: Some("+44 20 7946 0958".into()),
            billing_address: Some(address.clone()),
            shipping_address: Some(address),
            external_ids: None,
            created_at: None,
            updated_at: None,
            version: Some(3),
        };
        let dbg = format!("{c:?}");
        for pii in [
            "ada@example.com",
            "Ada",
            "Lovelace",
            "Analytical",
            "Marylebone",
            "Flat 3",
            "5LR",
            "7946",
            "0958",
        ] {
            assert!(!dbg.contains(pii), "{pii} in {dbg}");
        }
        // The masks keep their shape; what is not personal stays readable.
        for shown in [
            "\"a***@e***.com\"",
            "\"A***\"",
            "\"L***\"",
            "\"***\"",
            "\"NW***\"",
            "\"***58\"",
            "C-1",
            "London",
            "GB",
        ] {
            assert!(dbg.contains(shown), "{shown} not in {dbg}");
        }
        // The wire shape is untouched.
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["email"], "ada@example.com");
        assert_eq!(v["billingAddress"]["line1"], "12 Marylebone Road");
        assert_eq!(v["phone"], "+44 20 7946 0958");
    }
}
