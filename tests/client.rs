//! The harness as an API client (issue 10, part 4, proofs 2 and 3).
//!
//! A target that hangs, resets or answers garbage fails each affected case
//! with the cause, within the request timeout, and the run still writes a
//! complete report. Throttling injected by the emulator is retried after
//! growing pauses on a read and on a change carrying ECS's idempotency
//! token, and never on a change without one: the emulator's own counters
//! show how many calls reached it, and its world shows nothing changed.
//!
//! Every server here listens on 127.0.0.1; timeouts are 1 s, so a hang
//! costs seconds, and the only time bound asserted is one that a hang
//! would break.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ipconform::case::CaseFile;
use ipconform::emulator::world::WorldFile;
use ipconform::runner::{CaseResult, ClientPolicy, Endpoint, Outcome, RetryPolicy, Runner};
use ipconform::spec::SpecSet;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Two ECS cases: a read, and a change whose cleanup needs what the change
/// would have captured.
const TWO_CASES: &str = "\
dialect: alibaba-ecs
source: 001_d56fe85a99ce17ec.txt
cases:
  - id: a-read
    title: describes an ENI
    steps:
      - call: DescribeNetworkInterfaces
        with: {RegionId: '{{region}}', NetworkInterfaceId.1: '{{eni.available}}'}
        expect: {body: {TotalCount: 1}}
  - id: a-change
    title: assigns an address and releases it
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: '{{region}}', NetworkInterfaceId: '{{eni.available}}', SecondaryPrivateIpAddressCount: 1}
        expect: {status: 200}
        capture:
          ip: AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress[0]
    cleanup:
      - call: UnassignPrivateIpAddresses
        with: {RegionId: '{{region}}', NetworkInterfaceId: '{{eni.available}}', PrivateIpAddress.1: '{{ip}}'}
";

/// How a misbehaving server answers each connection.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Accepts and never answers (the connection stays open).
    Hang,
    /// Bytes that are not HTTP, then closes.
    NotHttp,
    /// A status line and headers promising 500 bytes, 10 of them, close.
    Truncated,
    /// A well-formed HTTP 200 whose body is binary noise.
    GarbageBody,
    /// Closes with the request unread, which resets the connection.
    Reset,
    /// Nothing listens on the port any more.
    Closed,
}

/// A loopback server misbehaving on every connection, for the life of the
/// test process.
fn serve(how: Misbehaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    if let Misbehaviour::Closed = how {
        return addr;
    }
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            match how {
                Misbehaviour::Hang => held.push(stream),
                Misbehaviour::Reset => {
                    // Let the request arrive, then close without reading it.
                    std::thread::sleep(Duration::from_millis(50));
                    drop(stream);
                }
                other => {
                    let mut buf = [0u8; 8192];
                    let _ = stream.read(&mut buf);
                    let reply: &[u8] = match other {
                        Misbehaviour::NotHttp => b"\x00\xff\xfegarbage\r\n\r\nnot http at all",
                        Misbehaviour::Truncated => {
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"Request"
                        }
                        _ => {
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\nconnection: close\r\n\r\n\x01\x02garbage\xff\xfe!"
                        }
                    };
                    let _ = stream.write_all(reply);
                    let _ = stream.flush();
                }
            }
        }
    });
    addr
}

