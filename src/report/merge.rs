//! `ipconform report merge`: the `report.json` files of several shards of
//! one run (nightly CI splits the suite across runners with `cargo nextest
//! run --partition hash:K/N`) as one report, from which every format is
//! written again.
//!
//! Results are put together and the counts recomputed; the run's head
//! spans the shards (earliest start, latest finish); the spec coverage is
//! recomputed from each shard's list of what it did not exercise (an item
//! is exercised by the merged run when any shard exercised it). Inputs of
//! another kind, of another schema version than this build's, of mixed
//! versions, or holding the same case twice are refused with the file
//! named.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    tally, CoverageFigures, CoverageReport, DialectCoverageReport, Run, RunReport, KIND,
    SCHEMA_VERSION,
};

/// One input: its name for messages, and its text.
pub struct Input {
    pub name: String,
    pub text: String,
}

/// The merged report; `run_id` names it.
pub fn merge(inputs: &[Input], run_id: &str) -> Result<RunReport, String> {
    if inputs.is_empty() {
        return Err("no report to merge: name report.json files or folders holding them".into());
    }
    // The head first, loosely, so that a report of another version or
    // kind is named as such rather than as a field that does not parse.
    let mut versions = Vec::with_capacity(inputs.len());
    for input in inputs {
        let head: serde_json::Value = serde_json::from_str(&input.text)
            .map_err(|e| format!("{}: not JSON: {e}", input.name))?;
        let kind = head.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != KIND {
            return Err(format!(
                "{}: not a run report (its `kind` is {}, a run's report.json says `{KIND}`)",
                input.name,
                if kind.is_empty() {
                    "missing".to_string()
                } else {
                    format!("`{kind}`")
                }
            ));
        }
        let version = head.get("schema_version").and_then(|v| v.as_u64());
        versions.push((input.name.as_str(), version));
    }
    let distinct: BTreeSet<Option<u64>> = versions.iter().map(|(_, v)| *v).collect();
    if distinct.len() > 1 {
        let list: Vec<String> = versions
            .iter()
            .map(|(name, v)| {
                format!(
                    "{name}: {}",
                    v.map_or_else(|| "none".to_string(), |v| v.to_string())
                )
            })
            .collect();
        return Err(format!(
            "the reports have different schema versions ({}); merge the shards of one run, written by one ipconform version",
            list.join(", ")
        ));
    }
    if let Some((name, version)) = versions
        .iter()
        .find(|(_, v)| *v != Some(SCHEMA_VERSION.into()))
    {
        return Err(format!(
            "{name}: schema_version {}, but this ipconform reads and writes version {SCHEMA_VERSION}; merge with the ipconform that wrote it",
            version.map_or_else(|| "missing".to_string(), |v| v.to_string())
        ));
    }
    let mut reports = Vec::with_capacity(inputs.len());
    for input in inputs {
        let report: RunReport = serde_json::from_str(&input.text).map_err(|e| {
            format!(
                "{}: not a valid report.json of version {SCHEMA_VERSION}: {e}",
                input.name
            )
        })?;
        reports.push((input.name.as_str(), report));
    }

    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut results = Vec::new();
    for (name, report) in &reports {
        for case in &report.results {
            if let Some(first) = seen.insert(case.address.clone(), name) {
                return Err(format!(
                    "case {} is in both {first} and {name}: the shards of one run never overlap",
                    case.address
                ));
            }
            results.push(case.clone());
        }
    }
    results.sort_by(|a, b| a.address.cmp(&b.address));
    let (summary, by_dialect) = tally(&results);

    let runs: Vec<&Run> = reports.iter().map(|(_, r)| &r.run).collect();
    let started_at = runs
        .iter()
        .map(|r| r.started_at.as_str())
        .min_by_key(|t| instant(t))
        .unwrap_or_default()
        .to_string();
    let finished_at = runs
        .iter()
        .map(|r| r.finished_at.as_str())
        .max_by_key(|t| instant(t))
        .unwrap_or_default()
        .to_string();
    let elapsed_us = match (instant(&started_at), instant(&finished_at)) {
        (Some(a), Some(b)) if b >= a => (b - a).num_microseconds().unwrap_or(0).max(0) as u64,
        _ => runs.iter().map(|r| r.elapsed_us).max().unwrap_or(0),
    };
    let mut targets: Vec<String> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    for r in &runs {
        for t in &r.targets {
            if !targets.contains(t) {
                targets.push(t.clone());
            }
        }
        if !versions.contains(&r.tool_version) {
            versions.push(r.tool_version.clone());
        }
    }
    let coverage = merge_coverage(reports.iter().filter_map(|(_, r)| r.coverage.as_ref()));
    Ok(RunReport {
        schema_version: SCHEMA_VERSION,
        kind: KIND.to_string(),
        run: Run {
            run_id: run_id.to_string(),
            tool_version: versions.join(", "),
            started_at,
            finished_at,
            elapsed_us,
            targets,
            success: summary.all_conform(),
        },
        summary,
        by_dialect,
        results,
        coverage,
    })
}

