//! Spec coverage: per operation of every dialect, which documented
//! parameters and error codes the cases exercise, and, above all, which
//! none does.
//!
//! The specs are the contract and the cases are the evidence; this module
//! reads both without running anything. A parameter is exercised when some
//! step (or cleanup step) calling the operation sends it, resolved by the
//! spec's own name matching, so `PrivateIpAddress.3` exercises
//! `PrivateIpAddress.N` and `privateIpAddressSet.0.primary` exercises
//! `privateIpAddressSet.n.primary`. An error row is exercised when some step
//! calling the operation expects a code that the operation's catalog
//! resolves to it (`expect: {error: {code}}`, exact codes before
//! templates, as lint and the runner resolve them), so `MissingVSwitchId`
//! exercises `Missing%s`. Only expectations count: a `wait` that halts on a
//! state, or a code a target happens to answer, is not a case testing it.
//!
//! What counts where:
//! - An operation's percentage is over its own parameters and the error
//!   rows its own spec file lists (its document's table, a common code the
//!   document repeats included).
//! - Rows it only inherits from `_common.yaml` or the family (signature,
//!   account, gateway codes) are counted once per dialect, under the
//!   dialect's `common` section: the check behind them runs before any
//!   operation is chosen, so one case per dialect exercises it. Such a row is
//!   exercised when a step on any operation that inherits it expects it.
//! - Common parameters (Action, Version, Signature, ...) are reported per
//!   dialect, for information only: the client sends them on every request
//!   by itself; what is shown is which of them a case sets itself.
//! - Rows marked `producible: false` are listed with their reason and left
//!   out of every total.
//!
//! A dialect's figure adds up its operations and its common rows; the
//! overall figure adds up the dialects (items, not averages of
//! percentages).

mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::case::{Case, CaseFile};
use crate::dialect::DialectId;
use crate::spec::{ErrorEntry, Kind, ParamSpec, SpecSet};

/// Coverage of every dialect that has specs.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// Cases read (of the dialects below).
    pub cases: usize,
    /// The dialects' totals added up.
    pub summary: Tally,
    pub dialects: Vec<DialectCoverage>,
}

/// How many of some items are exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub exercised: usize,
    pub total: usize,
}

impl Count {
    fn add(self, other: Count) -> Count {
        Count {
            exercised: self.exercised + other.exercised,
            total: self.total + other.total,
        }
    }
}

/// The counted items of an operation, a dialect's common rows, a dialect
/// or everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Documented parameters of the operations (common ones not counted).
    pub parameters: Count,
    /// Documented error rows, `producible: false` ones left out.
    pub errors: Count,
    /// Rows marked `producible: false`, left out of `errors`.
    pub not_producible: usize,
    /// Exercised parameters and rows over all of them, in percent, rounded
    /// down to a tenth (so 100.0 means nothing is missing); 100.0 when there
    /// is nothing to exercise.
    pub percent: f64,
}

impl Tally {
    fn new(parameters: Count, errors: Count, not_producible: usize) -> Tally {
        let exercised = parameters.exercised + errors.exercised;
        let total = parameters.total + errors.total;
        // Integer arithmetic first: the figure is exact, then rounded down.
        let percent = (exercised * 1000)
            .checked_div(total)
            .map_or(100.0, |tenths| tenths as f64 / 10.0);
        Tally {
            parameters,
            errors,
            not_producible,
            percent,
        }
    }

    fn sum<'t>(tallies: impl IntoIterator<Item = &'t Tally>) -> Tally {
        let (p, e, n) = tallies
            .into_iter()
            .fold((Count::default(), Count::default(), 0), |(p, e, n), t| {
                (p.add(t.parameters), e.add(t.errors), n + t.not_producible)
            });
        Tally::new(p, e, n)
    }

    /// Exercised and total items, parameters and rows together.
    pub fn items(&self) -> Count {
        self.parameters.add(self.errors)
    }

    /// Whether the exact share of exercised items is below `min` percent
    /// (the rounded `percent` is for display only).
    pub fn is_below(&self, min: f64) -> bool {
        let items = self.items();
        items.total > 0 && (items.exercised as f64) * 100.0 < min * items.total as f64
    }
}

