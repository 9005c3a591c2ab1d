//! `ipconform compare`: every portable scenario on every vendor, side by
//! side, so that porting IPAM code from one cloud to another holds no
//! surprises.
//!
//! Each scenario compiled for each dialect ([`crate::portable`]) is run on
//! each column's target; a column is a (target, dialect) pair, so that real
//! clouds join as more columns without another shape. A cell is the
//! outcome of the scenario's observed step in neutral terms (`ok`, a kind
//! such as `ip-in-use`, or not applicable with the reason), the vendor's
//! code and HTTP status beside it, and whether the whole scenario met that
//! vendor's documented contract. A row whose observed outcomes differ
//! across vendors is a porting surprise: it is flagged and sorted first.
//! The result is one [`Comparison`] document, written as
//! `comparison.json` (versioned), `comparison.md` and a self-contained
//! `comparison.html` by the [`markdown`] and [`html`] writers.

pub mod html;
pub mod markdown;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::case::{Case, CaseFile};
use crate::dialect::DialectId;
use crate::portable::{CellPlan, ScenarioPlan};
use crate::runner::{CaseResult, Outcome, Phase, Runner};
use crate::spec::{Kind, SpecSet};
use crate::target::Target;

/// The version of `comparison.json`'s shape; it changes when a field
/// changes meaning or goes away (new fields may appear without it).
pub const SCHEMA_VERSION: u32 = 1;

/// The `kind` of the document, so tools can tell it from `report.json`.
pub const DOCUMENT_KIND: &str = "ipconform-comparison";

/// One column of the matrix: a dialect on a target.
pub struct Column<'t> {
    pub target: &'t Target,
    pub dialect: DialectId,
}

impl Column<'_> {
    pub fn id(&self) -> String {
        format!("{}::{}", self.target.name(), self.dialect)
    }
}

/// The whole comparison, as written to `comparison.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub kind: &'static str,
    pub run: RunHead,
    pub columns: Vec<ColumnHead>,
    pub legend: Vec<LegendEntry>,
    pub summary: CompareSummary,
    /// Differing rows first, then in scenario order.
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunHead {
    pub run_id: String,
    pub started_at: String,
    pub version: &'static str,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnHead {
    pub id: String,
    pub target: String,
    pub dialect: DialectId,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegendEntry {
    pub symbol: &'static str,
    pub meaning: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CompareSummary {
    pub rows: usize,
    pub columns: usize,
    pub cells: usize,
    /// Cells whose scenario ran and met the vendor's documented contract.
    pub conforming: usize,
    /// Cells whose scenario ran and did not.
    pub failing: usize,
    pub not_applicable: usize,
    /// Rows whose observed outcomes differ across vendors.
    pub differing_rows: usize,
    /// Rows whose outcomes agree but whose documented results differ.
    pub state_differing_rows: usize,
}

impl CompareSummary {
    /// Whether every cell that ran matched its documented contract.
    pub fn all_conform(&self) -> bool {
        self.failing == 0
    }
}

/// One scenario across the columns.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub title: String,
    pub file: String,
    pub line: usize,
    pub source: Option<String>,
    /// The observed outcomes differ across the columns that ran it.
    pub differs: bool,
    /// The outcomes agree, but some vendor's documents promise another
    /// result at the observed step (what a read shows right after a
    /// change, say): a difference of state rather than of kind.
    pub documented_difference: bool,
    /// The distinct observed outcomes, sorted.
    pub outcomes: Vec<String>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellState {
    /// The scenario ran.
    Ran,
    /// The dialect cannot express it (`reason` says why).
    NotApplicable,
}

/// One scenario on one column.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub column: String,
    pub target: String,
    pub dialect: DialectId,
    /// The trial address of the compiled case.
    pub address: String,
    pub state: CellState,
    /// What this vendor's documents promise at the observed step: `ok` or
    /// a kind.
    pub expected: String,
    /// Why that differs from the scenario's default, quoting the document.
    pub why: Option<String>,
    /// Why the scenario does not apply, when it does not.
    pub reason: Option<String>,
    /// What the observed step got; absent when it was never reached.
    pub observed: Option<Observed>,
    /// The whole scenario met the vendor's documented contract (true for a
    /// cell that does not apply).
    pub conforms: bool,
    #[serde(serialize_with = "crate::runner::as_micros")]
    pub elapsed: Duration,
    /// The compiled case's full result: steps, requests, replies, diffs.
    pub result: Option<CaseResult>,
}

/// The observed step's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    /// `ok`, a kind, `undocumented` (a code the catalog lacks), `error`
    /// (a documented code without a kind), `no-reply`, or `http-<status>`.
    pub outcome: String,
    pub kind: Option<Kind>,
    pub code: Option<String>,
    pub http_status: Option<u16>,
    pub call: String,
    #[serde(serialize_with = "crate::runner::as_micros")]
    pub latency: Duration,
}

