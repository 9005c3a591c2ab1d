//! Scenario files and bindings: their problems placed at `file:line:col`,
//! and what a scenario compiles to on two dialects, down to the wire
//! parameters its calls send.

use std::path::Path;

use super::{compile, parse_file, ScenarioFile};
use crate::case::{Case, Expect, Var, Vars};
use crate::dialect::DialectId;
use crate::fixtures::Fixtures;
use crate::spec::{Kind, SourceFile, SpecSet};

fn parse(text: &str) -> Result<ScenarioFile, crate::diag::Diagnostics> {
    parse_file(Path::new("cases/portable/t.yaml"), text.to_string())
}

const GOOD: &str = "\
source: test
scenarios:
  - id: in-use
    title: an address another interface holds is refused
    steps:
      - assign: eni.available
        ips: ['{{subnet.taken_ip}}']
        observe: true
        expect:
          kind: ip-in-use
          per_dialect:
            naver-vpc: {expect: ok, why: because}
      - list: eni.available
        expect:
          secondaries: [{length: 0}, {not: {contains: '{{subnet.taken_ip}}'}}]
        capture: {held: secondaries}
    cleanup:
      - unassign: eni.available
        ips: '{{held}}'
";

fn compiled_case(file: &ScenarioFile, dialect: DialectId) -> Case {
    let out =
        compile(std::slice::from_ref(file), SpecSet::embedded()).unwrap_or_else(|d| panic!("{d}"));
    out.case_files
        .into_iter()
        .find(|f| f.dialect == dialect)
        .and_then(|f| f.cases.into_iter().next())
        .expect("a compiled case")
}

/// The world's fixtures of one dialect as template variables.
struct World(Fixtures);

impl Vars for World {
    fn var(&self, name: &str) -> Option<Var<'_>> {
        self.0.values.get(name).map(|v| Var::Text(v))
    }
}

fn world(dialect: DialectId) -> World {
    let file = crate::emulator::world::WorldFile::builtin().unwrap();
    World(crate::fixtures::of(&file.fixtures, dialect).clone())
}

fn wire(case: &Case, step: usize, dialect: DialectId) -> (String, Vec<(String, String)>) {
    let s = &case.steps[step];
    let specs = SpecSet::embedded();
    let first = |p: &str| {
        specs
            .get(dialect, &s.call)
            .and_then(|spec| spec.list_first_index(p))
    };
    let vars = world(dialect);
    (s.call.clone(), s.wire_params(&vars, &first).unwrap())
}

