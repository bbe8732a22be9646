//! A spec compiled to one jq program, and its evaluation.
//!
//! The program is generated from the document: the lookups as one JSON literal with a
//! `lookup($table; $key)` over it, the spec's `functions` as `def`s in their order, then a
//! dispatch on the entry's number: a fields mapping gives one list per field (empty = leave the
//! field out), a document mapping its one result, a rule the index of the first case that
//! holds. One compile per version at cold start; each evaluation is one run.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::document::SpecDocument;
use crate::fast::Fast;

type D = data::JustLut<Val>;

/// The most a single mapping's result may weigh (serialised), a backstop against a
/// pathological expression.
pub const MAX_RESULT_BYTES: usize = 256 * 1024;

/// An evaluation that failed: which entry, which field, why. Mapping failures are classified
/// as validation failures by the callers (dead letter with its path, quarantine at intake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec {version}, {entry}{}: {message}", field.as_ref().map(|f| format!(".{f}")).unwrap_or_default())]
pub struct EvalError {
    pub version: String,
    pub entry: String,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Field names; the fast form of each field that has one; the program branch computing
    /// only the other fields (`None`: every field is fast).
    Fields {
        names: Vec<String>,
        fast: Vec<Option<Fast>>,
        slow: Option<usize>,
    },
    Document,
    Rule(Vec<(String, Option<String>)>, String),
}

/// A rule's decision: the policy and why (the case's reason, or `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub rule: String,
    pub policy: String,
    pub reason: String,
}

/// A compiled spec version.
pub struct Spec {
    pub document: SpecDocument,
    /// The store's version id (`v7`) or `bundled`.
    pub version: String,
    /// SHA-256 of the document's JSON: two versions with one hash behave the same.
    pub hash: String,
    filter: jaq_core::compile::Filter<jaq_core::Native<D>>,
    entries: BTreeMap<String, (usize, Kind)>,
    /// The lookup tables, `$__lookups` of every run.
    lookups: Val,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("version", &self.version)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// Entry names: `mappings.<name>` and `rules.<name>`.
pub fn mapping_entry(name: &str) -> String {
    format!("mappings.{name}")
}

/// The lookup tables as one value (`$__lookups` in the program): built once per version.
fn lookup_tables(doc: &SpecDocument) -> Value {
    let tables: Map<String, Value> = doc
        .lookups
        .iter()
        .map(|(k, l)| {
            let mut t = Map::new();
            t.insert(
                "rows".into(),
                serde_json::to_value(&l.rows).unwrap_or_default(),
            );
            t.insert("has_default".into(), Value::Bool(l.default.is_some()));
            t.insert("default".into(), l.default.clone().unwrap_or(Value::Null));
            (k.clone(), Value::Object(t))
        })
        .collect();
    let mut tables = tables;
    // The rates under a key no lookup name can take (names are identifiers).
    if let Some(r) = &doc.rates {
        tables.insert(
            RATES_KEY.into(),
            serde_json::to_value(&r.pairs).unwrap_or_default(),
        );
    }
    Value::Object(tables)
}

/// Where the rates live in `$__lookups`.
const RATES_KEY: &str = "$rates";

/// The global variable holding the lookup tables.
const LOOKUPS_VAR: &str = "$__lookups";

/// The jq source of the lookup functions and the spec's functions every expression sees.
pub fn prelude(doc: &SpecDocument) -> String {
    let mut p = String::new();
    p.push_str(concat!(
        "def lookup($t; $k): ($__lookups[$t] // error(\"no lookup table \\($t|tojson)\")) as $tab",
        " | ($k|tostring) as $key",
        " | if ($tab.rows | has($key)) then $tab.rows[$key]",
        " elif $tab.has_default then $tab.default",
        " else error(\"lookup \\($t): no row for \\($key|tojson)\") end;\n",
        "def lookup_table($t): ($__lookups[$t] // error(\"no lookup table \\($t|tojson)\")).rows;\n",
        "def fx_rate($from; $to): if $from == $to then \"1\"",
        " else ($__lookups[\"$rates\"][\"\\($from)/\\($to)\"]",
        " // error(\"no rate \\($from)/\\($to) in the spec's rates\")) end;\n",
        "def money_fx($from; $to): money_convert($to; fx_rate($from; $to));\n",
    ));
    for f in &doc.functions {
        let _ = writeln!(p, "def {}: {};", f.name, f.body);
    }
    p
}

/// Compile `code` (with the prelude) on its own: the compiler's complaint, if any.
pub fn compile_error(prelude: &str, code: &str) -> Option<String> {
    let program = format!("{prelude}{code}");
    compile_program(&program).err()
}

fn compile_program(
    program: &str,
) -> Result<jaq_core::compile::Filter<jaq_core::Native<D>>, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    // Natives that read the clock, the environment or input stay compiled in (the standard
    // library's own definitions use some); expressions cannot call them (`lang::check`).
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .chain(crate::natives::funs().map(jaq_core::native::run));
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: program,
                path: (),
            },
        )
        .map_err(|_| crate::lang::syntax_error(program))?;
    Compiler::default()
        .with_funs(funs)
        .with_global_vars([LOOKUPS_VAR])
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .into_iter()
                .flat_map(|(_, es)| es)
                .map(|(name, undefined)| format!("{} `{name}`", undefined.as_str()))
                .collect();
            format!("undefined {}", names.join(", "))
        })
}

