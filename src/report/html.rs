//! The HTML sink: `report.html`, one self-contained page to open from a CI
//! artifact or a laptop, offline.
//!
//! The page is built with `maud`, whose templates escape every value they
//! interpolate: a reply body, a case title or a header cannot become markup.
//! Only the page's own stylesheet and script are inserted raw, and a
//! Content-Security-Policy made of their SHA-256 hashes lets nothing else
//! run or load (no external font, image or script, and no inline handler
//! even if something slipped through).
//!
//! The summary comes first (`id="summary"`: counts per outcome and per
//! dialect, run id, targets, times, links to the failing cases), then every
//! case (`id="case-<address>"`), failing ones first and open, the others in
//! closed `<details>`. A step shows its request and reply (redacted,
//! normalized), each polling attempt, the diff of expected and actual
//! (`class="diff"`, changed words in `<del>`/`<ins>`), the contract findings
//! and its time. Without JavaScript everything still reads; the script only
//! adds expand/collapse-all buttons and opens a case named in the URL's
//! fragment. A page prints as it is shown: the summary, the failing cases
//! in full and one line per other case (expand all first to print all).

use std::collections::HashSet;
use std::io;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use sha2::{Digest, Sha256};

use super::diff::{Hunk, Tag};
use super::model::{
    CaseReport, CoverageFigures, CoverageReport, Outcome, Phase, RunReport, StepReport, StepResult,
};
use super::FinalReport;
use crate::runner::CaseResult;

pub struct HtmlReport;

impl FinalReport for HtmlReport {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, report: &RunReport) -> io::Result<String> {
        Ok(page(report).into_string())
    }
}

