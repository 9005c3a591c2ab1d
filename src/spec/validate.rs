//! Request validation from the spec: the one place that decides whether a
//! request's parameters fit an operation's contract.
//!
//! The emulator refuses a request with it, the lint checks a case's values
//! with it, so a bound can never differ between the two. It finds the first
//! [`Violation`] in a fixed order (missing, malformed, rules, duplicates,
//! unknown), in neutral terms; the dialect's `_common.yaml` says in its
//! `validation:` block which vendor code and message each kind gets.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::file::{ParamSpec, ParamType};
use super::OperationSpec;

/// What a dialect answers to each kind of violation (`validation:` in its
/// `_common.yaml`). In a code, `%s` is the parameter's name without `.N`;
/// in a message, the name as the request sent it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// An empty value counts as not given (the Alibaba SDKs send optional
    /// parameters empty).
    #[serde(default)]
    pub empty_is_absent: bool,
    pub missing: Reply,
    pub malformed: Reply,
    pub out_of_range: Reply,
    pub bad_index: Reply,
    pub duplicate: Reply,
    pub unknown: Reply,
    pub conflict: Reply,
    pub none_given: Reply,
}

/// A vendor code and message, either possibly holding `%s`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub code: String,
    /// A numeric code sent beside `code`, where the vendor has one.
    #[serde(default)]
    pub numeric_code: Option<i64>,
    pub message: String,
}

/// The kinds of violation, in the order they are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    Missing,
    Malformed,
    OutOfRange,
    BadIndex,
    NoneGiven,
    Conflict,
    Duplicate,
    Unknown,
}

/// The first way a request breaks its operation's parameter contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub kind: ViolationKind,
    /// The parameter as codes name it: a list's stem (`PrivateIpAddress`).
    pub parameter: String,
    /// The parameter as the request sent it (`PrivateIpAddress.2`), or as
    /// the spec names it when it was not sent (`PrivateIpAddress.N`).
    pub wire_name: String,
    /// What is wrong, for people: "`x` is not an IPv4 address".
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.wire_name, self.detail)
    }
}

impl Validation {
    pub fn reply(&self, kind: ViolationKind) -> &Reply {
        match kind {
            ViolationKind::Missing => &self.missing,
            ViolationKind::Malformed => &self.malformed,
            ViolationKind::OutOfRange => &self.out_of_range,
            ViolationKind::BadIndex => &self.bad_index,
            ViolationKind::Duplicate => &self.duplicate,
            ViolationKind::Unknown => &self.unknown,
            ViolationKind::Conflict => &self.conflict,
            ViolationKind::NoneGiven => &self.none_given,
        }
    }

    /// The vendor code and message for `v`.
    pub fn render(&self, v: &Violation) -> (String, String) {
        self.render_names(v.kind, &v.parameter, &v.wire_name)
    }

    /// The vendor code and message for a violation of `kind` by
    /// `parameter` (its name in the spec, which a code names) sent as
    /// `wire_name` (which a message names): also for violations the
    /// emulator finds outside [`OperationSpec::validate`].
    pub fn render_names(
        &self,
        kind: ViolationKind,
        parameter: &str,
        wire_name: &str,
    ) -> (String, String) {
        let reply = self.reply(kind);
        (
            reply.code.replace("%s", parameter),
            reply.message.replace("%s", wire_name),
        )
    }
}

