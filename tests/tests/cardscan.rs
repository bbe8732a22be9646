//! The card-data scan (`infra/local/cardscan.py`) applies the same rule as
//! `o2c_domain::card::find_card_number`: checked on the shared cases file and on random
//! strings built to sit on the rule's edges (digit runs, single and double separators,
//! lengths 12–20, non-ASCII neighbours, embedded test PANs).

use o2c_domain::card::{card_number_location, find_card_number, DECIMAL_ZEROS};
use o2c_e2e::{python, repo_root};
use serde_json::Value;
use std::process::Command;

/// A case's answer: the first plain-text hit (byte range) or, for a `json` case, the location.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Hit(Option<(usize, usize)>),
    At(Option<String>),
}

impl Answer {
    fn found(&self) -> bool {
        match self {
            Answer::Hit(h) => h.is_some(),
            Answer::At(a) => a.is_some(),
        }
    }
}

struct Case {
    text: String,
    json: bool,
    note: String,
    expected: Answer,
}

fn range(v: &Value) -> Option<(usize, usize)> {
    v.as_array().map(|r| {
        (
            r[0].as_u64().unwrap() as usize,
            r[1].as_u64().unwrap() as usize,
        )
    })
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(repo_root().join("infra/local/cardscan_cases.json"))
        .expect("infra/local/cardscan_cases.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let json = c["json"].as_bool().unwrap_or(false);
            Case {
                text: c["text"].as_str().unwrap().to_string(),
                json,
                note: c["note"].as_str().unwrap_or_default().to_string(),
                expected: if json {
                    Answer::At(c["at"].as_str().map(str::to_string))
                } else {
                    Answer::Hit(range(&c["hit"]))
                },
            }
        })
        .collect()
}

