//! The `ipconform` binary as a user meets it: exit codes, the diff of a
//! wrong expectation, `file:line:col` of a malformed case, reports on disk,
//! and the first line of `emulate`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A cases folder holding one file of `dialect` with `text`.
fn dialect_cases_with(dialect: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join(dialect);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("t.yaml"), text).unwrap();
    dir
}

/// A cases folder holding one `alibaba-ecs` file with `text`, and the file.
fn cases_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = dialect_cases_with("alibaba-ecs", text);
    let file = dir.path().join("alibaba-ecs/t.yaml");
    (dir, file)
}

fn ipconform(args: &[&str], cases: &Path, reports: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(args)
        .arg("--specs")
        .arg(root().join("specs"))
        .arg("--world")
        .arg(root().join("cases/worlds/default.yaml"))
        .arg("--cases")
        .arg(cases)
        .args(if args[0] == "run" {
            vec!["--report-dir".to_string(), reports.display().to_string()]
        } else {
            vec![]
        })
        .output()
        .expect("ipconform runs")
}

const WRONG_EXPECTATION: &str = "\
dialect: alibaba-ecs
source: 001_d56fe85a99ce17ec.txt
cases:
  - id: wrong-code
    title: expects the wrong code for an unknown ENI
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: eni-doesnotexist
          SecondaryPrivateIpAddressCount: 1
        expect:
          error: {status: 403, code: InvalidIp.IpAssigned}
";

#[test]
fn a_wrong_expectation_fails_with_a_readable_diff_and_reports() {
    let (cases, _) = cases_with(WRONG_EXPECTATION);
    let reports = tempfile::tempdir().unwrap();
    let out = ipconform(&["run"], cases.path(), reports.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("-code: InvalidIp.IpAssigned"), "{stdout}");
    assert!(stdout.contains("+code: InvalidEniId.NotFound"), "{stdout}");
    assert!(stdout.contains("-status: 403"), "{stdout}");
    assert!(stdout.contains("+status: 404"), "{stdout}");
    assert!(
        stdout.contains("t.yaml:7"),
        "the diff says where to edit: {stdout}"
    );
    let run_dir = first_run(reports.path());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["fails"], 1);
    assert_eq!(report["results"][0]["outcome"], "fails");
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn the_right_expectation_conforms_and_exits_zero() {
    let fixed = WRONG_EXPECTATION.replace(
        "status: 403, code: InvalidIp.IpAssigned",
        "status: 404, code: InvalidEniId.NotFound",
    );
    let (cases, _) = cases_with(&fixed);
    let reports = tempfile::tempdir().unwrap();
    let out = ipconform(&["run"], cases.path(), reports.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_malformed_case_file_names_file_line_col() {
    let broken = WRONG_EXPECTATION.replace("        expect:", "        expcet:");
    let (cases, file) = cases_with(&broken);
    let out = ipconform(&["lint"], cases.path(), Path::new("."));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:12:9", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `expect`?"), "{stderr}");
}

#[test]
fn lint_flags_an_undocumented_code_and_an_unknown_parameter() {
    let drifted = WRONG_EXPECTATION
        .replace("code: InvalidIp.IpAssigned", "code: InvalidEni.NotFound")
        .replace(
            "SecondaryPrivateIpAddressCount: 1",
            "SecondaryPrivateIpAddresCount: 1",
        );
    let (cases, _) = cases_with(&drifted);
    let out = ipconform(&["lint"], cases.path(), Path::new("."));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`InvalidEni.NotFound` is not documented"),
        "{stdout}"
    );
    assert!(
        stdout.contains("did you mean `SecondaryPrivateIpAddressCount`?"),
        "{stdout}"
    );
}

