//! `ipconform lint`: every case checked against the specs it claims to test.
//!
//! A case that calls an operation the spec does not have, sends a parameter
//! the operation does not take, or expects an error code (or status) the
//! document does not list is testing something other than the contract: the
//! lint reports each with its position and, where one is close, the name
//! that was probably meant. Variables must be fixtures of the reference
//! target, captures of an earlier step, or built-ins; credential sets must
//! exist.

use std::collections::HashSet;

use crate::case::{CaseFile, Expect, Step, BUILTIN_VARIABLES};
use crate::diag::{closest, find_key, Diagnostic};
use crate::fixtures::Fixtures;
use crate::spec::SpecSet;

/// Every finding over all files; empty when the cases are clean.
pub fn lint(specs: &SpecSet, files: &[CaseFile], fixtures: &Fixtures) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in files {
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
            let mut captured: HashSet<&str> = HashSet::new();
            for step in case.steps.iter().chain(&case.cleanup) {
                lint_step(specs, file, step, fixtures, &captured, &mut out);
                captured.extend(step.capture.iter().map(|(n, _)| n.as_str()));
            }
        }
    }
    out
}

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
    for (name, value) in &step.params {
        if spec.parameter(name).is_none() {
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
        for var in value.iter().flat_map(|t| t.variables()) {
            check_variable(var, fixtures, captured, &|_: &str, m| at(name, m), out);
        }
    }
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
    if let Expect::Error { status, code, .. } = &step.expect {
        match spec.error(code) {
            None => {
                let mut d = at(
                    "code",
                    format!(
                        "error code `{code}` is not documented for {} ({})",
                        step.call, spec.file
                    ),
                );
                d = match closest(code, spec.errors.iter().map(|e| e.code.as_str())) {
                    Some(best) => d.with_hint(format!("did you mean `{best}`?")),
                    None => d.with_hint(
                        "add the code to the spec's `errors` with its source, or `assumption:` if no document lists it",
                    ),
                };
                out.push(d);
            }
            Some(entry) if entry.status != *status => out.push(
                at(
                    "status",
                    format!(
                        "`{code}` is documented with HTTP {}, the case expects {status}",
                        entry.status
                    ),
                )
                .with_hint(
                    "expect the documented status; if a target differs, list it under `deviations`",
                ),
            ),
            Some(_) => {}
        }
    }
    if !fixtures.credentials.contains_key(&step.credentials) {
        let mut d = at(
            "as",
            format!(
                "no credential set `{}` in the reference fixtures",
                step.credentials
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