impl Spec {
    /// Compile a document that [`crate::validate`] accepted. An error here is a bug in the
    /// checks or a document that skipped them; callers treat it as an invalid version.
    pub fn compile(document: SpecDocument, version: impl Into<String>) -> Result<Self, String> {
        let hash = {
            let json = serde_json::to_vec(&document).map_err(|e| e.to_string())?;
            let h = Sha256::digest(&json);
            h.iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let mut program = prelude(&document);
        program.push_str(".[0] as $__i | .[1] | ");
        let mut entries = BTreeMap::new();
        let mut n = 0usize;
        type Entries = BTreeMap<String, (usize, Kind)>;
        let branch = |(program, entries, n): (&mut String, &mut Entries, &mut usize),
                      name: String,
                      body: String,
                      kind: Kind| {
            let _ = write!(
                program,
                "{}if $__i == {n} then ({body}) ",
                if *n == 0 { "" } else { "el" }
            );
            entries.insert(name, (*n, kind));
            *n += 1;
        };
        for (name, m) in &document.mappings {
            if let Some(fields) = &m.fields {
                let list = |exprs: Vec<&String>| {
                    let body: Vec<String> = exprs.iter().map(|e| format!("[{e}]")).collect();
                    format!("[{}]", body.join(", "))
                };
                let fast: Vec<Option<Fast>> = fields.values().map(|e| Fast::parse(e)).collect();
                let slow_exprs: Vec<&String> = fields
                    .values()
                    .zip(&fast)
                    .filter(|(_, f)| f.is_none())
                    .map(|(e, _)| e)
                    .collect();
                let full = n;
                let names = fields.keys().cloned().collect();
                let slow = match slow_exprs.len() {
                    0 => None,
                    k if k == fields.len() => Some(full),
                    _ => Some(full + 1),
                };
                branch(
                    (&mut program, &mut entries, &mut n),
                    mapping_entry(name),
                    list(fields.values().collect()),
                    Kind::Fields { names, fast, slow },
                );
                if slow.is_some_and(|i| i != full) {
                    branch(
                        (&mut program, &mut entries, &mut n),
                        format!("{}#slow", mapping_entry(name)),
                        list(slow_exprs),
                        Kind::Document,
                    );
                }
            } else if let Some(e) = &m.expr {
                branch(
                    (&mut program, &mut entries, &mut n),
                    mapping_entry(name),
                    format!("[{e}]"),
                    Kind::Document,
                );
            }
        }
        for (name, r) in &document.rules {
            let mut body = String::new();
            for (i, c) in r.when.iter().enumerate() {
                let _ = write!(
                    body,
                    "{}if ({}) then {i} ",
                    if i == 0 { "" } else { "el" },
                    c.condition
                );
            }
            body = if r.when.is_empty() {
                "-1".into()
            } else {
                format!("{body}else -1 end")
            };
            let cases = r
                .when
                .iter()
                .map(|c| (c.then.clone(), c.reason.clone()))
                .collect();
            branch(
                (&mut program, &mut entries, &mut n),
                format!("rules.{name}"),
                body,
                Kind::Rule(cases, r.default.clone()),
            );
        }
        if n == 0 {
            program.push_str("error(\"empty spec\")");
        } else {
            program.push_str("else error(\"no such entry\") end");
        }
        let filter = compile_program(&program)?;
        let lookups = to_val(&lookup_tables(&document)).map_err(|e| format!("lookups: {e}"))?;
        Ok(Self {
            document,
            version: version.into(),
            hash,
            filter,
            entries,
            lookups,
        })
    }

    fn run(&self, entry: &str, index: usize, ctx: &Value) -> Result<Vec<Value>, EvalError> {
        let fail = |field: Option<String>, message: String| EvalError {
            version: self.version.clone(),
            entry: entry.to_owned(),
            field,
            message,
        };
        let input: Val = [
            Val::from(index as isize),
            to_val(ctx).map_err(|e| fail(None, format!("context: {e}")))?,
        ]
        .into_iter()
        .collect();
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([self.lookups.clone()]));
        let mut out = self.filter.id.run((ctx, input)).map(unwrap_valr);
        let first = match out.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(fail(None, error_text(&e))),
            None => return Err(fail(None, "gave no value".into())),
        };
        let mut budget = MAX_RESULT_BYTES;
        match from_val(&first, &mut budget) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(other) => Ok(vec![other]),
            Err(e) => Err(fail(None, e)),
        }
    }

    fn entry(&self, name: &str) -> Result<&(usize, Kind), EvalError> {
        self.entries.get(name).ok_or_else(|| EvalError {
            version: self.version.clone(),
            entry: name.to_owned(),
            field: None,
            message: "is not in this spec".into(),
        })
    }

    /// Does this spec define the mapping?
    pub fn has_mapping(&self, name: &str) -> bool {
        self.entries.contains_key(&mapping_entry(name))
    }

    /// A fields mapping: the target object (fields whose expression gave nothing are absent).
    pub fn map_fields(&self, name: &str, ctx: &Value) -> Result<Map<String, Value>, EvalError> {
        let entry = mapping_entry(name);
        let (index, kind) = self.entry(&entry)?;
        let Kind::Fields { names, fast, slow } = kind else {
            return Err(EvalError {
                version: self.version.clone(),
                entry,
                field: None,
                message: "is a document mapping, not fields".into(),
            });
        };
        let full_run = || match self.run(&entry, *index, ctx) {
            Ok(r) => Ok(r),
            // Rare: find the field that fails, for the message.
            Err(e) => Err(self.failing_field(&entry, names, ctx).unwrap_or(e)),
        };
        // Fast fields straight from the context, the others in one run of their branch; a
        // fast field jq would fail on sends the whole mapping through the program.
        let quick: Option<Vec<Option<Option<Value>>>> = fast
            .iter()
            .map(|f| match f {
                Some(f) => f.eval(ctx).map(Some),
                None => Some(None),
            })
            .collect();
        let results = match quick {
            None => full_run()?,
            Some(quick) => {
                let mut slow_results = match slow {
                    Some(i) if *i == *index => full_run()?,
                    Some(i) => match self.run(&entry, *i, ctx) {
                        Ok(r) => r,
                        Err(_) => full_run()?,
                    },
                    None => Vec::new(),
                }
                .into_iter();
                quick
                    .into_iter()
                    .map(|q| match q {
                        Some(v) => Value::Array(v.into_iter().collect()),
                        None => slow_results.next().unwrap_or(Value::Null),
                    })
                    .collect()
            }
        };
        let mut out = Map::new();
        for (field, values) in names.iter().zip(results) {
            let Value::Array(mut values) = values else {
                continue;
            };
            match values.len() {
                0 => {}
                1 => {
                    out.insert(field.clone(), values.remove(0));
                }
                n => {
                    return Err(EvalError {
                        version: self.version.clone(),
                        entry,
                        field: Some(field.clone()),
                        message: format!("gave {n} values; a field takes one"),
                    })
                }
            }
        }
        Ok(out)
    }

    /// The first field of a fields mapping that fails on its own, evaluated one by one.
    fn failing_field(&self, entry: &str, names: &[String], ctx: &Value) -> Option<EvalError> {
        let mapping = entry.strip_prefix("mappings.")?;
        let fields = self.document.mappings.get(mapping)?.fields.as_ref()?;
        let mut program = prelude(&self.document);
        program.push_str(".[0] as $__i | .[1] | ");
        for (i, name) in names.iter().enumerate() {
            let _ = write!(
                program,
                "{}if $__i == {i} then [{}] ",
                if i == 0 { "" } else { "el" },
                fields.get(name)?
            );
        }
        program.push_str("else null end");
        let filter = compile_program(&program).ok()?;
        let single = Spec {
            document: self.document.clone(),
            version: self.version.clone(),
            hash: self.hash.clone(),
            filter,
            entries: BTreeMap::new(),
            lookups: self.lookups.clone(),
        };
        names.iter().enumerate().find_map(|(i, name)| {
            single.run(entry, i, ctx).err().map(|mut e| {
                e.field = Some(name.clone());
                e
            })
        })
    }

    /// A document mapping: its one result.
    pub fn map_document(&self, name: &str, ctx: &Value) -> Result<Value, EvalError> {
        let entry = mapping_entry(name);
        let (index, _) = self.entry(&entry)?;
        let mut results = self.run(&entry, *index, ctx)?;
        match results.len() {
            1 => Ok(results.remove(0)),
            n => Err(EvalError {
                version: self.version.clone(),
                entry,
                field: None,
                message: format!("gave {n} values; a document mapping gives one"),
            }),
        }
    }

    /// A rule's decision for `ctx`.
    pub fn decide(&self, rule: &str, ctx: &Value) -> Result<Decision, EvalError> {
        let entry = format!("rules.{rule}");
        let (index, kind) = self.entry(&entry)?;
        let Kind::Rule(cases, default) = kind else {
            unreachable!("rules.* entries are rules")
        };
        // A rule without cases is its default: nothing to evaluate.
        let i = if cases.is_empty() {
            -1
        } else {
            let results = self.run(&entry, *index, ctx)?;
            results.first().and_then(Value::as_i64).unwrap_or(-1)
        };
        Ok(
            match usize::try_from(i)
                .ok()
                .and_then(|i| cases.get(i).map(|c| (i, c)))
            {
                Some((i, (policy, reason))) => Decision {
                    rule: rule.to_owned(),
                    policy: policy.clone(),
                    reason: reason.clone().unwrap_or_else(|| format!("case {}", i + 1)),
                },
                None => Decision {
                    rule: rule.to_owned(),
                    policy: default.clone(),
                    reason: "default".into(),
                },
            },
        )
    }

    /// A lookup table's value for `key` (as [`lookup`](crate) in an expression would give it).
    pub fn lookup(&self, table: &str, key: &str) -> Result<Value, EvalError> {
        let fail = |message: String| EvalError {
            version: self.version.clone(),
            entry: format!("lookups.{table}"),
            field: None,
            message,
        };
        let t = self
            .document
            .lookups
            .get(table)
            .ok_or_else(|| fail("is not in this spec".into()))?;
        if let Some(v) = t.rows.get(key) {
            return Ok(v.clone());
        }
        t.default
            .clone()
            .ok_or_else(|| fail(format!("no row for {key:?}")))
    }
}

