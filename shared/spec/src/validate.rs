//! Whole-spec validation: every problem at once, each naming its file, line and path. A version
//! is stored and activated only when this finds nothing.

use serde_json::Value;

use crate::catalog::{self, Form};
use crate::compiled::{compile_error, prelude, Spec};
use crate::document::{Sources, SpecDocument};
use crate::lang;
use crate::problems::{Problem, Problems};
use crate::shape::Shape;

/// The longest customer-facing reason text.
pub const MAX_REASON_CHARS: usize = 200;

/// Words a customer-facing reason may not contain: a buyer is never told they were screened,
/// nor which route, processor or rule decided.
pub const REASON_WORDS: &[&str] = &[
    "fraud",
    "decision manager",
    "route",
    "risk",
    "screen",
    "merchant",
    "cybersource",
    "reject",
    "chargeback",
];

struct V<'a> {
    sources: &'a Sources,
    problems: Problems,
}

impl V<'_> {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        let keys: Vec<String> = join_names(&path.split('.').collect::<Vec<_>>());
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let located = self.sources.locate(&refs);
        let (file, line) = located.unwrap_or_else(|| ("spec".into(), 0));
        self.problems.push(Problem::at(file, line, path, message));
    }

    fn expression(&mut self, path: &str, code: &str, input: &Shape, lookups: &[&String]) {
        match lang::parse(code) {
            Err(e) => self.add(path, e),
            Ok(term) => {
                for p in lang::check(&term, input) {
                    self.add(path, p);
                }
            }
        }
        for name in lookup_names(code) {
            if !lookups.iter().any(|l| l.as_str() == name) {
                self.add(
                    path,
                    format!("lookup table {name:?} is not defined in `lookups`"),
                );
            }
        }
    }
}

/// `["mappings", "erp", "customer", "fields", "email"]` → `["mappings", "erp.customer", ...]`.
fn join_names(keys: &[&str]) -> Vec<String> {
    if keys.len() >= 3 && keys[0] == "mappings" {
        let mut out = vec![keys[0].to_string(), format!("{}.{}", keys[1], keys[2])];
        out.extend(keys[3..].iter().map(|k| k.to_string()));
        out
    } else {
        keys.iter().map(|k| k.to_string()).collect()
    }
}

