//! Clarity → canonical mapping: arbitrary JSON → `clarity::dto::Order` → `order_to_canonical`
//! (and, for `{"order": …, "return": …}`, the return → refund mapping). An accepted order must
//! add up, print back to Clarity and map again to the same amounts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2c_connectors::clarity::dto::{ClarityStatus, Order};
use o2c_connectors::clarity::events::ReturnRequest;
use o2c_connectors::mapping::clarity::{order_to_canonical, order_to_clarity, refund_from_return};
use o2c_domain::Money;

#[derive(serde::Deserialize)]
struct WithReturn {
    order: Order,
    #[serde(rename = "return")]
    request: ReturnRequest,
}

fn check_money(m: Money) {
    // Decimal text ↔ minor units is exact both ways.
    let back = Money::parse(&m.to_decimal_string(), m.currency()).expect("own decimal string");
    assert_eq!(back, m);
}

fuzz_target!(|data: &[u8]| {
    let order: Order = match serde_json::from_slice(data) {
        Ok(o) => o,
        Err(_) => {
            if let Ok(w) = serde_json::from_slice::<WithReturn>(data) {
                if let Ok(o) = order_to_canonical(&w.order) {
                    if let Ok(r) = refund_from_return(&w.request, &o) {
                        assert!(r.amount.minor() > 0);
                        assert_eq!(r.amount.currency(), o.currency());
                        check_money(r.amount);
                    }
                }
            }
            return;
        }
    };
    let Ok(canonical) = order_to_canonical(&order) else {
        return;
    };
    canonical.validate_amounts().expect("mapped order adds up");
    assert!(canonical.total.minor() > 0);
    check_money(canonical.total);
    for l in &canonical.lines {
        assert!(l.quantity >= 1);
        check_money(l.unit_price);
    }
    // Canonical → Clarity → canonical keeps every amount.
    let wire = order_to_clarity(&canonical, ClarityStatus::PendingPayment, 1)
        .expect("an accepted order prints back");
    let again = order_to_canonical(&wire).expect("a printed order maps again");
    assert_eq!(again.total, canonical.total);
    assert_eq!(again.shipping, canonical.shipping);
    assert_eq!(again.lines.len(), canonical.lines.len());
    for (a, b) in again.lines.iter().zip(&canonical.lines) {
        assert_eq!(
            (a.quantity, a.unit_price, a.tax, a.discount),
            (b.quantity, b.unit_price, b.tax, b.discount)
        );
    }
});
