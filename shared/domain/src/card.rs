//! Card-number detection: any run of 13–19 digits that passes the Luhn check.
//!
//! Card data never enters the system. Webhook receivers refuse payloads holding a value that
//! looks like a PAN, and the card-data scan uses the same function.

/// Does the text hold a 13–19 digit run (digits may be separated by single spaces or dashes,
/// as people type them) that passes Luhn? A run inside a longer identifier (glued to a letter,
/// as in hex hashes and TMS ids, or a dashed piece of a UUID) does not count.
pub fn contains_card_number(text: &str) -> bool {
    find_card_number(text).is_some()
}

/// The byte range of the first card-number-like run in `text`.
pub fn find_card_number(text: &str) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // Collect a run of digits with optional single separators.
        let mut digits: Vec<u8> = Vec::with_capacity(19);
        let mut ends: Vec<usize> = Vec::with_capacity(19);
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            if b.is_ascii_digit() {
                digits.push(b - b'0');
                ends.push(j + 1);
                j += 1;
            } else if (b == b' ' || b == b'-')
                && j + 1 < bytes.len()
                && bytes[j + 1].is_ascii_digit()
                && j > i
                && bytes[j - 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        // The whole run must be 13..=19 digits: a window inside a longer number (an id, a
        // hash) is not a card number.
        if (13..=19).contains(&digits.len()) && luhn(&digits) && !part_of_identifier(bytes, i, j) {
            return Some(i..ends[digits.len() - 1]);
        }
        i = j.max(i + 1);
    }
    None
}

/// A run `[start, end)` that is really a piece of a longer identifier: glued to an ASCII letter
/// on either side (hex hashes and ids: SHA-256 payload hashes, 32-hex TMS ids, `…d4111…`), or,
/// for a dashed run, continued by `-` and a letter or digit (UUIDs: `52693516-8882-4137-a833-…`).
/// Card numbers stand alone as tokens (`card 4111 1111 1111 1111`, `"4111-1111-1111-1111"`).
fn part_of_identifier(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).map(|k| bytes[k]);
    let after = bytes.get(end).copied();
    let dashed = bytes[start..end].contains(&b'-');
    before.is_some_and(|b| b.is_ascii_alphabetic())
        || after.is_some_and(|b| b.is_ascii_alphabetic())
        || (dashed
            && after == Some(b'-')
            && bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric))
}

/// The Luhn (mod 10) check over digit values 0–9.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_pans_in_any_shape() {
        for pan in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011111111111117",
            "4222222222222",
        ] {
            let text = format!(r#"{{"note":"card {pan} thanks"}}"#);
            assert!(contains_card_number(&text), "{pan}");
        }
        assert!(contains_card_number(r#"{"n":4111111111111111}"#));
    }

    #[test]
    fn ignores_non_luhn_short_and_long_runs() {
        assert!(!contains_card_number("id 41111111111111110000000")); // 25 digits
        assert!(!contains_card_number("order 4111111111111112 total"));
        assert!(!contains_card_number("phone +1 415 555 0100, zip 94107"));
        assert!(!contains_card_number("ts 1700000000000 amount 107.99"));
        assert!(!contains_card_number("411111111111")); // 12 digits
    }
}
