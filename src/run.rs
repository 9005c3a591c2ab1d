//! A whole run: select cases, run them on a target, feed the sinks.

use std::io;
use std::time::Instant;

use futures::stream::{self, StreamExt};

use crate::case::{Case, CaseFile};
use crate::dialect::DialectId;
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
    /// Whether a case file of `dialect` whose cases are grouped as `group`
    /// may hold a case this selection picks, judged from its `text`
    /// before it is parsed, so that a run of a few cases reads only their
    /// files. It errs towards yes: only a file none of whose cases can
    /// match a filter is passed over (tags are judged once parsed).
    pub fn may_pick(&self, dialect: DialectId, group: &str, text: &str) -> bool {
        if self.filters.is_empty() {
            return true;
        }
        let prefix = format!("{dialect}::{group}::");
        self.filters
            .iter()
            .any(|filter| may_contain(&prefix, text, filter))
    }

    /// What the filters are matched against: `dialect::file::case-id`.
    pub fn address(file: &CaseFile, case: &Case) -> String {
        format!("{}::{}::{}", file.dialect, file.group, case.id)
    }

    pub fn pick<'f>(&self, files: &'f [CaseFile]) -> Vec<(&'f CaseFile, &'f Case)> {
        files
            .iter()
            .flat_map(|f| f.cases.iter().map(move |c| (f, c)))
            .filter(|(f, c)| {
                let address = Selection::address(f, c);
                (self.filters.is_empty()
                    || self.filters.iter().any(|s| address.contains(s.as_str())))
                    && self.tags.iter().all(|t| c.tags.contains(t))
            })
            .collect()
    }
}

/// Whether an address `prefix` + id, for some case id written in `text`,
/// may contain `filter`. Case ids, and the ids of a parametrized case's
/// rows (`id[row]`), are written in the text as they are, so a filter that
/// reaches into an id shows there piece by piece; what the text could hide
/// (an escape sequence on an `id` line, quotes, a row known by its
/// number) counts as a possible match.
fn may_contain(prefix: &str, text: &str, filter: &str) -> bool {
    if filter.is_empty() || prefix.contains(filter) {
        return true;
    }
    // Only a double-quoted scalar has escape sequences.
    let escaped_ids = || {
        text.lines()
            .any(|line| line.contains("id") && line.contains('"') && line.contains('\\'))
    };
    // Where the filter starts before the id, the part before the id ends
    // the prefix; the rest lies in the id.
    (0..filter.len())
        .filter(|&k| filter.is_char_boundary(k) && prefix.ends_with(&filter[..k]))
        .any(|k| {
            filter[k..]
                .split(['[', ']'])
                .filter(|piece| !piece.is_empty())
                .all(|piece| {
                    piece.contains(['\'', '"'])
                        || piece
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b"+-._eE".contains(&b))
                        || text.contains(piece)
                })
        })
        || escaped_ids()
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

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "dialect: alibaba-ecs\ncases:\n  - id: ecs-assign-explicit-ip\n    rows:\n      - {id: held}\n";

    fn may(filter: &str) -> bool {
        Selection {
            filters: vec![filter.into()],
            tags: Vec::new(),
        }
        .may_pick(DialectId::AlibabaEcs, "assign", TEXT)
    }

    #[test]
    fn a_file_is_passed_over_only_when_no_case_can_match() {
        // The address `alibaba-ecs::assign::ecs-assign-explicit-ip[held]`.
        for filter in [
            "ecs-assign-explicit-ip",
            "explicit",
            "alibaba-ecs::assign::ecs-assign-explicit-ip[held]",
            "ecs::assign",
            "assign::ecs-assign",
            "::ecs-",
            "ip[held]",
            "[held]",
            "held]",
            "[2]",
            "ip[1",
        ] {
            assert!(may(filter), "{filter}");
        }
        for filter in [
            "ecs-unassign",
            "alibaba-ecs::unassign::ecs-assign-explicit-ip",
            "alibaba-ens::assign::ecs-assign-explicit-ip",
            "ip[other]",
            "other]",
        ] {
            assert!(!may(filter), "{filter}");
        }
        let escaped = Selection {
            filters: vec!["ecs-x".into()],
            tags: Vec::new(),
        };
        assert!(escaped.may_pick(
            DialectId::AlibabaEcs,
            "assign",
            "cases:\n  - id: \"ecs-\\x78\"\n"
        ));
    }
}
