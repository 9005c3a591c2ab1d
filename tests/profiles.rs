//! The real-cloud path, proven against `ipconform emulate` run as a
//! separate process on 127.0.0.1 and configured exactly as a real cloud
//! would be but for its endpoint: a profile file, credentials in
//! environment variables set only for the ipconform processes.
//!
//! The proof runs the suite through the profile, interrupts a second run
//! with SIGINT in the middle of a case that has changed the fixtures, kills
//! a third outright, and shows through the emulator's own API that after
//! `ipconform sweep` every fixture interface holds exactly the addresses
//! recorded before the first change. A sentinel secret is planted in the
//! environment, and no file the runs wrote, nor anything they printed,
//! holds it. Nothing here reaches beyond loopback.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The secret of the default Alibaba account, in the emulator's world and
/// in the environment of the runs, and nowhere else.
const SENTINEL: &str = "ipconformSentinelSecret7f3a9c0d2e";
/// The default world's secret the sentinel replaces.
const WORLD_DEFAULT_SECRET: &str = "emuDefaultSecret0f3b8c1d2e4a5b6c";

/// A child `ipconform emulate`, killed when dropped.
struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(world: &Path) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(["emulate", "--listen", "127.0.0.1:0", "--world"])
        .arg(world)
        .stdout(Stdio::piped())
        .spawn()
        .expect("emulate starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("emulate said {first:?}"))
        .to_string();
    Emulator { child, url }
}

/// The world of the default world file, the default secret replaced by the
/// sentinel; and the credentials of every Alibaba set but the derived
/// ones, as environment variables.
struct Setup {
    /// Where the ipconform processes run: their reports and ledgers.
    work: tempfile::TempDir,
    /// The world and nothing else (it holds the secrets; the scan skips it).
    _inputs: tempfile::TempDir,
    profile: PathBuf,
    env: Vec<(String, String)>,
    /// Every secret the runs were given.
    secrets: Vec<String>,
    emulator: Emulator,
    /// Every stdout and stderr of an ipconform process, for the scan.
    printed: std::cell::RefCell<Vec<String>>,
}

const DIALECTS: &[&str] = &["alibaba-ecs", "alibaba-ens"];

fn setup() -> Setup {
    setup_of(DIALECTS, &|world| world.to_string())
}

