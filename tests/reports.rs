//! The files of a run, read as their readers read them.
//!
//! One `ipconform run` on the embedded emulator, over cases written here:
//! a case that expects the wrong code, one that expects a wrong count, a
//! known deviation, a stale deviation, a case whose reply reflects hostile
//! markup, and a copy of the project's Tencent cycle cases (polling steps).
//! Then: report.json against its published schema; the wrong-code case in
//! each of the four renderings (terminal, JUnit, Markdown, HTML) with its
//! expected and actual values and its `file:line`; escaping; normalization;
//! and no credential secret of the world file in any file the run wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const ECS_CASES: &str = "\
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
  - id: wrong-count
    title: assigns two addresses and expects three
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: '{{eni.available}}'
          SecondaryPrivateIpAddressCount: 2
        expect:
          body:
            AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress: {length: 3}
            RequestId: {uuid: true}
        capture:
          ip: AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress[0]
    cleanup:
      - call: UnassignPrivateIpAddresses
        with: {RegionId: '{{region}}', NetworkInterfaceId: '{{eni.available}}', PrivateIpAddress.1: '{{ip}}'}
  - id: deviates
    title: a deviation the emulator is known for
    deviations: {emulator: the emulator answers 404 here}
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: eni-doesnotexist
          SecondaryPrivateIpAddressCount: 1
        expect:
          error: {status: 400, code: InvalidEniId.NotFound}
  - id: stale-deviation
    title: conforms though listed as deviating
    deviations: {emulator: was broken once}
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: eni-doesnotexist
          SecondaryPrivateIpAddressCount: 1
        expect:
          error: {status: 404, code: InvalidEniId.NotFound}
  - id: hostile
    title: \"<script>alert('title')</script> & friends\"
    steps:
      - call: AssignPrivateIpAddresses
        with:
          RegionId: '{{region}}'
          NetworkInterfaceId: 'eni-<img src=x onerror=alert(1)>```'
          SecondaryPrivateIpAddressCount: 1
        expect:
          error: {status: 404, code: 'Invalid</pre><script>x</script>'}
";

/// The location of the wrong-code case's step in the file above.
const WRONG_CODE_STEP: &str = "t.yaml:7";

struct Run {
    _cases: tempfile::TempDir,
    _reports: tempfile::TempDir,
    dir: PathBuf,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_else(|e| panic!("{name} was written: {e}"))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.file("report.json")).expect("report.json is JSON")
    }
}

/// The one run every test reads; made once per test binary.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let cases = tempfile::tempdir().unwrap();
        let ecs = cases.path().join("alibaba-ecs");
        std::fs::create_dir_all(&ecs).unwrap();
        std::fs::write(ecs.join("t.yaml"), ECS_CASES).unwrap();
        let tencent = cases.path().join("tencent-vpc-v2");
        std::fs::create_dir_all(&tencent).unwrap();
        std::fs::copy(
            root().join("cases/tencent-vpc-v2/cycle.yaml"),
            tencent.join("cycle.yaml"),
        )
        .unwrap();
        let reports = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ipconform"))
            .args(["run", "--specs"])
            .arg(root().join("specs"))
            .arg("--world")
            .arg(root().join("cases/worlds/default.yaml"))
            .arg("--cases")
            .arg(cases.path())
            .arg("--report-dir")
            .arg(reports.path())
            // Not a terminal either way; NO_COLOR unset must not matter.
            .env_remove("NO_COLOR")
            .output()
            .expect("ipconform runs");
        let dir = std::fs::read_dir(reports.path())
            .unwrap()
            .next()
            .expect("a run folder")
            .unwrap()
            .path();
        Run {
            _cases: cases,
            _reports: reports,
            dir,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("docs/report.schema.json")).unwrap();
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("the schema compiles")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_run_fails_and_writes_four_files() {
    let run = run();
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    for name in ["report.json", "junit.xml", "report.md", "report.html"] {
        assert!(
            run.dir.join(name).is_file(),
            "{name} in {}",
            run.dir.display()
        );
    }
}