/// The literal table names of `lookup("name"; …)` and `lookup_table("name")` calls.
fn lookup_names(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["lookup(\"", "lookup_table(\""] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validate `doc`; `samples` are extra inputs per mapping name (recorded events) that every
/// mapping must handle besides its built-in sample.
pub fn validate(doc: &SpecDocument, sources: &Sources, samples: &[(String, Value)]) -> Problems {
    let mut v = V {
        sources,
        problems: Problems::default(),
    };
    if doc.version.trim().is_empty() {
        v.add("version", "must not be empty");
    }
    let lookups: Vec<&String> = doc.lookups.keys().collect();

    // Functions: each may call only the ones before it (no recursion, direct or mutual).
    for (i, f) in doc.functions.iter().enumerate() {
        let path = format!("functions.{}", f.name);
        if !is_ident(&f.name) {
            v.add(
                &path,
                "a function name is lower case letters, digits and '_'",
            );
        }
        if doc.functions[..i].iter().any(|g| g.name == f.name) {
            v.add(&path, "is defined twice");
        }
        v.expression(&path, &f.body, &Shape::Any, &lookups);
        for later in &doc.functions[i..] {
            if calls(&f.body, &later.name) {
                v.add(
                    &path,
                    format!(
                        "calls `{}`, which is {}: recursion is not allowed",
                        later.name,
                        if later.name == f.name {
                            "itself"
                        } else {
                            "defined after it"
                        }
                    ),
                );
            }
        }
    }

    for (name, l) in &doc.lookups {
        let path = format!("lookups.{name}");
        match (&l.default, l.unmapped.as_deref()) {
            (Some(_), None) | (None, Some("error")) => {}
            (Some(_), Some(_)) => v.add(&path, "has both `default` and `unmapped`: choose one"),
            (None, Some(other)) => v.add(
                &path,
                format!("unmapped: {other:?}: the only choice is `error` (or give a `default`)"),
            ),
            (None, None) => v.add(
                &path,
                "says neither `default: <value>` nor `unmapped: error`",
            ),
        }
    }
    if let Some(r) = &doc.rates {
        rates(&mut v, r);
    }
    for (name, keys) in catalog::LOOKUPS {
        let path = format!("lookups.{name}");
        match doc.lookups.get(*name) {
            None => v.add(&path, "is missing: the code reads it"),
            Some(l) => {
                for k in *keys {
                    if !l.rows.contains_key(*k) {
                        v.add(
                            &format!("{path}.rows.{k}"),
                            "is missing: the code needs this row",
                        );
                    }
                }
            }
        }
    }
    for (table, keys, values) in catalog::LOOKUP_VALUES {
        let Some(l) = doc.lookups.get(*table) else {
            continue;
        };
        let none = String::new();
        for (k, val) in l.rows.iter().chain(l.default.as_ref().map(|d| (&none, d))) {
            let path = if k.is_empty() {
                format!("lookups.{table}.default")
            } else {
                format!("lookups.{table}.rows.{k}")
            };
            if !k.is_empty() && !keys.is_empty() && !keys.contains(&k.as_str()) {
                v.add(&path, format!("is not one of: {}", keys.join(", ")));
            }
            let ok = val.is_null() || val.as_str().is_some_and(|s| values.contains(&s));
            // The inbound status table may name `other` (never charged).
            let ok = ok || (*table == "clarity_status" && val.as_str() == Some("other"));
            if !ok {
                v.add(
                    &path,
                    format!("{val}: must be null or one of: {}", values.join(", ")),
                );
            }
        }
    }
    if let Some(reasons) = doc.lookups.get("customer_reasons") {
        for (code, text) in &reasons.rows {
            let path = format!("lookups.customer_reasons.rows.{code}");
            match text.as_str() {
                None => v.add(&path, "must be a text"),
                Some(t) if t.trim().is_empty() => v.add(&path, "must not be empty"),
                Some(t) if t.chars().any(|c| c.is_ascii_digit()) => v.add(
                    &path,
                    "a shopper may read this: no digits (no ids, amounts or reason codes)",
                ),
                Some(t) if REASON_WORDS.iter().any(|w| t.to_lowercase().contains(w)) => v.add(
                    &path,
                    format!(
                        "a shopper may read this: it must not speak of how we know (no {})",
                        REASON_WORDS.join(", ")
                    ),
                ),
                Some(t) if t.chars().count() > MAX_REASON_CHARS => {
                    v.add(&path, format!("is over {MAX_REASON_CHARS} characters"))
                }
                Some(_) => {}
            }
        }
    }

    for (name, m) in &doc.mappings {
        let path = format!("mappings.{name}");
        let Some(info) = catalog::mapping(name) else {
            let known: Vec<&str> = catalog::MAPPINGS.iter().map(|m| m.name).collect();
            v.add(
                &path,
                format!("unknown mapping (the code calls: {})", known.join(", ")),
            );
            continue;
        };
        let shape = match info.form {
            Form::Document => Shape::Any,
            Form::Fields => Shape::of(&(info.sample)()),
        };
        match (info.form, &m.fields, &m.expr) {
            (Form::Fields, Some(fields), None) => {
                for (field, code) in fields {
                    let fpath = format!("{path}.fields.{field}");
                    if !info.targets.knows(field) {
                        v.add(
                            &fpath,
                            format!(
                                "unknown target field (known: {}; custom fields are allowed by their prefix or suffix)",
                                info.targets.known().join(", ")
                            ),
                        );
                    }
                    v.expression(&fpath, code, &shape, &lookups);
                }
            }
            (Form::Document, None, Some(code)) => {
                v.expression(&format!("{path}.expr"), code, &shape, &lookups)
            }
            (Form::Fields, _, _) => v.add(
                &path,
                "needs `fields:` (target field ← expression) and no `expr`",
            ),
            (Form::Document, _, _) => {
                v.add(&path, "needs `expr:` (one expression) and no `fields`")
            }
        }
    }
    for info in catalog::MAPPINGS {
        if !doc.mappings.contains_key(info.name) {
            v.add(
                &format!("mappings.{}", info.name),
                format!("is missing: the code calls it ({})", info.what),
            );
        }
    }

    for (name, r) in &doc.rules {
        let path = format!("rules.{name}");
        let Some(info) = catalog::rule(name) else {
            let known: Vec<&str> = catalog::RULES.iter().map(|r| r.name).collect();
            v.add(
                &path,
                format!("unknown rule (the code asks: {})", known.join(", ")),
            );
            continue;
        };
        let policies = info.policies.join(", ");
        if !info.policies.contains(&r.default.as_str()) {
            v.add(
                &format!("{path}.default"),
                format!("unknown policy {:?} (one of: {policies})", r.default),
            );
        }
        let shape = Shape::of(&(info.sample)());
        for (i, c) in r.when.iter().enumerate() {
            let cpath = format!("{path}.when.{i}");
            if !info.policies.contains(&c.then.as_str()) {
                v.add(
                    &format!("{cpath}.then"),
                    format!("unknown policy {:?} (one of: {policies})", c.then),
                );
            }
            v.expression(&format!("{cpath}.if"), &c.condition, &shape, &lookups);
        }
    }
    for info in catalog::RULES {
        if !doc.rules.contains_key(info.name) {
            v.add(
                &format!("rules.{}", info.name),
                format!("is missing: the code asks it ({})", info.what),
            );
        }
    }

    if !v.problems.is_empty() {
        return v.problems;
    }
    // Compile the whole; on failure say which expression the compiler stumbles on.
    let spec = match Spec::compile(doc.clone(), "validating") {
        Ok(s) => s,
        Err(whole) => {
            let pre = prelude(doc);
            let mut found = false;
            for (name, m) in &doc.mappings {
                for (field, code) in m.fields.iter().flatten() {
                    if let Some(e) = compile_error(&pre, code) {
                        v.add(&format!("mappings.{name}.fields.{field}"), e);
                        found = true;
                    }
                }
                if let Some(code) = &m.expr {
                    if let Some(e) = compile_error(&pre, code) {
                        v.add(&format!("mappings.{name}.expr"), e);
                        found = true;
                    }
                }
            }
            for (name, r) in &doc.rules {
                for (i, c) in r.when.iter().enumerate() {
                    if let Some(e) = compile_error(&pre, &c.condition) {
                        v.add(&format!("rules.{name}.when.{i}.if"), e);
                        found = true;
                    }
                }
            }
            if !found {
                v.add("functions", whole);
            }
            return v.problems;
        }
    };
    // Run every mapping and rule on its sample and on the given ones.
    for info in catalog::MAPPINGS {
        let mut inputs = vec![("built-in sample".to_string(), (info.sample)())];
        inputs.extend(
            samples
                .iter()
                .filter(|(n, _)| n == info.name)
                .map(|(_, s)| ("sample event".to_string(), s.clone())),
        );
        for (what, input) in inputs {
            let r = match info.form {
                Form::Fields => spec.map_fields(info.name, &input).map(|_| ()),
                Form::Document => spec.map_document(info.name, &input).map(|out| {
                    if let catalog::Targets::Parts(parts) = info.targets {
                        if let Some(m) = parts_problem(&out, parts) {
                            v.add(&format!("mappings.{}.expr", info.name), m);
                        }
                    }
                }),
            };
            if let Err(e) = r {
                let path = match &e.field {
                    Some(f) => format!("mappings.{}.fields.{f}", info.name),
                    None => format!("mappings.{}", info.name),
                };
                v.add(&path, format!("fails on the {what}: {}", e.message));
            }
        }
    }
    for info in catalog::RULES {
        if let Err(e) = spec.decide(info.name, &(info.sample)()) {
            v.add(
                &format!("rules.{}", info.name),
                format!("fails on the built-in sample: {}", e.message),
            );
        }
    }
    v.problems
}

/// What a function checks of a stored version at start, besides compiling it (cheap: no
/// expression is parsed or run): every mapping, rule, lookup and row the code needs is there,
/// and every policy is one the code offers.
pub fn structure(doc: &SpecDocument) -> Problems {
    let mut p = Problems::default();
    let mut add = |path: String, m: String| p.push(Problem::at("spec", 0, &path, m));
    for info in catalog::MAPPINGS {
        match doc.mappings.get(info.name) {
            None => add(format!("mappings.{}", info.name), "is missing".into()),
            Some(m) if (info.form == Form::Fields) != m.fields.is_some() => add(
                format!("mappings.{}", info.name),
                "has the wrong form".into(),
            ),
            Some(_) => {}
        }
    }
    for info in catalog::RULES {
        let Some(r) = doc.rules.get(info.name) else {
            add(format!("rules.{}", info.name), "is missing".into());
            continue;
        };
        for policy in std::iter::once(&r.default).chain(r.when.iter().map(|c| &c.then)) {
            if !info.policies.contains(&policy.as_str()) {
                add(
                    format!("rules.{}", info.name),
                    format!("unknown policy {policy:?}"),
                );
            }
        }
    }
    for (name, keys) in catalog::LOOKUPS {
        for k in *keys {
            if !doc
                .lookups
                .get(*name)
                .is_some_and(|l| l.rows.contains_key(*k))
            {
                add(format!("lookups.{name}.rows.{k}"), "is missing".into());
            }
        }
    }
    p
}

/// Does `code` call the function `name` (a whole word not preceded by `.` or `$`)?
fn calls(code: &str, name: &str) -> bool {
    let bytes = code.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    code.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + name.len()).copied();
        !before.is_some_and(|b| is_word(b) || b == b'.' || b == b'$' || b == b'"')
            && !after.is_some_and(|b| is_word(b) || b == b'"')
    })
}