impl OperationSpec {
    /// Checks `params` (name, value as received) against the operation's
    /// and the dialect's common parameters. A value of `None` is present but
    /// unknown (lint: a capture of an earlier step) and is not checked.
    pub fn validate<'p>(
        &self,
        params: impl IntoIterator<Item = (&'p str, Option<&'p str>)>,
        empty_is_absent: bool,
    ) -> Result<(), Violation> {
        // Each received parameter, tied to its spec (own parameters first).
        // The emulator runs this on every request, so each spec's list
        // shape is found once, not once per received parameter.
        let shapes: Vec<(&ParamSpec, Option<(&str, &str)>)> = self
            .parameters
            .iter()
            .chain(&self.common_parameters)
            .map(|p| (p, p.placeholder()))
            .collect();
        let all: Vec<&ParamSpec> = shapes.iter().map(|(p, _)| *p).collect();
        let mut present: Vec<Vec<Received<'p>>> = vec![Vec::new(); all.len()];
        let mut unknown: Option<&str> = None;
        for (name, value) in params {
            if empty_is_absent && value == Some("") {
                continue;
            }
            match shapes
                .iter()
                .enumerate()
                .find_map(|(i, (p, shape))| p.element_index_with(*shape, name).map(|idx| (i, idx)))
            {
                Some((i, index)) => present[i].push(Received { name, index, value }),
                None => {
                    unknown.get_or_insert(name);
                }
            }
        }

        for (spec, got) in all.iter().zip(&present) {
            if spec.required && got.is_empty() {
                return Err(violation(
                    ViolationKind::Missing,
                    spec,
                    &spec.name,
                    "is required and was not given".into(),
                ));
            }
        }

        for (spec, got) in all.iter().zip(present.iter_mut()) {
            check_values(spec, got)?;
        }

        for rule in &self.rules {
            if let Some(total) = &rule.total_at_most {
                let (sum, last) = total_of(&total.parameters, &all, &present);
                if let Some(spec) = last.filter(|_| sum > total.max) {
                    return Err(violation(
                        ViolationKind::OutOfRange,
                        spec,
                        &spec.name,
                        format!(
                            "{} ask for {sum} in all, more than {}",
                            total.parameters.join(" and "),
                            total.max
                        ),
                    ));
                }
                continue;
            }
            if let Some(total) = &rule.total_at_least {
                let (sum, _) = total_of(&total.parameters, &all, &present);
                if sum < total.min {
                    let names = total.parameters.join(" or ");
                    return Err(Violation {
                        kind: ViolationKind::NoneGiven,
                        parameter: names.clone(),
                        wire_name: names,
                        detail: format!("ask for {sum} in all, fewer than {}", total.min),
                    });
                }
                continue;
            }
            let given: Vec<&ParamSpec> = rule
                .parameters()
                .iter()
                .filter_map(|name| {
                    all.iter()
                        .zip(&present)
                        .find(|(p, _)| &p.name == name)
                        .filter(|(_, got)| !got.is_empty())
                        .map(|(p, _)| *p)
                })
                .collect();
            if given.len() > 1 && rule.at_least_one_of.is_none() {
                let later = given[given.len() - 1];
                let first = given[0];
                return Err(violation(
                    ViolationKind::Conflict,
                    later,
                    &later.name,
                    format!("may not be given together with `{}`", first.name),
                ));
            }
            if given.is_empty() && (rule.exactly_one_of.is_some() || rule.at_least_one_of.is_some())
            {
                let names = rule.parameters().join(" or ");
                return Err(Violation {
                    kind: ViolationKind::NoneGiven,
                    parameter: names.clone(),
                    wire_name: names,
                    detail: "one of them is required".into(),
                });
            }
        }

        for (spec, got) in all.iter().zip(&present) {
            if !spec.unique {
                continue;
            }
            for (i, item) in got.iter().enumerate() {
                let Some(value) = item.value else { continue };
                if got[..i].iter().any(|prev| prev.value == Some(value)) {
                    return Err(violation(
                        ViolationKind::Duplicate,
                        spec,
                        item.name,
                        format!("`{value}` is given twice"),
                    ));
                }
            }
        }

        if let Some(name) = unknown {
            return Err(Violation {
                kind: ViolationKind::Unknown,
                parameter: name.to_string(),
                wire_name: name.to_string(),
                detail: format!("is not a parameter of {}", self.operation),
            });
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Received<'p> {
    name: &'p str,
    /// The index of a repeat-list element, as sent.
    index: Option<&'p str>,
    value: Option<&'p str>,
}

/// The lists' elements and the integers' values among `names`, added, and
/// the last of them that was given.
fn total_of<'s>(
    names: &[String],
    all: &[&'s ParamSpec],
    present: &[Vec<Received<'_>>],
) -> (u64, Option<&'s ParamSpec>) {
    let mut sum: u64 = 0;
    let mut last: Option<&ParamSpec> = None;
    for name in names {
        let Some((spec, got)) = all.iter().zip(present).find(|(p, _)| &p.name == name) else {
            continue;
        };
        if got.is_empty() {
            continue;
        }
        last = Some(*spec);
        sum += if spec.is_list() {
            got.len() as u64
        } else {
            got.iter()
                .filter_map(|r| r.value?.parse::<u64>().ok())
                .sum()
        };
    }
    (sum, last)
}

fn violation(kind: ViolationKind, spec: &ParamSpec, wire_name: &str, detail: String) -> Violation {
    Violation {
        kind,
        parameter: spec.stem(),
        wire_name: wire_name.to_string(),
        detail,
    }
}

/// Indexes, then types and bounds; sorts a list's elements by index so that
/// duplicates are reported at the later one.
fn check_values(spec: &ParamSpec, got: &mut [Received<'_>]) -> Result<(), Violation> {
    if let Some(repeat) = spec.repeat {
        for item in got.iter() {
            let index = item.index.unwrap_or("");
            let n = index
                .parse::<u32>()
                .ok()
                // `01` and `+1` are not how anyone writes an index.
                .filter(|_| !index.starts_with('+') && (index == "0" || !index.starts_with('0')));
            match n {
                Some(n) if (repeat.min..=repeat.max).contains(&n) => {}
                _ => {
                    return Err(violation(
                        ViolationKind::BadIndex,
                        spec,
                        item.name,
                        format!(
                            "the index must be a number from {} to {}",
                            repeat.min, repeat.max
                        ),
                    ))
                }
            }
        }
        got.sort_by_key(|item| item.index.and_then(|i| i.parse::<u32>().ok()));
        for (i, item) in got.iter().enumerate() {
            if got[..i].iter().any(|prev| prev.index == item.index) {
                return Err(violation(
                    ViolationKind::BadIndex,
                    spec,
                    item.name,
                    "is given twice".into(),
                ));
            }
            let expected = repeat.min as usize + i;
            if repeat.contiguous
                && item.index.and_then(|i| i.parse::<usize>().ok()) != Some(expected)
            {
                return Err(violation(
                    ViolationKind::BadIndex,
                    spec,
                    item.name,
                    format!(
                        "the indexes must run from {} without a gap; {expected} is missing",
                        repeat.min
                    ),
                ));
            }
        }
    } else if got.len() > 1 {
        return Err(violation(
            ViolationKind::Malformed,
            spec,
            got[1].name,
            "is given more than once".into(),
        ));
    }
    for item in got.iter() {
        let Some(value) = item.value else { continue };
        check_value(spec, item.name, value)?;
    }
    Ok(())
}

fn check_value(spec: &ParamSpec, name: &str, value: &str) -> Result<(), Violation> {
    match spec.kind {
        ParamType::String => {}
        ParamType::Ipv4 => {
            if value.parse::<Ipv4Addr>().is_err() {
                return Err(violation(
                    ViolationKind::Malformed,
                    spec,
                    name,
                    format!("`{value}` is not an IPv4 address"),
                ));
            }
        }
        ParamType::Boolean => {
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                return Err(violation(
                    ViolationKind::Malformed,
                    spec,
                    name,
                    format!("`{value}` is not true or false"),
                ));
            }
        }
        ParamType::Integer => {
            let Ok(n) = value.parse::<i32>() else {
                return Err(violation(
                    ViolationKind::Malformed,
                    spec,
                    name,
                    format!("`{value}` is not a 32-bit integer"),
                ));
            };
            let n = i64::from(n);
            if spec.minimum.is_some_and(|min| n < min) || spec.maximum.is_some_and(|max| n > max) {
                let bound = match (spec.minimum, spec.maximum) {
                    (Some(a), Some(b)) => format!("from {a} to {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => "within its bounds".to_string(),
                };
                return Err(violation(
                    ViolationKind::OutOfRange,
                    spec,
                    name,
                    format!("`{value}` must be {bound}"),
                ));
            }
        }
    }
    if let Some(values) = &spec.values {
        let allowed = values.iter().any(|v| {
            if spec.ignore_case {
                v.eq_ignore_ascii_case(value)
            } else {
                v == value
            }
        });
        if !allowed {
            return Err(violation(
                ViolationKind::OutOfRange,
                spec,
                name,
                format!("`{value}` is not one of {}", values.join(", ")),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::DialectId;
    use crate::spec::{SourceFile, SpecSet};

    const COMMON: &str = "\
dialect: tencent-vpc-v2
source: test
validation:
  missing: {code: InvalidParameter, numeric_code: 4000, message: 'missing %s'}
  malformed: {code: InvalidParameter, numeric_code: 4000, message: 'malformed %s'}
  out_of_range: {code: InvalidParameter, numeric_code: 4000, message: 'out of range %s'}
  bad_index: {code: InvalidParameter, numeric_code: 4000, message: 'bad index %s'}
  duplicate: {code: InvalidParameter, numeric_code: 4000, message: 'duplicate %s'}
  unknown: {code: InvalidParameter, numeric_code: 4000, message: 'unknown %s'}
  conflict: {code: InvalidParameter, numeric_code: 4000, message: 'conflict %s'}
  none_given: {code: InvalidParameter, numeric_code: 4000, message: 'none of %s'}
errors:
  - {status: 200, code: InvalidParameter, numeric_code: 4000}
";

    const OP: &str = "\
dialect: tencent-vpc-v2
operation: Op
source: test
parameters:
  - {name: privateIpAddressSet.n.privateIpAddress, type: ipv4, repeat: {min: 0, max: 9, contiguous: true}, unique: true}
  - {name: privateIpAddressSet.n.primary, type: boolean, repeat: {min: 0, max: 9, contiguous: true}}
  - {name: count, type: integer, minimum: 0}
rules:
  - at_least_one_of: [privateIpAddressSet.n.privateIpAddress, count]
  - total_at_most: {parameters: [privateIpAddressSet.n.privateIpAddress, count], max: 3}
  - total_at_least: {parameters: [privateIpAddressSet.n.privateIpAddress, count], min: 1}
";

    fn specs() -> SpecSet {
        SpecSet::load_files(&[
            SourceFile {
                path: "specs/tencent-vpc-v2/_common.yaml".into(),
                text: COMMON.into(),
            },
            SourceFile {
                path: "specs/tencent-vpc-v2/Op.yaml".into(),
                text: OP.into(),
            },
        ])
        .unwrap_or_else(|d| panic!("{d}"))
    }

    fn check(params: &[(&str, &str)]) -> Result<(), (ViolationKind, String, String)> {
        specs()
            .validate(
                DialectId::TencentVpcV2,
                "Op",
                params.iter().map(|(k, v)| (*k, Some(*v))),
            )
            .map_err(|v| {
                assert_eq!(v.numeric_code, Some(4000));
                (v.violation.kind, v.violation.wire_name, v.message)
            })
    }

    #[test]
    fn nested_zero_based_lists_are_indexed_in_the_middle_and_without_gaps() {
        let a = "privateIpAddressSet.0.privateIpAddress";
        let b = "privateIpAddressSet.1.privateIpAddress";
        assert_eq!(check(&[(a, "10.0.0.1"), (b, "10.0.0.2")]), Ok(()));
        assert_eq!(
            check(&[(a, "10.0.0.1"), ("privateIpAddressSet.0.primary", "false")]),
            Ok(())
        );
        let gap = "privateIpAddressSet.2.privateIpAddress";
        let (kind, name, message) = check(&[(a, "10.0.0.1"), (gap, "10.0.0.2")]).unwrap_err();
        assert_eq!((kind, name.as_str()), (ViolationKind::BadIndex, gap));
        assert_eq!(message, format!("bad index {gap}"));
        let (kind, name, _) =
            check(&[("privateIpAddressSet.x.privateIpAddress", "10.0.0.1")]).unwrap_err();
        assert_eq!(
            (kind, name.as_str()),
            (
                ViolationKind::BadIndex,
                "privateIpAddressSet.x.privateIpAddress"
            )
        );
        let (kind, _, _) = check(&[(a, "10.0.0.1"), (b, "10.0.0.1")]).unwrap_err();
        assert_eq!(kind, ViolationKind::Duplicate);
        let (kind, _, _) =
            check(&[(a, "10.0.0.1"), ("privateIpAddressSet.0.primary", "maybe")]).unwrap_err();
        assert_eq!(kind, ViolationKind::Malformed);
    }

    /// The allocation-free placeholder search gives what splitting the
    /// name into a vector gave: the first `N`/`n` segment, never the first.
    #[test]
    fn placeholders_are_whole_segments_after_the_first() {
        let shape = |name: &str| {
            let p: ParamSpec =
                serde_yaml::from_str(&format!("{{name: '{name}', type: string}}")).unwrap();
            p.placeholder().map(|(a, b)| (a.to_string(), b.to_string()))
        };
        let some = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(shape("PrivateIpAddress.N"), some("PrivateIpAddress.", ""));
        assert_eq!(shape("a.n.b"), some("a.", ".b"));
        assert_eq!(shape("a.N.b.N"), some("a.", ".b.N"));
        assert_eq!(shape("a.b.N.c.d"), some("a.b.", ".c.d"));
        assert_eq!(shape("N.a.N"), None, "the first segment is never the index");
        assert_eq!(shape("aN.b"), None);
        assert_eq!(shape("a.Nb"), None);
        assert_eq!(shape("Plain"), None);
        assert_eq!(shape("a..N"), some("a..", ""));
    }

    #[test]
    fn totals_and_at_least_one() {
        let a = "privateIpAddressSet.0.privateIpAddress";
        assert_eq!(
            check(&[(a, "10.0.0.1"), ("count", "2")]),
            Ok(()),
            "both may be given"
        );
        let (kind, name, _) = check(&[(a, "10.0.0.1"), ("count", "3")]).unwrap_err();
        assert_eq!((kind, name.as_str()), (ViolationKind::OutOfRange, "count"));
        assert_eq!(check(&[]).unwrap_err().0, ViolationKind::NoneGiven);
        let (kind, name, _) = check(&[("count", "0")]).unwrap_err();
        assert_eq!(
            kind,
            ViolationKind::NoneGiven,
            "a count of 0 asks for nothing"
        );
        assert_eq!(name, "privateIpAddressSet.n.privateIpAddress or count");
    }
}
