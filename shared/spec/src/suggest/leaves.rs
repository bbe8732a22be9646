//! A sample payload as its leaves: each scalar's path (dots, `[]` for the elements of an array
//! of objects, `[0]` for a position in an array of scalars) with the values seen there, and
//! the kind of value they look like.

use serde_json::Value;

/// What a leaf's values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    DateTime,
    /// A decimal amount (string or number with a fraction, or an integer beside a currency).
    Amount,
    /// A money object in minor units (`{centAmount, currencyCode}`, `{amount, currency}`).
    Money,
    /// A small positive integer.
    Count,
    Integer,
    Currency,
    Country,
    Phone,
    Postal,
    Bool,
    Text,
    /// Looks like a card number, a CVV or a secret: never proposed.
    Sensitive,
}

/// One leaf of the sample.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// `billing_address.city`, `line_items[].sku`, `street[0]`.
    pub path: String,
    /// The path's segments (`[]` and `[0]` kept on their segment).
    pub segments: Vec<String>,
    pub values: Vec<Value>,
    pub kind: Kind,
}

/// Every leaf of `sample`, in document order.
pub fn leaves(sample: &Value) -> Vec<Leaf> {
    let mut out: Vec<Leaf> = Vec::new();
    walk(sample, &mut Vec::new(), &mut out);
    for l in &mut out {
        l.kind = kind_of(
            &l.values,
            l.segments.last().map(String::as_str).unwrap_or(""),
        );
    }
    out
}

/// A money object in minor units (`{centAmount, currencyCode, fractionDigits}`,
/// `{amount: 1500, currency: "USD"}`): one leaf, not two.
pub fn is_money_object(v: &Value) -> bool {
    let Value::Object(m) = v else { return false };
    let int = |k: &str| m.get(k).is_some_and(|x| x.is_i64() || x.is_u64());
    let text = |k: &str| m.get(k).is_some_and(Value::is_string);
    (int("centAmount") && text("currencyCode"))
        || (int("amount") && text("currency") && m.len() == 2)
}

/// A money object's value in major units.
pub fn money_value(v: &Value) -> Option<f64> {
    let m = v.as_object()?;
    let (minor, digits) = match (m.get("centAmount"), m.get("amount")) {
        (Some(c), _) => (
            c.as_f64()?,
            m.get("fractionDigits").and_then(Value::as_u64).unwrap_or(2),
        ),
        (None, Some(a)) => (a.as_f64()?, 2),
        _ => return None,
    };
    Some(minor / 10f64.powi(digits as i32))
}

fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<Leaf>) {
    if is_money_object(v) && !path.is_empty() {
        push(v, path, out);
        // Its currency is a field of its own (the order's currency may live only there).
        for k in ["currencyCode", "currency"] {
            if let Some(c) = v.get(k) {
                path.push(k.to_string());
                push(c, path, out);
                path.pop();
            }
        }
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                path.push(k.clone());
                walk(x, path, out);
                path.pop();
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let Some(last) = path.pop() else { return };
            path.push(format!("{last}[]"));
            for x in items {
                walk(x, path, out);
            }
            path.pop();
            path.push(last);
        }
        Value::Array(items) => {
            let Some(last) = path.pop() else { return };
            for (i, x) in items.iter().take(3).enumerate() {
                path.push(format!("{last}[{i}]"));
                walk(x, path, out);
                path.pop();
            }
            path.push(last);
        }
        Value::Null => {}
        scalar => push(scalar, path, out),
    }
}

fn push(v: &Value, path: &[String], out: &mut Vec<Leaf>) {
    let joined = path.join(".");
    match out.iter_mut().find(|l| l.path == joined) {
        Some(l) => l.values.push(v.clone()),
        None => out.push(Leaf {
            path: joined,
            segments: path.to_vec(),
            values: vec![v.clone()],
            kind: Kind::Text,
        }),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
}

fn is_datetime(s: &str) -> bool {
    use time::format_description::well_known::{Rfc2822, Rfc3339};
    if time::OffsetDateTime::parse(s, &Rfc2822).is_ok()
        || time::OffsetDateTime::parse(s, &Rfc3339).is_ok()
    {
        return true;
    }
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b.len() == 10 || matches!(b[10], b'T' | b' '))
}

fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().x".contains(c))
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    match s.split_once('.') {
        Some((i, f)) => {
            !i.is_empty()
                && i.bytes().all(|b| b.is_ascii_digit())
                && (1..=6).contains(&f.len())
                && f.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Names that say "secret" whatever the value: never proposed.
const SENSITIVE_NAMES: &[&str] = &[
    "cvv",
    "cvc",
    "cvv2",
    "cvn",
    "security_code",
    "password",
    "secret",
    "token",
    "pan",
    "card_number",
    "cc_number",
    "cardnumber",
    "ccnumber",
    "api_key",
];

fn kind_of(values: &[Value], name: &str) -> Kind {
    let lname = name.to_ascii_lowercase();
    if SENSITIVE_NAMES
        .iter()
        .any(|s| lname.trim_end_matches("[]") == *s)
    {
        return Kind::Sensitive;
    }
    if !values.is_empty() && values.iter().all(is_money_object) {
        return Kind::Money;
    }
    let texts: Vec<String> = values.iter().filter_map(text).collect();
    if texts
        .iter()
        .any(|t| o2c_domain::card::contains_card_number(t))
    {
        return Kind::Sensitive;
    }
    let all = |f: &dyn Fn(&Value, &str) -> bool| {
        !values.is_empty() && values.iter().zip(&texts).all(|(v, t)| f(v, t))
    };
    if all(&|v, _| v.is_boolean()) {
        return Kind::Bool;
    }
    if all(&|_, t| is_email(t)) {
        return Kind::Email;
    }
    if all(&|v, t| v.is_string() && is_datetime(t)) {
        return Kind::DateTime;
    }
    if all(&|v, t| {
        v.is_string() && t.len() == 3 && t.parse::<o2c_domain::money::Currency>().is_ok()
    }) {
        return Kind::Currency;
    }
    if all(&|v, t| {
        v.is_string()
            && (2..=3).contains(&t.len())
            && t.chars().all(|c| c.is_ascii_uppercase())
            && crate::places::is_country_code(t)
    }) {
        return Kind::Country;
    }
    let numeric = all(&|v, t| {
        v.is_number() || (v.is_string() && (is_decimal(t) || t.parse::<i64>().is_ok()))
    });
    let fractional = values
        .iter()
        .zip(&texts)
        .any(|(v, t)| v.is_f64() || (v.is_string() && is_decimal(t)));
    if numeric && fractional {
        return Kind::Amount;
    }
    let count = |v: &Value, t: &str| {
        v.as_u64()
            .or_else(|| {
                v.as_str()
                    .filter(|s| s.len() <= 4)
                    .and_then(|_| t.parse().ok())
            })
            .is_some_and(|n| (1..=1000).contains(&n))
    };
    if all(&|v, t| count(v, t)) {
        return Kind::Count;
    }
    if all(&|v, _| v.is_i64() || v.is_u64()) {
        return Kind::Integer;
    }
    if all(&|v, t| v.is_string() && is_phone(t) && !t.chars().all(|c| c.is_ascii_digit())) {
        return Kind::Phone;
    }
    if all(&|v, t| {
        v.is_string()
            && (3..=10).contains(&t.len())
            && t.chars().any(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    }) {
        return Kind::Postal;
    }
    Kind::Text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_kinds_and_lists() {
        let sample = json!({
            "email": "a@example.com", "created_at": "2024-06-01T12:00:00Z", "currency": "EUR",
            "total": "12.50",
            "billing": {"street": ["1 Main St", "Apt 2"], "country": "DE", "zip": "10115", "phone": "+49 30 1234567"},
            "items": [{"sku": "A", "qty": 2, "price": 5.25}, {"sku": "B", "qty": 1, "price": 2.0}],
            "payment": {"cc_number": "4111111111111111", "cvv": "123"}
        });
        let ls = leaves(&sample);
        let get = |p: &str| {
            ls.iter()
                .find(|l| l.path == p)
                .unwrap_or_else(|| panic!("no {p}"))
        };
        assert_eq!(get("email").kind, Kind::Email);
        assert_eq!(get("created_at").kind, Kind::DateTime);
        assert_eq!(get("currency").kind, Kind::Currency);
        assert_eq!(get("total").kind, Kind::Amount);
        assert_eq!(get("billing.street[1]").values, vec![json!("Apt 2")]);
        assert_eq!(get("billing.country").kind, Kind::Country);
        assert_eq!(get("billing.zip").kind, Kind::Postal);
        assert_eq!(get("billing.phone").kind, Kind::Phone);
        let qty = get("items[].qty");
        assert_eq!((qty.kind, qty.values.len()), (Kind::Count, 2));
        assert_eq!(get("items[].price").kind, Kind::Amount);
        assert_eq!(get("payment.cc_number").kind, Kind::Sensitive);
        assert_eq!(get("payment.cvv").kind, Kind::Sensitive);
    }
}