/// `ipconform run` of [`TWO_CASES`] against `addr` with a 1 s request
/// timeout: its exit code, the report.json it wrote, and how long it took.
fn run_against(addr: SocketAddr) -> (Option<i32>, Value, Duration, tempfile::TempDir) {
    let cases = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cases.path().join("alibaba-ecs")).unwrap();
    std::fs::write(cases.path().join("alibaba-ecs/t.yaml"), TWO_CASES).unwrap();
    let reports = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args([
            "run",
            "--target",
            &format!("http://{addr}"),
            "--request-timeout",
            "1s",
        ])
        .arg("--specs")
        .arg(root().join("specs"))
        .arg("--world")
        .arg(root().join("cases/worlds/default.yaml"))
        .arg("--cases")
        .arg(cases.path())
        .arg("--report-dir")
        .arg(reports.path())
        .output()
        .expect("ipconform runs");
    let took = started.elapsed();
    let run_dir = std::fs::read_dir(reports.path())
        .unwrap()
        .next()
        .expect("a run folder")
        .unwrap()
        .path();
    for file in ["report.json", "report.md", "report.html", "junit.xml"] {
        assert!(run_dir.join(file).is_file(), "{file} written");
    }
    let text = std::fs::read_to_string(run_dir.join("report.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    // A failure's cause never carries the signed request or a secret.
    let world = WorldFile::load(&root().join("cases/worlds/default.yaml")).unwrap();
    let creds = &world
        .fixtures_of(ipconform::dialect::DialectId::AlibabaEcs)
        .credentials["default"];
    let secret = creds.access_key_secret.expose();
    for shown in [&text, &String::from_utf8_lossy(&out.stdout).to_string()] {
        assert!(!shown.contains(secret), "a secret in the output");
        assert!(!shown.contains("Signature=") || shown.contains("Signature=***"));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 fail"), "{stdout}");
    (out.status.code(), json, took, reports)
}

/// The problems of the first step of each result, by case id.
fn first_problems(report: &Value) -> Vec<(String, String)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["outcome"], "fails", "{}", r["id"]);
            let problems = r["steps"][0]["problems"].as_array().unwrap();
            let text: Vec<&str> = problems.iter().filter_map(Value::as_str).collect();
            (r["id"].as_str().unwrap().to_string(), text.join("; "))
        })
        .collect()
}

#[test]
fn a_hanging_target_fails_each_case_within_the_timeout_and_the_report_is_complete() {
    let (code, report, took, _dir) = run_against(serve(Misbehaviour::Hang));
    assert_eq!(code, Some(1));
    assert_eq!(report["summary"]["fails"], 2, "{}", report["summary"]);
    assert_eq!(report["results"].as_array().unwrap().len(), 2);
    for (id, problems) in first_problems(&report) {
        assert!(problems.contains("no reply within 1 s"), "{id}: {problems}");
    }
    // The change's cleanup needs a capture that never came: skipped, so it
    // sends nothing and costs no second timeout.
    let change = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "a-change")
        .unwrap();
    assert!(change["steps"][1]["skipped"].is_string(), "{change}");
    // Two requests of 1 s each; a client without a timeout would hang here.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_target_answering_garbage_fails_each_case_with_the_cause() {
    for (how, cause) in [
        (Misbehaviour::NotHttp, "not an HTTP reply"),
        (
            Misbehaviour::Truncated,
            "connection closed before a complete reply",
        ),
        (Misbehaviour::GarbageBody, "unreadable body: HTTP 200"),
        (Misbehaviour::Reset, "connection reset"),
        (Misbehaviour::Closed, "connection refused"),
    ] {
        let (code, report, took, _dir) = run_against(serve(how));
        assert_eq!(code, Some(1), "{how:?}");
        assert_eq!(report["summary"]["total"], 2, "{how:?}");
        assert_eq!(report["results"].as_array().unwrap().len(), 2, "{how:?}");
        for (id, problems) in first_problems(&report) {
            assert!(problems.contains(cause), "{how:?} {id}: {problems}");
        }
        assert!(took < Duration::from_secs(20), "{how:?} took {took:?}");
    }
}

/// A world's faults, a case file and the emulator that runs it.
struct Rig {
    emulator: ipconform::emulator::RunningEmulator,
    world: WorldFile,
    specs: &'static SpecSet,
}

impl Rig {
    async fn with_faults(faults: &str) -> Rig {
        let specs = SpecSet::embedded();
        let mut world = WorldFile::load(&root().join("cases/worlds/default.yaml")).unwrap();
        world.faults = serde_yaml::from_str(faults).unwrap();
        let emulator =
            ipconform::emulator::start_with_specs(&world, specs, "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
        Rig {
            emulator,
            world,
            specs,
        }
    }

    async fn run(&self, text: &str) -> CaseResult {
        let file: CaseFile =
            ipconform::case::parse_file(Path::new("cases/alibaba-ecs/proof.yaml"), text.into())
                .unwrap_or_else(|d| panic!("{d}"));
        let runner = Runner::new(self.specs);
        let base = self.emulator.base_url();
        let endpoint = Endpoint {
            target: "emulator",
            base_url: &base,
            fixtures: &self.world.fixtures,
            signing: None,
            powers: ipconform::target::EMULATOR_POWERS,
            policy: &ClientPolicy::DEFAULT,
            observer: None,
        };
        runner.run_case(&file, &file.cases[0], &endpoint).await
    }

    /// The emulator's count of calls each fault saw (authenticated, valid,
    /// in its scope) and struck.
    async fn counts(&self) -> Vec<(u64, u64)> {
        let url = format!(
            "{}{}",
            self.emulator.base_url(),
            ipconform::emulator::faults::FAULTS_PATH
        );
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        let listing: Value = serde_json::from_str(&text).unwrap();
        listing
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["seen"].as_u64().unwrap(), f["fired"].as_u64().unwrap()))
            .collect()
    }
}

