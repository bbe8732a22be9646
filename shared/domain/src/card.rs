//! Card-number detection: a run of 13–19 digits that passes the Luhn check, found after the
//! text is normalised the way a person (or an attacker) could disguise it.
//!
//! Card data never enters the system and never leaves it: the webhook receivers refuse payloads
//! holding a value that looks like a PAN, the pollers skip such records, the REST clients refuse
//! to send such a body, and the card-data scan (`infra/local/cardscan.py`, the same rule, the
//! same case table `infra/local/cardscan_cases.json`) looks for them afterwards.
//!
//! The rule, step by step (mirrored line for line in `cardscan.py`):
//!
//! 1. **Decode.** A JSON document (text starting with `{` or `[` that parses) is walked: every
//!    object key, every string value and every number (its decimal text) is scanned on its own,
//!    so `\u0034\u0031…` escapes are decoded by the parser. The raw text is scanned as well (a
//!    duplicated key's first value never reaches the parsed document). Any text also has its
//!    literal `\uXXXX` escapes decoded (double-encoded JSON, log lines).
//! 2. **Normalise** each character: default-ignorable characters (zero-width space/joiners,
//!    word joiner, BOM, soft hyphen, bidi controls, variation selectors, …) and combining marks
//!    are dropped, so they cannot split a number; the rest goes through NFKC (fullwidth,
//!    mathematical, superscript and circled digits become ASCII); every decimal digit
//!    (General_Category Nd, any script) becomes its value; every space separator (Zs: NBSP,
//!    thin, narrow NBSP, ideographic…), tab, dash (Pd: hyphen, en/em dash, …) and minus sign is
//!    a group separator. Anything else (letters, punctuation, line breaks) ends a run.
//! 3. **Identifiers by shape.** A UUID (hex groups 8-4-4-4-12 joined by dashes) and a hex run
//!    of 24 or more characters holding at least one hex letter (SHA-256/SHA-1 digests, 32-hex
//!    TMS ids, our 24-hex `o2c…` references) are identifiers: their characters end runs and never
//!    count as digits. In a hex run of 16–23 characters (request ids such as
//!    `req_4f3474187968221f`), a digit run with a hex letter on both sides is part of the id.
//!    Nothing else is exempt: a digit run glued to other letters (`PAN4012888888881881`,
//!    `x4111111111111111y`) or at the edge of a hex run (`4111111111111111a`) counts.
//! 4. **Runs.** Digits, with at most one separator between two digits, form a run; a run of
//!    13–19 digits that passes Luhn is a card number. A longer run (a 22-digit transaction id)
//!    is not, nor is any window inside it.
//!
//! Not separators, on purpose: dots and slashes (`1768904131.123456` epoch seconds, amounts,
//! dates and IP addresses would turn into 13+ digit runs) and line breaks (log lines).

use std::ops::Range;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// Does the text hold a card number? A JSON document is walked (keys, strings, numbers) and its
/// raw text scanned; any other text is scanned as text. Both after normalisation.
pub fn contains_card_number(text: &str) -> bool {
    card_number_location(text).is_some()
}

/// [`contains_card_number`] for a raw payload (invalid UTF-8 is replaced, as a reader would).
pub fn payload_holds_card_number(body: &[u8]) -> bool {
    contains_card_number(&String::from_utf8_lossy(body))
}

/// `text` with every card number [`find_card_numbers`] finds replaced by `marker`. Replacing one
/// run can change the surroundings of another (the rule reads identifier shapes), so the text is
/// scanned again until nothing is found; each pass removes digits, so this ends. The one
/// redaction for free text: dead-letter reasons, dlq-redrive previews.
pub fn redact_card_numbers(text: &str, marker: &str) -> String {
    let mut out = text.to_string();
    loop {
        let hits = find_card_numbers(&out);
        if hits.is_empty() {
            return out;
        }
        let mut next = String::with_capacity(out.len());
        let mut at = 0;
        for h in hits {
            next.push_str(&out[at..h.span.start]);
            next.push_str(marker);
            at = h.span.end;
        }
        next.push_str(&out[at..]);
        out = next;
    }
}

/// Where the first card number of `text` is, never what it is: a JSON path (`$.order.lineItems[0].name`,
/// `$.metadata.<key>` when it is an object key) for a JSON document, else `byte N` (the first
/// digit's UTF-8 offset).
pub fn card_number_location(text: &str) -> Option<String> {
    if let Some(doc) = parse_document(text) {
        if let Some(path) = json_card_path(&doc) {
            return Some(path);
        }
    }
    find_card_number(text).map(|r| format!("byte {}", r.start))
}