#[test]
fn report_json_is_valid_against_the_published_schema() {
    let run = run();
    let report = run.json();
    let validator = validator();
    let problems = errors(&validator, &report);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["kind"], "ipconform-run-report");
    let summary = &report["summary"];
    assert_eq!(summary["fails"], 3, "{summary}");
    assert_eq!(summary["known_deviations"], 1);
    assert_eq!(summary["unexpected_conformance"], 1);
    assert_eq!(report["run"]["success"], false);
    let dialects: Vec<&str> = report["by_dialect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dialect"].as_str().unwrap())
        .collect();
    assert_eq!(dialects, ["alibaba-ecs", "tencent-vpc-v2"]);
    // A polling step is in there, with its attempts.
    let polled = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["steps"].as_array().unwrap())
        .any(|s| s["attempts"].as_array().unwrap().len() > 1);
    assert!(polled, "the Tencent cycle polls its tasks");

    // The model reads its own file back, field for field.
    let model: ipconform::report::model::RunReport =
        serde_json::from_value(report.clone()).expect("report.json reads back");
    assert_eq!(serde_json::to_value(&model).unwrap(), report);

    // The schema has teeth: a missing field, an unknown one and an unknown
    // outcome are each refused.
    let mut broken = report.clone();
    broken.as_object_mut().unwrap().remove("kind");
    assert!(!errors(&validator, &broken).is_empty());
    let mut broken = report.clone();
    broken["results"][0]["surprise"] = Value::Bool(true);
    assert!(!errors(&validator, &broken).is_empty());
    let mut broken = report;
    broken["results"][0]["outcome"] = "passed".into();
    assert!(!errors(&validator, &broken).is_empty());
}

/// The case `id` in report.json.
fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("case {id} in report.json"))
}

#[test]
fn the_failing_case_reads_in_the_terminal() {
    let out = &run().stdout;
    assert!(!out.contains('\u{1b}'), "no colour off a terminal: {out:?}");
    assert!(out.contains("-code: InvalidIp.IpAssigned"), "{out}");
    assert!(out.contains("+code: InvalidEniId.NotFound"), "{out}");
    assert!(out.contains("-status: 403"), "{out}");
    assert!(out.contains("+status: 404"), "{out}");
    assert!(out.contains(WRONG_CODE_STEP), "{out}");
}

#[test]
fn the_failing_case_reads_in_junit() {
    use quick_junit::{NonSuccessKind, TestCaseStatus};
    let xml = run().file("junit.xml");
    let junit = quick_junit::Report::deserialize_from_str(&xml).expect("junit.xml parses");
    let cases: Vec<&quick_junit::TestCase> = junit
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .collect();
    let report = run().json();
    assert_eq!(
        cases.len(),
        report["results"].as_array().unwrap().len(),
        "one testcase per case"
    );
    let named = |name: &str| {
        cases
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("testcase {name}: {xml}"))
    };
    let wrong = named("wrong-code");
    assert_eq!(
        wrong.classname.as_ref().map(|c| c.as_str()),
        Some("emulator::alibaba-ecs::t")
    );
    let attr = |c: &quick_junit::TestCase, key: &str| {
        c.extra
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str().to_string())
    };
    assert!(attr(wrong, "file").is_some_and(|f| f.ends_with("t.yaml")));
    assert_eq!(attr(wrong, "line").as_deref(), Some("4"));
    assert!(wrong.time.is_some());
    match &wrong.status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message,
            description,
            ..
        } => {
            let message = message.as_ref().unwrap().as_str();
            assert!(message.contains(WRONG_CODE_STEP), "{message}");
            assert!(message.contains("status: 403"), "{message}");
            let text = description.as_ref().unwrap().as_str();
            assert!(text.contains("-code: InvalidIp.IpAssigned"), "{text}");
            assert!(text.contains("+code: InvalidEniId.NotFound"), "{text}");
            assert!(text.contains(WRONG_CODE_STEP), "{text}");
        }
        other => panic!("wrong-code is a failure: {other:?}"),
    }
    match &named("deviates").status {
        TestCaseStatus::Skipped { message, .. } => assert!(message
            .as_ref()
            .unwrap()
            .as_str()
            .contains("the emulator answers 404 here")),
        other => panic!("a known deviation is skipped: {other:?}"),
    }
    assert!(matches!(
        &named("stale-deviation").status,
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            ..
        }
    ));
    assert!(matches!(
        &named("tc-cycle-post-form-body").status,
        TestCaseStatus::Success { .. }
    ));
}

