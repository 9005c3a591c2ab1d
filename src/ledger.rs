//! The ledger: what a run against a real-cloud profile did to the
//! fixtures, on disk before it is done.
//!
//! One JSON object per line. A run opens with `start`, records each
//! fixture interface's secondary addresses (`baseline`) before any case
//! may change it, writes every request that changes state (`intent`)
//! **before** the request is sent and its `result` after, records each
//! `swept` interface, and ends with `end`. Every line is flushed to disk
//! (`fsync`) as it is written, so a run killed at any point leaves a
//! ledger from which `ipconform sweep` puts the fixtures back. A ledger
//! holds no secret: interface ids, addresses, operation names, codes.
//!
//! A run writes two copies: `<report dir>/<run-id>/ledger.jsonl`, beside
//! its reports, and `.ipconform/ledger-<profile>.jsonl`, the stable place
//! where `sweep` and the next run find the last run of a profile.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::dialect::DialectId;

/// The folder, relative to the working directory, of the stable ledgers
/// and the locks that keep two runs of one profile apart, unless
/// `IPCONFORM_STATE_DIR` names another.
pub const STATE_DIR: &str = ".ipconform";

/// Where the stable ledgers and the locks are: `IPCONFORM_STATE_DIR`, else
/// [`STATE_DIR`].
pub fn state_dir() -> PathBuf {
    std::env::var_os("IPCONFORM_STATE_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(STATE_DIR), PathBuf::from)
}

/// The stable ledger of a profile.
pub fn stable_path(state_dir: &Path, profile: &str) -> PathBuf {
    state_dir.join(format!("ledger-{profile}.jsonl"))
}

/// The lock file of a profile.
pub fn lock_path(state_dir: &Path, profile: &str) -> PathBuf {
    state_dir.join(format!("{profile}.lock"))
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    Start {
        run_id: String,
        profile: String,
        profile_file: String,
        tool_version: String,
        at: String,
    },
    /// An interface's secondary addresses before the harness changed it.
    Baseline {
        dialect: DialectId,
        fixture: String,
        eni: String,
        /// The credential set that reads (and changes) it.
        credentials: String,
        ips: Vec<String>,
        at: String,
    },
    /// A request that changes state, about to be sent.
    Intent {
        seq: u64,
        /// The case (trial address), or `sweep`.
        case: String,
        dialect: DialectId,
        operation: String,
        /// The fixture interface it names, when it names one.
        eni: Option<String>,
        /// Explicit addresses it asks for or releases.
        ips: Vec<String>,
        /// A count of addresses it asks for.
        count: Option<String>,
        at: String,
    },
    /// The reply to the intent `seq` (`status` absent: no reply came).
    Result {
        seq: u64,
        status: Option<u16>,
        error_code: Option<String>,
        at: String,
    },
    /// What a sweep did to one interface.
    Swept {
        dialect: DialectId,
        fixture: String,
        eni: String,
        unassigned: Vec<String>,
        restored: Vec<String>,
        /// Recorded addresses released and assigned again to keep the
        /// recorded order.
        #[serde(default)]
        reordered: Vec<String>,
        problems: Vec<String>,
        /// It holds exactly its baseline addresses now.
        holds_baseline: bool,
        at: String,
    },
    /// The run (or a sweep) is over; `clean` when no address the harness
    /// added is left on any interface.
    End {
        clean: bool,
        note: Option<String>,
        at: String,
    },
}

/// An appending writer of one or more copies of a ledger.
pub struct Ledger {
    files: Mutex<Vec<(PathBuf, File)>>,
}

impl Ledger {
    /// Starts new ledgers at `paths` (replacing what was there).
    pub fn create(paths: &[PathBuf]) -> io::Result<Ledger> {
        Self::open(paths, true)
    }

    /// Appends to existing ledgers (a sweep after a run).
    pub fn append(paths: &[PathBuf]) -> io::Result<Ledger> {
        Self::open(paths, false)
    }

    fn open(paths: &[PathBuf], truncate: bool) -> io::Result<Ledger> {
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| with_path(e, parent))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(!truncate)
                .truncate(truncate)
                .open(path)
                .map_err(|e| with_path(e, path))?;
            files.push((path.clone(), file));
        }
        Ok(Ledger {
            files: Mutex::new(files),
        })
    }

    /// Writes one record to every copy and flushes it to disk before
    /// returning: the caller may act on it only after this.
    pub fn write(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        let mut files = self
            .files
            .lock()
            .map_err(|_| io::Error::other("the ledger's lock is poisoned"))?;
        for (path, file) in files.iter_mut() {
            file.write_all(line.as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(|e| with_path(e, path))?;
        }
        Ok(())
    }

    /// Where the copies are.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files
            .lock()
            .map(|f| f.iter().map(|(p, _)| p.clone()).collect())
            .unwrap_or_default()
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Reads a ledger. A last line cut short (the process died while writing
/// it) is left out; any other line that does not parse is an error.
pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read the ledger {}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(format!(
                    "{}:{}: not a ledger record: {e}",
                    path.display(),
                    i + 1
                ))
            }
        }
    }
    Ok(out)
}

