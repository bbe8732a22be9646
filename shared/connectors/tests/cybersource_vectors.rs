//! Golden vectors for Cybersource signing (schema: `docs/cybersource.md` §0).
//!
//! Reads every `*.json` in `$CYBS_VECTORS_DIR` (default: the in-repo copies in `tests/vectors/`,
//! provenance in their `README.md`). A missing or empty folder, a file that does not parse, or
//! any failing vector fails the test.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use o2c_connectors::cybersource::{
    body_digest, decode_secret_key, payload_member_compact, request_target, signed_message,
    HttpSignatureSigner, Method, SignatureHeader, SignedContent, WebhookKey, WebhookSignatureError,
    WebhookVerifier,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use time::OffsetDateTime;

const HTTP_KIND: &str = "cybersource-http-signature";
const WEBHOOK_KIND: &str = "cybersource-webhook-signature";

fn vectors_dir() -> PathBuf {
    match std::env::var_os("CYBS_VECTORS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string field {key:?}"))
}

/// Records a mismatch between an expected vector value and ours.
fn check(fails: &mut Vec<String>, what: &str, expected: &str, actual: &str) {
    if expected != actual {
        fails.push(format!("{what}: expected {expected:?}, got {actual:?}"));
    }
}

#[test]
fn cybersource_signature_vectors() {
    let dir = vectors_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("vectors folder {} unreadable: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("read_dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.json vector files in {}",
        dir.display()
    );

    let (mut http_n, mut webhook_n) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();

    for file in &files {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        let file_kind = doc.get("kind").and_then(Value::as_str);
        let vectors: &[Value] = match (&doc, doc.get("vectors")) {
            (_, Some(Value::Array(v))) => v,
            (Value::Array(v), None) => v,
            _ => panic!("{}: no vectors array", file.display()),
        };
        if matches!(file_kind, Some(HTTP_KIND | WEBHOOK_KIND)) && vectors.is_empty() {
            failures.push(format!(
                "{}: {HTTP_KIND}/{WEBHOOK_KIND} file with no vectors",
                file.display()
            ));
        }
        for (i, vector) in vectors.iter().enumerate() {
            let kind = vector.get("kind").and_then(Value::as_str).or(file_kind);
            let id = vector
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{i}"), str::to_owned);
            let label = format!("{} {id}", file.file_name().unwrap().to_string_lossy());
            let result = match kind {
                Some(HTTP_KIND) => {
                    http_n += 1;
                    check_http_vector(vector)
                }
                Some(WEBHOOK_KIND) => {
                    webhook_n += 1;
                    check_webhook_vector(vector)
                }
                _ => continue, // another integration's vectors
            };
            match result {
                Ok(fails) => failures.extend(fails.into_iter().map(|f| format!("{label}: {f}"))),
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
    }

    println!("checked {http_n} http-signature vectors, {webhook_n} webhook-signature vectors");
    assert!(
        http_n + webhook_n > 0,
        "no {HTTP_KIND} or {WEBHOOK_KIND} vectors found in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} failing check(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check_http_vector(v: &Value) -> Result<Vec<String>, String> {
    let input = v.get("input").ok_or("no input")?;
    let output = v.get("output").ok_or("no output")?;
    let mut fails = Vec::new();

    let method: Method = str_field(input, "method")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let query: Vec<(String, String)> = match input.get("query_params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err(format!("query pair is not [string, string]: {p}")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("query_params is not a list: {other}")),
    };
    let body: &[u8] = match input.get("body") {
        None | Some(Value::Null) => b"",
        Some(Value::String(s)) => s.as_bytes(),
        Some(other) => return Err(format!("body is neither string nor null: {other}")),
    };
    let secret = SecretString::from(str_field(input, "shared_secret_b64")?);
    let signer = HttpSignatureSigner::new(
        str_field(input, "merchant_id")?,
        str_field(input, "key_id")?,
        &secret,
    )
    .map_err(|e| format!("signer: {e}"))?;

    let target = request_target(str_field(input, "path")?, &query);
    let signed = signer
        .sign(
            method,
            str_field(input, "host")?,
            &target,
            body,
            str_field(input, "date")?,
        )
        .map_err(|e| format!("sign: {e}"))?;

    let out = output.as_object().ok_or("output is not an object")?;
    for (field, expected) in out {
        match field.as_str() {
            "request_target" => check(&mut fails, field, str_field(output, field)?, &target),
            "signing_string" => check(
                &mut fails,
                field,
                str_field(output, field)?,
                &signed.signing_string,
            ),
            "signing_string_b64" => check(
                &mut fails,
                field,
                str_field(output, field)?,
                &STANDARD.encode(signed.signing_string.as_bytes()),
            ),
            "hmac_key_hex" => {
                let key = decode_secret_key(&secret).map_err(|e| e.to_string())?;
                check(
                    &mut fails,
                    field,
                    str_field(output, field)?,
                    &hex(key.expose_secret()),
                );
            }
            "signature_b64" => check(
                &mut fails,
                field,
                str_field(output, field)?,
                &signed.signature,
            ),
            "digest_not_sent_info" => {
                check(
                    &mut fails,
                    field,
                    str_field(output, field)?,
                    &body_digest(body),
                );
                if signed.get("Digest").is_some() {
                    fails.push("digest_not_sent_info present but we send a Digest".into());
                }
            }
            "headers" => {
                let expected = expected.as_object().ok_or("headers is not an object")?;
                for (name, value) in expected {
                    let ours = signed.get(name);
                    match value {
                        Value::Null if ours.is_some() => {
                            fails.push(format!("header {name}: expected absent, got {ours:?}"))
                        }
                        Value::Null => {}
                        Value::String(s) => match ours {
                            Some(o) => check(&mut fails, &format!("header {name}"), s, o),
                            None => fails.push(format!("header {name}: expected {s:?}, absent")),
                        },
                        other => return Err(format!("header {name} has non-string value {other}")),
                    }
                }
                let expected_names: BTreeSet<String> =
                    expected.keys().map(|k| k.to_ascii_lowercase()).collect();
                for (name, value) in &signed.headers {
                    if !expected_names.contains(&name.to_ascii_lowercase()) {
                        fails.push(format!("header {name}: not in vector, we send {value:?}"));
                    }
                }
            }
            other => fails.push(format!(
                "output field {other:?} is not checked by this test"
            )),
        }
    }
    for required in [
        "request_target",
        "signing_string",
        "headers",
        "signature_b64",
    ] {
        if !out.contains_key(required) {
            fails.push(format!("vector has no output.{required}"));
        }
    }
    Ok(fails)
}

fn check_webhook_vector(v: &Value) -> Result<Vec<String>, String> {
    let input = v.get("input").ok_or("no input")?;
    let output = v.get("output").ok_or("no output")?;
    let mut fails = Vec::new();

    let key_b64 = SecretString::from(str_field(input, "security_key_b64")?);
    let held_key_id = str_field(input, "security_key_id")?;
    let header = input.get("v_c_signature_header").and_then(Value::as_str);
    let raw_body = str_field(input, "raw_body")?.as_bytes();
    let key = WebhookKey::new(held_key_id, &key_b64).map_err(|e| format!("key: {e}"))?;

    let parsed = header.map(SignatureHeader::parse);

    // Pin "now" to the signature's own t: the vectors do not encode freshness
    // (`docs/cybersource.md` §0).
    let now = match &parsed {
        Some(Ok(p)) => {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(p.timestamp_ms) * 1_000_000)
                .map_err(|e| format!("t out of range: {e}"))?
        }
        _ => OffsetDateTime::UNIX_EPOCH,
    };

    let out = output.as_object().ok_or("output is not an object")?;
    for (field, expected) in out {
        match field.as_str() {
            "parsed" => match (expected, &parsed) {
                (Value::Null, Some(Ok(p))) => {
                    fails.push(format!("parsed: expected unparseable, got {p:?}"))
                }
                (Value::Null, _) => {}
                (Value::Object(_), Some(Ok(p))) => {
                    check(
                        &mut fails,
                        "parsed.t",
                        str_field(expected, "t")?,
                        &p.timestamp,
                    );
                    check(
                        &mut fails,
                        "parsed.keyId",
                        str_field(expected, "keyId")?,
                        &p.key_id,
                    );
                    check(
                        &mut fails,
                        "parsed.sig",
                        str_field(expected, "sig")?,
                        &p.signature,
                    );
                }
                (Value::Object(_), other) => {
                    fails.push(format!("parsed: our parser says {other:?}"))
                }
                (other, _) => return Err(format!("parsed is neither object nor null: {other}")),
            },
            "hmac_key_hex" => {
                let k = decode_secret_key(&key_b64).map_err(|e| e.to_string())?;
                check(
                    &mut fails,
                    field,
                    str_field(output, field)?,
                    &hex(k.expose_secret()),
                );
            }
            "payload_member_compact" => match payload_member_compact(raw_body) {
                Ok(ours) => check(&mut fails, field, str_field(output, field)?, &ours),
                Err(e) => fails.push(format!("{field}: {e}")),
            },
            "signed_message_payload_member" | "signed_message_raw_body" => {
                let content = content_of(field);
                let Some(Ok(p)) = &parsed else {
                    fails.push(format!("{field}: header does not parse"));
                    continue;
                };
                match signed_message(&p.timestamp, raw_body, content) {
                    Ok(m) => check(
                        &mut fails,
                        field,
                        str_field(output, field)?,
                        &String::from_utf8_lossy(&m),
                    ),
                    Err(e) => fails.push(format!("{field}: {e}")),
                }
            }
            "expected_sig_payload_member" | "expected_sig_raw_body" => {
                let content = content_of(field);
                let Some(Ok(p)) = &parsed else {
                    fails.push(format!("{field}: header does not parse"));
                    continue;
                };
                match signed_message(&p.timestamp, raw_body, content) {
                    Ok(m) => check(
                        &mut fails,
                        field,
                        str_field(output, field)?,
                        &key.signature_b64(&m),
                    ),
                    Err(e) => fails.push(format!("{field}: {e}")),
                }
            }
            "valid_payload_member" | "valid_raw_body" => {
                let want_valid = expected
                    .as_bool()
                    .ok_or_else(|| format!("{field} is not a bool"))?;
                let verifier =
                    WebhookVerifier::new(key.clone()).with_signed_content(content_of(field));
                let result = verifier.verify(header, raw_body, now);
                match (want_valid, result) {
                    (true, Ok(_)) => {}
                    (true, Err(e)) => fails.push(format!("{field}: expected valid, got {e}")),
                    (false, Ok(_)) => fails.push(format!("{field}: expected invalid, verified")),
                    (false, Err(e)) => {
                        if let Some(reason) = expected_reason(v, field) {
                            if !reason_matches(&reason, &e) {
                                fails.push(format!(
                                    "{field}: expected reason {reason:?}, got {} ({e})",
                                    e.code()
                                ));
                            }
                        } else {
                            // No stated reason: the one implied by the inputs.
                            let body_ok = content_of(field) == SignedContent::RawBody
                                || payload_member_compact(raw_body).is_ok();
                            let implied = match &parsed {
                                None => "missing_header",
                                Some(Err(_)) => "malformed_header",
                                Some(Ok(p)) if p.key_id != held_key_id => "unknown_key_id",
                                Some(Ok(_)) if !body_ok => "malformed_body",
                                Some(Ok(_)) => "signature_mismatch",
                            };
                            if e.code() != implied {
                                fails.push(format!(
                                    "{field}: expected {implied}, got {} ({e})",
                                    e.code()
                                ));
                            }
                        }
                    }
                }
            }
            "reason" | "expected_reason" | "expected_error" | "error" | "invalid_reason" => {} // used above
            other => fails.push(format!(
                "output field {other:?} is not checked by this test"
            )),
        }
    }
    if !out.contains_key("valid_payload_member") {
        fails.push("vector has no output.valid_payload_member".into());
    }
    Ok(fails)
}

fn content_of(field: &str) -> SignedContent {
    if field.ends_with("raw_body") {
        SignedContent::RawBody
    } else {
        SignedContent::PayloadMember
    }
}

/// An explicitly stated failure reason, if the vector has one: a string, or an object keyed by
/// the `valid_*` field it explains.
fn expected_reason(v: &Value, valid_field: &str) -> Option<String> {
    let suffix = valid_field.trim_start_matches("valid_");
    [v.get("output"), Some(v)]
        .into_iter()
        .flatten()
        .find_map(|scope| {
            [
                "expected_reason",
                "reason",
                "expected_error",
                "error",
                "invalid_reason",
            ]
            .iter()
            .find_map(|name| match scope.get(*name)? {
                Value::String(s) => Some(s.clone()),
                Value::Object(m) => m
                    .get(suffix)
                    .or_else(|| m.get(valid_field))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            })
        })
}

/// Matches a free-text reason ("tampered body", "unknown key id", "stale", …) to our error.
fn reason_matches(reason: &str, err: &WebhookSignatureError) -> bool {
    let r: String = reason
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let code: String = err
        .code()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if r == code || r.contains(&code) || code.contains(&r) {
        return true;
    }
    let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
    match err {
        WebhookSignatureError::MissingHeader => has(&["missing", "absent", "noheader"]),
        WebhookSignatureError::MalformedHeader(_) => {
            has(&["malformed", "invalidheader", "parse", "format"])
        }
        WebhookSignatureError::UnknownKeyId(_) => has(&["unknownkey", "keyid", "keymismatch"]),
        WebhookSignatureError::StaleTimestamp { .. } => {
            has(&["stale", "expired", "old", "tooearly"])
        }
        WebhookSignatureError::FutureTimestamp { .. } => has(&["future", "ahead"]),
        WebhookSignatureError::SignatureMismatch => has(&[
            "mismatch",
            "tamper",
            "wrongkey",
            "differentkey",
            "badsig",
            "invalidsig",
            "hmac",
        ]),
        WebhookSignatureError::MalformedBody => has(&["body", "json", "payload"]),
        WebhookSignatureError::BodyTooLarge { .. } => has(&["large", "size", "toobig"]),
    }
}
