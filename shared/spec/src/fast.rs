//! Field expressions simple enough to evaluate without the interpreter: a literal (`true`,
//! `"New"`, `42`, `null`) or a plain path (`.order.customer.email`), optionally `| values`.
//! Most fields of a mapping are one of these; reading them straight from the JSON context
//! gives exactly what jq gives and saves building jq's input for them. Anything else (and a
//! path that meets a value it cannot index) goes to the compiled program.

use serde_json::Value;

/// A field expression evaluated in Rust.
#[derive(Debug, Clone, PartialEq)]
pub enum Fast {
    Const(Value),
    /// `.a.b.c`; `values_only` when it ends in `| values` (null gives no value).
    Path {
        keys: Vec<String>,
        values_only: bool,
    },
}

fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl Fast {
    /// The fast form of `expr`, when it has one.
    pub fn parse(expr: &str) -> Option<Fast> {
        let expr = expr.trim();
        let (body, values_only) = match expr.rsplit_once('|') {
            Some((b, v)) if v.trim() == "values" => (b.trim(), true),
            Some(_) => return None,
            None => (expr, false),
        };
        if let Some(path) = body.strip_prefix('.') {
            let keys: Vec<String> = path.split('.').map(str::to_owned).collect();
            return keys
                .iter()
                .all(|k| is_ident(k))
                .then_some(Fast::Path { keys, values_only });
        }
        if values_only {
            return None;
        }
        let literal = match body {
            "true" | "false" | "null" => true,
            // A string without escapes reads the same in jq and JSON; an integer too.
            s if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') => {
                !s[1..s.len() - 1].contains(['"', '\\'])
            }
            s => !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()),
        };
        if !literal {
            return None;
        }
        serde_json::from_str(body).ok().map(Fast::Const)
    }

    /// The field's value: `Some(None)` when it gives none, `None` when jq would raise an
    /// error (indexing a string or number): the caller runs the program for the message.
    pub fn eval(&self, ctx: &Value) -> Option<Option<Value>> {
        match self {
            Fast::Const(v) => Some(Some(v.clone())),
            Fast::Path { keys, values_only } => {
                let mut cur = ctx;
                for k in keys {
                    cur = match cur {
                        Value::Null => &Value::Null,
                        Value::Object(m) => m.get(k).unwrap_or(&Value::Null),
                        _ => return None,
                    };
                }
                Some((!(cur.is_null() && *values_only)).then(|| cur.clone()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_is_fast_and_what_it_gives() {
        let ctx = json!({"order": {"id": "O-1", "phone": null, "n": 3, "name": "x"}});
        let path = |e: &str| Fast::parse(e).and_then(|f| f.eval(&ctx));
        assert_eq!(path(".order.id"), Some(Some(json!("O-1"))));
        assert_eq!(path(".order.phone | values"), Some(None));
        assert_eq!(path(".order.phone"), Some(Some(Value::Null)));
        assert_eq!(path(".order.missing.deeper"), Some(Some(Value::Null)));
        assert_eq!(path(".order.name.first"), None, "jq: cannot index a string");
        assert_eq!(path("\"New\""), Some(Some(json!("New"))));
        assert_eq!(path("true"), Some(Some(json!(true))));
        assert_eq!(path("42"), Some(Some(json!(42))));
        for slow in [
            ".order.id // \"\"",
            "\"a \\(.x)\"",
            "\"a\\nb\"",
            ".order[0]",
            ".order.id | ascii_downcase",
            "1.5",
            "-1",
            ".",
            "..",
            ".order.\"id\"",
            "true | values",
        ] {
            assert_eq!(Fast::parse(slow), None, "{slow}");
        }
    }
}
