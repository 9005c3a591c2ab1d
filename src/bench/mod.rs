//! `ipconform bench`: every speed figure the project promises, each with
//! its bound and whether it holds, printed as a table and written as JSON
//! so that two runs can be compared.
//!
//! The server is measured apart from the client. The emulator runs as a
//! process of its own (`ipconform emulate`, as users run it) and is driven
//! by a load generator ([`loadgen`]) that sends requests signed before the
//! clock starts, over keep-alive connections, from a runtime of its own:
//! the client then costs next to nothing, so cycles/s are the server's.
//! The harness's own cost is measured apart too, beside a bare client
//! sending the same requests. Start-up, the whole suite and the test
//! commands are measured as the processes a user starts.
//!
//! Absolute numbers depend on the machine, so every bound that can be is a
//! ratio against a baseline measured in the same run on the same server:
//! signed cycles against the trivial `/healthz` route, the harness against
//! the bare client, nextest against `cargo test`. Each figure is the median
//! of rounds measured side by side, which keeps one noisy round from
//! deciding a verdict. Timed tests would flake on shared CI machines; this
//! command measures and reports, it never fails a build.

mod loadgen;
mod process;
pub mod report;
mod world;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::case::{self, CaseFile};
use crate::dialect::DialectId;
use crate::emulator::world::WorldFile;
use crate::run::Selection;
use crate::runner::{Endpoint, Outcome as CaseOutcome, Runner};
use crate::spec::SpecSet;
use loadgen::{Check, Work};
use process::Server;
use report::{Bound, Figure, Report, Unit};
use world::Layout;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("failed to set up the benchmark: {0}")]
    Setup(String),
    #[error("a benchmark request failed: {0}")]
    Request(String),
    #[error("failed to read the run to compare with: {0}")]
    Compare(String),
    #[error("failed to write the bench report {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

fn setup(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// The sections, by the names `--only` takes.
pub const SECTIONS: &[&str] = &[
    "throughput",
    "describe",
    "harness",
    "loading",
    "startup",
    "suite",
    "toolchain",
    "crowded",
    "memory",
];

/// What `ipconform bench` was asked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Shorter windows and fewer rounds; the test commands are skipped.
    pub quick: bool,
    /// One section of [`SECTIONS`].
    pub only: Option<String>,
    /// Where the JSON goes (default `target/ipconform-bench/bench-<time>.json`).
    pub json: Option<PathBuf>,
    /// An earlier run's JSON to print each figure beside.
    pub compare: Option<PathBuf>,
}

/// What a run produced, for `main` to print.
pub struct Outcome {
    pub report: Report,
    /// The tables.
    pub table: String,
    pub json: PathBuf,
    /// The comparison with `--compare`'s run.
    pub comparison: Option<String>,
}

/// How long and how often to measure.
struct Budget {
    window: Duration,
    rounds: usize,
    describe_samples: usize,
    harness_steps: usize,
    harness_rounds: usize,
    healthz_requests: usize,
    load_rounds: usize,
    spawn_rounds: usize,
    suite_rounds: usize,
    toolchain: bool,
    memory_requests: u64,
}

impl Budget {
    fn new(quick: bool, only: Option<&str>) -> Budget {
        if quick {
            Budget {
                window: Duration::from_millis(250),
                rounds: 1,
                describe_samples: 200,
                harness_steps: 200,
                harness_rounds: 5,
                healthz_requests: 1000,
                load_rounds: 1,
                spawn_rounds: 3,
                suite_rounds: 1,
                // The test commands build a debug profile: minutes, not
                // seconds, on a cold machine; asked for by name only.
                toolchain: only == Some("toolchain"),
                memory_requests: 100_000,
            }
        } else {
            Budget {
                window: Duration::from_millis(300),
                rounds: 9,
                describe_samples: 1000,
                harness_steps: 200,
                harness_rounds: 15,
                healthz_requests: 5000,
                load_rounds: 3,
                spawn_rounds: 7,
                suite_rounds: 3,
                toolchain: true,
                memory_requests: 1_000_000,
            }
        }
    }
}

/// One run's state: where to find things, and the figures so far.
struct Bench<'p> {
    budget: Budget,
    /// This very binary: it is the emulator and the CLI being measured.
    exe: PathBuf,
    root: PathBuf,
    progress: &'p dyn Fn(&str),
    figures: Vec<Figure>,
    /// Units per second last seen per (dialect or `/healthz`, connections,
    /// server), to sign enough requests for a window and not many more.
    estimates: HashMap<(Option<DialectId>, usize, SocketAddr), f64>,
    /// The load generator's CPU per `/healthz` request, in µs, per window.
    client_cpu: Vec<f64>,
}

