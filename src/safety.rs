//! Safety on a real cloud: a run against a profile changes only the
//! secondary addresses of the fixture interfaces, writes down what it does
//! before it does it, and puts the fixtures back.
//!
//! - The harness never creates or deletes interfaces or instances: a
//!   request that changes state is refused unless it is the dialect's
//!   assign or unassign (its portable binding's operations).
//! - Before a case may change an interface, the interface's secondary
//!   addresses are read (the binding's `list`) and recorded in the ledger
//!   ([`crate::ledger`]); every request that changes state is written to
//!   the ledger and flushed to disk before it is sent.
//! - After each case that changed anything, and at the end of the run, the
//!   interfaces it used are swept: what the harness added is unassigned,
//!   what it took from the recorded addresses is assigned back (where the
//!   dialect can name the addresses it assigns), and the result is read
//!   again. A case cut short by a failure, a panic or Ctrl-C is swept the
//!   same way; a run killed outright leaves its ledger, and `ipconform
//!   sweep` does the same from it.
//! - Cases of one dialect run one at a time on a profile (they share its
//!   fixtures); another run of the same profile waits for a lock.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use futures::FutureExt as _;

use crate::case::{Case, CaseFile, Expect, ParamValue, Requires, Step, Template};
use crate::dialect::{Decoded, DialectId};
use crate::fixtures::DialectFixtures;
use crate::ledger::{self, Baseline, Ledger, Record};
use crate::portable::binding::{ChangeOp, CAPTURE_PREFIX};
use crate::portable::Binding;
use crate::profile::Profile;
use crate::runner::{CallObserver, CaseResult, Endpoint, Outcome, Phase, Runner, StepRecord};
use crate::spec::{Kind, SpecSet};
use crate::target::infrastructure_failure;

/// Addresses per assign or unassign a sweep sends: within every dialect's
/// per-call limit (Tencent's is 10).
const ADDRESSES_PER_CALL: usize = 10;

/// A run's safety state on one profile.
pub struct Session {
    profile: Profile,
    fixtures: DialectFixtures,
    specs: &'static SpecSet,
    run_id: String,
    state_dir: PathBuf,
    /// `<report dir>/<run-id>`, where a copy of the ledger goes.
    run_dir: Option<PathBuf>,
    opened: tokio::sync::OnceCell<Result<Opened, String>>,
    baselines: Mutex<BTreeMap<(DialectId, String), Baseline>>,
    /// Interfaces some request of this run named.
    touched: Mutex<BTreeSet<(DialectId, String)>>,
    /// Interfaces changed since a sweep last found them at their baseline.
    dirty: Mutex<BTreeSet<(DialectId, String)>>,
    dialect_locks: BTreeMap<DialectId, tokio::sync::Mutex<()>>,
    interrupt: tokio::sync::watch::Sender<bool>,
    seq: AtomicU64,
    /// Interfaces a sweep after a case had to put back.
    repaired: AtomicUsize,
}

struct Opened {
    ledger: Ledger,
    /// Held for the session's life: another run of the profile waits.
    _lock: std::fs::File,
}

/// What the final sweep of a run found and did.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// The session was opened: a case ran, or baselines were recorded.
    pub opened: bool,
    pub swept: Vec<Swept>,
    /// Interfaces the sweeps after cases had to put back during the run.
    pub repaired_during_run: usize,
    /// Nothing the harness added is left on any interface.
    pub clean: bool,
    pub ledger: Vec<PathBuf>,
}

impl Session {
    pub fn new(
        profile: Profile,
        fixtures: DialectFixtures,
        specs: &'static SpecSet,
        run_id: String,
        state_dir: PathBuf,
        run_dir: Option<PathBuf>,
    ) -> Session {
        let dialect_locks = profile
            .dialects
            .keys()
            .map(|d| (*d, tokio::sync::Mutex::new(())))
            .collect();
        Session {
            profile,
            fixtures,
            specs,
            run_id,
            state_dir,
            run_dir,
            opened: tokio::sync::OnceCell::new(),
            baselines: Mutex::new(BTreeMap::new()),
            touched: Mutex::new(BTreeSet::new()),
            dirty: Mutex::new(BTreeSet::new()),
            dialect_locks,
            interrupt: tokio::sync::watch::channel(false).0,
            seq: AtomicU64::new(0),
            repaired: AtomicUsize::new(0),
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn fixtures(&self) -> &DialectFixtures {
        &self.fixtures
    }

    /// Stops the run: the case in progress is cut short (the sweep puts
    /// its interfaces back) and no other starts.
    pub fn interrupt(&self) {
        self.interrupt.send_replace(true);
    }

    pub fn is_interrupted(&self) -> bool {
        *self.interrupt.borrow()
    }

    /// Takes the profile's lock, checks that the last run of the profile
    /// left nothing behind, and starts the ledger. Once per session; later
    /// calls give the first one's answer.
    pub async fn open(&self) -> Result<(), String> {
        self.opened
            .get_or_init(|| self.open_once())
            .await
            .as_ref()
            .map(|_| ())
            .map_err(Clone::clone)
    }

    async fn open_once(&self) -> Result<Opened, String> {
        let name = &self.profile.name;
        std::fs::create_dir_all(&self.state_dir).map_err(|e| {
            format!(
                "failed to create the state folder {}: {e}",
                self.state_dir.display()
            )
        })?;
        let lock = lock(&ledger::lock_path(&self.state_dir, name), name).await?;
        let stable = ledger::stable_path(&self.state_dir, name);
        if stable.exists() {
            let records = ledger::read(&stable)?;
            let summary = ledger::Summary::of(&records);
            if !records.is_empty() && !summary.closed_clean {
                return Err(format!(
                    "the last run of profile `{name}` (run {}) did not finish putting its fixtures back; \
                     its ledger is {}. Run `ipconform sweep --target {}` first: it puts every fixture \
                     interface back to its recorded addresses and says what it did",
                    summary.run_id.as_deref().unwrap_or("?"),
                    stable.display(),
                    self.profile.file
                ));
            }
        }
        let mut paths = vec![stable];
        if let Some(dir) = &self.run_dir {
            paths.push(dir.join("ledger.jsonl"));
        }
        let ledger =
            Ledger::create(&paths).map_err(|e| format!("failed to start the ledger: {e}"))?;
        ledger
            .write(&Record::Start {
                run_id: self.run_id.clone(),
                profile: name.clone(),
                profile_file: self.profile.file.clone(),
                tool_version: env!("CARGO_PKG_VERSION").into(),
                at: ledger::now(),
            })
            .map_err(|e| format!("failed to write the ledger: {e}"))?;
        Ok(Opened {
            ledger,
            _lock: lock,
        })
    }

    /// Whether the session was opened (a case ran, or baselines were
    /// recorded): only then is there anything to finish.
    pub fn was_opened(&self) -> bool {
        self.opened.initialized()
    }

    fn ledger(&self) -> Option<&Ledger> {
        self.opened
            .get()
            .and_then(|o| o.as_ref().ok())
            .map(|o| &o.ledger)
    }

    /// The endpoint of `dialect` on this profile.
    pub fn endpoint<'a>(
        &'a self,
        dialect: DialectId,
        observer: Option<&'a dyn CallObserver>,
    ) -> Option<Endpoint<'a>> {
        self.profile.endpoint(&self.fixtures, dialect, observer)
    }

