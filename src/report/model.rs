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
    /// What the run's cases exercise of the specs (`null` when not
    /// computed).
    pub coverage: Option<CoverageReport>,
}

/// The spec coverage of a run's cases, in brief: the figures per dialect
/// and operation and what no case exercises (`ipconform coverage` has the
/// full detail, with the cases behind each item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageReport {
    pub summary: CoverageFigures,
    pub dialects: Vec<DialectCoverageReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageFigures {
    pub parameters_exercised: usize,
    pub parameters_total: usize,
    pub errors_exercised: usize,
    pub errors_total: usize,
    /// Rows no request can produce, left out of `errors_total`.
    pub not_producible: usize,
    /// Rounded down to a tenth.
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectCoverageReport {
    pub dialect: String,
    pub summary: CoverageFigures,
    pub operations: Vec<OperationCoverageReport>,
    /// The dialect's common error rows no case expects.
    pub unexercised_common_errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationCoverageReport {
    pub operation: String,
    pub summary: CoverageFigures,
    /// Documented parameters no case sends.
    pub unexercised_parameters: Vec<String>,
    /// Documented, producible error codes no case expects.
    pub unexercised_errors: Vec<String>,
}

impl CoverageFigures {
    fn of(t: &crate::coverage::Tally) -> CoverageFigures {
        CoverageFigures {
            parameters_exercised: t.parameters.exercised,
            parameters_total: t.parameters.total,
            errors_exercised: t.errors.exercised,
            errors_total: t.errors.total,
            not_producible: t.not_producible,
            percent: t.percent,
        }
    }
}

impl CoverageReport {
    pub fn build(c: &crate::coverage::Coverage) -> CoverageReport {
        let missing = |rows: &[crate::coverage::ErrorCoverage]| {
            rows.iter()
                .filter(|r| r.producible && !r.exercised)
                .map(|r| r.code.clone())
                .collect()
        };
        CoverageReport {
            summary: CoverageFigures::of(&c.summary),
            dialects: c
                .dialects
                .iter()
                .map(|d| DialectCoverageReport {
                    dialect: d.dialect.to_string(),
                    summary: CoverageFigures::of(&d.summary),
                    operations: d
                        .operations
                        .iter()
                        .map(|o| OperationCoverageReport {
                            operation: o.operation.clone(),
                            summary: CoverageFigures::of(&o.summary),
                            unexercised_parameters: o
                                .parameters
                                .iter()
                                .filter(|p| !p.exercised)
                                .map(|p| p.name.clone())
                                .collect(),
                            unexercised_errors: missing(&o.errors),
                        })
                        .collect(),
                    unexercised_common_errors: d
                        .common
                        .errors
                        .iter()
                        .filter(|e| e.row.producible && !e.row.exercised)
                        .map(|e| e.row.code.clone())
                        .collect(),
                })
                .collect(),
        }
    }
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
    pub fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Conforms => self.conforms += 1,
            Outcome::Fails => self.fails += 1,
            Outcome::KnownDeviation => self.known_deviations += 1,
            Outcome::UnexpectedConformance => self.unexpected_conformance += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    /// Whether no case fails or conforms unexpectedly: the run succeeds.
    pub fn all_conform(&self) -> bool {
        self.fails == 0 && self.unexpected_conformance == 0
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

/// The outcomes of `cases` counted over all and per dialect (in the
/// order of the dialects' names): a report's `summary` and `by_dialect`.
pub(super) fn tally(cases: &[CaseReport]) -> (Counts, Vec<DialectCounts>) {
    let mut summary = Counts::default();
    let mut by_dialect: BTreeMap<&str, Counts> = BTreeMap::new();
    for case in cases {
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
    (summary, by_dialect)
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
    /// Whether the reply met the step's `until` (for a retried step
    /// without one: whether it is the reply judged).
    pub met: bool,
    /// Why the runner sent the call again after this reply (throttled or
    /// busy, and safe to repeat); absent on the reply kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<String>,
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
        let (summary, by_dialect) = tally(&cases);
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
                success: summary.all_conform(),
            },
            summary,
            by_dialect,
            results: cases,
            coverage: info.coverage.as_ref().map(CoverageReport::build),
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
                hint: (!agree).then(|| {
                    step.hint
                        .clone()
                        .unwrap_or_else(|| runner::accept_hint(&step.location, target))
                }),
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
                    retried: a.retried.as_ref().map(|r| normalizer.text(r)),
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

/// Results of every outcome, for the tests of every format.
#[cfg(test)]
pub(crate) mod samples {
    use super::*;
    use crate::dialect::SentRequest;
    use crate::runner::{self, Attempt as RunAttempt, StepRecord};
    use serde_json::json;
    use std::time::Duration;

    pub fn result(id: &str, outcome: runner::Outcome, steps: Vec<StepRecord>) -> CaseResult {
        CaseResult {
            address: format!("emulator::alibaba-ecs::t::{id}"),
            target: "emulator".into(),
            dialect: "alibaba-ecs".into(),
            file: "cases/alibaba-ecs/t.yaml".into(),
            line: 4,
            id: id.into(),
            title: format!("the {id} case"),
            source: None,
            tags: vec![],
            outcome,
            deviation: None,
            skipped: None,
            steps,
            elapsed: Duration::from_micros(1500),
        }
    }

    /// One case of every outcome, with a failing step (diff, finding,
    /// attempts), a skipped cleanup step and a step that was never sent.
    pub fn every_outcome() -> Vec<CaseResult> {
        let mut failing = StepRecord::new(
            runner::Phase::Step,
            1,
            "DescribeNetworkInterfaces",
            "cases/alibaba-ecs/t.yaml:7".into(),
        );
        failing.request = Some(SentRequest {
            method: "GET",
            target: "/?Action=DescribeNetworkInterfaces&Signature=***".into(),
            headers: vec![("x-acs-date".into(), "2026-11-30T06:33:23Z".into())],
            body: None,
        });
        failing.status = Some(200);
        failing.body = Some(json!({
            "RequestId": "E1DCE407-30D3-4039-8726-37DB065A61D9",
            "TotalCount": 2,
            "Ip": "10.0.0.7"
        }));
        failing.expected = vec!["status: 200".into(), "body.TotalCount: 1".into()];
        failing.actual = vec!["status: 200".into(), "body.TotalCount: 2".into()];
        failing.diff = Some("(the runner's diff)".into());
        failing.captured = vec![("ip".into(), "10.0.0.7".into())];
        failing.findings = vec![Finding::UndocumentedErrorCode {
            code: "Oops".into(),
            status: 500,
        }];
        failing.attempts = vec![
            RunAttempt {
                waited_ms: 0,
                status: 200,
                error_code: None,
                met: false,
                retried: None,
            },
            RunAttempt {
                waited_ms: 1000,
                status: 200,
                error_code: None,
                met: true,
                retried: None,
            },
        ];
        let mut cleanup = StepRecord::new(
            runner::Phase::Cleanup,
            1,
            "UnassignPrivateIpAddresses",
            "cases/alibaba-ecs/t.yaml:12".into(),
        );
        cleanup.skipped = Some("`{{ip}}` was never captured".into());
        let mut unsent = StepRecord::new(
            runner::Phase::Step,
            1,
            "AssignPrivateIpAddresses",
            "cases/alibaba-ecs/t.yaml:20".into(),
        );
        unsent.problems = vec!["unknown variable `{{nope}}`".into()];

        let mut deviates = result("deviates", runner::Outcome::KnownDeviation, vec![]);
        deviates.deviation = Some("known".into());
        let mut stale = result("stale", runner::Outcome::UnexpectedConformance, vec![]);
        stale.deviation = Some("was broken".into());
        let mut skipped = result("skipped", runner::Outcome::Skipped, vec![]);
        skipped.skipped = Some("the target lacks ipv6".into());
        vec![
            result("fails", runner::Outcome::Fails, vec![failing, cleanup]),
            result("unsent", runner::Outcome::Fails, vec![unsent]),
            result("conforms", runner::Outcome::Conforms, vec![]),
            deviates,
            stale,
            skipped,
        ]
    }

    pub fn report() -> RunReport {
        let info = RunInfo {
            run_id: "20261130T000000Z-abcdef".into(),
            started_at: "2026-11-30T00:00:00+00:00".into(),
            targets: vec!["emulator".into()],
            cases: 6,
            version: "0.1.0",
            // The project's own cases: every renderer sees a real coverage.
            coverage: Some(crate::coverage::Coverage::compute(
                crate::spec::SpecSet::embedded(),
                &crate::case::load_dir(
                    &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"),
                )
                .unwrap_or_else(|d| panic!("{d}")),
            )),
        };
        RunReport::build(
            &info,
            Duration::from_millis(12),
            "2026-11-30T00:00:01+00:00",
            &every_outcome(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::samples::report;
    use super::*;

    const SCHEMA: &str = include_str!("../../docs/report.schema.json");

    #[test]
    fn every_outcome_fits_the_published_schema_and_reads_back() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let report = report();
        let value = serde_json::to_value(&report).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let back: RunReport = serde_json::from_value(value).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn counts_order_and_normalized_views() {
        let report = report();
        assert_eq!(report.summary.total, 6);
        assert_eq!(report.summary.fails, 2);
        assert_eq!(report.summary.skipped, 1);
        assert!(!report.run.success);
        let order: Vec<&str> = report
            .cases_by_outcome()
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(
            order,
            ["fails", "unsent", "stale", "deviates", "skipped", "conforms"]
        );
        let fails = report.results.iter().find(|c| c.id == "fails").unwrap();
        let step = &fails.steps[0];
        assert_eq!(step.result, StepResult::Failed);
        let body = step.response.as_ref().unwrap().body.as_ref().unwrap();
        assert_eq!(body["RequestId"], "<request-id>");
        assert_eq!(body["Ip"], "{{ip}}");
        let check = step.check.as_ref().unwrap();
        assert_eq!(check.mismatches, 1);
        let diff = check.diff.as_deref().unwrap();
        assert!(
            diff.contains("-body.TotalCount: 1\n+body.TotalCount: 2"),
            "{diff}"
        );
        assert!(check.hint.as_deref().unwrap().contains("t.yaml:7"));
        assert_eq!(fails.steps[1].result, StepResult::Skipped);
        // The request is shown as sent: its timestamp is evidence.
        let request = step.request.as_ref().unwrap();
        assert_eq!(request.headers[0].value, "2026-11-30T06:33:23Z");
        let unsent = report.results.iter().find(|c| c.id == "unsent").unwrap();
        assert!(unsent.steps[0].request.is_none() && unsent.steps[0].response.is_none());
    }

    #[test]
    fn every_format_renders_every_outcome() {
        let report = report();
        for format in super::super::standard_formats() {
            let text = format.render(&report).unwrap();
            for id in [
                "fails", "unsent", "stale", "deviates", "skipped", "conforms",
            ] {
                assert!(
                    text.contains(&format!("t::{id}")) || text.contains(&format!("\"{id}\"")),
                    "{} lacks {id}",
                    format.file_name()
                );
            }
            assert!(
                text.contains("the target lacks ipv6"),
                "{} gives the skip reason",
                format.file_name()
            );
        }
    }
}
