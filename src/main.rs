//! The `ipconform` command line: the only place that prints and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use ipconform::coverage::Coverage;
use ipconform::diag::Diagnostics;
use ipconform::dialect::DialectId;
use ipconform::fixtures::DialectFixtures;
use ipconform::profile::Profile;
use ipconform::project::{load_world, Paths, Project};
use ipconform::report::{self, terminal::Terminal, FileSink, RunInfo, Sink};
use ipconform::run::Selection;
use ipconform::runner::policy::ClientSettings;
use ipconform::runner::Runner;
use ipconform::safety::Session;
use ipconform::spec::SpecSet;
use ipconform::target::{ProfileTarget, Target};

/// Exit codes, as documented in `--help` and the README.
mod exit {
    pub const CONFORMS: u8 = 0;
    pub const NONCONFORMING: u8 = 1;
    pub const INVALID_INPUT: u8 = 2;
    pub const ENVIRONMENT: u8 = 3;
    /// 128 + SIGINT, as a shell reports a program Ctrl-C stopped.
    pub const INTERRUPTED: u8 = 130;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  every case conforms (run), no finding (lint), coverage not below --min (coverage)
  1  some case does not conform, or conforms on a target listed as deviating (run); lint findings (lint);
     overall coverage below --min (coverage)
  2  invalid input: a spec, case, world or fixtures file that does not load, or bad arguments
  3  environment: cannot bind, cannot write the reports, the runtime failed
  130 interrupted (Ctrl-C) during a run against a profile, after its fixtures were put back";

const COMPARE_EXIT_CODES: &str = "\
Exit codes:
  0  every cell that ran met its vendor's documented contract (cells that do not apply count as met)
  1  some cell did not (its detail in comparison.html has the diff)
  2  invalid input: a spec, case, scenario, binding or world file that does not load, an unknown
     dialect, or no scenario matching the filters
  3  environment: cannot write the reports, the runtime failed";

#[derive(Parser)]
#[command(name = "ipconform", version, about = "Contract-conformance harness and emulator for cloud secondary private IP APIs", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Inputs {
    /// Specs directory (default: the specs built into ipconform).
    #[arg(long)]
    specs: Option<PathBuf>,
    /// Cases directory (one folder per dialect).
    #[arg(long, default_value = "cases")]
    cases: PathBuf,
    /// World file: the emulator's state and the fixtures it gives to each
    /// dialect's cases (default: the built-in cases/worlds/default.yaml).
    #[arg(long)]
    world: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run cases against a target (default: the embedded emulator) and write reports.
    #[command(after_help = EXIT_CODES)]
    Run {
        #[command(flatten)]
        inputs: Inputs,
        /// `emulator`, the base URL of an endpoint that speaks the dialect,
        /// or a profile file (YAML: per dialect an endpoint, where its
        /// credentials come from, its fixtures).
        #[arg(long, default_value = "emulator")]
        target: String,
        /// Let a profile reach endpoints beyond this machine (a real cloud).
        #[arg(long)]
        allow_network: bool,
        /// Print each request as it would be sent, signed, with secrets and
        /// signatures redacted; send nothing, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Name of a URL target, as cases' `deviations` refer to it.
        #[arg(long)]
        target_name: Option<String>,
        /// Fixtures for a URL target, per dialect (default: the world file's).
        #[arg(long)]
        fixtures: Option<PathBuf>,
        /// Signing variant of a URL target's requests (Alibaba: v1 or v3),
        /// unless a case names one.
        #[arg(long)]
        signing: Option<String>,
        /// A URL target's longest wait for one reply (default 30s); a case
        /// whose request gets none fails with the cause, the run goes on.
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        request_timeout: Option<std::time::Duration>,
        /// A URL target's retries of a throttled or busy reply, after the
        /// first attempt (default 3); only reads, calls with an idempotency
        /// token, and steps with `retry: true` are retried.
        #[arg(long, value_name = "N")]
        retries: Option<u32>,
        /// A URL target's request rate, over all its cases: `5/s`,
        /// `300/min`, `200/60s`, optionally `5/s burst 10` (default: none).
        #[arg(long, value_name = "RATE")]
        rate_limit: Option<ipconform::runner::RateLimit>,
        /// Run only cases whose `dialect::file::id` contains one of these.
        #[arg(long = "filter", value_name = "TEXT")]
        filters: Vec<String>,
        /// Run only cases carrying every one of these tags.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Cases run at once on the emulator.
        #[arg(long, default_value_t = 8)]
        jobs: usize,
        /// Where `<run-id>/` goes, with report.json, junit.xml, report.md
        /// and report.html.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
        /// Also print the details of known deviations.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Run every portable scenario on every dialect side by side; write
    /// comparison.json, comparison.md and comparison.html.
    #[command(after_help = COMPARE_EXIT_CODES)]
    Compare {
        #[command(flatten)]
        inputs: Inputs,
        /// Compare only these dialects (repeat it); default: every dialect
        /// with a portable binding.
        #[arg(long = "dialect", value_name = "DIALECT")]
        dialects: Vec<String>,
        /// Where the scenarios run (repeat it): `emulator` (every dialect),
        /// or a profile file (its dialects); each gives columns.
        #[arg(long = "target", value_name = "TARGET", default_value = "emulator")]
        targets: Vec<String>,
        /// Let a profile reach endpoints beyond this machine (a real cloud).
        #[arg(long)]
        allow_network: bool,
        /// Print each request as it would be sent, redacted; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run only scenarios whose `portable.<file>::<id>` contains one of these.
        #[arg(long = "filter", value_name = "TEXT")]
        filters: Vec<String>,
        /// Cells run at once on the emulator.
        #[arg(long, default_value_t = 8)]
        jobs: usize,
        /// Where `<run-id>/comparison.{json,md,html}` go.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
    },
    /// Put the fixture interfaces of a profile back to the secondary
    /// addresses its last run recorded, from that run's ledger
    /// (`.ipconform/ledger-<profile>.jsonl`), and say what it did.
    #[command(after_help = SWEEP_EXIT_CODES)]
    Sweep {
        /// The profile file.
        #[arg(long)]
        target: PathBuf,
        /// Read the interfaces and say what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Let the profile reach endpoints beyond this machine.
        #[arg(long)]
        allow_network: bool,
        /// Another ledger than the profile's last (a run's `ledger.jsonl`).
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// Specs directory (default: the specs built into ipconform).
        #[arg(long)]
        specs: Option<PathBuf>,
    },
    /// Work on reports already written.
    Report {
        #[command(subcommand)]
        action: ReportAction,
    },
    /// Check every case against the specs; non-zero on any finding.
    #[command(after_help = EXIT_CODES)]
    Lint {
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Which documented parameters and error codes of each operation the
    /// cases exercise, and which none does.
    ///
    /// A parameter counts when a step calling the operation sends it (a
    /// repeat list through any element); an error row when a step expects
    /// a code it documents (a template through any instance). The figure is
    /// over each operation's own parameters and error rows, plus the
    /// dialect's common rows counted once per dialect; rows marked
    /// `producible: false` are listed apart and not counted. Common
    /// parameters (signature, version, format) are reported, not counted.
    #[command(after_help = EXIT_CODES)]
    Coverage {
        /// Specs directory (default: the specs built into ipconform).
        #[arg(long)]
        specs: Option<PathBuf>,
        /// Cases directory (one folder per dialect).
        #[arg(long, default_value = "cases")]
        cases: PathBuf,
        /// Only this dialect (its figure is then the overall one).
        #[arg(long)]
        dialect: Option<DialectId>,
        /// Exit 1 when the overall coverage (over the dialects shown) is
        /// below this percentage.
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        min: Option<f64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CoverageFormat::Text)]
        format: CoverageFormat,
    },
    /// Serve the emulator until interrupted.
    Emulate {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// World file (default: the built-in cases/worlds/default.yaml).
        #[arg(long)]
        world: Option<PathBuf>,
        /// Run the emulator's clock this many seconds ahead (negative:
        /// behind), to see how a client handles a server whose clock
        /// disagrees: its signed timestamps then fall outside the window.
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        clock_offset: i64,
    },
    /// Measure the emulator apart from the client, the harness, loading and
    /// start-up; print every figure with its bound, write them as JSON.
    Bench {
        /// Shorter windows, fewer rounds, no `cargo test` (under a minute).
        #[arg(long)]
        quick: bool,
        /// Run one section: throughput, describe, harness, loading, startup,
        /// suite, toolchain, crowded, memory.
        #[arg(long)]
        only: Option<String>,
        /// Where to write the figures as JSON (default:
        /// target/ipconform-bench/bench-<time>.json).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// An earlier run's JSON: print each figure beside it.
        #[arg(long, value_name = "OLD.json")]
        compare: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportAction {
    /// Merge the report.json of several shards of one run (folders are
    /// searched for report.json files) into one report, written again in
    /// every format.
    #[command(after_help = MERGE_EXIT_CODES)]
    Merge {
        /// report.json files, or folders holding them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where report.json, junit.xml, report.md and report.html go.
        #[arg(long)]
        out: PathBuf,
    },
}

const SWEEP_EXIT_CODES: &str = "\
Exit codes:
  0  every interface the ledger recorded holds exactly its recorded secondary addresses
     (a dry run: nothing would be done)
  1  some does not (each line says why), or a dry run found something to do
  2  invalid input: a profile that does not load, a missing credential variable, a ledger
     that does not parse, or a remote endpoint without --allow-network
  3  environment: the runtime failed";

const MERGE_EXIT_CODES: &str = "\
Exit codes:
  0  merged, and every case of the merged run conforms
  1  merged, and some case does not conform
  2  invalid input: no report, a file that is not a run report, mixed schema versions,
     a case in two shards
  3  environment: cannot write the merged reports";

#[derive(Clone, Copy, clap::ValueEnum)]
enum CoverageFormat {
    Text,
    Markdown,
    Json,
}

/// A duration above zero (`2s`, `500ms`), for `--request-timeout`.
fn duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the duration must be above zero".into()),
        Err(e) => Err(format!(
            "`{s}` is not a duration ({e}); write `2s` or `500ms`"
        )),
    }
}

