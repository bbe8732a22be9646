//! The card-data scan (`infra/local/cardscan.py`) applies the same rule as
//! `o2c_domain::card::find_card_number`: checked on the shared cases file and on random
//! strings built to sit on the rule's edges (digit runs, single and double separators,
//! lengths 12–20, non-ASCII neighbours, embedded test PANs).

use o2c_domain::card::find_card_number;
use o2c_e2e::{python, repo_root};
use serde_json::Value;
use std::process::Command;

fn cases() -> Vec<(String, Option<(usize, usize)>)> {
    let text = std::fs::read_to_string(repo_root().join("infra/local/cardscan_cases.json"))
        .expect("infra/local/cardscan_cases.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let hit = c["hit"].as_array().map(|r| {
                (
                    r[0].as_u64().unwrap() as usize,
                    r[1].as_u64().unwrap() as usize,
                )
            });
            (c["text"].as_str().unwrap().to_string(), hit)
        })
        .collect()
}

/// The Python scanner's first hit for each text (`--check-texts`).
fn python_hits(texts: &[String]) -> Vec<Option<(usize, usize)>> {
    let dir = std::env::temp_dir().join(format!(
        "o2c-cardscan-{}-{}",
        std::process::id(),
        o2c_e2e::free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("texts.json");
    std::fs::write(&file, serde_json::to_vec(texts).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("infra/local/cardscan.py"))
        .arg("--check-texts")
        .arg(&file)
        .output()
        .expect("run cardscan.py");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "cardscan.py --check-texts: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Option<(usize, usize)>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), texts.len());
    v
}

fn rust_hit(text: &str) -> Option<(usize, usize)> {
    find_card_number(text).map(|r| (r.start, r.end))
}

#[test]
fn shared_cases_match_the_domain_rule() {
    let cases = cases();
    assert!(cases.len() > 40);
    for (text, expected) in &cases {
        assert_eq!(rust_hit(text), *expected, "Rust on {text:?}");
    }
    let texts: Vec<String> = cases.iter().map(|(t, _)| t.clone()).collect();
    for ((text, expected), got) in cases.iter().zip(python_hits(&texts)) {
        assert_eq!(got, *expected, "Python on {text:?}");
    }
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
                const NOISE: [&str; 10] = [" ", "-", "a", "é", "\n", "\"", ":", "- ", " -", "٤"];
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
    let python = python_hits(&texts);
    let mismatches: Vec<_> = texts
        .iter()
        .zip(&python)
        .filter(|(t, p)| rust_hit(t) != **p)
        .map(|(t, p)| format!("{t:?}: rust {:?} python {p:?}", rust_hit(t)))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
    println!("cardscan cross-check: 5000 random texts, {hits} with a hit, 0 mismatches");
}
