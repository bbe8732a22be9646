//! Shared input framing for the webhook fuzz targets.
//!
//! An input is either a bare body (default headers, correctly signed by the target), or an
//! HTTP-like head and a body separated by the first blank line:
//!
//! ```text
//! X-Clarity-Event-Id: evt_0001
//! X-Clarity-Timestamp: @now-30
//! X-Clarity-Signature: @sign
//!
//! {"id":"evt_0001","type":"order.created",...}
//! ```
//!
//! A head is recognised only when the first byte is an ASCII letter (a JSON body starts with
//! `{`, `[`, a digit, `"`, `t`/`f`/`n` or whitespace, so `true`/`false`/`null` bodies are read
//! as heads — harmless, the fuzzer sees both). The targets give `@`-placeholders meaning (a
//! fresh timestamp, a correct signature), so mutations reach the parsers behind the signature
//! check instead of dying at it.

/// A split input.
#[derive(Debug, Clone, Copy)]
pub struct Framed<'a> {
    /// The head text (`Name: value` lines), if the input has one.
    pub headers: Option<&'a str>,
    pub body: &'a [u8],
}

impl<'a> Framed<'a> {
    pub fn split(data: &'a [u8]) -> Framed<'a> {
        if data.first().is_some_and(u8::is_ascii_alphabetic) {
            if let Some(at) = data.windows(2).position(|w| w == b"\n\n") {
                if let Ok(head) = std::str::from_utf8(&data[..at]) {
                    return Framed {
                        headers: Some(head),
                        body: &data[at + 2..],
                    };
                }
            }
        }
        Framed {
            headers: None,
            body: data,
        }
    }

    /// The value of the first header called `name` (case-insensitive), trimmed. `None` when the
    /// input has no head or no such header.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers?.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// Was a head given at all?
    pub fn has_head(&self) -> bool {
        self.headers.is_some()
    }
}

/// `@now`, `@now+N`, `@now-N` → `now + N` as decimal text; anything else verbatim.
pub fn expand_now(value: &str, now: i64) -> String {
    match value.strip_prefix("@now") {
        Some("") => now.to_string(),
        Some(rest) => match rest.parse::<i64>() {
            Ok(d) => now.saturating_add(d).to_string(),
            Err(_) => value.to_owned(),
        },
        None => value.to_owned(),
    }
}

/// The body's top-level `"id"` string, if the body is a JSON object that has one.
pub fn body_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("id")?.as_str().map(str::to_owned)
}
