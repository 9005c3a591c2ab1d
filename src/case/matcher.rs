//! Matchers: what an expected body value may say about the actual one.
//!
//! A scalar in a case means equality; a one-key map names another matcher
//! (`regex`, `uuid`, `ipv4`, `contains`, `length`, `absent`, `not`,
//! `every`, `any_of`, `gt`/`gte`/`lt`/`lte`, `in_cidr`, `set`). Each matcher
//! can describe itself and the actual value in the same words, which is
//! what makes the expected/actual diff of a failing step readable.
//!
//! Matchers that compose (`not`, `every`, `any_of`) exist because a case
//! that only says "this address is there" passes against an emulator that
//! also leaves it on a second interface: the stronger claims ("on no other
//! interface", "every address inside the subnet", "exactly this set")
//! are what IPAM code depends on.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use std::sync::{Arc, OnceLock};

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

/// A count: a number written in the case, or a template that renders to
/// one (`'{{eni.full.max_secondaries}}'`, `'{{before}} + 2'`, where a list
/// capture counts its items).
#[derive(Debug, Clone)]
pub enum Count {
    Fixed(i64),
    Expr(Template),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    fn name(self) -> &'static str {
        match self {
            Comparison::Gt => "gt",
            Comparison::Gte => "gte",
            Comparison::Lt => "lt",
            Comparison::Lte => "lte",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
        }
    }

    fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Comparison::Gt => actual > bound,
            Comparison::Gte => actual >= bound,
            Comparison::Lt => actual < bound,
            Comparison::Lte => actual <= bound,
        }
    }
}

/// A regular expression of a case (`regex:`, an error's `message:`):
/// checked when its case loads, so that a bad one is reported there with
/// its place, and compiled the first time it is matched. Compiling is the
/// costly part and most cases loaded are never run (lint, `--filter`).
#[derive(Clone)]
pub struct Pattern {
    source: String,
    compiled: Arc<OnceLock<Option<Regex>>>,
}