    /// Records the addresses of every fixture interface of `dialects` now,
    /// so that a profile whose fixtures are wrong fails before any case.
    pub async fn record_baselines(
        &self,
        runner: &Runner<'_>,
        dialects: &[DialectId],
    ) -> Result<usize, String> {
        self.open().await?;
        let mut n = 0;
        for &dialect in dialects {
            let enis: Vec<String> = self
                .profile
                .eni_fixtures(dialect)
                .into_iter()
                .map(|e| e.fixture)
                .collect();
            n += self.ensure_baselines(runner, dialect, &enis).await?;
        }
        Ok(n)
    }

    /// Records the fixture interfaces among `fixtures` not recorded yet;
    /// the number recorded.
    async fn ensure_baselines(
        &self,
        runner: &Runner<'_>,
        dialect: DialectId,
        fixtures: &[String],
    ) -> Result<usize, String> {
        let mut n = 0;
        for eni in self.profile.eni_fixtures(dialect) {
            if !fixtures.contains(&eni.fixture) {
                continue;
            }
            let key = (dialect, eni.id.clone());
            if lock_of(&self.baselines).contains_key(&key) {
                continue;
            }
            let mut baseline = Baseline {
                dialect,
                fixture: eni.fixture.clone(),
                eni: eni.id.clone(),
                credentials: eni.credentials.clone(),
                ips: Vec::new(),
            };
            baseline.ips = self.tools(runner).read(&baseline).await.map_err(|e| {
                format!(
                    "failed to record the addresses of {dialect} fixture {} ({}) before changing it: {e}",
                    eni.fixture, eni.id
                )
            })?;
            let ledger = self.ledger().ok_or("the ledger is not open")?;
            ledger
                .write(&Record::Baseline {
                    dialect,
                    fixture: baseline.fixture.clone(),
                    eni: baseline.eni.clone(),
                    credentials: baseline.credentials.clone(),
                    ips: baseline.ips.clone(),
                    at: ledger::now(),
                })
                .map_err(|e| format!("failed to write the ledger: {e}"))?;
            lock_of(&self.baselines).insert(key, baseline);
            n += 1;
        }
        Ok(n)
    }

