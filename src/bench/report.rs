//! The bench's figures: the table it prints, the JSON it writes, and the
//! comparison of two runs.
//!
//! Each figure has a stable `id`, so that two runs (before and after a
//! change, or two machines) compare figure by figure; `better` says which
//! way is an improvement, so the comparison can say so without knowing
//! the figure. The JSON carries `schema_version`: a file of another
//! version is refused rather than misread.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning; `--compare` insists on it.
pub const SCHEMA_VERSION: u32 = 1;

/// One run of `ipconform bench`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema_version: u32,
    /// The ipconform version that measured.
    pub version: String,
    /// When the run began (RFC 3339).
    pub started: String,
    pub seconds: f64,
    pub quick: bool,
    pub only: Option<String>,
    /// `release` or `debug`: debug figures say little.
    pub profile: String,
    pub cores: usize,
    /// The 1-, 5- and 15-minute load averages before and after the run
    /// (Linux), for judging how busy the machine was.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    pub figures: Vec<Figure>,
}

/// One measured figure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// Stable across runs: `cycles.c8.alibaba-ecs`, `describe.1000.naver-vpc`.
    pub id: String,
    pub label: String,
    /// `None` when it was not measured (`detail` says why).
    pub value: Option<f64>,
    pub unit: Unit,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<Bound>,
    /// Whether the bound holds; `None` without a bound or a value.
    pub holds: Option<bool>,
    pub better: Better,
    /// Set on the figures of the cost-growth table: which row, which column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<Growth>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    Ms,
    Seconds,
    /// A ratio of two figures measured side by side.
    Times,
    PerSecond,
    Mib,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Ms if v < 10.0 => format!("{v:.3} ms"),
            Unit::Ms => format!("{v:.1} ms"),
            Unit::Seconds => format!("{v:.2} s"),
            Unit::Times => format!("{v:.2} x"),
            Unit::PerSecond => format!("{v:.0}/s"),
            Unit::Mib => format!("{v:.1} MiB"),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    pub op: Op,
    pub limit: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    AtMost,
    AtLeast,
    Below,
}

impl Bound {
    pub fn at_most(limit: f64) -> Bound {
        Bound {
            op: Op::AtMost,
            limit,
        }
    }
    pub fn at_least(limit: f64) -> Bound {
        Bound {
            op: Op::AtLeast,
            limit,
        }
    }
    pub fn below(limit: f64) -> Bound {
        Bound {
            op: Op::Below,
            limit,
        }
    }

    pub fn holds(&self, v: f64) -> bool {
        match self.op {
            Op::AtMost => v <= self.limit,
            Op::AtLeast => v >= self.limit,
            Op::Below => v < self.limit,
        }
    }

