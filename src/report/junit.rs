//! The JUnit sink: `junit.xml`, written with `quick-junit`, so that CI
//! systems show each case as a test with its failure text.
//!
//! One `<testsuite>` per target and case file, one `<testcase>` per case,
//! named by the case id with the suite as `classname` and the case's
//! `file` and `line` as attributes (GitLab and Jenkins link them). A case
//! that does not conform, or conforms where it is listed as deviating, is
//! a `<failure>` whose message says what differs first and whose body is
//! the whole failure text with the normalized diff; a skipped case and a
//! known deviation are `<skipped>` with the reason (the deviation's text
//! goes to `<system-out>`, so it stays visible).

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::model::{CaseReport, Outcome, RunReport};
use super::text::{case_text, Colour};
use super::FinalReport;

pub struct JunitReport;

impl FinalReport for JunitReport {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, report: &RunReport) -> io::Result<String> {
        let mut suites: BTreeMap<&str, Vec<&CaseReport>> = BTreeMap::new();
        for case in &report.results {
            let suite = case
                .address
                .rsplit_once("::")
                .map_or("", |(suite, _)| suite);
            suites.entry(suite).or_default().push(case);
        }
        let mut junit = Report::new(format!("ipconform {}", report.run.run_id));
        junit.set_time(Duration::from_micros(report.run.elapsed_us));
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&report.run.started_at) {
            junit.set_timestamp(at);
        }
        for (name, cases) in suites {
            let mut suite = TestSuite::new(name);
            let micros: u64 = cases.iter().map(|c| c.elapsed_us).sum();
            suite.set_time(Duration::from_micros(micros));
            suite.add_test_cases(cases.into_iter().map(test_case));
            junit.add_test_suite(suite);
        }
        junit.to_string().map_err(io::Error::other)
    }
}

fn test_case(case: &CaseReport) -> TestCase {
    let status = match case.outcome {
        Outcome::Conforms => TestCaseStatus::success(),
        Outcome::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!(
                "skipped: {}",
                case.skipped.as_deref().unwrap_or("")
            ));
            s
        }
        Outcome::KnownDeviation => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!(
                "known deviation on `{}`: {}",
                case.target,
                case.deviation.as_deref().unwrap_or("")
            ));
            s
        }
        Outcome::Fails | Outcome::UnexpectedConformance => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(case.outcome.as_str());
            s.set_message(first_difference(case));
            s.set_description(case_text(case, Colour::Never));
            s
        }
    };
    let mut test = TestCase::new(case.id.as_str(), status);
    if let Some((suite, _)) = case.address.rsplit_once("::") {
        test.set_classname(suite);
    }
    test.set_time(Duration::from_micros(case.elapsed_us));
    test.extra.insert("file".into(), case.file.as_str().into());
    test.extra
        .insert("line".into(), case.line.to_string().into());
    if case.outcome == Outcome::KnownDeviation {
        test.set_system_out(case_text(case, Colour::Never));
    }
    test.add_property(Property::new("title", case.title.as_str()));
    test.add_property(Property::new("dialect", case.dialect.as_str()));
    test.add_property(Property::new("target", case.target.as_str()));
    if let Some(source) = &case.source {
        test.add_property(Property::new("source", source.as_str()));
    }
    test
}

/// One line for the failure's `message`: where, and the first thing that
/// differs.
pub fn first_difference(case: &CaseReport) -> String {
    if case.outcome == Outcome::UnexpectedConformance {
        return format!(
            "conforms on `{}`, which the case lists as a known deviation: remove it from `deviations`",
            case.target
        );
    }
    let Some(step) = case.failed_steps().next() else {
        return format!("does not conform ({})", case.location());
    };
    let what = step
        .check
        .as_ref()
        .and_then(|c| {
            c.expected
                .iter()
                .zip(&c.actual)
                .find(|(e, a)| e != a)
                .map(|(e, a)| format!("expected `{e}`, got `{a}`"))
        })
        .or_else(|| step.problems.first().cloned())
        .or_else(|| step.findings.first().map(|f| f.message.clone()))
        .unwrap_or_else(|| "does not conform".to_string());
    format!("{} at {}: {what}", step.title(), step.location)
}