    fn tools<'a>(&'a self, runner: &'a Runner<'a>) -> Tools<'a> {
        Tools {
            runner,
            profile: &self.profile,
            fixtures: &self.fixtures,
            specs: self.specs,
        }
    }

    /// Runs one case with the ledger watching, then sweeps what it used.
    pub async fn run_case(&self, runner: &Runner<'_>, file: &CaseFile, case: &Case) -> CaseResult {
        let name = self.profile.name.as_str();
        let Some(lock) = self.dialect_locks.get(&file.dialect) else {
            let reason = format!("profile `{name}` has no {} endpoint", file.dialect);
            return CaseResult::skipped(name, file, case, reason);
        };
        let _one_at_a_time = lock.lock().await;
        if self.is_interrupted() {
            let reason = "the run was interrupted before this case started".into();
            return CaseResult::skipped(name, file, case, reason);
        }
        if let Err(e) = self.open().await {
            return infrastructure_failure(name, file, case, e);
        }
        let enis: Vec<String> = case
            .fixtures_used()
            .into_iter()
            .filter(|f| crate::profile::is_eni_fixture(f))
            .map(str::to_string)
            .collect();
        if let Err(e) = self.ensure_baselines(runner, file.dialect, &enis).await {
            return infrastructure_failure(name, file, case, e);
        }
        if let Some(reason) = self.irreversible_release(file.dialect, case) {
            return CaseResult::skipped(name, file, case, reason);
        }
        let observer = Observer::of_session(self, case.address(name, file));
        let Some(endpoint) = self.endpoint(file.dialect, Some(&observer)) else {
            return infrastructure_failure(name, file, case, "no endpoint".into());
        };
        let started = std::time::Instant::now();
        let mut interrupted = self.interrupt.subscribe();
        let mut result = tokio::select! {
            r = AssertUnwindSafe(runner.run_case(file, case, &endpoint)).catch_unwind() => match r {
                Ok(r) => r,
                Err(panic) => infrastructure_failure(name, file, case, format!("the case panicked: {}", panic_text(&panic))),
            },
            _ = interrupted.wait_for(|stop| *stop) => {
                let mut r = infrastructure_failure(name, file, case, "interrupted (Ctrl-C) in the middle of the case; the run sweeps the fixtures before it exits".into());
                r.elapsed = started.elapsed();
                return r;
            }
        };
        if observer.sent.load(Ordering::Relaxed) > 0 {
            let keys: Vec<(DialectId, String)> = self
                .profile
                .eni_fixtures(file.dialect)
                .into_iter()
                .filter(|e| enis.contains(&e.fixture))
                .map(|e| (file.dialect, e.id))
                .collect();
            let swept = self.sweep(runner, &keys).await;
            let mut problems = Vec::new();
            for s in &swept {
                if s.changed() {
                    self.repaired.fetch_add(1, Ordering::Relaxed);
                }
                problems.extend(
                    s.problems
                        .iter()
                        .map(|p| format!("{} ({}): {p}", s.baseline.fixture, s.baseline.eni)),
                );
            }
            if !problems.is_empty() {
                let mut step = StepRecord::new(
                    Phase::Cleanup,
                    case.cleanup.len() + 1,
                    "ipconform sweep",
                    format!("{}:{}", file.display, case.line),
                );
                step.problems = problems;
                result.steps.push(step);
                if result.outcome.is_success() {
                    result.outcome = Outcome::Fails;
                }
            }
        }
        result
    }

    /// Why `case` must not run here, when it releases a recorded address
    /// of a fixture interface that the sweep could not put back as it was:
    /// the dialect cannot assign a named address (ENS picks the address of
    /// every assign itself), or the address carries an EIP (a fixture
    /// `<name>.eip` beside the address's own), which assigning it back does
    /// not bring back. The fixture would be lost for every later run. Only
    /// steps that expect to succeed count (a refusal releases nothing from
    /// a cloud that keeps its contract), and only addresses written as
    /// fixtures (one the case captured is one it assigned).
    fn irreversible_release(&self, dialect: DialectId, case: &Case) -> Option<String> {
        let binding = self.specs.binding(dialect)?;
        let values = &crate::fixtures::of(&self.fixtures, dialect).values;
        let with_eip: BTreeSet<&str> = values
            .keys()
            .filter_map(|k| k.strip_suffix(".eip"))
            .filter_map(|ip| values.get(ip).map(String::as_str))
            .collect();
        if binding.assign.ips.is_some() && with_eip.is_empty() {
            return None;
        }
        let render = |t: &Template| t.render_owned(|v| values.get(v).map(String::as_str)).ok();
        let baselines = lock_of(&self.baselines);
        let eni_name = eni_param(&binding.unassign);
        for step in case.steps.iter().chain(&case.cleanup) {
            if step.call != binding.unassign.call || !matches!(step.expect, Expect::Success { .. })
            {
                continue;
            }
            let Some(eni) = step
                .params
                .iter()
                .find(|(n, _)| Some(n.as_str()) == eni_name)
                .and_then(|(_, v)| v.templates().first().and_then(render))
            else {
                continue;
            };
            let Some(baseline) = baselines.get(&(dialect, eni)) else {
                continue;
            };
            for (_, value) in &step.params {
                for ip in value.templates().iter().filter_map(render) {
                    if !baseline.ips.contains(&ip) {
                        continue;
                    }
                    let why = if binding.assign.ips.is_none() {
                        format!("which {dialect} cannot assign back (its assign picks the address itself)")
                    } else if with_eip.contains(ip.as_str()) {
                        "whose EIP assigning it back would not bring back".to_string()
                    } else {
                        continue;
                    };
                    return Some(format!(
                        "it releases {ip}, a recorded address of {} ({}), {why}: on a real cloud \
                         the fixture would be lost for every later run",
                        baseline.fixture, baseline.eni
                    ));
                }
            }
        }
        None
    }

    /// Sweeps the interfaces `keys` that have a baseline, records what it
    /// did, and marks those found at their baseline clean.
    async fn sweep(&self, runner: &Runner<'_>, keys: &[(DialectId, String)]) -> Vec<Swept> {
        let baselines: Vec<Baseline> = {
            let map = lock_of(&self.baselines);
            keys.iter().filter_map(|k| map.get(k).cloned()).collect()
        };
        let touched = lock_of(&self.touched).clone();
        let observer = Observer::of_session(self, "sweep".into());
        let swept = self
            .tools(runner)
            .sweep(&baselines, &touched, Some(&observer), false)
            .await;
        let mut dirty = lock_of(&self.dirty);
        for s in &swept {
            if let Some(ledger) = self.ledger() {
                let _ = ledger.write(&s.record());
            }
            if s.holds_baseline {
                dirty.remove(&(s.baseline.dialect, s.baseline.eni.clone()));
            }
        }
        swept
    }

    /// The end of a run: sweeps every interface not known to be at its
    /// baseline, and closes the ledger.
    pub async fn finish(&self, runner: &Runner<'_>) -> Result<Finish, String> {
        let Some(ledger) = self.ledger() else {
            // Never opened: no case ran, nothing was changed.
            return Ok(Finish {
                clean: true,
                ..Finish::default()
            });
        };
        let keys: Vec<(DialectId, String)> = lock_of(&self.dirty).iter().cloned().collect();
        let swept = self.sweep(runner, &keys).await;
        let clean = swept.iter().all(Swept::nothing_of_ours_left);
        let note = (self.is_interrupted()).then(|| "interrupted (Ctrl-C)".to_string());
        ledger
            .write(&Record::End {
                clean,
                note,
                at: ledger::now(),
            })
            .map_err(|e| format!("failed to write the ledger: {e}"))?;
        Ok(Finish {
            opened: true,
            swept,
            repaired_during_run: self.repaired.load(Ordering::Relaxed),
            clean,
            ledger: ledger.paths(),
        })
    }
}

/// Waits for a request to stop: Ctrl-C (SIGINT), or on Unix SIGTERM, which
/// CI runners and cargo-nextest send to a job or test they cancel or time
/// out. `false` when no signal can be waited for.
pub async fn stop_requested() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            return tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                r = terminate.recv() => r.is_some(),
            };
        }
    }
    tokio::signal::ctrl_c().await.is_ok()
}

/// Takes the lock file of a profile, waiting for another run to let go.
pub async fn lock(path: &Path, profile: &str) -> Result<std::fs::File, String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("failed to open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "waiting for another run of profile `{profile}` to finish (lock {})",
                path.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("failed to lock {}: {e}", path.display()))
        }
    }
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| format!("failed to wait for the lock: {e}"))?
        .map_err(|e| format!("failed to lock {}: {e}", path.display()))
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Watches one case's requests that change state: refuses what is not an
/// assign or unassign of secondary addresses, and writes each to the
/// ledger before it goes.
struct Observer<'s> {
    specs: &'s SpecSet,
    profile: &'s Profile,
    ledger: Option<&'s Ledger>,
    seq: &'s AtomicU64,
    /// The run's session, which refuses changes to interfaces it has not
    /// recorded and tracks which were changed; absent for `ipconform sweep`.
    session: Option<&'s Session>,
    case: String,
    /// The sequence number of the intent awaiting its reply.
    last: Mutex<Option<u64>>,
    sent: AtomicUsize,
}

