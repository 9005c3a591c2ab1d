//! Scenario x binding -> an ordinary [`Case`] per dialect.
//!
//! Each neutral step becomes the binding's call, with the scenario's
//! neutral names rewritten into the dialect's fixtures, its neutral
//! expectation into the dialect's (an error of a kind accepts every code
//! the operation's catalog gives that kind), and, after a change expected
//! to succeed, the binding's settle steps (Tencent's task poll, NAVER's
//! poll until the interface leaves `SET`). A step the dialect cannot
//! express makes the whole case not applicable, with the binding's reason;
//! a kind the operation's catalog lacks is an error of the scenario,
//! placed at its `expect`, because no vendor answer could ever meet it.

use std::collections::BTreeMap;

use super::binding::{ChangeOp, CAPTURE_PREFIX};
use super::{
    Binding, Capability, CellPlan, NeutralStep, Op, Outcome, Scenario, ScenarioFile, ScenarioPlan,
    View, ViewCheck, NEUTRAL_FIXTURES,
};
use crate::case::{
    BodyPath, Case, CaseFile, Expect, Matcher, ParamValue, Requires, Step, Template, Wait,
};
use crate::diag::{Diagnostic, Diagnostics};
use crate::dialect::DialectId;
use crate::spec::SpecSet;

/// Every scenario compiled for every dialect that has a binding.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// One case file per scenario file and dialect, addressed
    /// `<dialect>::portable.<stem>::<id>`.
    pub case_files: Vec<CaseFile>,
    /// One plan per scenario, in file order: what the comparison runs.
    pub plans: Vec<ScenarioPlan>,
}

/// Why a scenario does not compile for a dialect.
enum Problem {
    /// The dialect cannot express it: the case is skipped with this reason.
    NotApplicable(String),
    /// The scenario asks for something no answer of the dialect could meet.
    Error(Box<Diagnostic>),
}

