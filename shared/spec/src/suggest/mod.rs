//! The mapping assistant: for a sample order from a source the spec does not know yet (a
//! merchant's Clarity, a quarantined event), propose for each canonical order field the source
//! path that holds it, with a confidence and a one-line reason. Evidence combined:
//! * the name (`names`): tokenised camel and snake case, abbreviations and synonyms folded;
//! * the block it sits in: billing or shipping address, customer, the list of order lines;
//! * the values (`leaves`): e-mail, date-time, amount, count, currency and country codes,
//!   phone, postal code;
//! * consistency: the total is the amount that the lines, shipping, tax and discount add up
//!   to.
//!
//! Values that look like card numbers, CVVs or secrets are never proposed. [`baseline`] is the
//! plain string-similarity matcher the benchmark compares against.

pub mod apply;
mod leaves;
mod names;
mod score;

use leaves::{Kind, Leaf};
use names::Block;
pub use score::{score, Score};
use serde::Serialize;
use serde_json::Value;

/// What a canonical field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Id,
    Email,
    Phone,
    Text,
    Region,
    Postal,
    Country,
    Amount,
    Count,
    Currency,
    DateTime,
}

/// Where a canonical field may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Order,
    Customer,
    BillTo,
    ShipTo,
    Lines,
}

struct Target {
    path: &'static str,
    scope: Scope,
    want: Want,
    /// Names that say this field (folded tokens, see `names::tokens`).
    phrases: &'static [&'static [&'static str]],
}

const FIRST: &[&[&str]] = &[&["first", "name"], &["first"]];
const LAST: &[&[&str]] = &[&["last", "name"], &["last"]];
const LINE1: &[&[&str]] = &[
    &["address", "1"],
    &["street", "1"],
    &["line", "1"],
    &["address", "line", "1"],
    &["street"],
    &["address"],
    &["street", "address"],
];
const LINE2: &[&[&str]] = &[
    &["address", "2"],
    &["street", "2"],
    &["line", "2"],
    &["address", "line", "2"],
    &["additional", "street"],
    &["additional", "address"],
];
const CITY: &[&[&str]] = &[&["city"]];
const REGION: &[&[&str]] = &[&["region", "code"], &["region"], &["region", "name"]];
const POSTAL: &[&[&str]] = &[&["postal"], &["postal", "code"]];
const COUNTRY: &[&[&str]] = &[&["country"], &["country", "code"], &["country", "id"]];
const PHONE: &[&[&str]] = &[&["phone"], &["phone", "number"]];

macro_rules! t {
    ($path:literal, $scope:ident, $want:ident, $phrases:expr) => {
        Target {
            path: $path,
            scope: Scope::$scope,
            want: Want::$want,
            phrases: $phrases,
        }
    };
}

/// The canonical order fields, in the order the CLI prints them.
const TARGETS: &[Target] = &[
    t!(
        "id",
        Order,
        Id,
        &[
            &["id"],
            &["order", "id"],
            &["entity", "id"],
            &["order", "number"],
            &["number"],
            &["increment", "id"]
        ]
    ),
    t!("customer.id", Customer, Id, &[&["id"], &["customer", "id"]]),
    t!(
        "customer.email",
        Customer,
        Email,
        &[&["email"], &["email", "address"], &["customer", "email"]]
    ),
    t!("customer.first_name", Customer, Text, FIRST),
    t!("customer.last_name", Customer, Text, LAST),
    t!("customer.phone", Customer, Phone, PHONE),
    t!("bill_to.first_name", BillTo, Text, FIRST),
    t!("bill_to.last_name", BillTo, Text, LAST),
    t!("bill_to.line1", BillTo, Text, LINE1),
    t!("bill_to.line2", BillTo, Text, LINE2),
    t!("bill_to.city", BillTo, Text, CITY),
    t!("bill_to.region", BillTo, Region, REGION),
    t!("bill_to.postal_code", BillTo, Postal, POSTAL),
    t!("bill_to.country", BillTo, Country, COUNTRY),
    t!("bill_to.phone", BillTo, Phone, PHONE),
    t!("ship_to.first_name", ShipTo, Text, FIRST),
    t!("ship_to.last_name", ShipTo, Text, LAST),
    t!("ship_to.line1", ShipTo, Text, LINE1),
    t!("ship_to.line2", ShipTo, Text, LINE2),
    t!("ship_to.city", ShipTo, Text, CITY),
    t!("ship_to.region", ShipTo, Region, REGION),
    t!("ship_to.postal_code", ShipTo, Postal, POSTAL),
    t!("ship_to.country", ShipTo, Country, COUNTRY),
    t!(
        "lines[].sku",
        Lines,
        Id,
        &[
            &["sku"],
            &["item", "sku"],
            &["variant", "sku"],
            &["item", "code"],
            &["article", "number"],
            &["item", "reference"],
            &["reference"]
        ]
    ),
    t!(
        "lines[].name",
        Lines,
        Text,
        &[
            &["name"],
            &["title"],
            &["item", "name"],
            &["item", "title"],
            &["description"]
        ]
    ),
    t!(
        "lines[].quantity",
        Lines,
        Count,
        &[&["quantity"], &["quantity", "ordered"]]
    ),
    t!(
        "lines[].unit_price",
        Lines,
        Amount,
        &[
            &["unit", "price"],
            &["price"],
            &["price", "ex", "tax"],
            &["unit", "price", "ex", "tax"],
            &["base", "price"],
            &["price", "per", "unit"],
            &["item", "price"]
        ]
    ),
    t!(
        "lines[].tax",
        Lines,
        Amount,
        &[
            &["tax"],
            &["tax", "amount"],
            &["total", "tax"],
            &["tax", "total"]
        ]
    ),
    t!(
        "lines[].discount",
        Lines,
        Amount,
        &[
            &["discount"],
            &["discount", "amount"],
            &["total", "discount"],
            &["discount", "total"]
        ]
    ),
    t!(
        "shipping",
        Order,
        Amount,
        &[
            &["shipping"],
            &["shipping", "amount"],
            &["shipping", "total"],
            &["shipping", "price"],
            &["total", "shipping", "price"],
            &["shipping", "cost"],
            &["shipping", "cost", "ex", "tax"],
            &["shipping", "ex", "tax"]
        ]
    ),
    t!(
        "total",
        Order,
        Amount,
        &[
            &["grand", "total"],
            &["total", "inc", "tax"],
            &["total", "inc"],
            &["total"],
            &["total", "price"],
            &["total", "amount"],
            &["order", "total"],
            &["total", "paid"]
        ]
    ),
    t!(
        "currency",
        Order,
        Currency,
        &[
            &["currency"],
            &["currency", "code"],
            &["order", "currency", "code"],
            &["order", "currency"]
        ]
    ),
    t!(
        "created_at",
        Order,
        DateTime,
        &[
            &["created"],
            &["created", "at"],
            &["date", "created"],
            &["created", "date"],
            &["order", "date"],
            &["date", "created", "gmt"],
            &["created", "at", "gmt"]
        ]
    ),
];

/// The canonical paths the assistant proposes sources for.
pub fn targets() -> impl Iterator<Item = &'static str> {
    TARGETS.iter().map(|t| t.path)
}