/// [`card_number_location`] for a raw payload.
pub fn payload_card_location(body: &[u8]) -> Option<String> {
    card_number_location(&String::from_utf8_lossy(body))
}

/// `text` as a JSON document when it is one (an object or array).
fn parse_document(text: &str) -> Option<Value> {
    let t = text.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// The JSON path of the first card number in a parsed document (keys visited in sorted order;
/// a key that holds one is shown as `<key>`), or `None`.
pub fn json_card_path(doc: &Value) -> Option<String> {
    let mut path = String::from("$");
    walk(doc, &mut path).then_some(path)
}

fn walk(v: &Value, path: &mut String) -> bool {
    match v {
        Value::String(s) => find_card_number(s).is_some(),
        Value::Number(n) => find_card_number(&n.to_string()).is_some(),
        Value::Array(items) => {
            let len = path.len();
            for (i, x) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                if walk(x, path) {
                    return true;
                }
                path.truncate(len);
            }
            false
        }
        Value::Object(map) => {
            let len = path.len();
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                if find_card_number(k).is_some() {
                    path.push_str(".<key>");
                    return true;
                }
                push_key(path, k);
                if walk(&map[k], path) {
                    return true;
                }
                path.truncate(len);
            }
            false
        }
        Value::Null | Value::Bool(_) => false,
    }
}

fn push_key(path: &mut String, k: &str) {
    let simple = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if simple {
        path.push('.');
        path.push_str(k);
    } else {
        path.push('[');
        path.push_str(&serde_json::to_string(k).unwrap_or_default());
        path.push(']');
    }
}

/// The byte range (in `text`, from the first digit to the last) of the first card number of
/// the plain text (no JSON parsing; literal `\uXXXX` escapes are decoded).
pub fn find_card_number(text: &str) -> Option<Range<usize>> {
    find_card_numbers(text).into_iter().next().map(|h| h.span)
}

/// One card-number-like run: where it is in the text, and how many digits it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub span: Range<usize>,
    pub digits: usize,
}

/// Every card-number-like run of the plain text, left to right.
pub fn find_card_numbers(text: &str) -> Vec<Hit> {
    // Fast path: without 13 digits of any kind there is nothing to find.
    if text.is_ascii() && text.bytes().filter(u8::is_ascii_digit).count() < 13 {
        return Vec::new();
    }
    let mut units = normalise(text);
    mask_identifiers(&mut units);
    runs(&units)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Digit(u8),
    /// An ASCII letter, lower-cased.
    Letter(u8),
    Sep {
        dash: bool,
    },
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    kind: Kind,
    start: usize,
    end: usize,
}

impl Unit {
    fn is_hex(&self) -> bool {
        matches!(self.kind, Kind::Digit(_) | Kind::Letter(b'a'..=b'f'))
    }
}

/// The text as units (step 2), each with the source byte range it came from.
fn normalise(text: &str) -> Vec<Unit> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let (c, len) = match unicode_escape(bytes, i) {
            Some(decoded) => decoded,
            None => {
                let c = text[i..].chars().next().unwrap_or('\u{fffd}');
                (c, c.len_utf8())
            }
        };
        let (start, end) = (i, i + len);
        if c.is_ascii() {
            out.push(Unit {
                kind: ascii_kind(c as u8),
                start,
                end,
            });
        } else if !ignorable(c) {
            for x in std::iter::once(c).nfkc() {
                if let Some(kind) = kind_of(x) {
                    out.push(Unit { kind, start, end });
                }
            }
        }
        i = end;
    }
    out
}

/// A literal `\uXXXX` (or a `\uD8xx\uDCxx` surrogate pair) at `i`: the character and the
/// escape's length in bytes.
fn unicode_escape(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    let unit = |at: usize| -> Option<u32> {
        let s = bytes.get(at..at + 6)?;
        if s[0] != b'\\' || s[1] != b'u' || !s[2..].iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(&s[2..]).ok()?, 16).ok()
    };
    let hi = unit(i)?;
    if (0xD800..0xDC00).contains(&hi) {
        let lo = unit(i + 6).filter(|lo| (0xDC00..0xE000).contains(lo))?;
        let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?;
        return Some((c, 12));
    }
    char::from_u32(hi).map(|c| (c, 6))
}

fn ascii_kind(b: u8) -> Kind {
    match b {
        b'0'..=b'9' => Kind::Digit(b - b'0'),
        b'a'..=b'z' | b'A'..=b'Z' => Kind::Letter(b.to_ascii_lowercase()),
        b' ' | b'\t' => Kind::Sep { dash: false },
        b'-' => Kind::Sep { dash: true },
        _ => Kind::Other,
    }
}