/// Run `cardscan.py` with `args` (and a temporary JSON file of `texts` after `--check-texts`).
fn python_json(args: &[&str], texts: Option<&[String]>) -> Value {
    let dir = std::env::temp_dir().join(format!(
        "o2c-cardscan-{}-{}",
        std::process::id(),
        o2c_e2e::free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("texts.json");
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("infra/local/cardscan.py"))
        .args(args);
    if let Some(texts) = texts {
        std::fs::write(&file, serde_json::to_vec(texts).unwrap()).unwrap();
        cmd.arg("--check-texts").arg(&file);
    }
    let out = cmd.output().expect("run cardscan.py");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "cardscan.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Python scanner's (first plain-text hit, location) for each text (`--check-texts`).
type PyResult = (Option<(usize, usize)>, Option<String>);

fn python_results(texts: &[String]) -> Vec<PyResult> {
    let v = python_json(&[], Some(texts));
    let v = v.as_array().unwrap();
    assert_eq!(v.len(), texts.len());
    v.iter()
        .map(|r| (range(&r[0]), r[1].as_str().map(str::to_string)))
        .collect()
}

fn rust_hit(text: &str) -> Option<(usize, usize)> {
    find_card_number(text).map(|r| (r.start, r.end))
}

fn rust_answer(c: &Case) -> Answer {
    if c.json {
        Answer::At(card_number_location(&c.text))
    } else {
        Answer::Hit(rust_hit(&c.text))
    }
}

fn python_answer(c: &Case, r: &PyResult) -> Answer {
    if c.json {
        Answer::At(r.1.clone())
    } else {
        Answer::Hit(r.0)
    }
}

#[test]
fn shared_cases_match_the_domain_rule() {
    let cases = cases();
    assert!(cases.len() > 100);
    for c in &cases {
        assert_eq!(
            rust_answer(c),
            c.expected,
            "Rust on {:?} ({})",
            c.text,
            c.note
        );
    }
    let texts: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    for (c, r) in cases.iter().zip(python_results(&texts)) {
        assert_eq!(
            python_answer(c, &r),
            c.expected,
            "Python on {:?} ({})",
            c.text,
            c.note
        );
        // Both scanners agree on the other entry point too.
        assert_eq!(r.0, rust_hit(&c.text), "plain text of {:?}", c.text);
        assert_eq!(
            r.1,
            card_number_location(&c.text),
            "location of {:?}",
            c.text
        );
    }
}

/// The card-data table: every shared case, expected, Rust's and Python's answer.
///
///     cargo test -p o2c-e2e --test cardscan card_data_table -- --nocapture
#[test]
fn card_data_table() {
    let cases = cases();
    let texts: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    let py = python_results(&texts);
    let show = |a: &Answer| match a {
        Answer::Hit(Some((s, e))) => format!("hit {s}..{e}"),
        Answer::At(Some(at)) => format!("at {at}"),
        _ => "-".to_string(),
    };
    println!(
        "{:>3}  {:<4} {:<7} {:<34} {:<34} case",
        "#", "mode", "expect", "rust", "python"
    );
    let mut bad = 0;
    for (n, (c, r)) in cases.iter().zip(&py).enumerate() {
        let (rust, python) = (rust_answer(c), python_answer(c, r));
        let ok = rust == c.expected && python == c.expected;
        bad += usize::from(!ok);
        let mut text = serde_json::to_string(&c.text)
            .unwrap()
            .chars()
            .flat_map(|ch| {
                if ch.is_ascii() {
                    vec![ch]
                } else {
                    format!("\\u{{{:x}}}", ch as u32).chars().collect()
                }
            })
            .collect::<String>();
        if text.chars().count() > 48 {
            text = text.chars().take(45).collect::<String>() + "...";
        }
        println!(
            "{:>3}  {:<4} {:<7} {:<34} {:<34} {}{}{}",
            n + 1,
            if c.json { "json" } else { "text" },
            if c.expected.found() { "card" } else { "none" },
            show(&rust),
            show(&python),
            if ok { "" } else { "MISMATCH " },
            if c.note.is_empty() {
                String::new()
            } else {
                format!("{}: ", c.note)
            },
            text
        );
    }
    let cards = cases.iter().filter(|c| c.expected.found()).count();
    println!(
        "{} cases ({} card numbers, {} not): {} where Rust or Python differ from the table",
        cases.len(),
        cards,
        cases.len() - cards,
        bad
    );
    assert_eq!(bad, 0);
}

/// Both scanners carry the same table of decimal-digit zeros.
#[test]
fn digit_tables_are_the_same() {
    let py: Vec<u32> = serde_json::from_value(python_json(&["--digit-table"], None)).unwrap();
    assert_eq!(py, DECIMAL_ZEROS);
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn luhn_complete(rng: &mut Rng, len: usize) -> String {
    // A random run of `len` digits whose last digit makes it pass Luhn.
    let mut digits: Vec<u8> = (0..len - 1).map(|_| rng.below(10) as u8).collect();
    for check in 0..10u8 {
        digits.push(check);
        if o2c_domain::card::luhn(&digits) {
            break;
        }
        digits.pop();
    }
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

fn random_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    let parts = 1 + rng.below(6);
    for _ in 0..parts {
        match rng.below(10) {
            0..=3 => {
                let len = 12 + rng.below(9) as usize; // 12..=20 digits
                let run = luhn_complete(rng, len);
                // Sometimes split into groups by single (or, rarely, double) separators.
                if rng.below(3) == 0 {
                    let mut out = String::new();
                    for (i, c) in run.chars().enumerate() {
                        if i > 0 && i % 4 == 0 {
                            out.push_str(match rng.below(8) {
                                0 => "  ",
                                1 => "--",
                                2 | 3 => "-",
                                _ => " ",
                            });
                        }
                        out.push(c);
                    }
                    s.push_str(&out);
                } else {
                    s.push_str(&run);
                }
            }
            4..=6 => {
                for _ in 0..rng.below(20) {
                    s.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            _ => {
                const NOISE: [&str; 20] = [
                    " ",
                    "-",
                    "a",
                    "é",
                    "\n",
                    "\"",
                    ":",
                    "- ",
                    " -",
                    "٤",
                    "\u{a0}",
                    "\u{200b}",
                    "\u{2013}",
                    "４",
                    "f",
                    "\\u0034",
                    "\u{ad}",
                    "Z",
                    "{\"k\":\"",
                    "\"}",
                ];
                for _ in 0..1 + rng.below(3) {
                    s.push_str(NOISE[rng.below(NOISE.len() as u64) as usize]);
                }
            }
        }
    }
    s
}

#[test]
fn random_texts_agree_between_rust_and_python() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let texts: Vec<String> = (0..5_000).map(|_| random_text(&mut rng)).collect();
    let hits = texts.iter().filter(|t| rust_hit(t).is_some()).count();
    // The generator must exercise both sides of the rule.
    assert!(hits > 500 && hits < 4_500, "{hits} hits of 5000");
    let python = python_results(&texts);
    let mismatches: Vec<_> = texts
        .iter()
        .zip(&python)
        .filter(|(t, p)| (rust_hit(t), card_number_location(t)) != **p)
        .map(|(t, p)| {
            format!(
                "{t:?}: rust {:?} {:?} python {p:?}",
                rust_hit(t),
                card_number_location(t)
            )
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
    println!("cardscan cross-check: 5000 random texts, {hits} with a hit, 0 mismatches");
}