/// Runs the bench (or one section), writes its JSON, and returns the
/// tables. `progress` hears what is being measured, for a long run.
pub async fn run(options: &Options, progress: &dyn Fn(&str)) -> Result<Outcome, BenchError> {
    let only = options.only.as_deref();
    if let Some(name) = only {
        if !SECTIONS.contains(&name) {
            return Err(setup(format!(
                "unknown section `{name}`; sections: {}",
                SECTIONS.join(", ")
            )));
        }
    }
    // Read the old run and make the report's folder first: failing after
    // minutes of measuring would waste them.
    let old = match &options.compare {
        Some(path) => Some(report::read(path).map_err(BenchError::Compare)?),
        None => None,
    };
    let started = chrono::Utc::now();
    let root = project_root();
    let json = options.json.clone().unwrap_or_else(|| {
        target_dir(&root)
            .join("ipconform-bench")
            .join(format!("bench-{}.json", started.format("%Y%m%d-%H%M%S")))
    });
    if let Some(dir) = json.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| BenchError::Write {
            path: json.display().to_string(),
            source,
        })?;
    }
    let clock = Instant::now();
    let load_before = load_average();
    let mut bench = Bench {
        budget: Budget::new(options.quick, only),
        exe: std::env::current_exe().map_err(setup)?,
        root,
        progress,
        figures: Vec::new(),
        estimates: HashMap::new(),
        client_cpu: Vec::new(),
    };
    let wanted = |name: &str| only.is_none_or(|o| o == name);
    if wanted("throughput") {
        bench.throughput().await?;
    }
    if wanted("describe") {
        bench.describe().await?;
    }
    if wanted("harness") {
        bench.harness().await?;
    }
    if wanted("loading") {
        bench.loading()?;
    }
    if wanted("startup") {
        bench.startup()?;
    }
    if wanted("suite") {
        bench.suite()?;
    }
    if wanted("toolchain") {
        bench.toolchain();
    }
    if wanted("crowded") {
        bench.crowded().await?;
    }
    if wanted("memory") {
        bench.memory().await?;
    }
    let report = Report {
        schema_version: report::SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        seconds: clock.elapsed().as_secs_f64(),
        quick: options.quick,
        only: options.only.clone(),
        profile: if cfg!(debug_assertions) {
            "debug (use --release for figures)".into()
        } else {
            "release".into()
        },
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before,
        load_after: load_average(),
        figures: bench.figures,
    };
    let text = serde_json::to_string_pretty(&report).map_err(setup)?;
    std::fs::write(&json, text + "\n").map_err(|source| BenchError::Write {
        path: json.display().to_string(),
        source,
    })?;
    Ok(Outcome {
        table: report::render(&report),
        comparison: old.map(|old| report::compare(&old, &report)),
        report,
        json,
    })
}