/// One proposed source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub source: String,
    pub confidence: f64,
    pub why: String,
}

/// The candidates for one canonical field, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub target: String,
    pub candidates: Vec<Candidate>,
}

/// How far a leaf's block fits a target's scope (0: never from there).
fn scope_fit(scope: Scope, want: Want, block: Block, leaf: &Leaf) -> (f64, &'static str) {
    let says = |w: &str| {
        leaf.segments
            .last()
            .is_some_and(|s| names::tokens(s).iter().any(|t| t == w))
    };
    match (scope, block) {
        (Scope::Order, Block::Root) => (1.0, "at the order's top level"),
        (Scope::Order, Block::Other) => (0.85, "in an order-level object"),
        (Scope::Customer, Block::Customer) => (1.0, "in the customer block"),
        (Scope::Customer, Block::Root) if says("customer") || leaf.kind == Kind::Email => {
            (1.0, "a customer field at the top level")
        }
        // The billing e-mail is the customer's when the order has no other; a billing name
        // or phone is the billing contact's, shown but never confident.
        (Scope::Customer, Block::Billing) if want == Want::Email => {
            (0.7, "the billing e-mail (no customer field has one)")
        }
        (Scope::Customer, Block::Billing) => (0.45, "the billing contact, not the customer record"),
        (Scope::BillTo, Block::Billing) => (1.0, "in the billing address"),
        (Scope::ShipTo, Block::Shipping) => (1.0, "in the shipping address"),
        (Scope::Lines, Block::Lines) => (1.0, "in the order's lines"),
        _ => (0.0, ""),
    }
}

