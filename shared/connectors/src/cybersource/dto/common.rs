//! Pieces every Cybersource API shares: exact amounts, client references, the payment source,
//! bill-to / ship-to, line items, and a lenient string reader for TSS codes.

use o2c_domain::pii::{AddressLine, Email, Name, Phone, Pii, PostalCode, Token};
use o2c_domain::{Currency, Money, MoneyError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `{"totalAmount": "102.21", "currency": "USD"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmountDetails {
    pub total_amount: String,
    pub currency: String,
}

impl AmountDetails {
    /// The exact decimal string of `money` with its currency's exponent.
    pub fn from_money(money: &Money) -> Self {
        Self {
            total_amount: money.to_decimal_string(),
            currency: money.currency().code().to_owned(),
        }
    }

    pub fn to_money(&self) -> Result<Money, MoneyError> {
        parse_amount(&self.total_amount, &self.currency)
    }
}

/// Parses a wire amount exactly. Lenient only in what cannot change the value: surrounding
/// whitespace, and trailing zero fraction digits beyond the currency's exponent (`"100.00"` JPY
/// is 100). Anything else (`"1.005"` USD, `"1e3"`) is an error, never rounded.
pub fn parse_amount(amount: &str, currency: &str) -> Result<Money, MoneyError> {
    let currency: Currency = currency.trim().parse()?;
    let amount = amount.trim();
    let exp = currency.exponent() as usize;
    let trimmed = match amount.split_once('.') {
        Some((int, frac)) if frac.len() > exp && frac[exp..].bytes().all(|b| b == b'0') => {
            if exp == 0 {
                int.to_owned()
            } else {
                format!("{int}.{}", &frac[..exp])
            }
        }
        _ => amount.to_owned(),
    };
    Money::parse(&trimmed, currency)
}

/// Response amounts: an authorization carries `authorizedAmount` and `totalAmount`, a capture
/// `totalAmount`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseAmountDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl ResponseAmountDetails {
    /// `authorizedAmount` if present, else `totalAmount`.
    pub fn authorized(&self) -> Option<Result<Money, MoneyError>> {
        let amount = self
            .authorized_amount
            .as_ref()
            .or(self.total_amount.as_ref())?;
        Some(parse_amount(amount, self.currency.as_deref()?))
    }

    pub fn total(&self) -> Option<Result<Money, MoneyError>> {
        Some(parse_amount(
            self.total_amount.as_ref()?,
            self.currency.as_deref()?,
        ))
    }
}

/// `clientReferenceInformation`: `code` is our deterministic reference (the order/effect),
/// `transactionId` our id of this request (needed for timeout reversal/void, `docs/cybersource.md`
/// §2.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientReferenceInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

impl ClientReferenceInformation {
    pub fn code(code: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            ..Self::default()
        }
    }
}

/// `{"id": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    pub id: String,
}

impl IdRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// `processingInformation` of an authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessingInformation {
    /// Always sent explicitly: `false` = authorization only, `true` = sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<bool>,
    /// `DECISION_SKIP`, `TOKEN_CREATE`, `CONSUMER_AUTHENTICATION`, ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub action_list: Vec<String>,
    /// With `TOKEN_CREATE`: `customer`, `paymentInstrument`, `instrumentIdentifier`,
    /// `shippingAddress`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub action_token_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commerce_indicator: Option<String>,
}

/// `paymentInformation` with TMS token ids (never card data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaymentInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_instrument: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument_identifier: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<IdRef>,
}

/// `tokenInformation` of a payment: a Microform / Unified Checkout transient token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transient_token_jwt: Option<Pii<Token>>,
    /// 64-hex TMS transient token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<Pii<Token>>,
}

/// `orderInformation.billTo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BillTo {
    pub first_name: Pii<Name>,
    pub last_name: Pii<Name>,
    pub address1: Pii<AddressLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address2: Option<Pii<AddressLine>>,
    pub locality: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrative_area: Option<String>,
    pub postal_code: Pii<PostalCode>,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii<Email>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<Pii<Phone>>,
}

impl BillTo {
    pub fn from_address(a: &o2c_domain::Address, email: Option<&str>) -> Self {
        Self {
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            address1: a.line1.clone(),
            address2: a.line2.clone(),
            locality: a.city.clone(),
            administrative_area: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            email: email.map(Pii::from),
            phone_number: a.phone.clone(),
        }
    }
}

/// `orderInformation.shipTo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShipTo {
    pub first_name: Pii<Name>,
    pub last_name: Pii<Name>,
    pub address1: Pii<AddressLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address2: Option<Pii<AddressLine>>,
    pub locality: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrative_area: Option<String>,
    pub postal_code: Pii<PostalCode>,
    pub country: String,
}

impl ShipTo {
    pub fn from_address(a: &o2c_domain::Address) -> Self {
        Self {
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            address1: a.line1.clone(),
            address2: a.line2.clone(),
            locality: a.city.clone(),
            administrative_area: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// `orderInformation.lineItems[]`. The SKU is sent as `productSKU`, the name the official SDK
/// puts on the wire (its model field is `productSku`, renamed after serialisation,
/// `docs/cybersource.md` §2.2); both spellings are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    #[serde(rename = "productSKU", alias = "productSku")]
    pub product_sku: String,
    pub product_name: String,
    pub quantity: u32,
    pub unit_price: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<String>,
}

impl LineItem {
    pub fn from_domain(line: &o2c_domain::LineItem) -> Result<Self, MoneyError> {
        Ok(Self {
            product_sku: line.sku.clone(),
            product_name: line.name.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.to_decimal_string(),
            tax_amount: line.tax.map(|t| t.to_decimal_string()),
            total_amount: Some(line.total()?.to_decimal_string()),
        })
    }
}

/// `orderInformation` of an authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInformation {
    pub amount_details: AmountDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_to: Option<BillTo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<ShipTo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
}

/// `orderInformation` carrying only an amount (capture, refund).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmountOrderInformation {
    pub amount_details: AmountDetails,
}

/// Reads a string, a number or null as `Option<String>` (TSS codes come as either).
pub(super) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => Some(other.to_string()),
    })
}
