//! Matchers: what an expected body value may say about the actual one.
//!
//! A scalar in a case means equality; a one-key map names another matcher
//! (`regex`, `uuid`, `ipv4`, `contains`, `length`, `absent`). Each matcher
//! can describe itself and the actual value in the same words, which is
//! what makes the expected/actual diff of a failing step readable.

use regex::Regex;
use serde_json::Value;

use super::template::Template;

/// An expected scalar; text may hold `{{variables}}`.
#[derive(Debug, Clone)]
pub enum Expected {
    Text(Template),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Equals(Expected),
    Regex(Regex),
    Uuid,
    Ipv4,
    Contains(Expected),
    Length(usize),
    Absent,
}

pub const MATCHER_NAMES: &[&str] = &[
    "equals", "regex", "uuid", "ipv4", "contains", "length", "absent",
];

/// Resolves `{{variables}}` while checking.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<&'a str>;

impl Expected {
    pub fn from_yaml(value: &serde_yaml::Value) -> Result<Expected, String> {
        Ok(match value {
            serde_yaml::Value::Null => Expected::Null,
            serde_yaml::Value::Bool(b) => Expected::Bool(*b),
            serde_yaml::Value::Number(n) => Expected::Number(
                serde_json::to_value(n)
                    .ok()
                    .and_then(|v| v.as_number().cloned())
                    .ok_or_else(|| format!("{n} is not a number JSON can hold"))?,
            ),
            serde_yaml::Value::String(s) => Expected::Text(Template::parse(s)?),
            other => {
                return Err(format!(
                    "expected a scalar here, found {}",
                    yaml_kind(other)
                ))
            }
        })
    }

    fn render(&self, lookup: Lookup<'_>) -> Result<Value, String> {
        Ok(match self {
            Expected::Text(t) => Value::String(
                t.render_owned(lookup)
                    .map_err(|v| format!("unknown variable `{{{{{v}}}}}`"))?,
            ),
            Expected::Number(n) => Value::Number(n.clone()),
            Expected::Bool(b) => Value::Bool(*b),
            Expected::Null => Value::Null,
        })
    }

    /// Text given in a case matches its number or boolean on the wire
    /// only when the body is XML, where every leaf is text.
    fn matches(&self, expected: &Value, actual: &Value, xml: bool) -> bool {
        if expected == actual {
            return true;
        }
        let loose = xml || matches!(self, Expected::Text(_));
        loose && scalar_text(expected).is_some() && scalar_text(expected) == scalar_text(actual)
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        match self {
            Expected::Text(t) => Some(t.variables()),
            _ => None,
        }
        .into_iter()
        .flatten()
    }
}

impl Matcher {
    pub fn from_yaml(value: &serde_yaml::Value) -> Result<Matcher, String> {
        let serde_yaml::Value::Mapping(map) = value else {
            return Ok(Matcher::Equals(Expected::from_yaml(value)?));
        };
        if map.len() != 1 {
            return Err(format!(
                "a matcher is a scalar or a map with exactly one of: {}",
                MATCHER_NAMES.join(", ")
            ));
        }
        let (key, arg) = map.iter().next().expect("one entry");
        let name = key.as_str().unwrap_or_default();
        let require_true = |m: Matcher| match arg {
            serde_yaml::Value::Bool(true) => Ok(m),
            _ => Err(format!("write `{name}: true`")),
        };
        match name {
            "equals" => Ok(Matcher::Equals(Expected::from_yaml(arg)?)),
            "contains" => Ok(Matcher::Contains(Expected::from_yaml(arg)?)),
            "regex" => {
                let pattern = arg.as_str().ok_or("`regex:` takes a string")?;
                Regex::new(pattern)
                    .map(Matcher::Regex)
                    .map_err(|e| format!("invalid regex: {e}"))
            }
            "length" => arg
                .as_u64()
                .map(|n| Matcher::Length(n as usize))
                .ok_or_else(|| "`length:` takes a non-negative integer".to_string()),
            "uuid" => require_true(Matcher::Uuid),
            "ipv4" => require_true(Matcher::Ipv4),
            "absent" => require_true(Matcher::Absent),
            other => {
                let mut msg = format!(
                    "unknown matcher `{other}`; matchers: {}",
                    MATCHER_NAMES.join(", ")
                );
                if let Some(best) = crate::diag::closest(other, MATCHER_NAMES.iter().copied()) {
                    msg.push_str(&format!(" (did you mean `{best}`?)"));
                }
                Err(msg)
            }
        }
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        match self {
            Matcher::Equals(e) | Matcher::Contains(e) => Some(e.variables()),
            _ => None,
        }
        .into_iter()
        .flatten()
    }

