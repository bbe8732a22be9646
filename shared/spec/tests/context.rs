//! The catalog's sample context (what `validate` checks field names against) has exactly the
//! shape of the context the code builds from a real order.

use o2c_domain::ids::{ExternalIds, PaymentId};
use o2c_domain::model::{sample, Payment};
use o2c_domain::Money;
use o2c_spec::catalog::sample_order;
use o2c_spec::context;
use o2c_spec::shape::Shape;

#[test]
fn the_sample_order_has_the_shape_of_a_built_context() {
    let mut o = sample::order("ORD-1");
    o.ship_to = Some(o.bill_to.clone());
    o.shipping = Some(Money::from_minor(500, o.currency()));
    o.channel = Some("web".into());
    o.attributes
        .insert("gift_message".into(), "Happy birthday".into());
    o.customer.phone = Some("+15125550100".into());
    o.customer.external.clarity = Some("C-1".into());
    o.bill_to.line2 = Some("Suite 1".into());
    if let Some(s) = o.ship_to.as_mut() {
        s.line2 = Some("Suite 2".into());
        s.region = Some("TX".into());
        s.phone = Some("+15125550100".into());
    }
    o.bill_to.region = Some("TX".into());
    o.bill_to.phone = Some("+15125550100".into());
    let zero = Money::zero(o.currency());
    for l in &mut o.lines {
        l.discount = Some(zero);
        l.tax.get_or_insert(zero);
    }
    o.payment = Some(Payment {
        id: PaymentId::new("p-1").unwrap(),
        external: ExternalIds {
            cybersource: Some("700".into()),
            ..ExternalIds::default()
        },
        reference: "ORD-1-authorize".into(),
        authorized: o.total,
        captured: o.total,
        capture_id: None,
        card_brand: Some("visa".into()),
        card_last4: Some("1111".into()),
    });
    o.customer.external.erp = Some("88".into());
    o.customer.external.crm = Some("003".into());
    let built = Shape::of(&context::order(&o));
    let sample = Shape::of(&sample_order());
    assert_eq!(built, sample);
}
