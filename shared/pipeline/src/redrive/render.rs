//! The response as text for a terminal (the local command `o2c-dlq`; its output format).

use super::types::{Action, RedriveResponse};
use std::fmt::Write as _;

/// The response as text for a terminal.
pub fn render_text(r: &RedriveResponse) -> String {
    let mut out = String::new();
    let mode = match (r.action, r.dry_run) {
        (Action::List, _) => "list",
        (Action::Replay, true) => "replay (dry run: nothing changed)",
        (Action::Replay, false) => "replay",
    };
    let _ = writeln!(out, "{mode}");
    for q in &r.queues {
        let _ = writeln!(
            out,
            "\n== {} DLQ: {} message(s){}",
            q.queue,
            q.messages.len(),
            q.error
                .as_ref()
                .map(|e| format!(" — error: {e}"))
                .unwrap_or_default()
        );
        for m in &q.messages {
            let _ = writeln!(
                out,
                "- {}  [{}]  order {}{}  receives {}",
                m.message_id,
                m.class,
                m.order_id.as_deref().unwrap_or("-"),
                m.order_state
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                m.receive_count
            );
            let _ = writeln!(out, "    reason: {}", m.reason);
            let _ = writeln!(out, "    body:   {}", m.body_preview);
            if let Some(s) = &m.suggestion {
                let _ = writeln!(
                    out,
                    "    fix:    {} (confidence {:.2})",
                    s.summary, s.confidence
                );
                if !s.patch.is_empty() {
                    let _ = writeln!(
                        out,
                        "    patch:  {}",
                        serde_json::to_string(&s.patch).unwrap_or_default()
                    );
                }
            }
            let _ = writeln!(out, "    hint:   {}", m.hint);
            if let Some(p) = &m.replay {
                let outcome = serde_json::to_value(p.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    replay: {outcome} → {}{}{}{}",
                    p.target_queue,
                    p.dedup_id
                        .as_ref()
                        .map(|d| format!(" (dedup {d})"))
                        .unwrap_or_default(),
                    if p.deleted {
                        ", deleted from the DLQ"
                    } else {
                        ""
                    },
                    p.detail
                        .as_ref()
                        .map(|d| format!(" — {d}"))
                        .unwrap_or_default()
                );
                if let Some(b) = &p.body_preview {
                    let _ = writeln!(out, "            {b}");
                }
            }
        }
    }
    if !r.not_found.is_empty() {
        let _ = writeln!(out, "\nnot found: {}", r.not_found.join(", "));
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "\nlisted {}, with an automatic fix {}, replayed {}, would replay {}, skipped {}, failed {}",
        s.listed, s.with_automatic_fix, s.replayed, s.would_replay, s.skipped, s.failed
    );
    out
}
