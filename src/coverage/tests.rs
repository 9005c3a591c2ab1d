//! Coverage over small synthetic specs and cases, each test pinning one
//! counting rule.

use std::path::Path;

use super::*;
use crate::spec::SourceFile;

const VALIDATION: &str = "validation:
  missing: {code: MissingParameter, message: m}
  malformed: {code: InvalidParameter, message: m}
  out_of_range: {code: InvalidParameter, message: m}
  bad_index: {code: InvalidParameter, message: m}
  duplicate: {code: InvalidParameter, message: m}
  unknown: {code: InvalidParameter, message: m}
  conflict: {code: InvalidParameter, message: m}
  none_given: {code: MissingParameter, message: m}
";

fn spec(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.into(),
        text: text.into(),
    }
}

/// alibaba-ecs with one operation, and tencent-vpc-v2 with an operation of
/// the same name taking the same parameters and codes.
fn specs() -> SpecSet {
    let ecs_common = format!(
        "dialect: alibaba-ecs
source: s
common_parameters:
  - {{name: Format, type: string}}
  - {{name: Signature, type: string}}
errors:
  - {{status: 400, code: SignatureDoesNotMatch, kind: auth-failed}}
  - {{status: 400, code: InvalidParameter.%s, kind: invalid-parameter}}
  - {{status: 500, code: InternalError, producible: false, unproducible_reason: the backend failed}}
  - {{status: 404, code: InvalidEniId.NotFound}}
{VALIDATION}"
    );
    let ecs_assign = "dialect: alibaba-ecs
operation: AssignPrivateIpAddresses
source: s
parameters:
  - {name: NetworkInterfaceId, type: string, required: true}
  - {name: PrivateIpAddress.N, type: ipv4, repeat: {min: 1, max: 10}}
  - {name: SecondaryPrivateIpAddressCount, type: integer}
errors:
  - {status: 400, code: Missing%s, kind: invalid-parameter}
  - {status: 404, code: InvalidEniId.NotFound, kind: interface-not-found}
  - {status: 403, code: InvalidIp.IpAssigned, kind: ip-in-use}
  - {status: 400, code: Boom, producible: false, unproducible_reason: an internal failure}
";
    let tencent_common = format!(
        "dialect: tencent-vpc-v2
source: s
errors: []
{VALIDATION}"
    );
    let tencent_assign = "dialect: tencent-vpc-v2
operation: AssignPrivateIpAddresses
source: s
parameters:
  - {name: NetworkInterfaceId, type: string, required: true}
  - {name: SecondaryPrivateIpAddressCount, type: integer}
errors:
  - {status: 200, code: InvalidIp.IpAssigned}
";
    SpecSet::load_files(&[
        spec("specs/alibaba-ecs/_common.yaml", &ecs_common),
        spec(
            "specs/alibaba-ecs/AssignPrivateIpAddresses.yaml",
            ecs_assign,
        ),
        spec("specs/tencent-vpc-v2/_common.yaml", &tencent_common),
        spec(
            "specs/tencent-vpc-v2/AssignPrivateIpAddresses.yaml",
            tencent_assign,
        ),
    ])
    .unwrap_or_else(|d| panic!("{d}"))
}

fn cases(path: &str, text: &str) -> CaseFile {
    crate::case::parse_file(Path::new(path), text.to_string()).unwrap_or_else(|d| panic!("{d}"))
}

const ECS_CASES: &str = "dialect: alibaba-ecs
source: s
cases:
  - id: by-list
    title: sends one element of the list and expects a templated code
    steps:
      - call: AssignPrivateIpAddresses
        with: {NetworkInterfaceId: eni-1, PrivateIpAddress.3: 10.0.0.3, Format: XML}
        expect: {error: {code: MissingVSwitchId}}
    cleanup:
      - call: AssignPrivateIpAddresses
        with: {NetworkInterfaceId: eni-1}
        expect: {error: {code: SignatureDoesNotMatch}}
  - id: odd-ones
    title: steps that name nothing the specs document
    steps:
      - call: NoSuchOperation
        with: {SecondaryPrivateIpAddressCount: 1}
        expect: {error: {code: InvalidIp.IpAssigned}}
      - call: AssignPrivateIpAddresses
        with: {NetworkInterfaceId: eni-1, Bogus: 1}
        expect: {error: {code: Made.Up}}