/// The unit of one character of an NFKC expansion (`None`: dropped).
fn kind_of(x: char) -> Option<Kind> {
    if x.is_ascii() {
        return Some(ascii_kind(x as u8));
    }
    if ignorable(x) {
        return None;
    }
    if let Some(d) = decimal_value(x) {
        return Some(Kind::Digit(d));
    }
    if is_space(x) {
        return Some(Kind::Sep { dash: false });
    }
    if is_dash(x) {
        return Some(Kind::Sep { dash: true });
    }
    Some(Kind::Other)
}

/// Default_Ignorable_Code_Point (DerivedCoreProperties.txt, stable since Unicode 4.0; invisible
/// by definition) or a combining mark (General_Category M*, from `unicode-normalization`).
fn ignorable(c: char) -> bool {
    let u = c as u32;
    matches!(
        u,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    ) || unicode_normalization::char::is_combining_mark(c)
}

/// General_Category Zs (every space separator; the set has not changed since Unicode 4.0).
fn is_space(c: char) -> bool {
    matches!(
        c as u32,
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000
    )
}

/// General_Category Pd (every dash, Unicode 14), plus the minus sign and the hyphen bullet.
fn is_dash(c: char) -> bool {
    matches!(
        c as u32,
        0x058A | 0x05BE | 0x1400 | 0x1806 | 0x2010
            ..=0x2015
                | 0x2E17
                | 0x2E1A
                | 0x2E3A
                | 0x2E3B
                | 0x2E40
                | 0x2E5D
                | 0x301C
                | 0x3030
                | 0x30A0
                | 0xFE31
                | 0xFE32
                | 0xFE58
                | 0xFE63
                | 0xFF0D
                | 0x10EAD
                | 0x2212
                | 0x2043
    )
}

/// The zero of every decimal-digit range (General_Category Nd) up to Unicode 16.0. Unicode
/// guarantees each Nd range is ten contiguous code points, zero first, so a digit's value is
/// its offset from the range's zero.
///
/// Hand-written because no well-kept Rust crate exposes Numeric_Value (unicode-rs has none;
/// `char::to_digit` is ASCII only, `char::is_numeric` has no value); and one table, carried
/// identically by `cardscan.py` (`DECIMAL_ZEROS`) and cross-checked against Python's
/// `unicodedata` in tests, keeps both scanners equal whatever Unicode version Python has.
pub const DECIMAL_ZEROS: &[u32] = &[
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x10D40, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
    0x11650, 0x116C0, 0x116D0, 0x116DA, 0x11730, 0x118E0, 0x11950, 0x11BF0, 0x11C50, 0x11D50,
    0x11DA0, 0x11F50, 0x16130, 0x16A60, 0x16AC0, 0x16B50, 0x16D70, 0x1CCF0, 0x1D7CE, 0x1D7D8,
    0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E5F1, 0x1E950, 0x1FBF0,
];

/// The value of a decimal digit of any script.
pub fn decimal_value(c: char) -> Option<u8> {
    let u = c as u32;
    let k = DECIMAL_ZEROS.partition_point(|&z| z <= u);
    let zero = *DECIMAL_ZEROS.get(k.checked_sub(1)?)?;
    (u - zero < 10).then(|| (u - zero) as u8)
}

/// Step 3: UUIDs and long hex runs become `Other`.
fn mask_identifiers(units: &mut [Unit]) {
    // Maximal hex runs.
    let mut hex: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if units[i].is_hex() {
            let s = i;
            while i < units.len() && units[i].is_hex() {
                i += 1;
            }
            hex.push(s..i);
        } else {
            i += 1;
        }
    }
    let mut masked: Vec<Range<usize>> = Vec::new();
    for (k, r) in hex.iter().enumerate() {
        let letter = units[r.clone()]
            .iter()
            .any(|u| matches!(u.kind, Kind::Letter(_)));
        if r.len() >= 24 && letter {
            masked.push(r.clone());
        } else if r.len() >= 16 && letter {
            // A shorter hex id (request ids like `req_4f3474187968221f`): a digit run inside it
            // with a hex letter on both sides is part of the id. A run at its edge still counts
            // (`4111111111111111a`, `deadbee4111111111111111`).
            let mut j = r.start;
            while j < r.end {
                if matches!(units[j].kind, Kind::Digit(_)) {
                    let d = j;
                    while j < r.end && matches!(units[j].kind, Kind::Digit(_)) {
                        j += 1;
                    }
                    if d > r.start && j < r.end {
                        masked.push(d..j);
                    }
                } else {
                    j += 1;
                }
            }
        }
        // A UUID: five hex runs of 8, 4, 4, 4, 12 joined by single dashes.
        if r.len() == 8 && k + 4 < hex.len() {
            let groups = &hex[k..k + 5];
            let joined = groups.windows(2).all(|w| {
                w[1].start == w[0].end + 1 && units[w[0].end].kind == Kind::Sep { dash: true }
            });
            let lens: Vec<usize> = groups.iter().map(ExactSizeIterator::len).collect();
            if joined && lens == [8, 4, 4, 4, 12] {
                masked.push(groups[0].start..groups[4].end);
            }
        }
    }
    for r in masked {
        for u in &mut units[r] {
            u.kind = Kind::Other;
        }
    }
}