#[test]
fn emulate_prints_its_address_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(["emulate", "--listen", "127.0.0.1:0", "--world"])
        .arg(root().join("cases/worlds/default.yaml"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("emulate starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first:?}"
    );
    let port: u16 = first.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
}

#[test]
fn lint_checks_values_against_the_spec_bounds_and_each_dialects_fixtures() {
    let out_of_bounds = "\
dialect: alibaba-ecs
source: 001_d56fe85a99ce17ec.txt
cases:
  - id: index-too-high
    title: sends PrivateIpAddress.51 and expects success
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: '{{eni.available}}'
          PrivateIpAddress.51: '{{vswitch.free_ip}}'
  - id: count-zero
    title: sends a count of 0 and expects the ENI lookup to fail
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: eni-doesnotexist
          SecondaryPrivateIpAddressCount: 0
        expect:
          error: {status: 404, code: InvalidEniId.NotFound}
  - id: count-zero-on-purpose
    title: sends a count of 0 and expects the refusal of it
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: '{{eni.available}}'
          SecondaryPrivateIpAddressCount: 0
        expect:
          error: {status: 400, code: InvalidParameter}
";
    let cases = dialect_cases_with("alibaba-ecs", out_of_bounds);
    let out = ipconform(&["lint"], cases.path(), Path::new("."));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`PrivateIpAddress.51`: the index must be a number from 1 to 50"),
        "{stdout}"
    );
    assert!(
        stdout.contains("this step expects InvalidEniId.NotFound, but")
            && stdout.contains("`SecondaryPrivateIpAddressCount`: `0` must be at least 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 findings"),
        "the third case tests the refusal: {stdout}"
    );

    // An ENS case sees the ENS fixtures, not the ECS ones.
    let wrong_fixture = "\
dialect: alibaba-ens
source: 000_2123d989b65902d6.txt
cases:
  - id: ecs-fixture-in-ens
    title: uses an ECS fixture name
    steps:
      - call: DescribeNetworkInterfaces
        with:
          EnsRegionId: '{{region}}'
";
    let cases = dialect_cases_with("alibaba-ens", wrong_fixture);
    let out = ipconform(&["lint"], cases.path(), Path::new("."));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`{{region}}` is neither a fixture"),
        "{stdout}"
    );
}

