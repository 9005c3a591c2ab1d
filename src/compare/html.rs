//! `comparison.html`: one self-contained page (inline style, no script, no
//! external asset) with the matrix (`id="matrix"`, each cell
//! `class="cell outcome-<kind>"`), the legend (`id="legend"`), and each
//! cell's detail, which its cell links to.
//!
//! A cell's detail is the compiled case's run, step by step, drawn by a
//! [`CaseDetail`]: [`ReportDetail`] draws it as report.html does.

use std::fmt::Write as _;

use super::markdown::headline;
use super::{latency, Cell, CellState, Comparison, Row, LEGEND};
use crate::runner::CaseResult;

/// Draws one case's run as an HTML fragment (escaped, self-contained).
pub trait CaseDetail {
    fn render(&self, result: &CaseResult) -> String;
}

/// The conformance report's own rendering of a case's steps (word-level
/// diffs, normalized replies, requests, polling attempts), so a cell's
/// detail reads as the same case does in report.html.
pub struct ReportDetail;

impl CaseDetail for ReportDetail {
    fn render(&self, result: &CaseResult) -> String {
        crate::report::html::case_steps_fragment(result)
    }
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1b1b}
h1{font-size:1.5em}code{font:12px ui-monospace,monospace}
table#matrix{border-collapse:collapse;margin:1em 0}
#matrix th,#matrix td{border:1px solid #ccc;padding:.4em .6em;vertical-align:top;text-align:left}
#matrix thead th{background:#f3f3f3}
#matrix tr.differs th[scope=row]{border-left:4px solid #d97706}
#matrix tr.differs-in-state th[scope=row]{border-left:4px solid #f5c16c}
.flag.state{background:#f5c16c;color:#1b1b1b}
.flag{display:inline-block;background:#d97706;color:#fff;border-radius:3px;padding:0 .4em;font-size:11px;margin-left:.4em}
.title{color:#555;font-size:12px;font-weight:400;max-width:28em}
.cell a{color:inherit;text-decoration:none;display:block}
.cell .outcome{font-weight:600}.cell .meta{display:block;color:#555;font-size:12px}
.cell.fails{background:#fde8e8}.cell.outcome-na{background:#f6f6f6;color:#888}
.cell.outcome-ok{background:#eaf7ea}
.cell.conforms:not(.outcome-ok):not(.outcome-na){background:#eef3fb}
.verdict{font-weight:700}.fails .verdict{color:#b91c1c}
#legend dt{font-weight:700;float:left;clear:left;width:7em}#legend dd{margin:0 0 .3em 7.5em}
.detail{border-top:1px solid #ddd;margin-top:1em;padding-top:.5em}
.steps li{margin:.5em 0}.steps .head{font-weight:600}.steps .failed>.head{color:#b91c1c}
.where{color:#777;font-weight:400;font-size:12px}
pre{background:#f7f7f7;padding:.5em;overflow:auto;font-size:12px}
.diff .add{color:#166534}.diff .del{color:#b91c1c}.problem{color:#b91c1c}
.why{font-style:italic;color:#444}
";

/// The page, with `detail` drawing each cell's run.
pub fn render(doc: &Comparison, detail: &dyn CaseDetail) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>ipconform vendor comparison {}</title>\n<style>{}{STYLE}</style>\n</head>\n<body>",
        crate::report::html::STEP_CSS,
        esc(&doc.run.run_id)
    );
    out.push_str("<h1>Vendor comparison</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"summary\">{}</p>",
        esc(&headline(doc).replace("**", "").replace('`', ""))
    );
    matrix(&mut out, doc);
    legend(&mut out);
    out.push_str("<section id=\"details\">\n<h2>Details</h2>\n");
    for row in &doc.rows {
        for cell in &row.cells {
            cell_detail(&mut out, row, cell, detail);
        }
    }
    out.push_str("</section>\n</body>\n</html>\n");
    out
}

fn matrix(out: &mut String, doc: &Comparison) {
    let one_target = doc.columns.windows(2).all(|w| w[0].target == w[1].target);
    out.push_str("<table id=\"matrix\">\n<thead><tr><th>scenario</th>");
    for c in &doc.columns {
        if one_target {
            let _ = write!(out, "<th>{}</th>", esc(c.dialect.as_str()));
        } else {
            let _ = write!(
                out,
                "<th>{}<br>{}</th>",
                esc(&c.target),
                esc(c.dialect.as_str())
            );
        }
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &doc.rows {
        let _ = write!(
            out,
            "<tr class=\"row{}\" id=\"s-{}\"><th scope=\"row\"><code>{}</code>{}<div class=\"title\">{}</div></th>",
            match (row.differs, row.documented_difference) {
                (true, _) => " differs",
                (false, true) => " differs-in-state",
                _ => "",
            },
            anchor(&row.scenario),
            esc(&row.scenario),
            match (row.differs, row.documented_difference) {
                (true, _) => "<span class=\"flag\">differs</span>",
                (false, true) => "<span class=\"flag state\">differs in state</span>",
                _ => "",
            },
            esc(&row.title)
        );
        for cell in &row.cells {
            cell_html(out, row, cell);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The CSS class of a cell's outcome: `outcome-ok`, `outcome-ip-in-use`,
/// `outcome-na`, `outcome-not-reached`.
pub fn outcome_class(cell: &Cell) -> String {
    match (cell.state, &cell.observed) {
        (CellState::NotApplicable, _) => "outcome-na".into(),
        (CellState::Ran, None) => "outcome-not-reached".into(),
        (CellState::Ran, Some(o)) => format!(
            "outcome-{}",
            o.outcome
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                })
                .collect::<String>()
        ),
    }
}

fn cell_html(out: &mut String, row: &Row, cell: &Cell) {
    let verdict_class = match (cell.state, cell.conforms) {
        (CellState::NotApplicable, _) => "na",
        (_, true) => "conforms",
        (_, false) => "fails",
    };
    let _ = write!(
        out,
        "<td class=\"cell {} {verdict_class}\" data-dialect=\"{}\"><a href=\"#{}\">",
        outcome_class(cell),
        esc(cell.dialect.as_str()),
        detail_id(row, cell)
    );
    let star = if cell.why.is_some() { "*" } else { "" };
    match (cell.state, &cell.observed) {
        (CellState::NotApplicable, _) => out.push_str("<span class=\"outcome\">n/a</span>"),
        (CellState::Ran, None) => {
            let _ = write!(
                out,
                "<span class=\"verdict\">✗</span> <span class=\"outcome\">not reached</span><span class=\"meta\">documented: {}{star}</span>",
                esc(&cell.expected)
            );
        }
        (CellState::Ran, Some(o)) => {
            let _ = write!(
                out,
                "<span class=\"verdict\">{}</span> <span class=\"outcome\">{}{star}</span><span class=\"meta\">",
                if cell.conforms { "✓" } else { "✗" },
                esc(&o.outcome)
            );
            if let Some(code) = &o.code {
                let _ = write!(out, "<code>{}</code> · ", esc(code));
            }
            if let Some(status) = o.http_status {
                let _ = write!(out, "{status} · ");
            }
            let _ = write!(out, "{}", latency(o.latency));
            if o.outcome != cell.expected {
                let _ = write!(out, " · documented: {}", esc(&cell.expected));
            }
            out.push_str("</span>");
        }
    }
    out.push_str("</a></td>");
}

fn legend(out: &mut String) {
    out.push_str("<section id=\"legend\">\n<h2>Legend</h2>\n<dl>\n");
    for entry in LEGEND {
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            esc(entry.symbol),
            esc(entry.meaning)
        );
    }
    out.push_str("</dl>\n</section>\n");
}

fn cell_detail(out: &mut String, row: &Row, cell: &Cell, detail: &dyn CaseDetail) {
    let _ = writeln!(
        out,
        "<section class=\"detail\" id=\"{}\">\n<h3><a href=\"#s-{}\">{}</a> on {}</h3>",
        detail_id(row, cell),
        anchor(&row.scenario),
        esc(&row.scenario),
        esc(&cell.column)
    );
    let _ = writeln!(
        out,
        "<p>{} · <code>{}</code> · {}:{}</p>",
        esc(&row.title),
        esc(&cell.address),
        esc(&row.file),
        row.line
    );
    let _ = writeln!(
        out,
        "<p>documented outcome of the observed step: <strong>{}</strong></p>",
        esc(&cell.expected)
    );
    if let Some(why) = &cell.why {
        let _ = writeln!(out, "<p class=\"why\">{}</p>", esc(why));
    }
    if let Some(reason) = &cell.reason {
        let _ = writeln!(out, "<p>not applicable: {}</p>", esc(reason));
    }
    if let Some(result) = &cell.result {
        out.push_str(&detail.render(result));
    }
    out.push_str("</section>\n");
}

fn detail_id(row: &Row, cell: &Cell) -> String {
    format!("d-{}--{}", anchor(&row.scenario), anchor(&cell.column))
}

/// An id made of letters, digits and `-`.
fn anchor(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Text safe in HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