#[test]
fn the_failing_case_reads_in_markdown() {
    let md = run().file("report.md");
    assert!(md.starts_with("## ❌ ipconform: 4 of "), "{md}");
    let failing = md.find("### Failing cases").expect("a failing section");
    let others = md.find("### Other outcomes").expect("the rest, folded");
    let wrong = md.find("emulator::alibaba-ecs::t::wrong-code").unwrap();
    assert!(failing < wrong && wrong < others, "failures first: {md}");
    assert!(md.contains("```diff\n"), "{md}");
    assert!(md.contains("\n-code: InvalidIp.IpAssigned\n"), "{md}");
    assert!(md.contains("\n+code: InvalidEniId.NotFound\n"), "{md}");
    assert!(md.contains(WRONG_CODE_STEP), "{md}");
    // The copied Tencent cycle file grows; the count comes from the run.
    let conforms = run().json()["summary"]["conforms"].as_u64().unwrap();
    assert!(conforms > 0);
    assert!(
        md.contains(&format!(
            "<details><summary>✅ {conforms} conform</summary>"
        )),
        "{md}"
    );
}

#[test]
fn the_failing_case_reads_in_html() {
    let html = run().file("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("id=\"summary\""));
    let wrong = "id=\"case-emulator--alibaba-ecs--t--wrong-code\"";
    let start = html.find(wrong).expect("the case's id");
    let case = &html[start..];
    let case = &case[..case.find("</details>").unwrap_or(case.len())];
    assert!(
        html[..start].ends_with("<details ") && case.contains(" open"),
        "a failing case is open"
    );
    assert!(case.contains("class=\"diff\""), "{case}");
    assert!(case.contains("<del>InvalidIp.IpAssigned</del>"), "{case}");
    assert!(case.contains("<ins>InvalidEniId.NotFound</ins>"), "{case}");
    assert!(case.contains("<del>403</del>"), "{case}");
    assert!(case.contains("<ins>404</ins>"), "{case}");
    assert!(case.contains(WRONG_CODE_STEP), "{case}");
    // Failing cases come first; passing ones are closed.
    let passing = html
        .find("id=\"case-emulator--tencent-vpc-v2--cycle--tc-cycle-post-form-body\"")
        .expect("a passing case");
    assert!(start < passing);
    let tag_end = passing + html[passing..].find('>').unwrap();
    assert!(!html[passing..tag_end].contains("open"));
    // Self-contained: nothing is fetched.
    for outside in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
}