#[test]
fn one_scenario_becomes_each_dialects_own_calls() {
    let file = parse(GOOD).unwrap();
    let group = &file.group;
    assert_eq!(group, "portable.t");

    let ecs = compiled_case(&file, DialectId::AlibabaEcs);
    let (call, params) = wire(&ecs, 0, DialectId::AlibabaEcs);
    assert_eq!(call, "AssignPrivateIpAddresses");
    assert_eq!(
        params,
        [
            ("RegionId".to_string(), "cn-hangzhou".to_string()),
            (
                "NetworkInterfaceId".into(),
                "eni-bp1emu0available00001".into()
            ),
            ("PrivateIpAddress.1".into(), "172.16.0.20".into()),
        ]
    );
    // ECS expects the kind, by every code its catalog gives it.
    match &ecs.steps[0].expect {
        Expect::Error { kind, codes, .. } => {
            assert_eq!(*kind, Some(Kind::IpInUse));
            assert!(
                codes.contains(&"InvalidIp.IpAssigned".to_string()),
                "{codes:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ecs.steps.len(), 2, "ECS settles nothing");
    assert_eq!(ecs.steps[1].call, "DescribeNetworkInterfaces");
    assert_eq!(ecs.steps[1].capture[0].0, "held");
    assert!(ecs.steps[1].capture[0]
        .1
        .as_str()
        .contains("[?Primary=false]"));

    let naver = compiled_case(&file, DialectId::NaverVpc);
    let (call, params) = wire(&naver, 0, DialectId::NaverVpc);
    assert_eq!(call, "assignSecondaryIps");
    assert!(
        params.contains(&("secondaryIpList.1".into(), "10.20.1.20".into())),
        "{params:?}"
    );
    assert!(params.contains(&("networkInterfaceNo".into(), "30001".into())));
    // NAVER's documents say ok: a success, then the poll until not SET.
    assert!(matches!(naver.steps[0].expect, Expect::Success { .. }));
    assert_eq!(naver.steps[1].call, "getNetworkInterfaceDetail");
    assert!(naver.steps[1].wait.is_some(), "the settle step polls");
    assert_eq!(naver.steps[2].call, "getNetworkInterfaceDetail");
    assert!(naver.steps[2].wait.is_none(), "the list step reads once");

    let tencent = compiled_case(&file, DialectId::TencentVpcV2);
    let (_, params) = wire(&tencent, 0, DialectId::TencentVpcV2);
    assert!(
        params.contains(&(
            "privateIpAddressSet.0.privateIpAddress".into(),
            "10.16.1.20".into()
        )),
        "Tencent numbers from 0: {params:?}"
    );
    // A refusal captures nothing and settles nothing.
    assert!(tencent.steps[0].capture.is_empty());
    assert_eq!(tencent.steps[1].call, "DescribeNetworkInterfaces");
    // The cleanup's unassign captures the task and polls it.
    assert_eq!(tencent.cleanup[0].capture[0].0, "portable.task");
    let (call, params) = {
        let s = &tencent.cleanup[1];
        (s.call.clone(), s.params.clone())
    };
    assert_eq!(call, "DescribeVpcTaskResult");
    assert!(params
        .iter()
        .any(|(n, v)| n == "taskId" && v.templates()[0].source() == "{{portable.task}}"));

    let ens = compiled_case(&file, DialectId::AlibabaEns);
    assert!(ens.steps.is_empty());
    let reason = ens.requires.not_applicable.as_deref().unwrap();
    assert!(reason.contains("seed 000"), "{reason}");
}

#[test]
fn the_plan_names_the_observed_step_and_each_dialects_expectation() {
    let file = parse(GOOD).unwrap();
    let out = compile(std::slice::from_ref(&file), SpecSet::embedded()).unwrap();
    let plan = &out.plans[0];
    assert_eq!(plan.id, "in-use");
    let naver = &plan.cells[&DialectId::NaverVpc];
    assert_eq!(naver.expected, "ok");
    assert_eq!(naver.why.as_deref(), Some("because"));
    assert_eq!(naver.observe_step, Some(0));
    let ecs = &plan.cells[&DialectId::AlibabaEcs];
    assert_eq!(ecs.expected, "ip-in-use");
    assert!(ecs.why.is_none());
    assert!(plan.cells[&DialectId::AlibabaEns].not_applicable.is_some());
}

#[test]
fn an_unknown_neutral_operation_is_placed_with_a_suggestion() {
    let bad = GOOD.replace(
        "      - assign: eni.available",
        "      - asign: eni.available",
    );
    let err = parse(&bad).unwrap_err().to_string();
    assert!(err.contains("unknown field `asign`"), "{err}");
    assert!(err.contains("cases/portable/t.yaml:6:9"), "{err}");
    assert!(err.contains("did you mean `assign`"), "{err}");
}

#[test]
fn an_unknown_fixture_is_placed_with_a_suggestion() {
    let bad = GOOD.replace("['{{subnet.taken_ip}}']", "['{{subnet.taken}}']");
    let err = parse(&bad).unwrap_err().0;
    assert_eq!(err.len(), 1, "{err:?}");
    assert_eq!((err[0].line, err[0].col), (7, 9));
    assert!(
        err[0].message.contains("`{{subnet.taken}}` is neither"),
        "{}",
        err[0].message
    );
    assert!(err[0].hint.as_deref().unwrap().contains("subnet.taken_ip"));

    let bad = GOOD.replace("- assign: eni.available", "- assign: eni.avialable");
    let err = parse(&bad).unwrap_err().0;
    assert_eq!((err[0].line, err[0].col), (6, 9));
    assert!(err[0].hint.as_deref().unwrap().contains("eni.available"));

    // A capture is known only after the step that makes it.
    let bad = GOOD.replace("ips: '{{held}}'", "ips: '{{hold}}'");
    let err = parse(&bad).unwrap_err().0;
    assert_eq!(err[0].line, 19);
}

#[test]
fn a_kind_the_catalog_lacks_names_scenario_dialect_and_step() {
    // No dialect's DescribeNetworkInterfaces documents a quota refusal.
    let bad = GOOD.replace(
        "        expect:\n          secondaries: [{length: 0}, {not: {contains: '{{subnet.taken_ip}}'}}]",
        "        expect: {kind: busy}",
    );
    let file = parse(&bad).unwrap();
    let err = compile(std::slice::from_ref(&file), SpecSet::embedded()).unwrap_err();
    let first = &err.0[0];
    assert!(
        first
            .message
            .contains("scenario `in-use`, step 2: alibaba-ecs documents no `busy` outcome for DescribeNetworkInterfaces"),
        "{}",
        first.message
    );
    assert_eq!(
        (first.file.as_str(), first.line),
        ("cases/portable/t.yaml", 14)
    );
    assert!(first
        .hint
        .as_deref()
        .unwrap()
        .contains("interface-not-found"));
}

#[test]
fn misuse_of_keys_and_observe_is_placed() {
    let bad = GOOD.replace(
        "      - list: eni.available\n",
        "      - list: eni.available\n        count: 2\n",
    );
    let err = parse(&bad).unwrap_err().0;
    assert!(
        err[0].message.contains("`list` takes no `count`"),
        "{}",
        err[0].message
    );
    assert_eq!(err[0].line, 14);

    let bad = GOOD.replace("        observe: true\n", "");
    let err = parse(&bad).unwrap_err().0;
    assert!(
        err[0].message.contains("marks 0 steps"),
        "{}",
        err[0].message
    );

    let bad = GOOD.replace("{expect: ok, why: because}", "{expect: ok}");
    let err = parse(&bad).unwrap_err().0;
    assert!(err[0].message.contains("needs `why`"), "{}", err[0].message);
    assert_eq!(err[0].line, 12);

    let bad = GOOD.replace("naver-vpc:", "naver-vpx:");
    let err = parse(&bad).unwrap_err().0;
    assert!(
        err[0].message.contains("unknown dialect"),
        "{}",
        err[0].message
    );

    let bad = GOOD.replace("kind: ip-in-use", "kind: ip-in-used");
    let err = parse(&bad).unwrap_err().0;
    assert!(
        err[0].message.contains("did you mean `ip-in-use`"),
        "{}",
        err[0].message
    );
}

#[test]
fn no_panic_on_garbage() {
    for text in [
        "",
        "[",
        "scenarios: 5",
        "scenarios:\n  - {}",
        "scenarios:\n  - {id: a, title: t, steps: [{}]}",
        "scenarios:\n  - {id: a, title: t, steps: [{assign: eni.available, list: eni.available}]}",
        "scenarios:\n  - {id: a, title: t, steps: [{assign: eni.available, expect: [1]}]}",
        "scenarios:\n  - {id: a, title: t, steps: [{list: eni.available, expect: {per_dialect: 3}}]}",
        "\u{0}",
    ] {
        assert!(parse(text).is_err(), "{text}");
    }
}

fn binding_error(text: &str) -> String {
    let mut files = crate::spec::embedded::sources();
    files.retain(|f| f.path != "specs/alibaba-ecs/_portable.yaml");
    files.push(SourceFile {
        path: "specs/alibaba-ecs/_portable.yaml".into(),
        text: text.to_string(),
    });
    match SpecSet::load_files(&files) {
        Ok(_) => panic!("the binding loads"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_binding_is_checked_against_its_dialects_specs() {
    let good = crate::spec::embedded::sources()
        .into_iter()
        .find(|f| f.path == "specs/alibaba-ecs/_portable.yaml")
        .expect("the ECS binding is built in")
        .text;
    let err = binding_error(&good.replace(
        "call: AssignPrivateIpAddresses",
        "call: AssignPrivateIpAddress",
    ));
    assert!(
        err.contains("`AssignPrivateIpAddress` is not an operation"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `AssignPrivateIpAddresses`"),
        "{err}"
    );
    assert!(err.contains("specs/alibaba-ecs/_portable.yaml:"), "{err}");

    let err =
        binding_error(&good.replace("[?Primary=true].PrivateIpAddress", "[0].PrivateIpAddress"));
    assert!(err.contains("a view is a list"), "{err}");

    let err = binding_error(&good.replace("NetworkInterfaceId.1:", "NetworkInterfaceIdx.1:"));
    assert!(
        err.contains("`NetworkInterfaceIdx.1` is not a parameter"),
        "{err}"
    );

    let err = binding_error(&good.replace("  eni.full: eni.full", "  eni.ful: eni.full"));
    assert!(
        err.contains("`eni.ful` is not a neutral fixture name"),
        "{err}"
    );

    let err = binding_error(&good.replace("operations:", "operation:"));
    assert!(err.contains("unknown field `operation`"), "{err}");
}

#[test]
fn no_panic_on_any_cut_of_the_projects_scenario_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/portable");
    let files = super::load_dir(&dir).unwrap_or_else(|d| panic!("{d}"));
    assert!(!files.is_empty());
    for file in &files {
        // Every prefix at a line boundary and some inside lines: the loader
        // and the compiler answer each with a result, never a panic.
        let cuts = file
            .text
            .char_indices()
            .filter(|(i, c)| *c == '\n' || i % 97 == 0)
            .map(|(i, _)| i);
        for cut in cuts {
            if let Ok(parsed) = parse_file(&file.path, file.text[..cut].to_string()) {
                let _ = compile(std::slice::from_ref(&parsed), SpecSet::embedded());
            }
        }
    }
}
