//! Reading scenario files: serde for the shape (an unknown key, such as a
//! neutral operation that does not exist, is placed with a "did you
//! mean"), then a pass that checks what serde cannot, dialect by dialect
//! nothing yet: one operation per step, the keys each operation takes,
//! neutral fixture names, variables, views, matchers, kinds, `per_dialect`
//! and one observed step per scenario. Every problem is a [`Diagnostic`]
//! at `file:line:col`, all of a run's together.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::{
    Capability, Expectation, NeutralStep, Op, Outcome, Scenario, ScenarioFile, View, ViewCheck,
    INTERFACES, NEUTRAL_FIXTURES,
};
use crate::case::{locate_ids, Matcher, Template, BUILTIN_VARIABLES};
use crate::diag::{closest, find_key_in, Diagnostic, Diagnostics};
use crate::dialect::DialectId;
use crate::fixtures::scalar_to_string;
use crate::spec::Kind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    scenarios: Vec<RawScenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    id: String,
    title: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    needs: Vec<Capability>,
    /// Powers beyond the API the scenario needs of its target (the
    /// emulator's clock for exact timing).
    #[serde(default)]
    requires: Option<RawRequires>,
    steps: Vec<RawStep>,
    #[serde(default)]
    cleanup: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequires {
    #[serde(default)]
    powers: Vec<crate::case::Power>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    assign: Option<String>,
    #[serde(default)]
    unassign: Option<String>,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    wait_until: Option<String>,
    #[serde(default)]
    settle: Option<String>,
    #[serde(default)]
    ips: Option<serde_yaml::Value>,
    #[serde(default)]
    count: Option<serde_yaml::Value>,
    #[serde(default)]
    allow_reassign: Option<bool>,
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    observe: Option<bool>,
    #[serde(default)]
    expect: Option<serde_yaml::Value>,
    #[serde(default)]
    capture: Option<serde_yaml::Mapping>,
    #[serde(default)]
    until: Option<serde_yaml::Mapping>,
    #[serde(default)]
    timeout: Option<String>,
}

/// Loads every scenario file in `dir`; a missing folder holds none.
pub fn load_dir(dir: &Path) -> Result<Vec<ScenarioFile>, Diagnostics> {
    load_dir_where(dir, &|_, _| true)
}

/// Like [`load_dir`], parsing only the files `keep` accepts, given their
/// group (`portable.<stem>`) and their text.
pub fn load_dir_where(
    dir: &Path,
    keep: &dyn Fn(&str, &str) -> bool,
) -> Result<Vec<ScenarioFile>, Diagnostics> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let paths = crate::diag::yaml_files_in(dir).map_err(|d| Diagnostics(vec![d]))?;
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::new(
                    path.display().to_string(),
                    format!("failed to read: {e}"),
                ));
                continue;
            }
        };
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        if !keep(&format!("{}.{stem}", super::FOLDER), &text) {
            continue;
        }
        match parse_file(&path, text) {
            Ok(f) => files.push(f),
            Err(mut d) => diags.append(&mut d.0),
        }
    }
    // Scenario ids are unique across files: a comparison row names one.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for file in &files {
        for s in &file.scenarios {
            if let Some(other) = seen.insert(&s.id, &file.display) {
                if other != file.display {
                    diags.push(
                        Diagnostic::new(
                            &file.display,
                            format!("scenario id `{}` is used twice", s.id),
                        )
                        .at(&file.text, s.line, 1)
                        .with_hint(format!("it is also a scenario of {other}; rename one")),
                    );
                }
            }
        }
    }
    if diags.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(diags))
    }
}

