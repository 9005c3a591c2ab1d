//! A dialect's side of the portable boundary: `specs/<dialect>/_portable.yaml`.
//!
//! The binding is data, beside the specs it refers to: which operation and
//! parameters each neutral operation becomes, which of the dialect's
//! fixtures each neutral fixture name is, where the neutral views of an
//! interface (its secondaries, its primary) sit in the dialect's read, and
//! which steps settle a change (Tencent polls its task, NAVER polls until
//! the interface has left `SET`). It is read with the specs, strictly, and
//! checked against them at once (every operation and parameter it names
//! exists, every view is a list path), so a scenario can only fail to
//! compile for reasons of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{Capability, NEUTRAL_FIXTURES};
use crate::case::{list_placeholder, BodyPath, Matcher, ParamValue, RawWait, Template, Wait};
use crate::diag::{closest, find_key, Diagnostic};
use crate::dialect::DialectId;
use crate::fixtures::scalar_to_string;
use crate::spec::{OperationSpec, SourceFile};

/// The binding's own variable for the interface a step is about.
pub const ENI_VARIABLE: &str = "eni";

/// Captures of binding steps are renamed into this namespace in the
/// compiled case, so they never meet a scenario's own capture names.
pub const CAPTURE_PREFIX: &str = "portable.";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    dialect: String,
    #[serde(default)]
    source: Option<String>,
    /// Neutral fixture name -> this dialect's fixture name.
    #[serde(default)]
    fixtures: BTreeMap<String, String>,
    /// Neutral fixture name -> a literal value (no fixture needed).
    #[serde(default)]
    literals: BTreeMap<String, serde_yaml::Value>,
    operations: RawOperations,
    #[serde(default)]
    settle: Vec<RawSettle>,
    /// Capability -> why this dialect lacks it (quoting its documents).
    #[serde(default)]
    unsupported: BTreeMap<Capability, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperations {
    assign: RawChange,
    unassign: RawChange,
    list: RawList,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChange {
    call: String,
    #[serde(default)]
    with: serde_yaml::Mapping,
    /// The repeat list of explicit addresses, under its placeholder name.
    #[serde(default)]
    ips: Option<String>,
    /// The parameter that asks for a number of addresses.
    #[serde(default)]
    count: Option<String>,
    /// A call with neither list nor count assigns one address the cloud
    /// picks (ENS).
    #[serde(default)]
    assigns_one: bool,
    /// Parameters added when a step allows reassignment.
    #[serde(default)]
    allow_reassign: Option<serde_yaml::Mapping>,
    /// Captured from a successful reply, for the settle steps.
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    call: String,
    #[serde(default)]
    with: serde_yaml::Mapping,
    views: RawViews,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawViews {
    secondaries: String,
    primary: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettle {
    call: String,
    #[serde(default)]
    with: serde_yaml::Mapping,
    #[serde(default)]
    wait: Option<RawWait>,
}

/// A checked binding.
#[derive(Debug, Clone)]
pub struct Binding {
    pub dialect: DialectId,
    /// `specs/<dialect>/_portable.yaml`, for messages.
    pub file: String,
    pub source: Option<String>,
    pub fixtures: BTreeMap<String, String>,
    pub literals: BTreeMap<String, String>,
    pub assign: ChangeOp,
    pub unassign: ChangeOp,
    pub list: ListOp,
    pub settle: Vec<SettleStep>,
    pub unsupported: BTreeMap<Capability, String>,
}

#[derive(Debug, Clone)]
pub struct ChangeOp {
    pub call: String,
    pub with: Vec<(String, Template)>,
    pub ips: Option<String>,
    pub count: Option<String>,
    pub assigns_one: bool,
    pub allow_reassign: Option<Vec<(String, Template)>>,
    pub capture: Vec<(String, BodyPath)>,
}

#[derive(Debug, Clone)]
pub struct ListOp {
    pub call: String,
    pub with: Vec<(String, Template)>,
    pub secondaries: BodyPath,
    pub primary: BodyPath,
}

#[derive(Debug, Clone)]
pub struct SettleStep {
    pub call: String,
    pub with: Vec<(String, Template)>,
    pub wait: Option<Wait>,
}

impl Binding {
    /// Whether the dialect offers `capability`, and why not when it does not.
    pub fn lacks(&self, capability: Capability) -> Option<String> {
        let offered = match capability {
            Capability::Ips => self.assign.ips.is_some(),
            Capability::Count => self.assign.count.is_some(),
            Capability::AllowReassign => self.assign.allow_reassign.is_some(),
        };
        (!offered).then(|| {
            self.unsupported
                .get(&capability)
                .cloned()
                .unwrap_or_else(|| {
                    format!("{} does not offer {}", self.dialect, capability.describe())
                })
        })
    }

    /// `with` parameters of one of the binding's operations for the
    /// interface `eni` (a template such as `{{eni.available}}`, or an id),
    /// the binding's own captures renamed into [`CAPTURE_PREFIX`].
    pub fn bind(
        &self,
        with: &[(String, Template)],
        eni: &str,
    ) -> Result<Vec<(String, ParamValue)>, String> {
        let captures: Vec<&str> = self.capture_names().collect();
        with.iter()
            .map(|(name, t)| {
                let text = t.substitute(|var| if var == ENI_VARIABLE { Some(eni) } else { None });
                let renamed = Template::parse(&text)
                    .map(|t| {
                        let owned: Vec<(String, String)> = t
                            .variables()
                            .filter(|v| captures.contains(v))
                            .map(|v| (v.to_string(), format!("{{{{{CAPTURE_PREFIX}{v}}}}}")))
                            .collect();
                        t.substitute(|var| {
                            owned
                                .iter()
                                .find(|(k, _)| k == var)
                                .map(|(_, v)| v.as_str())
                        })
                    })
                    .and_then(|text| Template::parse(&text))?;
                Ok((name.clone(), ParamValue::Text(renamed)))
            })
            .collect()
    }

    /// The names the binding's captures take in a compiled case.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.assign
            .capture
            .iter()
            .chain(&self.unassign.capture)
            .map(|(n, _)| n.as_str())
    }
}

/// Reads and checks one binding; `operations` looks up the dialect's specs.
pub fn parse<'s>(
    file: &SourceFile,
    dialect: DialectId,
    operation: &dyn Fn(&str) -> Option<&'s OperationSpec>,
    operation_names: &[&str],
) -> Result<Binding, Vec<Diagnostic>> {
    let raw: RawBinding = serde_yaml::from_str(&file.text)
        .map_err(|e| vec![Diagnostic::from_yaml(&file.path, &file.text, &e)])?;
    let mut cx = Checker {
        file,
        diags: Vec::new(),
    };
    if raw.dialect != dialect.as_str() {
        cx.error(
            "dialect",
            format!(
                "`dialect: {}` in a file under specs/{dialect}/; write `dialect: {dialect}`",
                raw.dialect
            ),
            None,
        );
    }
    for neutral in raw.fixtures.keys().chain(raw.literals.keys()) {
        if !NEUTRAL_FIXTURES.iter().any(|(n, _)| n == neutral) {
            let hint = closest(neutral, NEUTRAL_FIXTURES.iter().map(|(n, _)| *n))
                .map(|b| format!("did you mean `{b}`?"))
                .unwrap_or_else(|| "neutral fixture names are listed in docs/FORMATS.md".into());
            cx.error(
                neutral,
                format!("`{neutral}` is not a neutral fixture name"),
                Some(hint),
            );
        }
    }
    let mut literals = BTreeMap::new();
    for (name, value) in &raw.literals {
        match scalar_to_string(value) {
            Some(text) => {
                literals.insert(name.clone(), text);
            }
            None => cx.error(
                name,
                format!("literal `{name}` must be a scalar (text, number or boolean)"),
                None,
            ),
        }
    }
    let mut check_call = |cx: &mut Checker<'_>, call: &str| -> Option<&'s OperationSpec> {
        let spec = operation(call);
        if spec.is_none() {
            let hint = closest(call, operation_names.iter().copied())
                .map(|b| format!("did you mean `{b}`?"))
                .unwrap_or_else(|| format!("add specs/{dialect}/{call}.yaml first"));
            cx.error(
                call,
                format!("`{call}` is not an operation of the {dialect} specs"),
                Some(hint),
            );
        }
        spec
    };
    let assign = change(&mut cx, &raw.operations.assign, "assign", &mut check_call);
    let unassign = change(
        &mut cx,
        &raw.operations.unassign,
        "unassign",
        &mut check_call,
    );
    if raw.operations.unassign.ips.is_none() {
        cx.error(
            "unassign",
            "`operations.unassign` needs `ips`: the list parameter of the addresses to release"
                .into(),
            None,
        );
    }
    if raw.operations.unassign.count.is_some() || raw.operations.unassign.assigns_one {
        cx.error(
            "unassign",
            "`count` and `assigns_one` belong to `assign` only".into(),
            None,
        );
    }
    let list_spec = check_call(&mut cx, &raw.operations.list.call);
    let list_with = cx.params(&raw.operations.list.with, list_spec);
    let secondaries = cx.view("secondaries", &raw.operations.list.views.secondaries);
    let primary = cx.view("primary", &raw.operations.list.views.primary);
    let mut settle = Vec::new();
    for step in &raw.settle {
        let spec = check_call(&mut cx, &step.call);
        let with = cx.params(&step.with, spec);
        if let (Some(spec), Some(_)) = (spec, &step.wait) {
            if !spec.readonly {
                cx.error(
                    &step.call,
                    format!(
                        "`{}` changes state, so a settle step cannot repeat it; `wait` polls reads only",
                        step.call
                    ),
                    None,
                );
            }
        }
        let wait = step.wait.as_ref().map(|w| cx.wait(w));
        settle.push(SettleStep {
            call: step.call.clone(),
            with,
            wait,
        });
    }
    for (capability, why) in &raw.unsupported {
        let offered = match capability {
            Capability::Ips => raw.operations.assign.ips.is_some(),
            Capability::Count => raw.operations.assign.count.is_some(),
            Capability::AllowReassign => raw.operations.assign.allow_reassign.is_some(),
        };
        if offered {
            cx.error(
                "unsupported",
                format!(
                    "`unsupported` says why {} is missing, but `operations.assign` offers it",
                    capability.as_str()
                ),
                None,
            );
        }
        if why.trim().is_empty() {
            cx.error(
                capability.as_str(),
                "say why, quoting the document".into(),
                None,
            );
        }
    }
    // A view that did not parse has said why already.
    let (Some(secondaries), Some(primary), true) = (secondaries, primary, cx.diags.is_empty())
    else {
        return Err(cx.diags);
    };
    Ok(Binding {
        dialect,
        file: file.path.clone(),
        source: raw.source,
        fixtures: raw.fixtures,
        literals,
        assign,
        unassign,
        list: ListOp {
            call: raw.operations.list.call.clone(),
            with: list_with,
            secondaries,
            primary,
        },
        settle,
        unsupported: raw.unsupported,
    })
}

fn change<'s>(
    cx: &mut Checker<'_>,
    raw: &RawChange,
    name: &str,
    check_call: &mut dyn FnMut(&mut Checker<'_>, &str) -> Option<&'s OperationSpec>,
) -> ChangeOp {
    let spec = check_call(cx, &raw.call);
    let with = cx.params(&raw.with, spec);
    if let (Some(spec), Some(ips)) = (spec, &raw.ips) {
        let is_list = spec
            .parameters
            .iter()
            .any(|p| p.name == *ips && p.is_list());
        if !is_list || list_placeholder(ips).is_none() {
            cx.error(
                ips,
                format!(
                    "`ips: {ips}` must name a repeat-list parameter of {} under its placeholder (`PrivateIpAddress.N`)",
                    raw.call
                ),
                None,
            );
        }
    }
    if let (Some(spec), Some(count)) = (spec, &raw.count) {
        if !spec.knows(count) {
            cx.error(
                count,
                format!("`{count}` is not a parameter of {}", raw.call),
                closest(count, spec.parameter_names()).map(|b| format!("did you mean `{b}`?")),
            );
        }
    }
    if raw.assigns_one && raw.count.is_some() {
        cx.error(
            "assigns_one",
            format!("`{name}` has a `count`; `assigns_one` is for an operation without one"),
            None,
        );
    }
    let allow_reassign = raw
        .allow_reassign
        .as_ref()
        .map(|params| cx.params(params, spec));
    let mut capture = Vec::new();
    for (capture_name, path) in &raw.capture {
        match BodyPath::parse(path) {
            Ok(p) => capture.push((capture_name.clone(), p)),
            Err(e) => cx.error(capture_name, e, None),
        }
    }
    ChangeOp {
        call: raw.call.clone(),
        with,
        ips: raw.ips.clone(),
        count: raw.count.clone(),
        assigns_one: raw.assigns_one,
        allow_reassign,
        capture,
    }
}

struct Checker<'f> {
    file: &'f SourceFile,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// A problem at `key:`, or else where `key` is first written as a
    /// value (an operation or parameter named in `call:` or `ips:`).
    fn error(&mut self, key: &str, message: String, hint: Option<String>) {
        let mut d = Diagnostic::new(&self.file.path, message);
        let at = find_key(&self.file.text, key, 1, usize::MAX)
            .or_else(|| find_value(&self.file.text, key));
        if let Some((line, col)) = at {
            d = d.at(&self.file.text, line, col);
        }
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        self.diags.push(d);
    }

    /// `with` parameters: known to the operation, scalar templates whose
    /// variables are `{{eni}}`, a capture of the binding, or (checked by the
    /// lint, per case) a fixture of the dialect.
    fn params(
        &mut self,
        with: &serde_yaml::Mapping,
        spec: Option<&OperationSpec>,
    ) -> Vec<(String, Template)> {
        let mut out = Vec::with_capacity(with.len());
        for (key, value) in with {
            let Some(name) = scalar_to_string(key) else {
                self.error("with", "parameter names must be text".into(), None);
                continue;
            };
            if let Some(spec) = spec {
                if !spec.knows(&name) {
                    let hint = closest(&name, spec.parameter_names())
                        .map(|b| format!("did you mean `{b}`?"));
                    self.error(
                        &name,
                        format!("`{name}` is not a parameter of {}", spec.operation),
                        hint,
                    );
                }
            }
            match scalar_to_string(value).map(|t| Template::parse(&t)) {
                Some(Ok(t)) => {
                    for var in t.variables() {
                        if var.starts_with(CAPTURE_PREFIX) {
                            self.error(
                                &name,
                                format!("`{{{{{var}}}}}`: names starting `{CAPTURE_PREFIX}` are the compiler's"),
                                None,
                            );
                        }
                    }
                    out.push((name, t));
                }
                Some(Err(e)) => self.error(&name, e, None),
                None => self.error(
                    &name,
                    format!("parameter `{name}` must be a scalar (text, number or boolean)"),
                    None,
                ),
            }
        }
        out
    }

    fn view(&mut self, key: &str, text: &str) -> Option<BodyPath> {
        match BodyPath::parse(text) {
            Ok(p) if p.fans_out() => Some(p),
            Ok(_) => {
                self.error(
                    key,
                    format!("the `{key}` view `{text}` selects one value; a view is a list"),
                    Some("end it in `[*]` or select with `[?key=value]`, so that one address is a list of one".into()),
                );
                None
            }
            Err(e) => {
                self.error(key, e, None);
                None
            }
        }
    }

    fn wait(&mut self, raw: &RawWait) -> Wait {
        let mut matchers = |map: &serde_yaml::Mapping, key: &str| {
            let mut out = Vec::new();
            for (k, v) in map {
                let Some(path) = k.as_str() else {
                    self.error(key, "body paths must be text".into(), None);
                    continue;
                };
                match (BodyPath::parse(path), Matcher::from_yaml(v)) {
                    (Ok(p), Ok(m)) => out.push((p, m)),
                    (Err(e), _) | (_, Err(e)) => self.error(path, e, None),
                }
            }
            out
        };
        let until = matchers(&raw.until, "until");
        let halt_on = raw
            .halt_on
            .as_ref()
            .map(|m| matchers(m, "halt_on"))
            .unwrap_or_default();
        let interval = self.duration(raw.interval.as_deref(), "interval", Wait::DEFAULT_INTERVAL);
        Wait {
            until,
            halt_on,
            timeout: self.duration(raw.timeout.as_deref(), "timeout", Wait::DEFAULT_TIMEOUT),
            interval,
            max_interval: self.duration(
                raw.max_interval.as_deref(),
                "max_interval",
                Wait::DEFAULT_MAX_INTERVAL.max(interval),
            ),
        }
    }

    fn duration(&mut self, text: Option<&str>, key: &str, default: Duration) -> Duration {
        match text.map(humantime::parse_duration) {
            None => default,
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                self.error(key, format!("`{key}` must be more than zero"), None);
                default
            }
            Some(Err(e)) => {
                self.error(
                    key,
                    format!("`{key}` is not a duration: {e}"),
                    Some("write e.g. `500ms`, `2s` or `1m`".into()),
                );
                default
            }
        }
    }
}

/// The first place `value` is written as a whole value (after `: `, not as
/// part of a longer name): where a misnamed operation or parameter sits.
fn find_value(text: &str, value: &str) -> Option<(usize, usize)> {
    let boundary =
        |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(value) {
            let start = from + pos;
            let end = start + value.len();
            if boundary(line[..start].chars().last()) && boundary(line[end..].chars().next()) {
                return Some((i + 1, line[..start].chars().count() + 1));
            }
            from = end;
        }
    }
    None
}
