//! The canonical model: orders, customers, payments, refunds and chargebacks, each with our
//! id and the external ids that link it to Clarity, Cybersource, the ERP and the CRM.
//!
//! Card data never appears here: a payment instrument is a Cybersource token. Personal data
//! (names, emails, phones, address lines, postal codes) and tokens are [`Pii`] fields, so
//! `Debug` of any of these types shows only masks.

use crate::ids::{ChargebackId, CustomerId, ExternalIds, OrderId, PaymentId, RefundId};
use crate::money::{Currency, Money, MoneyError};
use crate::pii::{AddressLine, Email, Name, Phone, Pii, PostalCode, Token};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub first_name: Pii<Name>,
    pub last_name: Pii<Name>,
    pub line1: Pii<AddressLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<Pii<AddressLine>>,
    pub city: String,
    /// State / province / region code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: Pii<PostalCode>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Pii<Phone>>,
}

/// A customer. `external.cybersource` is the TMS customer id once one exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    #[serde(default)]
    pub external: ExternalIds,
    pub email: Pii<Email>,
    pub first_name: Pii<Name>,
    pub last_name: Pii<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Pii<Phone>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    /// Discount on the whole line (not per unit). Absent in documents written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Money>,
}

impl LineItem {
    /// unit price × quantity − discount + tax.
    pub fn total(&self) -> Result<Money, MoneyError> {
        let mut total = self.unit_price.checked_mul(self.quantity)?;
        if let Some(d) = &self.discount {
            total = total.checked_sub(d)?;
        }
        match &self.tax {
            Some(t) => total.checked_add(t),
            None => Ok(total),
        }
    }
}

/// How the customer pays: always a Cybersource token, never a card number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentInstrument {
    /// A Microform / Unified Checkout transient token (a JWT, valid for 15 minutes).
    TransientToken { jwt: Pii<Token> },
    /// Stored TMS ids.
    Tms {
        customer_id: String,
        payment_instrument_id: String,
    },
}

/// The payment of an order at Cybersource. `external.cybersource` is the authorization's
/// transaction id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    #[serde(default)]
    pub external: ExternalIds,
    /// The deterministic reference sent as `clientReferenceInformation.code`.
    pub reference: String,
    pub authorized: Money,
    pub captured: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_brand: Option<String>,
    /// Last four digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundStatus {
    Requested,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: RefundId,
    #[serde(default)]
    pub external: ExternalIds,
    pub reference: String,
    pub amount: Money,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargebackStatus {
    Open,
    Won,
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chargeback {
    pub id: ChargebackId,
    #[serde(default)]
    pub external: ExternalIds,
    pub amount: Money,
    pub reason_code: String,
    pub status: ChargebackStatus,
    pub received_at: Timestamp,
}

/// An order: what was bought, by whom, and how it is paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    #[serde(default)]
    pub external: ExternalIds,
    pub customer: Customer,
    pub bill_to: Address,
    /// Only when it differs from `bill_to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<Address>,
    pub lines: Vec<LineItem>,
    /// Shipping charged on top of the lines (tax on shipping included). Absent in documents
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Money>,
    pub total: Money,
    pub instrument: PaymentInstrument,
    /// The sales channel (`web`, `mobile`, `b2b`, …) when Clarity says (order metadata
    /// `channel`); routing rules may look at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The merchant's own order attributes (Clarity order metadata), for the spec's mappings
    /// and rules (`.order.attributes`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The integration spec version pinned at intake: every mapping and rule of this order's
    /// life is evaluated under it (docs/spec.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// When an accepted authorization is captured, decided at intake by the spec's `capture`
    /// rule and kept for the order's life; absent (orders from before the spec): on accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_policy: Option<CapturePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default)]
    pub chargebacks: Vec<Chargeback>,
    pub created_at: Timestamp,
}

/// When an accepted authorization is captured: the policies the code offers to the spec's
/// `capture` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapturePolicy {
    /// As soon as the authorization is approved (or a review accepts it).
    OnAccept,
    /// When the ERP reports the first fulfilment shipped.
    OnShipment,
    /// Only when an operator asks (`o2c order capture`): a hold.
    Manual,
}

impl CapturePolicy {
    /// The spec's name of the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            CapturePolicy::OnAccept => "on_accept",
            CapturePolicy::OnShipment => "on_shipment",
            CapturePolicy::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::OnAccept, Self::OnShipment, Self::Manual]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

impl Order {
    /// The order's capture policy (on accept when none was recorded).
    pub fn capture_policy(&self) -> CapturePolicy {
        self.capture_policy.unwrap_or(CapturePolicy::OnAccept)
    }
}

/// Why an order's amounts do not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("order total {total} does not equal the sum of its lines {lines}")]
    TotalMismatch { total: Money, lines: Money },
    #[error("order total must be positive, got {0}")]
    NonPositiveTotal(Money),
    #[error("refund of {requested} exceeds the refundable {refundable}")]
    RefundExceedsCaptured { requested: Money, refundable: Money },
}

impl Order {
    pub fn currency(&self) -> Currency {
        self.total.currency()
    }

    /// The sum of the lines plus shipping equals the total, in one currency, and is positive.
    pub fn validate_amounts(&self) -> Result<(), OrderError> {
        let mut lines = self
            .lines
            .iter()
            .map(LineItem::total)
            .collect::<Result<Vec<_>, _>>()?;
        lines.extend(self.shipping);
        let sum = Money::sum(self.currency(), &lines)?;
        if sum != self.total {
            return Err(OrderError::TotalMismatch {
                total: self.total,
                lines: sum,
            });
        }
        if self.total.minor() <= 0 {
            return Err(OrderError::NonPositiveTotal(self.total));
        }
        Ok(())
    }

