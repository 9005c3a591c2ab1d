//! Coverage as text for a terminal and as Markdown for reports: first the
//! figures per dialect and operation, then, the point of the exercise, what
//! no case exercises, operation by operation.

use std::fmt::Write as _;

use super::{Count, Coverage, ErrorCoverage, ParameterCoverage, Tally};

pub(super) fn text(c: &Coverage) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(c));
    if c.dialects.is_empty() {
        let _ = writeln!(out, "no operation spec to cover");
        return out;
    }
    out.push('\n');

    let rows = table_rows(c);
    let width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(9);
    let _ = writeln!(
        out,
        "{:width$}  {:>10}  {:>11}  {:>7}",
        "operation", "parameters", "error codes", "covered"
    );
    for row in &rows {
        let _ = writeln!(
            out,
            "{:width$}  {:>10}  {:>11}  {:>7}",
            row.label,
            row.parameters,
            row.errors,
            format!("{:.1}%", row.percent)
        );
    }

    out.push_str("\nWhat no case exercises\n");
    let sections = gaps(c);
    for section in &sections {
        let _ = writeln!(out, "\n{} ({})", section.title, section.file);
        if let Some(note) = &section.note {
            let _ = writeln!(out, "  {note}");
        }
        let plain = |items: &[Item]| items.iter().map(Item::plain).collect::<Vec<_>>();
        for (label, items) in section.lists() {
            wrap(&mut out, label, &plain(items));
        }
        for (code, reason) in &section.not_producible {
            wrap(
                &mut out,
                "not producible, not counted:",
                &[format!("{}: {reason}", code.plain())],
            );
        }
    }
    if sections.is_empty() {
        out.push_str("  nothing: every documented parameter and error code is exercised\n");
    }
    out
}

