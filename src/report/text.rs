//! The text of a case that did not conform: the one rendering shared by the
//! terminal, the JUnit failure bodies and the libtest-mimic harness.
//!
//! Step by step it gives where the step is (`file:line`), the request as
//! sent (redacted), the polling attempts, the diff of expected and actual
//! (normalized), how to accept the behaviour, the contract findings and
//! the body. With colour, the diff marks the words that changed; without,
//! it is a plain unified diff that any log viewer shows.

use std::fmt::Write as _;

use super::diff;
use super::model::{CaseReport, Outcome, StepReport};

/// Lines of a reply body shown under a failing step; the whole body is in
/// report.json and report.html.
const BODY_LINES: usize = 60;

/// Whether to draw with ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Never,
    Always,
}

/// The case's failure text (also for known deviations, where it says why
/// the case deviates).
pub fn case_text(case: &CaseReport, colour: Colour) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "case {} ({})", case.address, case.location());
    let _ = writeln!(out, "  {}", case.title);
    if let Some(source) = &case.source {
        let _ = writeln!(out, "  source: {source}");
    }
    match case.outcome {
        Outcome::UnexpectedConformance => {
            let _ = writeln!(
                out,
                "\nthe case conforms on `{}`, which it lists as a known deviation ({}).\n\
                 The deviation is stale: remove `{}` from the case's `deviations`.",
                case.target,
                case.deviation.as_deref().unwrap_or(""),
                case.target
            );
            return out;
        }
        Outcome::Skipped => {
            let _ = writeln!(
                out,
                "  skipped on `{}`: {}",
                case.target,
                case.skipped.as_deref().unwrap_or("")
            );
            return out;
        }
        Outcome::KnownDeviation => {
            let _ = writeln!(
                out,
                "  known deviation on `{}`: {}",
                case.target,
                case.deviation.as_deref().unwrap_or("")
            );
        }
        Outcome::Fails | Outcome::Conforms => {}
    }
    for step in case.failed_steps() {
        step_text(&mut out, step, colour);
    }
    out
}

fn step_text(out: &mut String, step: &StepReport, colour: Colour) {
    let _ = writeln!(out, "\n{} at {}", step.title(), step.location);
    if let Some(request) = &step.request {
        let mut lines = request.to_http();
        lines = lines.replace('\n', "\n    ");
        let _ = writeln!(out, "  request: {lines}");
    }
    if step.attempts.len() > 1 {
        let tried: Vec<String> = step
            .attempts
            .iter()
            .map(|a| {
                let what = a
                    .error_code
                    .as_deref()
                    .unwrap_or(if a.met { "met" } else { "not yet" });
                let retried = if a.retried.is_some() {
                    " (retried)"
                } else {
                    ""
                };
                format!("+{}ms {} {what}{retried}", a.waited_ms, a.status)
            })
            .collect();
        let _ = writeln!(out, "  attempts: {}", tried.join(", "));
    }
    for problem in &step.problems {
        let _ = writeln!(out, "  problem: {problem}");
    }
    if let Some(check) = &step.check {
        if check.mismatches > 0 {
            let hunks = check.hunks();
            let drawn = match colour {
                Colour::Never => diff::unified(&hunks),
                Colour::Always => diff::ansi(&hunks),
            };
            for line in drawn.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        if let Some(hint) = &check.hint {
            let _ = writeln!(out, "  {hint}");
        }
    }
    for finding in &step.findings {
        let _ = writeln!(out, "  contract: {}", finding.message);
    }
    if let Some(body) = step.response.as_ref().and_then(|r| r.body.as_ref()) {
        let shown = serde_json::to_string_pretty(body).unwrap_or_default();
        let _ = writeln!(out, "  actual body (normalized):");
        let total = shown.lines().count();
        for line in shown.lines().take(BODY_LINES) {
            let _ = writeln!(out, "    {line}");
        }
        if total > BODY_LINES {
            let _ = writeln!(
                out,
                "    … {} more lines in report.json",
                total - BODY_LINES
            );
        }
    }
}
