//! `ipconform lint`: every case checked against the specs it claims to test.
//!
//! A case that calls an operation the spec does not have, sends a parameter
//! the operation does not take, sends a value the spec refuses (a bound, a
//! type, a combination rule) on a step that expects to succeed, or expects
//! an error code (or status) the document does not list is testing
//! something other than the contract: the lint reports each with its
//! position and, where one is close, the name that was probably meant. The
//! values are checked by the same validation the emulator runs, after the
//! dialect's reference fixtures are filled in. Variables must be fixtures of
//! the case's dialect, captures of an earlier step, or built-ins;
//! credential sets must exist for the dialect.

use std::collections::HashSet;

use crate::case::{list_element_name, CaseFile, Expect, ParamValue, Step, BUILTIN_VARIABLES};
use crate::diag::{closest, find_key, Diagnostic};
use crate::fixtures::{DialectFixtures, Fixtures};
use crate::spec::{Kind, OperationSpec, SpecSet, ViolationKind};

/// Every finding over all files; empty when the cases are clean.
pub fn lint(specs: &SpecSet, files: &[CaseFile], fixtures: &DialectFixtures) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in files {
        let fixtures = crate::fixtures::of(fixtures, file.dialect);
        for case in &file.cases {
            if case.source.is_none() {
                out.push(
                    Diagnostic::new(&file.display, format!("case `{}` names no source", case.id))
                        .at(&file.text, case.line, 1)
                        .with_hint(
                            "add `source: <seed file or public doc>` to the case or the file",
                        ),
                );
            }
            for fixture in &case.requires.fixtures {
                if !fixtures.values.contains_key(fixture) {
                    let (line, col) = find_key(&file.text, "requires", case.line, case.end_line)
                        .unwrap_or((case.line, 1));
                    out.push(
                        Diagnostic::new(
                            &file.display,
                            format!(
                                "case `{}` requires the fixture `{fixture}`, which the {} reference fixtures lack: it would never run on the emulator",
                                case.id, file.dialect
                            ),
                        )
                        .at(&file.text, line, col)
                        .with_hint("add the fixture to the world file's fixtures, or fix its name"),
                    );
                }
            }
            for fault in &case.faults {
                let mut fault = fault.clone();
                fault.dialect.get_or_insert(file.dialect);
                if let Err(why) = crate::emulator::faults::check(&fault, specs) {
                    let (line, col) = find_key(&file.text, "faults", case.line, case.end_line)
                        .unwrap_or((case.line, 1));
                    out.push(
                        Diagnostic::new(
                            &file.display,
                            format!(
                                "case `{}`: a fault the emulator would refuse: {why}",
                                case.id
                            ),
                        )
                        .at(&file.text, line, col),
                    );
                }
            }
            let mut captured: HashSet<&str> = HashSet::new();
            for step in case.steps.iter().chain(&case.cleanup) {
                lint_step(specs, file, step, fixtures, &captured, &mut out);
                captured.extend(step.capture.iter().map(|(n, _)| n.as_str()));
            }
        }
    }
    out
}

/// Outcomes the emulator reaches only after a request's parameters passed
/// validation: a step expecting one of them must send valid parameters.
const AFTER_VALIDATION: &[Kind] = &[
    Kind::IpInUse,
    Kind::InterfaceNotFound,
    Kind::QuotaExceeded,
    Kind::SubnetExhausted,
    Kind::IpNotAssigned,
    Kind::PrimaryIp,
    Kind::InvalidState,
    Kind::IpInvalid,
    Kind::SubnetNotFound,
    Kind::Busy,
];