/// The checkout the bench reads cases from and runs commands in: the
/// working directory when it is one, else the source tree this binary was
/// built from.
fn project_root() -> PathBuf {
    if Path::new("cases").is_dir() && Path::new("Cargo.toml").is_file() {
        PathBuf::from(".")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The 1-, 5- and 15-minute load averages (Linux).
fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The `q` quantile (0..=1) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 100000 as `100,000`, for labels.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn healthz_request(host: &str) -> Bytes {
    loadgen::serialize("GET", "/healthz", host, &[], None)
}

impl Bench<'_> {
    fn say(&self, what: &str) {
        (self.progress)(what);
    }

    fn server(&self, name: &str, layout: Layout) -> Result<Server, BenchError> {
        Server::start(&self.exe, name, &world::world_yaml(&layout)).map_err(setup)
    }

    /// Requests per connection for a window, from the last rate seen:
    /// half as many again as needed, so a window rarely runs out.
    fn units_per_connection(
        &self,
        key: (Option<DialectId>, usize, SocketAddr),
        guess: f64,
    ) -> usize {
        let total = self.estimates.get(&key).copied().unwrap_or(guess);
        let per = total / key.1 as f64 * self.budget.window.as_secs_f64() * 1.5;
        (per.ceil() as usize).clamp(64, 200_000)
    }

    /// `/healthz` requests per second over `connections`.
    async fn healthz_rate(
        &mut self,
        server: &Server,
        connections: usize,
        window: Duration,
    ) -> Result<f64, BenchError> {
        let key = (None, connections, server.addr);
        let n = self.units_per_connection(key, 60_000.0);
        let (addr, request) = (server.addr, healthz_request(&server.host()));
        let rate = loadgen::on_own_thread(move || async move {
            let work = (0..connections)
                .map(|_| Work {
                    requests: vec![request.clone(); n],
                    unit: 1,
                })
                .collect();
            loadgen::rate(addr, work, Check::Status200, window).await
        })
        .await
        .map_err(BenchError::Request)?;
        self.estimates.insert(key, rate.per_second());
        if let Some(cpu) = rate.client_cpu.filter(|_| rate.units > 0) {
            self.client_cpu
                .push(cpu.as_secs_f64() * 1e6 / rate.units as f64);
        }
        Ok(rate.per_second())
    }

    /// Signed assign+unassign cycles of `dialect` per second over
    /// `connections`, each cycling on an interface of its own.
    async fn cycle_rate(
        &mut self,
        server: &Server,
        dialect: DialectId,
        connections: usize,
        window: Duration,
    ) -> Result<f64, BenchError> {
        let key = (Some(dialect), connections, server.addr);
        let n = self.units_per_connection(key, 15_000.0);
        let (addr, host) = (server.addr, server.host());
        let rate = loadgen::on_own_thread(move || async move {
            // Signed here, just before the window: fresh timestamps, and
            // none of the signing inside the timing.
            let work = (0..connections)
                .map(|i| Work {
                    requests: world::cycle_requests(dialect, &host, i, n),
                    unit: 2,
                })
                .collect();
            loadgen::rate(addr, work, world::check(dialect), window).await
        })
        .await
        .map_err(|e| BenchError::Request(format!("{dialect} cycles: {e}")))?;
        self.estimates.insert(key, rate.per_second());
        Ok(rate.per_second())
    }

    /// Signed cycles of every dialect beside `/healthz`, at 1 and 8
    /// connections, in interleaved rounds on one server.
    async fn throughput(&mut self) -> Result<(), BenchError> {
        let server = self.server(
            "throughput",
            Layout {
                held: 0,
                describe: false,
            },
        )?;
        for connections in [1, world::MAX_CONNECTIONS] {
            // A short round first, not counted: it warms the server and
            // sizes the signed batches of the counted ones.
            let warm = self.budget.window / 4;
            self.say(&format!(
                "throughput: {} (warm-up)",
                plural(connections, "connection")
            ));
            self.healthz_rate(&server, connections, warm).await?;
            for &d in DialectId::ALL {
                self.cycle_rate(&server, d, connections, warm).await?;
            }
            self.client_cpu.clear();
            let mut healthz = Vec::new();
            let mut cycles: HashMap<DialectId, Vec<(f64, f64)>> = HashMap::new();
            for round in 1..=self.budget.rounds {
                self.say(&format!(
                    "throughput: {}, round {round} of {}",
                    plural(connections, "connection"),
                    self.budget.rounds
                ));
                let window = self.budget.window;
                for &d in DialectId::ALL {
                    // Each dialect's window right after a /healthz window
                    // of its own: a machine that slows down meanwhile
                    // slows both sides of the ratio alike.
                    let h = self.healthz_rate(&server, connections, window).await?;
                    let c = self.cycle_rate(&server, d, connections, window).await?;
                    healthz.push(h);
                    // Requests against requests: a cycle is two signed ones.
                    cycles.entry(d).or_default().push((c, 2.0 * c / h));
                }
            }
            let conns = plural(connections, "connection");
            let client = match std::mem::take(&mut self.client_cpu) {
                v if v.is_empty() => String::new(),
                v => format!(
                    "; the load generator's own CPU: {:.1} µs a request",
                    median(v)
                ),
            };
            self.figures.push(
                Figure::new(
                    format!("healthz.c{connections}"),
                    format!("/healthz (the trivial route of the same server), {conns}"),
                    median(healthz),
                    Unit::PerSecond,
                )
                .higher_is_better()
                .detail(format!(
                    "requests; the baseline of the cycles below{client}"
                )),
            );
            for &d in DialectId::ALL {
                let runs = cycles.remove(&d).unwrap_or_default();
                let rate = median(runs.iter().map(|r| r.0).collect());
                let ratio = median(runs.iter().map(|r| r.1).collect());
                let mut figure = Figure::new(
                    format!("cycles.c{connections}.{d}"),
                    format!("{d}: signed assign+unassign cycles, {conns}"),
                    ratio,
                    Unit::Times,
                )
                .higher_is_better()
                .detail(format!(
                    "{rate:.0} cycles/s = {:.0} signed requests/s, over /healthz requests/s",
                    2.0 * rate
                ));
                if connections == world::MAX_CONNECTIONS {
                    figure = figure.bound(Bound::at_least(0.5));
                }
                self.figures.push(figure);
            }
        }
        Ok(())
    }

    /// Latencies of `n` requests on one connection, after `n / 10` not
    /// counted (a fresh connection and cold caches).
    async fn latencies(
        addr: SocketAddr,
        requests: impl FnOnce() -> Vec<Bytes> + Send + 'static,
        check: Check,
    ) -> Result<Vec<f64>, BenchError> {
        let times = loadgen::on_own_thread(move || async move {
            let requests = requests();
            loadgen::latencies(addr, &requests, check).await
        })
        .await
        .map_err(BenchError::Request)?;
        let skip = times.len() / 11;
        let mut v: Vec<f64> = times[skip..].iter().map(|d| ms(*d)).collect();
        v.sort_by(f64::total_cmp);
        Ok(v)
    }

    /// Each dialect's Describe of interfaces holding 10, 100 and 1,000
    /// secondaries: sequential, pre-signed, on one connection.
    async fn describe(&mut self) -> Result<(), BenchError> {
        let server = self.server(
            "describe",
            Layout {
                held: 0,
                describe: true,
            },
        )?;
        let (addr, host) = (server.addr, server.host());
        let n = self.budget.describe_samples + self.budget.describe_samples / 10;
        let request = healthz_request(&host);
        let healthz = Self::latencies(addr, move || vec![request; n], Check::Status200).await?;
        let healthz_p50 = quantile(&healthz, 0.5);
        for &d in DialectId::ALL {
            for &size in &world::DESCRIBE_SIZES {
                self.say(&format!("describe: {d}, {size} secondaries"));
                // Once, untimed: the reply lists the interface's last
                // address, so the figure is of a reply with all of them.
                let probe = world::describe_requests(d, &host, size, 1);
                let body = loadgen::on_own_thread(move || async move {
                    loadgen::fetch(addr, &probe[0], world::check(d)).await
                })
                .await
                .map_err(BenchError::Request)?;
                let marker = world::describe_marker(d, size);
                if !String::from_utf8_lossy(&body).contains(&marker) {
                    return Err(BenchError::Request(format!(
                        "{d}: the Describe of the interface holding {size} does not list {marker}"
                    )));
                }
                let h = host.clone();
                let v = Self::latencies(
                    addr,
                    move || world::describe_requests(d, &h, size, n),
                    world::check(d),
                )
                .await?;
                let (p50, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
                let operation = world::describe_call(d, size).0;
                if size == 1000 {
                    self.figures.push(
                        Figure::new(
                            format!("describe.{d}"),
                            format!("{d}: {operation} of an interface with 1,000 secondaries, server time (p50)"),
                            p50,
                            Unit::Ms,
                        )
                        .bound(Bound::at_most(0.5))
                        .detail(format!(
                            "p99 {p99:.3} ms, {} KiB reply; /healthz p50 {healthz_p50:.3} ms on the same kind of connection",
                            body.len() / 1024
                        )),
                    );
                }
                self.figures.push(
                    Figure::new(format!("describe.{size}.{d}"), "", p50, Unit::Ms).growth(
                        format!("{d}: {operation} p50, by secondaries on the interface"),
                        thousands(u64::from(size)),
                    ),
                );
            }
        }
        Ok(())
    }

    /// The harness running a case of Describe steps, beside a bare client
    /// signing and sending the same requests; and the bare client alone on
    /// `/healthz`.
    async fn harness(&mut self) -> Result<(), BenchError> {
        let layout = Layout {
            held: 0,
            describe: true,
        };
        let world =
            WorldFile::from_yaml(&world::world_yaml(&layout), "the bench world").map_err(setup)?;
        let server = self.server("harness", layout)?;
        let (base, host) = (server.base_url(), server.host());
        let steps = self.budget.harness_steps;
        let file = harness_case(steps)?;
        let case = file
            .cases
            .first()
            .ok_or_else(|| setup("the harness case has no case"))?;
        let runner = Runner::new(SpecSet::embedded());
        let endpoint = Endpoint {
            target: "emulator",
            base_url: &base,
            fixtures: &world.fixtures,
            signing: None,
            powers: crate::target::EMULATOR_POWERS,
            policy: &crate::runner::ClientPolicy::DEFAULT,
            observer: None,
        };
        // The runner's own client settings (`Runner::new`): the bare loop
        // differs from the harness only in what the harness adds.
        let bare = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(setup)?;
        let (operation, params) = world::describe_call(DialectId::AlibabaEcs, 10);
        let bare_steps = |n: usize| {
            let (bare, base, host, params) = (&bare, &base, &host, &params);
            async move {
                for _ in 0..n {
                    let wire = world::signed_wire(DialectId::AlibabaEcs, host, operation, params);
                    let response = bare
                        .get(format!("{base}{}", wire.path_and_query))
                        .send()
                        .await
                        .map_err(|e| BenchError::Request(e.to_string()))?;
                    let status = response.status();
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| BenchError::Request(e.to_string()))?;
                    if status != reqwest::StatusCode::OK {
                        return Err(BenchError::Request(format!(
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&body)
                        )));
                    }
                }
                Ok::<(), BenchError>(())
            }
        };
        // Not counted: the first connections and the specs' first use.
        let _ = runner.run_case(&file, case, &endpoint).await;
        bare_steps(20).await?;
        let (mut harness, mut bare_ms, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=self.budget.harness_rounds {
            self.say(&format!(
                "harness: {steps} Describe steps, round {round} of {}",
                self.budget.harness_rounds
            ));
            // Which goes first alternates, so that neither always meets
            // the machine as the other left it.
            let mut b = 0.0;
            if round % 2 == 0 {
                let started = Instant::now();
                bare_steps(steps).await?;
                b = ms(started.elapsed()) / steps as f64;
            }
            let started = Instant::now();
            let result = runner.run_case(&file, case, &endpoint).await;
            let h = ms(started.elapsed()) / steps as f64;
            if result.outcome != CaseOutcome::Conforms {
                return Err(BenchError::Request(crate::report::failure_text(&result)));
            }
            if round % 2 == 1 {
                let started = Instant::now();
                bare_steps(steps).await?;
                b = ms(started.elapsed()) / steps as f64;
            }
            harness.push(h);
            bare_ms.push(b);
            ratios.push(h / b);
        }
        let (h, b) = (median(harness), median(bare_ms));
        self.figures.push(
            Figure::new(
                "bare.step",
                "bare client step: sign a DescribeNetworkInterfaces, send it, read the reply",
                b,
                Unit::Ms,
            )
            .detail(
                "reqwest with the runner's settings; alibaba-ecs, an interface with 10 secondaries",
            ),
        );
        self.figures.push(
            Figure::new(
                "harness.step",
                "harness step, checks included (render, sign, send, decode, expectations, schema)",
                median(ratios),
                Unit::Times,
            )
            .bound(Bound::at_most(1.2))
            .detail(format!(
                "{h:.3} ms a step, over the bare client's {b:.3} ms"
            )),
        );
        self.say("harness: the bare client on /healthz");
        let url = format!("{base}/healthz");
        let n = self.budget.healthz_requests;
        let mut rounds = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            for _ in 0..n {
                let response = bare
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| BenchError::Request(e.to_string()))?;
                response
                    .bytes()
                    .await
                    .map_err(|e| BenchError::Request(e.to_string()))?;
            }
            rounds.push(ms(started.elapsed()) / n as f64);
        }
        let request = healthz_request(&host);
        let floor =
            Self::latencies(server.addr, move || vec![request; n], Check::Status200).await?;
        self.figures.push(
            Figure::new(
                "bare.healthz",
                "bare client, one request to /healthz after another",
                median(rounds),
                Unit::Ms,
            )
            .bound(Bound::at_most(0.1))
            .detail(format!(
                "the load generator's p50 on the same route: {:.3} ms",
                quantile(&floor, 0.5)
            )),
        );
        Ok(())
    }

    /// Loading and linting 100, 1,000 and 10,000 case files of one case
    /// each, cut from the project's own.
    fn loading(&mut self) -> Result<(), BenchError> {
        let single = single_case_files(&self.root)?;
        let specs = SpecSet::embedded();
        let world = WorldFile::builtin().map_err(setup)?;
        for count in [100, 1000, 10_000] {
            self.say(&format!("loading: {} case files", thousands(count as u64)));
            let rounds = if count > 1000 {
                1
            } else {
                self.budget.load_rounds
            };
            let loaded = load_copies(&single, specs, &world, count, rounds)?;
            if count == 1000 {
                self.figures.push(
                    Figure::new(
                        "load.1000",
                        "load + lint 1,000 case files of one case each",
                        loaded.ms,
                        Unit::Ms,
                    )
                    .bound(Bound::at_most(100.0))
                    .detail(format!("{} findings", loaded.findings)),
                );
            }
            self.figures.push(
                Figure::new(format!("load.{count}.growth"), "", loaded.ms, Unit::Ms)
                    .growth("load + lint, by case files", thousands(count as u64)),
            );
        }
        Ok(())
    }

    /// Runs `args` of this binary in the checkout `spawn_rounds` times
    /// after one not counted: the median wall time, the exit code, and the
    /// larger peak memory of two more runs under GNU time.
    fn spawned(&self, args: &[&str]) -> Result<(f64, Option<u64>, Option<i32>), BenchError> {
        let mut walls = Vec::new();
        let mut code = None;
        for round in 0..=self.budget.spawn_rounds {
            let exit = process::measure(Command::new(&self.exe).args(args).current_dir(&self.root))
                .map_err(setup)?;
            if round > 0 {
                walls.push(ms(exit.wall));
                code = exit.code;
            }
        }
        let rss = (0..2)
            .map(|_| process::peak_rss_kib(&self.exe, args, &self.root))
            .max()
            .flatten();
        Ok((median(walls), rss, code))
    }

    /// One case run, and one case file linted, as processes.
    fn startup(&mut self) -> Result<(), BenchError> {
        let files = case::load_dir(&self.root.join("cases")).map_err(setup)?;
        let (file, case) = one_case(&files).ok_or_else(|| setup("the project has no case"))?;
        let address = Selection::address(file, case);
        let tmp = TempDir::new("startup")?;
        let reports = tmp.path.join("reports");
        let cases = tmp.path.join("cases");
        let dialect_dir = cases.join(file.dialect.as_str());
        std::fs::create_dir_all(&dialect_dir).map_err(setup)?;
        std::fs::write(
            dialect_dir.join(format!("{}.yaml", file.group)),
            single_text(file, case),
        )
        .map_err(setup)?;
        self.say(&format!("startup: ipconform run --filter {address}"));
        let reports = reports.display().to_string();
        let run = self.spawned(&["run", "--filter", &address, "--report-dir", &reports])?;
        self.say("startup: ipconform lint of one case file");
        let cases = cases.display().to_string();
        let lint = self.spawned(&["lint", "--cases", &cases])?;
        for (what, id, (wall, rss, code)) in [
            (
                format!("`ipconform run` of one case ({address})"),
                "run",
                run,
            ),
            (
                "`ipconform lint` of one case file".to_string(),
                "lint",
                lint,
            ),
        ] {
            let exit = match code {
                Some(0) => "exit 0".to_string(),
                Some(c) => format!("exit {c}: it did not succeed"),
                None => "ended by a signal".to_string(),
            };
            self.figures.push(
                Figure::new(
                    format!("startup.{id}.wall"),
                    format!("{what}: wall time"),
                    wall,
                    Unit::Ms,
                )
                .bound(Bound::at_most(15.0))
                .detail(format!("median of {}, {exit}", self.budget.spawn_rounds)),
            );
            self.figures.push(match rss {
                Some(kib) => Figure::new(
                    format!("startup.{id}.rss"),
                    format!("{what}: peak memory of the process"),
                    kib as f64 / 1024.0,
                    Unit::Mib,
                )
                .bound(Bound::at_most(25.0)),
                None => Figure::not_measured(
                    format!("startup.{id}.rss"),
                    format!("{what}: peak memory of the process"),
                    Unit::Mib,
                    "needs GNU time at /usr/bin/time (Debian: apt-get install time)",
                ),
            });
        }
        Ok(())
    }

    /// `ipconform run` of the whole suite on the embedded emulator.
    fn suite(&mut self) -> Result<(), BenchError> {
        let tmp = TempDir::new("suite")?;
        let reports = tmp.path.join("reports").display().to_string();
        let mut walls = Vec::new();
        let mut code = None;
        for round in 1..=self.budget.suite_rounds {
            self.say(&format!(
                "suite: ipconform run, round {round} of {}",
                self.budget.suite_rounds
            ));
            let exit = process::measure(
                Command::new(&self.exe)
                    .args(["run", "--report-dir", &reports])
                    .current_dir(&self.root),
            )
            .map_err(setup)?;
            walls.push(exit.wall.as_secs_f64());
            code = exit.code;
        }
        let verdict = match code {
            Some(0) => "every case conforms".to_string(),
            Some(1) => "exit 1: some case does not conform".to_string(),
            Some(c) => format!("exit {c}: the run failed"),
            None => "ended by a signal".to_string(),
        };
        self.figures.push(
            Figure::new(
                "suite.run",
                "`ipconform run` of the whole suite, every dialect, embedded emulator",
                median(walls),
                Unit::Seconds,
            )
            .bound(Bound::below(1.0))
            .detail(verdict),
        );
        Ok(())
    }

    /// `cargo test --test conformance` and `cargo nextest run` of the same
    /// suite, after a build that is not timed.
    fn toolchain(&mut self) {
        const TEST: &str = "toolchain.cargo-test";
        const NEXTEST: &str = "toolchain.nextest";
        let test_label = "`cargo test --test conformance` (dev profile, after the build)";
        let nextest_label = "`cargo nextest run --test conformance` (one process per trial, `--exact`), over `cargo test`";
        let skip = |why: &str| {
            vec![
                Figure::not_measured(TEST, test_label, Unit::Seconds, why),
                Figure::not_measured(NEXTEST, nextest_label, Unit::Times, why),
            ]
        };
        if !self.budget.toolchain {
            self.figures.extend(skip(
                "skipped by --quick; `--quick --only toolchain` measures it",
            ));
            return;
        }
        if !self.root.join("Cargo.toml").is_file() || !process::available("cargo", &["--version"]) {
            self.figures
                .extend(skip("needs cargo on PATH and the checkout"));
            return;
        }
        self.say("toolchain: building the conformance tests (not timed)");
        let cargo = |args: &[&str], limit: Duration| {
            process::measure_within(
                Command::new("cargo").args(args).current_dir(&self.root),
                Some(limit),
            )
        };
        let built = cargo(
            &["test", "--test", "conformance", "--no-run", "-q"],
            Duration::from_secs(3600),
        );
        if !matches!(built, Ok((exit, false)) if exit.code == Some(0)) {
            self.figures.extend(skip(
                "`cargo test --test conformance --no-run` failed; run it to see why",
            ));
            return;
        }
        let nextest = process::available("cargo", &["nextest", "--version"]);
        let (mut tests, mut nextests, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut failed, mut cut) = (false, None);
        for round in 1..=self.budget.suite_rounds {
            self.say(&format!(
                "toolchain: cargo test{}, round {round} of at most {}",
                if nextest { " and cargo nextest" } else { "" },
                self.budget.suite_rounds
            ));
            let round_started = Instant::now();
            let test = match cargo(
                &["test", "--test", "conformance", "-q"],
                Duration::from_secs(600),
            ) {
                Ok((exit, false)) => exit,
                _ => {
                    failed = true;
                    break;
                }
            };
            failed |= test.code != Some(0);
            tests.push(test.wall.as_secs_f64());
            if nextest {
                // Long enough to tell whether 3 x holds, bounded so that a
                // slow nextest cannot hold the bench for many minutes.
                let limit = (test.wall * 10).max(Duration::from_secs(60));
                let Ok((run, stopped)) = cargo(
                    &["nextest", "run", "--test", "conformance", "--no-fail-fast"],
                    limit,
                ) else {
                    failed = true;
                    break;
                };
                nextests.push(run.wall.as_secs_f64());
                ratios.push(run.wall.as_secs_f64() / test.wall.as_secs_f64());
                if stopped {
                    cut = Some(limit);
                    break;
                }
                failed |= run.code != Some(0);
            }
            // Rounds of minutes add little but minutes.
            if round_started.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        let note = if failed {
            "; some trial failed or a command did not run"
        } else {
            ""
        };
        if tests.is_empty() {
            self.figures
                .extend(skip("`cargo test --test conformance` did not finish"));
            return;
        }
        let rounds = tests.len();
        let test = median(tests);
        self.figures.push(
            Figure::new(TEST, test_label, test, Unit::Seconds)
                .bound(Bound::below(2.0))
                .detail(format!(
                    "wall time, cargo's own included; median of {rounds}{note}"
                )),
        );
        self.figures.push(if nextest && !ratios.is_empty() {
            let (ratio, seconds) = (median(ratios), median(nextests));
            let detail = match cut {
                Some(limit) => format!(
                    "at least: stopped at {:.0} s; cargo test {test:.2} s{note}",
                    limit.as_secs_f64()
                ),
                None => format!("nextest {seconds:.2} s, cargo test {test:.2} s{note}"),
            };
            Figure::new(NEXTEST, nextest_label, ratio, Unit::Times)
                .bound(Bound::at_most(3.0))
                .detail(detail)
        } else {
            Figure::not_measured(
                NEXTEST,
                nextest_label,
                Unit::Times,
                "cargo-nextest is not installed",
            )
        });
    }

    /// ECS cycles at 8 connections in a vSwitch where 10, 1,000 and
    /// 100,000 secondaries are held: three servers, interleaved rounds.
    async fn crowded(&mut self) -> Result<(), BenchError> {
        let sizes = [10u32, 1000, 100_000];
        let mut servers = Vec::new();
        for held in sizes {
            self.say(&format!(
                "crowded: starting a world holding {} secondaries",
                thousands(held.into())
            ));
            servers.push(self.server(
                &format!("crowded-{held}"),
                Layout {
                    held,
                    describe: false,
                },
            )?);
        }
        let (connections, ecs) = (world::MAX_CONNECTIONS, DialectId::AlibabaEcs);
        for server in &servers {
            self.cycle_rate(server, ecs, connections, self.budget.window / 4)
                .await?;
        }
        let mut rates = vec![Vec::new(); sizes.len()];
        for round in 1..=self.budget.rounds {
            self.say(&format!("crowded: round {round} of {}", self.budget.rounds));
            for (i, server) in servers.iter().enumerate() {
                rates[i].push(
                    self.cycle_rate(server, ecs, connections, self.budget.window)
                        .await?,
                );
            }
        }
        for (held, rates) in sizes.into_iter().zip(rates) {
            self.figures.push(
                Figure::new(
                    format!("crowded.{held}"),
                    "",
                    median(rates),
                    Unit::PerSecond,
                )
                .higher_is_better()
                .growth(
                    "alibaba-ecs cycles/s at 8 connections, by secondaries held in the vSwitch",
                    thousands(held.into()),
                ),
            );
        }
        Ok(())
    }

    /// The emulator's resident memory as signed ECS cycles go by.
    async fn memory(&mut self) -> Result<(), BenchError> {
        let total = self.budget.memory_requests;
        let series = "emulator memory (RSS), by signed requests served";
        let server = self.server(
            "memory",
            Layout {
                held: 0,
                describe: false,
            },
        )?;
        let Some(start) = server.rss_kib() else {
            self.figures.push(
                Figure::not_measured("memory.0", "", Unit::Mib, "this OS does not report it")
                    .growth(series, "0"),
            );
            return Ok(());
        };
        let checkpoints = [0, total / 10, total];
        // (checkpoint, requests actually served when read, RSS in KiB)
        let mut seen = vec![(0u64, 0u64, start)];
        let connections = world::MAX_CONNECTIONS;
        // Signed in batches: a million signed requests at once would be
        // the client's memory, half a gigabyte.
        let per_conn = ((total / 10) / 2 / connections as u64).clamp(1, 2500) as usize;
        let mut sent = 0u64;
        while sent < total {
            self.say(&format!(
                "memory: {} of {} requests",
                thousands(sent),
                thousands(total)
            ));
            let (addr, host) = (server.addr, server.host());
            let rate = loadgen::on_own_thread(move || async move {
                let work = (0..connections)
                    .map(|i| Work {
                        requests: world::cycle_requests(DialectId::AlibabaEcs, &host, i, per_conn),
                        unit: 2,
                    })
                    .collect();
                loadgen::rate(addr, work, Check::Status200, Duration::from_secs(3600)).await
            })
            .await
            .map_err(BenchError::Request)?;
            sent += rate.units * 2;
            for &point in &checkpoints {
                if sent >= point && !seen.iter().any(|s| s.0 == point) {
                    seen.push((point, sent, server.rss_kib().unwrap_or(0)));
                }
            }
        }
        let peak = server.peak_kib();
        for (point, at, kib) in seen {
            let mut figure = Figure::new(
                format!("memory.{point}"),
                "",
                kib as f64 / 1024.0,
                Unit::Mib,
            )
            .growth(series, thousands(point));
            if point == total {
                figure = figure.detail(format!(
                    "after {} requests; peak {}",
                    thousands(at),
                    peak.map_or("unknown".into(), |p| format!(
                        "{:.1} MiB",
                        p as f64 / 1024.0
                    ))
                ));
            }
            self.figures.push(figure);
        }
        Ok(())
    }
}