/// A percentage from 0 to 100, for `--min`.
fn percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    let outcome = match cli.command {
        Command::Run {
            inputs,
            target,
            allow_network,
            dry_run,
            target_name,
            fixtures,
            signing,
            request_timeout,
            retries,
            rate_limit,
            filters,
            tags,
            jobs,
            report_dir,
            verbose,
        } => runtime.block_on(run(RunArgs {
            inputs,
            target,
            allow_network,
            dry_run,
            target_name,
            fixtures,
            signing,
            client: ClientSettings {
                rate_limit,
                request_timeout,
                retries,
                ..ClientSettings::default()
            },
            selection: Selection { filters, tags },
            jobs,
            report_dir,
            verbose,
        })),
        Command::Compare {
            inputs,
            dialects,
            targets,
            allow_network,
            dry_run,
            filters,
            jobs,
            report_dir,
        } => runtime.block_on(compare(CompareArgs {
            inputs,
            dialects,
            targets,
            allow_network,
            dry_run,
            selection: ipconform::compare::Selection { filters },
            jobs,
            report_dir,
        })),
        Command::Sweep {
            target,
            dry_run,
            allow_network,
            ledger,
            specs,
        } => runtime.block_on(sweep(SweepArgs {
            target,
            dry_run,
            allow_network,
            ledger,
            specs,
        })),
        Command::Report {
            action: ReportAction::Merge { inputs, out },
        } => report_merge(&inputs, &out),
        Command::Lint { inputs } => lint(&inputs),
        Command::Coverage {
            specs,
            cases,
            dialect,
            min,
            format,
        } => coverage(specs.as_deref(), &cases, dialect, min, format),
        Command::Emulate {
            listen,
            world,
            clock_offset,
        } => runtime.block_on(emulate(listen, world.as_deref(), clock_offset)),
        Command::Bench {
            quick,
            only,
            json,
            compare,
        } => {
            let options = ipconform::bench::Options {
                quick,
                only,
                json,
                compare,
            };
            runtime
                .block_on(ipconform::bench::run(&options, &|what| {
                    eprintln!("bench: {what}")
                }))
                .map(|outcome| {
                    say(format_args!("{}\n", outcome.table));
                    if let Some(comparison) = &outcome.comparison {
                        say(format_args!("{comparison}\n"));
                    }
                    say(format_args!(
                        "Figures written to {}\n",
                        outcome.json.display()
                    ));
                    exit::CONFORMS
                })
                .map_err(environment)
        }
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.code)
        }
    }
}

