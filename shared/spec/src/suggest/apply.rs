//! The assistant's proposal as a spec change: a `clarity.order` expression that moves each
//! field the assistant found (confidence ≥ 0.5) to where the Clarity order the intake reads
//! has it, with the conversion its values need, then runs the current expression (the status
//! lookup). A field the source lacks keeps the contract's own value (`// .totals.grandTotal`),
//! so the one mapping reads both shapes while a merchant moves over. The result is written for review (`o2c spec suggest --apply DIR`); it is never
//! pushed or activated by the assistant.

use super::leaves;
use super::Suggestion;
use serde_json::Value;

/// Where each canonical field lives in the Clarity order (CLARITY_ASSUMED.md §4.4).
const CONTRACT: &[(&str, &str)] = &[
    ("id", "id"),
    ("customer.id", "customer.id"),
    ("customer.email", "customer.email"),
    ("customer.first_name", "customer.firstName"),
    ("customer.last_name", "customer.lastName"),
    ("customer.phone", "customer.phone"),
    ("bill_to.first_name", "billingAddress.firstName"),
    ("bill_to.last_name", "billingAddress.lastName"),
    ("bill_to.line1", "billingAddress.line1"),
    ("bill_to.line2", "billingAddress.line2"),
    ("bill_to.city", "billingAddress.city"),
    ("bill_to.region", "billingAddress.region"),
    ("bill_to.postal_code", "billingAddress.postalCode"),
    ("bill_to.country", "billingAddress.countryCode"),
    ("bill_to.phone", "billingAddress.phone"),
    ("ship_to.first_name", "shippingAddress.firstName"),
    ("ship_to.last_name", "shippingAddress.lastName"),
    ("ship_to.line1", "shippingAddress.line1"),
    ("ship_to.line2", "shippingAddress.line2"),
    ("ship_to.city", "shippingAddress.city"),
    ("ship_to.region", "shippingAddress.region"),
    ("ship_to.postal_code", "shippingAddress.postalCode"),
    ("ship_to.country", "shippingAddress.countryCode"),
    ("lines[].sku", "sku"),
    ("lines[].name", "name"),
    ("lines[].quantity", "quantity"),
    ("lines[].unit_price", "unitPrice"),
    ("lines[].tax", "taxTotal"),
    ("lines[].discount", "discountTotal"),
    ("shipping", "totals.shippingTotal"),
    ("total", "totals.grandTotal"),
    ("currency", "currency"),
    ("created_at", "createdAt"),
];

/// The canonical field a path of the contract's order names (`order.billingAddress.city` →
/// `bill_to.city`, `order.lineItems[2].sku` → `lines[].sku`), as mapping errors give it.
pub fn target_of_contract_path(path: &str) -> Option<&'static str> {
    let p = path.strip_prefix("order.").unwrap_or(path);
    let (lines, p) = match p.strip_prefix("lineItems[") {
        Some(rest) => (true, rest.split_once("].").map_or("", |(_, f)| f)),
        None => (false, p),
    };
    CONTRACT
        .iter()
        .find(|(target, place)| *place == p && target.starts_with("lines[]") == lines)
        .map(|(target, _)| *target)
}

/// A path of the sample as jq (`billing.zip` → `.billing.zip`, `name.en-CA` → `.name."en-CA"`).
fn jq_path(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| {
            let (name, rest) = match s.find('[') {
                Some(i) => (&s[..i], &s[i..]),
                None => (s.as_str(), ""),
            };
            let plain = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain {
                format!(".{name}{rest}")
            } else {
                format!(".{}{rest}", serde_json::to_string(name).unwrap_or_default())
            }
        })
        .collect()
}

/// What the change does, for the reviewer.
#[derive(Debug, Clone, Default)]
pub struct Proposal {
    /// The new `clarity.order` expression.
    pub expr: String,
    /// `target ← source` for every field moved.
    pub moved: Vec<String>,
    /// Targets with no confident source, or one the expression cannot take (a nested list).
    pub missing: Vec<String>,
}

/// The `clarity.order` expression for a source shaped like `sample`, on top of `current`.
pub fn clarity_order(sample: &Value, suggestions: &[Suggestion], current: &str) -> Proposal {
    let leaves = leaves::leaves(sample);
    let mut p = Proposal::default();
    let mut steps: Vec<String> = Vec::new();
    let mut line_fields: Vec<(String, String)> = Vec::new();
    let mut line_list: Option<String> = None;
    let chosen = |target: &str| {
        suggestions
            .iter()
            .find(|s| s.target == target)
            .and_then(|s| s.candidates.first())
            .filter(|c| c.confidence >= 0.5)
            .and_then(|c| leaves.iter().find(|l| l.path == c.source))
    };
    let currency = chosen("currency").map_or(".currency".to_string(), |l| {
        let path = jq_path(&l.segments);
        if l.path.contains("[]") {
            format!("first({path})")
        } else {
            path
        }
    });
    for (target, contract) in CONTRACT {
        let Some(leaf) = chosen(target) else {
            p.missing.push((*target).to_string());
            continue;
        };
        let conv = super::conversion_for(target, leaf).jq;
        if target.starts_with("lines[].") {
            // Relative to the list element: `items[].price` → `.price` on each item.
            let Some(i) = leaf.path.find("[]") else {
                p.missing.push((*target).to_string());
                continue;
            };
            let list = leaf.path[..i + 2].to_string();
            let rel: Vec<String> = leaf.path[i + 3..].split('.').map(str::to_owned).collect();
            if rel.iter().any(|s| s.ends_with("[]"))
                || line_list.as_ref().is_some_and(|l| *l != list)
            {
                p.missing.push(format!(
                    "{target} (from {}: not one value per line)",
                    leaf.path
                ));
                continue;
            }
            line_list = Some(list);
            if rel.len() == 1 && rel[0] == *contract {
                continue; // already where the contract has it
            }
            // The contract's own field when this source lacks it (one mapping reads both).
            line_fields.push((
                contract.to_string(),
                format!("(({} // .{contract}){conv})", jq_path(&rel)),
            ));
            p.moved.push(format!("{target} ← {}", leaf.path));
            continue;
        }
        if leaf.path == *contract {
            continue; // already where the contract has it
        }
        let path = jq_path(&leaf.segments);
        let value = if leaf.path.contains("[]") {
            format!("((first({path}) // .{contract}){conv})")
        } else {
            format!("(({path} // .{contract}){conv})")
        };
        // jaq does not create a missing object on assignment: merge into it instead.
        steps.push(match contract.split_once('.') {
            Some((obj, field)) => format!(".{obj} = ((.{obj} // {{}}) + {{{field}: {value}}})"),
            None => format!(".{contract} = {value}"),
        });
        p.moved.push(format!("{target} ← {}", leaf.path));
    }
    if let Some(list) = line_list {
        let segs: Vec<String> = list.split('.').map(str::to_owned).collect();
        let fields: Vec<String> = line_fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        steps.push(format!(
            ".lineItems = [{} | . + {{{}}}]",
            jq_path(&segs),
            fields.join(", ")
        ));
    }
    let mut expr = format!("({currency}) as $__cur");
    for s in steps {
        expr.push_str("\n| ");
        expr.push_str(&s);
    }
    expr.push_str("\n| ");
    expr.push_str(current.trim());
    p.expr = expr;
    p
}
