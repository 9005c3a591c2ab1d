//! Reading case files: serde for the shape, then a semantic pass that
//! parses templates, paths and matchers once and places every problem.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{
    list_placeholder, BodyPath, Case, CaseFile, Expect, Matcher, ParamValue, Pattern, Power,
    Requires, Step, Template, Wait,
};
use crate::diag::{find_key, find_key_in, Diagnostic, Diagnostics};
use crate::dialect::{DialectId, Method};
use crate::fixtures::scalar_to_string;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    dialect: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    signing: Option<String>,
    #[serde(default)]
    method: Option<Method>,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    deviations: BTreeMap<String, String>,
    #[serde(default)]
    signing: Option<String>,
    #[serde(default)]
    method: Option<Method>,
    #[serde(default)]
    requires: Option<RawRequires>,
    /// Faults injected while the steps run (needs `requires: {powers: [faults]}`).
    #[serde(default)]
    faults: Vec<crate::emulator::faults::FaultSpec>,
    /// A parametrized case: one case per row, `{{row.<key>}}` replaced by
    /// the row's value everywhere in the case.
    #[serde(default)]
    rows: Option<Vec<serde_yaml::Mapping>>,
    steps: Vec<RawStep>,
    #[serde(default)]
    cleanup: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequires {
    #[serde(default)]
    fixtures: Vec<String>,
    #[serde(default)]
    powers: Vec<Power>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    call: String,
    #[serde(default, rename = "as")]
    credentials: Option<String>,
    #[serde(default)]
    with: serde_yaml::Mapping,
    #[serde(default)]
    headers: serde_yaml::Mapping,
    #[serde(default)]
    signing: Option<String>,
    #[serde(default)]
    method: Option<Method>,
    #[serde(default)]
    wait: Option<RawWait>,
    #[serde(default)]
    retry: Option<bool>,
    #[serde(default)]
    expect: Option<RawExpect>,
    #[serde(default)]
    capture: serde_yaml::Mapping,
}

/// A polling step: repeat a read until its body meets `until`. Portable
/// bindings write their settle steps' `wait` the same way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWait {
    pub(crate) until: serde_yaml::Mapping,
    #[serde(default)]
    pub(crate) halt_on: Option<serde_yaml::Mapping>,
    #[serde(default)]
    pub(crate) timeout: Option<String>,
    #[serde(default)]
    pub(crate) interval: Option<String>,
    #[serde(default)]
    pub(crate) max_interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<serde_yaml::Mapping>,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawError {
    /// Omitted: the status the catalog documents for `code`.
    #[serde(default)]
    status: Option<u16>,
    /// A code, or `{any_of: [A, B]}`.
    code: serde_yaml::Value,
    #[serde(default)]
    numeric_code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// Loads every case file under `dir` (one folder per dialect; `worlds/`
/// holds emulator fixtures and `portable/` vendor-neutral scenarios, which
/// [`crate::portable`] reads: both are skipped). Reports all problems at once.
pub fn load_dir(dir: &Path) -> Result<Vec<CaseFile>, Diagnostics> {
    load_dir_where(dir, &|_, _, _| true)
}

/// Like [`load_dir`], parsing only the files `keep` accepts, given the
/// dialect of their folder, their group (the file stem) and their text.
pub fn load_dir_where(
    dir: &Path,
    keep: &dyn Fn(DialectId, &str, &str) -> bool,
) -> Result<Vec<CaseFile>, Diagnostics> {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    let mut subdirs: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic::new(
                dir.display().to_string(),
                format!("failed to read the cases directory: {e}"),
            )
            .with_hint("run from the project root, or pass --cases DIR")]))
        }
    };
    subdirs.sort();
    for sub in subdirs.into_iter().filter(|p| p.is_dir()) {
        let name = sub
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name == "worlds" || name == crate::portable::FOLDER {
            continue;
        }
        let folder_dialect = match name.parse::<DialectId>() {
            Ok(d) => d,
            Err(e) => {
                diags.push(
                    Diagnostic::new(sub.display().to_string(), e)
                        .with_hint("case folders are named after their dialect"),
                );
                continue;
            }
        };
        let paths = match crate::diag::yaml_files_in(&sub) {
            Ok(paths) => paths,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        for path in paths {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        path.display().to_string(),
                        format!("failed to read: {e}"),
                    ));
                    continue;
                }
            };
            let group = path.file_stem().unwrap_or_default().to_string_lossy();
            if !keep(folder_dialect, &group, &text) {
                continue;
            }
            match parse_file(&path, text) {
                Ok(file) if file.dialect != folder_dialect => {
                    let (line, col) =
                        find_key(&file.text, "dialect", 1, usize::MAX).unwrap_or((1, 1));
                    diags.push(
                        Diagnostic::new(
                            &file.display,
                            format!(
                                "a `{}` case file in the `{folder_dialect}` folder",
                                file.dialect
                            ),
                        )
                        .at(&file.text, line, col)
                        .with_hint(format!("move it to cases/{}/", file.dialect)),
                    );
                }
                Ok(file) => files.push(file),
                Err(mut d) => diags.append(&mut d.0),
            }
        }
    }
    check_unique_ids(&files, &mut diags);
    if diags.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(diags))
    }
}

