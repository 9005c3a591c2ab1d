//! A whole run: select cases, run them on a target, feed the sinks.

use std::io;
use std::time::Instant;

use futures::stream::{self, StreamExt};

use crate::case::{Case, CaseFile};
use crate::report::{Event, RunInfo, Sink, Summary};
use crate::runner::Runner;
use crate::target::Target;

/// Which cases a run takes.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// Substrings of `dialect::file::case-id`; any one selects a case.
    pub filters: Vec<String>,
    /// Tags; a case must carry every one.
    pub tags: Vec<String>,
}

impl Selection {
    pub fn pick<'f>(&self, files: &'f [CaseFile]) -> Vec<(&'f CaseFile, &'f Case)> {
        files
            .iter()
            .flat_map(|f| f.cases.iter().map(move |c| (f, c)))
            .filter(|(f, c)| {
                let address = format!("{}::{}::{}", f.dialect, f.group, c.id);
                (self.filters.is_empty()
                    || self.filters.iter().any(|s| address.contains(s.as_str())))
                    && self.tags.iter().all(|t| c.tags.contains(t))
            })
            .collect()
    }
}

/// Runs `cases` on `target`, `jobs` at a time where the target isolates
/// cases, and reports every event to every sink. A sink that fails to
/// write stops the run: a report that silently lacks cases is worse.
pub async fn run(
    runner: &Runner<'_>,
    target: &Target,
    cases: &[(&CaseFile, &Case)],
    jobs: usize,
    info: &RunInfo,
    sinks: &mut [Box<dyn Sink>],
) -> io::Result<Summary> {
    let started = Instant::now();
    for sink in sinks.iter_mut() {
        sink.on(&Event::RunStarted(info))?;
    }
    let jobs = target.parallelism(jobs);
    // After a Ctrl-C on a profile, no further case starts.
    let mut results = stream::iter(cases.iter())
        .take_while(|_| std::future::ready(!target.is_interrupted()))
        .map(|(file, case)| target.run_case(runner, file, case))
        .buffer_unordered(jobs);
    let mut summary = Summary::default();
    while let Some(result) = results.next().await {
        summary.add(result.outcome);
        for sink in sinks.iter_mut() {
            sink.on(&Event::CaseFinished(&result))?;
        }
    }
    summary.elapsed = started.elapsed();
    for sink in sinks.iter_mut() {
        sink.on(&Event::RunFinished(info, &summary))?;
    }
    Ok(summary)
}