pub fn compile(files: &[ScenarioFile], specs: &SpecSet) -> Result<Compiled, Diagnostics> {
    let mut out = Compiled::default();
    // Finding the bound dialects loads every dialect's specs.
    if files.is_empty() {
        return Ok(out);
    }
    let mut diags = Vec::new();
    let dialects: Vec<DialectId> = DialectId::ALL
        .iter()
        .copied()
        .filter(|d| specs.binding(*d).is_some())
        .collect();
    for file in files {
        let mut per_dialect: BTreeMap<DialectId, Vec<Case>> = BTreeMap::new();
        for scenario in &file.scenarios {
            let mut cells = BTreeMap::new();
            for &dialect in &dialects {
                let Some(binding) = specs.binding(dialect) else {
                    continue;
                };
                let compiler = Compiler {
                    file,
                    scenario,
                    binding,
                    specs,
                };
                let (case, cell) = match compiler.case() {
                    Ok(done) => done,
                    Err(Problem::Error(d)) => {
                        diags.push(*d);
                        continue;
                    }
                    Err(Problem::NotApplicable(reason)) => {
                        let mut case = compiler.empty_case();
                        case.requires.not_applicable = Some(reason.clone());
                        let (outcome, why) = first_observed(scenario, dialect);
                        (
                            case,
                            CellPlan {
                                observe_step: None,
                                observe_call: None,
                                expected: outcome,
                                why,
                                not_applicable: Some(reason),
                            },
                        )
                    }
                };
                per_dialect.entry(dialect).or_default().push(case);
                cells.insert(dialect, cell);
            }
            out.plans.push(ScenarioPlan {
                file: file.display.clone(),
                group: file.group.clone(),
                id: scenario.id.clone(),
                title: scenario.title.clone(),
                source: scenario.source.clone().or_else(|| file.source.clone()),
                line: scenario.line,
                cells,
            });
        }
        for (dialect, cases) in per_dialect {
            out.case_files.push(CaseFile {
                path: file.path.clone(),
                display: file.display.clone(),
                group: file.group.clone(),
                dialect,
                source: file.source.clone(),
                tags: file.tags.clone(),
                cases,
                text: file.text.clone(),
            });
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

/// The observed step's expected outcome for `dialect`, and why.
fn first_observed(scenario: &Scenario, dialect: DialectId) -> (String, Option<String>) {
    scenario
        .steps
        .iter()
        .find(|s| s.observe)
        .map(|s| {
            let (outcome, why) = s.expect.for_dialect(dialect);
            (outcome.name().to_string(), why.map(str::to_string))
        })
        .unwrap_or_else(|| ("ok".into(), None))
}

struct Compiler<'a> {
    file: &'a ScenarioFile,
    scenario: &'a Scenario,
    binding: &'a Binding,
    specs: &'a SpecSet,
}

impl Compiler<'_> {
    fn dialect(&self) -> DialectId {
        self.binding.dialect
    }

    fn empty_case(&self) -> Case {
        let mut tags = vec!["portable".to_string()];
        tags.extend(self.file.tags.iter().cloned());
        tags.extend(self.scenario.tags.iter().cloned());
        Case {
            id: self.scenario.id.clone(),
            title: self.scenario.title.clone(),
            source: self
                .scenario
                .source
                .clone()
                .or_else(|| self.file.source.clone()),
            tags,
            deviations: BTreeMap::new(),
            requires: Requires {
                powers: self.scenario.powers.clone(),
                ..Requires::default()
            },
            faults: Vec::new(),
            steps: Vec::new(),
            cleanup: Vec::new(),
            line: self.scenario.line,
            end_line: self.scenario.end_line,
        }
    }

    fn case(&self) -> Result<(Case, CellPlan), Problem> {
        for need in &self.scenario.needs {
            if let Some(why) = self.binding.lacks(*need) {
                return Err(Problem::NotApplicable(why));
            }
        }
        let mut case = self.empty_case();
        let mut cell = None;
        for (i, step) in self.scenario.steps.iter().enumerate() {
            let at = case.steps.len();
            let compiled = self.step(step, i + 1)?;
            if step.observe {
                let (outcome, why) = step.expect.for_dialect(self.dialect());
                cell = Some(CellPlan {
                    observe_step: Some(at),
                    observe_call: compiled.first().map(|s| s.call.clone()),
                    expected: outcome.name().to_string(),
                    why: why.map(str::to_string),
                    not_applicable: None,
                });
            }
            case.steps.extend(compiled);
        }
        for (i, step) in self.scenario.cleanup.iter().enumerate() {
            let compiled = self.step(step, self.scenario.steps.len() + i + 1)?;
            case.cleanup.extend(compiled);
        }
        let cell = cell.unwrap_or_else(|| {
            let (expected, why) = first_observed(self.scenario, self.dialect());
            CellPlan {
                observe_step: None,
                observe_call: None,
                expected,
                why,
                not_applicable: None,
            }
        });
        Ok((case, cell))
    }

    /// One neutral step: the call, then the settle steps where they apply.
    fn step(&self, step: &NeutralStep, number: usize) -> Result<Vec<Step>, Problem> {
        let eni = self.neutral_value(&step.eni)?;
        let (outcome, _) = step.expect.for_dialect(self.dialect());
        match step.op {
            Op::Assign | Op::Unassign => {
                let op = if step.op == Op::Assign {
                    &self.binding.assign
                } else {
                    &self.binding.unassign
                };
                let mut params = self.params(&op.with, &eni)?;
                self.change_params(op, step, &mut params)?;
                let expect = self.expect(outcome, &op.call, step, number)?;
                let ok = matches!(outcome, Outcome::Ok(_));
                // A refusal has no reply to capture from, and nothing to settle.
                let capture = if ok {
                    op.capture
                        .iter()
                        .map(|(name, path)| (format!("{CAPTURE_PREFIX}{name}"), path.clone()))
                        .collect()
                } else {
                    Vec::new()
                };
                let mut out = vec![self.make(&op.call, params, expect, None, capture, step)];
                if ok && step.wait {
                    out.extend(self.settle(&eni, step)?);
                }
                Ok(out)
            }
            Op::List => {
                let list = &self.binding.list;
                let params = self.params(&list.with, &eni)?;
                let expect = self.expect(outcome, &list.call, step, number)?;
                let capture = self.captures(step);
                Ok(vec![
                    self.make(&list.call, params, expect, None, capture, step)
                ])
            }
            Op::WaitUntil => {
                let list = &self.binding.list;
                let params = self.params(&list.with, &eni)?;
                let wait = Wait {
                    until: self.view_matchers(&step.until)?,
                    halt_on: Vec::new(),
                    timeout: step.timeout.unwrap_or(Wait::DEFAULT_TIMEOUT),
                    interval: Wait::DEFAULT_INTERVAL,
                    max_interval: Wait::DEFAULT_MAX_INTERVAL,
                };
                let expect = Expect::Success {
                    status: None,
                    body: Vec::new(),
                };
                let capture = self.captures(step);
                Ok(vec![self.make(
                    &list.call,
                    params,
                    expect,
                    Some(wait),
                    capture,
                    step,
                )])
            }
            Op::Settle => self.settle(&eni, step),
        }
    }

    /// Explicit addresses, a count, reassignment: the parameters the
    /// binding names for each, or why the dialect cannot say it.
    fn change_params(
        &self,
        op: &ChangeOp,
        step: &NeutralStep,
        params: &mut Vec<(String, ParamValue)>,
    ) -> Result<(), Problem> {
        if let Some(ips) = &step.ips {
            let Some(name) = &op.ips else {
                return Err(self.lacks(Capability::Ips));
            };
            let items = ips
                .iter()
                .map(|t| self.rename(t))
                .collect::<Result<Vec<_>, _>>()?;
            params.push((name.clone(), ParamValue::List(items)));
        }
        if let Some(count) = &step.count {
            match &op.count {
                Some(name) => params.push((name.clone(), ParamValue::Text(self.rename(count)?))),
                // One address per call: a literal count of one, alone, is
                // the call without a count.
                None if op.assigns_one
                    && step.ips.is_none()
                    && count.variables().next().is_none()
                    && count.source().trim() == "1" => {}
                None => return Err(self.lacks(Capability::Count)),
            }
        }
        if step.allow_reassign {
            let Some(extra) = &op.allow_reassign else {
                return Err(self.lacks(Capability::AllowReassign));
            };
            for (name, value) in extra {
                params.push((name.clone(), ParamValue::Text(value.clone())));
            }
        }
        Ok(())
    }

    fn lacks(&self, capability: Capability) -> Problem {
        Problem::NotApplicable(
            self.binding
                .lacks(capability)
                .unwrap_or_else(|| format!("{} cannot express this step", self.dialect())),
        )
    }

    /// The binding's settle steps for `eni`.
    fn settle(&self, eni: &str, at: &NeutralStep) -> Result<Vec<Step>, Problem> {
        let mut out = Vec::with_capacity(self.binding.settle.len());
        for settle in &self.binding.settle {
            let params = self.params(&settle.with, eni)?;
            out.push(self.make(
                &settle.call,
                params,
                Expect::Success {
                    status: None,
                    body: Vec::new(),
                },
                settle.wait.clone(),
                Vec::new(),
                at,
            ));
        }
        Ok(out)
    }

    fn make(
        &self,
        call: &str,
        params: Vec<(String, ParamValue)>,
        expect: Expect,
        wait: Option<Wait>,
        capture: Vec<(String, BodyPath)>,
        at: &NeutralStep,
    ) -> Step {
        Step {
            call: call.to_string(),
            credentials: "default".into(),
            signing: None,
            method: None,
            headers: Vec::new(),
            params,
            expect,
            wait,
            retry: None,
            capture,
            line: at.line,
            col: at.col,
            end_line: at.end_line,
        }
    }

    /// The expectation in the dialect's terms.
    fn expect(
        &self,
        outcome: &Outcome,
        call: &str,
        step: &NeutralStep,
        number: usize,
    ) -> Result<Expect, Problem> {
        match outcome {
            Outcome::Ok(views) => Ok(Expect::Success {
                status: None,
                body: self.view_matchers(views)?,
            }),
            Outcome::Kind(kind) => {
                let spec = self.specs.get(self.dialect(), call);
                let codes: Vec<String> = spec
                    .map(|s| {
                        s.errors
                            .entries()
                            .iter()
                            .filter(|e| e.kind == Some(*kind))
                            .map(|e| e.code.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if codes.is_empty() {
                    let file = spec.map_or("its spec", |s| s.file.as_str());
                    let mut kinds: Vec<&str> = spec
                        .map(|s| {
                            s.errors
                                .entries()
                                .iter()
                                .filter_map(|e| e.kind.map(|k| k.as_str()))
                                .collect()
                        })
                        .unwrap_or_default();
                    kinds.sort_unstable();
                    kinds.dedup();
                    let d = Diagnostic::new(
                        &self.file.display,
                        format!(
                            "scenario `{}`, step {number}: {} documents no `{kind}` outcome for {call} ({file})",
                            self.scenario.id,
                            self.dialect(),
                        ),
                    )
                    .at(&self.file.text, step.expect.line, step.col)
                    .with_hint(if step.expect.per_dialect.contains_key(&self.dialect()) {
                        format!(
                            "its `per_dialect` expectation must be one of the kinds the catalog has: {}",
                            kinds.join(", ")
                        )
                    } else {
                        format!(
                            "expect one of the kinds its catalog has ({}), or give {} its own `per_dialect` expectation",
                            kinds.join(", "),
                            self.dialect()
                        )
                    });
                    return Err(Problem::Error(Box::new(d)));
                }
                Ok(Expect::Error {
                    status: None,
                    codes,
                    numeric_code: None,
                    message: None,
                    kind: Some(*kind),
                })
            }
        }
    }

    /// The view checks as `path: matcher` pairs of the dialect's read.
    fn view_matchers(&self, checks: &[ViewCheck]) -> Result<Vec<(BodyPath, Matcher)>, Problem> {
        let mut out = Vec::new();
        for check in checks {
            let path = self.view_path(check.view);
            for raw in &check.matchers {
                let rewritten = self.rename_yaml(raw)?;
                // The scenario loader parsed it once already; a failure now
                // could only come from a rewritten name, which is plain text.
                let matcher = Matcher::from_yaml(&rewritten).map_err(|e| {
                    Problem::NotApplicable(format!("a matcher does not carry over: {e}"))
                })?;
                out.push((path.clone(), matcher));
            }
        }
        Ok(out)
    }

    fn view_path(&self, view: View) -> BodyPath {
        match view {
            View::Secondaries => self.binding.list.secondaries.clone(),
            View::Primary => self.binding.list.primary.clone(),
        }
    }

    fn captures(&self, step: &NeutralStep) -> Vec<(String, BodyPath)> {
        step.capture
            .iter()
            .map(|(name, view)| (name.clone(), self.view_path(*view)))
            .collect()
    }

    /// The binding's parameters with `{{eni}}` and its captures resolved.
    fn params(
        &self,
        with: &[(String, Template)],
        eni: &str,
    ) -> Result<Vec<(String, ParamValue)>, Problem> {
        self.binding.bind(with, eni).map_err(Problem::NotApplicable)
    }

    /// A neutral fixture's value in the dialect's terms: a template naming
    /// the dialect's fixture, or a literal.
    fn neutral_value(&self, name: &str) -> Result<String, Problem> {
        if let Some(fixture) = self.binding.fixtures.get(name) {
            return Ok(format!("{{{{{fixture}}}}}"));
        }
        if let Some(literal) = self.binding.literals.get(name) {
            return Ok(literal.clone());
        }
        Err(Problem::NotApplicable(format!(
            "{} maps no fixture to `{name}`",
            self.binding.file
        )))
    }

    /// A scenario template with its neutral names in the dialect's terms;
    /// captures and built-ins stay as they are.
    fn rename(&self, t: &Template) -> Result<Template, Problem> {
        let mut replacements = Vec::new();
        for var in t.variables() {
            if NEUTRAL_FIXTURES.iter().any(|(n, _)| *n == var) {
                replacements.push((var.to_string(), self.neutral_value(var)?));
            }
        }
        let text = t.substitute(|var| {
            replacements
                .iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| v.as_str())
        });
        Template::parse(&text).map_err(Problem::NotApplicable)
    }

    /// Every string of a matcher's YAML, renamed.
    fn rename_yaml(&self, value: &serde_yaml::Value) -> Result<serde_yaml::Value, Problem> {
        Ok(match value {
            serde_yaml::Value::String(s) => match Template::parse(s) {
                Ok(t) => serde_yaml::Value::String(self.rename(&t)?.source()),
                Err(_) => value.clone(),
            },
            serde_yaml::Value::Sequence(items) => serde_yaml::Value::Sequence(
                items
                    .iter()
                    .map(|i| self.rename_yaml(i))
                    .collect::<Result<_, _>>()?,
            ),
            serde_yaml::Value::Mapping(map) => {
                let mut out = serde_yaml::Mapping::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.rename_yaml(v)?);
                }
                serde_yaml::Value::Mapping(out)
            }
            other => other.clone(),
        })
    }
}