#[test]
fn text_from_cases_and_replies_cannot_become_markup() {
    let html = run().file("report.html");
    assert_eq!(html.matches("<script").count(), 1, "only the page's own");
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert('title')&lt;/script&gt; &amp; friends"));
    assert!(html.contains("eni-&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("Content-Security-Policy"));

    // In Markdown the reply's markup stays inside code fences, and the
    // title is escaped.
    let md = run().file("report.md");
    assert!(md.contains("&lt;script&gt;alert('title')&lt;/script&gt; &amp; friends"));
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match fence {
            None if ticks >= 3 => fence = Some(ticks),
            Some(open) if ticks >= open && line.trim_start_matches('`').is_empty() => fence = None,
            None => assert!(
                !line.contains("<img") && !line.contains("<script>"),
                "markup outside a fence: {line}"
            ),
            Some(_) => {}
        }
    }
    assert_eq!(fence, None, "every fence closes");
}

#[test]
fn volatile_values_are_normalized_where_shown_and_kept_in_json() {
    let run = run();
    let report = run.json();
    let step = &case(&report, "wrong-code")["steps"][0];
    assert_eq!(step["response"]["body"]["RequestId"], "<request-id>");
    let normalized = step["response"]["normalized"].as_array().unwrap();
    let request_id = normalized
        .iter()
        .find(|r| r["rule"] == "request_id")
        .expect("the request id is recorded")["original"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    for shown in [run.file("report.md"), run.stdout.clone()] {
        assert!(!shown.contains(&request_id));
    }
    // The page lists the originals under each reply, for a support
    // ticket, and nowhere else.
    let html = run.file("report.html");
    let mut outside = String::new();
    let mut rest = html.as_str();
    while let Some(at) = rest.find("<ul class=\"normalized\">") {
        outside.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = &rest[rest.find("</ul>").unwrap()..];
    }
    outside.push_str(rest);
    assert!(html.contains(&request_id));
    assert!(!outside.contains(&request_id));
    // The captured address is named as the case names it.
    let count = &case(&report, "wrong-count")["steps"][0];
    let actual = count["check"]["actual"].as_array().unwrap();
    assert!(
        actual
            .iter()
            .any(|l| l.as_str().unwrap().contains("length 2 [\"{{ip}}\"")),
        "{actual:?}"
    );
    // The judge saw the raw reply: `RequestId: {uuid: true}` held.
    assert!(actual.iter().any(|l| l == "body.RequestId: a UUID"));
}

/// Every `secret` and `access_key_secret` value in a YAML document.
fn secrets(value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                match v {
                    serde_yaml::Value::String(s)
                        if key == "secret" || key == "access_key_secret" =>
                    {
                        out.push(s.clone())
                    }
                    _ => secrets(v, out),
                }
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| secrets(v, out)),
        _ => {}
    }
}

#[test]
fn no_file_the_run_wrote_holds_a_secret() {
    let world = std::fs::read_to_string(root().join("cases/worlds/default.yaml")).unwrap();
    let world: serde_yaml::Value = serde_yaml::from_str(&world).unwrap();
    let mut found = Vec::new();
    secrets(&world, &mut found);
    found.sort();
    found.dedup();
    assert!(found.len() >= 10, "the world's secrets: {found:?}");

    let run = run();
    let mut scanned = vec![
        ("stdout".to_string(), run.stdout.clone()),
        ("stderr".to_string(), run.stderr.clone()),
    ];
    let mut folders = vec![run.dir.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                scanned.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    assert!(scanned.len() >= 6, "four files and two streams");
    for (name, text) in &scanned {
        for secret in &found {
            assert!(!text.contains(secret.as_str()), "{name} holds a secret");
        }
    }
    // The scan reads what was sent: the key *ids* are there, redacted
    // requests and all.
    let json = run.file("report.json");
    assert!(json.contains("LTAI5tEmuDefault7kQ2mX9p"));
    assert!(json.contains("Signature=***"));
}

#[test]
fn every_report_shows_what_the_runs_cases_exercise_of_the_specs() {
    let run = run();
    let json = run.json();
    let coverage = &json["coverage"];
    let dialects: Vec<&str> = coverage["dialects"]
        .as_array()
        .expect("coverage per dialect")
        .iter()
        .map(|d| d["dialect"].as_str().unwrap())
        .collect();
    assert_eq!(
        dialects,
        ["alibaba-ecs", "tencent-vpc-v2"],
        "only the dialects the run's cases are of"
    );
    let assign = coverage["dialects"][0]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation"] == "AssignPrivateIpAddresses")
        .expect("the ECS assign operation");
    let missing = assign["unexercised_errors"].as_array().unwrap();
    assert!(
        missing.iter().any(|c| c == "InvalidVSwitchId.IpNotEnough"),
        "a code this run's few cases never expect is listed: {missing:?}"
    );
    let md = run.file("report.md");
    assert!(md.contains("### Spec coverage: "), "{md}");
    assert!(md.contains("What no case exercises"), "{md}");
    let html = run.file("report.html");
    assert!(html.contains(r#"id="coverage""#));
    assert!(html.contains("InvalidVSwitchId.IpNotEnough"));
}
