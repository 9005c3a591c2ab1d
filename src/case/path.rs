//! Body paths: `AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress[0]`.
//!
//! Dot-separated keys, `[n]` to index an array, `[*]` to map over one,
//! `[?key=value]` to keep the items whose `key` reads `value` (the
//! secondaries of `PrivateIpSet[?Primary=false]`: the vendors mark the
//! primary with a flag, not a position, so a position cannot pick it). The
//! same path must work on a JSON body and on an XML body turned into JSON,
//! where one child element cannot be told from a list of one: so `[0]` on a
//! non-array is the node itself and `[*]` on a non-array is a list of it.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
    All,
    /// `[?key=value]`: the items whose `key` has this text (a number or a
    /// boolean compared as its text, as XML gives it).
    Filter(String, String),
}

/// A parsed body path; parse once at load, select many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPath {
    text: String,
    segments: Vec<Segment>,
    fans_out: bool,
}

impl BodyPath {
    pub fn parse(text: &str) -> Result<BodyPath, String> {
        let mut segments = Vec::new();
        if text.trim().is_empty() {
            return Err("a body path must not be empty".into());
        }
        for part in text.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if key.is_empty() && rest.is_empty() {
                return Err(format!("empty key in path `{text}` (two dots in a row?)"));
            }
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_string()));
            }
            while !rest.is_empty() {
                let close = rest
                    .find(']')
                    .ok_or_else(|| format!("unclosed `[` in path `{text}`"))?;
                let inner = &rest[1..close];
                segments.push(match inner {
                    "*" => Segment::All,
                    filter if filter.starts_with('?') => {
                        let (key, value) = filter[1..].split_once('=').ok_or_else(|| {
                            format!("`[{filter}]` in path `{text}` must read `[?key=value]`")
                        })?;
                        if key.is_empty() {
                            return Err(format!(
                                "`[{filter}]` in path `{text}` names no key; write `[?key=value]`"
                            ));
                        }
                        Segment::Filter(key.to_string(), value.to_string())
                    }
                    n => Segment::Index(n.parse().map_err(|_| {
                        format!("`[{n}]` in path `{text}` must be `[*]`, `[?key=value]` or a number such as `[0]`")
                    })?),
                });
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(format!(
                        "unexpected `{rest}` after `]` in path `{text}`; separate keys with `.`"
                    ));
                }
            }
        }
        let fans_out = segments
            .iter()
            .any(|s| matches!(s, Segment::All | Segment::Filter(..)));
        Ok(BodyPath {
            text: text.to_string(),
            segments,
            fans_out,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path selects a list (it has `[*]` or a filter): such a
    /// path always yields an array, possibly empty.
    pub fn fans_out(&self) -> bool {
        self.fans_out
    }

    /// The value at this path, `None` when absent. A path with `[*]` or a
    /// filter yields an array of what each kept element holds (elements
    /// lacking it are skipped).
    pub fn select(&self, root: &Value) -> Option<Value> {
        if !self.fans_out {
            return select_single(root, &self.segments).cloned();
        }
        let mut out = Vec::new();
        select_many(root, &self.segments, &mut out);
        Some(Value::Array(out.into_iter().cloned().collect()))
    }
}

impl fmt::Display for BodyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn select_single<'a>(mut node: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    for seg in segments {
        node = match (seg, node) {
            (Segment::Key(k), Value::Object(map)) => map.get(k)?,
            (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
            (Segment::Index(0), other) => other,
            _ => return None,
        };
    }
    Some(node)
}

fn select_many<'a>(node: &'a Value, segments: &[Segment], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(node);
        return;
    };
    match (first, node) {
        (Segment::All, Value::Array(items)) => {
            for item in items {
                select_many(item, rest, out);
            }
        }
        (Segment::All, other) => select_many(other, rest, out),
        (Segment::Filter(key, value), Value::Array(items)) => {
            for item in items.iter().filter(|i| field_reads(i, key, value)) {
                select_many(item, rest, out);
            }
        }
        (Segment::Filter(key, value), other) if field_reads(other, key, value) => {
            select_many(other, rest, out);
        }
        (Segment::Key(k), Value::Object(map)) => {
            if let Some(child) = map.get(k) {
                select_many(child, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                select_many(child, rest, out);
            }
        }
        (Segment::Index(0), other) => select_many(other, rest, out),
        _ => {}
    }
}

/// Whether `item` is an object whose `key` holds `value` as text.
fn field_reads(item: &Value, key: &str, value: &str) -> bool {
    match item.get(key) {
        Some(Value::String(s)) => s == value,
        Some(Value::Number(n)) => n.to_string() == value,
        Some(Value::Bool(b)) => value == if *b { "true" } else { "false" },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_keys_indexes_and_fans_out() {
        let body = json!({"A": {"L": [{"ip": "1"}, {"ip": "2"}, {"x": 0}]}});
        let p = BodyPath::parse("A.L[1].ip").unwrap();
        assert_eq!(p.select(&body), Some(json!("2")));
        let p = BodyPath::parse("A.L[*].ip").unwrap();
        assert_eq!(p.select(&body), Some(json!(["1", "2"])));
        assert_eq!(BodyPath::parse("A.M").unwrap().select(&body), None);
    }

    #[test]
    fn one_xml_element_is_a_list_of_one() {
        let body = json!({"Set": {"Ip": "10.0.0.1"}});
        assert_eq!(
            BodyPath::parse("Set.Ip[0]").unwrap().select(&body),
            Some(json!("10.0.0.1"))
        );
        assert_eq!(
            BodyPath::parse("Set.Ip[*]").unwrap().select(&body),
            Some(json!(["10.0.0.1"]))
        );
    }

    #[test]
    fn filters_keep_matching_items_in_json_and_xml() {
        let body = json!({"S": [
            {"ip": "10.0.0.1", "Primary": true},
            {"ip": "10.0.0.2", "Primary": false},
            {"ip": "10.0.0.3", "Primary": "false"},
            {"ip": "10.0.0.4"}
        ]});
        let secondaries = BodyPath::parse("S[?Primary=false].ip").unwrap();
        assert!(secondaries.fans_out());
        assert_eq!(
            secondaries.select(&body),
            Some(json!(["10.0.0.2", "10.0.0.3"]))
        );
        let primary = BodyPath::parse("S[?Primary=true].ip").unwrap();
        assert_eq!(primary.select(&body), Some(json!(["10.0.0.1"])));
        // Nothing kept is an empty list, not an absent value.
        let none = BodyPath::parse("S[?Primary=maybe].ip").unwrap();
        assert_eq!(none.select(&body), Some(json!([])));
        // One XML element is a list of one.
        let one = json!({"S": {"ip": "10.0.0.9", "Primary": "true"}});
        assert_eq!(primary.select(&one), Some(json!(["10.0.0.9"])));
        assert!(BodyPath::parse("S[?Primary].ip")
            .unwrap_err()
            .contains("[?key=value]"));
        assert!(BodyPath::parse("S[?=x].ip").unwrap_err().contains("no key"));
    }

    #[test]
    fn malformed_paths_say_what_is_wrong() {
        assert!(BodyPath::parse("A.L[x]").unwrap_err().contains("[*]"));
        assert!(BodyPath::parse("A.L[0").unwrap_err().contains("unclosed"));
        assert!(BodyPath::parse("A..B").unwrap_err().contains("empty key"));
    }
}
