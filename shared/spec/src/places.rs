//! Countries, addresses and phone numbers for the built-ins (`natives.rs`), on maintained data
//! sets rather than tables of our own: country names, codes and address layouts from `keshvar`
//! (the `countries` data set), phone numbers from `rlibphonenumber` (Google's libphonenumber
//! metadata).
//!
//! | built-in | input | gives |
//! |---|---|---|
//! | `country_code` | a country name, alias or ISO 3166-1 alpha-2/alpha-3 code (any case) | the alpha-2 code |
//! | `country_name` | a name or code as above | the country's common English name |
//! | `phone_e164($country)` | a phone number as written in `$country` (or with `+`) | E.164, an error when the number is not valid |
//! | `address_lines` | a canonical address (`first_name`, `last_name`, `line1`, `line2`, `city`, `region`, `postal_code`, `country`) | its lines in the country's postal layout |

use keshvar::{Alpha2, Alpha3, Country, CountryIterator};
use rlibphonenumber::{PhoneNumber, PhoneNumberFormat, Region};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Letters and digits, lower case: "Côte d'Ivoire" and "cote divoire" meet.
fn key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every ISO name and alias of every country, by [`key`]; built on first use.
fn names() -> &'static HashMap<String, Alpha2> {
    static NAMES: OnceLock<HashMap<String, Alpha2>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut m = HashMap::new();
        for c in CountryIterator::new() {
            let official = [c.iso_short_name(), c.iso_long_name()];
            for n in c.unofficial_name_list().iter().chain(official.iter()) {
                m.entry(key(n)).or_insert(c.alpha2());
            }
        }
        m
    })
}

/// The country `text` names: an alpha-2 or alpha-3 code, an ISO name or a common alias.
pub fn country(text: &str) -> Result<Country, String> {
    let t = text.trim();
    by_code(&t.to_ascii_uppercase())
        .or_else(|| names().get(&key(t)).copied())
        .map(|a| a.to_country())
        .ok_or_else(|| format!("{t:?} is not a country name or ISO 3166-1 code"))
}

/// The country of an ISO 3166-1 alpha-2 or alpha-3 code, as written (upper case).
fn by_code(code: &str) -> Option<Alpha2> {
    match code.len() {
        2 => Alpha2::try_from(code).ok(),
        3 => Alpha3::try_from(code).ok().map(Alpha2::from),
        _ => None,
    }
}

/// Is `text` an ISO 3166-1 alpha-2 or alpha-3 code (upper case)?
pub fn is_country_code(text: &str) -> bool {
    by_code(text).is_some()
}

/// The ISO 3166-1 alpha-2 code of a country name or code.
pub fn country_code(text: &str) -> Result<String, String> {
    Ok(country(text)?.alpha2().to_string())
}

/// The common English name ("United States", not the ISO "United States of America").
pub fn country_name(text: &str) -> Result<String, String> {
    let c = country(text)?;
    Ok(c.unofficial_name_list()
        .first()
        .copied()
        .unwrap_or(c.iso_short_name())
        .to_string())
}

/// `number` as E.164 (`+14155550100`), read as dialled in `country` unless it starts with `+`.
pub fn phone_e164(number: &str, country_text: &str) -> Result<String, String> {
    let code = country_code(country_text)?;
    let region: Region = code
        .parse()
        .map_err(|_| format!("no phone numbering plan for {code}"))?;
    let n = PhoneNumber::parse(number.trim(), Some(region))
        .map_err(|e| format!("{number:?} is not a phone number ({e})"))?;
    if !n.is_valid() {
        return Err(format!("{number:?} is not a valid phone number for {code}"));
    }
    Ok(n.format_as(PhoneNumberFormat::E164).into_owned())
}

/// The layout for countries the data set has none for: recipient, street, postal code and
/// city, region, country.
const GENERIC: &str = "{{recipient}}\n{{street}}\n{{postalcode}} {{city}}\n{{region}}\n{{country}}";

/// The parts of an address a layout places.
#[derive(Debug, Default, Clone)]
pub struct AddressParts<'a> {
    pub recipient: &'a str,
    pub street: &'a str,
    pub city: &'a str,
    pub region: &'a str,
    pub postal_code: &'a str,
    pub country: &'a str,
}

/// The address's lines in its country's postal layout (empty lines and dangling separators
/// left out).
pub fn address_lines(a: &AddressParts) -> Result<Vec<String>, String> {
    let c = country(a.country)?;
    let name = country_name(a.country)?;
    let layout = c.address_format().unwrap_or(GENERIC);
    let filled = [
        ("recipient", a.recipient),
        ("street", a.street),
        ("city", a.city),
        ("region_short", a.region),
        ("region", a.region),
        ("postalcode", a.postal_code),
        ("country", name.as_str()),
    ]
    .iter()
    .fold(layout.to_string(), |t, (k, v)| {
        t.replace(&format!("{{{{{k}}}}}"), v)
    });
    Ok(filled
        .lines()
        .map(|l| {
            let l = l.split_whitespace().collect::<Vec<_>>().join(" ");
            l.trim_matches(|c: char| c == ',' || c.is_whitespace())
                .replace(" ,", ",")
        })
        .filter(|l| !l.is_empty() && !l.contains("{{"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_by_name_alias_and_code() {
        for (text, code) in [
            ("United States", "US"),
            ("usa", "US"),
            ("Germany", "DE"),
            ("Deutschland", "DE"),
            ("deu", "DE"),
            ("gb", "GB"),
            ("United Kingdom", "GB"),
            ("Côte d'Ivoire", "CI"),
            ("Slovakia", "SK"),
        ] {
            assert_eq!(country_code(text).as_deref(), Ok(code), "{text}");
        }
        assert_eq!(country_name("US").unwrap(), "United States");
        assert_eq!(country_name("svk").unwrap(), "Slovakia");
        assert!(country_code("Atlantis")
            .unwrap_err()
            .contains("not a country"));
        assert!(country_code("XX").is_err());
    }

    #[test]
    fn phones_to_e164() {
        for (number, country, want) in [
            ("(415) 555-0100", "US", "+14155550100"),
            ("030 1234567", "DE", "+49301234567"),
            ("+49 (0)30 1234567", "US", "+49301234567"),
            ("020 7946 0958", "United Kingdom", "+442079460958"),
            ("06 6982 0000", "IT", "+390669820000"),
            ("0900 123 456", "SK", "+421900123456"),
        ] {
            assert_eq!(phone_e164(number, country).as_deref(), Ok(want), "{number}");
        }
        assert!(phone_e164("555-0100", "US")
            .unwrap_err()
            .contains("not a valid phone number for US"));
        assert!(phone_e164("call me", "US").is_err());
    }

    #[test]
    fn addresses_in_their_country_layout() {
        let parts = |country| AddressParts {
            recipient: "Jane Doe",
            street: "1 Main St",
            city: "Springfield",
            region: "IL",
            postal_code: "62701",
            country,
        };
        let us = address_lines(&parts("US")).unwrap();
        assert_eq!(us[0], "Jane Doe");
        assert!(us.contains(&"Springfield IL 62701".to_string()), "{us:?}");
        let de = address_lines(&AddressParts {
            region: "",
            postal_code: "10115",
            city: "Berlin",
            ..parts("DE")
        })
        .unwrap();
        assert!(de.contains(&"10115 Berlin".to_string()), "{de:?}");
        assert!(address_lines(&parts("Atlantis")).is_err());
    }
}
