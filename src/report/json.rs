//! The JSON sink: `report.json`, the whole run with every step, for tools
//! (nightly diffs, the comparison report) to read back.

use std::io;

use serde::Serialize;

use super::{FinalReport, RunInfo, Summary};
use crate::runner::CaseResult;

pub struct JsonReport;

#[derive(Serialize)]
struct Document<'a> {
    run: &'a RunInfo,
    summary: &'a Summary,
    results: &'a [CaseResult],
}

impl FinalReport for JsonReport {
    fn render(
        &self,
        run: &RunInfo,
        summary: &Summary,
        results: &[CaseResult],
    ) -> io::Result<String> {
        let doc = Document {
            run,
            summary,
            results,
        };
        serde_json::to_string_pretty(&doc).map_err(io::Error::other)
    }
}
