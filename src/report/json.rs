//! The JSON sink: `report.json`, the whole run with every step, for tools
//! (nightly diffs, the comparison report) to read back.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

use super::{Event, RunInfo, Sink, Summary};
use crate::runner::CaseResult;

pub struct JsonReport {
    path: PathBuf,
    results: Vec<CaseResult>,
}

#[derive(Serialize)]
struct Document<'a> {
    run: &'a RunInfo,
    summary: &'a Summary,
    results: &'a [CaseResult],
}

impl JsonReport {
    pub fn new(path: PathBuf) -> Self {
        JsonReport {
            path,
            results: Vec::new(),
        }
    }
}

impl Sink for JsonReport {
    fn on(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::RunStarted(_) => Ok(()),
            Event::CaseFinished(result) => {
                self.results.push((*result).clone());
                Ok(())
            }
            Event::RunFinished(run, summary) => {
                self.results.sort_by(|a, b| a.address.cmp(&b.address));
                let doc = Document {
                    run,
                    summary,
                    results: &self.results,
                };
                let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
                std::fs::write(&self.path, text)
            }
        }
    }
}