";

const TENCENT_CASES: &str = "dialect: tencent-vpc-v2
source: s
cases:
  - id: tencent-count
    title: the same names in another dialect
    steps:
      - call: AssignPrivateIpAddresses
        with: {NetworkInterfaceId: eni-1, SecondaryPrivateIpAddressCount: 1}
        expect: {error: {code: InvalidIp.IpAssigned}}
";

fn coverage() -> Coverage {
    Coverage::compute(
        &specs(),
        &[
            cases("cases/alibaba-ecs/t.yaml", ECS_CASES),
            cases("cases/tencent-vpc-v2/t.yaml", TENCENT_CASES),
        ],
    )
}

fn operation(c: &Coverage, dialect: DialectId) -> &OperationCoverage {
    &c.dialect(dialect).expect("dialect covered").operations[0]
}

fn param<'c>(op: &'c OperationCoverage, name: &str) -> &'c ParameterCoverage {
    op.parameters.iter().find(|p| p.name == name).expect(name)
}

fn row<'c>(op: &'c OperationCoverage, code: &str) -> &'c ErrorCoverage {
    op.errors.iter().find(|e| e.code == code).expect(code)
}

#[test]
fn a_list_is_exercised_by_any_of_its_elements() {
    let c = coverage();
    let op = operation(&c, DialectId::AlibabaEcs);
    let list = param(op, "PrivateIpAddress.N");
    assert!(list.exercised && list.list);
    assert_eq!(list.cases, ["by-list"]);
    assert_eq!(
        param(op, "NetworkInterfaceId").cases,
        ["by-list", "odd-ones"],
        "cleanup steps count too, each case once"
    );
}

#[test]
fn a_template_is_exercised_by_a_concrete_instance() {
    let c = coverage();
    let missing = row(operation(&c, DialectId::AlibabaEcs), "Missing%s");
    assert!(missing.exercised);
    assert_eq!(missing.expected_as, ["MissingVSwitchId"]);
}

#[test]
fn a_case_of_another_dialect_does_not_count() {
    let c = coverage();
    let ecs = operation(&c, DialectId::AlibabaEcs);
    // The Tencent case sends this name and expects this code on an
    // operation of the same name; the ECS step on an unknown operation
    // does too.
    assert!(!param(ecs, "SecondaryPrivateIpAddressCount").exercised);
    assert!(!row(ecs, "InvalidIp.IpAssigned").exercised);
    let tencent = operation(&c, DialectId::TencentVpcV2);
    assert!(param(tencent, "SecondaryPrivateIpAddressCount").exercised);
    assert_eq!(
        row(tencent, "InvalidIp.IpAssigned").cases,
        ["tencent-count"]
    );
    assert_eq!(c.dialect(DialectId::AlibabaEcs).unwrap().cases, 2);
}

#[test]
fn a_row_no_request_can_cause_is_listed_apart_and_not_counted() {
    let c = coverage();
    let op = operation(&c, DialectId::AlibabaEcs);
    let boom = row(op, "Boom");
    assert!(!boom.producible);
    assert_eq!(
        boom.unproducible_reason.as_deref(),
        Some("an internal failure")
    );
    // Missing%s, InvalidEniId.NotFound, InvalidIp.IpAssigned; not Boom.
    assert_eq!(
        op.summary.errors,
        Count {
            exercised: 1,
            total: 3
        }
    );
    assert_eq!(op.summary.not_producible, 1);
    let text = c.to_text();
    assert!(
        text.contains("not producible, not counted: Boom (HTTP 400): an internal failure"),
        "{text}"
    );
    assert!(!text.contains("error codes: Boom"), "{text}");
}

