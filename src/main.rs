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
use ipconform::project::{load_world, Paths, Project};
use ipconform::report::{self, terminal::Terminal, FileSink, RunInfo, Sink};
use ipconform::run::Selection;
use ipconform::runner::policy::ClientSettings;
use ipconform::runner::Runner;
use ipconform::spec::SpecSet;
use ipconform::target::Target;

/// Exit codes, as documented in `--help` and the README.
mod exit {
    pub const CONFORMS: u8 = 0;
    pub const NONCONFORMING: u8 = 1;
    pub const INVALID_INPUT: u8 = 2;
    pub const ENVIRONMENT: u8 = 3;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  every case conforms (run), no finding (lint), coverage not below --min (coverage)
  1  some case does not conform, or conforms on a target listed as deviating (run); lint findings (lint);
     overall coverage below --min (coverage)
  2  invalid input: a spec, case, world or fixtures file that does not load, or bad arguments
  3  environment: cannot bind, cannot write the reports, the runtime failed";

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
        /// `emulator`, or the base URL of an endpoint that speaks the dialect.
        #[arg(long, default_value = "emulator")]
        target: String,
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
            filters,
            jobs,
            report_dir,
        } => runtime.block_on(compare(CompareArgs {
            inputs,
            dialects,
            selection: ipconform::compare::Selection { filters },
            jobs,
            report_dir,
        })),
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

async fn run(args: RunArgs) -> Result<u8, Failure> {
    let project = Project::load(&paths(&args.inputs)).map_err(invalid)?;
    let client = args
        .client
        .policy()
        .map_err(|e| invalid(anyhow::anyhow!("{e}")))?;
    let target = if args.target == "emulator" {
        if client != ipconform::runner::ClientPolicy::DEFAULT {
            return Err(invalid(anyhow::anyhow!(
                "--request-timeout, --retries and --rate-limit set a URL target's client; the embedded emulator answers at once and retries on its own clock"
            )));
        }
        Target::Emulator {
            world: project.world.clone(),
            specs: project.specs,
        }
    } else {
        let url = reqwest::Url::parse(&args.target).map_err(|e| {
            invalid(anyhow::anyhow!(
                "--target `{}` is neither `emulator` nor a URL: {e}",
                args.target
            ))
        })?;
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
    };
    let cases = args.selection.pick(&project.cases);
    if cases.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "no case matches the filters and tags given; `ipconform lint` lists the files it loads"
        )));
    }
    // What the cases of this run exercise of the specs, for the reports.
    let ran: Vec<ipconform::case::CaseFile> = project
        .cases
        .iter()
        .filter_map(|f| {
            let kept: Vec<_> = f
                .cases
                .iter()
                .filter(|c| {
                    cases
                        .iter()
                        .any(|(file, case)| std::ptr::eq(*file, f) && std::ptr::eq(*case, *c))
                })
                .cloned()
                .collect();
            (!kept.is_empty()).then(|| ipconform::case::CaseFile {
                cases: kept,
                ..f.clone()
            })
        })
        .collect();
    let coverage = ipconform::coverage::Coverage::compute(project.specs, &ran).of_dialects_in(&ran);
    let info = RunInfo {
        run_id: report::new_run_id(),
        started_at: chrono::Utc::now().to_rfc3339(),
        targets: vec![target.name().to_string()],
        cases: cases.len(),
        version: env!("CARGO_PKG_VERSION"),
        coverage: Some(coverage),
    };
    let dir = args.report_dir.join(&info.run_id);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create the report folder {}", dir.display()))?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(
            Terminal::new(std::io::stdout(), args.verbose, dir.display().to_string())
                .with_colour(report::terminal::colour_for_stdout()),
        ),
        Box::new(FileSink::new(dir.clone(), report::standard_formats())),
    ];
    let runner = Runner::new(project.specs);
    let summary = ipconform::run::run(&runner, &target, &cases, args.jobs, &info, &mut sinks)
        .await
        .with_context(|| format!("failed to write the reports under {}", dir.display()))?;
    Ok(if summary.all_conform() {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
}

struct CompareArgs {
    inputs: Inputs,
    dialects: Vec<String>,
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
    // One target today; `--target PROFILE` adds more, each a column per dialect.
    let targets = [Target::Emulator {
        world: project.world.clone(),
        specs: project.specs,
    }];
    let columns: Vec<Column<'_>> = targets
        .iter()
        .flat_map(|target| {
            dialects
                .iter()
                .map(move |&dialect| Column { target, dialect })
        })
        .collect();
    let info = compare::RunInfo {
        run_id: report::new_run_id(),
        started_at: chrono::Utc::now().to_rfc3339(),
    };
    let dir = args.report_dir.join(&info.run_id);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create the report folder {}", dir.display()))?;
    let runner = Runner::new(project.specs);
    let doc = compare::run(&runner, &columns, &plans, &project.cases, args.jobs, info).await;
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
    Ok(if doc.summary.all_conform() {
        exit::CONFORMS
    } else {
        exit::NONCONFORMING
    })
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