/// A case of `steps` Describe steps of the ECS interface with 10
/// secondaries, with the checks a real case carries.
fn harness_case(steps: usize) -> Result<CaseFile, BenchError> {
    let (operation, params) = world::describe_call(DialectId::AlibabaEcs, 10);
    let with: Vec<String> = params.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let eni = params
        .iter()
        .find(|(k, _)| k.starts_with("NetworkInterfaceId"))
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let mut yaml = String::from(
        "dialect: alibaba-ecs\nsource: bench\ncases:\n  - id: bench-describe\n    title: bench\n    steps:\n",
    );
    for _ in 0..steps {
        let _ = write!(
            yaml,
            "      - call: {operation}
        with: {{{}}}
        expect:
          status: 200
          body:
            RequestId: {{uuid: true}}
            TotalCount: 1
            NetworkInterfaceSets.NetworkInterfaceSet[0].NetworkInterfaceId: {eni}
            NetworkInterfaceSets.NetworkInterfaceSet[0].PrivateIpSets.PrivateIpSet: {{length: 11}}
",
            with.join(", ")
        );
    }
    case::parse_file(Path::new("bench.yaml"), yaml).map_err(setup)
}

/// The first case whose address no other address contains, so that
/// `--filter` selects it alone.
fn one_case(files: &[CaseFile]) -> Option<(&CaseFile, &case::Case)> {
    let addresses: Vec<String> = files
        .iter()
        .flat_map(|f| f.cases.iter().map(move |c| Selection::address(f, c)))
        .collect();
    files
        .iter()
        .flat_map(|f| f.cases.iter().map(move |c| (f, c)))
        .find(|(f, c)| {
            let a = Selection::address(f, c);
            addresses.iter().filter(|b| b.contains(&a)).count() == 1
        })
}

