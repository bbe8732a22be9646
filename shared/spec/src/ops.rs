//! What `o2c spec push | promote | rollback | history | diff` do, over any [`SpecStore`]; the
//! console calls the same functions.

use serde_json::Value;
use std::collections::BTreeMap;

use crate::document::{Sources, SpecDocument};
use crate::store::{AuditEntry, SpecStore, StoreError, StoredVersion};
use crate::{validate, Problems, Spec};

/// Who does it and when (RFC 3339).
#[derive(Debug, Clone)]
pub struct Actor {
    pub by: String,
    pub at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("the spec is not valid; nothing was stored:\n{0}")]
    Invalid(Problems),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The active version already is this document: nothing stored, nothing moved.
    Unchanged { version: String },
    /// Stored as `version` and activated (it was `previous`).
    Activated {
        version: String,
        previous: Option<String>,
    },
}

fn hash_of(doc: &SpecDocument) -> Result<String, OpError> {
    Spec::compile(doc.clone(), "hash")
        .map(|s| s.hash)
        .map_err(|e| OpError::Refused(format!("the spec does not compile: {e}")))
}

/// Validate, store as a new version and activate. A document equal to the active one changes
/// nothing (running push twice is harmless).
pub async fn push(
    store: &dyn SpecStore,
    doc: &SpecDocument,
    sources: &Sources,
    actor: &Actor,
    note: &str,
) -> Result<Pushed, OpError> {
    let problems = validate(doc, sources, &[]);
    if !problems.is_empty() {
        return Err(OpError::Invalid(problems));
    }
    let hash = hash_of(doc)?;
    let active = store.active().await?;
    if let Some(a) = &active {
        if let Some(v) = store.version(&a.version).await? {
            if v.hash == hash {
                return Ok(Pushed::Unchanged { version: v.id });
            }
        }
    }
    let json = serde_json::to_string(doc).map_err(|e| OpError::Refused(e.to_string()))?;
    let stored = store
        .put_version(&json, &hash, &doc.version, &actor.by, &actor.at)
        .await?;
    store
        .audit(&AuditEntry {
            at: actor.at.clone(),
            by: actor.by.clone(),
            action: "push".into(),
            version: stored.id.clone(),
            from: None,
            note: format!("label {}; {note}", doc.version),
        })
        .await?;
    let previous = active.map(|a| a.version);
    activate(
        store,
        &stored.id,
        previous.as_deref(),
        actor,
        "activate",
        note,
    )
    .await?;
    Ok(Pushed::Activated {
        version: stored.id,
        previous,
    })
}

async fn activate(
    store: &dyn SpecStore,
    id: &str,
    expected: Option<&str>,
    actor: &Actor,
    action: &str,
    note: &str,
) -> Result<(), OpError> {
    store
        .activate(
            id,
            expected,
            &AuditEntry {
                at: actor.at.clone(),
                by: actor.by.clone(),
                action: action.into(),
                version: id.into(),
                from: expected.map(str::to_owned),
                note: note.into(),
            },
        )
        .await?;
    Ok(())
}

/// The active document of a stage.
pub async fn active_document(
    store: &dyn SpecStore,
) -> Result<Option<(StoredVersion, SpecDocument)>, OpError> {
    let Some(a) = store.active().await? else {
        return Ok(None);
    };
    let v = store
        .version(&a.version)
        .await?
        .ok_or_else(|| StoreError::NotFound(a.version.clone()))?;
    let doc = document_of(&v)?;
    Ok(Some((v, doc)))
}

pub fn document_of(v: &StoredVersion) -> Result<SpecDocument, OpError> {
    let value: Value = serde_json::from_str(&v.document)
        .map_err(|e| OpError::Refused(format!("version {} is not JSON: {e}", v.id)))?;
    crate::document::from_value(value, &Sources::default()).map_err(OpError::Invalid)
}

/// Push the active version of `from` into `to` (re-validated there), noting where it came from.
pub async fn promote(
    from: &dyn SpecStore,
    from_stage: &str,
    to: &dyn SpecStore,
    actor: &Actor,
) -> Result<Pushed, OpError> {
    let (v, doc) = active_document(from).await?.ok_or_else(|| {
        OpError::Refused(format!("stage {from_stage} has no active spec version"))
    })?;
    push(
        to,
        &doc,
        &Sources::default(),
        actor,
        &format!("promoted from {from_stage} {}", v.id),
    )
    .await
}

