//! The report of a run as one versioned document: what `report.json` holds
//! and what every other format is drawn from.
//!
//! The runner's records are its own business and change as it grows; this
//! model is the contract with readers (CI, the nightly diff, the comparison
//! report), documented field by field in docs/REPORT.md and by the JSON
//! Schema docs/report.schema.json. Its field names are snake_case and
//! stable; a change that removes or retypes a field raises
//! [`SCHEMA_VERSION`], one that adds an optional field does not. Building
//! it is where volatile values are normalized ([`super::normalize`]) and
//! where each step's diff is computed, once, for every format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::diff;
use super::normalize::{Normalizer, Replacement};
use super::RunInfo;
use crate::runner::{self, CaseResult, StepRecord};
use crate::spec::Finding;

/// The version of the `report.json` schema this build writes.
pub const SCHEMA_VERSION: u32 = 1;
/// The `kind` of a run report, so that a tool can tell it from other JSON.
pub const KIND: &str = "ipconform-run-report";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunReport {
    pub schema_version: u32,
    pub kind: String,
    pub run: Run,
    pub summary: Counts,
    /// The same counts per dialect, by dialect name.
    pub by_dialect: Vec<DialectCounts>,
    /// Every case run, sorted by address.
    pub results: Vec<CaseReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub run_id: String,
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_us: u64,
    pub targets: Vec<String>,
    /// Whether the run succeeds: no case fails or conforms unexpectedly
    /// (`ipconform run` then exits 0).
    pub success: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub total: usize,
    pub conforms: usize,
    pub fails: usize,
    pub known_deviations: usize,
    pub unexpected_conformance: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Conforms => self.conforms += 1,
            Outcome::Fails => self.fails += 1,
            Outcome::KnownDeviation => self.known_deviations += 1,
            Outcome::UnexpectedConformance => self.unexpected_conformance += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    /// `(outcome, count)` in the order reports list them.
    pub fn by_outcome(&self) -> [(Outcome, usize); 5] {
        [
            (Outcome::Fails, self.fails),
            (Outcome::UnexpectedConformance, self.unexpected_conformance),
            (Outcome::KnownDeviation, self.known_deviations),
            (Outcome::Skipped, self.skipped),
            (Outcome::Conforms, self.conforms),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectCounts {
    pub dialect: String,
    pub counts: Counts,
}

/// How a case ended; `fails` and `unexpected_conformance` fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Fails,
    UnexpectedConformance,
    KnownDeviation,
    Skipped,
    Conforms,
}

impl Outcome {
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fails | Outcome::UnexpectedConformance)
    }

    /// The outcome's name in JSON, and in class names.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Fails => "fails",
            Outcome::UnexpectedConformance => "unexpected_conformance",
            Outcome::KnownDeviation => "known_deviation",
            Outcome::Skipped => "skipped",
            Outcome::Conforms => "conforms",
        }
    }

    /// A short label for people.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Fails => "fails",
            Outcome::UnexpectedConformance => "conforms unexpectedly",
            Outcome::KnownDeviation => "known deviation",
            Outcome::Skipped => "skipped",
            Outcome::Conforms => "conforms",
        }
    }
}