#[test]
fn common_rows_count_once_per_dialect_and_common_parameters_not_at_all() {
    let c = coverage();
    let ecs = c.dialect(DialectId::AlibabaEcs).unwrap();
    let common: Vec<_> = ecs
        .common
        .errors
        .iter()
        .map(|e| e.row.code.as_str())
        .collect();
    // InvalidEniId.NotFound is the operation's own row there, so the
    // common one applies nowhere.
    assert_eq!(
        common,
        [
            "SignatureDoesNotMatch",
            "InvalidParameter.%s",
            "InternalError"
        ]
    );
    let signature = &ecs.common.errors[0];
    assert!(signature.row.exercised);
    assert_eq!(signature.operations, ["AssignPrivateIpAddresses"]);
    assert_eq!(
        ecs.common.summary.errors,
        Count {
            exercised: 1,
            total: 2
        }
    );
    assert_eq!(ecs.common.summary.parameters, Count::default());
    let set: Vec<_> = ecs
        .common
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.exercised))
        .collect();
    assert_eq!(set, [("Format", true), ("Signature", false)]);
    // The operation lists the common codes that apply to it.
    assert!(operation(&c, DialectId::AlibabaEcs)
        .common_errors
        .iter()
        .any(|code| code == "SignatureDoesNotMatch"));
}

#[test]
fn figures_add_up_items_and_round_down() {
    let c = coverage();
    let op = operation(&c, DialectId::AlibabaEcs);
    // Parameters 2/3, own rows 1/3.
    assert_eq!(op.summary.percent, 50.0);
    let ecs = c.dialect(DialectId::AlibabaEcs).unwrap();
    // 3 of 6 of the operation, 1 of 2 common rows: 4 of 8.
    assert_eq!(
        ecs.summary.items(),
        Count {
            exercised: 4,
            total: 8
        }
    );
    // Tencent: 2/2 parameters, 1/1 row. Overall 7 of 11: 63.63...
    assert_eq!(
        c.summary.items(),
        Count {
            exercised: 7,
            total: 11
        }
    );
    assert_eq!(c.overall_percent(), 63.6);
    assert!(!c.is_below(63.6));
    assert!(c.is_below(63.7));
    assert!(!c.is_below(0.0));
    let only = c.clone().only(DialectId::AlibabaEcs);
    assert_eq!(only.dialects.len(), 1);
    assert_eq!(only.overall_percent(), 50.0);
    assert!(only.is_below(50.1));
    assert_eq!(only.cases, 2);
}

#[test]
fn nothing_to_cover_is_complete_and_never_below() {
    let empty = Coverage::compute(&specs(), &[]).only(DialectId::NaverVpc);
    assert!(empty.dialects.is_empty());
    assert_eq!(empty.overall_percent(), 100.0);
    assert!(!empty.is_below(100.0));
    assert!(empty.to_text().contains("no operation spec to cover"));
}

#[test]
fn reports_list_what_no_case_exercises() {
    let c = coverage();
    let text = c.to_text();
    assert!(
        text.contains("parameters: SecondaryPrivateIpAddressCount"),
        "{text}"
    );
    assert!(
        text.contains("InvalidParameter.%s (HTTP 400, on any operation)"),
        "{text}"
    );
    assert!(!text.contains("PrivateIpAddress.N"), "{text}");
    let md = c.to_markdown();
    assert!(md.starts_with("## Spec coverage\n"), "{md}");
    assert!(
        md.contains("| AssignPrivateIpAddresses | 2/3 | 1/3 | 50.0% |"),
        "{md}"
    );
    assert!(
        md.contains(
            "- error codes: `InvalidEniId.NotFound` (HTTP 404), `InvalidIp.IpAssigned` (HTTP 403)"
        ),
        "{md}"
    );
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json["dialects"][0]["common"]["errors"][0]["code"], "SignatureDoesNotMatch",
        "a common row serializes flat, with its operations beside it"
    );
    assert_eq!(
        json["dialects"][0]["common"]["errors"][0]["operations"][0],
        "AssignPrivateIpAddresses"
    );
}