const CSS: &str = r#"
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 80rem; padding: 1rem 1.5rem 3rem; color: var(--fg); background: var(--bg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
h1 { font-size: 1.5rem; margin: .5rem 0; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1rem; margin: 0 0 .4rem; }
.verdict { font-size: 1.15rem; font-weight: 600; margin: .25rem 0 1rem; }
.verdict.failing { color: var(--fail); } .verdict.passing { color: var(--pass); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .5rem 0 1rem; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .5rem 1.5rem 1rem 0; display: inline-table; vertical-align: top; }
th, td { border: 1px solid var(--line); padding: .2rem .6rem; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.coverage span.op { display: inline-block; padding-left: 1.5em; font-weight: normal; }
.badge { display: inline-block; min-width: 9.5em; padding: 0 .4rem; border-radius: 4px; font-size: .8rem;
  font-weight: 600; text-transform: uppercase; letter-spacing: .02em; text-align: center; color: #fff; }
.badge.fails, .badge.unexpected_conformance { background: var(--fail); }
.badge.known_deviation { background: var(--warn); } .badge.skipped { background: var(--skip); }
.badge.conforms { background: var(--pass); }
nav.failing ul { margin: .25rem 0; }
.controls { margin: .5rem 0; } .controls button { font: inherit; margin-right: .5rem; }
details.case { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; background: var(--bg); }
details.case > summary { cursor: pointer; padding: .4rem .6rem; list-style-position: outside; margin-left: 1rem; }
details.case[open] > summary { border-bottom: 1px solid var(--line); }
details.case.fails, details.case.unexpected_conformance { border-left: 4px solid var(--fail); }
.case-body { padding: .5rem 1rem 1rem; }
.title { margin-left: .4rem; } .time { color: var(--muted); font-size: .85rem; margin-left: .5rem; }
.address { overflow-wrap: anywhere; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  .controls, nav.failing { display: none; }
  details.case { break-inside: avoid; border-color: #999; }
  pre { white-space: pre-wrap; border-color: #999; }
  pre.diff, .badge { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  pre.diff del { text-decoration: line-through; } pre.diff ins { text-decoration: underline; }
}
"#;

/// What a case's steps need, wherever they are drawn (report.html, and
/// the cell details of comparison.html): the palette, steps, diffs with
/// their word-level changes, requests and replies.
pub const STEP_CSS: &str = r#"
:root { --fg:#1f2328; --muted:#59636e; --bg:#fff; --panel:#f6f8fa; --line:#d1d9e0;
  --fail:#cf222e; --pass:#1a7f37; --warn:#9a6700; --skip:#59636e;
  --del-bg:#ffebe9; --del-word:#ffb3ad; --ins-bg:#dafbe1; --ins-word:#8ae0a0; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --muted:#9198a1; --bg:#0d1117;
  --panel:#151b23; --line:#3d444d; --fail:#ff7b72; --pass:#3fb950; --warn:#d29922; --skip:#9198a1;
  --del-bg:#3c1618; --del-word:#8e1519; --ins-bg:#12261e; --ins-word:#1f6f3a; } }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
section.step { border-top: 1px dashed var(--line); padding-top: .6rem; margin-top: .6rem; }
section.step.failed h3 { color: var(--fail); }
.loc { color: var(--muted); font-weight: normal; margin-left: .5rem; }
.note { background: var(--panel); border-left: 3px solid var(--warn); padding: .3rem .6rem; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: .5rem .7rem;
  overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0 .6rem; }
pre.diff span.line { display: inline-block; min-width: 100%; }
pre.diff .head, pre.diff .hunk { color: var(--muted); }
pre.diff .removed { background: var(--del-bg); } pre.diff .added { background: var(--ins-bg); }
pre.diff del, pre.diff ins { text-decoration: none; font-weight: 700; border-radius: 2px; }
pre.diff del { background: var(--del-word); } pre.diff ins { background: var(--ins-word); }
.hint { color: var(--muted); font-style: italic; }
ul.findings li, ul.problems li { color: var(--fail); }
details.io > summary { cursor: pointer; color: var(--muted); }
.time { color: var(--muted); font-size: .85rem; margin-left: .5rem; }
"#;

const JS: &str = r#"
(function () {
  var controls = document.querySelector('.controls');
  if (controls) controls.hidden = false;
  function setCases(open) {
    document.querySelectorAll('details.case').forEach(function (d) { d.open = open; });
  }
  var expand = document.getElementById('expand-all');
  var collapse = document.getElementById('collapse-all');
  if (expand) expand.addEventListener('click', function () { setCases(true); });
  if (collapse) collapse.addEventListener('click', function () { setCases(false); });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === 'DETAILS') el.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
})();
"#;

/// `'sha256-…'` of an inline element's text, for the page's CSP.
fn csp_hash(text: &str) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// `case-` and the address with everything but ASCII letters, digits, `-`
/// and `_` replaced by `-`: an id that CSS selectors and URLs take as is.
pub fn case_id(address: &str) -> String {
    let body: String = address
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("case-{body}")
}

/// Ids for every case, unique even where two addresses sanitize alike.
fn case_ids<'a>(cases: &[&'a CaseReport]) -> Vec<(&'a CaseReport, String)> {
    let mut seen = HashSet::new();
    cases
        .iter()
        .map(|case| {
            let base = case_id(&case.address);
            let mut id = base.clone();
            let mut n = 2;
            while !seen.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            (*case, id)
        })
        .collect()
}

fn page(report: &RunReport) -> Markup {
    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:",
        csp_hash(&style()),
        csp_hash(JS)
    );
    let cases = case_ids(&report.cases_by_outcome());
    let s = &report.summary;
    let failing = s.fails + s.unexpected_conformance;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title {
                    "ipconform " (report.run.run_id) " — "
                    @if failing == 0 { "all pass" } @else { (failing) " failing" }
                }
                style { (PreEscaped(style())) }
            }
            body {
                header id="summary" {
                    h1 { "ipconform run " code { (report.run.run_id) } }
                    @if failing == 0 {
                        p.verdict.passing { "All " (s.total) " cases pass." }
                    } @else {
                        p.verdict.failing { (failing) " of " (s.total) " cases fail." }
                    }
                    dl.facts {
                        dt { "targets" } dd { (report.run.targets.join(", ")) }
                        dt { "started" } dd { (report.run.started_at) }
                        dt { "finished" } dd { (report.run.finished_at) }
                        dt { "elapsed" } dd { (seconds(report.run.elapsed_us)) }
                        dt { "ipconform" } dd { (report.run.tool_version) }
                        dt { "report schema" } dd { (report.kind) " v" (report.schema_version) }
                    }
                    table.outcomes {
                        caption { "Outcomes" }
                        thead { tr { th { "outcome" } th.n { "cases" } } }
                        tbody {
                            @for (outcome, n) in s.by_outcome() {
                                tr class=(outcome.as_str()) {
                                    td { (badge(outcome)) }
                                    td.n { (n) }
                                }
                            }
                            tr { th { "total" } td.n { (s.total) } }
                        }
                    }
                    table.dialects {
                        caption { "Per dialect" }
                        thead { tr {
                            th { "dialect" }
                            @for (outcome, _) in s.by_outcome() { th.n { (outcome.label()) } }
                            th.n { "total" }
                        } }
                        tbody {
                            @for d in &report.by_dialect {
                                tr {
                                    th { code { (d.dialect) } }
                                    @for (_, n) in d.counts.by_outcome() { td.n { (n) } }
                                    td.n { (d.counts.total) }
                                }
                            }
                        }
                    }
                    @if failing > 0 {
                        nav.failing {
                            "Failing cases:"
                            ul {
                                @for (case, id) in cases.iter().filter(|(c, _)| c.outcome.is_failure()) {
                                    li { a href=(format!("#{id}")) { code { (case.address) } } }
                                }
                            }
                        }
                    }
                    div.controls hidden {
                        button type="button" id="expand-all" { "Expand all" }
                        button type="button" id="collapse-all" { "Collapse all" }
                    }
                }
                main {
                    h2 { "Cases" }
                    @for (case, id) in &cases { (case_block(case, id)) }
                    @if let Some(coverage) = &report.coverage { (coverage_block(coverage)) }
                }
                script { (PreEscaped(JS)) }
            }
        }
    }
}

