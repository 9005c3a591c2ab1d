//! The conformance suite: one libtest-mimic trial per case and target.
//!
//! Trials are named as addresses, `emulator::alibaba-ecs::assign::<case-id>`,
//! so `cargo test -- assign` and `cargo nextest run -E 'test(/quota/)'`
//! select by dialect, file or case. Loading the specs and cases is the only
//! work done before the trial list exists, which keeps `--list` and
//! `--exact` (one process per test under nextest) cheap. A case listed as a
//! known deviation of the emulator still runs: it passes when it deviates
//! and fails when it unexpectedly conforms. Beside the cases, one trial
//! runs the lint, so a case that drifts from its spec fails `cargo test`.
//!
//! The target is the embedded emulator unless `IPCONFORM_TARGET` names a
//! profile file (a real cloud): then every case runs through the profile's
//! safety session (fixtures recorded, ledger, sweep after each case and at
//! the end of the process, Ctrl-C and SIGTERM handled), and a profile that
//! reaches beyond this machine needs `IPCONFORM_ALLOW_NETWORK=1`. With
//! `IPCONFORM_REPORT_DIR` set, the process writes
//! `<dir>/<run-id>/report.json` of the cases it ran (one per process under
//! nextest), which `ipconform report merge <dir>` puts together.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};

use libtest_mimic::{Arguments, Failed, Trial};

use ipconform::dialect::DialectId;
use ipconform::profile::Profile;
use ipconform::project::{Paths, Project};
use ipconform::report::failure_text;
use ipconform::runner::{CaseResult, Runner};
use ipconform::safety::Session;
use ipconform::target::{ProfileTarget, Target};

/// One runtime for every trial: the HTTP client's pool lives on it.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the test runtime starts")
    })
}

/// The results of the trials this process ran, for its report.
fn results() -> &'static Mutex<Vec<CaseResult>> {
    static RESULTS: OnceLock<Mutex<Vec<CaseResult>>> = OnceLock::new();
    RESULTS.get_or_init(|| Mutex::new(Vec::new()))
}