/// Case ids are unique across all files of a dialect, so that a report
/// line or a `--filter` names one case.
fn check_unique_ids(files: &[CaseFile], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(DialectId, &str), (&str, usize)> = HashMap::new();
    for file in files {
        for case in &file.cases {
            if let Some((other, line)) =
                seen.insert((file.dialect, &case.id), (&file.display, case.line))
            {
                if other != file.display {
                    diags.push(
                        Diagnostic::new(
                            &file.display,
                            format!("case id `{}` is used twice", case.id),
                        )
                        .at(&file.text, case.line, 1)
                        .with_hint(format!(
                            "it is also the id of the case at {other}:{line}; rename one"
                        )),
                    );
                }
            }
        }
    }
}

pub fn load_file(path: &Path) -> Result<CaseFile, Diagnostics> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic::new(
            &display,
            format!("failed to read: {e}"),
        )])
    })?;
    parse_file(path, text)
}

/// Parses a case file from its text; `path` names it in diagnostics and
/// gives its group (the file stem).
pub fn parse_file(path: &Path, text: String) -> Result<CaseFile, Diagnostics> {
    let display = path.display().to_string();
    let raw: RawFile = serde_yaml::from_str(&text)
        .map_err(|e| Diagnostics(vec![Diagnostic::from_yaml(&display, &text, &e)]))?;
    let mut diags = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let place = |key: &str, from: usize, to: usize, message: String| -> Diagnostic {
        let d = Diagnostic::new(&display, message);
        match find_key_in(&lines, key, from, to) {
            Some((line, col)) => d.at(&text, line, col),
            None if from > 0 => d.at(&text, from, 1),
            None => d,
        }
    };
    let dialect = match raw.dialect.parse::<DialectId>() {
        Ok(d) => Some(d),
        Err(e) => {
            diags.push(place("dialect", 1, usize::MAX, e));
            None
        }
    };
    let case_lines = locate_ids(&lines, raw.cases.iter().map(|c| c.id.as_str()));
    // The cases as plain YAML too: a parametrized case is re-read from its
    // tree once per row, with the row's values in place.
    let trees: Vec<serde_yaml::Value> = if raw.cases.iter().any(|c| c.rows.is_some()) {
        serde_yaml::from_str::<serde_yaml::Value>(&text)
            .ok()
            .and_then(|v| v.get("cases").and_then(|c| c.as_sequence()).cloned())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut cases = Vec::with_capacity(raw.cases.len());
    let mut ids_seen: HashMap<String, usize> = HashMap::new();
    for (index, (raw_case, &(line, end_line))) in raw.cases.iter().zip(&case_lines).enumerate() {
        if raw_case.id.is_empty()
            || raw_case.id.contains(char::is_whitespace)
            || raw_case.id.contains("::")
            || raw_case.id.contains('[')
        {
            diags.push(place(
                "id",
                line,
                end_line,
                format!(
                    "case id `{}` must be non-empty kebab-case (no spaces, no `::`, no `[`)",
                    raw_case.id
                ),
            ));
        }
        let context = CaseContext {
            raw: &raw,
            dialect,
            lines: &lines,
            line,
            end_line,
        };
        let mut expanded = Vec::new();
        match &raw_case.rows {
            None => expanded.push(convert_case(
                raw_case,
                raw_case.id.clone(),
                &context,
                &place,
                &mut diags,
            )),
            Some(rows) => {
                if rows.is_empty() {
                    diags.push(place(
                        "rows",
                        line,
                        end_line,
                        "`rows` needs at least one row (a map of `name: value`)".into(),
                    ));
                }
                for (i, row) in rows.iter().enumerate() {
                    let tree = trees.get(index).cloned().unwrap_or(serde_yaml::Value::Null);
                    match instantiate_row(&tree, row, i) {
                        Ok((row_id, raw_row_case)) => expanded.push(convert_case(
                            &raw_row_case,
                            format!("{}[{row_id}]", raw_case.id),
                            &context,
                            &place,
                            &mut diags,
                        )),
                        Err(message) => diags.push(
                            place("rows", line, end_line, message).with_hint(
                                "each row is a map of scalars; `{{row.<key>}}` in the case names one of its keys",
                            ),
                        ),
                    }
                }
            }
        }
        for case in expanded {
            if let Some(first) = ids_seen.insert(case.id.clone(), line) {
                diags.push(place(
                    "id",
                    line,
                    end_line,
                    format!(
                        "case id `{}` is used twice in this file (first at line {first})",
                        case.id
                    ),
                ));
            }
            cases.push(case);
        }
    }
    match (dialect, diags.is_empty()) {
        (Some(dialect), true) => Ok(CaseFile {
            group: path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            path: path.to_path_buf(),
            display,
            dialect,
            source: raw.source,
            tags: raw.tags,
            cases,
            text,
        }),
        _ => Err(Diagnostics(diags)),
    }
}

type Place<'a> = dyn Fn(&str, usize, usize, String) -> Diagnostic + 'a;

/// What every case of a file shares while it is converted.
struct CaseContext<'a> {
    raw: &'a RawFile,
    dialect: Option<DialectId>,
    lines: &'a [&'a str],
    line: usize,
    end_line: usize,
}

