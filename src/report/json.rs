//! The JSON sink: `report.json`, the versioned document of the whole run
//! ([`super::model::RunReport`]; fields in docs/REPORT.md, schema in
//! docs/report.schema.json), for tools — the nightly diff, CI, the
//! comparison report — to read back.

use std::io;

use super::model::RunReport;
use super::FinalReport;

pub struct JsonReport;

impl FinalReport for JsonReport {
    fn file_name(&self) -> &'static str {
        "report.json"
    }

    fn render(&self, report: &RunReport) -> io::Result<String> {
        let mut text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
        text.push('\n');
        Ok(text)
    }
}