/// A JSON value as jaq's, without going through text.
fn to_val(v: &Value) -> Result<Val, serde_json::Error> {
    use serde::Deserialize;
    Val::deserialize(v)
}

/// jaq's value as JSON, without going through text; `budget` bytes of strings and keys at
/// most (the backstop against a pathological result).
fn from_val(v: &Val, budget: &mut usize) -> Result<Value, String> {
    use jaq_json::Num;
    fn spend(budget: &mut usize, n: usize) -> Result<(), String> {
        *budget = budget
            .checked_sub(n + 1)
            .ok_or_else(|| format!("result is over the {MAX_RESULT_BYTES}-byte limit"))?;
        Ok(())
    }
    Ok(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(Num::Int(i)) => Value::from(*i as i64),
        Val::Num(Num::BigInt(b)) => b
            .to_string()
            .parse()
            .map(Value::Number)
            .map_err(|e| format!("{b}: {e}"))?,
        Val::Num(Num::Dec(d)) => d
            .parse()
            .map(Value::Number)
            .map_err(|e| format!("{d}: {e}"))?,
        Val::Num(Num::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Val::TStr(b) | Val::BStr(b) => {
            spend(budget, b.len())?;
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        Val::Arr(a) => Value::Array(
            a.iter()
                .map(|x| from_val(x, budget))
                .collect::<Result<_, _>>()?,
        ),
        Val::Obj(o) => {
            let mut m = Map::new();
            for (k, x) in o.iter() {
                let key = match k {
                    Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.to_string(),
                };
                spend(budget, key.len())?;
                m.insert(key, from_val(x, budget)?);
            }
            Value::Object(m)
        }
    })
}

fn error_text(e: &jaq_core::Error<Val>) -> String {
    // jaq renders `error("text")` as the JSON string; show the text itself.
    let s = e.to_string();
    let s = s.strip_prefix("error: ").unwrap_or(&s);
    serde_json::from_str::<String>(s).unwrap_or_else(|_| s.to_string())
}