/// An error for the user, with the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

fn invalid(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: exit::INVALID_INPUT,
        error: error.into(),
    }
}

fn environment(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: exit::ENVIRONMENT,
        error: error.into(),
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        environment(error)
    }
}

struct RunArgs {
    inputs: Inputs,
    target: String,
    allow_network: bool,
    dry_run: bool,
    target_name: Option<String>,
    fixtures: Option<PathBuf>,
    signing: Option<String>,
    client: ClientSettings,
    selection: Selection,
    jobs: usize,
    report_dir: PathBuf,
    verbose: bool,
}

fn paths(inputs: &Inputs) -> Paths {
    Paths {
        specs: inputs.specs.clone(),
        cases: inputs.cases.clone(),
        world: inputs.world.clone(),
    }
}

/// What `--target` names.
enum TargetKind {
    Emulator,
    Url(reqwest::Url),
    Profile(PathBuf),
}

fn target_kind(text: &str) -> Result<TargetKind, Failure> {
    if text == "emulator" {
        return Ok(TargetKind::Emulator);
    }
    if let Ok(url) = reqwest::Url::parse(text) {
        if matches!(url.scheme(), "http" | "https") {
            return Ok(TargetKind::Url(url));
        }
    }
    let path = PathBuf::from(text);
    if path.is_file() {
        return Ok(TargetKind::Profile(path));
    }
    Err(invalid(anyhow::anyhow!(
        "--target `{text}` is neither `emulator`, an http(s) URL, nor a profile file that exists"
    )))
}

