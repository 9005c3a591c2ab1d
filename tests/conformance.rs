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

use std::path::Path;
use std::process::ExitCode;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};

use ipconform::project::{Paths, Project};
use ipconform::report::failure_text;
use ipconform::runner::Runner;
use ipconform::target::Target;

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

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let trials = match Project::load(&Paths::under(root)) {
        Ok(project) => trials(Box::leak(Box::new(project))),
        // Still a trial, so that the runner shows the diagnostics in its
        // own output rather than as a crash of the test binary.
        Err(diagnostics) => vec![Trial::test("load::specs-cases-and-world", move || {
            Err(Failed::from(diagnostics.to_string()))
        })],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

fn trials(project: &'static Project) -> Vec<Trial> {
    let target: &'static Target = Box::leak(Box::new(Target::Emulator {
        world: project.world.clone(),
        specs: project.specs,
    }));
    let runner: &'static OnceLock<Runner<'static>> = Box::leak(Box::new(OnceLock::new()));
    let mut trials = vec![Trial::test("lint::cases-match-specs", move || {
        let findings =
            ipconform::lint::lint(project.specs, &project.cases, &project.world.fixtures);
        if findings.is_empty() {
            Ok(())
        } else {
            let text: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
            Err(Failed::from(text.join("\n")))
        }
    })];
    for file in &project.cases {
        for case in &file.cases {
            let name = case.address(target.name(), file);
            // A case the target cannot run is listed as ignored, not passed.
            let ignored = ipconform::runner::missing_requirement(
                file,
                case,
                target.name(),
                target.fixtures(),
                target.powers(),
            )
            .is_some();
            trials.push(
                Trial::test(name, move || {
                    let runner = runner.get_or_init(|| Runner::new(project.specs));
                    let result = runtime().block_on(target.run_case(runner, file, case));
                    if result.outcome.is_success() {
                        Ok(())
                    } else {
                        Err(Failed::from(failure_text(&result)))
                    }
                })
                .with_kind(file.dialect.as_str())
                .with_ignored_flag(ignored),
            );
        }
    }
    trials
}