/// The pauses between a retried step's attempts, in ms (virtual time: the
/// runner moved the emulator's clock instead of sleeping).
fn pauses(result: &CaseResult) -> Vec<u64> {
    let waited: Vec<u64> = result.steps[0]
        .attempts
        .iter()
        .map(|a| a.waited_ms)
        .collect();
    waited.windows(2).map(|w| w[1] - w[0]).collect()
}

fn assert_backed_off(result: &CaseResult, why: &str) {
    let attempts = &result.steps[0].attempts;
    assert_eq!(
        attempts.len(),
        3,
        "two throttled replies and the last: {attempts:?}"
    );
    for a in &attempts[..2] {
        assert_eq!(a.error_code.as_deref(), Some("Throttling"));
        let note = a.retried.as_deref().unwrap_or_default();
        assert!(note.contains(why), "{note}");
    }
    assert!(attempts[2].retried.is_none() && attempts[2].met);
    // Each pause is within [ceiling/2, ceiling] of its retry: 200 ms, then
    // 400 ms, so the second is always at least the first's ceiling.
    let retry = RetryPolicy::DEFAULT;
    for (n, pause) in pauses(result).into_iter().enumerate() {
        let ceiling = retry.ceiling(n as u32 + 1).as_millis() as u64;
        assert!(
            (ceiling / 2..=ceiling).contains(&pause),
            "pause {} is {pause} ms, outside [{}, {ceiling}]",
            n + 1,
            ceiling / 2
        );
    }
}

const READ: &str = "\
dialect: alibaba-ecs
source: proof
cases:
  - id: read
    title: a read
    steps:
      - call: DescribeNetworkInterfaces
        with: {RegionId: '{{region}}', NetworkInterfaceId.1: '{{eni.available}}'}
        expect:
          body:
            NetworkInterfaceSets.NetworkInterfaceSet[0].PrivateIpSets.PrivateIpSet[*].PrivateIpAddress: {set: ['{{eni.available.primary_ip}}']}
";

#[tokio::test]
async fn a_throttled_read_is_retried_with_backoff_and_conforms() {
    let rig =
        Rig::with_faults("[{operation: DescribeNetworkInterfaces, effect: throttled, times: 2}]")
            .await;
    let result = rig.run(READ).await;
    assert_eq!(result.outcome, Outcome::Conforms, "{:?}", result.steps);
    assert_backed_off(&result, "a read");
    assert_eq!(
        rig.counts().await,
        [(3, 2)],
        "three calls reached the emulator, two faulted"
    );
    rig.emulator.shutdown().await;
}

/// An assign (without `ClientToken` unless `token`), then a read of the
/// ENI expecting `held` as its addresses.
fn assign_then_read(token: bool, code: &str, held: &str) -> String {
    let token = if token {
        ", ClientToken: '{{case.nonce}}'"
    } else {
        ""
    };
    format!(
        "\
dialect: alibaba-ecs
source: proof
cases:
  - id: assign
    title: an assign
    steps:
      - call: AssignPrivateIpAddresses
        with: {{RegionId: '{{{{region}}}}', NetworkInterfaceId: '{{{{eni.available}}}}', PrivateIpAddress.1: '{{{{vswitch.free_ip}}}}'{token}}}
        expect: {code}
      - call: DescribeNetworkInterfaces
        with: {{RegionId: '{{{{region}}}}', NetworkInterfaceId.1: '{{{{eni.available}}}}'}}
        expect:
          body:
            NetworkInterfaceSets.NetworkInterfaceSet[0].PrivateIpSets.PrivateIpSet[*].PrivateIpAddress: {{set: [{held}]}}
"
    )
}