impl<'s> Observer<'s> {
    fn of_session(session: &'s Session, case: String) -> Observer<'s> {
        Observer {
            specs: session.specs,
            profile: &session.profile,
            ledger: session.ledger(),
            seq: &session.seq,
            session: Some(session),
            case,
            last: Mutex::new(None),
            sent: AtomicUsize::new(0),
        }
    }
}

fn lock_of<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CallObserver for Observer<'_> {
    fn before_send(
        &self,
        dialect: DialectId,
        operation: &str,
        params: &[(String, String)],
    ) -> Result<(), String> {
        let binding = self.specs.binding(dialect).ok_or_else(|| {
            format!("{dialect} has no portable binding, so the harness cannot tell its assign and unassign apart from other changes")
        })?;
        let op = [&binding.assign, &binding.unassign]
            .into_iter()
            .find(|op| op.call == operation)
            .ok_or_else(|| {
                format!(
                    "on a real-cloud target the harness only assigns and unassigns secondary addresses \
                     ({} and {}); `{operation}` changes something else",
                    binding.assign.call, binding.unassign.call
                )
            })?;
        let fixture_enis = self.profile.eni_fixtures(dialect);
        let eni = eni_param(op)
            .and_then(|name| params.iter().find(|(n, _)| *n == name))
            .map(|(_, v)| v.clone())
            .or_else(|| {
                params
                    .iter()
                    .find(|(_, v)| fixture_enis.iter().any(|e| e.id == *v))
                    .map(|(_, v)| v.clone())
            });
        if let (Some(eni), Some(session)) = (&eni, self.session) {
            if let Some(fixture) = fixture_enis.iter().find(|e| e.id == *eni) {
                if !lock_of(&session.baselines).contains_key(&(dialect, eni.clone())) {
                    return Err(format!(
                        "{} ({eni}) has no recorded addresses, so the harness could not put it back; \
                         a case changes only the fixture interfaces it names",
                        fixture.fixture
                    ));
                }
            }
        }
        let ips: Vec<String> = op
            .ips
            .as_deref()
            .map(|pattern| {
                params
                    .iter()
                    .filter(|(n, _)| list_element_of(pattern, n))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default();
        let count = op
            .count
            .as_deref()
            .and_then(|name| params.iter().find(|(n, _)| n == name))
            .map(|(_, v)| v.clone());
        let ledger = self.ledger.ok_or("the ledger is not open")?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        ledger
            .write(&Record::Intent {
                seq,
                case: self.case.clone(),
                dialect,
                operation: operation.to_string(),
                eni: eni.clone(),
                ips,
                count,
                at: ledger::now(),
            })
            .map_err(|e| format!("failed to write the ledger, so the request was not sent: {e}"))?;
        if let (Some(eni), Some(session)) = (eni, self.session) {
            lock_of(&session.touched).insert((dialect, eni.clone()));
            lock_of(&session.dirty).insert((dialect, eni));
        }
        *lock_of(&self.last) = Some(seq);
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn after_reply(
        &self,
        _dialect: DialectId,
        _operation: &str,
        _params: &[(String, String)],
        decoded: Option<&Decoded>,
    ) {
        let Some(seq) = lock_of(&self.last).take() else {
            return;
        };
        if let Some(ledger) = self.ledger {
            let record = Record::Result {
                seq,
                status: decoded.map(|d| d.status),
                error_code: decoded.and_then(|d| d.error.as_ref().map(|e| e.code.clone())),
                at: ledger::now(),
            };
            if let Err(e) = ledger.write(&record) {
                eprintln!("warning: failed to write a reply to the ledger: {e}");
            }
        }
    }
}

/// The parameter of a change that names the interface (`{{eni}}` in the
/// binding's `with`).
fn eni_param(op: &ChangeOp) -> Option<&str> {
    op.with
        .iter()
        .find(|(_, t)| t.sole_variable() == Some(crate::portable::binding::ENI_VARIABLE))
        .map(|(n, _)| n.as_str())
}

/// Whether `name` is an element of the repeat list `pattern`
/// (`PrivateIpAddress.3` of `PrivateIpAddress.N`,
/// `privateIpAddressSet.0.privateIpAddress` of
/// `privateIpAddressSet.n.privateIpAddress`).
pub fn list_element_of(pattern: &str, name: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let n: Vec<&str> = name.split('.').collect();
    p.len() == n.len()
        && p.iter().zip(&n).enumerate().all(|(i, (p, n))| {
            if i > 0 && (*p == "N" || *p == "n") {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
            } else {
                p == n
            }
        })
}

/// What a sweep found and did to one interface.
#[derive(Debug, Clone)]
pub struct Swept {
    pub baseline: Baseline,
    /// Its secondaries when the sweep began, when they could be read.
    pub before: Option<Vec<String>>,
    /// Addresses the harness added that the sweep released (or, in a dry
    /// run, would release).
    pub unassigned: Vec<String>,
    /// Recorded addresses it assigned back (or would).
    pub restored: Vec<String>,
    /// Recorded addresses still there that it released and assigned again
    /// after one that came back, to keep the recorded order (or would).
    pub reordered: Vec<String>,
    pub problems: Vec<String>,
    /// Its secondaries are exactly its baseline now.
    pub holds_baseline: bool,
    /// Addresses the harness added that are still there.
    pub left: Vec<String>,
}

impl Swept {
    /// The sweep released, assigned back or reordered an address of the
    /// interface (in a dry run: would).
    pub fn changed(&self) -> bool {
        !self.unassigned.is_empty() || !self.restored.is_empty() || !self.reordered.is_empty()
    }

    /// No address the harness added is left (a recorded one it could not
    /// put back may be missing).
    pub fn nothing_of_ours_left(&self) -> bool {
        self.before.is_some() && self.left.is_empty()
    }

    fn record(&self) -> Record {
        Record::Swept {
            dialect: self.baseline.dialect,
            fixture: self.baseline.fixture.clone(),
            eni: self.baseline.eni.clone(),
            unassigned: self.unassigned.clone(),
            restored: self.restored.clone(),
            reordered: self.reordered.clone(),
            problems: self.problems.clone(),
            holds_baseline: self.holds_baseline,
            at: ledger::now(),
        }
    }

    /// One line for people: `alibaba-ecs eni.available (eni-...): ...`.
    pub fn describe(&self, dry_run: bool) -> String {
        let b = &self.baseline;
        let mut parts = Vec::new();
        let (release, put_back) = if dry_run {
            ("would unassign", "would assign back")
        } else {
            ("unassigned", "assigned back")
        };
        if !self.unassigned.is_empty() {
            parts.push(format!("{release} {}", self.unassigned.join(", ")));
        }
        if !self.restored.is_empty() {
            parts.push(format!("{put_back} {}", self.restored.join(", ")));
        }
        if !self.reordered.is_empty() {
            parts.push(format!(
                "{} {} after it, to keep the recorded order",
                if dry_run {
                    "would release and assign again"
                } else {
                    "released and assigned again"
                },
                self.reordered.join(", ")
            ));
        }
        let recorded = if b.ips.is_empty() {
            "none".to_string()
        } else {
            b.ips.join(", ")
        };
        if self.holds_baseline {
            if parts.is_empty() {
                parts.push(format!(
                    "holds its recorded secondaries ({recorded}); nothing to do"
                ));
            } else if !dry_run {
                parts.push(format!(
                    "now holds exactly its recorded secondaries ({recorded})"
                ));
            }
        }
        for p in &self.problems {
            parts.push(format!("PROBLEM: {p}"));
        }
        format!(
            "{} {} ({}): {}",
            b.dialect,
            b.fixture,
            b.eni,
            parts.join("; ")
        )
    }
}

/// The calls a sweep makes, through the runner, as small cases made of the
/// dialect's portable binding: a read, an assign or unassign followed by
/// the binding's settle steps.
pub struct Tools<'a> {
    pub runner: &'a Runner<'a>,
    pub profile: &'a Profile,
    pub fixtures: &'a DialectFixtures,
    pub specs: &'a SpecSet,
}

impl Tools<'_> {
    fn binding(&self, dialect: DialectId) -> Result<&Binding, String> {
        self.specs.binding(dialect).ok_or_else(|| {
            format!("{dialect} has no portable binding to read and change interfaces with")
        })
    }

    fn endpoint<'e>(
        &'e self,
        dialect: DialectId,
        observer: Option<&'e dyn CallObserver>,
    ) -> Result<Endpoint<'e>, String> {
        self.profile
            .endpoint(self.fixtures, dialect, observer)
            .ok_or_else(|| format!("profile `{}` has no {dialect} endpoint", self.profile.name))
    }

    /// An interface's secondary addresses, read now.
    pub async fn read(&self, eni: &Baseline) -> Result<Vec<String>, String> {
        let binding = self.binding(eni.dialect)?;
        let list = &binding.list;
        let params = binding.bind(&list.with, &eni.eni)?;
        let step = step(&list.call, &eni.credentials, params, Vec::new());
        let (file, case) = synthetic(eni.dialect, "read", vec![step]);
        let endpoint = self.endpoint(eni.dialect, None)?;
        let result = self.runner.run_case(&file, &case, &endpoint).await;
        if let Some(why) = trouble(&result) {
            return Err(why);
        }
        let body = result
            .steps
            .first()
            .and_then(|s| s.body.clone())
            .unwrap_or_default();
        let primary = texts(list.primary.select(&body));
        if primary.is_empty() {
            return Err(format!(
                "{} lists no interface {} for the `{}` credentials",
                list.call, eni.eni, eni.credentials
            ));
        }
        Ok(texts(list.secondaries.select(&body)))
    }

    /// Assigns (`assign`) or unassigns `ips` on an interface, then waits as
    /// the binding's settle steps say; a change refused as busy (a task of
    /// the interface still running) is tried again a few times.
    async fn change(
        &self,
        eni: &Baseline,
        assign: bool,
        ips: &[String],
        observer: Option<&dyn CallObserver>,
    ) -> Result<(), String> {
        let binding = self.binding(eni.dialect)?;
        let op = if assign {
            &binding.assign
        } else {
            &binding.unassign
        };
        let Some(list) = &op.ips else {
            return Err(format!(
                "{} cannot name the addresses it assigns (its assign picks them itself)",
                eni.dialect
            ));
        };
        for chunk in ips.chunks(ADDRESSES_PER_CALL) {
            let mut params = binding.bind(&op.with, &eni.eni)?;
            let items = chunk
                .iter()
                .map(|ip| Template::parse(ip))
                .collect::<Result<Vec<_>, _>>()?;
            params.push((list.clone(), ParamValue::List(items)));
            let capture = op
                .capture
                .iter()
                .map(|(n, p)| (format!("{CAPTURE_PREFIX}{n}"), p.clone()))
                .collect();
            let mut steps = vec![step(&op.call, &eni.credentials, params, capture)];
            for settle in &binding.settle {
                let mut s = step(
                    &settle.call,
                    &eni.credentials,
                    binding.bind(&settle.with, &eni.eni)?,
                    Vec::new(),
                );
                s.wait = settle.wait.clone();
                steps.push(s);
            }
            let (file, case) = synthetic(eni.dialect, "change", steps);
            let endpoint = self.endpoint(eni.dialect, observer)?;
            let mut pause = std::time::Duration::from_secs(1);
            let mut attempt = 1;
            loop {
                let result = self.runner.run_case(&file, &case, &endpoint).await;
                match trouble(&result) {
                    None => break,
                    Some(_) if attempt < 5 && self.refused_as_busy(eni.dialect, &result) => {
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                        attempt += 1;
                    }
                    Some(why) => return Err(why),
                }
            }
        }
        Ok(())
    }

    fn refused_as_busy(&self, dialect: DialectId, result: &CaseResult) -> bool {
        result.steps.first().is_some_and(|s| {
            s.error_code
                .as_deref()
                .is_some_and(|code| self.specs.kind_of(dialect, &s.call, code) == Some(Kind::Busy))
        })
    }

    /// Puts each interface back to its baseline: first releases what the
    /// harness added (only on interfaces some request of the harness
    /// named), then assigns back what it took, then reads each again. A
    /// dry run only reads, and says what it would do.
    pub async fn sweep(
        &self,
        enis: &[Baseline],
        touched: &BTreeSet<(DialectId, String)>,
        observer: Option<&dyn CallObserver>,
        dry_run: bool,
    ) -> Vec<Swept> {
        let mut out = Vec::with_capacity(enis.len());
        for eni in enis {
            let before = self.read(eni).await;
            let mut s = Swept {
                baseline: eni.clone(),
                before: before.as_ref().ok().cloned(),
                unassigned: Vec::new(),
                restored: Vec::new(),
                reordered: Vec::new(),
                problems: Vec::new(),
                holds_baseline: false,
                left: Vec::new(),
            };
            match before {
                Err(e) => s.problems.push(format!("failed to read it: {e}")),
                Ok(now) => {
                    let extra: Vec<String> = now
                        .iter()
                        .filter(|ip| !eni.ips.contains(ip))
                        .cloned()
                        .collect();
                    if extra.is_empty() {
                    } else if !touched.contains(&(eni.dialect, eni.eni.clone())) {
                        s.problems.push(format!(
                            "it holds {} beyond its recorded addresses, but no request of the harness named it: left alone",
                            extra.join(", ")
                        ));
                    } else if dry_run {
                        s.unassigned = extra;
                    } else {
                        match self.change(eni, false, &extra, observer).await {
                            Ok(()) => s.unassigned = extra,
                            Err(e) => {
                                s.problems
                                    .push(format!("failed to unassign {}: {e}", extra.join(", ")));
                                s.left = extra;
                            }
                        }
                    }
                }
            }
            out.push(s);
        }
        // Only once every addition is released: an address the harness
        // moved from one interface to another is free to go back. Reads
        // list secondaries in the order they were assigned, and cases rely
        // on it, so a recorded address that comes back goes back in its
        // place: those recorded after it are released and assigned again
        // after it, one at a time.
        for s in out.iter_mut() {
            let Some(now) = &s.before else { continue };
            let eni = &s.baseline;
            let kept: Vec<String> = now
                .iter()
                .filter(|ip| eni.ips.contains(ip))
                .cloned()
                .collect();
            if kept.len() == eni.ips.len() {
                continue;
            }
            let in_place = eni
                .ips
                .iter()
                .zip(&kept)
                .take_while(|(a, b)| a == b)
                .count();
            let out_of_place = kept[in_place..].to_vec();
            let back = eni.ips[in_place..].to_vec();
            if dry_run {
                s.reordered = out_of_place;
                s.restored = back
                    .into_iter()
                    .filter(|ip| !s.reordered.contains(ip))
                    .collect();
                continue;
            }
            if !out_of_place.is_empty() {
                if let Err(e) = self.change(eni, false, &out_of_place, observer).await {
                    s.problems.push(format!(
                        "failed to release {} to assign them again in their recorded order: {e}",
                        out_of_place.join(", ")
                    ));
                    continue;
                }
            }
            for ip in &back {
                match self
                    .change(eni, true, std::slice::from_ref(ip), observer)
                    .await
                {
                    Ok(()) if out_of_place.contains(ip) => s.reordered.push(ip.clone()),
                    Ok(()) => s.restored.push(ip.clone()),
                    Err(e) => {
                        s.problems
                            .push(format!("failed to assign back its recorded {ip}: {e}"));
                        break;
                    }
                }
            }
        }
        for s in out.iter_mut() {
            if s.before.is_none() {
                continue;
            }
            if dry_run {
                s.holds_baseline =
                    s.unassigned.is_empty() && s.restored.is_empty() && s.problems.is_empty();
                s.left = s.unassigned.clone();
                continue;
            }
            if !s.changed() && s.problems.is_empty() {
                s.holds_baseline = true;
                continue;
            }
            match self.read(&s.baseline).await {
                Ok(after) => {
                    s.holds_baseline = same_set(&after, &s.baseline.ips);
                    s.left = after
                        .iter()
                        .filter(|ip| !s.baseline.ips.contains(ip))
                        .cloned()
                        .collect();
                    if !s.left.is_empty() && s.problems.is_empty() {
                        s.problems
                            .push(format!("{} still there after the sweep", s.left.join(", ")));
                    }
                }
                Err(e) => {
                    s.problems
                        .push(format!("failed to read it after the sweep: {e}"));
                    s.before = None;
                }
            }
        }
        out
    }
}

