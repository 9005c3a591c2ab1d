//! The JUnit sink: `junit.xml`, one testsuite per target and case file, so
//! CI systems show each case as a test with its failure text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use quick_xml::escape::escape;

use super::{failure_text, FinalReport, RunInfo, Summary};
use crate::runner::{CaseResult, Outcome};

pub struct JunitReport;

impl FinalReport for JunitReport {
    fn render(
        &self,
        info: &RunInfo,
        summary: &Summary,
        results: &[CaseResult],
    ) -> io::Result<String> {
        let mut suites: BTreeMap<String, Vec<&CaseResult>> = BTreeMap::new();
        for r in results {
            let suite = r.address.rsplit_once("::").map(|(s, _)| s).unwrap_or("");
            suites.entry(suite.to_string()).or_default().push(r);
        }
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"ipconform {}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            escape(&info.run_id),
            summary.total,
            summary.fails + summary.unexpected_conformance,
            summary.elapsed.as_secs_f64()
        );
        for (suite, cases) in &suites {
            let failures = cases.iter().filter(|c| !c.outcome.is_success()).count();
            let _ = writeln!(
                xml,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
                escape(suite),
                cases.len()
            );
            for case in cases {
                let _ = write!(
                            xml,
                            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                            escape(suite),
                            escape(&case.id),
                            escape(&case.file),
                            case.line,
                            case.elapsed.as_secs_f64()
                        );
                match case.outcome {
                    Outcome::Conforms => xml.push_str("/>\n"),
                    Outcome::Skipped => {
                        let _ = writeln!(
                            xml,
                            ">\n      <skipped message=\"skipped: {}\"/>\n    </testcase>",
                            escape(case.skipped.as_deref().unwrap_or(""))
                        );
                    }
                    Outcome::KnownDeviation => {
                        let _ = writeln!(
                            xml,
                            ">\n      <skipped message=\"known deviation: {}\"/>\n    </testcase>",
                            escape(case.deviation.as_deref().unwrap_or(""))
                        );
                    }
                    Outcome::Fails | Outcome::UnexpectedConformance => {
                        let kind = if case.outcome == Outcome::Fails {
                            "does not conform"
                        } else {
                            "conforms unexpectedly"
                        };
                        let _ = writeln!(
                            xml,
                            ">\n      <failure message=\"{kind}\">{}</failure>\n    </testcase>",
                            escape(failure_text(case))
                        );
                    }
                }
            }
            xml.push_str("  </testsuite>\n");
        }
        xml.push_str("</testsuites>\n");
        Ok(xml)
    }
}
