//! Behaviour pinned where tests could not fail before: the known-deviation
//! and unexpected-conformance outcomes, in both directions, through the
//! runner and the binary; and the loading of the project's own case files
//! (every file read, none skipped, ids and trial addresses unique, a
//! duplicated id refused at its line), which replaces a test that asserted
//! a case count because an issue once asked for one.

use std::path::Path;
use std::process::Command;

use ipconform::case::{load_dir, parse_file};
use ipconform::emulator::world::WorldFile;
use ipconform::runner::{Outcome, Runner};
use ipconform::spec::SpecSet;
use ipconform::target::Target;

/// Two cases listed as deviating on the embedded emulator: one that does
/// deviate (it expects the wrong code), one that conforms; and the same
/// two listing another target only.
const CASES: &str = r#"
dialect: alibaba-ecs
source: test
cases:
  - id: deviates-as-listed
    title: expects 403 InvalidIp.IpAssigned where the emulator answers 404 InvalidEniId.NotFound
    deviations: {emulator: "answers 404 here"}
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: eni-doesnotexist, SecondaryPrivateIpAddressCount: 1}
        expect: {error: {status: 403, code: InvalidIp.IpAssigned}}
  - id: conforms-though-listed
    title: expects what the emulator answers, yet lists it as deviating
    deviations: {emulator: "stale: fixed since"}
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: eni-doesnotexist, SecondaryPrivateIpAddressCount: 1}
        expect: {error: {status: 404, code: InvalidEniId.NotFound}}
  - id: fails-deviation-elsewhere
    title: the same wrong expectation, a deviation of another target only
    deviations: {aliyun-hangzhou: "not this target"}
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: eni-doesnotexist, SecondaryPrivateIpAddressCount: 1}
        expect: {error: {status: 403, code: InvalidIp.IpAssigned}}
  - id: conforms-deviation-elsewhere
    title: conforms, a deviation of another target only
    deviations: {aliyun-hangzhou: "not this target"}
    steps:
      - call: AssignPrivateIpAddresses
        with: {RegionId: "{{region}}", NetworkInterfaceId: eni-doesnotexist, SecondaryPrivateIpAddressCount: 1}
        expect: {error: {status: 404, code: InvalidEniId.NotFound}}
"#;

#[tokio::test]
async fn a_listed_deviation_passes_when_it_deviates_and_fails_when_it_conforms() {
    let file = parse_file(Path::new("cases/alibaba-ecs/t.yaml"), CASES.to_string())
        .unwrap_or_else(|d| panic!("{d}"));
    let target = Target::Emulator {
        world: WorldFile::builtin().unwrap(),
        specs: SpecSet::embedded(),
    };
    let runner = Runner::new(SpecSet::embedded());
    let mut got = Vec::new();
    for case in &file.cases {
        let r = target.run_case(&runner, &file, case).await;
        got.push((
            r.id.clone(),
            r.outcome,
            r.outcome.is_success(),
            r.deviation.clone(),
        ));
    }
    assert_eq!(
        got,
        [
            (
                "deviates-as-listed".to_string(),
                Outcome::KnownDeviation,
                true,
                Some("answers 404 here".to_string())
            ),
            (
                "conforms-though-listed".to_string(),
                Outcome::UnexpectedConformance,
                false,
                Some("stale: fixed since".to_string())
            ),
            (
                "fails-deviation-elsewhere".to_string(),
                Outcome::Fails,
                false,
                None
            ),
            (
                "conforms-deviation-elsewhere".to_string(),
                Outcome::Conforms,
                true,
                None
            ),
        ]
    );
}

fn run_cli(cases: &str, reports: &Path) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let ecs = dir.path().join("alibaba-ecs");
    std::fs::create_dir_all(&ecs).unwrap();
    std::fs::write(ecs.join("t.yaml"), cases).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_ipconform"))
        .args(["run", "--cases"])
        .arg(dir.path())
        .arg("--report-dir")
        .arg(reports)
        .current_dir(root)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The binary: a known deviation alone exits 0 and says so; a stale one
