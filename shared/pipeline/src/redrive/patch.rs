//! RFC 6902 JSON Patch on RFC 6901 pointers, applied by the `json-patch` crate. [`PatchOp`] is
//! the wire form dlq-redrive accepts and reports: `add`, `remove`, `replace`, `move` and `test`
//! (no `copy`: a replay never needs to duplicate a value).

use json_patch::jsonptr::{Pointer, PointerBuf};
use json_patch::{
    AddOperation, MoveOperation, PatchOperation, RemoveOperation, ReplaceOperation, TestOperation,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One JSON Patch operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
    Move { from: String, path: String },
    Test { path: String, value: Value },
}

impl PatchOp {
    /// The operation's name (`add`, `remove`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            PatchOp::Add { .. } => "add",
            PatchOp::Remove { .. } => "remove",
            PatchOp::Replace { .. } => "replace",
            PatchOp::Move { .. } => "move",
            PatchOp::Test { .. } => "test",
        }
    }

    /// The `json-patch` operation (its pointers parsed).
    fn operation(&self) -> Result<PatchOperation, String> {
        let ptr = |p: &str| {
            PointerBuf::parse(p).map_err(|e| format!("{p:?} is not a JSON pointer ({e})"))
        };
        Ok(match self {
            PatchOp::Add { path, value } => PatchOperation::Add(AddOperation {
                path: ptr(path)?,
                value: value.clone(),
            }),
            PatchOp::Remove { path } => {
                PatchOperation::Remove(RemoveOperation { path: ptr(path)? })
            }
            PatchOp::Replace { path, value } => PatchOperation::Replace(ReplaceOperation {
                path: ptr(path)?,
                value: value.clone(),
            }),
            PatchOp::Move { from, path } => PatchOperation::Move(MoveOperation {
                from: ptr(from)?,
                path: ptr(path)?,
            }),
            PatchOp::Test { path, value } => PatchOperation::Test(TestOperation {
                path: ptr(path)?,
                value: value.clone(),
            }),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("patch operation {index} ({op}) failed: {detail}")]
pub struct PatchError {
    pub index: usize,
    pub op: &'static str,
    pub detail: String,
}

/// Apply a patch to a copy of `doc` (all or nothing).
pub fn apply_patch(doc: &Value, patch: &[PatchOp]) -> Result<Value, PatchError> {
    let error = |index: usize, detail: String| PatchError {
        index,
        op: patch[index].name(),
        detail,
    };
    let ops = patch
        .iter()
        .enumerate()
        .map(|(i, op)| op.operation().map_err(|detail| error(i, detail)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops)
        .map_err(|e| error(e.operation, format!("{}: {}", e.path, e.kind)))?;
    Ok(out)
}

/// RFC 6901 tokens of a pointer.
pub fn pointer_tokens(pointer: &str) -> Result<Vec<String>, String> {
    let p =
        Pointer::parse(pointer).map_err(|e| format!("{pointer:?} is not a JSON pointer ({e})"))?;
    Ok(p.tokens().map(|t| t.decoded().into_owned()).collect())
}

/// A pointer from tokens.
pub fn pointer_of(tokens: &[String]) -> String {
    PointerBuf::from_tokens(tokens).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op_replace(path: &str, value: Value) -> PatchOp {
        PatchOp::Replace {
            path: path.into(),
            value,
        }
    }

    #[test]
    fn patch_ops_follow_rfc_6902() {
        let doc = json!({"a": {"b": 1, "c/d": 2, "e~f": 3}, "list": [1, 2]});
        let out = apply_patch(
            &doc,
            &[
                PatchOp::Test {
                    path: "/a/b".into(),
                    value: json!(1),
                },
                op_replace("/a/b", json!("one")),
                PatchOp::Add {
                    path: "/list/-".into(),
                    value: json!(3),
                },
                PatchOp::Add {
                    path: "/list/0".into(),
                    value: json!(0),
                },
                PatchOp::Remove {
                    path: "/a/c~1d".into(),
                },
                PatchOp::Move {
                    from: "/a/e~0f".into(),
                    path: "/g".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": {"b": "one"}, "list": [0, 1, 2, 3], "g": 3})
        );
        assert_eq!(
            pointer_of(&pointer_tokens("/a~1b/c~0d").unwrap()),
            "/a~1b/c~0d"
        );
    }

    #[test]
    fn a_failing_patch_changes_nothing_and_names_the_operation() {
        let doc = json!({"type": "captur"});
        let err = apply_patch(
            &doc,
            &[
                op_replace("/type", json!("capture")),
                PatchOp::Test {
                    path: "/order_id".into(),
                    value: json!("x"),
                },
            ],
        )
        .unwrap_err();
        assert_eq!((err.index, err.op), (1, "test"));
        assert!(apply_patch(&doc, &[op_replace("/missing", json!(1))]).is_err());
        assert!(apply_patch(
            &doc,
            &[PatchOp::Remove {
                path: "/nope".into()
            }]
        )
        .is_err());
        assert!(apply_patch(&doc, &[op_replace("type", json!(1))]).is_err());
        let ops: Vec<PatchOp> =
            serde_json::from_value(json!([{"op": "replace", "path": "/type", "value": "capture"}]))
                .unwrap();
        assert_eq!(ops, vec![op_replace("/type", json!("capture"))]);
        assert!(serde_json::from_value::<Vec<PatchOp>>(
            json!([{"op": "copy", "from": "/a", "path": "/b"}])
        )
        .is_err());
    }
}