/// How far the leaf's values fit what the target holds.
fn value_fit(want: Want, kind: Kind) -> (f64, &'static str) {
    use Kind as K;
    match (want, kind) {
        (_, K::Sensitive) => (0.0, ""),
        (Want::Email, K::Email) => (1.0, "values are e-mail addresses"),
        (Want::Phone, K::Phone) => (1.0, "values are phone numbers"),
        (Want::Phone, K::Postal | K::Integer) => (0.6, "values are digits"),
        (Want::DateTime, K::DateTime) => (1.0, "values are ISO 8601 date-times"),
        (Want::DateTime, K::Integer) => (0.5, "values may be epoch seconds"),
        (Want::Amount, K::Amount) => (1.0, "values are decimal amounts"),
        (Want::Amount, K::Money) => (1.0, "values are money objects in minor units"),
        (Want::Amount, K::Integer | K::Count | K::Postal) => {
            (0.7, "values are whole amounts (or minor units)")
        }
        (Want::Count, K::Count) => (1.0, "values are small whole numbers"),
        (Want::Count, K::Integer) => (0.8, "values are whole numbers"),
        (Want::Count, K::Amount) => (0.4, "values are numbers"),
        (Want::Currency, K::Currency) => (1.0, "values are ISO 4217 codes"),
        (Want::Country, K::Country) => (1.0, "values are ISO 3166 codes"),
        (Want::Country, K::Text) => (0.5, "values are text (country names: use country_code)"),
        (Want::Postal, K::Postal) => (1.0, "values look like postal codes"),
        (Want::Postal, K::Integer | K::Count) => (0.6, "values are numbers"),
        (Want::Postal, K::Phone) => (0.7, "values are digits with separators"),
        (Want::Postal, K::Text) => (0.4, "values are text"),
        (Want::Region, K::Text) => (1.0, "values are text"),
        (Want::Region, K::Country) => (1.0, "values are short codes"),
        (Want::Region, K::Postal) => (0.4, "values are codes"),
        (Want::Text, K::Text) => (1.0, "values are text"),
        (Want::Text, K::Postal | K::Country) => (0.6, "values are short codes"),
        (Want::Id, K::Text | K::Postal | K::Integer | K::Count) => (1.0, "values are identifiers"),
        _ => (0.0, ""),
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The assistant's proposal for every canonical field of `sample`.
pub fn suggest(sample: &Value) -> Vec<Suggestion> {
    let leaves = leaves::leaves(sample);
    let mut out: Vec<Suggestion> = TARGETS
        .iter()
        .map(|t| Suggestion {
            target: t.path.to_string(),
            candidates: candidates(t, &leaves),
        })
        .collect();
    consistency(&mut out, &leaves);
    out
}

fn candidates(t: &Target, leaves: &[Leaf]) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    for leaf in leaves {
        if leaf.kind == Kind::Sensitive {
            continue;
        }
        let block = names::block(&leaf.segments);
        let (fit, where_) = scope_fit(t.scope, t.want, block, leaf);
        if fit == 0.0 {
            continue;
        }
        let tokens = names::name_tokens(&leaf.segments);
        // Words that only say where the leaf is, per scope (`billing_city` is a city).
        let droppable: &[&str] = match t.scope {
            Scope::BillTo => &["billing", "address"],
            Scope::ShipTo => &["shipping", "address"],
            Scope::Customer => &["customer"],
            Scope::Lines => &["item", "line"],
            Scope::Order => &["order"],
        };
        let digits_matter = t
            .phrases
            .iter()
            .any(|p| p.iter().any(|w| w.chars().all(|c| c.is_ascii_digit())));
        // Phrases are listed in preference order: a later one scores a little less.
        let (name, phrase) = t
            .phrases
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let n = names::name_score(&tokens, p, droppable, digits_matter);
                (n * (1.0 - 0.01 * i as f64), p)
            })
            .fold((0.0, &t.phrases[0]), |a, b| if b.0 > a.0 { b } else { a });
        if name == 0.0 {
            continue;
        }
        let (mut value, what) = value_fit(t.want, leaf.kind);
        // A rate or percentage is not an amount; `shipping_cost_tax` is the tax on the
        // shipping, not the shipping (unless it says ex or inc).
        let has = |w: &str| tokens.iter().any(|x| x == w);
        if t.want == Want::Amount && (has("rate") || has("percent")) {
            value *= 0.3;
        }
        let name = if t.want == Want::Amount
            && !t.path.ends_with("tax")
            && has("tax")
            && !has("ex")
            && !has("inc")
        {
            name * 0.4
        } else if t.path.ends_with("tax") && (has("ex") || has("inc")) {
            // `unit_price_tax_excl` is a price, not a tax.
            name * 0.3
        } else if matches!(t.want, Want::Amount | Want::Count | Want::DateTime) && has("id") {
            // `id_address_delivery` is a reference, not an amount.
            name * 0.2
        } else if t.want == Want::DateTime && has("gmt") {
            // The UTC one of a local/UTC pair.
            (name + 0.05).min(1.0)
        } else {
            name
        };
        // Deeper paths lose a little: `total_price` before `total_price_set.shop_money.amount`.
        let depth = 1.0 - 0.01 * leaf.segments.len().saturating_sub(1) as f64;
        let confidence = round((fit * name * (0.35 + 0.65 * value) * depth).min(0.99));
        if confidence < 0.05 {
            continue;
        }
        let mut why = format!(
            "name `{}` {} {}; {where_}",
            leaf.segments.last().map(String::as_str).unwrap_or(""),
            if name >= 0.95 { "says" } else { "is close to" },
            phrase.join(" "),
        );
        if !what.is_empty() {
            why.push_str("; ");
            why.push_str(what);
        } else {
            why.push_str("; but the values do not fit");
        }
        why.push_str(conversion(t, leaf).hint);
        found.push(Candidate {
            source: leaf.path.clone(),
            confidence,
            why,
        });
    }
    found.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.source.len().cmp(&b.source.len()))
    });
    found.truncate(5);
    found
}