/// What each symbol of the matrix means; every writer shows it.
pub const LEGEND: &[LegendEntry] = &[
    LegendEntry {
        symbol: "✓",
        meaning: "the whole scenario met this vendor's documented contract",
    },
    LegendEntry {
        symbol: "✗",
        meaning: "it did not: the cell's detail has the diff",
    },
    LegendEntry {
        symbol: "ok / kind",
        meaning: "the observed step's neutral outcome: success, or the kind of refusal (ip-in-use, quota-exceeded, ...), with the vendor's code and HTTP status",
    },
    LegendEntry {
        symbol: "n/a",
        meaning: "the vendor's API cannot express the scenario (the reason quotes its documents)",
    },
    LegendEntry {
        symbol: "differs",
        meaning: "the vendors' observed outcomes differ: a porting surprise (such rows come first)",
    },
    LegendEntry {
        symbol: "differs in state",
        meaning: "the outcomes agree, but a vendor documents another result at the observed step, such as what a read shows right after a change (such rows come next)",
    },
    LegendEntry {
        symbol: "*",
        meaning: "this vendor's documents promise another outcome than the scenario's default (the note says why)",
    },
];

/// Which scenarios and columns a comparison takes.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// Substrings of `portable.<file>::<scenario-id>`; any one selects.
    pub filters: Vec<String>,
}

impl Selection {
    pub fn pick<'p>(&self, plans: &'p [ScenarioPlan]) -> Vec<&'p ScenarioPlan> {
        plans
            .iter()
            .filter(|p| {
                let address = format!("{}::{}", p.group, p.id);
                self.filters.is_empty() || self.filters.iter().any(|f| address.contains(f.as_str()))
            })
            .collect()
    }
}

/// The run's identity, for the document's head.
pub struct RunInfo {
    pub run_id: String,
    pub started_at: String,
}

