//! Reports: sinks fed by one stream of run events.
//!
//! The run emits [`Event`]s (started, one per finished case, finished); each
//! sink turns them into its format — the terminal as it goes, `report.json`
//! and `junit.xml` at the end. A new format is a new sink; the run does not
//! change. [`failure_text`] is the one rendering of a failed case, shared by
//! the terminal, JUnit and the libtest-mimic harness.

pub mod json;
pub mod junit;
pub mod terminal;

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use serde::Serialize;

use crate::runner::{CaseResult, Outcome, Phase};

/// What a run is, for the head of every report.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub started_at: String,
    pub targets: Vec<String>,
    pub cases: usize,
    pub version: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: usize,
    pub conforms: usize,
    pub fails: usize,
    pub known_deviations: usize,
    pub unexpected_conformance: usize,
    pub skipped: usize,
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Summary {
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

    pub fn all_conform(&self) -> bool {
        self.fails == 0 && self.unexpected_conformance == 0
    }
}

pub enum Event<'a> {
    RunStarted(&'a RunInfo),
    CaseFinished(&'a CaseResult),
    RunFinished(&'a RunInfo, &'a Summary),
}

pub trait Sink {
    fn on(&mut self, event: &Event<'_>) -> io::Result<()>;
}

/// A report made once, at the end of a run, from every result.
pub trait FinalReport {
    /// The file's text; `results` are sorted by address.
    fn render(
        &self,
        run: &RunInfo,
        summary: &Summary,
        results: &[CaseResult],
    ) -> io::Result<String>;
}

/// The sink of every [`FinalReport`]: collects the results as cases finish
/// and writes `path` when the run does.
pub struct FileSink<R> {
    path: std::path::PathBuf,
    report: R,
    results: Vec<CaseResult>,
}

impl<R: FinalReport> FileSink<R> {
    pub fn new(path: std::path::PathBuf, report: R) -> Self {
        FileSink {
            path,
            report,
            results: Vec::new(),
        }
    }
}

impl<R: FinalReport> Sink for FileSink<R> {
    fn on(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::RunStarted(_) => Ok(()),
            Event::CaseFinished(result) => {
                self.results.push((*result).clone());
                Ok(())
            }
            Event::RunFinished(run, summary) => {
                // Cases finish in any order; the file does not depend on it.
                self.results.sort_by(|a, b| a.address.cmp(&b.address));
                let text = self.report.render(run, summary, &self.results)?;
                std::fs::write(&self.path, text)
            }
        }
    }
}

/// A new run id: sortable by time, unique enough for a reports folder.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let tail = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{now}-{tail}")
}

/// Why a case did not conform, step by step: the request, the diff of
/// expected and actual, the contract findings, and the body.
pub fn failure_text(result: &CaseResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "case {} ({}:{})",
        result.address, result.file, result.line
    );
    let _ = writeln!(out, "  {}", result.title);
    if let Some(source) = &result.source {
        let _ = writeln!(out, "  source: {source}");
    }
    match result.outcome {
        Outcome::UnexpectedConformance => {
            let _ = writeln!(
                out,
                "\nthe case conforms on `{}`, which it lists as a known deviation ({}).\n\
                 The deviation is stale: remove `{}` from the case's `deviations`.",
                result.target,
                result.deviation.as_deref().unwrap_or(""),
                result.target
            );
            return out;
        }
        Outcome::Skipped => {
            let _ = writeln!(
                out,
                "  skipped on `{}`: {}",
                result.target,
                result.skipped.as_deref().unwrap_or("")
            );
            return out;
        }
        Outcome::KnownDeviation => {
            let _ = writeln!(
                out,
                "  known deviation on `{}`: {}",
                result.target,
                result.deviation.as_deref().unwrap_or("")
            );
        }
        _ => {}
    }
    for step in result.steps.iter().filter(|s| s.failed()) {
        let phase = match step.phase {
            Phase::Step => "step",
            Phase::Cleanup => "cleanup step",
        };
        let _ = writeln!(
            out,
            "\n{phase} {} `{}` at {}",
            step.index, step.call, step.location
        );
        if let Some(request) = &step.request {
            let _ = writeln!(out, "  request: {request}");
        }
        if step.attempts.len() > 1 {
            let tried: Vec<String> = step
                .attempts
                .iter()
                .map(|a| {
                    let what =
                        a.error_code
                            .as_deref()
                            .unwrap_or(if a.met { "met" } else { "not yet" });
                    format!("+{}ms {} {what}", a.waited_ms, a.status)
                })
                .collect();
            let _ = writeln!(out, "  attempts: {}", tried.join(", "));
        }
        for problem in &step.problems {
            let _ = writeln!(out, "  problem: {problem}");
        }
        if let Some(diff) = &step.diff {
            for line in diff.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        for finding in &step.findings {
            let _ = writeln!(out, "  contract: {finding}");
        }
        if let Some(body) = &step.body {
            let shown = serde_json::to_string_pretty(body).unwrap_or_default();
            let _ = writeln!(out, "  actual body:");
            for line in shown.lines().take(60) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}
