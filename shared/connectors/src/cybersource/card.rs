//! What the integration may know about a card: its brand and BIN (first digits), never the
//! number. Both come from Cybersource's card-type codes and the transient token's own metadata.

use base64::Engine as _;
use o2c_domain::routing::CardMeta;

/// Cybersource card type code → lower-case brand name (codes from the Cybersource card-type
/// table); an unknown code is returned as is.
pub fn brand_name(code: &str) -> String {
    match code {
        "001" => "visa",
        "002" => "mastercard",
        "003" => "amex",
        "004" => "discover",
        "005" => "diners",
        "007" => "jcb",
        "036" => "cartes_bancaires",
        "042" => "maestro",
        "062" => "unionpay",
        other => other,
    }
    .to_string()
}

/// Brand and BIN from a Microform / Unified Checkout transient token. Its payload carries the
/// masked number (`411111XXXXXX1111`: BIN and last four only) and the card type code in
/// `data`. The token's signature is not checked here: this only steers routing, and Cybersource
/// itself validates the token when it is used. Anything unreadable gives empty metadata.
pub fn transient_token_card(jwt: &str) -> CardMeta {
    let payload = jwt.split('.').nth(1).and_then(|p| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .ok()
    });
    let Some(claims) = payload.and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
    else {
        return CardMeta::default();
    };
    let data = &claims["data"];
    let brand = data["type"].as_str().map(brand_name);
    let bin = data["number"].as_str().and_then(|n| {
        let digits: String = n.chars().take_while(char::is_ascii_digit).take(8).collect();
        // A BIN is 6-8 leading digits followed by the mask; more leading digits would mean an
        // unmasked number, which is never kept.
        let masked = n
            .chars()
            .nth(digits.len())
            .is_some_and(|c| !c.is_ascii_digit());
        (digits.len() >= 6 && masked).then(|| digits[..6].to_string())
    });
    CardMeta { brand, bin }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"RS256"}"#), b(payload))
    }

    #[test]
    fn brand_and_bin_from_the_token_metadata() {
        let t = token(r#"{"data":{"number":"555555XXXXXX4444","type":"002"}}"#);
        assert_eq!(
            transient_token_card(&t),
            CardMeta {
                brand: Some("mastercard".into()),
                bin: Some("555555".into())
            }
        );
    }

    #[test]
    fn an_unmasked_number_or_garbage_gives_no_bin() {
        let t = token(r#"{"data":{"number":"4111111111111111","type":"001"}}"#);
        assert_eq!(transient_token_card(&t).bin, None);
        assert_eq!(transient_token_card("not-a-jwt"), CardMeta::default());
        assert_eq!(transient_token_card(&token("[]")).brand, None);
    }
}