/// A profile as a target: loaded, allowed onto the network or not, its
/// credentials read; with a session unless it is for a dry run.
fn profile_target(
    path: &std::path::Path,
    specs: &'static SpecSet,
    allow_network: bool,
    dry_run: bool,
    run_id: &str,
    run_dir: Option<PathBuf>,
) -> Result<Target, Failure> {
    let profile = Profile::load(path).map_err(invalid)?;
    // A dry run sends nothing, so it may show what a remote profile would.
    if !dry_run {
        if let Some(refusal) = profile.network_refusal(allow_network) {
            return Err(invalid(anyhow::anyhow!(refusal)));
        }
    }
    let fixtures = profile
        .resolve(&|name| std::env::var(name).ok())
        .map_err(|e| invalid(anyhow::anyhow!(e)))?;
    let session = (!dry_run).then(|| {
        Session::new(
            profile.clone(),
            fixtures.clone(),
            specs,
            run_id.to_string(),
            ipconform::ledger::state_dir(),
            run_dir,
        )
    });
    Ok(Target::Profile(Box::new(ProfileTarget {
        profile,
        fixtures,
        session,
    })))
}

async fn run(args: RunArgs) -> Result<u8, Failure> {
    // Only the files that may hold a selected case are parsed.
    let project = Project::load_where(&paths(&args.inputs), &|dialect, group, text| {
        args.selection.may_pick(dialect, group, text)
    })
    .map_err(invalid)?;
    let client = args
        .client
        .policy()
        .map_err(|e| invalid(anyhow::anyhow!("{e}")))?;
    let run_id = report::new_run_id();
    let dir = args.report_dir.join(&run_id);
    let kind = target_kind(&args.target)?;
    if !matches!(kind, TargetKind::Url(_)) && client != ipconform::runner::ClientPolicy::DEFAULT {
        return Err(invalid(anyhow::anyhow!(
            "--request-timeout, --retries and --rate-limit set a URL target's client; the embedded emulator answers at once and retries on its own clock, and a profile says its own in `client:`"
        )));
    }
    let target = match kind {
        TargetKind::Emulator => Target::Emulator {
            world: project.world.clone(),
            specs: project.specs,
        },
        TargetKind::Url(url) => {
            let fixtures = match &args.fixtures {
                Some(path) => load_fixtures(path)?,
                None => project.world.fixtures.clone(),
            };
            Target::Url {
                name: args
                    .target_name
                    .clone()
                    .unwrap_or_else(|| url.host_str().unwrap_or("url").to_string()),
                base_url: args.target.clone(),
                fixtures,
                signing: args.signing.clone(),
                client,
            }
        }
        TargetKind::Profile(path) => {
            if args.fixtures.is_some() || args.signing.is_some() || args.target_name.is_some() {
                return Err(invalid(anyhow::anyhow!(
                    "--fixtures, --signing and --target-name are for a URL target; a profile says them itself"
                )));
            }
            profile_target(
                &path,
                project.specs,
                args.allow_network,
                args.dry_run,
                &run_id,
                Some(dir.clone()),
            )?
        }
    };
    let mut cases = args.selection.pick(&project.cases);
    if cases.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "no case matches the filters and tags given; `ipconform lint` lists the files it loads"
        )));
    }
    // A profile runs the cases of its dialects; the others are not listed.
    if let Target::Profile(p) = &target {
        cases.retain(|(f, _)| p.profile.dialects.contains_key(&f.dialect));
        if cases.is_empty() {
            return Err(invalid(anyhow::anyhow!(
                "no case selected is of a dialect profile `{}` has ({})",
                p.profile.name,
                p.profile
                    .dialects
                    .keys()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let runner = Runner::new(project.specs);
    if args.dry_run {
        return Ok(dry_run(&runner, &target, &cases));
    }
    // What the cases of this run exercise of the specs, for the reports.
    let coverage =
        ipconform::coverage::Coverage::of_cases_where(project.specs, &project.cases, |f, c| {
            cases
                .iter()
                .any(|(file, case)| std::ptr::eq(*file, f) && std::ptr::eq(*case, c))
        });
    let info = RunInfo {
        run_id,
        started_at: chrono::Utc::now().to_rfc3339(),
        targets: vec![target.name().to_string()],
        cases: cases.len(),
        version: env!("CARGO_PKG_VERSION"),
        coverage: Some(coverage),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create the report folder {}", dir.display()))?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(
            Terminal::new(std::io::stdout(), args.verbose, dir.display().to_string())
                .with_colour(report::terminal::colour_for_stdout()),
        ),
        Box::new(FileSink::new(dir.clone(), report::standard_formats())),
    ];
    let session = target.session();
    let work = async {
        let outcome = async {
            if let Some(session) = session {
                let mut dialects: Vec<DialectId> = cases.iter().map(|(f, _)| f.dialect).collect();
                dialects.sort();
                dialects.dedup();
                record_baselines(session, &runner, &dialects).await?;
            }
            ipconform::run::run(&runner, &target, &cases, args.jobs, &info, &mut sinks)
                .await
                .with_context(|| format!("failed to write the reports under {}", dir.display()))
                .map_err(environment)
        }
        .await;
        // Whatever happened, the fixtures are put back and the ledger closed.
        let finish = match session {
            Some(session) => Some(session.finish(&runner).await),
            None => None,
        };
        (outcome, finish)
    };
    let (outcome, finish) = with_interrupts(session.into_iter().collect(), work).await;
    let finish_clean = match (finish, &target) {
        (Some(finish), Target::Profile(p)) => report_finish(&finish, &p.profile),
        _ => true,
    };
    let summary = outcome?;
    if target.is_interrupted() {
        return Ok(exit::INTERRUPTED);
    }
    Ok(if summary.all_conform() && finish_clean {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
}

/// Records the secondary addresses of the profile's fixture interfaces of
/// `dialects` (a dialect the profile lacks has none) before any change,
/// and says how many.
async fn record_baselines(
    session: &Session,
    runner: &Runner<'_>,
    dialects: &[DialectId],
) -> Result<(), Failure> {
    let n = session
        .record_baselines(runner, dialects)
        .await
        .map_err(|e| invalid(anyhow::anyhow!(e)))?;
    say(format_args!(
        "profile `{}`: recorded the secondary addresses of {n} fixture interface{} before any change\n",
        session.profile().name,
        plural(n)
    ));
    Ok(())
}

/// Prints what the end of a run against a profile did to its fixtures;
/// whether nothing of the harness's is left.
fn report_finish(finish: &Result<ipconform::safety::Finish, String>, profile: &Profile) -> bool {
    let finish = match finish {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: {e}\nrun `ipconform sweep --target {}` to put the fixtures back",
                profile.file
            );
            return false;
        }
    };
    if !finish.opened {
        return true;
    }
    for s in &finish.swept {
        if !s.problems.is_empty() || s.changed() {
            say(format_args!("sweep: {}\n", s.describe(false)));
        }
    }
    let ledger: Vec<String> = finish
        .ledger
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let whole = finish.swept.iter().all(|s| s.problems.is_empty());
    if finish.clean {
        say(format_args!(
            "profile `{}`: {}{}; ledger: {}\n",
            profile.name,
            if whole {
                "every fixture interface the run changed holds its recorded addresses again"
            } else {
                "nothing the run added is left on any fixture interface, but some recorded address could not be put back (above)"
            },
            match finish.repaired_during_run {
                0 => String::new(),
                n => format!(" ({n} by the sweep after a case whose own cleanup left changes)"),
            },
            ledger.join(", ")
        ));
    } else {
        eprintln!(
            "profile `{}`: some fixture interface still holds addresses the run added (above); \
             `ipconform sweep --target {}` tries again from the ledger: {}",
            profile.name,
            profile.file,
            ledger.join(", ")
        );
    }
    finish.clean
}

/// Runs `work`; a first Ctrl-C interrupts the sessions (the case in
/// progress stops, the fixtures are put back), a second exits at once.
async fn with_interrupts<T>(
    sessions: Vec<&Session>,
    work: impl std::future::Future<Output = T>,
) -> T {
    if sessions.is_empty() {
        return work.await;
    }
    let watch = async {
        if ipconform::safety::stop_requested().await {
            eprintln!(
                "\ninterrupted: stopping the case in progress and putting the fixtures back \
                 (Ctrl-C again exits at once)"
            );
            for s in &sessions {
                s.interrupt();
            }
            if ipconform::safety::stop_requested().await {
                eprintln!(
                    "interrupted again: exiting without putting the fixtures back; \
                     `ipconform sweep --target PROFILE` does it from the ledger"
                );
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
        }
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::pin!(work);
    tokio::select! {
        biased;
        done = &mut work => done,
        never = watch => match never {},
    }
}

/// `--dry-run`: every request of every case as it would be sent.
fn dry_run(
    runner: &Runner<'_>,
    target: &Target,
    cases: &[(&ipconform::case::CaseFile, &ipconform::case::Case)],
) -> u8 {
    let (mut shown, mut skipped) = (0, 0);
    for (file, case) in cases {
        let address = case.address(target.name(), file);
        if let Some(reason) = target.missing_requirement(file, case) {
            say(format_args!("{address}: skipped: {reason}\n"));
            skipped += 1;
            continue;
        }
        let Some(endpoint) = target.dry_endpoint(file.dialect) else {
            continue;
        };
        say(format_args!("{address} ({}:{})\n", file.display, case.line));
        for step in runner.dry_run_case(file, case, &endpoint) {
            let phase = match step.phase {
                ipconform::runner::Phase::Step => "step",
                ipconform::runner::Phase::Cleanup => "cleanup",
            };
            say(format_args!(
                "  {phase} {} `{}` at {}\n",
                step.index, step.call, step.location
            ));
            match step.request {
                Ok(request) => {
                    shown += 1;
                    say(format_args!(
                        "    {}\n",
                        request.to_string().replace('\n', "\n    ")
                    ));
                }
                Err(why) => say(format_args!("    {why}\n")),
            }
        }
    }
    say(format_args!(
        "dry run: {shown} request{} of {} case{} as they would be sent to `{}` (signatures and secrets shown as ***), {skipped} skipped; nothing was sent\n",
        plural(shown),
        cases.len() - skipped,
        plural(cases.len() - skipped),
        target.name()
    ));
    exit::CONFORMS
}

struct CompareArgs {
    inputs: Inputs,
    dialects: Vec<String>,
    targets: Vec<String>,
    allow_network: bool,
    dry_run: bool,
    selection: ipconform::compare::Selection,
    jobs: usize,
    report_dir: PathBuf,
}

async fn compare(args: CompareArgs) -> Result<u8, Failure> {
    use ipconform::compare::{self, Column};
    let project = Project::load(&paths(&args.inputs)).map_err(invalid)?;
    let mut dialects = Vec::new();
    for name in &args.dialects {
        let dialect: ipconform::dialect::DialectId = name
            .parse()
            .map_err(|e: String| invalid(anyhow::anyhow!("--dialect: {e}")))?;
        if project.specs.binding(dialect).is_none() {
            return Err(invalid(anyhow::anyhow!(
                "--dialect {dialect}: it has no portable binding (specs/{dialect}/_portable.yaml)"
            )));
        }
        if !dialects.contains(&dialect) {
            dialects.push(dialect);
        }
    }
    if dialects.is_empty() {
        dialects = ipconform::dialect::DialectId::ALL
            .iter()
            .copied()
            .filter(|d| project.specs.binding(*d).is_some())
            .collect();
    }
    let plans = args.selection.pick(&project.plans);
    if plans.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "no portable scenario matches the filters (scenarios live in {}/portable/)",
            args.inputs.cases.display()
        )));
    }
    let info = compare::RunInfo {
        run_id: report::new_run_id(),
        started_at: chrono::Utc::now().to_rfc3339(),
    };
    let dir = args.report_dir.join(&info.run_id);
    // Each target gives a column per dialect it has (of those compared).
    let mut targets = Vec::new();
    for text in &args.targets {
        let target = match target_kind(text)? {
            TargetKind::Emulator => Target::Emulator {
                world: project.world.clone(),
                specs: project.specs,
            },
            TargetKind::Url(_) => {
                return Err(invalid(anyhow::anyhow!(
                    "--target {text}: compare takes `emulator` or profile files; a profile says what a URL lacks (fixtures and credentials per dialect)"
                )))
            }
            TargetKind::Profile(path) => profile_target(
                &path,
                project.specs,
                args.allow_network,
                args.dry_run,
                &info.run_id,
                Some(dir.clone()),
            )?,
        };
        if targets.iter().any(|t: &Target| t.name() == target.name()) {
            return Err(invalid(anyhow::anyhow!(
                "--target {text}: two targets are named `{}`",
                target.name()
            )));
        }
        targets.push(target);
    }
    let columns: Vec<Column<'_>> = targets
        .iter()
        .flat_map(|target| {
            dialects
                .iter()
                .filter(move |d| match target {
                    Target::Profile(p) => p.profile.dialects.contains_key(d),
                    _ => true,
                })
                .map(move |&dialect| Column { target, dialect })
        })
        .collect();
    if columns.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "no target has any of the dialects compared"
        )));
    }
    let runner = Runner::new(project.specs);
    if args.dry_run {
        let mut cells = Vec::new();
        for column in &columns {
            for plan in &plans {
                if let Some(found) = compare::find_case(&project.cases, plan, column.dialect) {
                    cells.push((column.target, found));
                }
            }
        }
        for target in &targets {
            let mine: Vec<_> = cells
                .iter()
                .filter(|(t, _)| std::ptr::eq(*t, target))
                .map(|(_, c)| *c)
                .collect();
            if !mine.is_empty() {
                dry_run(&runner, target, &mine);
            }
        }
        return Ok(exit::CONFORMS);
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create the report folder {}", dir.display()))?;
    let sessions: Vec<&Session> = targets.iter().filter_map(Target::session).collect();
    let work = async {
        let outcome = async {
            for session in &sessions {
                record_baselines(session, &runner, &dialects).await?;
            }
            Ok::<_, Failure>(
                compare::run(&runner, &columns, &plans, &project.cases, args.jobs, info).await,
            )
        }
        .await;
        let mut finishes = Vec::new();
        for session in &sessions {
            finishes.push((session.profile().clone(), session.finish(&runner).await));
        }
        (outcome, finishes)
    };
    let (outcome, finishes) = with_interrupts(sessions.clone(), work).await;
    let mut clean = true;
    for (profile, finish) in &finishes {
        clean &= report_finish(finish, profile);
    }
    let doc = outcome?;
    if targets.iter().any(Target::is_interrupted) {
        return Ok(exit::INTERRUPTED);
    }
    let markdown = compare::markdown::render(&doc);
    let json = serde_json::to_string_pretty(&doc).context("failed to render comparison.json")?;
    let html = compare::html::render(&doc, &compare::html::ReportDetail);
    for (name, text) in [
        ("comparison.json", json.as_str()),
        ("comparison.md", markdown.as_str()),
        ("comparison.html", html.as_str()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    println!("{}\n", compare::markdown::headline(&doc));
    print!("{}", compare::markdown::matrix(&doc));
    println!("\nreports: {}/comparison.{{json,md,html}}", dir.display());
    Ok(if doc.summary.all_conform() && clean {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
}

struct SweepArgs {
    target: PathBuf,
    dry_run: bool,
    allow_network: bool,
    ledger: Option<PathBuf>,
    specs: Option<PathBuf>,
}

async fn sweep(args: SweepArgs) -> Result<u8, Failure> {
    let specs: &'static SpecSet = match &args.specs {
        Some(dir) => Box::leak(Box::new(SpecSet::load_dir(dir).map_err(invalid)?)),
        None => SpecSet::embedded(),
    };
    let profile = Profile::load(&args.target).map_err(invalid)?;
    // Even a dry run reads the interfaces.
    if let Some(refusal) = profile.network_refusal(args.allow_network) {
        return Err(invalid(anyhow::anyhow!(refusal)));
    }
    let fixtures = profile
        .resolve(&|name| std::env::var(name).ok())
        .map_err(|e| invalid(anyhow::anyhow!(e)))?;
    let state_dir = ipconform::ledger::state_dir();
    let ledger = args
        .ledger
        .clone()
        .unwrap_or_else(|| ipconform::ledger::stable_path(&state_dir, &profile.name));
    if !ledger.exists() {
        say(format_args!(
            "no ledger of profile `{}` at {}: no run against it was recorded here, nothing to sweep\n",
            profile.name,
            ledger.display()
        ));
        return Ok(exit::CONFORMS);
    }
    let runner = Runner::new(specs);
    let tools = ipconform::safety::Tools {
        runner: &runner,
        profile: &profile,
        fixtures: &fixtures,
        specs,
    };
    let done = ipconform::safety::sweep_from_ledger(&tools, &state_dir, &ledger, args.dry_run)
        .await
        .map_err(|e| invalid(anyhow::anyhow!(e)))?;
    say(format_args!(
        "sweep of profile `{}` from {} (run {}){}\n",
        profile.name,
        done.ledger.display(),
        done.run_id.as_deref().unwrap_or("?"),
        if args.dry_run {
            ": dry run, nothing changed"
        } else {
            ""
        }
    ));
    if done.unanswered > 0 {
        say(format_args!(
            "{} request{} went out (or were about to) without a recorded reply: the run was cut short; each interface is read to see what {} did\n",
            done.unanswered,
            plural(done.unanswered),
            if done.unanswered == 1 { "it" } else { "they" }
        ));
    }
    for s in &done.swept {
        say(format_args!("{}\n", s.describe(args.dry_run)));
    }
    let restored = done.restored();
    say(format_args!(
        "{}\n",
        match (restored, args.dry_run) {
            (true, _) => format!(
                "every interface the ledger recorded ({}) holds exactly its recorded secondary addresses",
                done.swept.len()
            ),
            (false, true) => "run it without --dry-run to do the above".to_string(),
            (false, false) => "some interface does not hold its recorded addresses (above)".to_string(),
        }
    ));
    Ok(if restored {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
}

/// `ipconform report merge`.
fn report_merge(inputs: &[PathBuf], out: &std::path::Path) -> Result<u8, Failure> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            collect_reports(input, &mut files)
                .with_context(|| format!("failed to read {}", input.display()))
                .map_err(invalid)?;
        } else {
            files.push(input.clone());
        }
    }
    files.sort();
    let mut texts = Vec::with_capacity(files.len());
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("failed to read {}", file.display()))
            .map_err(invalid)?;
        texts.push(ipconform::report::merge::Input {
            name: file.display().to_string(),
            text,
        });
    }
    let merged = ipconform::report::merge::merge(&texts, &report::new_run_id())
        .map_err(|e| invalid(anyhow::anyhow!(e)))?;
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    let mut written = Vec::new();
    for format in report::standard_formats() {
        let path = out.join(format.file_name());
        let text = format
            .render(&merged)
            .with_context(|| format!("failed to render {}", format.file_name()))?;
        std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?;
        written.push(format.file_name());
    }
    let s = &merged.summary;
    say(format_args!(
        "merged {} report{} ({} case{}: {} conform, {} fail, {} known deviation{}, {} conform unexpectedly, {} skipped) into {}: {}\n",
        texts.len(),
        plural(texts.len()),
        s.total,
        plural(s.total),
        s.conforms,
        s.fails,
        s.known_deviations,
        plural(s.known_deviations),
        s.unexpected_conformance,
        s.skipped,
        out.display(),
        written.join(", ")
    ));
    Ok(if merged.run.success {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
}

/// Every `report.json` under `dir`, at any depth.
fn collect_reports(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_reports(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "report.json") {
            out.push(path);
        }
    }
    Ok(())
}

fn load_fixtures(path: &std::path::Path) -> Result<DialectFixtures, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the fixtures file {}", path.display()))
        .map_err(invalid)?;
    serde_yaml::from_str(&text).map_err(|e| {
        invalid(anyhow::anyhow!(
            "{}",
            ipconform::diag::Diagnostic::from_yaml(&path.display().to_string(), &text, &e)
        ))
    })
}