/// Activate `to`, or the version active before the current one. Orders already in flight keep
/// the version they pinned.
pub async fn rollback(
    store: &dyn SpecStore,
    to: Option<&str>,
    actor: &Actor,
) -> Result<String, OpError> {
    let current = store
        .active()
        .await?
        .ok_or_else(|| OpError::Refused("no active version to roll back from".into()))?
        .version;
    let target = match to {
        Some(t) => t.to_string(),
        None => store
            .history()
            .await?
            .iter()
            .rev()
            .find(|e| e.version == current && e.from.is_some() && e.action != "push")
            .and_then(|e| e.from.clone())
            .ok_or_else(|| {
                OpError::Refused(format!("{current} has no earlier version to roll back to"))
            })?,
    };
    if target == current {
        return Err(OpError::Refused(format!("{target} is already active")));
    }
    let v = store
        .version(&target)
        .await?
        .ok_or_else(|| StoreError::NotFound(target.clone()))?;
    // It was valid when pushed; check it still is before it serves.
    crate::from_json(&v.document, &v.id).map_err(OpError::Invalid)?;
    activate(
        store,
        &target,
        Some(&current),
        actor,
        "rollback",
        &format!("from {current}"),
    )
    .await?;
    Ok(target)
}

/// A semantic difference of two documents: one line per function, lookup row, mapping field
/// or rule that was added (`+`), removed (`-`) or changed (`~`).
pub fn diff(a: &SpecDocument, b: &SpecDocument) -> Vec<String> {
    let mut out = Vec::new();
    if a.version != b.version {
        out.push(format!("~ version: {:?} → {:?}", a.version, b.version));
    }
    let fa: BTreeMap<&str, &str> = a
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.body.as_str()))
        .collect();
    let fb: BTreeMap<&str, &str> = b
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.body.as_str()))
        .collect();
    compare(&mut out, "functions", &fa, &fb, |x| x.to_string());
    for name in keys(&a.lookups, &b.lookups) {
        let p = format!("lookups.{name}");
        match (a.lookups.get(&name), b.lookups.get(&name)) {
            (Some(x), Some(y)) => {
                compare(
                    &mut out,
                    &format!("{p}.rows"),
                    &x.rows,
                    &y.rows,
                    Value::to_string,
                );
                if x.default != y.default || x.unmapped != y.unmapped {
                    out.push(format!(
                        "~ {p}: unmapped {} → {}",
                        fallback(x.default.as_ref(), x.unmapped.as_deref()),
                        fallback(y.default.as_ref(), y.unmapped.as_deref())
                    ));
                }
            }
            (None, Some(_)) => out.push(format!("+ {p}")),
            (Some(_), None) => out.push(format!("- {p}")),
            (None, None) => {}
        }
    }
    for name in keys(&a.mappings, &b.mappings) {
        let p = format!("mappings.{name}");
        let (x, y) = (a.mappings.get(&name), b.mappings.get(&name));
        let empty = BTreeMap::new();
        let fx = x.and_then(|m| m.fields.as_ref()).unwrap_or(&empty);
        let fy = y.and_then(|m| m.fields.as_ref()).unwrap_or(&empty);
        compare(&mut out, &format!("{p}.fields"), fx, fy, |s| s.to_string());
        let ex = x.and_then(|m| m.expr.as_deref());
        let ey = y.and_then(|m| m.expr.as_deref());
        if ex != ey {
            out.push(format!(
                "~ {p}.expr: {} → {}",
                ex.unwrap_or("-"),
                ey.unwrap_or("-")
            ));
        }
    }
    for name in keys(&a.rules, &b.rules) {
        let p = format!("rules.{name}");
        let show = |r: Option<&crate::document::Rule>| {
            r.map(|r| {
                let cases: Vec<String> = r
                    .when
                    .iter()
                    .map(|c| format!("if {} then {}", c.condition, c.then))
                    .collect();
                format!(
                    "{}default {}",
                    cases.iter().map(|c| format!("{c}; ")).collect::<String>(),
                    r.default
                )
            })
            .unwrap_or_else(|| "-".into())
        };
        let (x, y) = (a.rules.get(&name), b.rules.get(&name));
        if x != y {
            out.push(format!("~ {p}: {} → {}", show(x), show(y)));
        }
    }
    out
}

fn fallback(default: Option<&Value>, unmapped: Option<&str>) -> String {
    match (default, unmapped) {
        (Some(d), _) => format!("default {d}"),
        (None, Some(u)) => u.to_string(),
        _ => "-".into(),
    }
}

fn keys<V>(a: &BTreeMap<String, V>, b: &BTreeMap<String, V>) -> Vec<String> {
    let mut k: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    k.sort();
    k.dedup();
    k
}

fn compare<K: Ord + std::fmt::Display, V: PartialEq>(
    out: &mut Vec<String>,
    prefix: &str,
    a: &BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
    show: impl Fn(&V) -> String,
) {
    for (k, x) in a {
        match b.get(k) {
            None => out.push(format!("- {prefix}.{k}: {}", show(x))),
            Some(y) if x != y => out.push(format!("~ {prefix}.{k}: {} → {}", show(x), show(y))),
            _ => {}
        }
    }
    for (k, y) in b {
        if !a.contains_key(k) {
            out.push(format!("+ {prefix}.{k}: {}", show(y)));
        }
    }
}