impl Pattern {
    /// The pattern, if it parses; the error reads as the `regex` crate's.
    pub fn new(source: &str) -> Result<Pattern, String> {
        // `regex` parses with these same defaults and reports a syntax
        // error in these words.
        regex_syntax::Parser::new()
            .parse(source)
            .map_err(|e| e.to_string())?;
        Ok(Pattern {
            source: source.to_string(),
            compiled: Arc::new(OnceLock::new()),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches. A pattern that parses but is too big to
    /// compile (past the `regex` crate's size limit) matches nothing.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled
            .get_or_init(|| Regex::new(&self.source).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(text))
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Equals(Expected),
    Regex(Pattern),
    Uuid,
    Ipv4,
    Contains(Expected),
    Length(Count),
    Absent,
    /// The inner matcher does not hold (`{not: {contains: '{{ip}}'}}`).
    Not(Box<Matcher>),
    /// Every item of a list holds it (vacuously true of an empty list; pair
    /// it with `length` where emptiness would be wrong).
    Every(Box<Matcher>),
    /// At least one of these holds.
    AnyOf(Vec<Matcher>),
    /// A number (or numeric text) compared with a count.
    Compare(Comparison, Count),
    /// An IPv4 address inside this CIDR.
    InCidr(Template),
    /// A list with exactly these items, in any order; an item that is one
    /// list variable (`'{{before}}'`) stands for all of its items.
    Set(Vec<Template>),
}

pub const MATCHER_NAMES: &[&str] = &[
    "equals", "regex", "uuid", "ipv4", "contains", "length", "absent", "not", "every", "any_of",
    "gt", "gte", "lt", "lte", "in_cidr", "set",
];

/// A variable's value: captures may hold a list (`capture: {ips: A[*]}`).
#[derive(Debug, Clone, Copy)]
pub enum Var<'a> {
    Text(&'a str),
    List(&'a [String]),
}

/// What templates and matchers resolve `{{variables}}` against.
pub trait Vars {
    fn var(&self, name: &str) -> Option<Var<'_>>;

    /// A scalar variable's text; `None` for an unknown name or a list.
    fn text(&self, name: &str) -> Option<&str> {
        match self.var(name) {
            Some(Var::Text(t)) => Some(t),
            _ => None,
        }
    }
}

/// Scalars only: a plain lookup function (tests, the lint's fixtures).
impl<F> Vars for F
where
    F: Fn(&str) -> Option<&'static str>,
{
    fn var(&self, name: &str) -> Option<Var<'_>> {
        self(name).map(Var::Text)
    }
}

/// Resolves `{{variables}}` while checking.
pub type Lookup<'a> = &'a dyn Vars;

/// Renders `template` where it stands for one scalar value.
pub fn render_text(template: &Template, vars: Lookup<'_>) -> Result<String, String> {
    template
        .render_owned(|v| vars.text(v))
        .map_err(|v| unknown_variable(vars, &v))
}

/// The error for a variable that did not render as text.
pub fn unknown_variable(vars: Lookup<'_>, name: &str) -> String {
    match vars.var(name) {
        Some(Var::List(_)) => format!(
            "`{{{{{name}}}}}` is a list: use it as the whole value of a `.N` parameter, or in `set`, `length` or a comparison"
        ),
        _ => format!("unknown variable `{{{{{name}}}}}`"),
    }
}

/// The items a `set` item or a list parameter stands for: all of a list
/// variable's items when the template is exactly that variable, else the
/// rendered text.
pub fn render_items(template: &Template, vars: Lookup<'_>) -> Result<Vec<String>, String> {
    if let Some(name) = template.sole_variable() {
        if let Some(Var::List(items)) = vars.var(name) {
            return Ok(items.to_vec());
        }
    }
    render_text(template, vars).map(|t| vec![t])
}

impl Count {
    fn from_yaml(value: &serde_yaml::Value, name: &str) -> Result<Count, String> {
        match value {
            serde_yaml::Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Count::Fixed)
                .ok_or_else(|| format!("`{name}:` takes an integer, found {n}")),
            serde_yaml::Value::String(s) => {
                let t = Template::parse(s)?;
                // A literal must already read as a count.
                if t.variables().next().is_none() {
                    eval_sum(s).map(Count::Fixed)
                } else {
                    Ok(Count::Expr(t))
                }
            }
            _ => Err(format!(
                "`{name}:` takes an integer or a template such as '{{{{before}}}} + 1'"
            )),
        }
    }

    /// The count's value: list variables count their items; `a + b - c`
    /// is added up.
    pub fn value(&self, vars: Lookup<'_>) -> Result<i64, String> {
        match self {
            Count::Fixed(n) => Ok(*n),
            Count::Expr(t) => {
                let mut lengths: Vec<(String, String)> = Vec::new();
                for name in t.variables() {
                    if let Some(Var::List(items)) = vars.var(name) {
                        lengths.push((name.to_string(), items.len().to_string()));
                    }
                }
                let text = t
                    .render_owned(|v| {
                        lengths
                            .iter()
                            .find(|(n, _)| n == v)
                            .map(|(_, len)| len.as_str())
                            .or_else(|| vars.text(v))
                    })
                    .map_err(|v| format!("unknown variable `{{{{{v}}}}}`"))?;
                eval_sum(&text).map_err(|e| format!("`{}`: {e}", t.source()))
            }
        }
    }

    fn source(&self) -> String {
        match self {
            Count::Fixed(n) => n.to_string(),
            Count::Expr(t) => t.source(),
        }
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        match self {
            Count::Expr(t) => Some(t.variables()),
            Count::Fixed(_) => None,
        }
        .into_iter()
        .flatten()
    }
}

/// `3`, `2 + 1`, `10 - 1 + 2`: integers added and subtracted.
fn eval_sum(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut sign = Some(1i64);
    let mut any = false;
    for token in text
        .replace('+', " + ")
        .replace('-', " - ")
        .split_whitespace()
    {
        match (token, sign) {
            ("+", None) => sign = Some(1),
            ("-", None) => sign = Some(-1),
            ("-", Some(s)) => sign = Some(-s),
            (n, Some(s)) => {
                let n: i64 = n
                    .parse()
                    .map_err(|_| format!("`{text}` is not a count (integers joined by + or -)"))?;
                total = total
                    .checked_add(s.saturating_mul(n))
                    .ok_or_else(|| format!("`{text}` overflows"))?;
                sign = None;
                any = true;
            }
            _ => {
                return Err(format!(
                    "`{text}` is not a count (integers joined by + or -)"
                ))
            }
        }
    }
    if !any || sign.is_some() {
        return Err(format!(
            "`{text}` is not a count (integers joined by + or -)"
        ));
    }
    Ok(total)
}

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
            Expected::Text(t) => Value::String(render_text(t, lookup)?),
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
        let text = |what: &str| -> Result<Template, String> {
            let s = arg
                .as_str()
                .ok_or_else(|| format!("`{name}:` takes {what}"))?;
            Template::parse(s)
        };
        match name {
            "equals" => Ok(Matcher::Equals(Expected::from_yaml(arg)?)),
            "contains" => Ok(Matcher::Contains(Expected::from_yaml(arg)?)),
            "regex" => {
                let pattern = arg.as_str().ok_or("`regex:` takes a string")?;
                Pattern::new(pattern)
                    .map(Matcher::Regex)
                    .map_err(|e| format!("invalid regex: {e}"))
            }
            "length" => match Count::from_yaml(arg, name)? {
                Count::Fixed(n) if n < 0 => {
                    Err("`length:` takes a non-negative integer".to_string())
                }
                count => Ok(Matcher::Length(count)),
            },
            "uuid" => require_true(Matcher::Uuid),
            "ipv4" => require_true(Matcher::Ipv4),
            "absent" => require_true(Matcher::Absent),
            "not" => Ok(Matcher::Not(Box::new(Matcher::from_yaml(arg)?))),
            "every" => Ok(Matcher::Every(Box::new(Matcher::from_yaml(arg)?))),
            "any_of" => {
                let serde_yaml::Value::Sequence(items) = arg else {
                    return Err("`any_of:` takes a list of matchers or values".into());
                };
                if items.is_empty() {
                    return Err("`any_of:` needs at least one matcher".into());
                }
                items
                    .iter()
                    .map(Matcher::from_yaml)
                    .collect::<Result<_, _>>()
                    .map(Matcher::AnyOf)
            }
            "gt" => Ok(Matcher::Compare(
                Comparison::Gt,
                Count::from_yaml(arg, name)?,
            )),
            "gte" => Ok(Matcher::Compare(
                Comparison::Gte,
                Count::from_yaml(arg, name)?,
            )),
            "lt" => Ok(Matcher::Compare(
                Comparison::Lt,
                Count::from_yaml(arg, name)?,
            )),
            "lte" => Ok(Matcher::Compare(
                Comparison::Lte,
                Count::from_yaml(arg, name)?,
            )),
            "in_cidr" => {
                let t = text("a CIDR such as '{{subnet.cidr}}' or 10.0.0.0/24")?;
                if t.variables().next().is_none() {
                    t.source()
                        .parse::<Ipv4Net>()
                        .map_err(|e| format!("`in_cidr: {}` is not a CIDR: {e}", t.source()))?;
                }
                Ok(Matcher::InCidr(t))
            }
            "set" => match arg {
                serde_yaml::Value::Sequence(items) => items
                    .iter()
                    .map(|item| {
                        crate::fixtures::scalar_to_string(item)
                            .ok_or_else(|| "`set:` items are scalars or templates".to_string())
                            .and_then(|s| Template::parse(&s))
                    })
                    .collect::<Result<_, _>>()
                    .map(Matcher::Set),
                serde_yaml::Value::String(_) => Ok(Matcher::Set(vec![text("a list")?])),
                _ => Err("`set:` takes a list (or one list variable, '{{ips}}')".into()),
            },
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

    /// Every variable this matcher reads, nested ones included.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_variables(&mut out);
        out
    }

    fn collect_variables<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Matcher::Equals(e) | Matcher::Contains(e) => out.extend(e.variables()),
            Matcher::Length(c) | Matcher::Compare(_, c) => out.extend(c.variables()),
            Matcher::InCidr(t) => out.extend(t.variables()),
            Matcher::Set(items) => out.extend(items.iter().flat_map(|t| t.variables())),
            Matcher::Not(m) | Matcher::Every(m) => m.collect_variables(out),
            Matcher::AnyOf(ms) => ms.iter().for_each(|m| m.collect_variables(out)),
            Matcher::Regex(_) | Matcher::Uuid | Matcher::Ipv4 | Matcher::Absent => {}
        }
    }

    /// Checks `actual` (None: the path is absent). On a mismatch returns
    /// the actual value described in the matcher's own terms; a variable
    /// that does not resolve is a mismatch that says so.
    pub fn check(
        &self,
        actual: Option<&Value>,
        xml: bool,
        lookup: Lookup<'_>,
    ) -> Result<(), String> {
        if self.holds(actual, xml, lookup)? {
            Ok(())
        } else {
            Err(self.describe_actual(actual))
        }
    }

    fn holds(&self, actual: Option<&Value>, xml: bool, lookup: Lookup<'_>) -> Result<bool, String> {
        Ok(match (self, actual) {
            (Matcher::Absent, None) => true,
            (Matcher::Absent, Some(_)) => false,
            (Matcher::Not(m), a) => !m.holds(a, xml, lookup)?,
            (Matcher::AnyOf(ms), a) => {
                for m in ms {
                    if m.holds(a, xml, lookup)? {
                        return Ok(true);
                    }
                }
                false
            }
            (_, None) => false,
            (Matcher::Equals(e), Some(a)) => e.matches(&e.render(lookup)?, a, xml),
            (Matcher::Regex(re), Some(a)) => scalar_text(a).is_some_and(|t| re.is_match(&t)),
            (Matcher::Uuid, Some(a)) => {
                scalar_text(a).is_some_and(|t| uuid::Uuid::try_parse(&t).is_ok())
            }
            (Matcher::Ipv4, Some(a)) => {
                scalar_text(a).is_some_and(|t| t.parse::<Ipv4Addr>().is_ok())
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
            (Matcher::Length(count), Some(a)) => {
                let n = count.value(lookup)?;
                match a {
                    Value::Array(items) => items.len() as i64 == n,
                    // One XML element cannot be told from a list of one.
                    Value::String(_) | Value::Object(_) if xml => n == 1,
                    Value::String(s) => s.chars().count() as i64 == n,
                    _ => false,
                }
            }
            (Matcher::Every(m), Some(a)) => {
                for item in as_items(a) {
                    if !m.holds(Some(item), xml, lookup)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Matcher::Compare(cmp, count), Some(a)) => {
                let bound = count.value(lookup)? as f64;
                number_of(a).is_some_and(|n| cmp.holds(n, bound))
            }
            (Matcher::InCidr(t), Some(a)) => {
                let cidr = render_text(t, lookup)?;
                let net: Ipv4Net = cidr
                    .parse()
                    .map_err(|e| format!("`{cidr}` is not a CIDR: {e}"))?;
                scalar_text(a)
                    .and_then(|t| t.parse::<Ipv4Addr>().ok())
                    .is_some_and(|ip| net.contains(&ip))
            }
            (Matcher::Set(items), Some(a)) => {
                let mut want = Vec::new();
                for item in items {
                    want.extend(render_items(item, lookup)?);
                }
                let mut got: Vec<String> = as_items(a).into_iter().map(text).collect();
                want.sort_unstable();
                got.sort_unstable();
                want == got
            }
        })
    }

    /// The expectation in the words the diff shows.
    pub fn describe(&self, lookup: Lookup<'_>) -> String {
        let rendered = |e: &Expected| {
            e.render(lookup)
                .map(|v| v.to_string())
                .unwrap_or_else(|err| err)
        };
        let count = |c: &Count| match c {
            Count::Fixed(n) => n.to_string(),
            Count::Expr(_) => match c.value(lookup) {
                Ok(n) => format!("{n} ({})", c.source()),
                Err(e) => e,
            },
        };
        match self {
            Matcher::Equals(e) => rendered(e),
            Matcher::Regex(re) => format!("matches /{}/", re.as_str()),
            Matcher::Uuid => "a UUID".into(),
            Matcher::Ipv4 => "an IPv4 address".into(),
            Matcher::Contains(e) => format!("contains {}", rendered(e)),
            Matcher::Length(c) => format!("length {}", count(c)),
            Matcher::Absent => "absent".into(),
            Matcher::Not(m) => format!("not ({})", m.describe(lookup)),
            Matcher::Every(m) => format!("every item: {}", m.describe(lookup)),
            Matcher::AnyOf(ms) => format!(
                "any of: {}",
                ms.iter()
                    .map(|m| m.describe(lookup))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            Matcher::Compare(cmp, c) => format!("{} {}", cmp.symbol(), count(c)),
            Matcher::InCidr(t) => format!("in {}", render_text(t, lookup).unwrap_or_else(|e| e)),
            Matcher::Set(items) => {
                let mut all = Vec::new();
                for item in items {
                    match render_items(item, lookup) {
                        Ok(v) => all.extend(v),
                        Err(e) => all.push(e),
                    }
                }
                all.sort_unstable();
                format!("the set {}", Value::from(all))
            }
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
            (Matcher::Set(_), _) => {
                let mut got: Vec<String> = as_items(a).into_iter().map(text).collect();
                got.sort_unstable();
                format!("the set {}", Value::from(got))
            }
            _ => shown,
        }
    }

    /// The name a case writes for this matcher (`equals` for a scalar).
    pub fn name(&self) -> &'static str {
        match self {
            Matcher::Equals(_) => "equals",
            Matcher::Regex(_) => "regex",
            Matcher::Uuid => "uuid",
            Matcher::Ipv4 => "ipv4",
            Matcher::Contains(_) => "contains",
            Matcher::Length(_) => "length",
            Matcher::Absent => "absent",
            Matcher::Not(_) => "not",
            Matcher::Every(_) => "every",
            Matcher::AnyOf(_) => "any_of",
            Matcher::Compare(c, _) => c.name(),
            Matcher::InCidr(_) => "in_cidr",
            Matcher::Set(_) => "set",
        }
    }
}

/// A list's items; one XML element (or any non-list) is a list of one.
fn as_items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        // An empty XML list element reads as an empty string.
        Value::String(s) if s.is_empty() => Vec::new(),
        other => vec![other],
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
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

    #[test]
    fn a_pattern_is_refused_in_the_words_of_the_regex_crate_and_matches_as_it() {
        for pattern in [
            "(",
            "[a-",
            "a{2,1}",
            "(?<n>a)(?<n>b)",
            "\\",
            "x**",
            "\\p{Nope}",
            "ok",
        ] {
            let ours = Pattern::new(pattern).map(|_| ());
            let theirs = Regex::new(pattern).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{pattern}");
        }
        let p = Pattern::new("(?i)not found").unwrap();
        assert!(p.is_match("The ENI was NOT FOUND."));
        assert!(!p.clone().is_match("found"));
        assert_eq!(p.as_str(), "(?i)not found");
    }
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

    /// Scalars and one list, as a runner's scope holds them.
    struct Scope;

    impl Vars for Scope {
        fn var(&self, name: &str) -> Option<Var<'_>> {
            match name {
                "cidr" => Some(Var::Text("10.0.0.0/24")),
                "n" => Some(Var::Text("2")),
                "ip" => Some(Var::Text("10.0.0.9")),
                "before" => Some(Var::List(BEFORE)),
                _ => None,
            }
        }
    }

    static BEFORE: &[String] = &[];

    fn scope_with_list() -> impl Vars {
        struct WithList(Vec<String>);
        impl Vars for WithList {
            fn var(&self, name: &str) -> Option<Var<'_>> {
                match name {
                    "before" => Some(Var::List(&self.0)),
                    other => Scope.var(other),
                }
            }
        }
        WithList(vec!["10.0.0.5".into(), "10.0.0.6".into()])
    }

    #[test]
    fn composed_matchers_accept_and_reject() {
        let l: Lookup = &Scope;
        assert!(m("{not: {contains: '{{ip}}'}}")
            .check(Some(&json!(["10.0.0.1"])), false, l)
            .is_ok());
        assert!(m("{not: {contains: '{{ip}}'}}")
            .check(Some(&json!(["10.0.0.9"])), false, l)
            .is_err());
        assert!(m("{not: {absent: true}}").check(None, false, l).is_err());
        assert!(m("{every: {in_cidr: '{{cidr}}'}}")
            .check(Some(&json!(["10.0.0.1", "10.0.0.200"])), false, l)
            .is_ok());
        assert!(m("{every: {in_cidr: '{{cidr}}'}}")
            .check(Some(&json!(["10.0.0.1", "10.0.1.1"])), false, l)
            .is_err());
        assert!(m("{every: {ipv4: true}}")
            .check(Some(&json!([])), false, l)
            .is_ok());
        assert!(m("{any_of: [A, B]}")
            .check(Some(&json!("B")), false, l)
            .is_ok());
        assert!(m("{any_of: [A, {regex: '^C'}]}")
            .check(Some(&json!("D")), false, l)
            .is_err());
        assert!(m("{in_cidr: 10.0.0.0/24}")
            .check(Some(&json!("not an ip")), false, l)
            .is_err());
    }

    #[test]
    fn comparisons_and_counts_read_numbers_text_and_lists() {
        let l: Lookup = &Scope;
        assert!(m("{gt: 1}").check(Some(&json!(2)), false, l).is_ok());
        assert!(m("{gt: 2}").check(Some(&json!(2)), false, l).is_err());
        assert!(m("{gte: '{{n}}'}")
            .check(Some(&json!("2")), false, l)
            .is_ok());
        assert!(m("{lt: '{{n}} + 1'}")
            .check(Some(&json!(3)), false, l)
            .is_err());
        assert!(m("{lte: '{{n}} - 1'}")
            .check(Some(&json!(1)), false, l)
            .is_ok());
        assert!(m("{gt: 1}").check(Some(&json!("x")), false, l).is_err());
        let with_list = scope_with_list();
        let l: Lookup = &with_list;
        assert!(m("{length: '{{before}} + 1'}")
            .check(Some(&json!(["a", "b", "c"])), false, l)
            .is_ok());
        assert_eq!(
            m("{length: '{{before}}'}").check(Some(&json!(["a"])), false, l),
            Err("length 1 [\"a\"]".into())
        );
        assert!(m("{length: '{{nothing}}'}")
            .check(Some(&json!([])), false, l)
            .unwrap_err()
            .contains("unknown variable"));
    }

    #[test]
    fn sets_ignore_order_and_splice_list_variables() {
        let with_list = scope_with_list();
        let l: Lookup = &with_list;
        assert!(m("{set: ['{{ip}}', '{{before}}']}")
            .check(Some(&json!(["10.0.0.6", "10.0.0.9", "10.0.0.5"])), false, l)
            .is_ok());
        assert!(m("{set: ['{{ip}}', '{{before}}']}")
            .check(Some(&json!(["10.0.0.6", "10.0.0.9"])), false, l)
            .is_err());
        assert!(
            m("{set: '{{before}}'}")
                .check(Some(&json!(["10.0.0.5", "10.0.0.6", "10.0.0.6"])), false, l)
                .is_err(),
            "a set is checked with its multiplicity: a duplicate is a difference"
        );
        // One XML element is a list of one.
        assert!(m("{set: ['{{ip}}']}")
            .check(Some(&json!("10.0.0.9")), true, l)
            .is_ok());
        assert_eq!(
            m("{set: [b, a]}").describe(l),
            "the set [\"a\",\"b\"]",
            "described sorted, as the actual side is"
        );
    }

    #[test]
    fn malformed_new_matchers_are_refused_with_the_reason() {
        for (yaml, says) in [
            ("{any_of: []}", "at least one"),
            ("{any_of: x}", "list"),
            ("{in_cidr: 10.0.0.0/33}", "not a CIDR"),
            ("{gt: x}", "not a count"),
            ("{length: -1}", "non-negative"),
            ("{set: {a: 1}}", "list"),
            ("{not: {lenght: 1}}", "did you mean `length`"),
        ] {
            let v = serde_yaml::from_str(yaml).unwrap();
            let err = Matcher::from_yaml(&v).unwrap_err();
            assert!(err.contains(says), "{yaml}: {err}");
        }
    }

    #[test]
    fn unknown_matcher_suggests() {
        let v = serde_yaml::from_str("{lenght: 1}").unwrap();
        let err = Matcher::from_yaml(&v).unwrap_err();
        assert!(err.contains("did you mean `length`"), "{err}");
    }
}
