//! The terminal sink: one line per case as it finishes, the failures in
//! full with their diff, and a summary.
//!
//! Colour is the caller's decision ([`Colour`]; `ipconform run` uses it
//! when stdout is a terminal and `NO_COLOR` is unset): with it, outcome
//! labels are coloured and the diff marks the words that changed; without
//! it, the same text is plain, for logs and pipes.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use super::model::CaseReport;
use super::text::{case_text, Colour};
use super::{Event, Sink};
use crate::runner::Outcome;

pub struct Terminal<W: Write> {
    out: W,
    verbose: bool,
    colour: Colour,
    /// Where the file reports of this run go, named in the last line.
    report_dir: String,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, verbose: bool, report_dir: String) -> Self {
        Terminal {
            out,
            verbose,
            colour: Colour::Never,
            report_dir,
        }
    }

    pub fn with_colour(mut self, colour: Colour) -> Self {
        self.colour = colour;
        self
    }

    fn style(&self, outcome: Outcome) -> Style {
        if self.colour == Colour::Never {
            return Style::new();
        }
        let colour = match outcome {
            Outcome::Conforms => AnsiColor::Green,
            Outcome::Fails | Outcome::UnexpectedConformance => AnsiColor::Red,
            Outcome::KnownDeviation => AnsiColor::Yellow,
            Outcome::Skipped => AnsiColor::BrightBlack,
        };
        let style = Style::new().fg_color(Some(colour.into()));
        if outcome.is_success() {
            style
        } else {
            style.effects(Effects::BOLD)
        }
    }
}

/// Whether a terminal wants colour: it is one, and `NO_COLOR` (see
/// no-color.org) is unset or empty.
pub fn colour_for_stdout() -> Colour {
    use std::io::IsTerminal;
    colour_when(io::stdout().is_terminal(), std::env::var_os("NO_COLOR"))
}

fn colour_when(terminal: bool, no_colour: Option<std::ffi::OsString>) -> Colour {
    let no_colour = no_colour.is_some_and(|v| !v.is_empty());
    if terminal && !no_colour {
        Colour::Always
    } else {
        Colour::Never
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
                let style = self.style(result.outcome);
                writeln!(
                    self.out,
                    "{style}{label:>21}{style:#}  {}  ({} ms)",
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
                    let text = case_text(&CaseReport::build(result), self.colour);
                    for line in text.lines() {
                        writeln!(self.out, "    {line}")?;
                    }
                    writeln!(self.out)?;
                }
                Ok(())
            }
            Event::RunFinished(_, summary) => {
                let counts = &summary.counts;
                writeln!(
                    self.out,
                    "\n{} conform, {} fail, {} known deviations, {} conform unexpectedly, {} skipped; {} cases in {:.2}s",
                    counts.conforms,
                    counts.fails,
                    counts.known_deviations,
                    counts.unexpected_conformance,
                    counts.skipped,
                    counts.total,
                    summary.elapsed.as_secs_f64()
                )?;
                writeln!(
                    self.out,
                    "reports: {}/ (report.html, report.md, report.json, junit.xml)",
                    self.report_dir
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::samples;

    fn shown(colour: Colour) -> String {
        let results = samples::every_outcome();
        let failing = results.iter().find(|r| r.id == "fails").unwrap();
        let mut terminal = Terminal::new(Vec::new(), false, "reports/x".into()).with_colour(colour);
        terminal.on(&Event::CaseFinished(failing)).unwrap();
        String::from_utf8(terminal.out).unwrap()
    }

    #[test]
    fn a_failing_case_shows_its_diff_plain_or_with_marked_words() {
        let plain = shown(Colour::Never);
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert!(plain.contains("-body.TotalCount: 1"), "{plain}");
        assert!(plain.contains("+body.TotalCount: 2"), "{plain}");
        assert!(plain.contains("t.yaml:7"), "{plain}");
        let coloured = shown(Colour::Always);
        // The changed word alone in bold reverse video, inside the line's
        // green.
        assert!(
            coloured.contains("\u{1b}[1m\u{1b}[7m\u{1b}[32m2\u{1b}[0m"),
            "{coloured:?}"
        );
        assert!(coloured.contains("body.TotalCount: "), "{coloured:?}");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert_eq!(colour_when(true, None), Colour::Always);
        assert_eq!(colour_when(true, Some("".into())), Colour::Always);
        assert_eq!(colour_when(true, Some("1".into())), Colour::Never);
        assert_eq!(colour_when(false, None), Colour::Never);
    }
}