fn lint_step(
    specs: &SpecSet,
    file: &CaseFile,
    step: &Step,
    fixtures: &Fixtures,
    captured: &HashSet<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let at = |key: &str, message: String| {
        let d = Diagnostic::new(&file.display, message);
        match find_key(&file.text, key, step.line, step.end_line) {
            Some((line, col)) => d.at(&file.text, line, col),
            None => d.at(&file.text, step.line, step.col),
        }
    };
    let Some(spec) = specs.get(file.dialect, &step.call) else {
        let mut d = at(
            "call",
            format!(
                "`{}` is not an operation of the {} specs",
                step.call, file.dialect
            ),
        );
        d = match closest(&step.call, specs.operations(file.dialect)) {
            Some(best) => d.with_hint(format!("did you mean `{best}`?")),
            None => d.with_hint(format!(
                "add specs/{}/{}.yaml first",
                file.dialect, step.call
            )),
        };
        out.push(d);
        return;
    };
    if step.wait.is_some() && !spec.readonly {
        out.push(
            at(
                "wait",
                format!(
                    "`{}` changes state and is never repeated; `wait` polls reads only",
                    step.call
                ),
            )
            .with_hint("poll the read that shows the change (a Describe), not the change itself"),
        );
    }
    let expected_errors = step.expect.error_codes();
    let unknown_template = specs
        .dialect(file.dialect)
        .map(|d| d.validation.reply(ViolationKind::Unknown).code.as_str());
    // A step may send an unknown parameter on purpose, to test the answer.
    let expects_unknown = |name: &str| match unknown_template {
        Some(template) => expected_errors
            .iter()
            .any(|code| template.replace("%s", name) == *code),
        None => false,
    };
    for (name, value) in &step.params {
        if !spec.knows(name) && !expects_unknown(name) {
            let mut d = at(
                name,
                format!(
                    "`{name}` is not a parameter of {} ({})",
                    step.call, spec.file
                ),
            );
            if let Some(best) = closest(name, spec.parameter_names()) {
                d = d.with_hint(format!("did you mean `{best}`?"));
            }
            out.push(d);
        }
        for var in value.variables() {
            check_variable(var, fixtures, captured, &|_: &str, m| at(name, m), out);
        }
    }
    for (name, value) in &step.headers {
        for var in value.iter().flat_map(|t| t.variables()) {
            check_variable(var, fixtures, captured, &|_: &str, m| at(name, m), out);
        }
    }
    lint_values(specs, spec, file, step, fixtures, expected_errors, &at, out);
    if let Expect::Success { body, .. } = &step.expect {
        for (path, matcher) in body {
            for var in matcher.variables() {
                check_variable(
                    var,
                    fixtures,
                    captured,
                    &|_: &str, m| at(path.as_str(), m),
                    out,
                );
            }
        }
    }
    if let Expect::Error {
        status,
        codes,
        numeric_code,
        ..
    } = &step.expect
    {
        for code in codes {
            lint_code(spec, step, code, *status, *numeric_code, &at, out);
        }
    }
    if !fixtures.credentials.contains_key(&step.credentials) {
        let mut d = at(
            "as",
            format!(
                "no credential set `{}` in the {} reference fixtures",
                step.credentials, file.dialect
            ),
        );
        if let Some(best) = closest(
            &step.credentials,
            fixtures.credentials.keys().map(String::as_str),
        ) {
            d = d.with_hint(format!("did you mean `{best}`?"));
        }
        out.push(d);
    }
}

/// An expected code checked against the operation's catalog: documented,
/// with the status and numeric code the case gives, if any.
fn lint_code(
    spec: &OperationSpec,
    step: &Step,
    code: &str,
    status: Option<u16>,
    numeric_code: Option<i64>,
    at: &dyn Fn(&str, String) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) {
    // A kind's expectation lists the catalog's rows as written, templates
    // (`Missing%s`) included: such a row documents itself.
    let entry = spec
        .error(code)
        .or_else(|| spec.errors.entries().iter().find(|e| e.code == code));
    match entry {
        None => {
            let mut d = at(
                "code",
                format!(
                    "error code `{code}` is not documented for {} ({})",
                    step.call, spec.file
                ),
            );
            d = match closest(
                code,
                spec.errors.entries().iter().map(|e| e.code.as_str()),
            ) {
                Some(best) => d.with_hint(format!("did you mean `{best}`?")),
                None => d.with_hint(
                    "add the code to the spec's `errors` with its source, or `assumption:` if no document lists it",
                ),
            };
            out.push(d);
        }
        Some(entry) => {
            if let Some(status) = status.filter(|s| *s != entry.status) {
                out.push(
                    at(
                        "status",
                        format!(
                            "`{code}` is documented with HTTP {}, the case expects {status}",
                            entry.status
                        ),
                    )
                    .with_hint(
                        "expect the documented status, or leave `status` out to expect it; if a target differs, list it under `deviations`",
                    ),
                );
            }
            if let Some(number) = numeric_code.filter(|n| Some(*n) != entry.numeric_code) {
                let documented = entry
                    .numeric_code
                    .map_or("no numeric code".to_string(), |n| {
                        format!("numeric code {n}")
                    });
                out.push(
                    at(
                        "numeric_code",
                        format!(
                            "`{code}` is documented with {documented}, the case expects {number}"
                        ),
                    )
                    .with_hint("expect the documented numeric code, or leave it out"),
                );
            }
        }
    }
}