/// The rates table: a date, `FROM/TO` pairs of ISO 4217 codes, positive decimal rates.
fn rates(v: &mut V, r: &crate::document::Rates) {
    let ymd = time::macros::format_description!("[year]-[month]-[day]");
    let is_date = time::Date::parse(&r.as_of, &ymd).is_ok();
    if !is_date {
        v.add("rates.as_of", format!("{:?}: a date, YYYY-MM-DD", r.as_of));
    }
    for (pair, rate) in &r.pairs {
        let path = format!("rates.pairs.{pair}");
        let codes: Vec<&str> = pair.split('/').collect();
        match codes.as_slice() {
            [from, to] if from != to => {
                for c in [from, to] {
                    if c.parse::<o2c_domain::money::Currency>().is_err() {
                        v.add(&path, format!("{c:?} is not an ISO 4217 currency code"));
                    }
                }
            }
            _ => v.add(&path, "a pair is FROM/TO, two different currency codes"),
        }
        let plain = rate.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match rate.parse::<rust_decimal::Decimal>() {
            Ok(d) if plain && d > rust_decimal::Decimal::ZERO => {}
            _ => v.add(
                &path,
                format!("{rate:?}: a rate is a positive decimal string"),
            ),
        }
    }
}

/// A document mapping limited to `parts`: its result must be an object of those keys only.
fn parts_problem(out: &Value, parts: &[&str]) -> Option<String> {
    let Value::Object(m) = out else {
        return Some(format!(
            "gives {out}; it must give an object ({{}} adds nothing)"
        ));
    };
    m.keys().find(|k| !parts.contains(&k.as_str())).map(|k| {
        format!(
            "gives {k:?}, which the code sets or does not send (only {})",
            parts.join(", ")
        )
    })
}