/// A profile of `dialects` for an emulator of the default world, changed
/// by `edit`.
fn setup_of(dialects_wanted: &[&str], edit: &dyn Fn(&str) -> String) -> Setup {
    let inputs = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("cases/worlds/default.yaml")).unwrap();
    assert!(text.contains(WORLD_DEFAULT_SECRET));
    let world_path = inputs.path().join("world.yaml");
    std::fs::write(
        &world_path,
        edit(&text.replace(WORLD_DEFAULT_SECRET, SENTINEL)),
    )
    .unwrap();
    let emulator = start_emulator(&world_path);
    let world: Value =
        serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap()).unwrap();
    let mut env = Vec::new();
    let mut secrets = Vec::new();
    let mut dialects = serde_json::Map::new();
    for dialect in dialects_wanted {
        let fixtures = &world["fixtures"][dialect];
        let mut credentials = serde_json::Map::new();
        for (name, pair) in fixtures["credentials"].as_object().unwrap() {
            if name == "unknown" || name == "wrong_secret" {
                continue;
            }
            let var = format!("PROOF_{}_{}", dialect.replace('-', "_"), name).to_uppercase();
            let secret = pair["access_key_secret"]
                .as_str()
                .unwrap()
                .replace(WORLD_DEFAULT_SECRET, SENTINEL);
            env.push((
                format!("{var}_ID"),
                pair["access_key_id"].as_str().unwrap().to_string(),
            ));
            env.push((format!("{var}_SECRET"), secret.clone()));
            secrets.push(secret);
            credentials.insert(
                name.clone(),
                json!({"id_env": format!("{var}_ID"), "secret_env": format!("{var}_SECRET")}),
            );
        }
        dialects.insert(
            dialect.to_string(),
            json!({
                "endpoint": emulator.url,
                "credentials": credentials,
                "fixtures": fixtures["values"],
            }),
        );
    }
    let work = tempfile::tempdir().unwrap();
    let profile = work.path().join("proof.yaml");
    let doc = json!({
        "name": "proof",
        "client": {"request_timeout": "5s", "concurrency": 2},
        "dialects": dialects,
    });
    std::fs::write(&profile, serde_yaml::to_string(&doc).unwrap()).unwrap();
    Setup {
        work,
        _inputs: inputs,
        profile,
        env,
        secrets,
        emulator,
        printed: Default::default(),
    }
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ipconform"));
        c.args(args)
            .current_dir(self.work.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("ipconform runs");
        self.keep(&out);
        out
    }

    fn keep(&self, out: &Output) {
        let mut printed = self.printed.borrow_mut();
        printed.push(String::from_utf8_lossy(&out.stdout).into_owned());
        printed.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }

    fn ledger(&self) -> PathBuf {
        self.work.path().join(".ipconform/ledger-proof.jsonl")
    }

    fn profile_arg(&self) -> String {
        self.profile.display().to_string()
    }

    /// The secondary addresses of an ECS interface, in the order the
    /// emulator lists them, read through its API (signed v1, as a client
    /// of the cloud would).
    fn secondaries(&self, eni: &str) -> Vec<String> {
        let params: Vec<(String, String)> = [
            ("Action", "DescribeNetworkInterfaces"),
            ("Version", "2014-05-26"),
            ("Format", "JSON"),
            ("AccessKeyId", "LTAI5tEmuDefault7kQ2mX9p"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            (
                "SignatureNonce",
                &format!("proof-{}", uuid::Uuid::new_v4().simple()),
            ),
            (
                "Timestamp",
                &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ),
            ("RegionId", "cn-hangzhou"),
            ("NetworkInterfaceId.1", eni),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let query = ipconform::dialect::alibaba_rpc::signed_query("GET", &params, SENTINEL);
        let addr = self.emulator.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "GET /?{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let set = &body["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["PrivateIpSets"]
            ["PrivateIpSet"];
        set.as_array()
            .unwrap_or_else(|| panic!("{eni} is not listed: {body}"))
            .iter()
            .filter(|ip| ip["Primary"] == false)
            .map(|ip| ip["PrivateIpAddress"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every ECS fixture interface with its secondaries, read now.
    fn ecs_state(&self, enis: &[(String, String)]) -> Vec<(String, Vec<String>)> {
        enis.iter()
            .map(|(fixture, id)| (fixture.clone(), self.secondaries(id)))
            .collect()
    }
}

/// The ECS interfaces the harness records (what `Profile::eni_fixtures`
/// gives), by fixture name and id.
fn ecs_enis(profile: &Path) -> Vec<(String, String)> {
    let p = ipconform::profile::Profile::load(profile).unwrap();
    p.eni_fixtures(ipconform::dialect::DialectId::AlibabaEcs)
        .into_iter()
        .map(|e| (e.fixture, e.id))
        .collect()
}

/// A case that changes three things (a recorded address released, an
/// explicit and two counted addresses assigned), then polls for a state
/// that never comes: a run of it can be cut short in the middle.
const SLOW_CASE: &str = r#"dialect: alibaba-ecs
source: "tests/profiles.rs"
cases:
  - id: changes-then-waits
    title: changes the fixtures, then polls for a state that never comes
    steps:
      - call: UnassignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: "{{eni.with_secondaries}}", PrivateIpAddress.1: "{{vswitch.taken_ip}}"}
      - call: AssignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: "{{eni.available}}", PrivateIpAddress.1: "{{vswitch.free_ip}}"}
      - call: AssignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: "{{eni.available}}", SecondaryPrivateIpAddressCount: 2}
      - call: DescribeNetworkInterfaces
        with: {RegionId: "{{region}}", NetworkInterfaceId.1: "{{eni.available}}"}
        wait: {until: {TotalCount: 99}, timeout: 120s, interval: 100ms, max_interval: 100ms}
"#;

/// Starts a run of the slow case and waits until the ledger shows its
/// three changes answered: the case is then polling, its changes in place.
fn start_slow_run(s: &Setup, cases: &Path) -> Child {
    // The stable ledger still holds the last run's records until this run
    // starts its own: its first line tells them apart.
    let first_line = || {
        std::fs::read_to_string(s.ledger())
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let before = first_line();
    let child = s
        .command(&[
            "run",
            "--target",
            &s.profile_arg(),
            "--cases",
            &cases.display().to_string(),
            "--report-dir",
            "reports-slow",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ledger = std::fs::read_to_string(s.ledger()).unwrap_or_default();
        let answered = ledger
            .lines()
            .filter(|l| l.contains("\"record\":\"result\"") && l.contains("\"status\":200"))
            .count();
        if first_line() != before && ledger.contains("changes-then-waits") && answered >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger never showed the three changes:\n{ledger}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Waits for a child to exit (a bound, so a hang fails the test).
fn wait_for(s: &Setup, mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end within 60 s of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    s.keep(&out);
    out
}

/// The stdout of `out`, which must have exited 0 (else both streams are
/// shown).
#[track_caller]
fn succeeded(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir`, with its text.
fn files_under(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
}

#[test]
fn a_profile_runs_the_suite_and_an_interrupted_or_killed_run_is_swept_back_without_leaking_a_secret(
) {
    let s = setup();
    assert!(s.secrets.iter().any(|s| s == SENTINEL));
    let enis = ecs_enis(&s.profile);
    assert!(enis.iter().any(|(f, _)| f == "eni.available"));
    let initial = s.ecs_state(&enis);
    let with_secondaries = initial
        .iter()
        .find(|(f, _)| f == "eni.with_secondaries")
        .unwrap();
    assert_eq!(with_secondaries.1, ["172.16.0.20", "172.16.0.21"]);

    // 1. The ECS and ENS suites through the profile: they conform, skip
    // what needs the emulator's powers, and leave the fixtures as found.
    let cases = root().join("cases").display().to_string();
    let out = s.run(&[
        "run",
        "--target",
        &s.profile_arg(),
        "--cases",
        &cases,
        "--report-dir",
        "reports",
    ]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("recorded the secondary addresses of"),
        "{stdout}"
    );
    assert!(
        stdout.contains("holds its recorded addresses again"),
        "{stdout}"
    );
    let run_dir = std::fs::read_dir(s.work.path().join("reports"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["fails"], 0);
    assert!(
        report["summary"]["conforms"].as_u64().unwrap() > 200,
        "{}",
        report["summary"]
    );
    let results = report["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|r| DIALECTS.contains(&r["dialect"].as_str().unwrap())),
        "a profile runs its own dialects' cases only"
    );
    let skipped = |address_part: &str| {
        results
            .iter()
            .find(|r| r["address"].as_str().unwrap().ends_with(address_part))
            .and_then(|r| r["skipped"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        skipped("::ecs-assign-attaching-eni").contains("lacks the power the case requires: world"),
        "{}",
        skipped("::ecs-assign-attaching-eni")
    );
    assert!(
        skipped("alibaba-ens::portable.unassign::unassign-releases-one")
            .contains("cannot assign back"),
        "ENS would lose a recorded address: {}",
        skipped("alibaba-ens::portable.unassign::unassign-releases-one")
    );
    assert!(run_dir.join("ledger.jsonl").is_file());
    assert_eq!(
        s.ecs_state(&enis),
        initial,
        "the run left the fixtures as it found them"
    );
    // What the ledger recorded is what the emulator holds.
    let records: Vec<Value> = std::fs::read_to_string(s.ledger())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (fixture, ips) in &initial {
        let recorded = records
            .iter()
            .find(|r| {
                r["record"] == "baseline"
                    && r["fixture"] == *fixture
                    && r["dialect"] == "alibaba-ecs"
            })
            .unwrap_or_else(|| panic!("no baseline of {fixture}"));
        assert_eq!(recorded["ips"], json!(ips), "{fixture}");
    }
    assert_eq!(records.last().unwrap()["record"], "end");
    assert_eq!(records.last().unwrap()["clean"], true);
    // Every change was written down before it was sent, and answered.
    let intents = records.iter().filter(|r| r["record"] == "intent").count();
    let answers = records.iter().filter(|r| r["record"] == "result").count();
    assert!(intents > 50, "{intents} changes");
    assert_eq!(intents, answers);

    // 2. SIGINT in the middle of a case that changed three things.
    let slow = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(slow.path().join("alibaba-ecs")).unwrap();
    std::fs::write(slow.path().join("alibaba-ecs/slow.yaml"), SLOW_CASE).unwrap();
    let child = start_slow_run(&s, slow.path());
    let mid_case = s.ecs_state(&enis);
    assert_ne!(mid_case, initial, "the case has changed the fixtures");
    let available = |state: &[(String, Vec<String>)]| {
        state
            .iter()
            .find(|(f, _)| f == "eni.available")
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(available(&mid_case).len(), 3, "{mid_case:?}");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait_for(&s, child);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stdout.contains("interrupted (Ctrl-C) in the middle of the case"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sweep: alibaba-ecs eni.available"),
        "{stdout}"
    );
    // `ipconform sweep` afterwards: the run put everything back already.
    let out = s.run(&["sweep", "--target", &s.profile_arg()]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("holds exactly its recorded secondary addresses"),
        "{stdout}"
    );
    assert_eq!(s.ecs_state(&enis), initial, "after SIGINT and sweep");

    // SIGTERM, which CI runners and nextest send when they cancel, is
    // handled the same way.
    let child = start_slow_run(&s, slow.path());
    assert_eq!(available(&s.ecs_state(&enis)).len(), 3);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait_for(&s, child);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(s.ecs_state(&enis), initial, "after SIGTERM");

    // 3. Killed outright: nothing could clean up, the ledger holds it all.
    let child = start_slow_run(&s, slow.path());
    let mut child = child;
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    s.keep(&out);
    let dirty = s.ecs_state(&enis);
    assert_eq!(available(&dirty).len(), 3, "{dirty:?}");
    // No run starts over a ledger that was not closed.
    let out = s.run(&[
        "run",
        "--target",
        &s.profile_arg(),
        "--cases",
        &slow.path().display().to_string(),
        "--report-dir",
        "reports-refused",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did not finish putting its fixtures back"),
        "{stderr}"
    );
    assert!(stderr.contains("ipconform sweep --target"), "{stderr}");
    assert_eq!(s.ecs_state(&enis), dirty, "the refused run changed nothing");
    // A dry sweep says what it would do and does nothing.
    let out = s.run(&["sweep", "--target", &s.profile_arg(), "--dry-run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("eni.available (eni-bp1emu0available00001): would unassign 172.16.0.100"),
        "{stdout}"
    );
    assert!(stdout.contains("would assign back 172.16.0.20"), "{stdout}");
    assert_eq!(s.ecs_state(&enis), dirty, "a dry sweep changes nothing");
    // The sweep puts every interface back, recorded order included.
    let out = s.run(&["sweep", "--target", &s.profile_arg()]);
    let stdout = succeeded(&out);
    assert!(stdout.contains("unassigned 172.16.0.100"), "{stdout}");
    assert!(stdout.contains("assigned back 172.16.0.20"), "{stdout}");
    assert_eq!(s.ecs_state(&enis), initial, "after SIGKILL and sweep");

    // 4. A dry run shows each request signed, with the signature redacted.
    let out = s.run(&[
        "run",
        "--target",
        &s.profile_arg(),
        "--cases",
        &cases,
        "--filter",
        "ecs-assign-explicit-ip",
        "--dry-run",
    ]);
    let stdout = succeeded(&out);
    assert!(
        stdout
            .contains("GET /?AccessKeyId=LTAI5tEmuDefault7kQ2mX9p&Action=AssignPrivateIpAddresses"),
        "{stdout}"
    );
    assert!(stdout.contains("&Signature=***"), "{stdout}");
    assert!(stdout.contains("comes from an earlier reply"), "{stdout}");
    assert!(stdout.contains("nothing was sent"), "{stdout}");
    assert_eq!(s.ecs_state(&enis), initial);

    // 5. No secret in anything a run wrote or printed.
    let mut files = Vec::new();
    files_under(s.work.path(), &mut files);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("report.html"))
            && files.iter().any(|(p, _)| p.ends_with("ledger-proof.jsonl")),
        "the scan sees the reports and the ledgers"
    );
    for secret in &s.secrets {
        for (path, bytes) in &files {
            assert!(
                !String::from_utf8_lossy(bytes).contains(secret.as_str()),
                "{} holds a secret",
                path.display()
            );
        }
        for printed in s.printed.borrow().iter() {
            assert!(
                !printed.contains(secret.as_str()),
                "printed a secret:\n{printed}"
            );
        }
    }
}

fn plain_command(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(args)
        .current_dir(dir)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .output()
        .expect("ipconform runs")
}

/// A profile of a remote endpoint. Its host is under `.invalid`, which never
/// resolves (RFC 2606): even a mistake here could not reach a cloud.
const REMOTE: &str = "\
name: aliyun-hangzhou
dialects:
  alibaba-ecs:
    endpoint: https://ecs.cn-hangzhou.example.invalid
    fixtures:
      region: cn-hangzhou
      eni.available: eni-bp1example
      eni.available.primary_ip: 172.16.0.10
      vswitch.free_ip: 172.16.0.100
";

#[test]
fn a_remote_profile_needs_allow_network_and_credentials_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("remote.yaml"), REMOTE).unwrap();
    let cases = root().join("cases").display().to_string();
    let out = plain_command(
        dir.path(),
        &["run", "--target", "remote.yaml", "--cases", &cases],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("alibaba-ecs at https://ecs.cn-hangzhou.example.invalid")
            && stderr.contains("--allow-network"),
        "{stderr}"
    );
    // Allowed onto the network, it still needs its credentials, and says
    // which variables, before it sends anything: nothing is written.
    let out = plain_command(
        dir.path(),
        &[
            "run",
            "--target",
            "remote.yaml",
            "--allow-network",
            "--cases",
            &cases,
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_ID (credential set `default` of alibaba-ecs)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{stderr}"
    );
    assert!(!dir.path().join(".ipconform").exists());
    assert!(!dir.path().join("reports").exists());
    // A dry run sends nothing, so it shows what the remote profile would
    // be sent without --allow-network, with its credentials' secret hidden.
    let out = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args([
            "run",
            "--target",
            "remote.yaml",
            "--dry-run",
            "--filter",
            "ecs-assign-explicit-ip",
            "--cases",
            &cases,
        ])
        .current_dir(dir.path())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIdryrun")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SENTINEL)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("aliyun-hangzhou::alibaba-ecs::assign::ecs-assign-explicit-ip"),
        "{stdout}"
    );
    assert!(
        stdout.contains("GET /?AccessKeyId=LTAIdryrun&Action=AssignPrivateIpAddresses"),
        "{stdout}"
    );
    assert!(stdout.contains("&Signature=***"), "{stdout}");
    assert!(!stdout.contains(SENTINEL) && !text(&out.stderr).contains(SENTINEL));
}

#[test]
fn a_malformed_profile_names_file_line_col_and_suggests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        REMOTE.replace("    fixtures:", "    fixturse:"),
    )
    .unwrap();
    let out = plain_command(
        dir.path(),
        &[
            "run",
            "--target",
            "bad.yaml",
            "--cases",
            &root().join("cases").display().to_string(),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.yaml:5:5"), "{stderr}");
    assert!(stderr.contains("did you mean `fixtures`?"), "{stderr}");
    let out = plain_command(dir.path(), &["sweep", "--target", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.yaml:5:5"));
}

#[test]
fn report_merge_puts_shards_together_and_refuses_what_is_not_a_run_report() {
    let dir = tempfile::tempdir().unwrap();
    let cases = root().join("cases").display().to_string();
    // Two shards of one run on the embedded emulator.
    for (shard, filter) in [
        ("shard1", "alibaba-ecs::assign::"),
        ("shard2", "naver-vpc::quota::"),
    ] {
        let out = plain_command(
            dir.path(),
            &[
                "run",
                "--cases",
                &cases,
                "--filter",
                filter,
                "--report-dir",
                shard,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    }
    let count = |shard: &str| -> u64 {
        let run = std::fs::read_dir(dir.path().join(shard))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let r: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap())
                .unwrap();
        r["summary"]["total"].as_u64().unwrap()
    };
    let (a, b) = (count("shard1"), count("shard2"));
    let out = plain_command(
        dir.path(),
        &["report", "merge", "shard1", "shard2", "--out", "merged"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("merged 2 reports"), "{stdout}");
    let merged: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("merged/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(merged["summary"]["total"].as_u64().unwrap(), a + b);
    let dialects: Vec<&str> = merged["by_dialect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dialect"].as_str().unwrap())
        .collect();
    assert_eq!(dialects, ["alibaba-ecs", "naver-vpc"]);
    for file in ["junit.xml", "report.md", "report.html"] {
        assert!(dir.path().join("merged").join(file).is_file(), "{file}");
    }
    // The same shard twice, and a comparison, are refused by name.
    let out = plain_command(
        dir.path(),
        &["report", "merge", "shard1", "shard1", "--out", "m2"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("in both"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        dir.path().join("comparison.json"),
        r#"{"schema_version":1,"kind":"ipconform-comparison"}"#,
    )
    .unwrap();
    let out = plain_command(
        dir.path(),
        &["report", "merge", "comparison.json", "--out", "m3"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a run report"),
        "{}",
        text(&out.stderr)
    );
}

/// The secondary addresses of a fixture interface of any dialect, read
/// through the emulator's API with the dialect's own client and the read of
/// its portable binding.
fn read_via_api(s: &Setup, dialect: ipconform::dialect::DialectId, fixture: &str) -> Vec<String> {
    use ipconform::case::ParamValue;
    use ipconform::dialect::{Call, CallContext, Method};
    use ipconform::fixtures::{Credentials, Secret};
    let specs = ipconform::spec::SpecSet::embedded();
    let binding = specs.binding(dialect).unwrap();
    let profile = ipconform::profile::Profile::load(&s.profile).unwrap();
    let values = &profile.dialects[&dialect].fixtures;
    let params: Vec<(String, String)> = binding
        .bind(&binding.list.with, &values[fixture])
        .unwrap()
        .into_iter()
        .map(|(name, v)| match v {
            ParamValue::Text(t) => (
                name,
                t.render_owned(|var| values.get(var).map(String::as_str))
                    .unwrap(),
            ),
            _ => unreachable!("a binding's read takes scalars"),
        })
        .collect();
    let var = format!("PROOF_{}_DEFAULT", dialect.as_str().replace('-', "_")).to_uppercase();
    let env = |k: String| s.env.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    let credentials = Credentials {
        access_key_id: env(format!("{var}_ID")),
        access_key_secret: Secret::new(env(format!("{var}_SECRET"))),
    };
    let host = s.emulator.url.trim_start_matches("http://").to_string();
    let client = dialect.client();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let wire = client.encode(&Call {
        operation: &binding.list.call,
        params: &params,
        headers: &[],
        credentials: &credentials,
        context: CallContext {
            host: &host,
            now: chrono::Utc::now(),
            nonce: &nonce,
            signing: client.signing_variants()[0],
            method: Method::Get,
        },
    });
    let mut stream = std::net::TcpStream::connect(&host).expect("connect");
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
        wire.path_and_query
    )
    .unwrap();
    for (name, value) in &wire.headers {
        write!(stream, "{name}: {value}\r\n").unwrap();
    }
    write!(stream, "\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let decoded = client.decode(status, body.as_bytes());
    assert!(decoded.error.is_none(), "{fixture}: {head} {body}");
    let primary = binding.list.primary.select(&decoded.body);
    assert!(
        primary.is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty())),
        "{fixture} is not listed: {body}"
    );
    match binding.list.secondaries.select(&decoded.body) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        other => panic!("{fixture}: secondaries {other:?}"),
    }
}

/// Tencent's changes run as tasks and NAVER's leave an interface `SET`:
/// one change to a recorded address and one addition each, the run killed
/// while both cases wait, then the sweep, which waits as each dialect's
/// binding says (and retries a change refused as busy).
const TENCENT_SLOW: &str = r#"dialect: tencent-vpc-v2
source: "tests/profiles.rs"
cases:
  - id: tc-changes-then-waits
    title: changes the fixtures, then polls for a state that never comes
    steps:
      - call: AssignPrivateIpAddresses
        with: {Region: "{{region}}", vpcId: "{{vpc}}", networkInterfaceId: "{{eni.available}}", privateIpAddressSet.0.privateIpAddress: "{{subnet.free_ip}}", privateIpAddressSet.0.primary: "false"}
        capture: {task: data.taskId}
      - call: DescribeVpcTaskResult
        with: {Region: "{{region}}", taskId: "{{task}}"}
        wait: {until: {data.status: 0}, timeout: 30s, interval: 50ms, max_interval: 50ms}
      - call: UnassignPrivateIpAddresses
        with: {Region: "{{region}}", vpcId: "{{vpc}}", networkInterfaceId: "{{eni.with_secondaries}}", privateIpAddress.0: "{{subnet.taken_ip_2}}"}
      - call: DescribeNetworkInterfaces
        with: {Region: "{{region}}", vpcId: "{{vpc}}", networkInterfaceId: "{{eni.available}}"}
        wait: {until: {code: 99}, timeout: 120s, interval: 100ms, max_interval: 100ms}
"#;

const NAVER_SLOW: &str = r#"dialect: naver-vpc
source: "tests/profiles.rs"
cases:
  - id: ncp-changes-then-waits
    title: changes the fixtures, then polls for a state that never comes
    steps:
      - call: assignSecondaryIps
        with: {regionCode: "{{region}}", networkInterfaceNo: "{{eni.available}}", secondaryIpList.1: "{{subnet.free_ip}}", responseFormatType: json}
      - call: getNetworkInterfaceDetail
        with: {regionCode: "{{region}}", networkInterfaceNo: "{{eni.available}}", responseFormatType: json}
        wait:
          until: {"getNetworkInterfaceDetailResponse.networkInterfaceList[0].networkInterfaceStatus.code": NOTUSED}
          timeout: 30s
          interval: 50ms
          max_interval: 50ms
      - call: unassignSecondaryIps
        with: {regionCode: "{{region}}", networkInterfaceNo: "{{eni.with_secondaries}}", secondaryIpList.1: "{{subnet.taken_ip_2}}", responseFormatType: json}
      - call: getNetworkInterfaceDetail
        with: {regionCode: "{{region}}", networkInterfaceNo: "{{eni.available}}", responseFormatType: json}
        wait: {until: {getNetworkInterfaceDetailResponse.totalRows: 99}, timeout: 120s, interval: 100ms, max_interval: 100ms}
"#;

#[test]
fn tencent_tasks_and_naver_set_states_are_waited_out_when_a_killed_run_is_swept() {
    use ipconform::dialect::DialectId::{NaverVpc, TencentVpcV2};
    // Changes take 300 ms on this emulator, not 2-3 s.
    let s = setup_of(&["tencent-vpc-v2", "naver-vpc"], &|world| {
        let edited = world
            .replace("change_delay: 2s", "change_delay: 300ms")
            .replace("change_delay: 3s", "change_delay: 300ms");
        assert_ne!(edited, world);
        edited
    });
    let fixtures = ["eni.available", "eni.with_secondaries"];
    let state = || -> Vec<Vec<String>> {
        [TencentVpcV2, NaverVpc]
            .iter()
            .flat_map(|d| fixtures.iter().map(|f| read_via_api(&s, *d, f)))
            .collect()
    };
    let initial = state();
    assert_eq!(
        initial,
        [
            vec![],
            vec!["10.16.1.20".to_string(), "10.16.1.21".into()],
            vec![],
            vec!["10.20.1.20".to_string(), "10.20.1.21".into()],
        ]
    );
    let slow = tempfile::tempdir().unwrap();
    for (dialect, text) in [("tencent-vpc-v2", TENCENT_SLOW), ("naver-vpc", NAVER_SLOW)] {
        std::fs::create_dir_all(slow.path().join(dialect)).unwrap();
        std::fs::write(slow.path().join(dialect).join("slow.yaml"), text).unwrap();
    }
    let mut child = s
        .command(&[
            "run",
            "--target",
            &s.profile_arg(),
            "--cases",
            &slow.path().display().to_string(),
            "--report-dir",
            "reports",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both cases have made both changes (a dialect's cases run side by
    // side with the other's: the profile's concurrency is 2).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ledger = std::fs::read_to_string(s.ledger()).unwrap_or_default();
        let answered = ledger
            .lines()
            .filter(|l| l.contains("\"record\":\"result\"") && l.contains("\"status\":200"))
            .count();
        if answered >= 4 {
            break;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the ledger never showed the four changes:\n{ledger}\n{}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    s.keep(&out);
    // The unassigns' tasks end on their own (300 ms); then the fixtures
    // read plainly changed.
    let dirty = vec![
        vec!["10.16.1.100".to_string()],
        vec!["10.16.1.20".to_string()],
        vec!["10.20.1.100".to_string()],
        vec!["10.20.1.20".to_string()],
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    while state() != dirty {
        assert!(Instant::now() < deadline, "{:?}", state());
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = s.run(&["sweep", "--target", &s.profile_arg()]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("tencent-vpc-v2 eni.available (eni-emu0tcavail1): unassigned 10.16.1.100"),
        "{stdout}"
    );
    assert!(
        stdout.contains("naver-vpc eni.with_secondaries (30004): assigned back 10.20.1.21"),
        "{stdout}"
    );
    assert_eq!(state(), initial);
    for secret in &s.secrets {
        for printed in s.printed.borrow().iter() {
            assert!(
                !printed.contains(secret.as_str()),
                "printed a secret:\n{printed}"
            );
        }
    }
}