#[tokio::test]
async fn a_throttled_assign_without_a_token_is_sent_once_and_changes_nothing() {
    let rig =
        Rig::with_faults("[{operation: AssignPrivateIpAddresses, effect: throttled, times: 2}]")
            .await;
    let case = assign_then_read(
        false,
        "{error: {status: 400, code: Throttling}}",
        "'{{eni.available.primary_ip}}'",
    );
    let result = rig.run(&case).await;
    assert_eq!(result.outcome, Outcome::Conforms, "{:?}", result.steps);
    assert!(
        result.steps[0].attempts.is_empty(),
        "not retried: {:?}",
        result.steps[0].attempts
    );
    assert_eq!(result.steps[0].error_code.as_deref(), Some("Throttling"));
    assert_eq!(
        rig.counts().await,
        [(1, 1)],
        "one call reached the emulator"
    );
    // The world itself: the ENI holds no secondary, the address is free.
    {
        let world = rig.emulator.state().world();
        let eni = world
            .all_enis()
            .find(|e| {
                e.id == rig
                    .world
                    .fixtures_of(ipconform::dialect::DialectId::AlibabaEcs)
                    .values["eni.available"]
            })
            .unwrap();
        assert_eq!(eni.secondary_count(), 0);
    }
    rig.emulator.shutdown().await;
}

#[tokio::test]
async fn a_throttled_assign_with_client_token_is_retried_and_assigns_once() {
    let rig =
        Rig::with_faults("[{operation: AssignPrivateIpAddresses, effect: throttled, times: 2}]")
            .await;
    let case = assign_then_read(
        true,
        "{status: 200}",
        "'{{eni.available.primary_ip}}', '{{vswitch.free_ip}}'",
    );
    let result = rig.run(&case).await;
    assert_eq!(result.outcome, Outcome::Conforms, "{:?}", result.steps);
    assert_backed_off(&result, "idempotency token `ClientToken`");
    assert_eq!(rig.counts().await, [(3, 2)]);
    rig.emulator.shutdown().await;
}

#[tokio::test]
async fn retries_stop_after_the_policy_s_attempts() {
    let rig = Rig::with_faults("[{operation: DescribeNetworkInterfaces, effect: throttled}]").await;
    let result = rig.run(READ).await;
    assert_eq!(result.outcome, Outcome::Fails);
    let attempts = &result.steps[0].attempts;
    assert_eq!(attempts.len() as u32, RetryPolicy::DEFAULT.max_attempts);
    assert_eq!(attempts.iter().filter(|a| a.retried.is_some()).count(), 3);
    assert_eq!(result.steps[0].error_code.as_deref(), Some("Throttling"));
    assert_eq!(rig.counts().await, [(4, 4)]);
    rig.emulator.shutdown().await;
}

#[tokio::test]
async fn a_case_needing_faults_is_skipped_where_there_are_none() {
    let rig = Rig::with_faults("[]").await;
    let file = ipconform::case::parse_file(
        Path::new("cases/alibaba-ecs/proof.yaml"),
        "\
dialect: alibaba-ecs
source: proof
cases:
  - id: faulted
    title: a faulted read
    requires: {powers: [faults]}
    faults: [{operation: DescribeNetworkInterfaces, effect: drop}]
    steps:
      - call: DescribeNetworkInterfaces
        with: {RegionId: '{{region}}'}
"
        .into(),
    )
    .unwrap();
    let base = rig.emulator.base_url();
    let endpoint = Endpoint {
        target: "a-url",
        base_url: &base,
        fixtures: &rig.world.fixtures,
        signing: None,
        powers: &[],
        policy: &ClientPolicy::DEFAULT,
        observer: None,
    };
    let result = Runner::new(rig.specs)
        .run_case(&file, &file.cases[0], &endpoint)
        .await;
    assert_eq!(result.outcome, Outcome::Skipped);
    assert!(result.skipped.unwrap().contains("faults"));
    assert!(rig.counts().await.is_empty(), "no fault was installed");
    rig.emulator.shutdown().await;
}