    fn show(&self, unit: Unit) -> String {
        let op = match self.op {
            Op::AtMost => "<=",
            Op::AtLeast => ">=",
            Op::Below => "<",
        };
        format!("{op} {}", unit.show(self.limit))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Growth {
    /// The row: what grows.
    pub series: String,
    /// The column: how much work (`1,000 secondaries`).
    pub point: String,
}

impl Figure {
    /// How a comparison names the figure: a point of a cost-growth series
    /// has no label of its own, so its series and point name it.
    fn row_label(&self) -> String {
        match &self.growth {
            Some(g) => format!("{} ({})", g.series, g.point),
            None => self.label.clone(),
        }
    }

    /// A measured figure; its verdict follows from `bound`.
    pub fn new(id: impl Into<String>, label: impl Into<String>, value: f64, unit: Unit) -> Figure {
        Figure {
            id: id.into(),
            label: label.into(),
            value: Some(value),
            unit,
            detail: String::new(),
            bound: None,
            holds: None,
            better: Better::Lower,
            growth: None,
        }
    }

    /// A figure this run could not measure, and why.
    pub fn not_measured(
        id: impl Into<String>,
        label: impl Into<String>,
        unit: Unit,
        why: impl Into<String>,
    ) -> Figure {
        Figure {
            value: None,
            detail: why.into(),
            ..Figure::new(id, label, 0.0, unit)
        }
    }

    pub fn bound(mut self, bound: Bound) -> Figure {
        self.bound = Some(bound);
        self.holds = self.value.map(|v| bound.holds(v));
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Figure {
        self.detail = detail.into();
        self
    }

    pub fn higher_is_better(mut self) -> Figure {
        self.better = Better::Higher;
        self
    }

    pub fn growth(mut self, series: impl Into<String>, point: impl Into<String>) -> Figure {
        self.growth = Some(Growth {
            series: series.into(),
            point: point.into(),
        });
        self
    }

    fn shown(&self) -> String {
        match self.value {
            Some(v) => self.unit.show(v),
            None => "not measured".into(),
        }
    }
}

fn verdict(holds: Option<bool>) -> &'static str {
    match holds {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "",
    }
}

/// The tables of one run: every figure with its bound and verdict, then
/// the cost-growth table.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let load = |l: Option<[f64; 3]>| {
        l.map_or("unknown".into(), |l| {
            format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
        })
    };
    let _ = writeln!(
        out,
        "ipconform bench{} — {} build, {} cores, load average {} before, {} after, {:.0} s",
        if report.quick { " --quick" } else { "" },
        report.profile,
        report.cores,
        load(report.load_before),
        load(report.load_after),
        report.seconds
    );
    let mut figures = report
        .figures
        .iter()
        .filter(|f| f.growth.is_none())
        .peekable();
    if figures.peek().is_some() {
        let _ = writeln!(out);
        let _ = writeln!(out, "| figure | measured | bound | holds |");
        let _ = writeln!(out, "|---|---|---|---|");
    }
    for f in figures {
        let measured = if f.detail.is_empty() {
            f.shown()
        } else {
            format!("{} ({})", f.shown(), f.detail)
        };
        let bound = f.bound.map_or("information".into(), |b| b.show(f.unit));
        let _ = writeln!(
            out,
            "| {} | {measured} | {bound} | {} |",
            f.label,
            verdict(f.holds)
        );
    }
    let growth = growth_rows(&report.figures);
    if !growth.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Cost growth: each figure as the work grows.");
        let _ = writeln!(out);
        let _ = writeln!(out, "| figure | small | medium | large | large / small |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (series, points) in growth {
            let mut cells: Vec<String> = points
                .iter()
                .map(|f| {
                    let point = f.growth.as_ref().map_or("", |g| g.point.as_str());
                    if f.detail.is_empty() {
                        format!("{point}: {}", f.shown())
                    } else {
                        format!("{point}: {} ({})", f.shown(), f.detail)
                    }
                })
                .collect();
            cells.resize(3, String::new());
            let ratio = match (
                points.first().and_then(|f| f.value),
                points.last().and_then(|f| f.value),
            ) {
                (Some(a), Some(b)) if points.len() > 1 && a > 0.0 => format!("{:.2} x", b / a),
                _ => String::new(),
            };
            let _ = writeln!(out, "| {series} | {} | {ratio} |", cells[..3].join(" | "));
        }
    }
    out
}

/// The growth figures by series, in the order they were measured.
fn growth_rows(figures: &[Figure]) -> Vec<(&str, Vec<&Figure>)> {
    let mut rows: Vec<(&str, Vec<&Figure>)> = Vec::new();
    for f in figures {
        let Some(g) = &f.growth else { continue };
        match rows.iter_mut().find(|(s, _)| *s == g.series) {
            Some((_, points)) => points.push(f),
            None => rows.push((g.series.as_str(), vec![f])),
        }
    }
    rows
}

/// Reads a report written by an earlier run.
pub fn read(path: &std::path::Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Report, String> {
    // The version first, so that a file of another schema is named as
    // such rather than as a field that does not parse.
    #[derive(Deserialize)]
    struct Version {
        schema_version: Option<u32>,
    }
    let version: Version =
        serde_json::from_str(text).map_err(|e| format!("not a bench report: {e}"))?;
    match version.schema_version {
        Some(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "a bench report of schema {v}; this ipconform reads schema {SCHEMA_VERSION}: rerun the older revision's bench, or compare by eye"
            ))
        }
        None => return Err("not a bench report: no schema_version".into()),
    }
    serde_json::from_str(text)
        .map_err(|e| format!("not a bench report of schema {SCHEMA_VERSION}: {e}"))
}

