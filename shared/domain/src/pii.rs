//! PII masking (`docs/architecture.md` §6): names, emails, phones, address lines and postal
//! codes, on single strings, on free text and on JSON trees by field name.
//!
//! One policy decides whether anything is masked:
//! * log lines are always masked ([`MaskPolicy::LOGS`]);
//! * data leaving production for a lower stage (ERP/CRM sandboxes, fixtures, exports) is masked
//!   unless the stage is production ([`MaskPolicy::for_stage`]).
//!
//! Masking is one-way and keeps just enough to recognise a record while debugging: the first
//! character of a name (`Ada` → `A***`), the first character of an email's local part and its
//! top-level domain (`ada@example.com` → `a***@e***.com`), the last two digits of a phone
//! (`+44 20 7946 0958` → `***58`), the first two characters of a postal code (`94107` → `94***`),
//! and nothing of an address line (`***`). The mask never reveals the length of the original.
//!
//! Field names are matched case- and separator-insensitively (`first_name`, `firstName`,
//! `FirstName`, `userContactFirstName` are all names). A bare `name` is **not** PII: it is a
//! product or record name far more often than a person's.

use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Whether PII is masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskPolicy {
    /// Leave values as they are (production data staying in production).
    Keep,
    /// Mask every PII value.
    Mask,
}

impl MaskPolicy {
    /// Logs are always masked, in every stage.
    pub const LOGS: MaskPolicy = MaskPolicy::Mask;

    /// Data sent out of this stage: kept as is in production (`prod`, `production`), masked in
    /// every other stage.
    pub fn for_stage(stage: &str) -> MaskPolicy {
        let s = stage.trim();
        if s.eq_ignore_ascii_case("prod") || s.eq_ignore_ascii_case("production") {
            MaskPolicy::Keep
        } else {
            MaskPolicy::Mask
        }
    }

    /// From a plain flag.
    pub const fn from_flag(mask: bool) -> MaskPolicy {
        if mask {
            MaskPolicy::Mask
        } else {
            MaskPolicy::Keep
        }
    }

    pub const fn masks(self) -> bool {
        matches!(self, MaskPolicy::Mask)
    }
}

/// The kinds of PII this module knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiiKind {
    Name,
    Email,
    Phone,
    AddressLine,
    PostalCode,
}

const MASK: &str = "***";

/// Mask one value of a known kind (always masks; see [`apply`] for the policy-aware form).
pub fn mask(kind: PiiKind, value: &str) -> String {
    match kind {
        PiiKind::Name => mask_name(value),
        PiiKind::Email => mask_email(value),
        PiiKind::Phone => mask_phone(value),
        PiiKind::AddressLine => mask_address_line(value),
        PiiKind::PostalCode => mask_postal_code(value),
    }
}

/// Mask `value` if the policy says so.
pub fn apply(policy: MaskPolicy, kind: PiiKind, value: &str) -> Cow<'_, str> {
    if policy.masks() {
        Cow::Owned(mask(kind, value))
    } else {
        Cow::Borrowed(value)
    }
}

/// `Ada` → `A***`, `Ñandú` → `Ñ***`; an empty or blank value stays as it is.
pub fn mask_name(value: &str) -> String {
    let trimmed = value.trim();
    match trimmed.chars().next() {
        None => value.to_owned(),
        Some(first) => format!("{first}{MASK}"),
    }
}

/// `ada@example.com` → `a***@e***.com`. A value without `@` is masked like a name.
pub fn mask_email(value: &str) -> String {
    let trimmed = value.trim();
    let Some((local, domain)) = trimmed.rsplit_once('@') else {
        return mask_name(trimmed);
    };
    let local_masked = match local.chars().next() {
        Some(c) => format!("{c}{MASK}"),
        None => MASK.to_owned(),
    };
    let domain_masked = match domain.rsplit_once('.') {
        Some((host, tld)) if !host.is_empty() && !tld.is_empty() => {
            let first = host.chars().next().map(String::from).unwrap_or_default();
            format!("{first}{MASK}.{tld}")
        }
        _ => MASK.to_owned(),
    };
    format!("{local_masked}@{domain_masked}")
}

/// `+44 20 7946 0958` → `***58`. Fewer than four digits → `***`.
pub fn mask_phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return MASK.to_owned();
    }
    let tail: String = digits[digits.len() - 2..].iter().collect();
    format!("{MASK}{tail}")
}