fn lint(inputs: &Inputs) -> Result<u8, Failure> {
    let project = Project::load(&paths(inputs)).map_err(invalid)?;
    let findings = ipconform::lint::lint(project.specs, &project.cases, &project.world.fixtures);
    for finding in &findings {
        say(format_args!("{finding}\n"));
    }
    say(format_args!(
        "{} finding{} in {} case{} of {} file{} against {} operation spec{}\n",
        findings.len(),
        plural(findings.len()),
        project.case_count(),
        plural(project.case_count()),
        project.cases.len(),
        plural(project.cases.len()),
        project.specs.len(),
        plural(project.specs.len()),
    ));
    Ok(if findings.is_empty() {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
}

fn coverage(
    specs_dir: Option<&std::path::Path>,
    cases_dir: &std::path::Path,
    dialect: Option<DialectId>,
    min: Option<f64>,
    format: CoverageFormat,
) -> Result<u8, Failure> {
    // The world is not read: coverage compares specs with cases only.
    let loaded = specs_dir.map(SpecSet::load_dir).transpose();
    let cases = ipconform::case::load_dir(cases_dir);
    let (loaded, cases) = match (loaded, cases) {
        (Ok(specs), Ok(cases)) => (specs, cases),
        (specs, cases) => {
            let mut all = Vec::new();
            if let Err(d) = specs {
                all.extend(d.0);
            }
            if let Err(d) = cases {
                all.extend(d.0);
            }
            return Err(invalid(Diagnostics(all)));
        }
    };
    let specs = loaded.as_ref().unwrap_or_else(|| SpecSet::embedded());
    let mut report = Coverage::compute(specs, &cases);
    if let Some(dialect) = dialect {
        report = report.only(dialect);
        if report.dialects.is_empty() {
            return Err(invalid(anyhow::anyhow!(
                "the specs hold no operation of {dialect}"
            )));
        }
    }
    match format {
        CoverageFormat::Text => say(format_args!("{}", report.to_text())),
        CoverageFormat::Markdown => say(format_args!("{}", report.to_markdown())),
        CoverageFormat::Json => say(format_args!(
            "{}\n",
            serde_json::to_string_pretty(&report)
                .context("failed to write the coverage as JSON")?
        )),
    }
    match min {
        Some(min) if report.is_below(min) => {
            eprintln!(
                "coverage {:.1}% is below --min {min}%",
                report.overall_percent()
            );
            Ok(exit::NONCONFORMING)
        }
        _ => Ok(exit::CONFORMS),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

async fn emulate(
    listen: SocketAddr,
    world: Option<&std::path::Path>,
    clock_offset: i64,
) -> Result<u8, Failure> {
    let world = match world {
        Some(path) => load_world(path).map_err(invalid)?,
        None => ipconform::emulator::world::WorldFile::builtin().map_err(invalid)?,
    };
    if !listen.ip().is_loopback() {
        eprintln!(
            "warning: listening on {} exposes the emulator beyond this machine",
            listen.ip()
        );
    }
    let emulator = ipconform::emulator::start(&world, listen)
        .await
        .with_context(|| format!("failed to listen on {listen}"))?;
    let offset = chrono::TimeDelta::try_seconds(clock_offset).ok_or_else(|| {
        invalid(anyhow::anyhow!(
            "--clock-offset {clock_offset} is too far; give seconds within a few thousand years"
        ))
    })?;
    emulator.state().advance(offset);
    // Scripts read this line to learn the port; it must come first.
    say(format_args!("listening on {}\n", emulator.base_url()));
    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for Ctrl-C")?;
    emulator.shutdown().await;
    Ok(exit::CONFORMS)
}

/// Writes to stdout. A reader that went away (`ipconform coverage | head`)
/// ends the program quietly, as a Unix filter does, instead of the panic
/// `println!` gives on a closed pipe; any other write error is reported.
fn say(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("ipconform: error: failed to write to stdout: {e}");
        }
        std::process::exit(i32::from(exit::ENVIRONMENT));
    }
}