    /// Checks `actual` (None: the path is absent). On a mismatch returns
    /// the actual value described in the matcher's own terms.
    pub fn check(
        &self,
        actual: Option<&Value>,
        xml: bool,
        lookup: Lookup<'_>,
    ) -> Result<(), String> {
        let ok = match (self, actual) {
            (Matcher::Absent, None) => true,
            (Matcher::Absent, Some(_)) | (_, None) => false,
            (Matcher::Equals(e), Some(a)) => e.matches(&e.render(lookup)?, a, xml),
            (Matcher::Regex(re), Some(a)) => scalar_text(a).is_some_and(|t| re.is_match(&t)),
            (Matcher::Uuid, Some(a)) => {
                scalar_text(a).is_some_and(|t| uuid::Uuid::try_parse(&t).is_ok())
            }
            (Matcher::Ipv4, Some(a)) => {
                scalar_text(a).is_some_and(|t| t.parse::<std::net::Ipv4Addr>().is_ok())
            }
            (Matcher::Contains(e), Some(a)) => {
                let want = e.render(lookup)?;
                match a {
                    Value::Array(items) => items.iter().any(|i| e.matches(&want, i, xml)),
                    Value::String(s) if xml => e.matches(&want, a, xml) || s.contains(&text(&want)),
                    Value::String(s) => s.contains(&text(&want)),
                    _ => false,
                }
            }
            (Matcher::Length(n), Some(a)) => match a {
                Value::Array(items) => items.len() == *n,
                // One XML element cannot be told from a list of one.
                Value::String(_) | Value::Object(_) if xml => *n == 1,
                Value::String(s) => s.chars().count() == *n,
                _ => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(self.describe_actual(actual))
        }
    }

    /// The expectation in the words the diff shows.
    pub fn describe(&self, lookup: Lookup<'_>) -> String {
        match self {
            Matcher::Equals(e) => e
                .render(lookup)
                .map(|v| v.to_string())
                .unwrap_or_else(|err| err),
            Matcher::Regex(re) => format!("matches /{}/", re.as_str()),
            Matcher::Uuid => "a UUID".into(),
            Matcher::Ipv4 => "an IPv4 address".into(),
            Matcher::Contains(e) => format!(
                "contains {}",
                e.render(lookup)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|err| err)
            ),
            Matcher::Length(n) => format!("length {n}"),
            Matcher::Absent => "absent".into(),
        }
    }

    fn describe_actual(&self, actual: Option<&Value>) -> String {
        let Some(a) = actual else {
            return "absent".into();
        };
        let shown = compact(a);
        match (self, a) {
            (Matcher::Length(_), Value::Array(items)) => {
                format!("length {} {shown}", items.len())
            }
            (Matcher::Length(_), Value::String(s)) => format!("length {} {shown}", s.len()),
            (Matcher::Absent, _) => format!("present: {shown}"),
            _ => shown,
        }
    }
}

/// A one-line rendering, cut so that one huge array does not bury the diff.
pub fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        let cut = s.char_indices().nth(200).map(|(i, _)| i).unwrap_or(s.len());
        format!("{}… ({} bytes)", &s[..cut], s.len())
    } else {
        s
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    scalar_text(v).unwrap_or_else(|| v.to_string())
}

fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a map",
        serde_yaml::Value::Tagged(_) => "a tagged value",
        _ => "a scalar",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(yaml: &str) -> Matcher {
        Matcher::from_yaml(&serde_yaml::from_str(yaml).unwrap()).unwrap()
    }

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn each_matcher_accepts_and_rejects() {
        let l: Lookup = &none;
        assert!(m("5").check(Some(&json!(5)), false, l).is_ok());
        assert!(m("5").check(Some(&json!(6)), false, l).is_err());
        assert!(m("{regex: '^eni-'}")
            .check(Some(&json!("eni-1")), false, l)
            .is_ok());
        assert!(m("{regex: '^eni-'}")
            .check(Some(&json!("vsw-1")), false, l)
            .is_err());
        assert!(m("{uuid: true}")
            .check(
                Some(&json!("473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E")),
                false,
                l
            )
            .is_ok());
        assert!(m("{uuid: true}")
            .check(Some(&json!("nope")), false, l)
            .is_err());
        assert!(m("{ipv4: true}")
            .check(Some(&json!("10.0.0.1")), false, l)
            .is_ok());
        assert!(m("{ipv4: true}")
            .check(Some(&json!("10.0.0.256")), false, l)
            .is_err());
        assert!(m("{contains: a}")
            .check(Some(&json!(["a", "b"])), false, l)
            .is_ok());
        assert!(m("{contains: c}")
            .check(Some(&json!(["a", "b"])), false, l)
            .is_err());
        assert!(m("{length: 2}")
            .check(Some(&json!(["a", "b"])), false, l)
            .is_ok());
        assert_eq!(
            m("{length: 1}").check(Some(&json!(["a", "b"])), false, l),
            Err("length 2 [\"a\",\"b\"]".into())
        );
        assert!(m("{absent: true}").check(None, false, l).is_ok());
        assert!(m("{absent: true}")
            .check(Some(&json!(1)), false, l)
            .is_err());
        assert_eq!(m("x").check(None, false, l), Err("absent".into()));
    }

    #[test]
    fn xml_leaves_are_text_and_single_elements_are_lists() {
        let l: Lookup = &none;
        assert!(m("10").check(Some(&json!("10")), true, l).is_ok());
        assert!(m("10").check(Some(&json!("10")), false, l).is_err());
        assert!(m("{length: 1}")
            .check(Some(&json!("10.0.0.1")), true, l)
            .is_ok());
        assert!(m("{contains: 10.0.0.1}")
            .check(Some(&json!("10.0.0.1")), true, l)
            .is_ok());
    }

    #[test]
    fn templates_resolve_at_check_time() {
        let lookup = |k: &str| (k == "ip").then_some("10.0.0.9");
        let l: Lookup = &lookup;
        assert!(m("'{{ip}}'")
            .check(Some(&json!("10.0.0.9")), false, l)
            .is_ok());
        assert!(m("{contains: '{{ip}}'}")
            .check(Some(&json!(["10.0.0.9"])), false, l)
            .is_ok());
    }

    #[test]
    fn unknown_matcher_suggests() {
        let v = serde_yaml::from_str("{lenght: 1}").unwrap();
        let err = Matcher::from_yaml(&v).unwrap_err();
        assert!(err.contains("did you mean `length`"), "{err}");
    }
}
