//! Scoring suggestions against a hand-made ground truth (the benchmark and its regression
//! test): top-1 accuracy and top-3 recall over the fields the sample has, false suggestions
//! (a candidate with confidence ≥ 0.5) over the fields it does not.

use super::Suggestion;
use serde_json::Value;

#[derive(Default, Clone, Copy)]
pub struct Score {
    pub present: usize,
    pub top1: usize,
    pub top3: usize,
    pub absent: usize,
    pub false_suggestions: usize,
}

impl Score {
    pub fn add(&mut self, o: Score) {
        self.present += o.present;
        self.top1 += o.top1;
        self.top3 += o.top3;
        self.absent += o.absent;
        self.false_suggestions += o.false_suggestions;
    }
    pub fn pct(n: usize, d: usize) -> String {
        if d == 0 {
            "—".into()
        } else {
            format!("{:.1} %", 100.0 * n as f64 / d as f64)
        }
    }
}

/// `truth`: `[{"target", "source"|null, "also"?: [...]}]`; the misses, described.
pub fn score(got: &[Suggestion], truth: &[Value]) -> (Score, Vec<String>) {
    let mut s = Score::default();
    let mut misses = Vec::new();
    for t in truth {
        let target = t["target"].as_str().unwrap();
        let cands = got
            .iter()
            .find(|g| g.target == target)
            .map(|g| g.candidates.as_slice())
            .unwrap_or(&[]);
        let confident: Vec<&str> = cands
            .iter()
            .filter(|c| c.confidence >= 0.5)
            .map(|c| c.source.as_str())
            .collect();
        // `also`: equally valid sources the labeller names beside the best one.
        let ok = |c: &str| {
            t["source"].as_str() == Some(c)
                || t["also"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(c)))
        };
        match t["source"].as_str() {
            Some(source) => {
                s.present += 1;
                if confident.first().is_some_and(|c| ok(c)) {
                    s.top1 += 1;
                } else {
                    misses.push(format!(
                        "{target}: want {source}, got {:?}",
                        cands.first().map(|c| (&c.source, c.confidence))
                    ));
                }
                if confident.iter().take(3).any(|c| ok(c)) {
                    s.top3 += 1;
                }
            }
            None => {
                s.absent += 1;
                if let Some(c) = cands.iter().find(|c| c.confidence >= 0.5) {
                    s.false_suggestions += 1;
                    misses.push(format!(
                        "{target}: absent, got {} {}",
                        c.source, c.confidence
                    ));
                }
            }
        }
    }
    (s, misses)
}