/// exits 1, says what to remove, and is a failure in JUnit.
#[test]
fn the_binary_exits_0_on_a_known_deviation_and_1_on_a_stale_one() {
    let only_deviating: String = CASES
        .split("  - id: ")
        .enumerate()
        .filter(|(i, _)| *i == 0 || *i == 1)
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                format!("  - id: {part}")
            }
        })
        .collect();
    let reports = tempfile::tempdir().unwrap();
    let (code, text) = run_cli(&only_deviating, reports.path());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("deviates (known)"), "{text}");
    assert!(text.contains("1 known deviations"), "{text}");

    let reports = tempfile::tempdir().unwrap();
    let (code, text) = run_cli(CASES, reports.path());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("CONFORMS UNEXPECTEDLY"), "{text}");
    assert!(text.contains("remove `emulator`"), "{text}");
    assert!(text.contains("1 conform unexpectedly"), "{text}");
    let junit = walk(reports.path())
        .into_iter()
        .find(|p| p.ends_with("junit.xml"))
        .expect("a junit.xml");
    let junit = std::fs::read_to_string(junit).unwrap();
    let stale = junit
        .split("<testcase")
        .find(|t| t.contains("conforms-though-listed"))
        .unwrap();
    assert!(stale.contains("<failure"), "{stale}");
    let known = junit
        .split("<testcase")
        .find(|t| t.contains("deviates-as-listed"))
        .unwrap();
    assert!(
        known.contains("<skipped message=\"known deviation")
            && known.contains("answers 404 here\""),
        "{known}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every YAML file of every dialect folder loads into a file of that
/// dialect with cases, none skipped; ids are unique per dialect and
/// trial addresses unique.
#[test]
fn the_project_cases_load_every_file_with_unique_ids_and_addresses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let files = load_dir(&dir).unwrap_or_else(|d| panic!("{d}"));
    let mut on_disk = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sub = entry.unwrap().path();
        // worlds/ is the emulator's; portable/ holds scenarios, compiled
        // per dialect by their own loader.
        if !sub.is_dir() || sub.ends_with("worlds") || sub.ends_with("portable") {
            continue;
        }
        let dialect = sub.file_name().unwrap().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                on_disk += 1;
                let loaded = files
                    .iter()
                    .find(|l| l.path == f)
                    .unwrap_or_else(|| panic!("{} was not loaded", f.display()));
                assert_eq!(loaded.dialect.as_str(), dialect, "{}", f.display());
                assert!(!loaded.cases.is_empty(), "{} has no case", f.display());
            }
        }
    }
    assert_eq!(files.len(), on_disk, "every file once, nothing else");
    let mut ids = std::collections::HashSet::new();
    let mut addresses = std::collections::HashSet::new();
    for f in &files {
        for c in &f.cases {
            assert!(ids.insert((f.dialect, c.id.clone())), "id {} twice", c.id);
            assert!(
                addresses.insert(c.address("emulator", f)),
                "address of {} twice",
                c.id
            );
        }
    }
}

/// A project file copied under another name: the loader refuses the
/// duplicated ids, at the copy's line of each.
#[test]
fn a_duplicated_case_id_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let ecs = dir.path().join("alibaba-ecs");
    std::fs::create_dir_all(&ecs).unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/alibaba-ecs");
    let original = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .min()
        .unwrap();
    let text = std::fs::read_to_string(&original).unwrap();
    std::fs::write(ecs.join("a.yaml"), &text).unwrap();
    std::fs::write(ecs.join("b.yaml"), &text).unwrap();
    let diags = load_dir(dir.path()).expect_err("refused").0;
    assert!(!diags.is_empty());
    for d in &diags {
        assert!(d.message.contains("is used twice"), "{d}");
        assert!(d.file.ends_with("b.yaml"), "{d}");
        let line = d.snippet.as_deref().unwrap_or_default();
        assert!(line.contains("id:"), "points at the id: {d}");
    }
}