/// `label item, item, ...` indented under a section, wrapped near 100
/// columns so that long lists stay readable in a terminal.
fn wrap(out: &mut String, label: &str, items: &[String]) {
    const WIDTH: usize = 100;
    let indent = 4;
    let mut line = format!("  {label}");
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if line.chars().count() + 1 + piece.chars().count() > WIDTH
            && line.chars().count() > indent
            && line.trim_start() != label
        {
            let _ = writeln!(out, "{line}");
            line = " ".repeat(indent);
        } else {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    let _ = writeln!(out, "{line}");
}

pub(super) fn markdown(c: &Coverage) -> String {
    let mut out = String::from("## Spec coverage\n\n");
    let _ = writeln!(out, "{}\n", headline(c));
    if c.dialects.is_empty() {
        return out;
    }
    out.push_str("| operation | parameters | error codes | covered |\n|---|---:|---:|---:|\n");
    for row in table_rows(c) {
        let label = if row.strong {
            format!("**{}**", md(row.label.trim()))
        } else {
            md(row.label.trim())
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {:.1}% |",
            row.parameters, row.errors, row.percent
        );
    }
    out.push_str("\n### What no case exercises\n");
    let sections = gaps(c);
    for section in &sections {
        let _ = writeln!(
            out,
            "\n#### {} ({})\n",
            md(&section.title),
            code_span(&section.file)
        );
        if let Some(note) = &section.note {
            let _ = writeln!(out, "{}\n", md(note));
        }
        for (label, items) in section.lists() {
            let items: Vec<_> = items.iter().map(Item::markdown).collect();
            let _ = writeln!(out, "- {} {}", md(label), items.join(", "));
        }
        for (code, reason) in &section.not_producible {
            let _ = writeln!(
                out,
                "- not producible, not counted: {}: {}",
                code.markdown(),
                md(reason)
            );
        }
    }
    if sections.is_empty() {
        out.push_str("\nNothing: every documented parameter and error code is exercised.\n");
    }
    out
}

fn headline(c: &Coverage) -> String {
    let s = &c.summary;
    let mut line = format!(
        "spec coverage: {:.1}% of documented parameters and error codes exercised by {} case{} \
         (parameters {}, error codes {})",
        s.percent,
        c.cases,
        if c.cases == 1 { "" } else { "s" },
        fraction(s.parameters),
        fraction(s.errors),
    );
    if s.not_producible > 0 {
        let _ = write!(
            line,
            "; {} row{} not producible, not counted",
            s.not_producible,
            if s.not_producible == 1 { "" } else { "s" }
        );
    }
    line
}

fn fraction(c: Count) -> String {
    format!("{}/{}", c.exercised, c.total)
}

struct Row {
    label: String,
    parameters: String,
    errors: String,
    percent: f64,
    /// A total line.
    strong: bool,
}

fn row(label: String, t: &Tally, parameters: bool, strong: bool) -> Row {
    Row {
        label,
        parameters: if parameters {
            fraction(t.parameters)
        } else {
            "-".into()
        },
        errors: fraction(t.errors),
        percent: t.percent,
        strong,
    }
}

/// Per dialect: its total, each operation, its common rows; then the
/// overall total.
fn table_rows(c: &Coverage) -> Vec<Row> {
    let mut rows = Vec::new();
    for d in &c.dialects {
        rows.push(row(d.dialect.to_string(), &d.summary, true, true));
        for op in &d.operations {
            rows.push(row(format!("  {}", op.operation), &op.summary, true, false));
        }
        if !d.common.errors.is_empty() {
            rows.push(row(
                "  (common error rows)".into(),
                &d.common.summary,
                false,
                false,
            ));
        }
    }
    if c.dialects.len() > 1 {
        rows.push(row("all dialects".into(), &c.summary, true, true));
    }
    rows
}

/// What one operation, or one dialect's common part, leaves unexercised.
struct Gap {
    title: String,
    file: String,
    note: Option<String>,
    parameters: Vec<Item>,
    errors: Vec<Item>,
    not_producible: Vec<(Item, String)>,
    common_parameters: Vec<Item>,
}

impl Gap {
    fn lists(&self) -> impl Iterator<Item = (&'static str, &[Item])> {
        [
            ("parameters:", self.parameters.as_slice()),
            ("error codes:", self.errors.as_slice()),
            (
                "common parameters no case sets itself (the client sends them anyway; not counted):",
                self.common_parameters.as_slice(),
            ),
        ]
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
    }

    fn is_empty(&self) -> bool {
        self.parameters.is_empty()
            && self.errors.is_empty()
            && self.not_producible.is_empty()
            && self.common_parameters.is_empty()
    }
}

/// A name or code, and what to say about it in passing.
struct Item {
    name: String,
    note: Option<String>,
}

impl Item {
    fn plain(&self) -> String {
        match &self.note {
            Some(note) => format!("{} ({note})", self.name),
            None => self.name.clone(),
        }
    }

    fn markdown(&self) -> String {
        match &self.note {
            Some(note) => format!("{} ({})", code_span(&self.name), md(note)),
            None => code_span(&self.name),
        }
    }
}

fn missing_parameters(params: &[ParameterCoverage]) -> Vec<Item> {
    params
        .iter()
        .filter(|p| !p.exercised)
        .map(|p| Item {
            name: p.name.clone(),
            note: p.required.then(|| "required".to_string()),
        })
        .collect()
}

fn status(e: &ErrorCoverage) -> String {
    format!("HTTP {}", e.status)
}

fn missing_errors(errors: &[ErrorCoverage]) -> Vec<Item> {
    errors
        .iter()
        .filter(|e| e.producible && !e.exercised)
        .map(|e| Item {
            name: e.code.clone(),
            note: Some(status(e)),
        })
        .collect()
}

fn not_producible<'e>(errors: impl IntoIterator<Item = &'e ErrorCoverage>) -> Vec<(Item, String)> {
    errors
        .into_iter()
        .filter(|e| !e.producible)
        .map(|e| {
            (
                Item {
                    name: e.code.clone(),
                    note: Some(status(e)),
                },
                e.unproducible_reason.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn gaps(c: &Coverage) -> Vec<Gap> {
    let mut out = Vec::new();
    for d in &c.dialects {
        for op in &d.operations {
            let gap = Gap {
                title: format!("{} {}", d.dialect, op.operation),
                file: op.file.clone(),
                note: (op.steps == 0).then(|| "no case calls this operation".to_string()),
                parameters: missing_parameters(&op.parameters),
                errors: missing_errors(&op.errors),
                not_producible: not_producible(&op.errors),
                common_parameters: Vec::new(),
            };
            if !gap.is_empty() {
                out.push(gap);
            }
        }
        let every = d.operations.len();
        let gap = Gap {
            title: format!("{}, common to its operations", d.dialect),
            file: d.common.file.clone(),
            note: None,
            parameters: Vec::new(),
            // A common row is exercised through an operation that inherits
            // it: say which, so that the missing case can be written.
            errors: d
                .common
                .errors
                .iter()
                .filter(|e| e.row.producible && !e.row.exercised)
                .map(|e| Item {
                    name: e.row.code.clone(),
                    note: Some(if e.operations.len() == every {
                        format!("{}, on any operation", status(&e.row))
                    } else {
                        format!("{}, on {}", status(&e.row), e.operations.join(" or "))
                    }),
                })
                .collect(),
            not_producible: not_producible(d.common.errors.iter().map(|e| &e.row)),
            common_parameters: d
                .common
                .parameters
                .iter()
                .filter(|p| !p.exercised)
                .map(|p| Item {
                    name: p.name.clone(),
                    note: None,
                })
                .collect(),
        };
        if !gap.is_empty() {
            out.push(gap);
        }
    }
    out
}

/// A name as inline code, whatever it holds.
fn code_span(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace(['\n', '\r'], " "))
}

/// Text that may hold anything, made safe inside a Markdown line or table
/// cell.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}