fn convert_case(
    raw_case: &RawCase,
    id: String,
    cx: &CaseContext<'_>,
    place: &Place<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Case {
    let (line, end_line) = (cx.line, cx.end_line);
    let cleanup_line = find_key_in(cx.lines, "cleanup", line, end_line).map(|(l, _)| l);
    let steps_end = cleanup_line.map(|l| l - 1).unwrap_or(end_line);
    let step_lines = locate_keys(cx.lines, "call", line, steps_end);
    let cleanup_lines = cleanup_line
        .map(|l| locate_keys(cx.lines, "call", l, end_line))
        .unwrap_or_default();
    let defaults = StepDefaults {
        signing: raw_case.signing.as_ref().or(cx.raw.signing.as_ref()),
        method: raw_case.method.or(cx.raw.method),
        dialect: cx.dialect,
    };
    let steps = convert_steps(
        &raw_case.steps,
        &step_lines,
        steps_end,
        &defaults,
        place,
        diags,
    );
    let cleanup = convert_steps(
        &raw_case.cleanup,
        &cleanup_lines,
        end_line,
        &defaults,
        place,
        diags,
    );
    if raw_case.steps.is_empty() {
        diags.push(place(
            "steps",
            line,
            end_line,
            "a case needs at least one step".into(),
        ));
    }
    let mut tags = cx.raw.tags.clone();
    tags.extend(raw_case.tags.iter().cloned());
    let requires = raw_case
        .requires
        .as_ref()
        .map(|r| Requires {
            fixtures: r.fixtures.clone(),
            powers: r.powers.clone(),
            not_applicable: None,
        })
        .unwrap_or_default();
    if !raw_case.faults.is_empty() && !requires.powers.contains(&Power::Faults) {
        diags.push(
            place(
                "faults",
                line,
                end_line,
                "a case with `faults:` needs the `faults` power, which only the emulator has".into(),
            )
            .with_hint("add `requires: {powers: [faults]}` to the case, so that other targets skip it visibly"),
        );
    }
    Case {
        id,
        title: raw_case.title.clone(),
        source: raw_case.source.clone().or_else(|| cx.raw.source.clone()),
        tags,
        deviations: raw_case.deviations.clone(),
        requires,
        faults: raw_case.faults.clone(),
        steps,
        cleanup,
        line,
        end_line,
    }
}

/// One row of a parametrized case: the case's tree with every
/// `{{row.<key>}}` replaced (a string that is only that placeholder takes
/// the row's value with its type), read again as a case. The row's `id`
/// key names it; otherwise its 1-based position does.
fn instantiate_row(
    tree: &serde_yaml::Value,
    row: &serde_yaml::Mapping,
    index: usize,
) -> Result<(String, RawCase), String> {
    let mut values: Vec<(String, serde_yaml::Value)> = Vec::with_capacity(row.len());
    for (k, v) in row {
        let key = k
            .as_str()
            .ok_or_else(|| format!("row {}: keys must be text", index + 1))?;
        if crate::fixtures::scalar_to_string(v).is_none() && !v.is_null() {
            return Err(format!(
                "row {}: `{key}` must be a scalar (text, number or boolean)",
                index + 1
            ));
        }
        values.push((key.to_string(), v.clone()));
    }
    let row_id = values
        .iter()
        .find(|(k, _)| k == "id")
        .and_then(|(_, v)| crate::fixtures::scalar_to_string(v))
        .unwrap_or_else(|| (index + 1).to_string());
    if row_id.is_empty() || row_id.contains(char::is_whitespace) || row_id.contains(['[', ']']) {
        return Err(format!(
            "row {}: its id `{row_id}` must be non-empty, without spaces or brackets",
            index + 1
        ));
    }
    let mut tree = tree.clone();
    if let serde_yaml::Value::Mapping(map) = &mut tree {
        map.remove("rows");
    }
    substitute_row(&mut tree, &values).map_err(|key| {
        format!(
            "row {}: `{{{{row.{key}}}}}` is used in the case but the row has no `{key}`",
            index + 1
        )
    })?;
    let case: RawCase =
        serde_yaml::from_value(tree).map_err(|e| format!("row {}: {e}", index + 1))?;
    Ok((row_id, case))
}

/// Replaces `{{row.<key>}}` in every string of `node`; the error is the
/// first key the row lacks.
fn substitute_row(
    node: &mut serde_yaml::Value,
    row: &[(String, serde_yaml::Value)],
) -> Result<(), String> {
    match node {
        serde_yaml::Value::String(s) => {
            if !s.contains("row.") {
                return Ok(());
            }
            let template = match Template::parse(s) {
                Ok(t) => t,
                // Reported with its position when the case is converted.
                Err(_) => return Ok(()),
            };
            let value_of = |key: &str| row.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            if let Some(key) = template
                .sole_variable()
                .and_then(|v| v.strip_prefix("row."))
            {
                *node = value_of(key).cloned().ok_or_else(|| key.to_string())?;
                return Ok(());
            }
            for var in template.variables() {
                if let Some(key) = var.strip_prefix("row.") {
                    if value_of(key).is_none() {
                        return Err(key.to_string());
                    }
                }
            }
            let texts: Vec<(String, String)> = row
                .iter()
                .map(|(k, v)| {
                    (
                        format!("row.{k}"),
                        crate::fixtures::scalar_to_string(v).unwrap_or_default(),
                    )
                })
                .collect();
            // Only `row.` variables are replaced; the others stay templates.
            let rendered = template.substitute(|var| {
                texts
                    .iter()
                    .find(|(k, _)| k == var)
                    .map(|(_, v)| v.as_str())
            });
            *s = rendered;
            Ok(())
        }
        serde_yaml::Value::Sequence(items) => {
            items.iter_mut().try_for_each(|i| substitute_row(i, row))
        }
        serde_yaml::Value::Mapping(map) => {
            for (_, v) in map.iter_mut() {
                substitute_row(v, row)?;
            }
            Ok(())
        }
        serde_yaml::Value::Tagged(t) => substitute_row(&mut t.value, row),
        _ => Ok(()),
    }
}

/// `path: matcher` pairs of an expectation or a wait condition, each parsed
/// once; `(line, end_line)` bound the step, to place problems.
fn body_matchers(
    map: &serde_yaml::Mapping,
    key: &str,
    (line, end_line): (usize, usize),
    place: &Place<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(BodyPath, Matcher)> {
    let mut matchers = Vec::with_capacity(map.len());
    for (k, value) in map {
        let Some(path_text) = k.as_str() else {
            diags.push(place(key, line, end_line, "body paths must be text".into()));
            continue;
        };
        match (BodyPath::parse(path_text), Matcher::from_yaml(value)) {
            (Ok(p), Ok(m)) => matchers.push((p, m)),
            (Err(e), _) | (_, Err(e)) => diags.push(place(path_text, line, end_line, e)),
        }
    }
    matchers
}

/// A duration as people write it (`500ms`, `2s`, `1m`), or `default`.
fn duration(
    text: Option<&String>,
    key: &str,
    default: Duration,
    (line, end_line): (usize, usize),
    place: &Place<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Duration {
    let Some(text) = text else { return default };
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => {
            diags.push(place(
                key,
                line,
                end_line,
                format!("`{key}: {text}` must be more than zero"),
            ));
            default
        }
        Err(e) => {
            diags.push(
                place(
                    key,
                    line,
                    end_line,
                    format!("`{key}: {text}` is not a duration: {e}"),
                )
                .with_hint("write e.g. `500ms`, `2s` or `1m`"),
            );
            default
        }
    }
}

fn convert_wait(
    raw: &RawWait,
    at: (usize, usize),
    place: &Place<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Wait {
    let until = body_matchers(&raw.until, "until", at, place, diags);
    if until.is_empty() {
        diags.push(place(
            "until",
            at.0,
            at.1,
            "`until` needs at least one `path: matcher` the read must meet".into(),
        ));
    }
    let halt_on = raw
        .halt_on
        .as_ref()
        .map(|m| body_matchers(m, "halt_on", at, place, diags))
        .unwrap_or_default();
    let timeout = duration(
        raw.timeout.as_ref(),
        "timeout",
        Wait::DEFAULT_TIMEOUT,
        at,
        place,
        diags,
    );
    let interval = duration(
        raw.interval.as_ref(),
        "interval",
        Wait::DEFAULT_INTERVAL,
        at,
        place,
        diags,
    );
    let max_interval = duration(
        raw.max_interval.as_ref(),
        "max_interval",
        Wait::DEFAULT_MAX_INTERVAL.max(interval),
        at,
        place,
        diags,
    );
    Wait {
        until,
        halt_on,
        timeout,
        interval,
        max_interval,
    }
}

/// What a step inherits from its case and file.
struct StepDefaults<'a> {
    signing: Option<&'a String>,
    method: Option<Method>,
    dialect: Option<DialectId>,
}

fn convert_steps(
    raw: &[RawStep],
    lines: &[(usize, usize)],
    region_end: usize,
    defaults: &StepDefaults<'_>,
    place: &Place<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Step> {
    let mut steps = Vec::with_capacity(raw.len());
    for (i, step) in raw.iter().enumerate() {
        let (line, col) = lines.get(i).copied().unwrap_or((0, 0));
        let end_line = lines.get(i + 1).map(|(l, _)| l - 1).unwrap_or(region_end);
        let signing = step.signing.as_ref().or(defaults.signing).cloned();
        if let (Some(variant), Some(dialect)) = (&signing, defaults.dialect) {
            let known = dialect.client().signing_variants();
            if !known.contains(&variant.as_str()) {
                // The key may sit on the step, the case or the file.
                let at = if step.signing.is_some() { line } else { 1 };
                diags.push(
                    place(
                        "signing",
                        at,
                        end_line,
                        format!("`{variant}` is not a signing variant of {dialect}"),
                    )
                    .with_hint(format!("use one of: {}", known.join(", "))),
                );
            }
        }
        let mut headers = Vec::with_capacity(step.headers.len());
        for (key, value) in &step.headers {
            let Some(name) = key.as_str() else {
                diags.push(place(
                    "headers",
                    line,
                    end_line,
                    "header names must be text".into(),
                ));
                continue;
            };
            let value = match value {
                serde_yaml::Value::Null => None,
                other => match scalar_to_string(other).map(|t| Template::parse(&t)) {
                    Some(Ok(t)) => Some(t),
                    Some(Err(e)) => {
                        diags.push(place(name, line, end_line, e));
                        continue;
                    }
                    None => {
                        diags.push(place(
                            name,
                            line,
                            end_line,
                            format!("header `{name}` must be a string, number or ~ (sign it, then leave it out)"),
                        ));
                        continue;
                    }
                },
            };
            headers.push((name.to_string(), value));
        }
        let mut params = Vec::with_capacity(step.with.len());
        for (key, value) in &step.with {
            let Some(name) = scalar_to_string(key) else {
                diags.push(place(
                    "with",
                    line,
                    end_line,
                    "parameter names must be text".into(),
                ));
                continue;
            };
            let parsed = match value {
                serde_yaml::Value::Null => Ok(ParamValue::Empty),
                serde_yaml::Value::Sequence(items) if list_placeholder(&name).is_some() => items
                    .iter()
                    .map(|item| {
                        scalar_to_string(item)
                            .ok_or_else(|| format!("the items of `{name}` must be scalars"))
                            .and_then(|t| Template::parse(&t))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(ParamValue::List),
                other => match scalar_to_string(other) {
                    Some(text) if list_placeholder(&name).is_some() => {
                        Template::parse(&text).map(|t| ParamValue::List(vec![t]))
                    }
                    Some(text) => Template::parse(&text).map(ParamValue::Text),
                    None => Err(format!(
                        "parameter `{name}` must be a string, number, boolean or ~; a list goes under its placeholder name (`{name}.N: [a, b]`)"
                    )),
                },
            };
            match parsed {
                Ok(value) => params.push((name, value)),
                Err(e) => diags.push(place(&name, line, end_line, e)),
            }
        }
        let expect = match &step.expect {
            None => Expect::Success {
                status: None,
                body: Vec::new(),
            },
            Some(RawExpect {
                error: Some(_),
                status: Some(_),
                ..
            })
            | Some(RawExpect {
                error: Some(_),
                body: Some(_),
                ..
            }) => {
                diags.push(
                    place(
                        "error",
                        line,
                        end_line,
                        "`expect` holds either `error` or `status`/`body`, not both".into(),
                    )
                    .with_hint(
                        "an error's HTTP status goes inside it: `error: {status: 404, code: ...}`",
                    ),
                );
                continue;
            }
            Some(RawExpect {
                error: Some(err), ..
            }) => {
                let message = match err.message.as_deref().map(Pattern::new).transpose() {
                    Ok(m) => m,
                    Err(e) => {
                        diags.push(place(
                            "message",
                            line,
                            end_line,
                            format!("invalid message regex: {e}"),
                        ));
                        None
                    }
                };
                let codes = match error_codes(&err.code) {
                    Ok(codes) => codes,
                    Err(e) => {
                        diags.push(place("code", line, end_line, e));
                        Vec::new()
                    }
                };
                Expect::Error {
                    status: err.status,
                    codes,
                    numeric_code: err.numeric_code,
                    message,
                    kind: None,
                }
            }
            Some(RawExpect {
                status,
                body,
                error: None,
            }) => {
                let matchers = body
                    .as_ref()
                    .map(|b| body_matchers(b, "body", (line, end_line), place, diags))
                    .unwrap_or_default();
                if let Some(s) = status {
                    if !(100..=599).contains(s) {
                        diags.push(place(
                            "status",
                            line,
                            end_line,
                            format!("{s} is not an HTTP status"),
                        ));
                    }
                }
                Expect::Success {
                    status: *status,
                    body: matchers,
                }
            }
        };
        let mut capture = Vec::new();
        for (key, value) in &step.capture {
            match (key.as_str(), value.as_str()) {
                (Some(name), Some(path)) => match BodyPath::parse(path) {
                    Ok(p) => capture.push((name.to_string(), p)),
                    Err(e) => diags.push(place(name, line, end_line, e)),
                },
                _ => diags.push(place(
                    "capture",
                    line,
                    end_line,
                    "`capture` maps a name to a body path, both text".into(),
                )),
            }
        }
        let wait = step
            .wait
            .as_ref()
            .map(|w| convert_wait(w, (line, end_line), place, diags));
        steps.push(Step {
            wait,
            retry: step.retry,
            call: step.call.clone(),
            credentials: step.credentials.clone().unwrap_or_else(|| "default".into()),
            signing,
            method: step.method.or(defaults.method),
            headers,
            params,
            expect,
            capture,
            line,
            col,
            end_line,
        });
    }
    steps
}

/// `code: A` or `code: {any_of: [A, B]}`.
fn error_codes(value: &serde_yaml::Value) -> Result<Vec<String>, String> {
    const HOW: &str = "`code` is a code, or `{any_of: [CodeA, CodeB]}` when several are acceptable";
    if let Some(code) = scalar_to_string(value) {
        return Ok(vec![code]);
    }
    let map = value.as_mapping().ok_or(HOW)?;
    let items = match (map.len(), map.get("any_of")) {
        (1, Some(serde_yaml::Value::Sequence(items))) if !items.is_empty() => items,
        _ => return Err(HOW.into()),
    };
    items
        .iter()
        .map(|i| scalar_to_string(i).ok_or_else(|| HOW.to_string()))
        .collect()
}

/// The (line, last line) of each item of a list whose items have these
/// `ids` in order (cases, portable scenarios), found from its `id:`. serde
/// gives no spans for values that parsed; the ids are unique enough to
/// find.
pub(crate) fn locate_ids<'a>(
    lines: &[&str],
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Vec<(usize, usize)> {
    let mut starts = Vec::with_capacity(ids.len());
    let mut from = 1;
    for id in ids {
        let line = lines
            .iter()
            .enumerate()
            .skip(from - 1)
            .find(|(_, l)| is_id_line(l, id))
            .map(|(i, _)| i + 1)
            .unwrap_or(from);
        starts.push(line);
        from = line + 1;
    }
    let total = lines.len().max(1);
    (0..starts.len())
        .map(|i| {
            let end = starts.get(i + 1).map(|n| n - 1).unwrap_or(total);
            (starts[i], end.max(starts[i]))
        })
        .collect()
}

fn is_id_line(line: &str, id: &str) -> bool {
    let l = line.trim_start().trim_start_matches('-').trim_start();
    let Some(rest) = l.strip_prefix("id:") else {
        return false;
    };
    rest.trim().trim_matches(['"', '\'']) == id
}

/// Every position of `key:` between two lines, in order.
fn locate_keys(lines: &[&str], key: &str, from: usize, to: usize) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut line = from;
    while let Some(pos) = find_key_in(lines, key, line, to) {
        found.push(pos);
        line = pos.0 + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Power;

    fn parse(text: &str) -> Result<CaseFile, Diagnostics> {
        parse_file(Path::new("cases/alibaba-ecs/t.yaml"), text.to_string())
    }

    const GOOD: &str = "\
dialect: alibaba-ecs
source: 001_d56fe85a99ce17ec.txt
cases:
  - id: one
    title: t
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: '{{region}}', Count: 1, Empty: ~}
        expect:
          body:
            A.B[0]: {ipv4: true}
        capture:
          ip: A.B[0]
      - call: DescribeNetworkInterfaces
        expect:
          error: {status: 404, code: X.NotFound, message: '(?i)not found'}
    cleanup:
      - call: UnassignPrivateIpAddresses
";

    #[test]
    fn loads_a_well_formed_file_with_positions() {
        let f = parse(GOOD).unwrap();
        let case = &f.cases[0];
        assert_eq!(case.line, 4);
        assert_eq!((case.steps[0].line, case.steps[0].col), (7, 9));
        assert_eq!(case.steps[1].line, 14);
        assert_eq!(case.cleanup[0].line, 18);
        assert_eq!(case.steps[0].params.len(), 3);
        assert!(matches!(case.steps[0].params[2].1, ParamValue::Empty));
        assert!(matches!(
            case.steps[1].expect,
            Expect::Error {
                status: Some(404),
                ..
            }
        ));
        assert_eq!(case.source.as_deref(), Some("001_d56fe85a99ce17ec.txt"));
    }

    #[test]
    fn unknown_key_names_file_line_col_and_suggests() {
        let bad = GOOD.replace("        capture:", "        captur:");
        let err = parse(&bad).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("cases/alibaba-ecs/t.yaml:12:9"), "{shown}");
        assert!(shown.contains("did you mean `capture`"), "{shown}");
    }

    #[test]
    fn semantic_errors_are_placed() {
        let bad = GOOD.replace("{ipv4: true}", "{ipv5: true}");
        let err = parse(&bad).unwrap_err().0;
        assert_eq!(err.len(), 1);
        assert_eq!((err[0].line, err[0].col), (11, 13));
        assert!(
            err[0].message.contains("did you mean `ipv4`"),
            "{}",
            err[0].message
        );

        let bad = GOOD.replace(
            "expect:\n          error",
            "expect:\n          status: 200\n          error",
        );
        let err = parse(&bad).unwrap_err().0;
        assert!(err[0].message.contains("not both"), "{}", err[0].message);
        assert_eq!(err[0].line, 17);
    }

    #[test]
    fn unknown_dialect_and_duplicate_ids() {
        let bad = GOOD.replace("dialect: alibaba-ecs", "dialect: alibaba-ecz");
        let err = parse(&bad).unwrap_err().0;
        assert!(err[0].message.contains("unknown dialect"));
        assert_eq!(err[0].line, 1);

        let twice = format!("{GOOD}  - id: one\n    title: again\n    steps:\n      - call: X\n");
        let err = parse(&twice).unwrap_err().0;
        assert!(err[0].message.contains("used twice"), "{}", err[0].message);
        assert_eq!(err[0].line, 19);
    }

    #[test]
    fn signing_and_method_inherit_from_file_and_case_and_headers_parse() {
        let text = "\
dialect: alibaba-ecs
source: s
signing: v3
method: POST
cases:
  - id: one
    title: t
    method: GET
    steps:
      - call: DescribeNetworkInterfaces
        headers: {x-acs-date: '2016-02-23T12:46:24Z', x-acs-signature-nonce: ~}
      - call: DescribeNetworkInterfaces
        signing: v1
";
        let f = parse(text).unwrap();
        let steps = &f.cases[0].steps;
        assert_eq!(steps[0].signing.as_deref(), Some("v3"));
        assert_eq!(steps[0].method, Some(Method::Get), "the case's method wins");
        assert_eq!(
            steps[1].signing.as_deref(),
            Some("v1"),
            "the step's signing wins"
        );
        assert_eq!(steps[0].headers.len(), 2);
        assert!(
            steps[0].headers[1].1.is_none(),
            "~ signs the header, then drops it"
        );
    }

    #[test]
    fn unknown_signing_variant_and_method_are_placed() {
        let bad = GOOD.replace(
            "      - call: DescribeNetworkInterfaces\n",
            "      - call: DescribeNetworkInterfaces\n        signing: v9\n",
        );
        let err = parse(&bad).unwrap_err().0;
        assert!(
            err[0]
                .message
                .contains("`v9` is not a signing variant of alibaba-ecs"),
            "{}",
            err[0].message
        );
        assert_eq!(err[0].line, 15);
        assert!(err[0].hint.as_deref().unwrap().contains("v1, v3"));
        let bad = GOOD.replace("    title: t\n", "    title: t\n    method: PUT\n");
        let err = parse(&bad).unwrap_err().to_string();
        assert!(err.contains("unknown variant `PUT`"), "{err}");
        assert!(err.contains("t.yaml:6:"), "{err}");
    }

    #[test]
    fn rows_lists_codes_and_requires_parse_and_misuse_is_placed() {
        let text = "\
dialect: alibaba-ecs
source: s
cases:
  - id: rows
    title: 'n={{row.n}}'
    requires: {fixtures: [eni.failing], powers: [clock]}
    rows:
      - {n: 1}
      - {id: big, n: 11, code: InvalidParameter.Count}
    steps:
      - call: AssignPrivateIpAddresses
        with:
          Count: '{{row.n}}'
          PrivateIpAddress.N: ['{{a}}', b]
        expect:
          error: {code: {any_of: [X, '{{row.n}}']}}
";
        let f = parse(text).unwrap();
        assert_eq!(f.cases.len(), 2);
        assert_eq!(
            (f.cases[0].id.as_str(), f.cases[1].id.as_str()),
            ("rows[1]", "rows[big]")
        );
        assert_eq!(f.cases[1].title, "n=11");
        assert_eq!(f.cases[0].requires.fixtures, ["eni.failing"]);
        assert_eq!(f.cases[0].requires.powers, [Power::Clock]);
        let step = &f.cases[1].steps[0];
        assert_eq!(step.line, 11, "rows keep the case's positions");
        assert!(matches!(&step.params[1].1, ParamValue::List(items) if items.len() == 2));
        assert_eq!(step.expect.error_codes(), ["X", "11"]);
        // A row's number stays a number where it is the whole value.
        assert!(matches!(&step.params[0].1, ParamValue::Text(t) if t.source() == "11"));

        let missing = text.replace(
            "{id: big, n: 11, code: InvalidParameter.Count}",
            "{id: big}",
        );
        let err = parse(&missing).unwrap_err().0;
        assert!(
            err[0].message.contains("row 2: `{{row.n}}`"),
            "{}",
            err[0].message
        );
        assert_eq!(err[0].line, 7, "placed at `rows:`");

        let bad_list = text.replace("PrivateIpAddress.N:", "PrivateIpAddress.1:");
        let err = parse(&bad_list).unwrap_err().0;
        assert!(
            err[0].message.contains("under its placeholder name"),
            "{}",
            err[0].message
        );

        let bad_code = text.replace("{any_of: [X, '{{row.n}}']}", "{one_of: [X]}");
        let err = parse(&bad_code).unwrap_err().0;
        assert!(err[0].message.contains("any_of"), "{}", err[0].message);

        let bad_power = text.replace("powers: [clock]", "powers: [time-travel]");
        let err = parse(&bad_power).unwrap_err().to_string();
        assert!(
            err.contains("unknown variant `time-travel`") && err.contains("t.yaml:6:"),
            "{err}"
        );

        // Faults need the power that names them, so other targets skip the case.
        let faulted = text.replace(
            "requires: {fixtures: [eni.failing], powers: [clock]}",
            "requires: {fixtures: [eni.failing], powers: [clock]}\n    faults: [{effect: drop, times: 1}]",
        );
        let err = parse(&faulted).unwrap_err().to_string();
        assert!(err.contains("needs the `faults` power"), "{err}");
        let with_power = faulted.replace("powers: [clock]", "powers: [clock, faults]");
        let f = parse(&with_power).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(f.cases[0].faults.len(), 1);
        assert_eq!(f.cases[0].requires.powers, [Power::Clock, Power::Faults]);
        let bad_fault = with_power.replace("effect: drop", "effect: explode");
        assert!(parse(&bad_fault).is_err());
    }

    #[test]
    fn no_panic_on_garbage() {
        for text in [
            "",
            "[",
            "cases: 5",
            "dialect: [1]",
            "\u{0}",
            "cases:\n  - {}",
        ] {
            assert!(parse(text).is_err());
        }
    }
}