/// Parses one scenario file from its text; `path` names it in messages.
pub fn parse_file(path: &Path, text: String) -> Result<ScenarioFile, Diagnostics> {
    let display = path.display().to_string();
    let raw: RawFile = serde_yaml::from_str(&text)
        .map_err(|e| Diagnostics(vec![Diagnostic::from_yaml(&display, &text, &e)]))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut cx = Cx {
        display: &display,
        text: &text,
        lines: &lines,
        diags: Vec::new(),
    };
    let ranges = locate_ids(&lines, raw.scenarios.iter().map(|s| s.id.as_str()));
    let mut scenarios = Vec::with_capacity(raw.scenarios.len());
    let mut ids = HashSet::new();
    for (raw_scenario, &(line, end_line)) in raw.scenarios.iter().zip(&ranges) {
        let id = &raw_scenario.id;
        if id.is_empty()
            || id.contains(char::is_whitespace)
            || id.contains("::")
            || id.contains(['[', ']'])
        {
            cx.error(
                "id",
                line,
                end_line,
                format!(
                    "scenario id `{id}` must be non-empty kebab-case (no spaces, `::` or brackets)"
                ),
                None,
            );
        }
        if !ids.insert(id.clone()) {
            cx.error(
                "id",
                line,
                end_line,
                format!("scenario id `{id}` is used twice in this file"),
                None,
            );
        }
        scenarios.push(cx.scenario(raw_scenario, line, end_line));
    }
    if !cx.diags.is_empty() {
        return Err(Diagnostics(cx.diags));
    }
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Ok(ScenarioFile {
        path: path.to_path_buf(),
        display,
        group: format!("{}.{stem}", super::FOLDER),
        source: raw.source,
        tags: raw.tags,
        scenarios,
        text,
    })
}

