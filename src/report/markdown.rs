//! The Markdown sink: `report.md`, GitHub-flavoured, for a CI job summary
//! (`cat report.md >> $GITHUB_STEP_SUMMARY`) or a pull-request comment.
//!
//! It is read in a narrow box by someone who wants to know what broke: a
//! headline and a table of outcomes, then each failing case with its
//! location, the failing step, the diff in a ```diff fence, the contract
//! findings and, folded, the redacted request and the reply; every other
//! outcome is a folded list of one line per case, so 300 passing cases
//! cost one line of the page. Past [`MAX_DETAILED`] failing cases the rest
//! are listed by address only (report.html has them all), which keeps the
//! file under the size of a GitHub comment.
//!
//! Everything taken from cases and replies is escaped: text outside code is
//! backslash- and entity-escaped (GitHub renders inline HTML), code spans
//! and fences are longer than any run of backticks inside them.

use std::fmt::Write as _;
use std::io;

use super::model::{
    CaseReport, CoverageFigures, CoverageReport, Outcome, Phase, RunReport, StepReport,
};
use super::FinalReport;

/// Failing cases shown in full; the rest are listed.
pub const MAX_DETAILED: usize = 25;
/// Lines of a reply body shown under a failing step.
const BODY_LINES: usize = 40;

pub struct MarkdownReport;

impl FinalReport for MarkdownReport {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, report: &RunReport) -> io::Result<String> {
        Ok(render(report))
    }
}

pub fn icon(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fails => "❌",
        Outcome::UnexpectedConformance => "❗",
        Outcome::KnownDeviation => "🟡",
        Outcome::Skipped => "⏭️",
        Outcome::Conforms => "✅",
    }
}

fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let failing = s.fails + s.unexpected_conformance;
    if failing == 0 {
        let _ = writeln!(
            out,
            "## ✅ ipconform: all {} case{} pass\n",
            s.total,
            plural(s.total)
        );
    } else {
        let _ = writeln!(
            out,
            "## ❌ ipconform: {failing} of {} case{} fail\n",
            s.total,
            plural(s.total)
        );
    }
    let _ = writeln!(
        out,
        "Run {} on {} · started {} · {:.2} s · ipconform {}\n",
        code(&report.run.run_id),
        report
            .run
            .targets
            .iter()
            .map(|t| code(t))
            .collect::<Vec<_>>()
            .join(", "),
        text(&report.run.started_at),
        report.run.elapsed_us as f64 / 1e6,
        text(&report.run.tool_version)
    );
    out.push_str("| outcome | cases |\n|:--|--:|\n");
    for (outcome, n) in s.by_outcome() {
        if n > 0 || outcome == Outcome::Fails {
            let _ = writeln!(out, "| {} {} | {n} |", icon(outcome), outcome.label());
        }
    }
    let _ = writeln!(out, "| **total** | **{}** |\n", s.total);

    if report.by_dialect.len() > 1 {
        out.push_str("<details><summary>Outcomes per dialect</summary>\n\n");
        out.push_str(
            "| dialect | ✅ | ❌ | ❗ | 🟡 | ⏭️ | total |\n|:--|--:|--:|--:|--:|--:|--:|\n",
        );
        for d in &report.by_dialect {
            let c = &d.counts;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                code(&d.dialect),
                c.conforms,
                c.fails,
                c.unexpected_conformance,
                c.known_deviations,
                c.skipped,
                c.total
            );
        }
        out.push_str("\n</details>\n\n");
    }

    let cases = report.cases_by_outcome();
    let failures: Vec<&CaseReport> = cases
        .iter()
        .copied()
        .filter(|c| c.outcome.is_failure())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "### Failing cases ({})\n", failures.len());
        for case in failures.iter().take(MAX_DETAILED) {
            failing_case(&mut out, case);
        }
        if failures.len() > MAX_DETAILED {
            let _ = writeln!(
                out,
                "{} more failing cases, in full in report.html:\n",
                failures.len() - MAX_DETAILED
            );
            for case in &failures[MAX_DETAILED..] {
                let _ = writeln!(
                    out,
                    "- {} ({})",
                    code(&case.address),
                    code(&case.location())
                );
            }
            out.push('\n');
        }
    }

    let others: Vec<Outcome> = [Outcome::KnownDeviation, Outcome::Skipped, Outcome::Conforms]
        .into_iter()
        .filter(|o| cases.iter().any(|c| c.outcome == *o))
        .collect();
    if !others.is_empty() {
        out.push_str("### Other outcomes\n\n");
    }
    for outcome in others {
        let of: Vec<&&CaseReport> = cases.iter().filter(|c| c.outcome == outcome).collect();
        let _ = writeln!(
            out,
            "<details><summary>{} {} {}</summary>\n",
            icon(outcome),
            of.len(),
            match outcome {
                Outcome::Conforms => "conform",
                Outcome::Skipped => "skipped",
                _ if of.len() == 1 => "known deviation",
                _ => "known deviations",
            }
        );
        for case in of {
            let why = match outcome {
                Outcome::KnownDeviation => case.deviation.as_deref(),
                Outcome::Skipped => case.skipped.as_deref(),
                _ => None,
            };
            match why {
                Some(why) => {
                    let _ = writeln!(out, "- {}: {}", code(&case.address), text(why));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "- {} ({} ms)",
                        code(&case.address),
                        case.elapsed_us / 1000
                    );
                }
            }
        }
        out.push_str("\n</details>\n\n");
    }
    if let Some(coverage) = &report.coverage {
        coverage_section(&mut out, coverage);
    }
    out
}

