//! `JSON.stringify(JSON.parse(text)[member])`, byte for byte as JavaScript computes it.
//!
//! Cybersource's official plugins verify a notification signature over
//! `t + "." + JSON.stringify(body.payload)`, so the payload has to be re-serialised the way a
//! JavaScript engine does it:
//! * objects keep insertion order, except that array-index keys (`"0"`, `"17"`, …) come first in
//!   ascending numeric order; a duplicate key keeps its first position and its last value;
//! * numbers are IEEE doubles printed by `Number.prototype.toString` (`1.0` → `1`, `1e21` →
//!   `1e+21`, `-0` → `0`);
//! * strings escape only `"`, `\` and control characters (`\b \t \n \f \r`, else `\u00xx`);
//!   everything else, non-ASCII included, is written raw (UTF-8).
//!
//! `serde_json::Value` cannot do this without switching `preserve_order` on for the whole
//! workspace and would still print numbers the Rust way, hence this small tree.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Clone, PartialEq)]
enum Js {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Js>),
    Obj(Vec<(String, Js)>),
}

impl<'de> Deserialize<'de> for Js {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsVisitor)
    }
}

struct JsVisitor;

impl<'de> Visitor<'de> for JsVisitor {
    type Value = Js;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Js, E> {
        Ok(Js::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Js, E> {
        Ok(Js::Bool(v))
    }
    // Integers become doubles, as in JavaScript (u64/i64 → f64 rounds to nearest, the same
    // double JavaScript gets from the decimal text).
    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E>(self, v: u64) -> Result<Js, E> {
        Ok(Js::Num(v as f64))
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E>(self, v: i64) -> Result<Js, E> {
        Ok(Js::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Js, E> {
        Ok(Js::Num(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Js, E> {
        Ok(Js::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Js, E> {
        Ok(Js::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Js, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Js::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Js, A::Error> {
        let mut entries: Vec<(String, Js)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some((key, value)) = map.next_entry::<String, Js>()? {
            match index.get(&key) {
                Some(&i) => entries[i].1 = value,
                None => {
                    index.insert(key.clone(), entries.len());
                    entries.push((key, value));
                }
            }
        }
        Ok(Js::Obj(entries))
    }
}

/// Why a member could not be extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberError {
    /// Not valid JSON (or a lone surrogate in a string, which we do not represent).
    InvalidJson,
    /// The top-level value is not an object.
    NotAnObject,
    /// The object has no such member.
    MissingMember,
}

/// `JSON.stringify(JSON.parse(text)[member])` for a top-level object.
pub(crate) fn stringify_member(text: &[u8], member: &str) -> Result<String, MemberError> {
    let root: Js = serde_json::from_slice(text).map_err(|_| MemberError::InvalidJson)?;
    let Js::Obj(entries) = root else {
        return Err(MemberError::NotAnObject);
    };
    let (_, value) = entries
        .iter()
        .find(|(k, _)| k == member)
        .ok_or(MemberError::MissingMember)?;
    let mut out = String::new();
    write_value(&mut out, value);
    Ok(out)
}

fn write_value(out: &mut String, v: &Js) {
    match v {
        Js::Null => out.push_str("null"),
        Js::Bool(true) => out.push_str("true"),
        Js::Bool(false) => out.push_str("false"),
        Js::Num(n) => write_number(out, *n),
        Js::Str(s) => write_string(out, s),
        Js::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Js::Obj(entries) => {
            // Array-index keys first, ascending; then the rest in insertion order.
            let mut indexed: Vec<(u32, &(String, Js))> = entries
                .iter()
                .filter_map(|e| array_index(&e.0).map(|i| (i, e)))
                .collect();
            indexed.sort_by_key(|(i, _)| *i);
            let ordered = indexed
                .into_iter()
                .map(|(_, e)| e)
                .chain(entries.iter().filter(|e| array_index(&e.0).is_none()));
            out.push('{');
            for (i, (k, v)) in ordered.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// A canonical array index: decimal digits, no leading zero (except `"0"`), below 2^32 − 1.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `Number.prototype.toString()` (ECMA-262 Number::toString, radix 10) for a finite double.
fn write_number(out: &mut String, v: f64) {
    if v == 0.0 || !v.is_finite() {
        // -0 prints as 0; JSON.stringify writes non-finite numbers as null (JSON has none).
        out.push_str(if v == 0.0 { "0" } else { "null" });
        return;
    }
    if v < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d[.ddd]e<exp>".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp always has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let k = i32::try_from(digits.len()).expect("at most 17 digits");
    let n = exp + 1; // value = 0.digits × 10^n
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        let mut s = String::new();
        write_number(&mut s, v);
        s
    }

    #[test]
    fn numbers_print_like_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (102.21, "102.21"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (123456.789, "123456.789"),
            (0.1 + 0.2, "0.30000000000000004"),
            (7e21, "7e+21"),
            (9007199254740993.0, "9007199254740992"),
        ];
        for (v, want) in cases {
            assert_eq!(num(*v), *want, "{v}");
        }
    }

    #[test]
    fn stringify_member_matches_json_stringify() {
        let body = br#"{ "payload" : { "b": 1.0, "2": "x", "a": [1e2, -0, "\u00e9\n\u0001\/"], "1": null, "b": true, "01": {} }, "payload2": 0 }"#;
        assert_eq!(
            stringify_member(body, "payload").unwrap(),
            r#"{"1":null,"2":"x","b":true,"a":[100,0,"é\n\u0001/"],"01":{}}"#
        );
    }

    #[test]
    fn member_errors() {
        assert_eq!(
            stringify_member(b"{", "payload"),
            Err(MemberError::InvalidJson)
        );
        assert_eq!(
            stringify_member(b"[]", "payload"),
            Err(MemberError::NotAnObject)
        );
        assert_eq!(
            stringify_member(b"{}", "payload"),
            Err(MemberError::MissingMember)
        );
        assert_eq!(
            stringify_member(br#"{"payload":null}"#, "payload").unwrap(),
            "null"
        );
    }
}