fn instant(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

/// The coverage of the shards' cases together: per dialect, an item no
/// shard exercised is one every shard that covers the dialect lists as
/// unexercised.
fn merge_coverage<'c>(shards: impl Iterator<Item = &'c CoverageReport>) -> Option<CoverageReport> {
    let mut by_dialect: BTreeMap<String, Vec<&DialectCoverageReport>> = BTreeMap::new();
    let mut any = false;
    for shard in shards {
        any = true;
        for d in &shard.dialects {
            by_dialect.entry(d.dialect.clone()).or_default().push(d);
        }
    }
    if !any {
        return None;
    }
    let dialects: Vec<DialectCoverageReport> = by_dialect
        .into_values()
        .filter_map(|shards| {
            let first = *shards.first()?;
            let keep = |lists: Vec<&Vec<String>>| -> Vec<String> {
                let Some((head, rest)) = lists.split_first() else {
                    return Vec::new();
                };
                head.iter()
                    .filter(|item| rest.iter().all(|l| l.contains(item)))
                    .cloned()
                    .collect()
            };
            let mut operations = first.operations.clone();
            for op in operations.iter_mut() {
                let of = |pick: fn(&super::model::OperationCoverageReport) -> &Vec<String>| {
                    keep(
                        shards
                            .iter()
                            .map(|d| {
                                d.operations
                                    .iter()
                                    .find(|o| o.operation == op.operation)
                                    .map(pick)
                                    .unwrap_or(&op.unexercised_parameters)
                            })
                            .collect(),
                    )
                };
                let params = of(|o| &o.unexercised_parameters);
                let errors = of(|o| &o.unexercised_errors);
                op.unexercised_parameters = params;
                op.unexercised_errors = errors;
                let s = &op.summary;
                op.summary = figures(
                    s.parameters_total
                        .saturating_sub(op.unexercised_parameters.len()),
                    s.parameters_total,
                    s.errors_total.saturating_sub(op.unexercised_errors.len()),
                    s.errors_total,
                    s.not_producible,
                );
            }
            let common_missing = keep(
                shards
                    .iter()
                    .map(|d| &d.unexercised_common_errors)
                    .collect(),
            );
            let ops_errors_total: usize = first
                .operations
                .iter()
                .map(|o| o.summary.errors_total)
                .sum();
            let common_total = first.summary.errors_total.saturating_sub(ops_errors_total);
            let common_exercised = common_total.saturating_sub(common_missing.len());
            let p_ex: usize = operations
                .iter()
                .map(|o| o.summary.parameters_exercised)
                .sum();
            let p_total: usize = operations.iter().map(|o| o.summary.parameters_total).sum();
            let e_ex: usize = operations
                .iter()
                .map(|o| o.summary.errors_exercised)
                .sum::<usize>()
                + common_exercised;
            Some(DialectCoverageReport {
                dialect: first.dialect.clone(),
                summary: figures(
                    p_ex,
                    p_total,
                    e_ex,
                    first.summary.errors_total,
                    first.summary.not_producible,
                ),
                operations,
                unexercised_common_errors: common_missing,
            })
        })
        .collect();
    let sum =
        |f: fn(&CoverageFigures) -> usize| dialects.iter().map(|d| f(&d.summary)).sum::<usize>();
    let summary = figures(
        sum(|f| f.parameters_exercised),
        sum(|f| f.parameters_total),
        sum(|f| f.errors_exercised),
        sum(|f| f.errors_total),
        sum(|f| f.not_producible),
    );
    Some(CoverageReport { summary, dialects })
}

