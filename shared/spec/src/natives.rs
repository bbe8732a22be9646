//! Built-in functions written in Rust: exact money over decimal strings (never a float).
//!
//! | function | input | gives |
//! |---|---|---|
//! | `num` | decimal string or integer | the same value as an exact JSON number (`"107.90"` → `107.9`); an error when it cannot be one |
//! | `money_add($b)`, `money_sub($b)` | decimal string | decimal string, exact |
//! | `money_mul($n)` | decimal string | decimal string × integer `$n` |
//! | `to_minor($currency)` | decimal string | integer minor units (`"10.50"`, `"USD"` → `1050`); an error when it has more fraction digits than the currency |
//! | `from_minor($currency)` | integer | decimal string with the currency's digits |
//! | `money_convert($currency; $rate)` | decimal string | the amount × `$rate` (a decimal string), rounded half-even to `$currency`'s digits |
//! | `money_text($currency)` | a number or decimal string (`12.5`, `"19.990000"`) | the exact decimal string with `$currency`'s digits (`"12.50"`, `"19.99"`); an error when that would round |
//! | `country_code`, `country_name`, `phone_e164($country)`, `address_lines` | see [`crate::places`] | |

use jaq_core::native::{bome, v, Filter};
use jaq_core::{Cv, DataT, Error, RunPtr, ValR};
use jaq_json::{Num, Val};
use o2c_domain::money::Currency;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

fn err(msg: impl std::fmt::Display) -> Error<Val> {
    Error::str(msg)
}