/// One dialect: its operations and its common rows.
#[derive(Debug, Clone, Serialize)]
pub struct DialectCoverage {
    pub dialect: DialectId,
    /// Cases of this dialect.
    pub cases: usize,
    /// The operations' and the common rows' totals added up.
    pub summary: Tally,
    pub operations: Vec<OperationCoverage>,
    pub common: CommonCoverage,
}

/// What every operation of a dialect shares (`_common.yaml` and its
/// family).
#[derive(Debug, Clone, Serialize)]
pub struct CommonCoverage {
    /// `specs/<dialect>/_common.yaml`.
    pub file: String,
    /// The common rows only; common parameters are not counted.
    pub summary: Tally,
    /// For information: which common parameters a case sets itself (the
    /// client sends them anyway).
    pub parameters: Vec<ParameterCoverage>,
    /// Common rows that some operation inherits (does not list itself),
    /// counted once for the dialect.
    pub errors: Vec<CommonErrorCoverage>,
}

/// A common row, and where it applies.
#[derive(Debug, Clone, Serialize)]
pub struct CommonErrorCoverage {
    #[serde(flatten)]
    pub row: ErrorCoverage,
    /// The operations that inherit it: a case on one of them exercises it.
    pub operations: Vec<String>,
}

/// One operation: its own parameters and its own error rows.
#[derive(Debug, Clone, Serialize)]
pub struct OperationCoverage {
    pub operation: String,
    /// `specs/<dialect>/<Operation>.yaml`.
    pub file: String,
    /// Steps (cleanup included) that call the operation.
    pub steps: usize,
    /// Cases holding such a step.
    pub cases: usize,
    pub summary: Tally,
    pub parameters: Vec<ParameterCoverage>,
    /// The rows the operation's own spec file lists.
    pub errors: Vec<ErrorCoverage>,
    /// Codes of the common rows the operation inherits: they apply to it,
    /// and are counted once under the dialect's `common`.
    pub common_errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParameterCoverage {
    /// As the spec writes it (`PrivateIpAddress.N`).
    pub name: String,
    pub required: bool,
    /// A repeat list, exercised by any of its elements.
    pub list: bool,
    pub exercised: bool,
    /// Ids of the cases that send it.
    pub cases: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorCoverage {
    /// As the spec writes it, a template such as `Missing%s` included.
    pub code: String,
    pub status: u16,
    pub kind: Option<Kind>,
    pub producible: bool,
    /// Why no request can cause it, when `producible` is false.
    pub unproducible_reason: Option<String>,
    pub exercised: bool,
    /// The codes the cases expect that resolved to this row (for a
    /// template, its concrete instances).
    pub expected_as: Vec<String>,
    /// Ids of the cases that expect it.
    pub cases: Vec<String>,
}

impl Coverage {
    /// Coverage of every dialect that has specs, by the cases of that
    /// dialect (a case file's `dialect` decides which specs it counts for).
    pub fn compute(specs: &SpecSet, files: &[CaseFile]) -> Coverage {
        Coverage::from_dialects(
            DialectId::ALL
                .iter()
                .filter_map(|&d| DialectCoverage::compute(specs, files, d))
                .collect(),
        )
    }

    /// The coverage of the dialects some case file is of, computed for
    /// those alone: `compute(specs, files).of_dialects_in(files)`, without
    /// reading the other dialects' specs.
    pub fn of_cases(specs: &SpecSet, files: &[CaseFile]) -> Coverage {
        Coverage::from_dialects(
            DialectId::ALL
                .iter()
                .filter(|&&d| files.iter().any(|f| f.dialect == d))
                .filter_map(|&d| DialectCoverage::compute(specs, files, d))
                .collect(),
        )
    }

    /// [`Coverage::of_cases`] of the cases of `files` that `ran` accepts:
    /// what a run of those cases alone exercises.
    pub fn of_cases_where(
        specs: &SpecSet,
        files: &[CaseFile],
        ran: impl Fn(&CaseFile, &Case) -> bool,
    ) -> Coverage {
        let kept: Vec<CaseFile> = files
            .iter()
            .filter_map(|f| {
                let cases: Vec<Case> = f.cases.iter().filter(|c| ran(f, c)).cloned().collect();
                (!cases.is_empty()).then(|| CaseFile { cases, ..f.clone() })
            })
            .collect();
        Coverage::of_cases(specs, &kept)
    }

    /// The same coverage restricted to one dialect, totals included.
    pub fn only(self, dialect: DialectId) -> Coverage {
        Coverage::from_dialects(
            self.dialects
                .into_iter()
                .filter(|d| d.dialect == dialect)
                .collect(),
        )
    }

    /// The same coverage restricted to the dialects some case file is of
    /// (a run of one dialect's cases says nothing of the others).
    pub fn of_dialects_in(self, files: &[CaseFile]) -> Coverage {
        Coverage::from_dialects(
            self.dialects
                .into_iter()
                .filter(|d| files.iter().any(|f| f.dialect == d.dialect))
                .collect(),
        )
    }

    fn from_dialects(dialects: Vec<DialectCoverage>) -> Coverage {
        Coverage {
            cases: dialects.iter().map(|d| d.cases).sum(),
            summary: Tally::sum(dialects.iter().map(|d| &d.summary)),
            dialects,
        }
    }

    /// Exercised items over all counted items, in percent (rounded down to
    /// a tenth).
    pub fn overall_percent(&self) -> f64 {
        self.summary.percent
    }

    /// Whether the overall coverage is below `min` percent.
    pub fn is_below(&self, min: f64) -> bool {
        self.summary.is_below(min)
    }

    pub fn dialect(&self, dialect: DialectId) -> Option<&DialectCoverage> {
        self.dialects.iter().find(|d| d.dialect == dialect)
    }

    /// A terminal report: the table, then what no case exercises.
    pub fn to_text(&self) -> String {
        render::text(self)
    }

    /// The same as Markdown, opening with a `## Spec coverage` heading so
    /// that it can be embedded in a larger document.
    pub fn to_markdown(&self) -> String {
        render::markdown(self)
    }
}

impl DialectCoverage {
    fn compute(specs: &SpecSet, files: &[CaseFile], dialect: DialectId) -> Option<DialectCoverage> {
        let common_spec = specs.dialect(dialect)?;
        let ops: Vec<_> = specs.all_of(dialect).collect();
        if ops.is_empty() {
            return None;
        }
        let index: BTreeMap<&str, usize> = ops
            .iter()
            .enumerate()
            .map(|(i, s)| (s.operation.as_str(), i))
            .collect();

        let mut op_hits: Vec<OpHits> = ops
            .iter()
            .map(|s| OpHits {
                params: vec![BTreeSet::new(); s.parameters.len()],
                errors: vec![RowHits::default(); s.own_errors().len()],
                ..OpHits::default()
            })
            .collect();
        let mut common_params = vec![BTreeSet::new(); common_spec.common_parameters.len()];
        let mut common_errors: BTreeMap<&str, RowHits> = BTreeMap::new();

        let mut cases = 0;
        for file in files.iter().filter(|f| f.dialect == dialect) {
            for case in &file.cases {
                cases += 1;
                for step in case.steps.iter().chain(&case.cleanup) {
                    let Some(&i) = index.get(step.call.as_str()) else {
                        // Not a documented operation: lint reports it.
                        continue;
                    };
                    let spec = ops[i];
                    let hits = &mut op_hits[i];
                    hits.steps += 1;
                    hits.cases.insert(&case.id);
                    for (name, _) in &step.params {
                        if let Some(p) = resolve(&spec.parameters, name) {
                            hits.params[p].insert(case.id.clone());
                        } else if let Some(p) = resolve(&common_spec.common_parameters, name) {
                            common_params[p].insert(case.id.clone());
                        }
                        // Anything else is unknown to the spec (lint's
                        // business, or a deliberate unknown parameter).
                    }
                    // Every code a step accepts counts: `any_of` lists
                    // alternatives the documents leave open.
                    for code in step.expect.error_codes() {
                        let Some(entry) = spec.errors.get(code) else {
                            continue;
                        };
                        let row = spec
                            .errors
                            .entries()
                            .iter()
                            .position(|e| std::ptr::eq(e, entry));
                        let own = spec.own_errors().len();
                        let target = match row {
                            Some(r) if r < own => &mut hits.errors[r],
                            _ => common_errors.entry(entry.code.as_str()).or_default(),
                        };
                        target.cases.insert(case.id.clone());
                        target.codes.insert(code.clone());
                    }
                }
            }
        }

        let operations: Vec<OperationCoverage> = ops
            .iter()
            .zip(op_hits)
            .map(|(spec, hits)| {
                let parameters: Vec<_> = spec
                    .parameters
                    .iter()
                    .zip(hits.params)
                    .map(|(p, cases)| parameter(p, cases))
                    .collect();
                let errors: Vec<_> = spec
                    .own_errors()
                    .iter()
                    .zip(hits.errors)
                    .map(|(e, hits)| error(e, hits))
                    .collect();
                OperationCoverage {
                    operation: spec.operation.clone(),
                    file: spec.file.clone(),
                    steps: hits.steps,
                    cases: hits.cases.len(),
                    summary: tally(&parameters, &errors),
                    parameters,
                    errors,
                    common_errors: spec
                        .inherited_errors()
                        .iter()
                        .map(|e| e.code.clone())
                        .collect(),
                }
            })
            .collect();

        // A common row every operation overrides applies to none of them.
        let errors: Vec<_> = common_spec
            .errors
            .entries()
            .iter()
            .filter_map(|e| {
                let operations: Vec<String> = ops
                    .iter()
                    .filter(|s| s.inherited_errors().iter().any(|i| i.code == e.code))
                    .map(|s| s.operation.clone())
                    .collect();
                if operations.is_empty() {
                    return None;
                }
                let hits = common_errors.remove(e.code.as_str()).unwrap_or_default();
                Some(CommonErrorCoverage {
                    row: error(e, hits),
                    operations,
                })
            })
            .collect();
        let rows: Vec<ErrorCoverage> = errors.iter().map(|e| e.row.clone()).collect();
        let common = CommonCoverage {
            file: common_spec.file.clone(),
            summary: tally(&[], &rows),
            parameters: common_spec
                .common_parameters
                .iter()
                .zip(common_params)
                .map(|(p, cases)| parameter(p, cases))
                .collect(),
            errors,
        };
        let summary = Tally::sum(
            operations
                .iter()
                .map(|o| &o.summary)
                .chain([&common.summary]),
        );
        Some(DialectCoverage {
            dialect,
            cases,
            summary,
            operations,
            common,
        })
    }
}

#[derive(Default)]
struct OpHits<'c> {
    steps: usize,
    cases: BTreeSet<&'c str>,
    params: Vec<BTreeSet<String>>,
    errors: Vec<RowHits>,
}

#[derive(Default, Clone)]
struct RowHits {
    cases: BTreeSet<String>,
    codes: BTreeSet<String>,
}

/// The parameter a wire name stands for: the one of that exact name, else
/// the repeat list it is an element of (any index, a malformed one too:
/// a case sending `PrivateIpAddress.0` is testing that list's bounds).
fn resolve(params: &[ParamSpec], wire_name: &str) -> Option<usize> {
    params.iter().position(|p| p.name == wire_name).or_else(|| {
        params
            .iter()
            .position(|p| p.is_list() && p.element_index(wire_name).is_some())
    })
}

fn parameter(p: &ParamSpec, cases: BTreeSet<String>) -> ParameterCoverage {
    ParameterCoverage {
        name: p.name.clone(),
        required: p.required,
        list: p.is_list(),
        exercised: !cases.is_empty(),
        cases: cases.into_iter().collect(),
    }
}

fn error(e: &ErrorEntry, hits: RowHits) -> ErrorCoverage {
    ErrorCoverage {
        code: e.code.clone(),
        status: e.status,
        kind: e.kind,
        producible: e.producible,
        unproducible_reason: e.unproducible_reason.clone(),
        exercised: !hits.cases.is_empty(),
        expected_as: hits.codes.into_iter().collect(),
        cases: hits.cases.into_iter().collect(),
    }
}

fn tally(parameters: &[ParameterCoverage], errors: &[ErrorCoverage]) -> Tally {
    let count = |total: usize, exercised: usize| Count { exercised, total };
    let producible = || errors.iter().filter(|e| e.producible);
    Tally::new(
        count(
            parameters.len(),
            parameters.iter().filter(|p| p.exercised).count(),
        ),
        count(
            producible().count(),
            producible().filter(|e| e.exercised).count(),
        ),
        errors.len() - producible().count(),
    )
}

#[cfg(test)]
mod tests;