/// The spec coverage of the run's cases: figures per dialect and
/// operation, and what no case exercises.
fn coverage_block(c: &CoverageReport) -> Markup {
    let row = |name: Markup, f: &CoverageFigures| {
        html! {
            tr {
                th { (name) }
                td.n { (f.parameters_exercised) "/" (f.parameters_total) }
                td.n { (f.errors_exercised) "/" (f.errors_total) }
                td.n { (format!("{:.1}%", f.percent)) }
            }
        }
    };
    html! {
        section id="coverage" {
            h2 { "Spec coverage: " (format!("{:.1}%", c.summary.percent)) }
            p { "Documented parameters and error codes the cases of this run exercise; "
                code { "ipconform coverage" } " has the detail." }
            table.coverage {
                thead { tr { th { "dialect / operation" } th.n { "parameters" } th.n { "error codes" } th.n { "covered" } } }
                tbody {
                    @for d in &c.dialects {
                        (row(html! { code { (d.dialect) } }, &d.summary))
                        @for o in &d.operations {
                            (row(html! { span.op { code { (o.operation) } } }, &o.summary))
                        }
                    }
                }
            }
            details {
                summary { "What no case exercises" }
                ul {
                    @for d in &c.dialects {
                        @for o in &d.operations {
                            @if !o.unexercised_parameters.is_empty() || !o.unexercised_errors.is_empty() {
                                li {
                                    code { (d.dialect) } " " code { (o.operation) } ": "
                                    @for p in &o.unexercised_parameters { code.param { (p) } " " }
                                    @for e in &o.unexercised_errors { code.code { (e) } " " }
                                }
                            }
                        }
                        @if !d.unexercised_common_errors.is_empty() {
                            li {
                                code { (d.dialect) } " common error rows: "
                                @for e in &d.unexercised_common_errors { code.code { (e) } " " }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn badge(outcome: Outcome) -> Markup {
    html! { span class=(format!("badge {}", outcome.as_str())) { (outcome.label()) } }
}

fn seconds(us: u64) -> String {
    format!("{:.3} s", us as f64 / 1e6)
}

fn millis(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1e3)
}

/// The page's one stylesheet: the steps' rules, then the page's.
fn style() -> String {
    format!("{STEP_CSS}{CSS}")
}

/// One case's steps as an HTML fragment, drawn as report.html draws them
/// (word-level diffs, normalized replies, requests, polling attempts), for
/// another page that shows a case's detail; it needs [`STEP_CSS`].
pub fn case_steps_fragment(result: &CaseResult) -> String {
    let case = CaseReport::build(result);
    html! {
        @if let Some(why) = &case.skipped { p.note { "Not run: " (why) } }
        @for step in &case.steps { (step_block(step)) }
    }
    .into_string()
}

fn case_block(case: &CaseReport, id: &str) -> Markup {
    let open = case.outcome.is_failure();
    html! {
        details id=(id) class=(format!("case {}", case.outcome.as_str())) open[open] {
            summary {
                (badge(case.outcome)) " "
                code.address { (case.address) }
                span.title { (case.title) }
                span.time { (millis(case.elapsed_us)) }
            }
            div.case-body {
                dl.facts {
                    dt { "case" } dd { code { (case.location()) } }
                    dt { "target" } dd { code { (case.target) } }
                    dt { "dialect" } dd { code { (case.dialect) } }
                    @if let Some(source) = &case.source { dt { "source" } dd { (source) } }
                    @if !case.tags.is_empty() { dt { "tags" } dd { (case.tags.join(", ")) } }
                    @if let Some(why) = &case.deviation { dt { "known deviation" } dd { (why) } }
                    @if let Some(why) = &case.skipped { dt { "skipped" } dd { (why) } }
                    @if !case.captures.is_empty() {
                        dt { "captured" }
                        dd {
                            @for (i, c) in case.captures.iter().enumerate() {
                                @if i > 0 { ", " }
                                code { (c.name) " = " (c.value) }
                            }
                        }
                    }
                }
                @match case.outcome {
                    Outcome::UnexpectedConformance => {
                        p.note {
                            "The case conforms on " code { (case.target) } ", which it lists as a known deviation. "
                            "The deviation is stale: remove " code { (case.target) } " from the case's "
                            code { "deviations" } "."
                        }
                    }
                    Outcome::KnownDeviation => {
                        p.note { "Deviates as the case expects on " code { (case.target) } "; the difference is below." }
                    }
                    Outcome::Skipped => {
                        p.note { "Not run: " (case.skipped.as_deref().unwrap_or("")) }
                    }
                    _ => {}
                }
                @for step in &case.steps { (step_block(step)) }
            }
        }
    }
}

fn step_block(step: &StepReport) -> Markup {
    let failed = step.result == StepResult::Failed;
    let result = match step.result {
        StepResult::Passed => "passed",
        StepResult::Failed => "failed",
        StepResult::Skipped => "skipped",
    };
    html! {
        section class=(format!("step {result}")) {
            h3 {
                @match step.phase { Phase::Step => "step ", Phase::Cleanup => "cleanup step " }
                (step.index) " " code { (step.call) }
                span.loc { code { (step.location) } }
                span.time { (result) " · " (millis(step.elapsed_us)) }
            }
            @if let Some(why) = &step.skipped { p.note { "Skipped: " (why) } }
            @if !step.problems.is_empty() {
                ul.problems { @for p in &step.problems { li { (p) } } }
            }
            @if let Some(check) = &step.check {
                @if check.mismatches > 0 {
                    (diff_block(&check.hunks()))
                    @if let Some(hint) = &check.hint { p.hint { (hint) } }
                } @else {
                    details.io.checks {
                        summary { "checked " (check.expected.len()) " expectation" @if check.expected.len() != 1 { "s" } }
                        ul { @for line in &check.expected { li { code { (line) } } } }
                    }
                }
            }
            @if !step.findings.is_empty() {
                p { "Contract findings:" }
                ul.findings {
                    @for f in &step.findings { li data-kind=(f.kind) { (f.message) } }
                }
            }
            @if let Some(request) = &step.request {
                details.io.request open[failed] {
                    summary { "request " code { (request.method) } }
                    pre.http { (request.to_http()) }
                }
            }
            @if step.attempts.len() > 1 {
                details.io.attempts open[failed] {
                    summary { (step.attempts.len()) " attempts" }
                    table.attempts {
                        thead { tr { th.n { "#" } th.n { "waited" } th.n { "status" } th { "code" } th { "met or retried" } } }
                        tbody {
                            @for (i, a) in step.attempts.iter().enumerate() {
                                tr {
                                    td.n { (i + 1) }
                                    td.n { (a.waited_ms) " ms" }
                                    td.n { (a.status) }
                                    td { @if let Some(code) = &a.error_code { code { (code) } } }
                                    td {
                                        @if let Some(why) = &a.retried { "retried: " (why) }
                                        @else if a.met { "yes" } @else { "no" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(response) = &step.response {
                details.io.response open[failed] {
                    summary {
                        "reply"
                        @if let Some(status) = response.status { " HTTP " (status) }
                        @if let Some(code) = &response.error_code { " " code { (code) } }
                    }
                    @if let Some(body) = &response.body {
                        pre.body { (serde_json::to_string_pretty(body).unwrap_or_default()) }
                    }
                    @if !response.normalized.is_empty() {
                        p.hint { "Normalized above (as received):" }
                        ul.normalized {
                            @for r in &response.normalized {
                                li { code { (r.pointer) } " " (r.rule.as_str()) ": " code { (r.original) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The diff as a `<pre class="diff">`: one `span.line` per line with its
/// sign (so it reads without colour), changed words in `<del>`/`<ins>`.
fn diff_block(hunks: &[Hunk]) -> Markup {
    html! {
        pre.diff {
            span.line.head { "--- expected" } "\n"
            span.line.head { "+++ actual" } "\n"
            @for hunk in hunks {
                span.line.hunk { (hunk.header) } "\n"
                @for line in &hunk.lines {
                    @let class = match line.tag {
                        Tag::Context => "line context",
                        Tag::Removed => "line removed",
                        Tag::Added => "line added",
                    };
                    span class=(class) {
                        (line.tag.sign())
                        @for (emphasized, text) in &line.segments {
                            @if *emphasized {
                                @match line.tag {
                                    Tag::Removed => del { (text) },
                                    Tag::Added => ins { (text) },
                                    Tag::Context => (text),
                                }
                            } @else {
                                (text)
                            }
                        }
                    }
                    "\n"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_css_safe_and_unique() {
        assert_eq!(
            case_id("emulator::alibaba-ecs::t::wrong-code"),
            "case-emulator--alibaba-ecs--t--wrong-code"
        );
        assert_eq!(case_id("a b\"<x>"), "case-a-b--x-");
    }

    #[test]
    fn the_csp_hash_is_that_of_the_inline_text() {
        // echo -n "" | openssl dgst -sha256 -binary | base64
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
