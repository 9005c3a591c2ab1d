//! Normalization: volatile values replaced by placeholders before a body or
//! a diff line is shown, so two runs' reports differ only where the target
//! behaved differently.
//!
//! A request id, a timestamp or a UUID changes on every call; an address or
//! task id the case captured changes from run to run on a real cloud. Shown
//! raw, they make every diff between two nightly reports noisy and can hide
//! the one line that matters. The rules, in the order they apply (and as
//! docs/REPORT.md lists them):
//!
//! 1. By JSON key name (case-insensitive), the whole value: request ids
//!    (`RequestId`, `request_id`, …) become `<request-id>`, nonces and
//!    client tokens `<nonce>`, and a 10- or 13-digit number (or string of
//!    digits) under a time-like key (`…time`, `…timestamp`, `…date`, `…_at`)
//!    `<epoch-s>` or `<epoch-ms>`.
//! 2. By value pattern, anywhere in a string: ISO 8601 date-times
//!    (`2026-11-30T06:33:23Z`, `2026-11-30 06:33:23`) become `<timestamp>`,
//!    UUIDs `<uuid>`.
//! 3. Values the case captured (at least [`MIN_CAPTURE_LEN`] characters, so
//!    a captured `0` does not rewrite every zero) become `{{name}}`, as the
//!    case itself writes them, where they stand as a whole token.
//!
//! Only what reports *show* is normalized. The judge compares the raw reply,
//! and a mismatched pair of diff lines that normalization would make equal
//! is shown raw ([`Normalizer::check_lines`]), so a difference is never
//! hidden. Each replacement in a body is recorded with its original value
//! ([`Replacement`]): a request id is still there for a support ticket.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Captured values shorter than this are left alone: short values (`0`,
/// `true`, `SET`) occur everywhere and their replacement would mislead.
pub const MIN_CAPTURE_LEN: usize = 4;

/// Which rule replaced a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    RequestId,
    Nonce,
    EpochSeconds,
    EpochMillis,
    Timestamp,
    Uuid,
    Capture,
}

impl Rule {
    /// The rule's name, as report.json spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::RequestId => "request_id",
            Rule::Nonce => "nonce",
            Rule::EpochSeconds => "epoch_seconds",
            Rule::EpochMillis => "epoch_millis",
            Rule::Timestamp => "timestamp",
            Rule::Uuid => "uuid",
            Rule::Capture => "capture",
        }
    }
}

/// One value a body showed normalized, with what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// JSON Pointer (RFC 6901) of the value in the body.
    pub pointer: String,
    pub rule: Rule,
    /// The value as received (a string; numbers in their JSON text).
    pub original: String,
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
        .expect("a valid regex")
});

static ISO_8601: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?\b",
    )
    .expect("a valid regex")
});

const REQUEST_ID_KEYS: &[&str] = &[
    "requestid",
    "request_id",
    "x-acs-request-id",
    "x-request-id",
];

const NONCE_KEYS: &[&str] = &[
    "nonce",
    "signaturenonce",
    "x-acs-signature-nonce",
    "clienttoken",
    "client_token",
];

/// Whether `key` names a point in time, whose epoch numbers are volatile.
fn is_time_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["time", "timestamp", "date", "_at"]
        .iter()
        .any(|end| k.ends_with(end))
}

/// The placeholder of a rule applied to a whole value under `key`, if any.
fn by_key(key: &str, value: &Value) -> Option<(Rule, &'static str)> {
    let k = key.to_ascii_lowercase();
    let text = match value {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if REQUEST_ID_KEYS.contains(&k.as_str()) {
        return Some((Rule::RequestId, "<request-id>"));
    }
    if NONCE_KEYS.contains(&k.as_str()) {
        return Some((Rule::Nonce, "<nonce>"));
    }
    if is_time_key(&k) && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.len() {
            10 => Some((Rule::EpochSeconds, "<epoch-s>")),
            13 => Some((Rule::EpochMillis, "<epoch-ms>")),
            _ => None,
        };
    }
    None
}

/// Replaces volatile values in what reports show. Made per case: the
/// captured values are that case's.
#[derive(Debug, Default, Clone)]
pub struct Normalizer {
    /// `(name, value)`, longest value first, so that a value containing
    /// another is replaced whole.
    captures: Vec<(String, String)>,
}