impl From<runner::Outcome> for Outcome {
    fn from(o: runner::Outcome) -> Self {
        match o {
            runner::Outcome::Conforms => Outcome::Conforms,
            runner::Outcome::Fails => Outcome::Fails,
            runner::Outcome::KnownDeviation => Outcome::KnownDeviation,
            runner::Outcome::UnexpectedConformance => Outcome::UnexpectedConformance,
            runner::Outcome::Skipped => Outcome::Skipped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseReport {
    /// `target::dialect::file::case-id`, unique in a run.
    pub address: String,
    pub target: String,
    pub dialect: String,
    /// The case file as given on the command line.
    pub file: String,
    /// Line of the case's `id:` in `file`.
    pub line: usize,
    pub id: String,
    pub title: String,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub outcome: Outcome,
    /// The target's known-deviation reason, when the case lists one.
    pub deviation: Option<String>,
    /// Why the case did not run (outcome `skipped`).
    pub skipped: Option<String>,
    pub elapsed_us: u64,
    /// Values the steps captured, raw, in order.
    pub captures: Vec<Capture>,
    pub steps: Vec<StepReport>,
}

impl CaseReport {
    /// `file:line` of the case.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The steps that went wrong, in order.
    pub fn failed_steps(&self) -> impl Iterator<Item = &StepReport> {
        self.steps.iter().filter(|s| s.result == StepResult::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub name: String,
    pub value: String,
    /// `file:line` of the step that captured it.
    pub location: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Step,
    Cleanup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Passed,
    Failed,
    /// A cleanup step whose inputs were never captured.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    pub phase: Phase,
    /// 1-based within its phase.
    pub index: usize,
    /// The operation called.
    pub call: String,
    /// `file:line` of the step's `call:`.
    pub location: String,
    pub result: StepResult,
    /// Why a cleanup step was skipped.
    pub skipped: Option<String>,
    /// The last request sent, redacted; `null` when none was sent.
    pub request: Option<Request>,
    /// The last reply; `null` when none came.
    pub response: Option<Response>,
    /// The step's expectation beside the reply; `null` when not judged.
    pub check: Option<Check>,
    /// Where the reply departs from the operation's documented contract.
    pub findings: Vec<FindingReport>,
    /// Anything else that stopped the step (transport, unknown variable,
    /// a polling timeout).
    pub problems: Vec<String>,
    /// Each attempt of a polling step.
    pub attempts: Vec<Attempt>,
    pub elapsed_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    /// Path and query as sent, signature values replaced by `***`.
    pub target: String,
    pub headers: Vec<Header>,
    pub body: Option<String>,
}

impl Request {
    /// The request as an HTTP/1.1 head and body, for a code block.
    pub fn to_http(&self) -> String {
        let mut out = format!("{} {}", self.method, self.target);
        for h in &self.headers {
            out.push('\n');
            out.push_str(&h.name);
            out.push_str(": ");
            out.push_str(&h.value);
        }
        if let Some(body) = &self.body {
            out.push_str("\n\n");
            out.push_str(body);
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub status: Option<u16>,
    pub error_code: Option<String>,
    /// The body decoded to JSON (XML converted), normalized.
    pub body: Option<Value>,
    /// Each value normalization replaced in `body`, with the original.
    pub normalized: Vec<Replacement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The expectation, one line per thing checked, normalized.
    pub expected: Vec<String>,
    /// The reply in the same words, index-aligned with `expected`.
    pub actual: Vec<String>,
    /// How many lines differ.
    pub mismatches: usize,
    /// Unified diff of `expected` and `actual`; `null` when they agree.
    pub diff: Option<String>,
    /// How to accept the actual behaviour; `null` when they agree.
    pub hint: Option<String>,
}

impl Check {
    /// The word-marked hunks of the diff, for the formats that draw them.
    pub fn hunks(&self) -> Vec<diff::Hunk> {
        if self.mismatches == 0 {
            return Vec::new();
        }
        diff::hunks(&self.expected, &self.actual)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingReport {
    /// `schema_violation`, `undocumented_error_code` or `status_mismatch`.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub waited_ms: u64,
    pub status: u16,
    pub error_code: Option<String>,
    /// Whether the reply met the step's `until`.
    pub met: bool,
}

impl RunReport {
    /// The report of a run; `results` in any order, `finished_at` RFC 3339.
    pub fn build(
        info: &RunInfo,
        elapsed: std::time::Duration,
        finished_at: &str,
        results: &[CaseResult],
    ) -> RunReport {
        let mut cases: Vec<CaseReport> = results.iter().map(CaseReport::build).collect();
        cases.sort_by(|a, b| a.address.cmp(&b.address));
        let mut summary = Counts::default();
        let mut by_dialect: BTreeMap<&str, Counts> = BTreeMap::new();
        for case in &cases {
            summary.add(case.outcome);
            by_dialect
                .entry(case.dialect.as_str())
                .or_default()
                .add(case.outcome);
        }
        let by_dialect = by_dialect
            .into_iter()
            .map(|(dialect, counts)| DialectCounts {
                dialect: dialect.to_string(),
                counts,
            })
            .collect();
        RunReport {
            schema_version: SCHEMA_VERSION,
            kind: KIND.to_string(),
            run: Run {
                run_id: info.run_id.clone(),
                tool_version: info.version.to_string(),
                started_at: info.started_at.clone(),
                finished_at: finished_at.to_string(),
                elapsed_us: micros(elapsed),
                targets: info.targets.clone(),
                success: summary.fails == 0 && summary.unexpected_conformance == 0,
            },
            summary,
            by_dialect,
            results: cases,
        }
    }

    /// The cases in the order people read them: failures first, then known
    /// deviations and skipped cases, then the conforming; by address within
    /// each.
    pub fn cases_by_outcome(&self) -> Vec<&CaseReport> {
        let mut cases: Vec<&CaseReport> = self.results.iter().collect();
        cases.sort_by(|a, b| a.outcome.cmp(&b.outcome).then(a.address.cmp(&b.address)));
        cases
    }
}

impl CaseReport {
    pub fn build(result: &CaseResult) -> CaseReport {
        let captures: Vec<Capture> = result
            .steps
            .iter()
            .flat_map(|s| {
                s.captured.iter().map(|(name, value)| Capture {
                    name: name.clone(),
                    value: value.clone(),
                    location: s.location.clone(),
                })
            })
            .collect();
        let normalizer =
            Normalizer::new(captures.iter().map(|c| (c.name.as_str(), c.value.as_str())));
        CaseReport {
            address: result.address.clone(),
            target: result.target.clone(),
            dialect: result.dialect.clone(),
            file: result.file.clone(),
            line: result.line,
            id: result.id.clone(),
            title: result.title.clone(),
            source: result.source.clone(),
            tags: result.tags.clone(),
            outcome: result.outcome.into(),
            deviation: result.deviation.clone(),
            skipped: result.skipped.clone(),
            elapsed_us: micros(result.elapsed),
            captures,
            steps: result
                .steps
                .iter()
                .map(|s| StepReport::build(s, &result.target, &normalizer))
                .collect(),
        }
    }
}

impl StepReport {
    fn build(step: &StepRecord, target: &str, normalizer: &Normalizer) -> StepReport {
        let result = if step.failed() {
            StepResult::Failed
        } else if step.skipped.is_some() {
            StepResult::Skipped
        } else {
            StepResult::Passed
        };
        let request = step.request.as_ref().map(|r| Request {
            method: r.method.to_string(),
            target: r.target.clone(),
            headers: r
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: r.body.clone(),
        });
        // A polling step that halted keeps its last body but not its
        // status; the last attempt has it.
        let status = step
            .status
            .or_else(|| step.attempts.last().map(|a| a.status));
        let response = (status.is_some() || step.body.is_some()).then(|| {
            let (body, normalized) = match &step.body {
                Some(b) => {
                    let (shown, replaced) = normalizer.body(b);
                    (Some(shown), replaced)
                }
                None => (None, Vec::new()),
            };
            Response {
                status,
                error_code: step
                    .error_code
                    .clone()
                    .or_else(|| step.attempts.last().and_then(|a| a.error_code.clone())),
                body,
                normalized,
            }
        });
        let check = (!step.expected.is_empty()).then(|| {
            let (expected, actual) = normalizer.check_lines(&step.expected, &step.actual);
            let mismatches = expected.iter().zip(&actual).filter(|(e, a)| e != a).count();
            let agree = mismatches == 0 && step.diff.is_none();
            let diff = (!agree).then(|| diff::unified(&diff::hunks(&expected, &actual)));
            Check {
                diff,
                hint: (!agree).then(|| runner::accept_hint(&step.location, target)),
                expected,
                actual,
                mismatches,
            }
        });
        StepReport {
            phase: match step.phase {
                runner::Phase::Step => Phase::Step,
                runner::Phase::Cleanup => Phase::Cleanup,
            },
            index: step.index,
            call: step.call.clone(),
            location: step.location.clone(),
            result,
            skipped: step.skipped.clone(),
            request,
            response,
            check,
            findings: step.findings.iter().map(FindingReport::from).collect(),
            problems: step.problems.iter().map(|p| normalizer.text(p)).collect(),
            attempts: step
                .attempts
                .iter()
                .map(|a| Attempt {
                    waited_ms: a.waited_ms,
                    status: a.status,
                    error_code: a.error_code.clone(),
                    met: a.met,
                })
                .collect(),
            elapsed_us: micros(step.elapsed),
        }
    }

    /// `step 2 `Call`` or `cleanup step 1 `Call``.
    pub fn title(&self) -> String {
        let phase = match self.phase {
            Phase::Step => "step",
            Phase::Cleanup => "cleanup step",
        };
        format!("{phase} {} `{}`", self.index, self.call)
    }
}

impl From<&Finding> for FindingReport {
    fn from(f: &Finding) -> Self {
        let kind = match f {
            Finding::SchemaViolation { .. } => "schema_violation",
            Finding::UndocumentedErrorCode { .. } => "undocumented_error_code",
            Finding::StatusMismatch { .. } => "status_mismatch",
        };
        FindingReport {
            kind: kind.to_string(),
            message: f.to_string(),
        }
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