/// A conversion a leaf's values need to read as a target's field: what `why` says, and the
/// jq `apply` writes (`$__cur` being the order's currency there). One decision for both.
pub(crate) struct Conversion {
    pub hint: &'static str,
    pub jq: &'static str,
}

fn conversion(t: &Target, leaf: &Leaf) -> Conversion {
    let c = |hint, jq| Conversion { hint, jq };
    let last = leaf.segments.last().map(String::as_str).unwrap_or("");
    let cents = names::tokens(last)
        .iter()
        .any(|x| x == "cent" || x == "cents");
    match (t.want, leaf.kind) {
        (Want::Amount, Kind::Money) => c(
            " (minor units: .centAmount or .amount | from_minor($currency))",
            " | (.centAmount // .amount) | from_minor($__cur)",
        ),
        (Want::Amount, Kind::Integer | Kind::Count) if cents => c(
            " (minor units: from_minor($currency))",
            " | from_minor($__cur)",
        ),
        (Want::Amount, _) if leaf.values.iter().any(Value::is_number) => c(
            " (a JSON number: money_text($currency))",
            " | money_text($__cur)",
        ),
        // Decimal strings: the currency's exact digits (`"19.990000"` → `"19.99"`).
        (Want::Amount, _) => c("", " | money_text($__cur)"),
        (Want::Country, Kind::Text) => c(" (names: country_code)", " | country_code"),
        (Want::DateTime, Kind::Integer) => c(" (epoch: todate)", " | todate"),
        (want, Kind::Integer | Kind::Count) if want != Want::Count => c("", " | tostring"),
        _ => c("", ""),
    }
}

/// [`conversion`] for a canonical field by its path.
pub(crate) fn conversion_for(target: &str, leaf: &Leaf) -> Conversion {
    TARGETS
        .iter()
        .find(|t| t.path == target)
        .map_or(Conversion { hint: "", jq: "" }, |t| conversion(t, leaf))
}

/// Consistency: among the total's candidates, the one equal to the lines (quantity × unit
/// price, less discount, plus tax) plus shipping moves first.
fn consistency(out: &mut [Suggestion], leaves: &[Leaf]) {
    let top = |target: &str| {
        out.iter()
            .find(|s| s.target == target)
            .and_then(|s| s.candidates.first())
            .filter(|c| c.confidence >= 0.5)
            .and_then(|c| leaves.iter().find(|l| l.path == c.source))
    };
    let nums = |l: Option<&Leaf>| -> Vec<f64> {
        l.map(|l| l.values.iter().filter_map(number).collect())
            .unwrap_or_default()
    };
    let (q, p) = (
        nums(top("lines[].quantity")),
        nums(top("lines[].unit_price")),
    );
    if q.is_empty() || q.len() != p.len() {
        return;
    }
    let sum = |v: Vec<f64>| v.iter().sum::<f64>();
    let lines: f64 = q.iter().zip(&p).map(|(a, b)| a * b).sum();
    let expected = lines + sum(nums(top("shipping"))) + sum(nums(top("lines[].tax")))
        - sum(nums(top("lines[].discount")));
    let Some(total) = out.iter_mut().find(|s| s.target == "total") else {
        return;
    };
    let fits = |c: &Candidate| {
        leaves
            .iter()
            .find(|l| l.path == c.source)
            .and_then(|l| l.values.first().and_then(number))
            .is_some_and(|v| (v - expected).abs() < 0.011 || (v - lines).abs() < 0.011)
    };
    if let Some(i) = total.candidates.iter().position(fits) {
        let mut c = total.candidates.remove(i);
        c.confidence = round((c.confidence + 0.1).min(0.99));
        c.why
            .push_str("; equals what the lines, shipping, tax and discount add up to");
        total.candidates.insert(0, c);
    }
}