impl Normalizer {
    pub fn new<'a>(captures: impl IntoIterator<Item = (&'a str, &'a str)>) -> Normalizer {
        let mut captures: Vec<(String, String)> = captures
            .into_iter()
            .filter(|(_, v)| v.chars().count() >= MIN_CAPTURE_LEN)
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        captures.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        captures.dedup_by(|a, b| a.1 == b.1);
        Normalizer { captures }
    }

    /// `body` with volatile values replaced, and what was replaced.
    pub fn body(&self, body: &Value) -> (Value, Vec<Replacement>) {
        let mut replaced = Vec::new();
        let shown = self.value(body, None, &mut String::new(), &mut replaced);
        (shown, replaced)
    }

    fn value(
        &self,
        v: &Value,
        key: Option<&str>,
        pointer: &mut String,
        replaced: &mut Vec<Replacement>,
    ) -> Value {
        if let Some((rule, placeholder)) = key.and_then(|k| by_key(k, v)) {
            replaced.push(Replacement {
                pointer: pointer.clone(),
                rule,
                original: scalar(v),
            });
            return Value::String(placeholder.to_string());
        }
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, item)| {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                        let shown = self.value(item, Some(k), pointer, replaced);
                        pointer.truncate(len);
                        (k.clone(), shown)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                        let shown = self.value(item, None, pointer, replaced);
                        pointer.truncate(len);
                        shown
                    })
                    .collect(),
            ),
            Value::String(s) => {
                let (shown, rule) = self.text_with_rule(s);
                if let Some(rule) = rule {
                    replaced.push(Replacement {
                        pointer: pointer.clone(),
                        rule,
                        original: s.clone(),
                    });
                    Value::String(shown)
                } else {
                    v.clone()
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                match self.captures.iter().find(|(_, value)| *value == text) {
                    Some((name, _)) => {
                        replaced.push(Replacement {
                            pointer: pointer.clone(),
                            rule: Rule::Capture,
                            original: text,
                        });
                        Value::String(format!("{{{{{name}}}}}"))
                    }
                    None => v.clone(),
                }
            }
            Value::Bool(_) | Value::Null => v.clone(),
        }
    }

    /// Free text (a message, a diff line) with the pattern and capture
    /// rules applied.
    pub fn text(&self, s: &str) -> String {
        self.text_with_rule(s).0
    }

    /// The text and the first rule that changed it, if any.
    fn text_with_rule(&self, s: &str) -> (String, Option<Rule>) {
        let mut rule = None;
        let mut out = s.to_string();
        if ISO_8601.is_match(&out) {
            out = ISO_8601.replace_all(&out, "<timestamp>").into_owned();
            rule = Some(Rule::Timestamp);
        }
        if UUID.is_match(&out) {
            out = UUID.replace_all(&out, "<uuid>").into_owned();
            rule = rule.or(Some(Rule::Uuid));
        }
        for (name, value) in &self.captures {
            let with = replace_token(&out, value, &format!("{{{{{name}}}}}"));
            if with != out {
                out = with;
                rule = rule.or(Some(Rule::Capture));
            }
        }
        (out, rule)
    }

    /// One diff line, `label: value`: the key rules apply to the value of
    /// a `body.…` line when it is a JSON literal (not a matcher's words
    /// such as `a UUID`), then the text rules to the whole line.
    pub fn line(&self, line: &str) -> String {
        if let Some((label, value)) = line.split_once(": ") {
            if let Some(path) = label.strip_prefix("body.") {
                let key = last_key(path);
                if let Ok(literal @ (Value::String(_) | Value::Number(_))) =
                    serde_json::from_str::<Value>(value)
                {
                    if let Some((_, placeholder)) = by_key(key, &literal) {
                        return format!("{label}: {placeholder}");
                    }
                }
            }
        }
        self.text(line)
    }

    /// The expected and actual lines of a step, normalized pair by pair
    /// (the two lists are index-aligned). A pair that differs raw but would
    /// read the same normalized stays raw: normalization never hides a
    /// difference.
    pub fn check_lines(
        &self,
        expected: &[String],
        actual: &[String],
    ) -> (Vec<String>, Vec<String>) {
        let mut e_out = Vec::with_capacity(expected.len());
        let mut a_out = Vec::with_capacity(actual.len());
        for i in 0..expected.len().max(actual.len()) {
            let (e, a) = (expected.get(i), actual.get(i));
            let (ne, na) = (e.map(|l| self.line(l)), a.map(|l| self.line(l)));
            if e != a && ne == na {
                e_out.extend(e.cloned());
                a_out.extend(a.cloned());
            } else {
                e_out.extend(ne);
                a_out.extend(na);
            }
        }
        (e_out, a_out)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The last object key of a body path as the diff prints it
/// (`A.B[*].RequestId` -> `RequestId`, `"x.y"` -> `x.y`).
fn last_key(path: &str) -> &str {
    let mut end = path.len();
    // Drop trailing index or wildcard selectors: `Key[0]`, `Key[*]`.
    while path[..end].ends_with(']') {
        match path[..end].rfind('[') {
            Some(open) => end = open,
            None => break,
        }
    }
    let path = &path[..end];
    let start = path.rfind('.').map_or(0, |i| i + 1);
    path[start..].trim_matches('"')
}

/// Whether `c` continues a token, so that `10.0.0.7` is not found inside
/// `10.0.0.70` nor `eni-1` inside `eni-12`.
fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// `text` with every whole-token occurrence of `value` replaced by `with`.
fn replace_token(text: &str, value: &str, with: &str) -> String {
    if value.is_empty() || !text.contains(value) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(value) {
        let prev = rest[..at].chars().next_back().or(before);
        let after = &rest[at + value.len()..];
        let mut next = after.chars();
        let next_char = next.next();
        // A dot followed by a token character continues the token too
        // (`10.0.0.7` inside `10.0.0.7.5`), a full stop does not.
        let continues = match next_char {
            Some('.') => next.next().is_some_and(is_token_char),
            Some(c) => is_token_char(c),
            None => false,
        };
        let starts_inside = prev.is_some_and(|c| is_token_char(c) || c == '.');
        out.push_str(&rest[..at]);
        if continues || starts_inside {
            out.push_str(value);
        } else {
            out.push_str(with);
        }
        before = value.chars().next_back();
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_ids_nonces_and_epochs_go_by_key() {
        let n = Normalizer::default();
        let (shown, replaced) = n.body(&json!({
            "RequestId": "E1DCE407-30D3-4039-8726-37DB065A61D9",
            "data": {"requestId": "x1", "createTime": 1796020403, "Nonce": 42},
            "x-ncp-apigw-timestamp": "1796020403334",
            "PageNumber": 1796020403,
            "Name": ""
        }));
        assert_eq!(
            shown,
            json!({
                "RequestId": "<request-id>",
                "data": {"requestId": "<request-id>", "createTime": "<epoch-s>", "Nonce": "<nonce>"},
                "x-ncp-apigw-timestamp": "<epoch-ms>",
                "PageNumber": 1796020403,
                "Name": ""
            })
        );
        assert_eq!(replaced.len(), 5);
        assert_eq!(replaced[0].pointer, "/RequestId");
        assert_eq!(replaced[0].original, "E1DCE407-30D3-4039-8726-37DB065A61D9");
        assert_eq!(replaced[2].pointer, "/data/createTime");
        assert_eq!(replaced[2].original, "1796020403");
    }

    #[test]
    fn timestamps_and_uuids_go_by_pattern_anywhere() {
        let n = Normalizer::default();
        let (shown, replaced) = n.body(&json!({
            "CreationTime": "2026-11-30T06:33:23Z",
            "createTime": "2026-11-30 06:33:23",
            "Message": "request 473469c7-aa6f-4dc5-b3db-a3dc0de3c83e at 2026-11-30T06:33:23.120+08:00 failed",
            "Status": "Available"
        }));
        assert_eq!(shown["CreationTime"], "<timestamp>");
        assert_eq!(shown["createTime"], "<timestamp>");
        assert_eq!(shown["Message"], "request <uuid> at <timestamp> failed");
        assert_eq!(shown["Status"], "Available");
        assert_eq!(replaced.len(), 3);
    }

    #[test]
    fn captured_values_become_their_names_as_whole_tokens_only() {
        let n = Normalizer::new([("ip", "10.0.0.7"), ("task", "16284"), ("flag", "0")]);
        let (shown, _) = n.body(&json!({
            "ips": ["10.0.0.7", "10.0.0.70", "110.0.0.7"],
            "taskId": 16284,
            "code": 0,
            "note": "moved 10.0.0.7. done"
        }));
        assert_eq!(shown["ips"], json!(["{{ip}}", "10.0.0.70", "110.0.0.7"]));
        assert_eq!(shown["taskId"], "{{task}}");
        assert_eq!(shown["code"], 0, "short captures are left alone");
        assert_eq!(shown["note"], "moved {{ip}}. done");
    }

    #[test]
    fn diff_lines_keep_matcher_words_and_never_hide_a_difference() {
        let n = Normalizer::new([("ip", "10.0.0.7")]);
        assert_eq!(n.line("body.RequestId: a UUID"), "body.RequestId: a UUID");
        assert_eq!(
            n.line("body.RequestId: \"E1DCE407-30D3-4039-8726-37DB065A61D9\""),
            "body.RequestId: <request-id>"
        );
        assert_eq!(
            n.line("body.A.Set[*].Ip: contains \"10.0.0.7\""),
            "body.A.Set[*].Ip: contains \"{{ip}}\""
        );
        // Two different request ids: normalized alike, so shown raw.
        let expected = vec![
            "status: 200".to_string(),
            "body.RequestId: \"a\"".to_string(),
        ];
        let actual = vec![
            "status: 200".to_string(),
            "body.RequestId: \"b\"".to_string(),
        ];
        let (e, a) = n.check_lines(&expected, &actual);
        assert_eq!(e, expected);
        assert_eq!(a, actual);
        // A real difference beside a volatile one keeps the placeholder.
        let actual = vec![
            "status: 200".to_string(),
            "body.When: \"2026-11-30T06:33:23Z\"".to_string(),
        ];
        let expected = vec!["status: 200".to_string(), "body.When: absent".to_string()];
        let (_, a) = n.check_lines(&expected, &actual);
        assert_eq!(a[1], "body.When: \"<timestamp>\"");
    }

    #[test]
    fn last_key_of_a_body_path() {
        assert_eq!(last_key("A.B[*].RequestId"), "RequestId");
        assert_eq!(last_key("RequestId"), "RequestId");
        assert_eq!(last_key("data.taskId[0][1]"), "taskId");
    }
}
