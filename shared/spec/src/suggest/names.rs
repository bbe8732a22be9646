//! Field-name evidence: a path segment as normalised tokens (camel and snake case split,
//! abbreviations and synonyms folded), the block a leaf sits in (billing or shipping address,
//! customer, a list of order lines), and how well a leaf's name says a target's.

/// Abbreviations and synonyms, folded to one token each.
const FOLD: &[(&str, &str)] = &[
    ("qty", "quantity"),
    ("quantities", "quantity"),
    ("zip", "postal"),
    ("zipcode", "postal"),
    ("postcode", "postal"),
    ("postalcode", "postal"),
    ("tel", "phone"),
    ("telephone", "phone"),
    ("mobile", "phone"),
    ("phonenumber", "phone"),
    ("firstname", "first"),
    ("fname", "first"),
    ("given", "first"),
    ("forename", "first"),
    ("lastname", "last"),
    ("lname", "last"),
    ("surname", "last"),
    ("family", "last"),
    ("addr", "address"),
    ("province", "region"),
    ("state", "region"),
    ("county", "region"),
    ("administrative", "region"),
    ("locality", "city"),
    ("town", "city"),
    ("mail", "email"),
    ("bill", "billing"),
    ("invoice", "billing"),
    ("ship", "shipping"),
    ("delivery", "shipping"),
    ("cust", "customer"),
    ("buyer", "customer"),
    ("items", "item"),
    ("products", "item"),
    ("product", "item"),
    ("lines", "line"),
    ("rows", "line"),
    ("row", "line"),
    ("amt", "amount"),
    ("num", "number"),
    ("no", "number"),
    ("desc", "description"),
    ("iso", "code"),
    ("curr", "currency"),
    ("ccy", "currency"),
    ("dt", "date"),
    ("ts", "date"),
    ("time", "date"),
    ("timestamp", "date"),
    ("createdat", "created"),
    ("create", "created"),
    ("creation", "created"),
    ("placed", "created"),
    ("excl", "ex"),
    ("excluding", "ex"),
    ("exc", "ex"),
    ("incl", "inc"),
    ("including", "inc"),
    ("gross", "inc"),
    ("add", "created"),
    ("added", "created"),
    ("utc", "gmt"),
];

/// Tokens that carry no meaning of their own in a money or wrapper object (`shop_money.amount`,
/// `totalPrice.centAmount`, `price_set`): the name is read from the segment above.
const GENERIC: &[&str] = &[
    "amount",
    "value",
    "cent",
    "cents",
    "shop",
    "money",
    "set",
    "presentment",
    "fraction",
    "digits",
    "data",
    "attributes",
    "extension",
    "details",
    "info",
    "information",
];

/// A segment (`billingAddress`, `line_items[]`, `street[0]`) as folded tokens; a position
/// `[i]` becomes the token `i + 1` (`street[0]` reads as street 1).
pub fn tokens(segment: &str) -> Vec<String> {
    // ISO 3166 / 4217 code names: `country_iso2`, `alpha3` say "code".
    let mut owned = segment.to_string();
    for w in [
        "iso_2", "iso_3", "iso2", "iso3", "alpha_2", "alpha_3", "alpha2", "alpha3",
    ] {
        while let Some(i) = owned.to_ascii_lowercase().find(w) {
            owned.replace_range(i..i + w.len(), "_code_");
        }
    }
    let segment = owned.as_str();
    let (name, index) = match segment.split_once('[') {
        Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (segment, None),
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        let boundary = match prev {
            Some(p) => {
                (c.is_ascii_uppercase() && p.is_ascii_lowercase())
                    || (c.is_ascii_digit() != p.is_ascii_digit())
            }
            None => false,
        };
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c.to_ascii_lowercase());
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if let Some(i) = index {
        out.push((i + 1).to_string());
    }
    out.into_iter()
        .map(|t| {
            // Plurals: `discounts`, `lines`, `addresses`.
            let t = if t.ends_with("sses") {
                t[..t.len() - 2].to_string()
            } else if t.len() > 4 && t.ends_with('s') && !t.ends_with("ss") && !t.ends_with("us") {
                t[..t.len() - 1].to_string()
            } else {
                t
            };
            FOLD.iter()
                .find(|(from, _)| *from == t)
                .map_or(t, |(_, to)| (*to).to_string())
        })
        .collect()
}

/// Where a leaf sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Root,
    Billing,
    Shipping,
    Customer,
    Lines,
    /// A nested object that is none of those (`totals`, `total_price_set`).
    Other,
    /// A list that is not the order's lines (`tax_lines[]`, `shipping_lines[]`, `refunds[]`).
    OtherList,
}

const MONEYISH: &[&str] = &[
    "total", "price", "amount", "cost", "method", "tax", "line", "fee", "discount", "rate",
];

/// The block of a leaf from its ancestors (innermost meaningful one wins).
pub fn block(segments: &[String]) -> Block {
    let mut b = Block::Root;
    for seg in &segments[..segments.len().saturating_sub(1)] {
        let t = tokens(seg);
        let has = |w: &str| t.iter().any(|x| x == w);
        let moneyish = MONEYISH.iter().any(|w| has(w)) && !has("address");
        let list = seg.ends_with("[]");
        // An address block: `billing_address`, `shipping`, `recipient`; not `shippingInfo`.
        let addressy = has("address") || has("to") || t.len() == 1;
        b = if has("billing") && addressy && !moneyish {
            Block::Billing
        } else if ((has("shipping") && addressy) || has("recipient") || has("destination"))
            && !moneyish
        {
            Block::Shipping
        } else if list
            && (has("item") || has("line"))
            && ![
                "tax",
                "shipping",
                "fee",
                "discount",
                "coupon",
                "refund",
                "fulfillment",
            ]
            .iter()
            .any(|w| has(w))
        {
            Block::Lines
        } else if has("customer") || has("user") || has("client") || has("contact") {
            if b == Block::Root {
                Block::Customer
            } else {
                b
            }
        } else if list {
            if b == Block::Lines || b == Block::Shipping || b == Block::Billing {
                b
            } else {
                Block::OtherList
            }
        } else if b == Block::Root {
            Block::Other
        } else {
            b
        };
    }
    b
}

