//! `ipconform bench`: the figures the project promises, measured side by
//! side in one run and printed as a table.
//!
//! Absolute numbers depend on the machine, so every bound that can be is a
//! ratio against a baseline measured in the same run, on the same server
//! and runtime: cycles against `/healthz`, a crowded vSwitch against an
//! empty one, the harness against a bare client loop sending the same
//! requests. Each figure is the median of several rounds, which keeps one
//! noisy round from deciding a verdict. Timed tests would flake on shared
//! CI machines; this command measures and reports, it never fails a build.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::case::{self, CaseFile};
use crate::dialect::{Call, CallContext, DialectId, Method};
use crate::emulator::world::{AssignRequest, Scope, Visibility, World, WorldFile, BENCH_REGION};
use crate::emulator::{self, EmulatorState, RunningEmulator};
use crate::fixtures::Credentials;
use crate::runner::{Endpoint, Outcome, Runner};
use crate::spec::SpecSet;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("failed to set up the benchmark: {0}")]
    Setup(String),
    #[error("a benchmark request failed: {0}")]
    Request(String),
}

fn setup(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// How long and how often to measure.
struct Budget {
    window: Duration,
    rounds: usize,
    describe_samples: usize,
    harness_steps: usize,
    world_cycles: usize,
}

/// One line of the table.
struct Row {
    what: String,
    figure: String,
    bound: String,
    holds: Option<bool>,
}

/// The sections, by the names `--only` takes.
pub const SECTIONS: &[&str] = &["throughput", "describe", "allocation", "harness", "loading"];

pub async fn run(quick: bool, only: Option<&str>) -> Result<String, BenchError> {
    if let Some(name) = only {
        if !SECTIONS.contains(&name) {
            return Err(setup(format!(
                "unknown section `{name}`; sections: {}",
                SECTIONS.join(", ")
            )));
        }
    }
    let wanted = |name: &str| only.is_none_or(|o| o == name);
    let budget = if quick {
        Budget {
            window: Duration::from_millis(200),
            rounds: 1,
            describe_samples: 50,
            harness_steps: 100,
            world_cycles: 20_000,
        }
    } else {
        Budget {
            window: Duration::from_millis(1500),
            rounds: 3,
            describe_samples: 500,
            harness_steps: 1000,
            world_cycles: 200_000,
        }
    };
    let root = project_root();
    let specs = SpecSet::load_dir(&root.join("specs")).map_err(setup)?;
    let mut rows = Vec::new();
    if wanted("throughput") {
        throughput(&budget, &mut rows).await?;
    }
    if wanted("describe") {
        describe_large(&budget, &mut rows).await?;
    }
    if wanted("allocation") {
        allocation(&budget, &mut rows)?;
    }
    if wanted("harness") {
        harness_overhead(&budget, &specs, &mut rows).await?;
    }
    if wanted("loading") {
        loading(&root, &specs, &mut rows)?;
    }
    Ok(render(&rows, quick))
}

/// The checkout the bench reads specs and cases from: the working
/// directory when it is one, else the source tree this binary was built from.
fn project_root() -> PathBuf {
    if Path::new("specs").is_dir() && Path::new("cases").is_dir() {
        PathBuf::from(".")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

fn render(rows: &[Row], quick: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ipconform bench{} — {} build, {} cores",
        if quick { " --quick" } else { "" },
        if cfg!(debug_assertions) {
            "debug (use --release for figures)"
        } else {
            "release"
        },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| measure | figure | bound | holds |");
    let _ = writeln!(out, "|---|---|---|---|");
    for row in rows {
        let holds = match row.holds {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.what, row.figure, row.bound, holds
        );
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn bench_world(cidr: &str, enis: usize) -> Result<WorldFile, BenchError> {
    Ok(WorldFile::single_subnet(cidr.parse().map_err(setup)?, enis))
}

async fn serve(world: &WorldFile) -> Result<RunningEmulator, BenchError> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    emulator::start(world, loopback).await.map_err(setup)
}

fn credentials(world: &WorldFile) -> Result<Credentials, BenchError> {
    world
        .fixtures_of(DialectId::AlibabaEcs)
        .credentials
        .get("default")
        .cloned()
        .ok_or_else(|| setup("the bench world has no default credentials"))
}

/// A signed request URL, built the way the runner builds it.
fn signed_url(
    base: &str,
    creds: &Credentials,
    operation: &str,
    params: &[(String, String)],
) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let host = base.trim_start_matches("http://");
    let wire = DialectId::AlibabaEcs.client().encode(&Call {
        operation,
        params,
        headers: &[],
        credentials: creds,
        context: CallContext {
            host,
            now: chrono::Utc::now(),
            nonce: &nonce,
            signing: "v1",
            method: Method::Get,
        },
    });
    format!("{base}{}", wire.path_and_query)
}

fn p(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

async fn get_ok(http: &reqwest::Client, url: String) -> Result<bytes::Bytes, BenchError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| BenchError::Request(e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| BenchError::Request(e.to_string()))?;
    if !status.is_success() {
        return Err(BenchError::Request(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(body)
}

/// One assign (count 1) and the unassign of what it got, on `eni`.
async fn cycle(
    http: &reqwest::Client,
    base: &str,
    creds: &Credentials,
    eni: &str,
) -> Result<(), BenchError> {
    let body = get_ok(
        http,
        signed_url(
            base,
            creds,
            "AssignPrivateIpAddresses",
            &[
                p("RegionId", "cn-hangzhou"),
                p("NetworkInterfaceId", eni),
                p("SecondaryPrivateIpAddressCount", "1"),
            ],
        ),
    )
    .await?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| BenchError::Request(e.to_string()))?;
    let ip = value
        .pointer("/AssignedPrivateIpAddressesSet/PrivateIpSet/PrivateIpAddress/0")
        .and_then(|v| v.as_str())
        .ok_or_else(|| BenchError::Request(format!("no assigned IP in {value}")))?
        .to_string();
    get_ok(
        http,
        signed_url(
            base,
            creds,
            "UnassignPrivateIpAddresses",
            &[
                p("RegionId", "cn-hangzhou"),
                p("NetworkInterfaceId", eni),
                p("PrivateIpAddress.1", ip),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Operations per second with `connections` loops running for `window`.
async fn rate<F, Fut>(connections: usize, window: Duration, op: F) -> Result<f64, BenchError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BenchError>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let op = Arc::clone(&op);
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while started.elapsed() < window {
                op(worker).await?;
                done += 1;
            }
            Ok::<u64, BenchError>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task
            .await
            .map_err(|e| BenchError::Request(e.to_string()))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn throughput(budget: &Budget, rows: &mut Vec<Row>) -> Result<(), BenchError> {
    let world = bench_world("10.0.0.0/16", 8)?;
    let creds = Arc::new(credentials(&world)?);
    let server = serve(&world).await?;
    let base: Arc<str> = server.base_url().into();
    for connections in [1usize, 8] {
        let mut healthz = Vec::new();
        let mut cycles = Vec::new();
        for _ in 0..budget.rounds {
            // A fresh client per measure: `connections` loops open that
            // many pooled connections, none left over from the other.
            let http = reqwest::Client::new();
            let url = format!("{base}/healthz");
            healthz.push(
                rate(connections, budget.window, move |_| {
                    let http = http.clone();
                    let url = url.clone();
                    async move { get_ok(&http, url).await.map(|_| ()) }
                })
                .await?,
            );
            let http = reqwest::Client::new();
            let (base, creds) = (Arc::clone(&base), Arc::clone(&creds));
            cycles.push(
                rate(connections, budget.window, move |worker| {
                    let (http, base, creds) = (http.clone(), Arc::clone(&base), Arc::clone(&creds));
                    async move { cycle(&http, &base, &creds, &format!("eni-bench{worker}")).await }
                })
                .await?,
            );
        }
        let (h, c) = (median(healthz), median(cycles));
        rows.push(Row {
            what: format!(
                "/healthz, {connections} connection{}",
                if connections == 1 { "" } else { "s" }
            ),
            figure: format!("{h:.0} req/s"),
            bound: "baseline".into(),
            holds: None,
        });
        rows.push(Row {
            what: format!(
                "signed assign+unassign cycles, {connections} connection{}",
                if connections == 1 { "" } else { "s" }
            ),
            figure: format!("{c:.0} cycles/s = {:.2} x healthz", c / h),
            bound: ">= 0.50 x healthz".into(),
            holds: Some(c / h >= 0.5),
        });
    }
    server.shutdown().await;
    Ok(())
}

async fn describe_large(budget: &Budget, rows: &mut Vec<Row>) -> Result<(), BenchError> {
    let world = bench_world("10.0.0.0/16", 1)?;
    let creds = credentials(&world)?;
    let mut built = World::build(&world).map_err(setup)?;
    built
        .set_eni_secondary_limit("eni-bench0", Some(2000))
        .map_err(setup)?;
    let account = built
        .access_key(&creds.access_key_id)
        .map(|k| k.account.clone())
        .ok_or_else(|| setup("bench key has no account"))?;
    let got = built
        .assign(
            &bench_scope(&account),
            "eni-bench0",
            &AssignRequest {
                count: 1000,
                ..Default::default()
            },
        )
        .map_err(setup)?;
    if got.len() != 1000 {
        return Err(setup(format!("assigned {} of 1000", got.len())));
    }
    let state = Arc::new(EmulatorState::new(built));
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let server = emulator::start_with_state(state, loopback)
        .await
        .map_err(setup)?;
    let base = server.base_url();
    let http = reqwest::Client::new();
    let params = [
        p("RegionId", "cn-hangzhou"),
        p("NetworkInterfaceId.1", "eni-bench0"),
    ];
    let mut samples = Vec::with_capacity(budget.describe_samples);
    let mut body_len = 0;
    for _ in 0..budget.describe_samples {
        let url = signed_url(&base, &creds, "DescribeNetworkInterfaces", &params);
        let started = Instant::now();
        let body = get_ok(&http, url).await?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        body_len = body.len();
    }
    server.shutdown().await;
    let p50 = median(samples.clone());
    samples.sort_by(|a, b| a.total_cmp(b));
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    rows.push(Row {
        what: "DescribeNetworkInterfaces, ENI with 1,000 secondaries (HTTP round trip)".into(),
        figure: format!(
            "p50 {p50:.3} ms, p99 {p99:.3} ms ({} KiB body)",
            body_len / 1024
        ),
        bound: "p50 <= 1 ms".into(),
        holds: Some(p50 <= 1.0),
    });
    Ok(())
}

/// The bench world's only scope: its account through the ECS API.
fn bench_scope(account: &str) -> Scope<'_> {
    Scope {
        account,
        service: DialectId::AlibabaEcs,
        region: Some(BENCH_REGION),
    }
}

/// World-level assign+unassign cycles, no HTTP: the allocator alone.
fn cycles_per_second(world: &mut World, account: &str, n: usize) -> Result<f64, BenchError> {
    let request = AssignRequest {
        count: 1,
        ..Default::default()
    };
    let started = Instant::now();
    for _ in 0..n {
        let ips = world
            .assign(&bench_scope(account), "eni-bench0", &request)
            .map_err(setup)?;
        world
            .unassign(
                &bench_scope(account),
                "eni-bench0",
                &ips,
                Visibility::Immediate,
            )
            .map_err(setup)?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn allocation(budget: &Budget, rows: &mut Vec<Row>) -> Result<(), BenchError> {
    let file = bench_world("10.0.0.0/8", 1)?;
    let creds = credentials(&file)?;
    let mut empty = World::build(&file).map_err(setup)?;
    let mut crowded = World::build(&file).map_err(setup)?;
    let taken = crowded
        .take_addresses("vsw-bench", 1_000_000)
        .map_err(setup)?;
    let account = empty
        .access_key(&creds.access_key_id)
        .map(|k| k.account.clone())
        .ok_or_else(|| setup("bench key has no account"))?;
    let (mut e, mut c) = (Vec::new(), Vec::new());
    // Interleaved rounds, so drift in the machine's speed hits both alike.
    for _ in 0..budget.rounds.max(3) {
        e.push(cycles_per_second(
            &mut empty,
            &account,
            budget.world_cycles,
        )?);
        c.push(cycles_per_second(
            &mut crowded,
            &account,
            budget.world_cycles,
        )?);
    }
    let (e, c) = (median(e), median(c));
    rows.push(Row {
        what: "allocator cycles, empty /8 vSwitch (world level)".into(),
        figure: format!("{:.0} cycles/s ({:.2} µs)", e, 1e6 / e),
        bound: "baseline".into(),
        holds: None,
    });
    rows.push(Row {
        what: format!("allocator cycles, /8 with {taken} addresses taken"),
        figure: format!("{:.0} cycles/s = {:.2} x the empty cost", c, e / c),
        bound: "<= 2 x the empty cost".into(),
        holds: Some(e / c <= 2.0),
    });
    Ok(())
}

/// A case of `steps` steps (assign one, unassign it, ...) with the checks
/// a real case carries.
fn harness_case(steps: usize) -> Result<CaseFile, BenchError> {
    let mut yaml = String::from(
        "dialect: alibaba-ecs\nsource: bench\ncases:\n  - id: bench-cycle\n    title: bench\n    steps:\n",
    );
    for i in 0..steps / 2 {
        let _ = write!(
            yaml,
            "      - call: AssignPrivateIpAddresses
        with: {{RegionId: '{{{{region}}}}', NetworkInterfaceId: eni-bench0, SecondaryPrivateIpAddressCount: 1}}
        expect:
          status: 200
          body:
            RequestId: {{uuid: true}}
            AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress: {{length: 1}}
        capture:
          ip{i}: AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress[0]
      - call: UnassignPrivateIpAddresses
        with: {{RegionId: '{{{{region}}}}', NetworkInterfaceId: eni-bench0, PrivateIpAddress.1: '{{{{ip{i}}}}}'}}
        expect:
          status: 200
          body:
            RequestId: {{uuid: true}}
"
        );
    }
    case::parse_file(Path::new("bench.yaml"), yaml).map_err(setup)
}

async fn harness_overhead(
    budget: &Budget,
    specs: &SpecSet,
    rows: &mut Vec<Row>,
) -> Result<(), BenchError> {
    let world = bench_world("10.0.0.0/16", 1)?;
    let creds = credentials(&world)?;
    let server = serve(&world).await?;
    let base = server.base_url();
    let file = harness_case(budget.harness_steps)?;
    let case = &file.cases[0];
    let runner = Runner::new(specs);
    let endpoint = Endpoint {
        target: "emulator",
        base_url: &base,
        fixtures: &world.fixtures,
        signing: None,
        powers: crate::target::EMULATOR_POWERS,
        policy: &crate::runner::ClientPolicy::DEFAULT,
    };
    let http = reqwest::Client::new();
    let steps = case.steps.len() as f64;
    let (mut harness, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..budget.rounds.max(3) {
        let started = Instant::now();
        let result = runner.run_case(&file, case, &endpoint).await;
        let elapsed = started.elapsed();
        if result.outcome != Outcome::Conforms {
            return Err(BenchError::Request(crate::report::failure_text(&result)));
        }
        harness.push(elapsed.as_secs_f64() * 1e3 / steps);
        let started = Instant::now();
        for _ in 0..case.steps.len() / 2 {
            cycle(&http, &base, &creds, "eni-bench0").await?;
        }
        bare.push(started.elapsed().as_secs_f64() * 1e3 / steps);
    }
    server.shutdown().await;
    let (h, b) = (median(harness), median(bare));
    rows.push(Row {
        what: "bare client loop, same signed requests".into(),
        figure: format!("{b:.4} ms/step"),
        bound: "baseline".into(),
        holds: None,
    });
    rows.push(Row {
        what: "harness step (render, sign, send, judge, schema, capture)".into(),
        figure: format!("{h:.4} ms/step = {:.2} x bare", h / b),
        bound: "<= 0.1 ms and <= 1.5 x bare".into(),
        holds: Some(h <= 0.1 && h / b <= 1.5),
    });
    Ok(())
}

fn loading(root: &Path, specs: &SpecSet, rows: &mut Vec<Row>) -> Result<(), BenchError> {
    let files = case::load_dir(&root.join("cases")).map_err(setup)?;
    // Every project case cut out as a file of its own, header included.
    let mut single = Vec::new();
    for file in &files {
        let lines: Vec<&str> = file.text.lines().collect();
        // A JSON string is a YAML string, quoted however the source reads.
        let source = serde_json::Value::from(file.source.as_deref().unwrap_or("bench"));
        let header = format!("dialect: {}\nsource: {source}\ncases:\n", file.dialect);
        for case in &file.cases {
            let body = lines[case.line - 1..case.end_line.min(lines.len())].join("\n");
            single.push((file.dialect, format!("{header}{body}\n")));
        }
    }
    let whole: Vec<(DialectId, &str)> =
        files.iter().map(|f| (f.dialect, f.text.as_str())).collect();
    if single.is_empty() {
        return Err(setup("no case files to copy"));
    }
    let world = WorldFile::load(&root.join("cases/worlds/default.yaml")).map_err(setup)?;
    let one_each = load_copies(&single, specs, &world)?;
    rows.push(Row {
        what: format!(
            "load + lint 1,000 case files of one case each ({} findings)",
            one_each.findings
        ),
        figure: format!("{:.1} ms", one_each.ms),
        bound: "<= 100 ms".into(),
        holds: Some(one_each.ms <= 100.0),
    });
    let bulk = load_copies(&whole, specs, &world)?;
    rows.push(Row {
        what: format!(
            "load + lint 1,000 copies of the project's files ({} cases, {} findings)",
            bulk.cases, bulk.findings
        ),
        figure: format!(
            "{:.1} ms ({:.0} µs a case)",
            bulk.ms,
            bulk.ms * 1e3 / bulk.cases as f64
        ),
        bound: "information".into(),
        holds: None,
    });
    Ok(())
}

struct Loaded {
    ms: f64,
    cases: usize,
    findings: usize,
}

/// Writes 1,000 files cycling through `sources` (ids made unique), each in
/// its dialect's folder, then loads and lints them: the median of three
/// rounds.
fn load_copies<S: AsRef<str>>(
    sources: &[(DialectId, S)],
    specs: &SpecSet,
    world: &WorldFile,
) -> Result<Loaded, BenchError> {
    let dir = std::env::temp_dir().join(format!(
        "ipconform-bench-{}-{}",
        std::process::id(),
        sources.len()
    ));
    for i in 0..1000 {
        let (dialect, text) = &sources[i % sources.len()];
        let cases_dir = dir.join(dialect.as_str());
        std::fs::create_dir_all(&cases_dir).map_err(setup)?;
        // Unique ids per copy: the loader rejects an id used twice.
        let text = text.as_ref().replace("- id: ", &format!("- id: c{i}-"));
        std::fs::write(cases_dir.join(format!("c{i:04}.yaml")), text).map_err(setup)?;
    }
    let mut samples = Vec::new();
    let (mut cases, mut findings) = (0, 0);
    for _ in 0..3 {
        let started = Instant::now();
        let files = case::load_dir(&dir).map_err(setup)?;
        findings = crate::lint::lint(specs, &files, &world.fixtures).len();
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        cases = files.iter().map(|f| f.cases.len()).sum::<usize>();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Loaded {
        ms: median(samples),
        cases,
        findings,
    })
}