/// The figures per dialect and operation, then what no case exercises.
fn coverage_section(out: &mut String, c: &CoverageReport) {
    let figures = |f: &CoverageFigures| {
        format!(
            "{}/{} | {}/{} | {:.1}%",
            f.parameters_exercised,
            f.parameters_total,
            f.errors_exercised,
            f.errors_total,
            f.percent
        )
    };
    let _ = writeln!(
        out,
        "### Spec coverage: {:.1}%\n\nDocumented parameters and error codes the cases of this run exercise (`ipconform coverage` has the detail).\n",
        c.summary.percent
    );
    out.push_str(
        "| dialect / operation | parameters | error codes | covered |\n|:--|--:|--:|--:|\n",
    );
    for d in &c.dialects {
        let _ = writeln!(
            out,
            "| **{}** | {} |",
            code(&d.dialect),
            figures(&d.summary)
        );
        for o in &d.operations {
            let _ = writeln!(
                out,
                "| &nbsp;&nbsp;{} | {} |",
                code(&o.operation),
                figures(&o.summary)
            );
        }
    }
    out.push('\n');
    let missing: Vec<String> = c
        .dialects
        .iter()
        .flat_map(|d| {
            let ops = d.operations.iter().filter_map(move |o| {
                let items: Vec<String> = o
                    .unexercised_parameters
                    .iter()
                    .map(|p| code(p))
                    .chain(o.unexercised_errors.iter().map(|e| code(e)))
                    .collect();
                (!items.is_empty()).then(|| {
                    format!(
                        "- {} {}: {}",
                        code(&d.dialect),
                        code(&o.operation),
                        items.join(", ")
                    )
                })
            });
            let common = (!d.unexercised_common_errors.is_empty()).then(|| {
                format!(
                    "- {} common error rows: {}",
                    code(&d.dialect),
                    d.unexercised_common_errors
                        .iter()
                        .map(|e| code(e))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            ops.chain(common)
        })
        .collect();
    if !missing.is_empty() {
        out.push_str("<details><summary>What no case exercises</summary>\n\n");
        for line in missing {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("\n</details>\n\n");
    }
}

fn failing_case(out: &mut String, case: &CaseReport) {
    let _ = writeln!(
        out,
        "#### {} {} — {}\n",
        icon(case.outcome),
        code(&case.address),
        text(&case.title)
    );
    let _ = writeln!(
        out,
        "{} on {} · {} · {} ms\n",
        code(&case.location()),
        code(&case.target),
        case.outcome.label(),
        case.elapsed_us / 1000
    );
    if case.outcome == Outcome::UnexpectedConformance {
        let _ = writeln!(
            out,
            "The case conforms on {}, which it lists as a known deviation ({}). \
             The deviation is stale: remove {} from the case's `deviations`.\n",
            code(&case.target),
            text(case.deviation.as_deref().unwrap_or("")),
            code(&case.target)
        );
        return;
    }
    for step in case.failed_steps() {
        failing_step(out, step);
    }
}

fn failing_step(out: &mut String, step: &StepReport) {
    let phase = match step.phase {
        Phase::Step => "step",
        Phase::Cleanup => "cleanup step",
    };
    let _ = writeln!(
        out,
        "**{phase} {}** {} at {}\n",
        step.index,
        code(&step.call),
        code(&step.location)
    );
    for problem in &step.problems {
        let _ = writeln!(out, "- problem: {}", text(problem));
    }
    if !step.problems.is_empty() {
        out.push('\n');
    }
    if let Some(check) = &step.check {
        if let Some(diff) = &check.diff {
            out.push_str(&fence("diff", diff));
        }
        if let Some(hint) = &check.hint {
            let _ = writeln!(out, "> {}\n", text(hint));
        }
    }
    if !step.findings.is_empty() {
        out.push_str("Contract findings:\n\n");
        for finding in &step.findings {
            let _ = writeln!(out, "- {}", text(&finding.message));
        }
        out.push('\n');
    }
    if step.request.is_none() && step.response.is_none() {
        return;
    }
    out.push_str("<details><summary>request and reply</summary>\n\n");
    if let Some(request) = &step.request {
        out.push_str(&fence("http", &request.to_http()));
    }
    if step.attempts.len() > 1 {
        out.push_str(
            "| attempt | waited | status | code | met or retried |\n|--:|--:|--:|:--|:--|\n",
        );
        for (i, a) in step.attempts.iter().enumerate() {
            let note = match &a.retried {
                Some(why) => format!("retried: {}", why.replace('|', "\\|")),
                None if a.met => "yes".into(),
                None => "no".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} ms | {} | {} | {note} |",
                i + 1,
                a.waited_ms,
                a.status,
                a.error_code.as_deref().map(code).unwrap_or_default(),
            );
        }
        out.push('\n');
    }
    if let Some(response) = &step.response {
        let _ = writeln!(
            out,
            "Reply: HTTP {}{}\n",
            response
                .status
                .map_or_else(|| "?".to_string(), |s| s.to_string()),
            response
                .error_code
                .as_deref()
                .map(|c| format!(", error {}", code(c)))
                .unwrap_or_default()
        );
        if let Some(body) = &response.body {
            let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
            let total = pretty.lines().count();
            let mut shown: String = pretty
                .lines()
                .take(BODY_LINES)
                .collect::<Vec<_>>()
                .join("\n");
            if total > BODY_LINES {
                let _ = write!(
                    shown,
                    "\n… {} more lines in report.json",
                    total - BODY_LINES
                );
            }
            out.push_str(&fence("json", &shown));
        }
    }
    out.push_str("</details>\n\n");
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The longest run of backticks in `s`.
fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// An inline code span that holds `s` verbatim (CommonMark: the fence is
/// longer than any backtick run inside; a space pads a leading or trailing
/// backtick). Line breaks become spaces: a span is one line.
pub fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// A fenced code block that `s` cannot close early.
pub fn fence(lang: &str, s: &str) -> String {
    let ticks = "`".repeat((longest_backtick_run(s) + 1).max(3));
    let body = s.trim_end_matches('\n');
    format!("{ticks}{lang}\n{body}\n{ticks}\n\n")
}

/// Text outside code: Markdown punctuation backslash-escaped, `<`, `>` and
/// `&` as entities (GitHub renders inline HTML), one line.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            // Only what is special inside a line; text never starts one.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::samples;
    use crate::runner;

    #[test]
    fn three_hundred_passing_cases_do_not_bury_two_failing_ones() {
        let mut results = samples::every_outcome();
        results.retain(|r| r.outcome == runner::Outcome::Fails);
        assert_eq!(results.len(), 2);
        for i in 0..300 {
            results.push(samples::result(
                &format!("passing-{i:03}"),
                runner::Outcome::Conforms,
                vec![],
            ));
        }
        let info = crate::report::RunInfo {
            run_id: "r".into(),
            started_at: "2026-11-30T00:00:00+00:00".into(),
            targets: vec!["emulator".into()],
            cases: results.len(),
            version: "0.1.0",
            coverage: None,
        };
        let report = RunReport::build(
            &info,
            std::time::Duration::ZERO,
            "2026-11-30T00:00:01+00:00",
            &results,
        );
        let md = render(&report);
        assert!(
            md.starts_with("## ❌ ipconform: 2 of 302 cases fail\n"),
            "{md}"
        );
        let diff = md.find("```diff").expect("the diff of the failing case");
        let folded = md
            .find("<details><summary>✅ 300 conform</summary>")
            .unwrap();
        assert!(diff < folded, "failures come before the passing list");
        assert_eq!(md.matches("t::passing-").count(), 300, "one line each");
        assert!(md.len() < 30_000, "{} bytes", md.len());
    }

    #[test]
    fn code_and_fences_cannot_be_closed_from_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        let f = fence("json", "{\"a\": \"```\"}");
        assert!(f.starts_with("````json\n"), "{f}");
        assert!(f.ends_with("\n````\n\n"), "{f}");
    }

    #[test]
    fn text_cannot_inject_markup() {
        assert_eq!(
            text("<script>*x*</script> [a](b)"),
            "&lt;script&gt;\\*x\\*&lt;/script&gt; \\[a\\](b)"
        );
        assert!(!text("a\nb").contains('\n'));
    }
}
