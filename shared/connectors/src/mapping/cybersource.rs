//! Canonical order → Cybersource authorization request (`POST /pts/v2/payments`,
//! docs/cybersource.md).
//!
//! The request DTO and its construction rules live with the Cybersource client
//! ([`AuthorizationInput::from_order`] + [`PaymentRequest::from_input`]); this module is the
//! mapping entry point that checks the order first and reports failures as a
//! [`MappingError`]. The result: flat `orderInformation.billTo` / `shipTo` (ship-to only when it
//! differs), `lineItems`, `amountDetails` as exact decimal strings,
//! `clientReferenceInformation.code` = the given reference, the payment source from the token
//! (`tokenInformation.transientTokenJwt`, or `paymentInformation.customer.id` +
//! `paymentInformation.paymentInstrument.id`), and Decision Manager on (no `DECISION_SKIP` in
//! `processingInformation.actionList`; a transient token adds `TOKEN_CREATE`). The integration
//! spec's `cybersource.authorization` adds what a merchant chooses on top
//! ([`authorization_extras`]: merchant-defined data, buyer, device, merchant descriptor); the
//! money, the payment source and the actions stay code.

use o2c_domain::model::Order;
use o2c_spec::{context, Spec};
use serde_json::{json, Value};

use super::error::MappingError;
use crate::cybersource::dto::PaymentRequest;
use crate::cybersource::gateway::{AuthorizationInput, RequestExtras};

/// The spec's additions to `order`'s authorization request (an object of allowed top-level
/// parts; `{}` adds nothing).
pub fn authorization_extras(spec: &Spec, order: &Order) -> Result<RequestExtras, MappingError> {
    let ctx = json!({"order": context::order(order)});
    match spec
        .map_document("cybersource.authorization", &ctx)
        .map_err(super::netsuite::spec_error)?
    {
        Value::Object(m) => Ok(RequestExtras(m)),
        other => Err(MappingError::invalid(
            format!("spec {} mappings.cybersource.authorization", spec.version),
            &other.to_string(),
            "must give an object of request parts",
        )),
    }
}

/// The authorization request for `order`, Decision Manager on, authorization only.
pub fn authorization_request(
    order: &Order,
    reference: &str,
    transaction_id: &str,
    spec: &Spec,
) -> Result<PaymentRequest, MappingError> {
    order.validate_amounts().map_err(|e| {
        MappingError::inconsistent(
            "order.total",
            &order.total.to_decimal_string(),
            e.to_string(),
        )
    })?;
    let mut input = AuthorizationInput::from_order(order, reference, transaction_id);
    input.extras = authorization_extras(spec, order)?;
    PaymentRequest::from_input(&input)
        .map_err(|e| MappingError::invalid("authorization", reference, e.0))
}