/// Any address line → `***` (an empty one stays empty).
pub fn mask_address_line(value: &str) -> String {
    if value.trim().is_empty() {
        value.to_owned()
    } else {
        MASK.to_owned()
    }
}

/// `94107` → `94***`, `N1 1AA` → `N1***`; three characters or fewer → `***`.
pub fn mask_postal_code(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return value.to_owned();
    }
    if trimmed.chars().count() <= 3 {
        return MASK.to_owned();
    }
    let head: String = trimmed.chars().take(2).collect();
    format!("{head}{MASK}")
}

/// The PII kind a JSON field name denotes, if any.
pub fn kind_of_field(field: &str) -> Option<PiiKind> {
    let key: String = field
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Strip a trailing index digit (`email1`, `street2`, `phone1`) for the suffix tests.
    let stem = key.trim_end_matches(|c: char| c.is_ascii_digit());
    const NAMES: &[&str] = &[
        "firstname",
        "lastname",
        "middlename",
        "fullname",
        "givenname",
        "familyname",
        "surname",
        "customername",
        "contactname",
        "suppliedname",
        "addressee",
        "attention",
        "cardholdername",
        "nameoncard",
        "billingname",
        "shippingname",
    ];
    const ADDRESS_LINES: &[&str] = &[
        "line",
        "addressline",
        "address",
        "addr",
        "street",
        "streetaddress",
    ];
    const POSTAL: &[&str] = &["postalcode", "zip", "zipcode", "postcode"];
    if NAMES.iter().any(|n| stem.ends_with(n)) {
        return Some(PiiKind::Name);
    }
    if stem.ends_with("email") || stem.starts_with("email") {
        return Some(PiiKind::Email);
    }
    if stem.ends_with("phone") || stem.starts_with("phone") || stem == "mobile" || stem == "fax" {
        return Some(PiiKind::Phone);
    }
    if POSTAL.contains(&stem) {
        return Some(PiiKind::PostalCode);
    }
    // `line1`, `address1`, `addr2`, `street`, `streetAddress`, `addressLine1`; a bare `line`
    // (no index) is not an address line, a bare `address` holding a string is.
    if ADDRESS_LINES.contains(&stem) && (stem != "line" || stem.len() < key.len()) {
        return Some(PiiKind::AddressLine);
    }
    None
}

/// Mask, in place, every PII field of a JSON tree (by field name, at any depth). Objects and
/// arrays under a PII-named field are walked, not replaced: `"address": {"line1": ...}` masks
/// `line1`, while `"address": "1 Main St"` masks the string.
pub fn mask_json(value: &mut Value, policy: MaskPolicy) {
    if !policy.masks() {
        return;
    }
    walk(value, None);
}

/// A masked copy of a JSON tree.
pub fn masked_json(value: &Value, policy: MaskPolicy) -> Value {
    let mut copy = value.clone();
    mask_json(&mut copy, policy);
    copy
}