fn number(v: &Value) -> Option<f64> {
    if let Some(m) = leaves::money_value(v) {
        return Some(m);
    }
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The plain string-similarity matcher: each target's last name against each leaf's last
/// segment (normalised Levenshtein), no blocks, values or synonyms.
pub fn baseline(sample: &Value) -> Vec<Suggestion> {
    let leaves = leaves::leaves(sample);
    let norm = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .flat_map(|c| c.to_lowercase())
            .collect()
    };
    TARGETS
        .iter()
        .map(|t| {
            let want = norm(t.path.rsplit('.').next().unwrap_or(t.path));
            let mut c: Vec<Candidate> = leaves
                .iter()
                .map(|l| {
                    let name = norm(l.segments.last().map(String::as_str).unwrap_or(""));
                    Candidate {
                        source: l.path.clone(),
                        confidence: round(strsim::normalized_levenshtein(&want, &name)),
                        why: "string similarity of the names".into(),
                    }
                })
                .filter(|c| c.confidence > 0.0)
                .collect();
            c.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
            c.truncate(5);
            Suggestion {
                target: t.path.to_string(),
                candidates: c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn best(s: &[Suggestion], target: &str) -> Option<(String, f64)> {
        s.iter()
            .find(|x| x.target == target)
            .and_then(|x| x.candidates.first())
            .map(|c| (c.source.clone(), c.confidence))
    }

    #[test]
    fn a_renamed_clarity_order_is_read_by_name_block_and_value() {
        let sample = json!({
            "orderId": "ORD-7", "placedAt": "2024-06-01T12:00:00Z", "currencyCode": "USD",
            "buyer": {"customerId": "C-7", "emailAddress": "ann@example.com", "givenName": "Ann", "familyName": "Lee"},
            "billTo": {"givenName": "Ann", "familyName": "Lee", "street1": "1 Main St", "street2": "Apt 4",
                       "town": "Austin", "state": "TX", "zip": "78701", "country": "US", "tel": "+1 512 555 0100"},
            "items": [{"productSku": "SKU-1", "title": "Tea", "qty": 2, "unitPrice": "5.00", "taxAmount": "0.80"}],
            "shippingCost": "4.00", "grandTotal": "14.80",
            "payment": {"cardNumber": "4111111111111111", "cvv": "123"}
        });
        let s = suggest(&sample);
        for (target, source) in [
            ("id", "orderId"),
            ("created_at", "placedAt"),
            ("currency", "currencyCode"),
            ("customer.email", "buyer.emailAddress"),
            ("customer.first_name", "buyer.givenName"),
            ("bill_to.line1", "billTo.street1"),
            ("bill_to.line2", "billTo.street2"),
            ("bill_to.city", "billTo.town"),
            ("bill_to.region", "billTo.state"),
            ("bill_to.postal_code", "billTo.zip"),
            ("bill_to.phone", "billTo.tel"),
            ("lines[].sku", "items[].productSku"),
            ("lines[].name", "items[].title"),
            ("lines[].quantity", "items[].qty"),
            ("lines[].unit_price", "items[].unitPrice"),
            ("lines[].tax", "items[].taxAmount"),
            ("shipping", "shippingCost"),
            ("total", "grandTotal"),
        ] {
            let (got, conf) = best(&s, target).unwrap_or_else(|| panic!("{target}: nothing"));
            assert_eq!(got, source, "{target}");
            assert!(conf >= 0.5, "{target}: {conf}");
        }
        // Absent fields get nothing confident; card data is never proposed.
        for absent in ["ship_to.city", "lines[].discount"] {
            assert!(
                best(&s, absent).is_none_or(|(_, c)| c < 0.5),
                "{absent}: {:?}",
                best(&s, absent)
            );
        }
        let text = serde_json::to_string(&s).unwrap();
        assert!(
            !text.contains("cardNumber") && !text.contains("cvv"),
            "{text}"
        );
    }
}