/// Each figure of `new` beside the same figure of `old`: both values, the
/// ratio new / old, whether that is better or worse, and the verdicts.
pub fn compare(old: &Report, new: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Compared with the run of {} ({} build{}, load average {}):",
        old.started,
        old.profile,
        if old.quick { ", --quick" } else { "" },
        old.load_before
            .map_or("unknown".into(), |l| format!("{:.2}", l[0]))
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| figure | before | now | now / before | holds before -> now |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for f in &new.figures {
        let label = f.row_label();
        let Some(o) = old.figures.iter().find(|o| o.id == f.id) else {
            let _ = writeln!(out, "| {label} | not measured | {} | | |", f.shown());
            continue;
        };
        let change = match (o.value, f.value) {
            (Some(a), Some(b)) if o.unit == f.unit && a > 0.0 => {
                let r = b / a;
                // Within 5% is noise on a shared machine.
                let word = if (r - 1.0).abs() < 0.05 {
                    "same"
                } else if (r < 1.0) == (f.better == Better::Lower) {
                    "better"
                } else {
                    "worse"
                };
                format!("{r:.2} x, {word}")
            }
            (Some(_), Some(_)) if o.unit != f.unit => "units differ".into(),
            _ => String::new(),
        };
        let verdicts = if o.holds.is_some() || f.holds.is_some() {
            format!(
                "{} -> {}",
                or_dash(verdict(o.holds)),
                or_dash(verdict(f.holds))
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {change} | {verdicts} |",
            o.shown(),
            f.shown()
        );
    }
    // A run of one section leaves the others out on purpose.
    for o in old
        .figures
        .iter()
        .filter(|o| new.only.is_none() && !new.figures.iter().any(|f| f.id == o.id))
    {
        let _ = writeln!(
            out,
            "| {} | {} | not measured | | |",
            o.row_label(),
            o.shown()
        );
    }
    out
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(figures: Vec<Figure>) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            version: "0.1.0".into(),
            started: "2026-01-01T00:00:00Z".into(),
            seconds: 1.0,
            quick: false,
            only: None,
            profile: "release".into(),
            cores: 2,
            load_before: Some([1.0, 1.0, 1.0]),
            load_after: None,
            figures,
        }
    }

    #[test]
    fn a_report_survives_its_json_and_another_schema_is_refused() {
        let r = report(vec![
            Figure::new("a", "A", 0.4, Unit::Ms).bound(Bound::at_most(0.5)),
            Figure::not_measured("b", "B", Unit::Seconds, "cargo is not on PATH"),
        ]);
        let text = serde_json::to_string(&r).unwrap();
        let back = parse(&text).unwrap();
        assert_eq!(back.figures, r.figures);
        assert_eq!(back.figures[0].holds, Some(true));
        let other = text.replace("\"schema_version\":1", "\"schema_version\":2");
        assert!(parse(&other).unwrap_err().contains("schema 2"));
        assert!(parse("{}").unwrap_err().contains("no schema_version"));
        assert!(parse("[").is_err());
    }

    #[test]
    fn compare_matches_figures_by_id_and_knows_which_way_is_better() {
        let old = report(vec![
            Figure::new("describe", "Describe", 1.0, Unit::Ms).bound(Bound::at_most(0.5)),
            Figure::new("cycles", "Cycles", 100.0, Unit::PerSecond).higher_is_better(),
            Figure::new("gone", "Gone", 1.0, Unit::Ms),
            Figure::new("steady", "Steady", 10.0, Unit::Ms),
            Figure::new("mem.10k", "", 76.0, Unit::Mib).growth("memory", "10,000"),
        ]);
        let new = report(vec![
            Figure::new("describe", "Describe", 0.25, Unit::Ms).bound(Bound::at_most(0.5)),
            Figure::new("cycles", "Cycles", 50.0, Unit::PerSecond).higher_is_better(),
            Figure::new("steady", "Steady", 10.2, Unit::Ms),
            Figure::new("fresh", "Fresh", 3.0, Unit::Seconds),
        ]);
        let text = compare(&old, &new);
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("| {name} |")))
                .unwrap_or_else(|| panic!("no row {name} in\n{text}"))
                .to_string()
        };
        assert!(line("Describe").contains("0.25 x, better"), "{text}");
        assert!(line("Describe").contains("NO -> yes"), "{text}");
        assert!(line("Cycles").contains("0.50 x, worse"), "{text}");
        assert!(line("Steady").contains("same"), "{text}");
        assert!(
            line("Fresh").contains("| not measured | 3.00 s |"),
            "{text}"
        );
        assert!(line("Gone").contains("not measured |"), "{text}");
        assert!(
            line("memory (10,000)").contains("| 76.0 MiB | not measured |"),
            "{text}"
        );
    }

    #[test]
    fn the_growth_table_has_a_row_per_series_in_order() {
        let r = report(vec![
            Figure::new("x", "X", 1.0, Unit::Ms),
            Figure::new("d10", "", 0.1, Unit::Ms).growth("describe", "10"),
            Figure::new("l100", "", 5.0, Unit::Ms).growth("load", "100"),
            Figure::new("d1000", "", 0.4, Unit::Ms).growth("describe", "1,000"),
        ]);
        let text = render(&r);
        assert!(
            text.contains("| describe | 10: 0.100 ms | 1,000: 0.400 ms |  | 4.00 x |"),
            "{text}"
        );
        assert!(text.contains("| load | 100: 5.000 ms |  |  |  |"), "{text}");
        assert!(text.contains("| X | 1.000 ms | information |  |"), "{text}");
    }
}