/// The tokens a leaf's name says: the leaf segment's, or (when it is generic, like
/// `shop_money.amount`) the nearest ancestor's that say something, without the block words.
pub fn name_tokens(segments: &[String]) -> Vec<String> {
    // A bare money word in a sub-list says what it is through the list: `tax_lines[].price`
    // is a tax.
    if let [.., parent, leaf] = segments {
        let l = tokens(leaf);
        let bare = l
            .iter()
            .all(|t| matches!(t.as_str(), "price" | "amount" | "value" | "total"));
        if bare {
            let mut p: Vec<String> = tokens(parent)
                .into_iter()
                .filter(|t| {
                    !matches!(t.as_str(), "line" | "item") && !GENERIC.contains(&t.as_str())
                })
                .collect();
            if !p.is_empty() {
                p.extend(l.into_iter().filter(|t| !GENERIC.contains(&t.as_str())));
                return p;
            }
        }
    }
    for seg in segments.iter().rev() {
        // A localized string's locale key (`name.en-CA`) says nothing: read the parent.
        let b = seg.as_bytes();
        let locale = b.len() == 5
            && b[..2].iter().all(u8::is_ascii_lowercase)
            && matches!(b[2], b'-' | b'_')
            && b[3..].iter().all(u8::is_ascii_uppercase);
        if locale && segments.len() > 1 {
            continue;
        }
        let t: Vec<String> = tokens(seg)
            .into_iter()
            .filter(|t| !GENERIC.contains(&t.as_str()))
            .collect();
        if !t.is_empty() {
            return t;
        }
    }
    Vec::new()
}

/// How well `leaf` (name tokens) says `phrase`: 1 for the same tokens, less for a phrase
/// inside a longer name or a name inside a longer phrase; 0 when a number differs (line 1 is
/// not line 2) or nothing is shared.
pub fn name_score(
    leaf: &[String],
    phrase: &[&str],
    droppable: &[&str],
    digits_matter: bool,
) -> f64 {
    let leaf: Vec<&str> = leaf
        .iter()
        .map(String::as_str)
        .filter(|t| !droppable.contains(t) || phrase.contains(t))
        .filter(|t| digits_matter || !t.chars().all(|c| c.is_ascii_digit()))
        .collect();
    if leaf.is_empty() {
        return 0.0;
    }
    let digit = |t: &&str| t.chars().all(|c| c.is_ascii_digit());
    let ld: Vec<&&str> = leaf.iter().filter(|t| digit(t)).collect();
    let pd: Vec<&&str> = phrase.iter().filter(|t| digit(t)).collect();
    if !ld.is_empty() && ld != pd {
        return 0.0;
    }
    let in_leaf = phrase.iter().filter(|p| leaf.contains(p)).count();
    if in_leaf == phrase.len() && leaf.len() == phrase.len() {
        return 1.0;
    }
    if in_leaf == phrase.len() {
        return (0.9 - 0.08 * (leaf.len() - phrase.len()) as f64).max(0.55);
    }
    let in_phrase = leaf.iter().filter(|l| phrase.contains(l)).count();
    if in_phrase == leaf.len() && pd.is_empty() {
        return 0.75 * leaf.len() as f64 / phrase.len() as f64;
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn tokens_fold_case_and_synonyms() {
        assert_eq!(tokens("billingAddress"), ["billing", "address"]);
        assert_eq!(tokens("postal_code"), ["postal", "code"]);
        assert_eq!(tokens("zip"), ["postal"]);
        assert_eq!(tokens("address1"), ["address", "1"]);
        assert_eq!(tokens("street[1]"), ["street", "2"]);
        assert_eq!(tokens("line_items[]"), ["line", "item"]);
        assert_eq!(tokens("qty_ordered"), ["quantity", "ordered"]);
        assert_eq!(tokens("countryCode"), ["country", "code"]);
    }

    #[test]
    fn blocks_and_generic_names() {
        assert_eq!(block(&segs("billing_address.city")), Block::Billing);
        assert_eq!(block(&segs("shipping.city")), Block::Shipping);
        assert_eq!(
            block(&segs("total_shipping_price_set.shop_money.amount")),
            Block::Other
        );
        assert_eq!(block(&segs("line_items[].sku")), Block::Lines);
        assert_eq!(block(&segs("shipping_lines[].price")), Block::OtherList);
        assert_eq!(block(&segs("customer.email")), Block::Customer);
        assert_eq!(block(&segs("email")), Block::Root);
        assert_eq!(
            name_tokens(&segs("total_price_set.shop_money.amount")),
            ["total", "price"]
        );
        assert_eq!(
            name_tokens(&segs("totalPrice.centAmount")),
            ["total", "price"]
        );
    }

    #[test]
    fn name_scores() {
        let drop = &["billing", "shipping", "address"];
        let s = |leaf: &str, phrase: &[&str]| name_score(&tokens(leaf), phrase, drop, true);
        assert_eq!(s("city", &["city"]), 1.0);
        assert_eq!(s("zip", &["postal"]), 1.0);
        assert_eq!(s("address2", &["address", "1"]), 0.0);
        assert!(s("billing_city", &["city"]) == 1.0);
        assert!(s("unit_price", &["price"]) > 0.5);
        assert_eq!(s("sku", &["city"]), 0.0);
    }
}