    /// Captured minus every refund that is requested or succeeded.
    pub fn refundable(&self) -> Result<Money, OrderError> {
        let captured = self
            .payment
            .as_ref()
            .map_or(Money::zero(self.currency()), |p| p.captured);
        let refunded = Money::sum(
            self.currency(),
            self.refunds
                .iter()
                .filter(|r| r.status != RefundStatus::Failed)
                .map(|r| &r.amount),
        )?;
        Ok(captured.checked_sub(&refunded)?)
    }

    /// Check that a refund of `amount` fits in what is still refundable.
    pub fn check_refund(&self, amount: &Money) -> Result<(), OrderError> {
        let refundable = self.refundable()?;
        if amount.minor() <= 0 || amount.checked_cmp(&refundable)? == std::cmp::Ordering::Greater {
            return Err(OrderError::RefundExceedsCaptured {
                requested: *amount,
                refundable,
            });
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "fakes"))]
pub mod sample {
    //! A valid sample order for tests.
    use super::*;

    pub fn order(id: &str) -> Order {
        let usd = |m| Money::from_minor(m, Currency::USD);
        let addr = Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            line1: "1 Analytical Way".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: "N1 1AA".into(),
            country: "GB".into(),
            phone: None,
        };
        Order {
            id: OrderId::new(id).unwrap(),
            external: ExternalIds {
                clarity: Some(format!("CL-{id}")),
                ..Default::default()
            },
            customer: Customer {
                id: CustomerId::new("cust-1").unwrap(),
                external: ExternalIds::default(),
                email: "ada@example.com".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                phone: None,
            },
            bill_to: addr,
            ship_to: None,
            lines: vec![LineItem {
                sku: "SKU-1".into(),
                name: "Widget".into(),
                quantity: 2,
                unit_price: usd(5000),
                tax: Some(usd(799)),
                discount: None,
            }],
            shipping: None,
            total: usd(10799),
            instrument: PaymentInstrument::Tms {
                customer_id: "TMSC1".into(),
                payment_instrument_id: "TMSPI1".into(),
            },
            channel: None,
            attributes: Default::default(),
            spec_version: None,
            capture_policy: None,
            payment: None,
            refunds: vec![],
            chargebacks: vec![],
            created_at: Timestamp::from_millis(1_700_000_000_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_validate_and_refunds_are_bounded() {
        let mut o = sample::order("o1");
        o.validate_amounts().unwrap();
        o.total = Money::from_minor(1, Currency::USD);
        assert!(matches!(
            o.validate_amounts(),
            Err(OrderError::TotalMismatch { .. })
        ));

        let mut o = sample::order("o2");
        let usd = |m| Money::from_minor(m, Currency::USD);
        assert!(o.check_refund(&usd(1)).is_err(), "nothing captured yet");
        o.payment = Some(Payment {
            id: PaymentId::new("p1").unwrap(),
            external: ExternalIds::default(),
            reference: "o2-authorize".into(),
            authorized: usd(10799),
            captured: usd(10799),
            capture_id: None,
            card_brand: None,
            card_last4: None,
        });
        o.check_refund(&usd(10799)).unwrap();
        o.refunds.push(Refund {
            id: RefundId::new("r1").unwrap(),
            external: ExternalIds::default(),
            reference: "o2-refund-1".into(),
            amount: usd(10000),
            reason: "return".into(),
            status: RefundStatus::Succeeded,
            requested_at: Timestamp::from_millis(0),
        });
        assert_eq!(o.refundable().unwrap(), usd(799));
        assert!(o.check_refund(&usd(800)).is_err());
        assert!(o.check_refund(&usd(0)).is_err());
        o.check_refund(&usd(799)).unwrap();
    }

    #[test]
    fn line_discount_and_shipping_count_in_the_total() {
        let usd = |m| Money::from_minor(m, Currency::USD);
        let mut o = sample::order("o3");
        // 2 × 50.00 − 10.00 + 7.99 = 97.99; + 5.00 shipping = 102.99
        o.lines[0].discount = Some(usd(1000));
        assert_eq!(o.lines[0].total().unwrap(), usd(9799));
        assert!(o.validate_amounts().is_err());
        o.shipping = Some(usd(500));
        o.total = usd(10299);
        o.validate_amounts().unwrap();
        // Documents written before the fields existed still read.
        let mut doc = serde_json::to_value(sample::order("o4")).unwrap();
        assert!(doc.get("shipping").is_none());
        assert!(doc["lines"][0].get("discount").is_none());
        doc.as_object_mut().unwrap().remove("shipping");
        let back: Order = serde_json::from_value(doc).unwrap();
        assert_eq!(back, sample::order("o4"));
    }

    #[test]
    fn transient_token_is_redacted_in_debug() {
        let i = PaymentInstrument::TransientToken {
            jwt: "eyJhbGciOi.secret.sig".into(),
        };
        assert!(!format!("{i:?}").contains("eyJ"));
    }

    #[test]
    fn debug_of_an_order_masks_the_customer() {
        let o = sample::order("o9");
        let dbg = format!("{o:?}");
        for pii in ["ada@example.com", "Ada", "Lovelace", "Analytical", "N1 1AA"] {
            assert!(!dbg.contains(pii), "{pii} in {dbg}");
        }
        assert!(
            dbg.contains("\"a***@e***.com\"") && dbg.contains("\"N1***\""),
            "{dbg}"
        );
    }
}