/// Runs every plan on every column, `jobs` at a time where the columns'
/// targets isolate cases.
pub async fn run(
    runner: &Runner<'_>,
    columns: &[Column<'_>],
    plans: &[&ScenarioPlan],
    cases: &[CaseFile],
    jobs: usize,
    info: RunInfo,
) -> Comparison {
    let started = Instant::now();
    let specs = runner.specs();
    let parallel = columns.iter().all(|c| c.target.isolates_cases());
    let jobs = if parallel { jobs.max(1) } else { 1 };
    let tasks: Vec<(usize, usize)> = (0..plans.len())
        .flat_map(|r| (0..columns.len()).map(move |c| (r, c)))
        .collect();
    let mut grid: Vec<Vec<Option<Cell>>> = vec![vec![None; columns.len()]; plans.len()];
    let mut done = stream::iter(tasks)
        .map(|(r, c)| async move {
            let cell = run_cell(runner, specs, &columns[c], plans[r], cases).await;
            (r, c, cell)
        })
        .buffer_unordered(jobs);
    while let Some((r, c, cell)) = done.next().await {
        grid[r][c] = Some(cell);
    }
    let mut rows: Vec<Row> = plans
        .iter()
        .zip(grid)
        .map(|(plan, cells)| row(plan, cells.into_iter().flatten().collect()))
        .collect();
    // Porting surprises first, then differences of state; the sort is
    // stable, so scenario order holds within each group.
    rows.sort_by_key(|r| (!r.differs, !r.documented_difference));
    let summary = summarize(&rows, columns.len());
    Comparison {
        schema_version: SCHEMA_VERSION,
        kind: DOCUMENT_KIND,
        run: RunHead {
            run_id: info.run_id,
            started_at: info.started_at,
            version: env!("CARGO_PKG_VERSION"),
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
        columns: columns
            .iter()
            .map(|c| ColumnHead {
                id: c.id(),
                target: c.target.name().to_string(),
                dialect: c.dialect,
            })
            .collect(),
        legend: LEGEND.to_vec(),
        summary,
        rows,
    }
}

fn summarize(rows: &[Row], columns: usize) -> CompareSummary {
    let mut s = CompareSummary {
        rows: rows.len(),
        columns,
        ..CompareSummary::default()
    };
    for row in rows {
        s.differing_rows += usize::from(row.differs);
        s.state_differing_rows += usize::from(row.documented_difference);
        for cell in &row.cells {
            s.cells += 1;
            match (cell.state, cell.conforms) {
                (CellState::NotApplicable, _) => s.not_applicable += 1,
                (CellState::Ran, true) => s.conforming += 1,
                (CellState::Ran, false) => s.failing += 1,
            }
        }
    }
    s
}

fn row(plan: &ScenarioPlan, cells: Vec<Cell>) -> Row {
    let outcomes: BTreeSet<String> = cells
        .iter()
        .filter_map(|c| c.observed.as_ref().map(|o| o.outcome.clone()))
        .collect();
    let differs = outcomes.len() > 1;
    Row {
        scenario: plan.id.clone(),
        title: plan.title.clone(),
        file: plan.file.clone(),
        line: plan.line,
        source: plan.source.clone(),
        differs,
        documented_difference: !differs
            && cells
                .iter()
                .any(|c| c.state == CellState::Ran && c.why.is_some()),
        outcomes: outcomes.into_iter().collect(),
        cells,
    }
}

/// The compiled case of `plan` for `dialect`.
pub fn find_case<'c>(
    cases: &'c [CaseFile],
    plan: &ScenarioPlan,
    dialect: DialectId,
) -> Option<(&'c CaseFile, &'c Case)> {
    cases
        .iter()
        .filter(|f| f.dialect == dialect && f.group == plan.group)
        .find_map(|f| f.cases.iter().find(|c| c.id == plan.id).map(|c| (f, c)))
}

async fn run_cell(
    runner: &Runner<'_>,
    specs: &SpecSet,
    column: &Column<'_>,
    plan: &ScenarioPlan,
    cases: &[CaseFile],
) -> Cell {
    let address = format!(
        "{}::{}::{}::{}",
        column.target.name(),
        column.dialect,
        plan.group,
        plan.id
    );
    let cell_plan = plan.cells.get(&column.dialect);
    let mut cell = Cell {
        column: column.id(),
        target: column.target.name().to_string(),
        dialect: column.dialect,
        address,
        state: CellState::NotApplicable,
        expected: cell_plan.map_or_else(|| "ok".into(), |p| p.expected.clone()),
        why: cell_plan.and_then(|p| p.why.clone()),
        reason: None,
        observed: None,
        conforms: true,
        elapsed: Duration::ZERO,
        result: None,
    };
    let (Some(cell_plan), Some((file, case))) = (cell_plan, find_case(cases, plan, column.dialect))
    else {
        cell.reason = Some(format!(
            "{} has no portable binding (specs/{}/_portable.yaml)",
            column.dialect, column.dialect
        ));
        return cell;
    };
    if let Some(reason) = &cell_plan.not_applicable {
        cell.reason = Some(reason.clone());
        return cell;
    }
    let result = column.target.run_case(runner, file, case).await;
    if result.outcome == Outcome::Skipped {
        // The target lacks what the case requires (a fixture, a power).
        cell.reason = result.skipped.clone();
        cell.result = Some(result);
        return cell;
    }
    cell.state = CellState::Ran;
    cell.conforms = result.outcome.is_success();
    cell.elapsed = result.elapsed;
    cell.observed = observe(specs, column.dialect, cell_plan, &result);
    cell.result = Some(result);
    cell
}

/// The neutral outcome of the observed step, from its record.
fn observe(
    specs: &SpecSet,
    dialect: DialectId,
    plan: &CellPlan,
    result: &CaseResult,
) -> Option<Observed> {
    let index = plan.observe_step?;
    let record = result
        .steps
        .iter()
        .find(|s| s.phase == Phase::Step && s.index == index + 1)?;
    let kind = record
        .error_code
        .as_deref()
        .and_then(|code| specs.kind_of(dialect, &record.call, code));
    let outcome = match (&record.error_code, record.status) {
        (Some(code), _) => match specs.get(dialect, &record.call).and_then(|s| s.error(code)) {
            None => "undocumented".to_string(),
            Some(_) => kind.map_or_else(|| "error".to_string(), |k| k.as_str().to_string()),
        },
        (None, Some(status)) if (200..300).contains(&status) => "ok".to_string(),
        (None, Some(status)) => format!("http-{status}"),
        (None, None) => "no-reply".to_string(),
    };
    Some(Observed {
        outcome,
        kind,
        code: record.error_code.clone(),
        http_status: record.status,
        call: record.call.clone(),
        latency: record.elapsed,
    })
}

/// `3 ms`, `850 µs`: a latency as a person reads it.
pub fn latency(d: Duration) -> String {
    let us = d.as_micros();
    if us >= 10_000 {
        format!("{} ms", us / 1000)
    } else if us >= 1000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

#[cfg(test)]
mod tests;