/// What `ipconform sweep` found in a ledger and did.
pub struct LedgerSweep {
    pub ledger: PathBuf,
    pub run_id: Option<String>,
    /// Requests written to the ledger whose reply never was.
    pub unanswered: usize,
    pub swept: Vec<Swept>,
}

impl LedgerSweep {
    /// Every interface holds exactly its recorded addresses.
    pub fn restored(&self) -> bool {
        self.swept.iter().all(|s| s.holds_baseline)
    }
}

/// `ipconform sweep`: reads the ledger of the last run of `profile` (or
/// `ledger`), waits for any run of the profile still going, and puts every
/// interface it recorded back to its recorded addresses; a dry run reads
/// the interfaces and says what it would do. Appends what it did to the
/// ledger and closes it when nothing of the harness's is left.
pub async fn sweep_from_ledger(
    tools: &Tools<'_>,
    state_dir: &Path,
    ledger_path: &Path,
    dry_run: bool,
) -> Result<LedgerSweep, String> {
    let profile = tools.profile;
    let records = ledger::read(ledger_path)?;
    let summary = ledger::Summary::of(&records);
    if let Some(other) = summary.profile.as_deref().filter(|p| *p != profile.name) {
        return Err(format!(
            "{} is the ledger of profile `{other}`, not of `{}`",
            ledger_path.display(),
            profile.name
        ));
    }
    std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("failed to create {}: {e}", state_dir.display()))?;
    let _lock = lock(&ledger::lock_path(state_dir, &profile.name), &profile.name).await?;
    let writer = if dry_run {
        None
    } else {
        Some(
            Ledger::append(&[ledger_path.to_path_buf()])
                .map_err(|e| format!("failed to open the ledger: {e}"))?,
        )
    };
    let baselines: Vec<Baseline> = summary
        .baselines
        .values()
        .filter(|b| profile.dialects.contains_key(&b.dialect))
        .cloned()
        .collect();
    let seq = AtomicU64::new(
        records
            .iter()
            .filter_map(|r| match r {
                Record::Intent { seq, .. } => Some(*seq),
                _ => None,
            })
            .max()
            .unwrap_or(0),
    );
    let observer = Observer {
        specs: tools.specs,
        profile,
        ledger: writer.as_ref(),
        seq: &seq,
        session: None,
        case: "sweep".into(),
        last: Mutex::new(None),
        sent: AtomicUsize::new(0),
    };
    let swept = tools
        .sweep(&baselines, &summary.touched, Some(&observer), dry_run)
        .await;
    if let Some(writer) = &writer {
        let write = |r: &Record| {
            writer
                .write(r)
                .map_err(|e| format!("failed to write the ledger: {e}"))
        };
        for s in &swept {
            write(&s.record())?;
        }
        write(&Record::End {
            clean: swept.iter().all(Swept::nothing_of_ours_left),
            note: Some("ipconform sweep".into()),
            at: ledger::now(),
        })?;
    }
    Ok(LedgerSweep {
        ledger: ledger_path.to_path_buf(),
        run_id: summary.run_id,
        unanswered: summary.unanswered,
        swept,
    })
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    a == b
}