fn walk(value: &mut Value, kind: Option<PiiKind>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                walk(v, kind_of_field(k));
            }
        }
        Value::Array(items) => {
            for v in items {
                walk(v, kind);
            }
        }
        Value::String(s) => {
            if let Some(kind) = kind {
                *s = mask(kind, s);
            }
        }
        Value::Number(n) => {
            if let Some(kind) = kind {
                *value = Value::String(mask(kind, &n.to_string()));
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// Mask emails and phone-number-like digit runs (7 or more digits, with spaces, dashes, dots,
/// parentheses or a leading `+`) inside free text, e.g. an error message or a note.
pub fn mask_text(text: &str, policy: MaskPolicy) -> Cow<'_, str> {
    if !policy.masks() {
        return Cow::Borrowed(text);
    }
    let with_emails = mask_emails_in(text);
    Cow::Owned(mask_digit_runs_in(&with_emails))
}

fn is_email_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn mask_emails_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            // Local part: walk back over what was already emitted.
            let mut start = i;
            while start > 0 && is_email_char(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && is_email_char(chars[end]) {
                end += 1;
            }
            // Trailing dots belong to the sentence, not the domain.
            while end > i + 1 && chars[end - 1] == '.' {
                end -= 1;
            }
            let domain: String = chars[i + 1..end].iter().collect();
            if start < i && domain.contains('.') {
                let local_len = i - start;
                let mut keep: String = out.chars().collect();
                for _ in 0..local_len {
                    keep.pop();
                }
                out = keep;
                let email: String = chars[start..end].iter().collect();
                out.push_str(&mask_email(&email));
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn mask_digit_runs_in(text: &str) -> String {
    let is_sep = |c: char| matches!(c, ' ' | '-' | '.' | '(' | ')' | '+');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = chars[i].is_ascii_digit()
            || (matches!(chars[i], '+' | '(')
                && chars
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '('));
        // Digits glued to a word (`ORD-1001234567`, `abc123`) are identifiers, not phones.
        let in_identifier = i > 0
            && (chars[i - 1].is_alphanumeric()
                || (matches!(chars[i - 1], '-' | '_') && i > 1 && chars[i - 2].is_alphanumeric()));
        if starts_run && !in_identifier {
            let mut end = i;
            let mut digits = 0;
            while end < chars.len() {
                let c = chars[end];
                if c.is_ascii_digit() {
                    digits += 1;
                    end += 1;
                } else if is_sep(c) {
                    // A separator (or up to three) continues the run only if a digit follows.
                    let mut j = end + 1;
                    while j < chars.len() && is_sep(chars[j]) && j - end < 3 {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        end = j;
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            let run: String = chars[i..end].iter().collect();
            if digits >= 7 && !looks_like_date(&run) {
                out.push_str(&mask_phone(&run));
            } else {
                out.push_str(&run);
            }
            i = end.max(i + 1);
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `2024-06-01` (possibly followed by more digits of a time): not a phone.
fn looks_like_date(run: &str) -> bool {
    let b = run.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

// ---------------------------------------------------------------------------------------------
// Pii<T, K>: one field type whose Debug is masked
// ---------------------------------------------------------------------------------------------

/// What a [`Pii`] value is, at the type level: how its `Debug` masks it.
pub trait PiiMarker {
    /// The kind whose mask `Debug` shows; `None` shows `[REDACTED]` (a token).
    const KIND: Option<PiiKind>;
}

macro_rules! pii_markers {
    ($($(#[$doc:meta])* $name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;
        impl PiiMarker for $name {
            const KIND: Option<PiiKind> = $kind;
        }
    )*};
}

pii_markers! {
    /// A person's (or company's) name: `Ada` → `A***`.
    Name => Some(PiiKind::Name);
    /// `ada@example.com` → `a***@e***.com`.
    Email => Some(PiiKind::Email);
    /// `+44 20 7946 0958` → `***58`.
    Phone => Some(PiiKind::Phone);
    /// Any address line → `***`.
    AddressLine => Some(PiiKind::AddressLine);
    /// `94107` → `94***`.
    PostalCode => Some(PiiKind::PostalCode);
    /// A payment token (transient token JWT, instrument token): `[REDACTED]`.
    Token => None;
}

/// A personal value (or a token) in a DTO or model field: transparent for serde, `Deref`s to
/// `str`, and its `Debug` shows only the mask of its kind `K` ([`Name`], [`Email`], [`Phone`],
/// [`AddressLine`], [`PostalCode`], [`Token`]). So a `#[derive(Debug)]` struct never prints
/// PII, and no hand-written `Debug` is needed. There is deliberately no `Display`: the value
/// is reached through `Deref` (`&*v`, `v.as_str()`, `v.to_string()`), never by formatting.
///
/// ```
/// use o2c_domain::pii::{Email, Pii};
/// let e: Pii<Email> = "ada@example.com".into();
/// assert_eq!(format!("{e:?}"), "\"a***@e***.com\"");
/// assert_eq!(e, "ada@example.com");
/// assert_eq!(serde_json::to_string(&e).unwrap(), "\"ada@example.com\"");
/// ```
pub struct Pii<K>(String, std::marker::PhantomData<fn() -> K>);

impl<K> Pii<K> {
    pub fn new(value: impl Into<String>) -> Self {
        Pii(value.into(), std::marker::PhantomData)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// The same value as another kind (e.g. a Clarity address line into a NetSuite one).
    pub fn cast<L>(&self) -> Pii<L> {
        Pii::new(self.0.clone())
    }
}

impl<K: PiiMarker> fmt::Debug for Pii<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match K::KIND {
            Some(kind) => fmt::Debug::fmt(&mask(kind, &self.0), f),
            None => f.write_str("[REDACTED]"),
        }
    }
}

impl<K> std::ops::Deref for Pii<K> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<K> AsRef<str> for Pii<K> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<K> Clone for Pii<K> {
    fn clone(&self) -> Self {
        Pii::new(self.0.clone())
    }
}

impl<K> Default for Pii<K> {
    fn default() -> Self {
        Pii::new(String::new())
    }
}

impl<K> PartialEq for Pii<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K> Eq for Pii<K> {}

impl<K> std::hash::Hash for Pii<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<K> PartialEq<str> for Pii<K> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl<K> PartialEq<&str> for Pii<K> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<K> PartialEq<String> for Pii<K> {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl<K> From<String> for Pii<K> {
    fn from(value: String) -> Self {
        Pii::new(value)
    }
}

impl<K> From<&str> for Pii<K> {
    fn from(value: &str) -> Self {
        Pii::new(value)
    }
}

impl<K> From<&String> for Pii<K> {
    fn from(value: &String) -> Self {
        Pii::new(value.clone())
    }
}

impl<K> serde::Serialize for Pii<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, K> serde::Deserialize<'de> for Pii<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Pii::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_values() {
        assert_eq!(mask_name("Ada"), "A***");
        assert_eq!(mask_name("Ñandú"), "Ñ***");
        assert_eq!(mask_name("  Zoë "), "Z***");
        assert_eq!(mask_name("山田"), "山***");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_email("ada@example.com"), "a***@e***.com");
        assert_eq!(mask_email("zoë.o'neil@mail.example.co.uk"), "z***@m***.uk");
        assert_eq!(mask_email("not-an-email"), "n***");
        assert_eq!(mask_phone("+44 20 7946 0958"), "***58");
        assert_eq!(mask_phone("12"), "***");
        assert_eq!(mask_address_line("1 Analytical Way"), "***");
        assert_eq!(mask_address_line(""), "");
        assert_eq!(mask_postal_code("94107"), "94***");
        assert_eq!(mask_postal_code("N1 1AA"), "N1***");
        assert_eq!(mask_postal_code("123"), "***");
        // The mask never reveals the original length.
        assert_eq!(mask_name("Al"), mask_name("Alexandria"));
    }

    #[test]
    fn policy_by_stage_and_flag() {
        assert_eq!(MaskPolicy::for_stage("prod"), MaskPolicy::Keep);
        assert_eq!(MaskPolicy::for_stage("Production"), MaskPolicy::Keep);
        assert_eq!(MaskPolicy::for_stage("dev"), MaskPolicy::Mask);
        assert_eq!(MaskPolicy::for_stage("staging"), MaskPolicy::Mask);
        assert_eq!(MaskPolicy::for_stage(""), MaskPolicy::Mask);
        assert!(MaskPolicy::LOGS.masks());
        assert!(!MaskPolicy::from_flag(false).masks());
        assert_eq!(apply(MaskPolicy::Keep, PiiKind::Name, "Ada"), "Ada");
        assert_eq!(apply(MaskPolicy::Mask, PiiKind::Name, "Ada"), "A***");
    }

    #[test]
    fn field_names() {
        for (field, kind) in [
            ("firstName", Some(PiiKind::Name)),
            ("first_name", Some(PiiKind::Name)),
            ("LastName", Some(PiiKind::Name)),
            ("userContactFirstName", Some(PiiKind::Name)),
            ("SuppliedName", Some(PiiKind::Name)),
            ("addressee", Some(PiiKind::Name)),
            ("email", Some(PiiKind::Email)),
            ("Email1", Some(PiiKind::Email)),
            ("SuppliedEmail", Some(PiiKind::Email)),
            ("UserContactEmail", Some(PiiKind::Email)),
            ("phone", Some(PiiKind::Phone)),
            ("phoneNumber", Some(PiiKind::Phone)),
            ("addrPhone", Some(PiiKind::Phone)),
            ("line1", Some(PiiKind::AddressLine)),
            ("line2", Some(PiiKind::AddressLine)),
            ("address1", Some(PiiKind::AddressLine)),
            ("addr2", Some(PiiKind::AddressLine)),
            ("Street1", Some(PiiKind::AddressLine)),
            ("addressLine1", Some(PiiKind::AddressLine)),
            ("postalCode", Some(PiiKind::PostalCode)),
            ("zip", Some(PiiKind::PostalCode)),
            // Not PII.
            ("name", None),
            ("productName", None),
            ("lineItems", None),
            ("lines", None),
            ("line", None),
            ("city", None),
            ("countryCode", None),
            ("sku", None),
            ("id", None),
        ] {
            assert_eq!(kind_of_field(field), kind, "{field}");
        }
    }

    #[test]
    fn json_trees_are_masked_by_field_name_at_any_depth() {
        let order = json!({
            "id": "ORD-1",
            "customer": {"id": "c1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
            "billingAddress": {"firstName": "Ada", "lastName": "Lovelace", "line1": "1 Analytical Way",
                               "line2": null, "city": "London", "postalCode": "N1 1AA",
                               "countryCode": "GB", "phone": "+44 20 7946 0958"},
            "lineItems": [{"sku": "SKU-1", "name": "Widget", "quantity": 2}],
            "contacts": [{"email": "x@y.org"}, {"phone": 4155550100_u64}],
            "address": "10 Downing St"
        });
        let masked = masked_json(&order, MaskPolicy::Mask);
        assert_eq!(
            masked,
            json!({
                "id": "ORD-1",
                "customer": {"id": "c1", "email": "a***@e***.com", "firstName": "A***", "lastName": "L***"},
                "billingAddress": {"firstName": "A***", "lastName": "L***", "line1": "***",
                                   "line2": null, "city": "London", "postalCode": "N1***",
                                   "countryCode": "GB", "phone": "***58"},
                "lineItems": [{"sku": "SKU-1", "name": "Widget", "quantity": 2}],
                "contacts": [{"email": "x***@y***.org"}, {"phone": "***00"}],
                "address": "***"
            })
        );
        // Keep leaves everything as is.
        assert_eq!(masked_json(&order, MaskPolicy::Keep), order);
        // No PII value survives anywhere in the masked text.
        let text = masked.to_string();
        for pii in [
            "Ada",
            "Lovelace",
            "ada@example.com",
            "Analytical",
            "7946",
            "Downing",
        ] {
            assert!(!text.contains(pii), "{pii} leaked: {text}");
        }
    }

    #[test]
    fn free_text() {
        let t = "refund for ada@example.com (call +1 (415) 555-0100 or 020 7946 0958), order 1234, total 107.99.";
        let m = mask_text(t, MaskPolicy::Mask);
        assert_eq!(
            m,
            "refund for a***@e***.com (call ***00 or ***58), order 1234, total 107.99."
        );
        assert_eq!(mask_text(t, MaskPolicy::Keep), t);
        // Identifiers and dates are not phones.
        let ids = "order ORD-1001234567 at 2024-06-01T12:00:00Z ref abc1234567";
        assert_eq!(mask_text(ids, MaskPolicy::Mask), ids);
        // Unicode around the matches is preserved.
        assert_eq!(
            mask_text("Zoë <zoë@exämple.de>: 0151 2345678", MaskPolicy::Mask),
            "Zoë <z***@e***.de>: ***78"
        );
    }

    #[test]
    fn pii_fields_debug_as_their_mask_and_serialise_as_the_value() {
        #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
        struct Person {
            name: Pii<Name>,
            email: Pii<Email>,
            phone: Option<Pii<Phone>>,
            line1: Pii<AddressLine>,
            postal: Pii<PostalCode>,
            token: Pii<Token>,
        }
        let p = Person {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: Some("+44 20 7946 0958".into()),
            line1: "1 Analytical Way".into(),
            postal: "94107".into(),
            token: "eyJhbGciOi.x.y".into(),
        };
        let dbg = format!("{p:?}");
        for shown in [
            "\"A***\"",
            "\"a***@e***.com\"",
            "Some(\"***58\")",
            "\"***\"",
            "\"94***\"",
            "[REDACTED]",
        ] {
            assert!(dbg.contains(shown), "{shown} not in {dbg}");
        }
        for hidden in ["Ada", "ada@", "7946", "Analytical", "94107", "eyJ"] {
            assert!(!dbg.contains(hidden), "{hidden} in {dbg}");
        }
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["email"], "ada@example.com");
        assert_eq!(v["phone"], "+44 20 7946 0958");
        let back: Person = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.name, "Ada");
        assert_eq!(p.email.as_str(), "ada@example.com");
    }
}