struct Harness {
    project: &'static Project,
    target: &'static Target,
    runner: &'static OnceLock<Runner<'static>>,
    run_id: String,
    started_at: String,
    started: std::time::Instant,
    report_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run_id = ipconform::report::new_run_id();
    let report_dir = std::env::var_os("IPCONFORM_REPORT_DIR").map(PathBuf::from);
    // The built-in specs are this checkout's (build.rs embeds them and
    // Cargo rebuilds when one changes), loaded a dialect at a time.
    let paths = Paths {
        specs: None,
        ..Paths::under(root)
    };
    // cargo-nextest runs each trial in a process of its own, `--exact
    // NAME`: such a process reads only the file that holds NAME's case,
    // and the specs of its dialect.
    let only = one_case(&args);
    let loaded = match &only {
        Some((dialect, group)) => {
            Project::load_where(&paths, &|d, g, _| d == *dialect && g == group)
        }
        None => Project::load(&paths),
    };
    let (trials, harness) = match loaded {
        Ok(project) => {
            let project: &'static Project = Box::leak(Box::new(project));
            match target(project, &run_id, report_dir.as_deref()) {
                Ok(target) => {
                    let harness = Harness {
                        project,
                        target: Box::leak(Box::new(target)),
                        runner: Box::leak(Box::new(OnceLock::new())),
                        run_id,
                        started_at: chrono::Utc::now().to_rfc3339(),
                        started: std::time::Instant::now(),
                        report_dir,
                    };
                    let mut list = trials(&harness, only.is_none());
                    if only.is_some() {
                        list.extend(missing_case(&args, &list));
                    }
                    (list, Some(harness))
                }
                Err(problem) => (
                    vec![Trial::test("load::target", move || {
                        Err(Failed::from(problem.clone()))
                    })],
                    None,
                ),
            }
        }
        // Still a trial, so that the runner shows the diagnostics in its
        // own output rather than as a crash of the test binary.
        Err(diagnostics) => (
            vec![Trial::test("load::specs-cases-and-world", move || {
                Err(Failed::from(diagnostics.to_string()))
            })],
            None,
        ),
    };
    if let Some(session) = harness.as_ref().and_then(|h| h.target.session()) {
        watch_interrupts(session);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let finished_clean = harness.as_ref().is_none_or(finish);
    if !finished_clean {
        return ExitCode::FAILURE;
    }
    conclusion.exit_code()
}

/// The dialect and group of the case `--exact NAME` names, when NAME is
/// a case's address: the file holding it is the only one such a process
/// needs to read.
fn one_case(args: &Arguments) -> Option<(DialectId, String)> {
    let (_kind, name) = exact_name(args)?;
    let (dialect, group) = ipconform::case::file_of_address(name)?;
    Some((dialect, group.to_string()))
}

/// The kind and name `--exact` asks for. cargo-nextest passes the name as
/// `--list` shows it, `[kind] name`; by hand it is often the name alone.
fn exact_name(args: &Arguments) -> Option<(&str, &str)> {
    let filter = args.filter.as_deref().filter(|_| args.exact)?;
    Some(
        filter
            .strip_prefix('[')
            .and_then(|rest| rest.split_once("] "))
            .unwrap_or(("", filter)),
    )
}

/// A failing trial of the name `--exact` asked for, when the one file read
/// holds no such case: otherwise the process would run nothing and exit
/// 0, and nextest would count a case that never ran as passed.
fn missing_case(args: &Arguments, trials: &[Trial]) -> Option<Trial> {
    let (kind, name) = exact_name(args)?;
    if trials
        .iter()
        .any(|t| t.name() == name && (kind.is_empty() || t.kind() == kind))
    {
        return None;
    }
    let problem = format!(
        "no case is named `{name}`: the file its address names holds no case of that id (`cargo test -- --list` lists the names)"
    );
    Some(Trial::test(name, move || Err(Failed::from(problem.clone()))).with_kind(kind))
}

/// The embedded emulator, or the profile `IPCONFORM_TARGET` names.
fn target(
    project: &'static Project,
    run_id: &str,
    report_dir: Option<&Path>,
) -> Result<Target, String> {
    let emulator = Target::Emulator {
        world: project.world.clone(),
        specs: project.specs,
    };
    let Some(path) = std::env::var_os("IPCONFORM_TARGET").filter(|p| p != "emulator") else {
        return Ok(emulator);
    };
    let profile = Profile::load(Path::new(&path)).map_err(|d| d.to_string())?;
    let allowed = std::env::var("IPCONFORM_ALLOW_NETWORK").is_ok_and(|v| v == "1");
    if let Some(refusal) = profile.network_refusal(allowed) {
        return Err(refusal);
    }
    let fixtures = profile.resolve(&|name| std::env::var(name).ok())?;
    let session = Session::new(
        profile.clone(),
        fixtures.clone(),
        project.specs,
        run_id.to_string(),
        ipconform::ledger::state_dir(),
        report_dir.map(|d| d.join(run_id)),
    );
    Ok(Target::Profile(Box::new(ProfileTarget {
        profile,
        fixtures,
        session: Some(session),
    })))
}

/// The lint trial only when every file was loaded (`whole`).
fn trials(h: &Harness, whole: bool) -> Vec<Trial> {
    let (project, target, runner) = (h.project, h.target, h.runner);
    let mut trials = Vec::new();
    trials.extend(whole.then(|| {
        Trial::test("lint::cases-match-specs", move || {
            let findings =
                ipconform::lint::lint(project.specs, &project.cases, &project.world.fixtures);
            if findings.is_empty() {
                Ok(())
            } else {
                let text: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
                Err(Failed::from(text.join("\n")))
            }
        })
    }));
    for file in &project.cases {
        for case in &file.cases {
            let name = case.address(target.name(), file);
            // A case the target cannot run is listed as ignored, not passed.
            let ignored = target.missing_requirement(file, case).is_some();
            trials.push(
                Trial::test(name, move || {
                    let runner = runner.get_or_init(|| Runner::new(project.specs));
                    let result = runtime().block_on(target.run_case(runner, file, case));
                    let verdict = if result.outcome.is_success() {
                        Ok(())
                    } else {
                        Err(Failed::from(failure_text(&result)))
                    };
                    if let Ok(mut all) = results().lock() {
                        all.push(result);
                    }
                    verdict
                })
                .with_kind(file.dialect.as_str())
                .with_ignored_flag(ignored),
            );
        }
    }
    trials
}

/// A first Ctrl-C stops the profile's case in progress and lets the
/// remaining trials end at once, so that `finish` sweeps; a second exits.
fn watch_interrupts(session: &'static Session) {
    runtime().spawn(async move {
        if ipconform::safety::stop_requested().await {
            eprintln!("\ninterrupted: stopping the case in progress; the fixtures are put back before exiting (Ctrl-C again exits at once)");
            session.interrupt();
            if ipconform::safety::stop_requested().await {
                eprintln!("interrupted again: exiting without putting the fixtures back; `ipconform sweep --target PROFILE` does it from the ledger");
                std::process::exit(130);
            }
        }
    });
}

/// The end of the process: the profile's sweep, then the report. Whether
/// the fixtures were left clean.
fn finish(h: &Harness) -> bool {
    let mut clean = true;
    if let Some(session) = h.target.session().filter(|s| s.was_opened()) {
        let runner = h.runner.get_or_init(|| Runner::new(h.project.specs));
        match runtime().block_on(session.finish(runner)) {
            Ok(f) => {
                for s in f.swept.iter().filter(|s| !s.problems.is_empty()) {
                    eprintln!("sweep: {}", s.describe(false));
                }
                if !f.clean {
                    eprintln!(
                        "profile `{}`: addresses the run added are left on its fixtures (above); `ipconform sweep --target {}` tries again",
                        session.profile().name,
                        session.profile().file
                    );
                }
                clean = f.clean;
            }
            Err(e) => {
                eprintln!("error: {e}");
                clean = false;
            }
        }
    }
    if let Some(dir) = &h.report_dir {
        if let Err(e) = write_report(h, dir) {
            eprintln!(
                "error: failed to write the report under {}: {e}",
                dir.display()
            );
            clean = false;
        }
    }
    clean
}

/// `<dir>/<run-id>/report.json` of the cases this process ran.
fn write_report(h: &Harness, dir: &Path) -> std::io::Result<()> {
    let results = results().lock().map(|r| r.clone()).unwrap_or_default();
    if results.is_empty() {
        return Ok(());
    }
    let info = ipconform::report::RunInfo {
        run_id: h.run_id.clone(),
        started_at: h.started_at.clone(),
        targets: vec![h.target.name().to_string()],
        cases: results.len(),
        version: env!("CARGO_PKG_VERSION"),
        coverage: Some(ipconform::coverage::Coverage::of_cases_where(
            h.project.specs,
            &h.project.cases,
            |f, c| {
                let address = c.address(h.target.name(), f);
                results.iter().any(|r| r.address == address)
            },
        )),
    };
    let report = ipconform::report::model::RunReport::build(
        &info,
        h.started.elapsed(),
        &chrono::Utc::now().to_rfc3339(),
        &results,
    );
    let folder = dir.join(&h.run_id);
    std::fs::create_dir_all(&folder)?;
    use ipconform::report::FinalReport as _;
    let json = ipconform::report::json::JsonReport;
    std::fs::write(folder.join(json.file_name()), json.render(&report)?)
}