struct Cx<'a> {
    display: &'a str,
    text: &'a str,
    lines: &'a [&'a str],
    diags: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn error(&mut self, key: &str, from: usize, to: usize, message: String, hint: Option<String>) {
        let mut d = Diagnostic::new(self.display, message);
        d = match find_key_in(self.lines, key, from, to) {
            Some((line, col)) => d.at(self.text, line, col),
            None if from > 0 => d.at(self.text, from, 1),
            None => d,
        };
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        self.diags.push(d);
    }

    fn scenario(&mut self, raw: &RawScenario, line: usize, end_line: usize) -> Scenario {
        let cleanup_line = find_key_in(self.lines, "cleanup", line, end_line).map(|(l, _)| l);
        let steps_end = cleanup_line.map(|l| l - 1).unwrap_or(end_line);
        let step_at = locate_steps(self.lines, line, steps_end);
        let cleanup_at = cleanup_line
            .map(|l| locate_steps(self.lines, l, end_line))
            .unwrap_or_default();
        let mut captures: Vec<String> = Vec::new();
        let steps = self.steps(&raw.steps, &step_at, steps_end, &mut captures, false);
        let cleanup = self.steps(&raw.cleanup, &cleanup_at, end_line, &mut captures, true);
        if steps.is_empty() {
            self.error(
                "steps",
                line,
                end_line,
                "a scenario needs at least one step".into(),
                None,
            );
        }
        let observed = steps.iter().filter(|s| s.observe).count();
        if observed != 1 && !steps.is_empty() {
            self.error(
                "steps",
                line,
                end_line,
                format!(
                    "scenario `{}` marks {observed} steps `observe: true`; mark exactly one",
                    raw.id
                ),
                Some("the observed step's outcome is the scenario's cell in the comparison".into()),
            );
        }
        Scenario {
            id: raw.id.clone(),
            title: raw.title.clone(),
            source: raw.source.clone(),
            tags: raw.tags.clone(),
            needs: raw.needs.clone(),
            powers: raw
                .requires
                .as_ref()
                .map(|r| r.powers.clone())
                .unwrap_or_default(),
            steps,
            cleanup,
            line,
            end_line,
        }
    }

    fn steps(
        &mut self,
        raw: &[RawStep],
        at: &[(usize, usize)],
        region_end: usize,
        captures: &mut Vec<String>,
        cleanup: bool,
    ) -> Vec<NeutralStep> {
        let mut out = Vec::with_capacity(raw.len());
        for (i, step) in raw.iter().enumerate() {
            let (line, col) = at.get(i).copied().unwrap_or((0, 0));
            let end_line = at.get(i + 1).map(|(l, _)| l - 1).unwrap_or(region_end);
            if let Some(s) = self.step(step, (line, col, end_line), captures, cleanup) {
                captures.extend(s.capture.iter().map(|(n, _)| n.clone()));
                out.push(s);
            }
        }
        out
    }

    fn step(
        &mut self,
        raw: &RawStep,
        (line, col, end_line): (usize, usize, usize),
        captures: &[String],
        cleanup: bool,
    ) -> Option<NeutralStep> {
        let ops: Vec<(Op, &String)> = [
            (Op::Assign, &raw.assign),
            (Op::Unassign, &raw.unassign),
            (Op::List, &raw.list),
            (Op::WaitUntil, &raw.wait_until),
            (Op::Settle, &raw.settle),
        ]
        .into_iter()
        .filter_map(|(op, eni)| eni.as_ref().map(|e| (op, e)))
        .collect();
        let (op, eni) = match ops.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    "steps",
                    line,
                    end_line,
                    "a step names no neutral operation".into(),
                    Some(format!("start it with one of: {}", Op::KEYS.join(", "))),
                );
                return None;
            }
            [_, second, ..] => {
                self.error(
                    second.0.as_str(),
                    line,
                    end_line,
                    format!(
                        "a step names one neutral operation; this one names {}",
                        ops.iter()
                            .map(|(o, _)| o.as_str())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                    Some("split it into one step per operation".into()),
                );
                return None;
            }
        };
        let here = (line, end_line);
        if !INTERFACES.contains(&eni.as_str()) {
            let hint = closest(eni, INTERFACES.iter().copied())
                .map(|b| format!("did you mean `{b}`?"))
                .unwrap_or_else(|| format!("interfaces: {}", INTERFACES.join(", ")));
            self.error(
                op.as_str(),
                line,
                end_line,
                format!("`{eni}` is not a neutral interface name"),
                Some(hint),
            );
        }
        // Which keys each operation takes.
        let allowed: &[&str] = match op {
            Op::Assign => &[
                "ips",
                "count",
                "allow_reassign",
                "wait",
                "observe",
                "expect",
            ],
            Op::Unassign => &["ips", "wait", "observe", "expect"],
            Op::List => &["observe", "expect", "capture"],
            Op::WaitUntil => &["until", "timeout", "capture"],
            Op::Settle => &[],
        };
        let given: [(&str, bool); 9] = [
            ("ips", raw.ips.is_some()),
            ("count", raw.count.is_some()),
            ("allow_reassign", raw.allow_reassign.is_some()),
            ("wait", raw.wait.is_some()),
            ("observe", raw.observe.is_some()),
            ("expect", raw.expect.is_some()),
            ("capture", raw.capture.is_some()),
            ("until", raw.until.is_some()),
            ("timeout", raw.timeout.is_some()),
        ];
        for (key, present) in given {
            if present && !allowed.contains(&key) {
                self.error(
                    key,
                    line,
                    end_line,
                    format!("`{}` takes no `{key}`", op.as_str()),
                    Some(if allowed.is_empty() {
                        format!("`{}` takes nothing but the interface", op.as_str())
                    } else {
                        format!("`{}` takes: {}", op.as_str(), allowed.join(", "))
                    }),
                );
            }
        }
        if cleanup && raw.observe == Some(true) {
            self.error(
                "observe",
                line,
                end_line,
                "a cleanup step cannot be observed".into(),
                Some("observe a step of `steps`".into()),
            );
        }
        let known = |name: &str| {
            NEUTRAL_FIXTURES.iter().any(|(n, _)| *n == name)
                || captures.iter().any(|c| c == name)
                || BUILTIN_VARIABLES.contains(&name)
        };
        let ips = raw
            .ips
            .as_ref()
            .and_then(|v| self.templates(v, here, &known));
        if op == Op::Unassign && raw.ips.is_none() {
            self.error(
                "unassign",
                line,
                end_line,
                "`unassign` needs `ips`: the addresses to release".into(),
                None,
            );
        }
        let count = raw.count.as_ref().and_then(|v| self.count(v, here, &known));
        if op == Op::Assign && raw.ips.is_none() && raw.count.is_none() {
            self.error(
                "assign",
                line,
                end_line,
                "`assign` needs `ips`, `count`, or both".into(),
                None,
            );
        }
        let expect = self.expectation(raw.expect.as_ref(), op, here, &known);
        let mut capture = Vec::new();
        for (k, v) in raw.capture.iter().flatten() {
            let (Some(name), Some(view)) = (k.as_str(), v.as_str()) else {
                self.error(
                    "capture",
                    line,
                    end_line,
                    "`capture` maps a name to a view, both text".into(),
                    None,
                );
                continue;
            };
            match View::parse(view) {
                Some(view) => {
                    if name.starts_with(super::binding::CAPTURE_PREFIX)
                        || NEUTRAL_FIXTURES.iter().any(|(n, _)| *n == name)
                        || name.contains(char::is_whitespace)
                    {
                        self.error(
                            name,
                            line,
                            end_line,
                            format!("`{name}` cannot name a capture (a neutral fixture, or the compiler's namespace)"),
                            None,
                        );
                    }
                    capture.push((name.to_string(), view));
                }
                None => self.error(
                    name,
                    line,
                    end_line,
                    format!("`{view}` is not a view"),
                    Some(format!("views: {}", View::KEYS.join(", "))),
                ),
            }
        }
        let until = match (&raw.until, op) {
            (Some(map), _) => self.view_checks(map, here, &known),
            (None, Op::WaitUntil) => {
                self.error(
                    "wait_until",
                    line,
                    end_line,
                    "`wait_until` needs `until`: the views' conditions to wait for".into(),
                    None,
                );
                Vec::new()
            }
            (None, _) => Vec::new(),
        };
        let timeout = match raw.timeout.as_deref().map(humantime::parse_duration) {
            None => None,
            Some(Ok(d)) if !d.is_zero() => Some(d),
            Some(_) => {
                self.error(
                    "timeout",
                    line,
                    end_line,
                    "`timeout` must be a duration above zero".into(),
                    Some("write e.g. `30s` or `2m`".into()),
                );
                None
            }
        };
        Some(NeutralStep {
            op,
            eni: eni.clone(),
            ips,
            count,
            allow_reassign: raw.allow_reassign.unwrap_or(false),
            wait: raw.wait.unwrap_or(true),
            observe: raw.observe.unwrap_or(false),
            expect,
            capture,
            until,
            timeout,
            line,
            col,
            end_line,
        })
    }

    /// A template, its variables checked.
    fn template(
        &mut self,
        text: &str,
        key: &str,
        (line, end_line): (usize, usize),
        known: &dyn Fn(&str) -> bool,
    ) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => {
                let unknown: Vec<String> = t
                    .variables()
                    .filter(|v| !known(v))
                    .map(str::to_string)
                    .collect();
                for var in &unknown {
                    self.unknown_variable(var, key, line, end_line);
                }
                unknown.is_empty().then_some(t)
            }
            Err(e) => {
                self.error(key, line, end_line, e, None);
                None
            }
        }
    }

    fn unknown_variable(&mut self, var: &str, key: &str, line: usize, end_line: usize) {
        let hint = closest(var, NEUTRAL_FIXTURES.iter().map(|(n, _)| *n))
            .map(|b| format!("did you mean `{{{{{b}}}}}`?"))
            .unwrap_or_else(|| {
                "neutral fixture names are listed in docs/FORMATS.md; a capture must come from an earlier step".into()
            });
        self.error(
            key,
            line,
            end_line,
            format!(
                "`{{{{{var}}}}}` is neither a neutral fixture nor a capture of an earlier step"
            ),
            Some(hint),
        );
    }

    /// `ips: ['{{subnet.free_ip}}']` or `ips: '{{captured}}'`.
    fn templates(
        &mut self,
        value: &serde_yaml::Value,
        here: (usize, usize),
        known: &dyn Fn(&str) -> bool,
    ) -> Option<Vec<Template>> {
        let items: Vec<String> = match value {
            serde_yaml::Value::Sequence(items) => {
                let texts: Option<Vec<String>> = items.iter().map(scalar_to_string).collect();
                match texts {
                    Some(t) if !t.is_empty() => t,
                    _ => {
                        self.error(
                            "ips",
                            here.0,
                            here.1,
                            "`ips` is a non-empty list of addresses, or one list capture ('{{name}}')".into(),
                            None,
                        );
                        return None;
                    }
                }
            }
            other => match scalar_to_string(other) {
                Some(t) => vec![t],
                None => {
                    self.error(
                        "ips",
                        here.0,
                        here.1,
                        "`ips` is a list of addresses, or one list capture ('{{name}}')".into(),
                        None,
                    );
                    return None;
                }
            },
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.template(&item, "ips", here, known)?);
        }
        Some(out)
    }

    fn count(
        &mut self,
        value: &serde_yaml::Value,
        here: (usize, usize),
        known: &dyn Fn(&str) -> bool,
    ) -> Option<Template> {
        let Some(text) = scalar_to_string(value) else {
            self.error(
                "count",
                here.0,
                here.1,
                "`count` is a number or a template such as '{{eni.available.max_secondaries}}'"
                    .into(),
                None,
            );
            return None;
        };
        let t = self.template(&text, "count", here, known)?;
        if t.variables().next().is_none() && text.trim().parse::<u32>().is_err() {
            self.error(
                "count",
                here.0,
                here.1,
                format!("`count: {text}` is not a number of addresses"),
                None,
            );
            return None;
        }
        Some(t)
    }

    /// `expect:` — `ok`, a kind, view checks, `per_dialect`.
    fn expectation(
        &mut self,
        raw: Option<&serde_yaml::Value>,
        op: Op,
        (line, end_line): (usize, usize),
        known: &dyn Fn(&str) -> bool,
    ) -> Expectation {
        let at = find_key_in(self.lines, "expect", line, end_line)
            .map(|(l, _)| l)
            .unwrap_or(line);
        let Some(raw) = raw else {
            return Expectation {
                default: Outcome::Ok(Vec::new()),
                per_dialect: BTreeMap::new(),
                line: at,
            };
        };
        let mut per_dialect = BTreeMap::new();
        let default = self.outcome(raw, op, (at, end_line), known, Some(&mut per_dialect));
        Expectation {
            default,
            per_dialect,
            line: at,
        }
    }

    fn outcome(
        &mut self,
        raw: &serde_yaml::Value,
        op: Op,
        here: (usize, usize),
        known: &dyn Fn(&str) -> bool,
        per_dialect: Option<&mut BTreeMap<crate::dialect::DialectId, (Outcome, String)>>,
    ) -> Outcome {
        const HOW: &str = "write `expect: ok`, `expect: {kind: ip-in-use}`, or view checks such as `expect: {secondaries: {length: 2}}`; add `per_dialect` for a dialect whose documents say otherwise";
        let ok = Outcome::Ok(Vec::new());
        if raw.as_str() == Some("ok") {
            return ok;
        }
        let Some(map) = raw.as_mapping() else {
            self.error(
                "expect",
                here.0,
                here.1,
                "`expect` is `ok` or a map".into(),
                Some(HOW.into()),
            );
            return ok;
        };
        let mut kind = None;
        let mut views = serde_yaml::Mapping::new();
        let mut dialects = None;
        for (k, v) in map {
            let key = k.as_str().unwrap_or_default();
            match key {
                "kind" => match v.as_str().map(str::parse::<Kind>) {
                    Some(Ok(k)) => kind = Some(k),
                    Some(Err(e)) => self.error("kind", here.0, here.1, e, None),
                    None => self.error(
                        "kind",
                        here.0,
                        here.1,
                        "`kind` is a neutral kind name".into(),
                        None,
                    ),
                },
                "per_dialect" => dialects = Some(v),
                view if View::parse(view).is_some() => {
                    views.insert(k.clone(), v.clone());
                }
                other => {
                    let keys = ["kind", "per_dialect", "secondaries", "primary"];
                    let hint = closest(other, keys)
                        .map(|b| format!("did you mean `{b}`?"))
                        .unwrap_or_else(|| HOW.into());
                    self.error(
                        other,
                        here.0,
                        here.1,
                        format!("`{other}` is not a key of `expect`"),
                        Some(hint),
                    );
                }
            }
        }
        if let Some(dialects) = dialects {
            match (per_dialect, dialects.as_mapping()) {
                (Some(out), Some(m)) => self.per_dialect(m, op, here, known, out),
                (None, _) => self.error(
                    "per_dialect",
                    here.0,
                    here.1,
                    "a dialect's own expectation cannot hold another `per_dialect`".into(),
                    None,
                ),
                (Some(_), None) => self.error(
                    "per_dialect",
                    here.0,
                    here.1,
                    "`per_dialect` maps a dialect to `{expect: ..., why: ...}`".into(),
                    None,
                ),
            }
        }
        match kind {
            Some(kind) => {
                if !views.is_empty() {
                    self.error(
                        "kind",
                        here.0,
                        here.1,
                        "`expect` holds a `kind` or view checks, not both: a refusal has no views"
                            .into(),
                        None,
                    );
                }
                Outcome::Kind(kind)
            }
            None => {
                if !views.is_empty() && op != Op::List {
                    self.error(
                        "expect",
                        here.0,
                        here.1,
                        format!(
                            "`{}` has no views to check; read them with a `list` step",
                            op.as_str()
                        ),
                        None,
                    );
                }
                Outcome::Ok(self.view_checks(&views, here, known))
            }
        }
    }

    fn per_dialect(
        &mut self,
        map: &serde_yaml::Mapping,
        op: Op,
        here: (usize, usize),
        known: &dyn Fn(&str) -> bool,
        out: &mut BTreeMap<DialectId, (Outcome, String)>,
    ) {
        for (k, v) in map {
            let name = k.as_str().unwrap_or_default();
            let dialect = match name.parse::<DialectId>() {
                Ok(d) => d,
                Err(e) => {
                    self.error(name, here.0, here.1, e, None);
                    continue;
                }
            };
            // At the dialect's own line, so that its problems point there.
            let at = find_key_in(self.lines, name, here.0, here.1)
                .map(|(l, _)| l)
                .unwrap_or(here.0);
            let Some(entry) = v.as_mapping() else {
                self.error(
                    name,
                    at,
                    here.1,
                    format!("`{name}` maps to `{{expect: ..., why: \"...\"}}`"),
                    None,
                );
                continue;
            };
            let mut expect = None;
            let mut why = None;
            for (ek, ev) in entry {
                match ek.as_str().unwrap_or_default() {
                    "expect" => expect = Some(ev.clone()),
                    "why" => why = ev.as_str().map(str::to_string),
                    other => self.error(
                        other,
                        at,
                        here.1,
                        format!("`{other}` is not a key of a dialect's expectation"),
                        Some("a dialect's expectation is `{expect: ..., why: \"...\"}`".into()),
                    ),
                }
            }
            let why = match why {
                Some(w) if !w.trim().is_empty() => w,
                _ => {
                    self.error(
                        name,
                        at,
                        here.1,
                        format!("the expectation of {dialect} needs `why`"),
                        Some("quote the spec or seed that promises this outcome".into()),
                    );
                    String::new()
                }
            };
            let Some(expect) = expect else {
                self.error(
                    name,
                    at,
                    here.1,
                    format!("the expectation of {dialect} needs `expect`"),
                    None,
                );
                continue;
            };
            let outcome = self.outcome(&expect, op, (at, here.1), known, None);
            out.insert(dialect, (outcome, why));
        }
    }

    /// `view: matcher` or `view: [matcher, ...]`, each matcher parsed once
    /// here to place its problems (it is parsed again per dialect, with its
    /// neutral names rewritten).
    fn view_checks(
        &mut self,
        map: &serde_yaml::Mapping,
        (line, end_line): (usize, usize),
        known: &dyn Fn(&str) -> bool,
    ) -> Vec<ViewCheck> {
        let mut out = Vec::new();
        for (k, v) in map {
            let name = k.as_str().unwrap_or_default();
            let Some(view) = View::parse(name) else {
                self.error(
                    name,
                    line,
                    end_line,
                    format!("`{name}` is not a view"),
                    Some(format!("views: {}", View::KEYS.join(", "))),
                );
                continue;
            };
            let matchers: Vec<serde_yaml::Value> = match v {
                serde_yaml::Value::Sequence(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut good = Vec::with_capacity(matchers.len());
            for m in matchers {
                match Matcher::from_yaml(&m) {
                    Ok(parsed) => {
                        let unknown: Vec<String> = parsed
                            .variables()
                            .into_iter()
                            .filter(|v| !known(v))
                            .map(str::to_string)
                            .collect();
                        for var in &unknown {
                            self.unknown_variable(var, name, line, end_line);
                        }
                        good.push(m);
                    }
                    Err(e) => self.error(name, line, end_line, e, None),
                }
            }
            out.push(ViewCheck {
                view,
                matchers: good,
            });
        }
        out
    }
}

/// The position of each step between two lines: the first operation key
/// of each list item (`- assign:`), in order.
fn locate_steps(lines: &[&str], from: usize, to: usize) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut line = from;
    loop {
        let next = Op::KEYS
            .iter()
            .filter_map(|k| find_key_in(lines, k, line, to))
            // Only the key that opens a list item starts a step.
            .filter(|(l, c)| {
                lines.get(l - 1).is_some_and(|text| {
                    let before: String = text.chars().take(c - 1).collect();
                    before.trim_end().ends_with('-')
                })
            })
            .min();
        match next {
            Some(pos) => {
                found.push(pos);
                line = pos.0 + 1;
            }
            None => break,
        }
    }
    found
}
