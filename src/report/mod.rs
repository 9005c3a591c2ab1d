//! Reports: sinks fed by one stream of run events.
//!
//! The run emits [`Event`]s (started, one per finished case, finished); each
//! sink turns them into its format — the terminal as it goes, the files of
//! the run's folder at the end. The files are [`FinalReport`]s drawn from
//! one [`model::RunReport`], built once when the run finishes: the
//! versioned document `report.json` holds, with volatile values normalized
//! ([`normalize`]) and each step's word-level diff computed ([`diff`]). A
//! new format is a new `FinalReport`, a new section a new field of the
//! model; the run does not change. [`failure_text`] is the one text of a
//! failed case, shared by the terminal, JUnit and the libtest-mimic harness.

pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod terminal;
pub mod text;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::runner::{CaseResult, Outcome};

/// What a run is, for the head of every report. (What report.json says of
/// it is [`model::Run`]: this is the run's own, unversioned.)
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub started_at: String,
    pub targets: Vec<String>,
    pub cases: usize,
    pub version: &'static str,
    /// What the run's cases exercise of the specs, when it was computed.
    pub coverage: Option<crate::coverage::Coverage>,
}

/// The run's tally as cases finish (the counts report.json gives); it
/// decides the exit code.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub counts: model::Counts,
    pub elapsed: Duration,
}

impl Summary {
    pub fn add(&mut self, outcome: Outcome) {
        self.counts.add(outcome.into());
    }

    pub fn all_conform(&self) -> bool {
        self.counts.all_conform()
    }
}

pub enum Event<'a> {
    RunStarted(&'a RunInfo),
    CaseFinished(&'a CaseResult),
    RunFinished(&'a RunInfo, &'a Summary),
}

pub trait Sink {
    fn on(&mut self, event: &Event<'_>) -> io::Result<()>;
}

/// A file made once, at the end of a run, from the whole report.
pub trait FinalReport {
    /// The file's name in the run's folder (`report.json`).
    fn file_name(&self) -> &'static str;
    /// The file's text.
    fn render(&self, report: &model::RunReport) -> io::Result<String>;
}

/// Every file a run writes, in the order they are written.
pub fn standard_formats() -> Vec<Box<dyn FinalReport + Send>> {
    vec![
        Box::new(json::JsonReport),
        Box::new(junit::JunitReport),
        Box::new(markdown::MarkdownReport),
        Box::new(html::HtmlReport),
    ]
}

/// The sink of the [`FinalReport`]s: collects the results as cases finish
/// and, when the run does, builds the report once and writes each format
/// into `dir`.
pub struct FileSink {
    dir: PathBuf,
    formats: Vec<Box<dyn FinalReport + Send>>,
    results: Vec<CaseResult>,
}

impl FileSink {
    pub fn new(dir: PathBuf, formats: Vec<Box<dyn FinalReport + Send>>) -> Self {
        FileSink {
            dir,
            formats,
            results: Vec::new(),
        }
    }
}

impl Sink for FileSink {
    fn on(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::RunStarted(_) => Ok(()),
            Event::CaseFinished(result) => {
                self.results.push((*result).clone());
                Ok(())
            }
            Event::RunFinished(run, summary) => {
                let finished_at = chrono::Utc::now().to_rfc3339();
                let report =
                    model::RunReport::build(run, summary.elapsed, &finished_at, &self.results);
                for format in &self.formats {
                    let path = self.dir.join(format.file_name());
                    let text = format.render(&report)?;
                    std::fs::write(&path, text).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// A new run id: sortable by time, unique enough for a reports folder.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let tail = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{now}-{tail}")
}

/// Why a case did not conform, step by step: the request, the diff of
/// expected and actual (normalized), the contract findings, and the body.
/// Plain text, for logs and the libtest-mimic harness.
pub fn failure_text(result: &CaseResult) -> String {
    text::case_text(&model::CaseReport::build(result), text::Colour::Never)
}
