//! The spec as written: YAML files in a directory (`config/` in the repository), merged into
//! one [`SpecDocument`]; stored and sent as JSON.
//!
//! | file | holds |
//! |---|---|
//! | `spec.yaml` | `version` (a label to bump with each change), `description`, `functions`, `rules` |
//! | `lookups.yaml` | `lookups`: named tables |
//! | `mappings.yaml` | `mappings`: per direction, target field ← expression |
//!
//! Any top-level key may live in any file; a key defined twice is an error. Every problem found
//! later names the file and line it comes from through [`Sources::locate`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
#[cfg(feature = "files")]
use std::path::Path;

use crate::problems::{Problem, Problems};

/// The whole spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecDocument {
    /// A label the author bumps with each change (`2026-12-07.1`); the store numbers versions.
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Named helpers, each usable by the ones after it and by every expression (no recursion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<Function>,
    #[serde(default)]
    pub lookups: BTreeMap<String, Lookup>,
    #[serde(default)]
    pub mappings: BTreeMap<String, Mapping>,
    #[serde(default)]
    pub rules: BTreeMap<String, Rule>,
    /// Exchange rates for `fx_rate` / `money_fx`; pinned with the version, so every conversion
    /// of an order uses the rates (and their date) recorded on its timeline at intake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
}

/// A rates table: `pairs` maps `FROM/TO` (ISO 4217 codes) to the decimal rate (`"0.9231"`:
/// 1 FROM = 0.9231 TO), as published on `as_of` by `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// The rates' date, `YYYY-MM-DD`.
    pub as_of: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub pairs: BTreeMap<String, String>,
}

impl Rates {
    /// The pairs converting from `currency`, as the timeline shows them (`USD/EUR 0.9231`).
    pub fn describe_from(&self, currency: &str) -> Option<String> {
        let pairs: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k.split('/').next() == Some(currency))
            .map(|(k, r)| format!("{k} {r}"))
            .collect();
        (!pairs.is_empty()).then(|| {
            let source = if self.source.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.source)
            };
            format!("rates as of {}{source}: {}", self.as_of, pairs.join(", "))
        })
    }
}

/// A key that is present gives `Some`, even when its value is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `def <name>: <body>;` in jq terms: a filter over its input, no parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub name: String,
    pub body: String,
}

/// A named table. Exactly one of `default` and `unmapped: error` says what a missing key gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub rows: BTreeMap<String, Value>,
    /// What a key with no row gives (may be `null`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub default: Option<Value>,
    /// `error`: a key with no row is a mapping error naming the table and the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmapped: Option<String>,
}

/// One direction: either a whole-document transform (`expr`) or target fields (`fields`, each
/// an expression; a field whose expression gives no value is left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// A policy decision: the first `when` whose `if` holds gives its `then`, else `default`. The
/// policies a rule may choose are the code's (`crate::catalog::RULES`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub default: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<RuleCase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCase {
    #[serde(rename = "if")]
    pub condition: String,
    pub then: String,
    /// Recorded on the order's timeline with the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The files a document came from, to point problems at a line.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<(String, String)>,
}

impl Sources {
    /// The file and 1-based line where the key path `path` (`mappings.erp.customer.fields.email`
    /// as a list of keys) is written: each key is searched below the previous one's line, at a
    /// deeper indent. Falls back to the deepest key found.
    pub fn locate(&self, keys: &[&str]) -> Option<(String, usize)> {
        let first = keys.first()?;
        for (file, text) in &self.files {
            let lines: Vec<&str> = text.lines().collect();
            let Some(mut at) = find_key(&lines, 0, None, first) else {
                continue;
            };
            for key in &keys[1..] {
                let indent = indent_of(lines[at]);
                match find_key(&lines, at + 1, Some(indent), key) {
                    Some(next) => at = next,
                    None => break,
                }
            }
            return Some((file.clone(), at + 1));
        }
        None
    }

    /// The files' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(f, _)| f.as_str())
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The first line at or after `from` that defines `key` (`key:` or `"key":`), deeper than
/// `parent_indent`; stops at the end of the parent's block.
fn find_key(lines: &[&str], from: usize, parent_indent: Option<usize>, key: &str) -> Option<usize> {
    for (i, line) in lines.iter().enumerate().skip(from) {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ind = indent_of(line);
        if let Some(p) = parent_indent {
            if ind <= p {
                return None;
            }
        } else if ind != 0 {
            continue;
        }
        let t = t.strip_prefix("- ").unwrap_or(t);
        let bare = t.strip_prefix(key).is_some_and(|r| r.starts_with(':'));
        let quoted = [format!("\"{key}\":"), format!("'{key}':")]
            .iter()
            .any(|q| t.starts_with(q.as_str()));
        let named = t.starts_with("name:") && t["name:".len()..].trim() == key;
        if bare || quoted || named {
            return Some(i);
        }
    }
    None
}

#[cfg(feature = "files")]
/// Read every `*.yaml`/`*.yml`/`*.json` file of `dir` (sorted by name) and merge them.
pub fn load_dir(dir: &Path) -> Result<(SpecDocument, Sources), Problems> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Problems::one(Problem::file(dir.display().to_string(), e.to_string())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // The published JSON Schema sits beside the spec; it is not part of it.
            !name.ends_with(".schema.json")
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    names.sort();
    let mut files = Vec::new();
    for p in names {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| Problems::one(Problem::file(p.display().to_string(), e.to_string())))?;
        files.push((p.display().to_string(), text));
    }
    parse_files(files)
}

#[cfg(feature = "files")]
/// Merge already-read files (name, text): what [`load_dir`] does after reading.
pub fn parse_files(files: Vec<(String, String)>) -> Result<(SpecDocument, Sources), Problems> {
    let sources = Sources { files };
    let mut merged = serde_json::Map::new();
    let mut problems = Problems::default();
    for (name, text) in &sources.files {
        let value: Value = match serde_yaml_ng::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let line = e.location().map(|l| l.line()).unwrap_or(0);
                problems.push(Problem::at(name, line, "", format!("not valid YAML: {e}")));
                continue;
            }
        };
        let Value::Object(map) = value else {
            problems.push(Problem::at(
                name,
                1,
                "",
                "must be a mapping of top-level keys",
            ));
            continue;
        };
        for (k, v) in map {
            if merged.contains_key(&k) {
                let line = sources.locate(&[&k]).map(|l| l.1).unwrap_or(1);
                problems.push(Problem::at(name, line, &k, "is defined in two files"));
            } else {
                merged.insert(k, v);
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let doc = from_value(Value::Object(merged), &sources)?;
    Ok((doc, sources))
}

/// A document from its JSON form (as stored), problems naming the JSON path.
pub fn from_value(value: Value, sources: &Sources) -> Result<SpecDocument, Problems> {
    serde_path_to_error::deserialize::<_, SpecDocument>(value).map_err(|e| {
        let path = e.path().to_string();
        let keys: Vec<&str> = path.split('.').filter(|k| !k.is_empty()).collect();
        let (file, line) = sources.locate(&keys).unwrap_or_else(|| ("spec".into(), 0));
        Problems::one(Problem::at(file, line, &path, e.inner().to_string()))
    })
}