/// The text items of a selected list (or of one value).
fn texts(v: Option<serde_json::Value>) -> Vec<String> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(other) => text(&other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Why a tool case did not work, if it did not.
fn trouble(result: &CaseResult) -> Option<String> {
    if result.outcome == Outcome::Skipped {
        return Some(
            result
                .skipped
                .clone()
                .unwrap_or_else(|| "it could not run".into()),
        );
    }
    let step = result.steps.iter().find(|s| s.failed())?;
    Some(match (&step.error_code, step.status) {
        (Some(code), Some(status)) => format!("`{}` answered {status} {code}", step.call),
        _ if !step.problems.is_empty() => format!("`{}`: {}", step.call, step.problems.join("; ")),
        (_, Some(status)) => format!("`{}` answered {status}", step.call),
        _ => format!("`{}` failed", step.call),
    })
}

fn step(
    call: &str,
    credentials: &str,
    params: Vec<(String, ParamValue)>,
    capture: Vec<(String, crate::case::BodyPath)>,
) -> Step {
    Step {
        call: call.to_string(),
        credentials: credentials.to_string(),
        signing: None,
        method: None,
        headers: Vec::new(),
        params,
        expect: Expect::Success {
            status: None,
            body: Vec::new(),
        },
        wait: None,
        // The sweep's own calls are sent once, like any change without
        // an idempotency token.
        retry: None,
        capture,
        line: 0,
        col: 0,
        end_line: 0,
    }
}

fn synthetic(dialect: DialectId, id: &str, steps: Vec<Step>) -> (CaseFile, Case) {
    let file = CaseFile {
        path: PathBuf::from("ipconform-sweep"),
        display: "ipconform sweep".into(),
        group: "sweep".into(),
        dialect,
        source: None,
        tags: Vec::new(),
        cases: Vec::new(),
        text: String::new(),
    };
    let case = Case {
        id: id.into(),
        title: format!("sweep: {id}"),
        source: None,
        tags: Vec::new(),
        deviations: BTreeMap::new(),
        requires: Requires::default(),
        faults: Vec::new(),
        steps,
        cleanup: Vec::new(),
        line: 0,
        end_line: 0,
    };
    (file, case)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "\
name: unit
dialects:
  alibaba-ecs:
    endpoint: http://127.0.0.1:9
    fixtures:
      region: cn-hangzhou
      eni.available: eni-a
      eni.with_secondaries: eni-w
      vswitch.taken_ip: 10.0.0.20
  tencent-vpc-v2:
    endpoint: http://127.0.0.1:9
    fixtures:
      region: ap-guangzhou
      vpc: vpc-1
      eni.with_secondaries: eni-t
      subnet.taken_ip: 10.1.0.20
      subnet.taken_ip.eip: 203.0.113.20
      subnet.taken_ip_2: 10.1.0.21
  alibaba-ens:
    endpoint: http://127.0.0.1:9
    fixtures:
      eni.with_secondaries: eni-s
      vswitch.taken_ip: 10.2.0.20
";

    fn session(state: &Path) -> Session {
        let profile = Profile::parse("unit.yaml", PROFILE).unwrap();
        let fixtures = profile
            .resolve(&|name| Some(format!("value-of-{name}")))
            .unwrap();
        Session::new(
            profile,
            fixtures,
            SpecSet::embedded(),
            "run-1".into(),
            state.to_path_buf(),
            None,
        )
    }

    fn record(s: &Session, dialect: DialectId, fixture: &str, eni: &str, ips: &[&str]) {
        lock_of(&s.baselines).insert(
            (dialect, eni.to_string()),
            Baseline {
                dialect,
                fixture: fixture.into(),
                eni: eni.into(),
                credentials: "default".into(),
                ips: ips.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn only_assigns_and_unassigns_of_recorded_interfaces_go_out_each_written_down_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(dir.path());
        s.open().await.unwrap();
        let observer = Observer::of_session(&s, "case-1".into());
        let ecs = DialectId::AlibabaEcs;
        let e = observer
            .before_send(
                ecs,
                "DeleteNetworkInterface",
                &params(&[("NetworkInterfaceId", "eni-a")]),
            )
            .unwrap_err();
        assert!(e.contains("only assigns and unassigns"), "{e}");
        let assign = params(&[
            ("RegionId", "cn-hangzhou"),
            ("NetworkInterfaceId", "eni-a"),
            ("PrivateIpAddress.1", "10.0.0.100"),
            ("PrivateIpAddress.2", "10.0.0.101"),
        ]);
        let e = observer
            .before_send(ecs, "AssignPrivateIpAddresses", &assign)
            .unwrap_err();
        assert!(
            e.contains("eni.available (eni-a) has no recorded addresses"),
            "{e}"
        );
        record(&s, ecs, "eni.available", "eni-a", &[]);
        observer
            .before_send(ecs, "AssignPrivateIpAddresses", &assign)
            .unwrap();
        // An interface that is no fixture (a case testing an unknown id)
        // goes out too: nothing of the account's can change.
        observer
            .before_send(
                ecs,
                "UnassignPrivateIpAddresses",
                &params(&[
                    ("NetworkInterfaceId", "eni-nobody"),
                    ("PrivateIpAddress.1", "10.0.0.1"),
                ]),
            )
            .unwrap();
        let records = ledger::read(&ledger::stable_path(dir.path(), "unit")).unwrap();
        let intents: Vec<&Record> = records
            .iter()
            .filter(|r| matches!(r, Record::Intent { .. }))
            .collect();
        assert_eq!(intents.len(), 2, "refused requests are not written down");
        match intents[0] {
            Record::Intent { eni, ips, case, .. } => {
                assert_eq!(eni.as_deref(), Some("eni-a"));
                assert_eq!(ips, &["10.0.0.100", "10.0.0.101"]);
                assert_eq!(case, "case-1");
            }
            _ => unreachable!(),
        }
        assert!(lock_of(&s.dirty).contains(&(ecs, "eni-a".to_string())));
        // This session ends without its end record (as a killed run
        // does): the next run of the profile refuses to start.
        drop(observer);
        drop(s);
        let again = session(dir.path());
        let e = again.open().await.unwrap_err();
        assert!(
            e.contains("did not finish putting its fixtures back"),
            "{e}"
        );
        assert!(e.contains("ipconform sweep --target unit.yaml"), "{e}");
    }

    fn case_releasing(text: &str) -> Case {
        let file =
            crate::case::parse_file(std::path::Path::new("t.yaml"), text.to_string()).unwrap();
        file.cases[0].clone()
    }

    #[tokio::test]
    async fn releasing_a_recorded_address_that_could_not_come_back_skips_the_case() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(dir.path());
        record(
            &s,
            DialectId::AlibabaEns,
            "eni.with_secondaries",
            "eni-s",
            &["10.2.0.20"],
        );
        record(
            &s,
            DialectId::TencentVpcV2,
            "eni.with_secondaries",
            "eni-t",
            &["10.1.0.20", "10.1.0.21"],
        );
        record(
            &s,
            DialectId::AlibabaEcs,
            "eni.with_secondaries",
            "eni-w",
            &["10.0.0.20"],
        );
        let ens = case_releasing(
            "dialect: alibaba-ens\nsource: x\ncases:\n  - id: c\n    title: t\n    steps:\n      - call: UnassignPrivateIpAddresses\n        with: {NetworkInterfaceId: '{{eni.with_secondaries}}', PrivateIpAddress.1: '{{vswitch.taken_ip}}'}\n",
        );
        let why = s.irreversible_release(DialectId::AlibabaEns, &ens).unwrap();
        assert!(why.contains("alibaba-ens cannot assign back"), "{why}");
        // The same release expected to be refused releases nothing.
        let refused = case_releasing(
            "dialect: alibaba-ens\nsource: x\ncases:\n  - id: c\n    title: t\n    steps:\n      - call: UnassignPrivateIpAddresses\n        as: wrong_secret\n        with: {NetworkInterfaceId: '{{eni.with_secondaries}}', PrivateIpAddress.1: '{{vswitch.taken_ip}}'}\n        expect: {error: {code: SignatureDoesNotMatch}}\n",
        );
        assert_eq!(
            s.irreversible_release(DialectId::AlibabaEns, &refused),
            None
        );
        let tencent = |ip: &str| {
            case_releasing(&format!(
                "dialect: tencent-vpc-v2\nsource: x\ncases:\n  - id: c\n    title: t\n    steps:\n      - call: UnassignPrivateIpAddresses\n        with: {{Region: '{{{{region}}}}', vpcId: '{{{{vpc}}}}', networkInterfaceId: '{{{{eni.with_secondaries}}}}', privateIpAddress.0: '{{{{{ip}}}}}'}}\n"
            ))
        };
        let why = s
            .irreversible_release(DialectId::TencentVpcV2, &tencent("subnet.taken_ip"))
            .unwrap();
        assert!(why.contains("whose EIP"), "{why}");
        assert_eq!(
            s.irreversible_release(DialectId::TencentVpcV2, &tencent("subnet.taken_ip_2")),
            None,
            "an address without an EIP is assigned back by the sweep"
        );
        let ecs = case_releasing(
            "dialect: alibaba-ecs\nsource: x\ncases:\n  - id: c\n    title: t\n    steps:\n      - call: UnassignPrivateIpAddresses\n        with: {RegionId: '{{region}}', NetworkInterfaceId: '{{eni.with_secondaries}}', PrivateIpAddress.1: '{{vswitch.taken_ip}}'}\n",
        );
        assert_eq!(s.irreversible_release(DialectId::AlibabaEcs, &ecs), None);
    }

    #[test]
    fn list_elements_match_their_pattern_only() {
        assert!(list_element_of("PrivateIpAddress.N", "PrivateIpAddress.3"));
        assert!(list_element_of(
            "privateIpAddressSet.n.privateIpAddress",
            "privateIpAddressSet.0.privateIpAddress"
        ));
        assert!(!list_element_of(
            "privateIpAddressSet.n.privateIpAddress",
            "privateIpAddressSet.0.primary"
        ));
        assert!(!list_element_of("PrivateIpAddress.N", "PrivateIpAddress.x"));
        assert!(!list_element_of("PrivateIpAddress.N", "PrivateIpAddress"));
        assert!(
            !list_element_of("N.x", "3.x"),
            "the first segment is a name"
        );
    }
}