fn text(v: &Val) -> Option<String> {
    match v {
        Val::TStr(b) => std::str::from_utf8(b).ok().map(str::to_owned),
        Val::Num(Num::Int(i)) => Some(i.to_string()),
        Val::Num(Num::Dec(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// An amount argument: a decimal string (or an integer), never a float.
fn decimal(v: &Val, what: &str) -> Result<Decimal, Error<Val>> {
    let t = text(v).ok_or_else(|| err(format!("{what}: {v} is not a decimal string")))?;
    let t = t.trim();
    let ok = !t.is_empty()
        && t.trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.')
        && t.matches('.').count() <= 1;
    if !ok {
        return Err(err(format!("{what}: {t:?} is not a decimal amount")));
    }
    Decimal::from_str(t).map_err(|e| err(format!("{what}: {t:?}: {e}")))
}

fn currency(v: &Val) -> Result<Currency, Error<Val>> {
    let t = text(v).ok_or_else(|| err(format!("{v} is not a currency code")))?;
    t.parse::<Currency>()
        .map_err(|e| err(format!("{t:?} is not an ISO 4217 currency: {e}")))
}

fn string(d: Decimal) -> Val {
    Val::from(d.to_string())
}

/// `"35.00"` → `35`, `"107.90"` → `107.9`: the exact value in the form a JSON number prints.
pub fn exact_number(decimal_text: &str) -> Option<Val> {
    let normalized = if decimal_text.contains('.') {
        decimal_text.trim_end_matches('0').trim_end_matches('.')
    } else {
        decimal_text
    };
    let n: serde_json::Number = normalized.parse().ok()?;
    if n.to_string() != normalized {
        return None;
    }
    Some(match n.as_i64().and_then(|i| isize::try_from(i).ok()) {
        Some(i) => Val::from(i),
        None => Val::Num(Num::Dec(normalized.to_string().into())),
    })
}

fn num(v: Val) -> ValR<Val> {
    let t = text(&v).ok_or_else(|| err(format!("num: {v} is not a decimal string")))?;
    decimal(&v, "num")?;
    exact_number(t.trim())
        .ok_or_else(|| err(format!("num: {t:?} cannot be sent as an exact JSON number")))
}

fn add(a: Val, b: Val) -> ValR<Val> {
    Ok(string(
        decimal(&a, "money_add")? + decimal(&b, "money_add")?,
    ))
}

fn sub(a: Val, b: Val) -> ValR<Val> {
    Ok(string(
        decimal(&a, "money_sub")? - decimal(&b, "money_sub")?,
    ))
}

fn mul(a: Val, n: Val) -> ValR<Val> {
    let Val::Num(Num::Int(n)) = n else {
        return Err(err(format!("money_mul: {n} is not an integer quantity")));
    };
    let d = decimal(&a, "money_mul")?;
    d.checked_mul(Decimal::from(n as i64))
        .map(string)
        .ok_or_else(|| err("money_mul: overflow"))
}

fn to_minor(a: Val, cur: Val) -> ValR<Val> {
    let c = currency(&cur)?;
    let d = decimal(&a, "to_minor")?;
    if d.scale() > c.exponent() && d.normalize().scale() > c.exponent() {
        return Err(err(format!(
            "to_minor: {d} has more fraction digits than {} allows",
            c.code()
        )));
    }
    let minor = d * Decimal::from(10i64.pow(c.exponent()));
    let minor = i64::try_from(minor.normalize()).map_err(|e| err(format!("to_minor: {e}")))?;
    Ok(Val::from(minor as isize))
}

fn from_minor(a: Val, cur: Val) -> ValR<Val> {
    let c = currency(&cur)?;
    let Val::Num(Num::Int(n)) = a else {
        return Err(err(format!("from_minor: {a} is not an integer")));
    };
    Ok(string(Decimal::new(n as i64, c.exponent())))
}

fn convert(a: Val, cur: Val, rate: Val) -> ValR<Val> {
    let c = currency(&cur)?;
    let d = decimal(&a, "money_convert")?;
    let r = decimal(&rate, "money_convert rate")?;
    let out = d
        .checked_mul(r)
        .ok_or_else(|| err("money_convert: overflow"))?
        .round_dp_with_strategy(c.exponent(), RoundingStrategy::MidpointNearestEven);
    let mut out = out;
    out.rescale(c.exponent());
    Ok(string(out))
}

/// `money_text`: any exact amount as the currency's decimal string; an error when it would
/// round. A JSON float from a source system is read through its shortest decimal form.
fn money_text(a: Val, cur: Val) -> ValR<Val> {
    let c = currency(&cur)?;
    let d = match &a {
        Val::Num(Num::Float(f)) => {
            Decimal::from_str(&f.to_string()).map_err(|e| err(format!("money_text: {f}: {e}")))?
        }
        other => decimal(other, "money_text")?,
    };
    let digits = c.exponent();
    let r = d.round_dp(digits);
    if r != d {
        return Err(err(format!(
            "money_text: {d} has more than {digits} fraction digits for {}",
            c.code()
        )));
    }
    let mut r = r;
    r.rescale(digits);
    Ok(string(r))
}

/// A text input of a `places` built-in.
fn place_text(v: &Val, what: &str) -> Result<String, Error<Val>> {
    match v {
        Val::TStr(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        other => Err(err(format!("{what}: {other} is not text"))),
    }
}

fn place(r: Result<String, String>) -> ValR<Val> {
    r.map(Val::from).map_err(err)
}

/// `address_lines`: the canonical address object → its lines as an array of strings.
fn address_lines(a: Val) -> ValR<Val> {
    let Val::Obj(o) = &a else {
        return Err(err(format!("address_lines: {a} is not an address object")));
    };
    let get = |k: &str| -> String {
        o.iter()
            .find(|(key, _)| matches!(key, Val::TStr(b) if b.as_ref() == k.as_bytes()))
            .and_then(|(_, v)| match v {
                Val::TStr(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let recipient = format!("{} {}", get("first_name"), get("last_name"));
    let street = [get("line1"), get("line2")]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let (city, region, postal_code, country) = (
        get("city"),
        get("region"),
        get("postal_code"),
        get("country"),
    );
    let lines = crate::places::address_lines(&crate::places::AddressParts {
        recipient: recipient.trim(),
        street: &street,
        city: &city,
        region: &region,
        postal_code: &postal_code,
        country: &country,
    })
    .map_err(err)?;
    Ok(lines.into_iter().map(Val::from).collect())
}

/// The native functions, for any data type carrying [`Val`].
pub fn funs<D: for<'a> DataT<V<'a> = Val>>() -> impl Iterator<Item = Filter<RunPtr<D>>> {
    let list: Vec<Filter<RunPtr<D>>> = vec![
        ("num", v(0), |cv: Cv<D>| bome(num(cv.1))),
        ("money_add", v(1), |mut cv: Cv<D>| {
            let b = cv.0.pop_var();
            bome(add(cv.1, b))
        }),
        ("money_sub", v(1), |mut cv: Cv<D>| {
            let b = cv.0.pop_var();
            bome(sub(cv.1, b))
        }),
        ("money_mul", v(1), |mut cv: Cv<D>| {
            let n = cv.0.pop_var();
            bome(mul(cv.1, n))
        }),
        ("to_minor", v(1), |mut cv: Cv<D>| {
            let c = cv.0.pop_var();
            bome(to_minor(cv.1, c))
        }),
        ("from_minor", v(1), |mut cv: Cv<D>| {
            let c = cv.0.pop_var();
            bome(from_minor(cv.1, c))
        }),
        ("money_convert", v(2), |mut cv: Cv<D>| {
            let rate = cv.0.pop_var();
            let c = cv.0.pop_var();
            bome(convert(cv.1, c, rate))
        }),
        ("money_text", v(1), |mut cv: Cv<D>| {
            let c = cv.0.pop_var();
            bome(money_text(cv.1, c))
        }),
        ("country_code", v(0), |cv: Cv<D>| {
            bome(
                place_text(&cv.1, "country_code")
                    .and_then(|t| place(crate::places::country_code(&t))),
            )
        }),
        ("country_name", v(0), |cv: Cv<D>| {
            bome(
                place_text(&cv.1, "country_name")
                    .and_then(|t| place(crate::places::country_name(&t))),
            )
        }),
        ("phone_e164", v(1), |mut cv: Cv<D>| {
            let country = cv.0.pop_var();
            bome(place_text(&cv.1, "phone_e164").and_then(|number| {
                let country = place_text(&country, "phone_e164 country")?;
                place(crate::places::phone_e164(&number, &country))
            }))
        }),
        ("address_lines", v(0), |cv: Cv<D>| bome(address_lines(cv.1))),
    ];
    list.into_iter()
}