/// A fixture interface as a ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub dialect: DialectId,
    pub fixture: String,
    pub eni: String,
    pub credentials: String,
    pub ips: Vec<String>,
}

/// What a ledger says, summed up.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub run_id: Option<String>,
    pub profile: Option<String>,
    /// By dialect and interface id, the first baseline recorded.
    pub baselines: BTreeMap<(DialectId, String), Baseline>,
    /// Interfaces some request that changes state named.
    pub touched: BTreeSet<(DialectId, String)>,
    /// Intents with no result: sent or not, nobody knows.
    pub unanswered: usize,
    /// The last record is `end` with `clean: true`.
    pub closed_clean: bool,
}

impl Summary {
    pub fn of(records: &[Record]) -> Summary {
        let mut s = Summary::default();
        let mut open_intents = BTreeSet::new();
        for r in records {
            match r {
                Record::Start {
                    run_id, profile, ..
                } => {
                    s.run_id = Some(run_id.clone());
                    s.profile = Some(profile.clone());
                }
                Record::Baseline {
                    dialect,
                    fixture,
                    eni,
                    credentials,
                    ips,
                    ..
                } => {
                    s.baselines
                        .entry((*dialect, eni.clone()))
                        .or_insert_with(|| Baseline {
                            dialect: *dialect,
                            fixture: fixture.clone(),
                            eni: eni.clone(),
                            credentials: credentials.clone(),
                            ips: ips.clone(),
                        });
                }
                Record::Intent {
                    seq, dialect, eni, ..
                } => {
                    open_intents.insert(*seq);
                    if let Some(eni) = eni {
                        s.touched.insert((*dialect, eni.clone()));
                    }
                }
                Record::Result { seq, .. } => {
                    open_intents.remove(seq);
                }
                Record::Swept { .. } | Record::End { .. } => {}
            }
        }
        s.unanswered = open_intents.len();
        s.closed_clean = matches!(records.last(), Some(Record::End { clean: true, .. }));
        s
    }
}

/// Now, as the ledger writes times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_last_line_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ledger.jsonl");
        let ledger = Ledger::create(std::slice::from_ref(&path)).unwrap();
        let baseline = Record::Baseline {
            dialect: DialectId::AlibabaEcs,
            fixture: "eni.available".into(),
            eni: "eni-1".into(),
            credentials: "default".into(),
            ips: vec!["10.0.0.5".into()],
            at: now(),
        };
        let intent = Record::Intent {
            seq: 1,
            case: "c".into(),
            dialect: DialectId::AlibabaEcs,
            operation: "AssignPrivateIpAddresses".into(),
            eni: Some("eni-1".into()),
            ips: vec![],
            count: Some("2".into()),
            at: now(),
        };
        ledger.write(&baseline).unwrap();
        ledger.write(&intent).unwrap();
        // A crash in the middle of the next line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"record\":\"resu")
            .unwrap();
        let records = read(&path).unwrap();
        assert_eq!(records, vec![baseline, intent]);
        let s = Summary::of(&records);
        assert_eq!(s.unanswered, 1);
        assert!(s.touched.contains(&(DialectId::AlibabaEcs, "eni-1".into())));
        assert!(!s.closed_clean);
        assert_eq!(s.baselines.len(), 1);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        std::fs::write(&path, "{\"record\":\"nope\"}\n{\"record\":\"end\",\"clean\":true,\"note\":null,\"at\":\"x\"}\n").unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.contains("l.jsonl:1"), "{e}");
    }

    #[test]
    fn only_a_clean_end_closes() {
        let end = |clean| Record::End {
            clean,
            note: None,
            at: now(),
        };
        assert!(Summary::of(&[end(true)]).closed_clean);
        assert!(!Summary::of(&[end(false)]).closed_clean);
        assert!(!Summary::of(&[]).closed_clean);
    }
}