/// Step 4: runs of 13–19 digits (at most one separator between two digits) that pass Luhn.
fn runs(units: &[Unit]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if !matches!(units[i].kind, Kind::Digit(_)) {
            i += 1;
            continue;
        }
        let mut digits: Vec<u8> = Vec::with_capacity(19);
        let mut last = i;
        let mut j = i;
        while j < units.len() {
            match units[j].kind {
                Kind::Digit(d) => {
                    digits.push(d);
                    last = j;
                    j += 1;
                }
                Kind::Sep { .. }
                    if j > i
                        && matches!(units[j - 1].kind, Kind::Digit(_))
                        && matches!(units.get(j + 1).map(|u| u.kind), Some(Kind::Digit(_))) =>
                {
                    j += 1;
                }
                _ => break,
            }
        }
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            hits.push(Hit {
                span: units[i].start..units[last].end,
                digits: digits.len(),
            });
        }
        i = j.max(i + 1);
    }
    hits
}

/// The Luhn (mod 10) check over digit values 0–9.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_pans_in_any_shape() {
        for pan in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011111111111117",
            "4222222222222",
            "4111\u{a0}1111\u{a0}1111\u{a0}1111",
            "4111\u{2009}1111\u{202f}1111\u{3000}1111",
            "4111\u{2013}1111\u{2014}1111\u{2212}1111",
            "４１１１１１１１１１１１１１１１",
            "٤١١١١١١١١١١١١١١١",
            "४१११११११११११११११",
            "4111\u{200b}1111\u{200d}1111\u{ad}1111",
            "PAN4012888888881881",
            "\\u0034\\u0031\\u0031\\u0031111111111111",
        ] {
            let text = format!(r#"{{"note":"card {pan} thanks"}}"#);
            assert!(contains_card_number(&text), "{pan}");
            assert!(contains_card_number(pan), "{pan}");
        }
        assert!(contains_card_number(r#"{"n":4111111111111111}"#));
        assert_eq!(
            card_number_location(
                r#"{"a":[{"b":"x"},{"name":"\u0034\u0031\u0031\u0031111111111111"}]}"#
            )
            .as_deref(),
            Some("$.a[1].name")
        );
        assert_eq!(
            card_number_location(r#"{"m":{"4111111111111111":1}}"#).as_deref(),
            Some("$.m.<key>")
        );
    }

    #[test]
    fn ignores_non_luhn_short_and_long_runs_and_identifiers() {
        assert!(!contains_card_number("id 41111111111111110000000")); // 25 digits
        assert!(!contains_card_number("order 4111111111111112 total"));
        assert!(!contains_card_number("phone +1 415 555 0100, zip 94107"));
        assert!(!contains_card_number("ts 1700000000000 amount 107.99"));
        assert!(!contains_card_number("411111111111")); // 12 digits
        assert!(!contains_card_number("7012345678901234567890")); // 22-digit transaction id
        assert!(!contains_card_number(
            "52693516-8882-4137-a833-1f169899676d"
        ));
        assert!(!contains_card_number("6E41111111111111111183B1C2D3E4F5")); // TMS id
        assert!(!contains_card_number(
            "o2c4111111111111111e2a3b4c5d6-auth" // our 24-hex reference
        ));
    }

    #[test]
    fn decimal_digits_of_every_script() {
        assert_eq!(decimal_value('7'), Some(7));
        assert_eq!(decimal_value('\u{0667}'), Some(7)); // Arabic-Indic
        assert_eq!(decimal_value('\u{096D}'), Some(7)); // Devanagari
        assert_eq!(decimal_value('\u{1D7D5}'), Some(7)); // mathematical bold
        assert_eq!(decimal_value('\u{1D7D8}'), Some(0)); // double-struck zero
        assert_eq!(decimal_value('a'), None);
        assert_eq!(decimal_value('\u{0670}'), None); // just past Arabic-Indic
        assert!(DECIMAL_ZEROS.windows(2).all(|w| w[1] >= w[0] + 10));
    }
}