/// The same request as JSON, exactly as it goes on the wire.
pub fn authorization_request_json(
    order: &Order,
    reference: &str,
    transaction_id: &str,
    spec: &Spec,
) -> Result<Value, MappingError> {
    let request = authorization_request(order, reference, transaction_id, spec)?;
    serde_json::to_value(&request).map_err(|e| {
        MappingError::invalid(
            "authorization",
            reference,
            format!("cannot be serialised: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clarity::dto::Order as ClarityOrder;
    use crate::cybersource::dto::parse_amount;
    use crate::mapping::clarity::order_to_canonical;
    use o2c_domain::model::PaymentInstrument;
    use o2c_domain::money::{Currency, Money};
    use serde_json::json;

    fn canonical(
        currency: &str,
        unit: &str,
        line_total: &str,
        ship: &str,
        sub: &str,
        grand: &str,
    ) -> Order {
        let zero = Money::zero(currency.parse().unwrap()).to_decimal_string();
        let v = json!({
            "id": "ORD-9", "orderNumber": "9", "status": "pending_payment", "currency": currency,
            "customer": {"id": "C-9", "email": "ľubica@example.sk", "firstName": "Ľubica", "lastName": "Šťastná"},
            "billingAddress": {"firstName": "Ľubica", "lastName": "Šťastná", "line1": "Hlavná 1", "city": "Košice",
                               "postalCode": "04001", "countryCode": "SK", "phone": "+421 900 000 000"},
            "shippingAddress": {"firstName": "Ľubica", "lastName": "Šťastná", "line1": "Mlynská 7", "city": "Košice",
                                "postalCode": "04001", "countryCode": "SK"},
            "lineItems": [{"id": "L1", "sku": "SKU-1", "name": "Čaj", "quantity": 2, "unitPrice": unit,
                           "discountTotal": zero, "taxTotal": zero, "lineTotal": line_total}],
            "totals": {"subtotal": sub, "discountTotal": zero, "shippingTotal": ship, "taxTotal": zero, "grandTotal": grand},
            "payment": {"processor": "cybersource", "status": "none", "instrumentToken": "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln"},
            "createdAt": "2024-06-01T12:00:00Z", "updatedAt": "2024-06-01T12:00:00Z", "version": 1
        });
        order_to_canonical(&serde_json::from_value::<ClarityOrder>(v).unwrap()).unwrap()
    }

    #[test]
    fn authorization_request_shape_and_exact_amounts() {
        for (cur, unit, line, ship, sub, grand) in [
            ("USD", "50.00", "100.00", "7.99", "100.00", "107.99"),
            ("JPY", "1500", "3000", "500", "3000", "3500"),
            ("KWD", "1.250", "2.500", "0.125", "2.500", "2.625"),
        ] {
            let order = canonical(cur, unit, line, ship, sub, grand);
            let j = authorization_request_json(
                &order,
                "ORD-9-authorize",
                "ORD-9-authorize-1",
                &o2c_spec::bundled(),
            )
            .unwrap();
            assert_eq!(j["clientReferenceInformation"]["code"], "ORD-9-authorize");
            assert_eq!(
                j["clientReferenceInformation"]["transactionId"],
                "ORD-9-authorize-1"
            );
            let amount = &j["orderInformation"]["amountDetails"];
            assert_eq!(amount, &json!({"totalAmount": grand, "currency": cur}));
            // Exact round trip of the amount.
            let back = parse_amount(amount["totalAmount"].as_str().unwrap(), cur).unwrap();
            assert_eq!(back, order.total);
            let li = &j["orderInformation"]["lineItems"][0];
            assert_eq!(li["unitPrice"], unit);
            assert_eq!(li["quantity"], 2);
            assert_eq!(li["productName"], "Čaj");
            // Flat billTo / shipTo (ship-to differs here).
            let bill = &j["orderInformation"]["billTo"];
            assert_eq!(bill["firstName"], "Ľubica");
            assert_eq!(bill["address1"], "Hlavná 1");
            assert_eq!(bill["locality"], "Košice");
            assert_eq!(bill["country"], "SK");
            assert_eq!(bill["email"], "ľubica@example.sk");
            assert_eq!(j["orderInformation"]["shipTo"]["address1"], "Mlynská 7");
            // Transient token → tokenInformation; Decision Manager on (no DECISION_SKIP).
            assert!(j["tokenInformation"]["transientTokenJwt"]
                .as_str()
                .unwrap()
                .starts_with("eyJ"));
            assert!(j.get("paymentInformation").is_none());
            let actions: Vec<&str> = j["processingInformation"]["actionList"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert!(!actions.contains(&"DECISION_SKIP"), "{actions:?}");
            assert_eq!(j["processingInformation"]["capture"], false);
        }
    }

    #[test]
    fn tms_tokens_and_ship_to_equal_to_bill_to() {
        let mut order = canonical("USD", "50.00", "100.00", "0.00", "100.00", "100.00");
        order.ship_to = None;
        order.instrument = PaymentInstrument::Tms {
            customer_id: "TMSC-1".into(),
            payment_instrument_id: "TMSPI-1".into(),
        };
        let j =
            authorization_request_json(&order, "ref-1", "ref-1-t1", &o2c_spec::bundled()).unwrap();
        assert_eq!(j["paymentInformation"]["customer"]["id"], "TMSC-1");
        assert_eq!(
            j["paymentInformation"]["paymentInstrument"]["id"],
            "TMSPI-1"
        );
        assert!(j.get("tokenInformation").is_none());
        assert!(j["orderInformation"].get("shipTo").is_none());
        let actions = j["processingInformation"].get("actionList");
        assert!(actions.is_none_or(|a| !a.to_string().contains("DECISION_SKIP")));
    }

    #[test]
    fn bad_orders_and_references_are_mapping_errors() {
        let mut order = canonical("USD", "50.00", "100.00", "0.00", "100.00", "100.00");
        order.total = Money::from_minor(1, Currency::USD);
        let e = authorization_request(&order, "ref-1", "t-1", &o2c_spec::bundled()).unwrap_err();
        assert_eq!(e.path, "order.total");
        let order = canonical("USD", "50.00", "100.00", "0.00", "100.00", "100.00");
        let e =
            authorization_request(&order, "bad \"ref\"", "t-1", &o2c_spec::bundled()).unwrap_err();
        assert_eq!(e.path, "authorization");
    }
}
