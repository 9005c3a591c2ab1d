//! `comparison.md`: the matrix as a Markdown table (what `ipconform
//! compare` also prints), its legend, each vendor's documented
//! differences with the documents' words, and why some cells do not apply.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{latency, Cell, CellState, Comparison, LEGEND};

/// The whole document.
pub fn render(doc: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Vendor comparison\n");
    let _ = writeln!(out, "{}\n", headline(doc));
    out.push_str(&matrix(doc));
    let _ = writeln!(out, "\n## Legend\n");
    for entry in LEGEND {
        let _ = writeln!(out, "- **{}**: {}", entry.symbol, entry.meaning);
    }
    let notes = documented_differences(doc);
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "\n## Documented differences\n\nWhere a vendor's documents promise another outcome than the scenario's default (cells marked *):\n"
        );
        out.push_str(&notes);
    }
    let skipped = not_applicable(doc);
    if !skipped.is_empty() {
        let _ = writeln!(out, "\n## Not applicable\n");
        out.push_str(&skipped);
    }
    out
}

/// One sentence: what ran, on what, and how it went.
pub fn headline(doc: &Comparison) -> String {
    let s = &doc.summary;
    let targets: Vec<&str> = {
        let mut t: Vec<&str> = doc.columns.iter().map(|c| c.target.as_str()).collect();
        t.dedup();
        t
    };
    let verdict = if s.failing == 0 {
        "every cell that ran met its vendor's documented contract".to_string()
    } else {
        format!(
            "{} not meet its vendor's documented contract (✗)",
            count(s.failing, "cell did", "cells did")
        )
    };
    format!(
        "Run `{}` on {}, ipconform {}: {} × {}; {} ran, {} not applicable; {verdict}; **{} across vendors**, {} more in state.",
        doc.run.run_id,
        targets.join(", "),
        doc.run.version,
        count(s.rows, "scenario", "scenarios"),
        count(s.columns, "column", "columns"),
        count(s.conforming + s.failing, "cell", "cells"),
        s.not_applicable,
        count(s.differing_rows, "row differs", "rows differ"),
        s.state_differing_rows,
    )
}

/// The matrix alone: one row per scenario, one column per (target,
/// dialect).
pub fn matrix(doc: &Comparison) -> String {
    let mut out = String::new();
    let one_target = doc.columns.windows(2).all(|w| w[0].target == w[1].target);
    out.push_str("| scenario |");
    for c in &doc.columns {
        if one_target {
            let _ = write!(out, " {} |", c.dialect);
        } else {
            let _ = write!(out, " {} · {} |", c.target, c.dialect);
        }
    }
    out.push_str("\n|---|");
    for _ in &doc.columns {
        out.push_str("---|");
    }
    out.push('\n');
    for row in &doc.rows {
        let flag = match (row.differs, row.documented_difference) {
            (true, _) => " ⚠ differs",
            (false, true) => " ⚠ differs in state",
            _ => "",
        };
        let _ = write!(
            out,
            "| **{}**{flag}<br>{} |",
            escape(&row.scenario),
            escape(&row.title)
        );
        for cell in &row.cells {
            let _ = write!(out, " {} |", escape(&cell_text(cell)));
        }
        out.push('\n');
    }
    out
}

/// A cell in words: verdict, outcome, code, status, latency.
pub fn cell_text(cell: &Cell) -> String {
    if cell.state == CellState::NotApplicable {
        return "n/a".into();
    }
    let verdict = if cell.conforms { "✓" } else { "✗" };
    let star = if cell.why.is_some() { "*" } else { "" };
    let Some(observed) = &cell.observed else {
        return format!(
            "{verdict} not reached (documented: {}{star})",
            cell.expected
        );
    };
    let mut text = format!("{verdict} {}{star}", observed.outcome);
    if let Some(code) = &observed.code {
        let _ = write!(text, " · `{code}`");
    }
    if let Some(status) = observed.http_status {
        let _ = write!(text, " · {status}");
    }
    let _ = write!(text, " · {}", latency(observed.latency));
    if observed.outcome != cell.expected {
        let _ = write!(text, " (documented: {})", cell.expected);
    }
    text
}

fn documented_differences(doc: &Comparison) -> String {
    let mut out = String::new();
    for row in &doc.rows {
        let noted: Vec<&Cell> = row.cells.iter().filter(|c| c.why.is_some()).collect();
        if noted.is_empty() {
            continue;
        }
        let _ = writeln!(out, "- **{}**", row.scenario);
        for cell in noted {
            let why = cell.why.as_deref().unwrap_or_default();
            let _ = writeln!(
                out,
                "  - `{}` documents **{}**: {}",
                cell.dialect,
                cell.expected,
                one_line(why)
            );
        }
    }
    out
}

fn not_applicable(doc: &Comparison) -> String {
    // One line per (dialect, reason), naming every scenario it keeps out.
    let mut by_reason: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for row in &doc.rows {
        for cell in &row.cells {
            if let (CellState::NotApplicable, Some(reason)) = (cell.state, &cell.reason) {
                by_reason
                    .entry((cell.dialect.to_string(), one_line(reason)))
                    .or_default()
                    .push(&row.scenario);
            }
        }
    }
    let mut out = String::new();
    for ((dialect, reason), scenarios) in by_reason {
        let _ = writeln!(
            out,
            "- `{dialect}`: {reason} ({})",
            scenarios
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

/// `1 row differs`, `9 rows differ`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text safe inside a table cell: `|` would end the cell, a newline the row.
fn escape(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}