/// Figures with the percentage as `ipconform coverage` computes it: exact
/// integer tenths, rounded down; 100.0 when nothing is counted.
fn figures(
    parameters_exercised: usize,
    parameters_total: usize,
    errors_exercised: usize,
    errors_total: usize,
    not_producible: usize,
) -> CoverageFigures {
    let exercised = parameters_exercised + errors_exercised;
    let total = parameters_total + errors_total;
    CoverageFigures {
        parameters_exercised,
        parameters_total,
        errors_exercised,
        errors_total,
        not_producible,
        percent: (exercised * 1000)
            .checked_div(total)
            .map_or(100.0, |tenths| tenths as f64 / 10.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::samples::report;

    fn input(name: &str, report: &RunReport) -> Input {
        Input {
            name: name.into(),
            text: serde_json::to_string(report).unwrap(),
        }
    }

    /// Two shards: the example report's cases split in two.
    fn shards() -> (RunReport, RunReport, RunReport) {
        let whole = report();
        let mut a = whole.clone();
        let mut b = whole.clone();
        let half = whole.results.len() / 2;
        a.results.truncate(half);
        b.results.drain(..half);
        a.run.started_at = "2026-11-01T10:00:00+00:00".into();
        a.run.finished_at = "2026-11-01T10:05:00+00:00".into();
        b.run.started_at = "2026-11-01T10:01:00+00:00".into();
        b.run.finished_at = "2026-11-01T10:09:00+00:00".into();
        (whole, a, b)
    }

    #[test]
    fn shards_merge_into_the_whole_runs_results_and_counts() {
        let (whole, a, b) = shards();
        let merged = merge(&[input("b.json", &b), input("a.json", &a)], "merged-1").unwrap();
        assert_eq!(
            merged.results, whole.results,
            "sorted by address, as a run's"
        );
        assert_eq!(merged.summary, whole.summary);
        assert_eq!(merged.by_dialect, whole.by_dialect);
        assert_eq!(merged.run.run_id, "merged-1");
        assert_eq!(merged.run.started_at, "2026-11-01T10:00:00+00:00");
        assert_eq!(merged.run.finished_at, "2026-11-01T10:09:00+00:00");
        assert_eq!(merged.run.elapsed_us, 9 * 60 * 1_000_000);
        assert_eq!(merged.run.success, whole.run.success);
    }

    #[test]
    fn coverage_counts_an_item_once_any_shard_exercised_it() {
        let (_, mut a, mut b) = shards();
        let template = CoverageReport {
            summary: figures(0, 0, 0, 0, 0),
            dialects: vec![DialectCoverageReport {
                dialect: "alibaba-ecs".into(),
                summary: figures(0, 4, 0, 5, 1),
                operations: vec![super::super::model::OperationCoverageReport {
                    operation: "AssignPrivateIpAddresses".into(),
                    summary: figures(0, 4, 0, 3, 0),
                    unexercised_parameters: vec!["A".into(), "B".into(), "C".into()],
                    unexercised_errors: vec!["E1".into(), "E2".into()],
                }],
                unexercised_common_errors: vec!["C1".into(), "C2".into()],
            }],
        };
        let mut ca = template.clone();
        ca.dialects[0].operations[0].unexercised_parameters = vec!["A".into(), "B".into()];
        ca.dialects[0].unexercised_common_errors = vec!["C1".into()];
        let mut cb = template.clone();
        cb.dialects[0].operations[0].unexercised_parameters = vec!["B".into(), "C".into()];
        cb.dialects[0].operations[0].unexercised_errors = vec!["E2".into()];
        cb.dialects[0].unexercised_common_errors = vec!["C2".into()];
        a.coverage = Some(ca);
        b.coverage = Some(cb);
        let merged = merge(&[input("a", &a), input("b", &b)], "m").unwrap();
        let c = merged.coverage.unwrap();
        let op = &c.dialects[0].operations[0];
        assert_eq!(op.unexercised_parameters, ["B"]);
        assert_eq!(op.unexercised_errors, ["E2"]);
        assert_eq!(
            (op.summary.parameters_exercised, op.summary.errors_exercised),
            (3, 2)
        );
        assert_eq!(
            c.dialects[0].unexercised_common_errors,
            Vec::<String>::new()
        );
        // 3 of 4 parameters, 2 of 3 operation rows and both common rows.
        assert_eq!(c.dialects[0].summary.errors_exercised, 4);
        assert_eq!(c.summary.percent, 77.7, "7 of 9, rounded down");
    }

    #[test]
    fn other_kinds_versions_and_overlaps_are_refused_by_name() {
        let (_, a, b) = shards();
        let mut v2 = b.clone();
        v2.schema_version = 2;
        let e = merge(&[input("a.json", &a), input("v2.json", &v2)], "m").unwrap_err();
        assert!(e.contains("different schema versions"), "{e}");
        assert!(e.contains("a.json: 1") && e.contains("v2.json: 2"), "{e}");
        let e = merge(&[input("v2.json", &v2)], "m").unwrap_err();
        assert!(e.contains("v2.json: schema_version 2"), "{e}");
        let comparison = Input {
            name: "comparison.json".into(),
            text: r#"{"schema_version":1,"kind":"ipconform-comparison"}"#.into(),
        };
        let e = merge(&[comparison], "m").unwrap_err();
        assert!(e.contains("comparison.json: not a run report"), "{e}");
        let e = merge(&[input("a.json", &a), input("again.json", &a)], "m").unwrap_err();
        assert!(e.contains("in both a.json and again.json"), "{e}");
        let e = merge(
            &[Input {
                name: "x".into(),
                text: "{".into(),
            }],
            "m",
        )
        .unwrap_err();
        assert!(e.starts_with("x: not JSON"), "{e}");
        assert!(merge(&[], "m").is_err());
    }
}
