//! The terminal sink: one line per case as it finishes, the failures in
//! full, and a summary.

use std::io::{self, Write};

use super::{failure_text, Event, Sink};
use crate::runner::Outcome;

pub struct Terminal<W: Write> {
    out: W,
    verbose: bool,
    /// Where the file reports of this run go, named in the last line.
    report_dir: String,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, verbose: bool, report_dir: String) -> Self {
        Terminal {
            out,
            verbose,
            report_dir,
        }
    }
}

impl<W: Write> Sink for Terminal<W> {
    fn on(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::RunStarted(info) => writeln!(
                self.out,
                "running {} case{} on {} (run {})",
                info.cases,
                if info.cases == 1 { "" } else { "s" },
                info.targets.join(", "),
                info.run_id
            ),
            Event::CaseFinished(result) => {
                let label = match result.outcome {
                    Outcome::Conforms => "conforms",
                    Outcome::Fails => "FAILS",
                    Outcome::KnownDeviation => "deviates (known)",
                    Outcome::UnexpectedConformance => "CONFORMS UNEXPECTEDLY",
                    Outcome::Skipped => "skipped",
                };
                writeln!(
                    self.out,
                    "{label:>21}  {}  ({} ms)",
                    result.address,
                    result.elapsed.as_millis()
                )?;
                if result.outcome == Outcome::Skipped {
                    if let Some(why) = &result.skipped {
                        writeln!(self.out, "{:>21}  {why}", "")?;
                    }
                } else if !result.outcome.is_success()
                    || (self.verbose && result.outcome == Outcome::KnownDeviation)
                {
                    writeln!(self.out)?;
                    for line in failure_text(result).lines() {
                        writeln!(self.out, "    {line}")?;
                    }
                    writeln!(self.out)?;
                }
                Ok(())
            }
            Event::RunFinished(_, summary) => {
                writeln!(
                    self.out,
                    "\n{} conform, {} fail, {} known deviations, {} conform unexpectedly, {} skipped; {} cases in {:.2}s",
                    summary.conforms,
                    summary.fails,
                    summary.known_deviations,
                    summary.unexpected_conformance,
                    summary.skipped,
                    summary.total,
                    summary.elapsed.as_secs_f64()
                )?;
                writeln!(self.out, "reports: {}/", self.report_dir)
            }
        }
    }
}