/// Sends one raw HTTP/1.1 GET and returns the status line and body.
fn http_get(addr: &str, target: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn emulate_carries_its_specs_and_world_and_works_from_any_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(["emulate", "--listen", "127.0.0.1:0"])
        .current_dir(elsewhere.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("emulate starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .trim_start_matches("listening on http://")
        .to_string();
    // A signed ENS request: the ENS spec and the ENS fixtures are built in.
    let params: Vec<(String, String)> = [
        ("Action", "DescribeNetworkInterfaces"),
        ("Version", "2017-11-10"),
        ("Format", "JSON"),
        ("AccessKeyId", "LTAI5tEmuDefault7kQ2mX9p"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "cli-any-folder"),
        (
            "Timestamp",
            &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("NetworkInterfaceId", "eni-5emu0available001"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let query = ipconform::dialect::alibaba_rpc::signed_query(
        "GET",
        &params,
        "emuDefaultSecret0f3b8c1d2e4a5b6c",
    );
    let (status, body) = http_get(&addr, &format!("/?{query}"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.contains(" 200 "), "{status}: {body}");
    assert!(body.contains("\"TotalCount\":1"), "{body}");
}

/// The first run folder under `reports`.
fn first_run(reports: &Path) -> PathBuf {
    std::fs::read_dir(reports)
        .unwrap()
        .next()
        .expect("a run folder")
        .unwrap()
        .path()
}

/// The report of the only run under `reports`.
fn only_report(reports: &Path) -> serde_json::Value {
    let run_dir = first_run(reports);
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_polling_step_waits_in_the_emulators_virtual_time_and_records_each_attempt() {
    let never = "\
dialect: alibaba-ecs
source: 001_d56fe85a99ce17ec.txt
cases:
  - id: waits-for-what-never-comes
    title: polls a describe for an address no one assigns
    steps:
      - call: DescribeNetworkInterfaces
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId.1: '{{eni.available}}'
        wait:
          until:
            NetworkInterfaceSets.NetworkInterfaceSet[0].PrivateIpSets.PrivateIpSet: {length: 2}
          timeout: 30s
          interval: 1s
          max_interval: 5s
";
    let cases = dialect_cases_with("alibaba-ecs", never);
    let reports = tempfile::tempdir().unwrap();
    let out = ipconform(&["run"], cases.path(), reports.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`until` did not hold after 9 attempts"),
        "{stdout}"
    );
    let report = only_report(reports.path());
    let attempts = report["results"][0]["steps"][0]["attempts"]
        .as_array()
        .unwrap()
        .clone();
    // Pauses of 1, 2, 4, then 5 s, cut at the 30 s timeout: virtual time,
    // so the run does not take half a minute.
    let waited: Vec<u64> = attempts
        .iter()
        .map(|a| a["waited_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(
        waited,
        [0, 1000, 3000, 7000, 12000, 17000, 22000, 27000, 30000]
    );
    assert!(attempts.iter().all(|a| a["met"] == false));

    // A mutating call is never repeated: lint says so, and so does the run.
    let mutating = never
        .replace("call: DescribeNetworkInterfaces", "call: UnassignPrivateIpAddresses")
        .replace("NetworkInterfaceId.1: '{{eni.available}}'", "NetworkInterfaceId: '{{eni.available}}'\n          PrivateIpAddress.1: '{{vswitch.free_ip}}'");
    let cases = dialect_cases_with("alibaba-ecs", &mutating);
    let out = ipconform(&["lint"], cases.path(), Path::new("."));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("changes state and is never repeated"),
        "{stdout}"
    );
    let reports = tempfile::tempdir().unwrap();
    let out = ipconform(&["run"], cases.path(), reports.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("so it is never repeated"), "{stdout}");
    let report = only_report(reports.path());
    assert!(
        report["results"][0]["steps"][0]["request"].is_null(),
        "nothing was sent"
    );
}

#[test]
fn lint_reads_lists_rows_and_requires() {
    let text = "\
dialect: alibaba-ecs
source: 001_d56fe85a99ce17ec.txt
cases:
  - id: too-many-in-a-list
    title: eleven addresses in one list, expecting success
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: '{{eni.available}}'
          PrivateIpAddress.N: [a, b]
  - id: rows
    title: 'code {{row.code}}'
    rows:
      - {code: InvalidEniId.NotFound}
      - {code: InvalidEniId.NotFund}
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: '{{region}}', NetworkInterfaceId: eni-x, SecondaryPrivateIpAddressCount: 1}
        expect:
          error: {code: '{{row.code}}'}
  - id: never-runs
    title: requires a fixture no world has
    requires: {fixtures: [eni.nowhere]}
    steps:
      - call: DescribeNetworkInterfaces
        with: {RegionId: '{{region}}'}
";
    let cases = dialect_cases_with("alibaba-ecs", text);
    let reports = tempfile::tempdir().unwrap();
    let out = ipconform(&["lint"], cases.path(), reports.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("PrivateIpAddress.1") && all.contains("IPv4"),
        "the list's items are checked as the wire elements: {all}"
    );
    assert!(
        all.contains("`InvalidEniId.NotFund` is not documented"),
        "the second row's code: {all}"
    );
    assert!(
        !all.contains("`InvalidEniId.NotFound` is not documented"),
        "the first row's code is documented: {all}"
    );
    assert!(all.contains("requires the fixture `eni.nowhere`"), "{all}");
}

fn coverage(args: &[&str], cases: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .arg("coverage")
        .arg("--specs")
        .arg(root().join("specs"))
        .arg("--cases")
        .arg(cases)
        .args(args)
        .output()
        .expect("ipconform runs")
}

/// `ipconform compare` over `cases`, its reports under `reports`.
fn compare(cases: &Path, reports: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .arg("compare")
        .arg("--specs")
        .arg(root().join("specs"))
        .arg("--world")
        .arg(root().join("cases/worlds/default.yaml"))
        .arg("--cases")
        .arg(cases)
        .arg("--report-dir")
        .arg(reports)
        .args(extra)
        .output()
        .expect("ipconform runs")
}

/// The lines of the "what no case exercises" section of one operation.
fn gap_section<'t>(text: &'t str, title: &str) -> &'t str {
    let start = text
        .find(&format!("\n{title} ("))
        .unwrap_or_else(|| panic!("no section `{title}` in:\n{text}"));
    let rest = &text[start + 1..];
    rest.find("\n\n").map_or(rest, |end| &rest[..end])
}

#[test]
fn coverage_of_the_project_lists_what_no_case_exercises_and_gates_on_min() {
    let cases = root().join("cases");
    let out = coverage(&[], &cases);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("spec coverage: "), "{stdout}");
    // The ECS reference copies a security-group row into the Describe
    // table; no case can sensibly expect it there.
    let describe = gap_section(&stdout, "alibaba-ecs DescribeNetworkInterfaces");
    assert!(
        describe.contains("InvalidSecurityGroupId.NotVpc (HTTP 403)"),
        "{describe}"
    );
    let ens = gap_section(&stdout, "alibaba-ens AssignPrivateIpAddresses");
    assert!(
        ens.contains("not producible, not counted: ens.interface.error (HTTP 400): "),
        "{ens}"
    );

    let strict = coverage(&["--min", "100"], &cases);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is below --min 100%"), "{stderr}");
    assert_eq!(coverage(&["--min", "0"], &cases).status.code(), Some(0));
}

#[test]
fn coverage_as_json_for_one_dialect_and_refusing_bad_input() {
    let cases = root().join("cases");
    let out = coverage(&["--format", "json", "--dialect", "tencent-vpc-v2"], &cases);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["dialects"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["dialects"][0]["dialect"], "tencent-vpc-v2");
    assert_eq!(json["summary"], json["dialects"][0]["summary"]);
    let ops = json["dialects"][0]["operations"]
        .as_array()
        .expect("operations");
    assert!(ops
        .iter()
        .any(|op| op["operation"] == "DescribeVpcTaskResult"));

    let markdown = coverage(&["--format", "markdown"], &cases);
    let md = String::from_utf8_lossy(&markdown.stdout);
    assert!(md.starts_with("## Spec coverage\n"), "{md}");

    for bad in [
        &["--min", "101"][..],
        &["--min", "lots"],
        &["--dialect", "aws-ec2"],
    ] {
        let out = coverage(bad, &cases);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let broken = WRONG_EXPECTATION.replace("        expect:", "        expcet:");
    let (dir, file) = cases_with(&broken);
    let out = coverage(&[], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:12:9", file.display())),
        "{stderr}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly_not_with_a_panic() {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(["coverage", "--format", "json", "--cases"])
        .arg(root().join("cases"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's reading end is closed here, long before the JSON ends.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
}

/// The one run folder under `reports`.
fn only_run(reports: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.remove(0)
}

#[test]
fn compare_writes_three_files_with_every_scenario_on_every_dialect() {
    let reports = tempfile::tempdir().unwrap();
    let out = compare(&root().join("cases"), reports.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("| scenario | alibaba-ecs | alibaba-ens | tencent-vpc-v2 | naver-vpc |"),
        "{stdout}"
    );
    let run = only_run(reports.path());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("comparison.json")).unwrap())
            .unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["kind"], "ipconform-comparison");
    let rows = doc["rows"].as_array().unwrap();
    let scenarios: usize = std::fs::read_dir(root().join("cases/portable"))
        .unwrap()
        .map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            text.lines().filter(|l| l.starts_with("  - id: ")).count()
        })
        .sum();
    assert_eq!(rows.len(), scenarios);
    for row in rows {
        let dialects: Vec<&str> = row["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["dialect"].as_str().unwrap())
            .collect();
        assert_eq!(
            dialects,
            ["alibaba-ecs", "alibaba-ens", "tencent-vpc-v2", "naver-vpc"],
            "{}",
            row["scenario"]
        );
    }
    let differing: Vec<&str> = rows
        .iter()
        .filter(|r| r["differs"] == true)
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert!(differing.len() >= 3, "{differing:?}");
    // Porting surprises come first.
    assert!(rows[..differing.len()].iter().all(|r| r["differs"] == true));
    let md = std::fs::read_to_string(run.join("comparison.md")).unwrap();
    assert!(md.contains("⚠ differs"), "{md}");
    assert!(md.contains("## Legend"), "{md}");
    let html = std::fs::read_to_string(run.join("comparison.html")).unwrap();
    assert!(html.contains("<table id=\"matrix\">"));
    assert!(html.contains("id=\"legend\""));
    assert!(html.contains("class=\"cell outcome-ip-in-use conforms\""));
}

const WRONG_PER_DIALECT: &str = "\
source: test
scenarios:
  - id: absent-unassign
    title: releasing an address the interface does not hold
    steps:
      - unassign: eni.available
        ips: ['{{subnet.free_ip}}']
        observe: true
        expect:
          kind: ip-not-assigned
          per_dialect:
            naver-vpc: {expect: {kind: primary-ip}, why: deliberately wrong}
";

#[test]
fn compare_marks_a_wrong_documented_outcome_and_exits_one() {
    let cases = dialect_cases_with("portable", WRONG_PER_DIALECT);
    let reports = tempfile::tempdir().unwrap();
    let out = compare(cases.path(), reports.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("✗ ok* · 200"), "{stdout}");
    let run = only_run(reports.path());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("comparison.json")).unwrap())
            .unwrap();
    let cells = doc["rows"][0]["cells"].as_array().unwrap();
    let naver = cells.iter().find(|c| c["dialect"] == "naver-vpc").unwrap();
    assert_eq!(naver["conforms"], false);
    assert_eq!(naver["observed"]["outcome"], "ok");
    let ecs = cells
        .iter()
        .find(|c| c["dialect"] == "alibaba-ecs")
        .unwrap();
    assert_eq!(ecs["conforms"], true);
    assert_eq!(ecs["observed"]["code"], "InvalidIp.IpUnassigned");
    // The detail shows the diff in outcome terms (as report.html draws
    // it: changed words marked up, so compare the text).
    let html = std::fs::read_to_string(run.join("comparison.html")).unwrap();
    let text = text_of(&html);
    assert!(text.contains("-outcome: primary-ip (1002107)"), "{text}");
    assert!(text.contains("+outcome: ok (HTTP 200, no error)"), "{text}");
    assert!(
        html.contains("<del>") && html.contains("<ins>"),
        "word-level changes"
    );
    assert!(
        html.contains("give it a `per_dialect` expectation"),
        "{html}"
    );

    // Fixed, it conforms; and one dialect can be compared alone.
    let fixed = WRONG_PER_DIALECT.replace(
        "{expect: {kind: primary-ip}, why: deliberately wrong}",
        "{expect: ok, why: \"the guides: no error\"}",
    );
    let cases = dialect_cases_with("portable", &fixed);
    let reports = tempfile::tempdir().unwrap();
    let out = compare(cases.path(), reports.path(), &["--dialect", "naver-vpc"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| scenario | naver-vpc |"), "{stdout}");
}

#[test]
fn compare_refuses_an_unknown_dialect_and_an_empty_selection() {
    let reports = tempfile::tempdir().unwrap();
    let out = compare(
        &root().join("cases"),
        reports.path(),
        &["--dialect", "aws-ec2"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dialect `aws-ec2`"));
    let out = compare(
        &root().join("cases"),
        reports.path(),
        &["--filter", "no-such-scenario"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no portable scenario matches"));
}

/// An HTML page's text: tags dropped, the five escapes undone.
fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