/// A case cut out of its file as a file of its own, header included.
fn single_text(file: &CaseFile, case: &case::Case) -> String {
    let lines: Vec<&str> = file.text.lines().collect();
    // A JSON string is a YAML string, quoted however the source reads.
    let source = serde_json::Value::from(file.source.as_deref().unwrap_or("bench"));
    let end = case.end_line.min(lines.len());
    let body = lines
        .get(case.line.saturating_sub(1)..end)
        .map(|l| l.join("\n"))
        .unwrap_or_default();
    format!(
        "dialect: {}\nsource: {source}\ncases:\n{body}\n",
        file.dialect
    )
}

/// Every project case cut out as a file of its own.
fn single_case_files(root: &Path) -> Result<Vec<(DialectId, String)>, BenchError> {
    let files = case::load_dir(&root.join("cases")).map_err(setup)?;
    let single: Vec<(DialectId, String)> = files
        .iter()
        .flat_map(|f| f.cases.iter().map(move |c| (f.dialect, single_text(f, c))))
        .collect();
    if single.is_empty() {
        return Err(setup("no case files to copy"));
    }
    Ok(single)
}

struct Loaded {
    ms: f64,
    findings: usize,
}

/// Writes `count` files cycling through `sources` (ids made unique), each
/// in its dialect's folder, then loads and lints them: the median of
/// `rounds`.
fn load_copies(
    sources: &[(DialectId, String)],
    specs: &SpecSet,
    world: &WorldFile,
    count: usize,
    rounds: usize,
) -> Result<Loaded, BenchError> {
    let tmp = TempDir::new(&format!("load-{count}"))?;
    for i in 0..count {
        let (dialect, text) = &sources[i % sources.len()];
        let cases_dir = tmp.path.join(dialect.as_str());
        std::fs::create_dir_all(&cases_dir).map_err(setup)?;
        // Unique ids per copy: the loader rejects an id used twice.
        let text = text.replace("- id: ", &format!("- id: c{i}-"));
        std::fs::write(cases_dir.join(format!("c{i:05}.yaml")), text).map_err(setup)?;
    }
    let mut samples = Vec::new();
    let mut findings = 0;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let files = case::load_dir(&tmp.path).map_err(setup)?;
        findings = crate::lint::lint(specs, &files, &world.fixtures).len();
        samples.push(ms(started.elapsed()));
    }
    Ok(Loaded {
        ms: median(samples),
        findings,
    })
}

/// A folder under the system's temporary one, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(name: &str) -> Result<TempDir, BenchError> {
        let path =
            std::env::temp_dir().join(format!("ipconform-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(setup)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn the_harness_case_parses() {
        let file = harness_case(3).unwrap();
        assert_eq!(file.cases[0].steps.len(), 3);
    }
}