/// The step's values and combinations, by the emulator's own validation,
/// with the dialect's reference fixtures filled in (a capture of an earlier
/// step is present but not checkable). A step expecting success must pass;
/// a step expecting an outcome that comes after validation must pass too;
/// a step expecting the violation's own code is testing it.
#[allow(clippy::too_many_arguments)]
fn lint_values(
    specs: &SpecSet,
    spec: &OperationSpec,
    file: &CaseFile,
    step: &Step,
    fixtures: &Fixtures,
    expected_errors: &[String],
    at: &dyn Fn(&str, String) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) {
    let fixture = |v: &str| fixtures.values.get(v).map(String::as_str);
    let mut rendered: Vec<(String, Option<String>)> = Vec::with_capacity(step.params.len());
    for (name, value) in &step.params {
        match value {
            ParamValue::Empty => rendered.push((name.clone(), Some(String::new()))),
            // A capture is present, but its value is not known here.
            ParamValue::Text(t) => rendered.push((name.clone(), t.render_owned(fixture).ok())),
            ParamValue::List(items) => {
                // A list capture's length is not known before the run: the
                // step's combination rules cannot be checked.
                let Ok(values) = items
                    .iter()
                    .map(|t| t.render_owned(fixture))
                    .collect::<Result<Vec<_>, _>>()
                else {
                    return;
                };
                let start = spec.list_first_index(name).unwrap_or(1);
                for (i, v) in values.into_iter().enumerate() {
                    rendered.push((list_element_name(name, start + i as u32), Some(v)));
                }
            }
        }
    }
    let Err(found) = specs.validate(
        file.dialect,
        &step.call,
        rendered.iter().map(|(n, v)| (n.as_str(), v.as_deref())),
    ) else {
        return;
    };
    if found.violation.kind == ViolationKind::Unknown {
        // Reported by name above, with a suggestion.
        return;
    }
    let report = expected_errors.is_empty()
        || (!expected_errors.contains(&found.code)
            && expected_errors.iter().all(|code| {
                spec.error(code)
                    .and_then(|e| e.kind)
                    .is_some_and(|kind| AFTER_VALIDATION.contains(&kind))
            }));
    if report {
        let key = found
            .violation
            .wire_name
            .split(" or ")
            .next()
            .unwrap_or("with");
        let expectation = match expected_errors {
            [] => "expects success".to_string(),
            codes => format!("expects {}", codes.join(" or ")),
        };
        out.push(
            at(
                key,
                format!(
                    "this step {expectation}, but {} refuses it: {} ({})",
                    spec.file, found.violation, found.code
                ),
            )
            .with_hint(format!(
                "send a value the spec allows, or expect `{}`",
                found.code
            )),
        );
    }
}

fn check_variable(
    var: &str,
    fixtures: &Fixtures,
    captured: &HashSet<&str>,
    at: &dyn Fn(&str, String) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) {
    if fixtures.values.contains_key(var)
        || captured.contains(var)
        || BUILTIN_VARIABLES.contains(&var)
    {
        return;
    }
    let known = fixtures
        .values
        .keys()
        .map(String::as_str)
        .chain(captured.iter().copied())
        .chain(BUILTIN_VARIABLES.iter().copied());
    let mut d = at(
        var,
        format!(
            "`{{{{{var}}}}}` is neither a fixture, a capture of an earlier step, nor a built-in"
        ),
    );
    if let Some(best) = closest(var, known) {
        d = d.with_hint(format!("did you mean `{{{{{best}}}}}`?"));
    }
    out.push(d);
}
