//! Portable scenarios: written once in neutral terms, run on every dialect.
//!
//! A scenario file (`cases/portable/*.yaml`) says what an IPAM client does
//! and sees — assign two addresses by count to an interface with room, list
//! it, expect two new secondaries inside the subnet — without a vendor's
//! operation, parameter or error code. Each dialect's binding
//! (`specs/<dialect>/_portable.yaml`, [`binding`]) maps that vocabulary onto
//! its API, and [`compile`] turns every scenario, for every bound dialect,
//! into an ordinary [`Case`](crate::case::Case). So the runner, the lint,
//! the reports, `cargo test` and the judge all work on it unchanged; only
//! the judge learned one thing, to accept an error by its neutral `kind`
//! (any code the operation's catalog gives that kind). Where a dialect's
//! documents promise another outcome, the scenario says so per dialect,
//! with the document's words (`per_dialect: {naver-vpc: {expect: ok, why:
//! ...}}`); where a dialect cannot express a step at all (ENS takes no
//! address list), the compiled case is not applicable and is skipped with
//! the binding's reason. The comparison report ([`crate::compare`]) reads
//! the [`ScenarioPlan`]s to put each scenario's observed step side by side.

pub mod binding;
mod compile;
mod scenario;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::case::Template;
use crate::dialect::DialectId;
use crate::spec::Kind;

pub use binding::Binding;
pub use compile::{compile, Compiled};
pub use scenario::{load_dir, load_dir_where, parse_file};

/// The folder of `cases/` that holds scenario files.
pub const FOLDER: &str = "portable";

/// The neutral fixture names a scenario may use, and what each means. A
/// binding maps each to one of its dialect's fixtures (or a literal); a
/// name the binding leaves out makes the scenarios using it not
/// applicable to that dialect.
pub const NEUTRAL_FIXTURES: &[(&str, &str)] = &[
    ("eni.available", "an unattached interface without secondaries, with room for more"),
    ("eni.available.primary_ip", "its primary address"),
    ("eni.available.max_secondaries", "how many secondaries it may hold, by the vendor's documented limit (the primary counted where the vendor counts it)"),
    ("eni.with_secondaries", "an interface holding exactly `subnet.taken_ip` and `subnet.taken_ip_2` as secondaries, in the subnet of `eni.available`"),
    ("eni.with_secondaries.primary_ip", "its primary address"),
    ("eni.full", "an interface holding as many secondaries as it may"),
    ("eni.full.max_secondaries", "that number"),
    ("eni.exhausted", "an interface in a subnet with no free address"),
    ("eni.unknown", "a well-formed interface id that no account holds"),
    ("subnet.cidr", "the CIDR of the subnet of `eni.available` and `eni.with_secondaries`"),
    ("subnet.free_ip", "an address of that subnet free at start"),
    ("subnet.free_ip_2", "another one"),
    ("subnet.taken_ip", "a secondary of `eni.with_secondaries`"),
    ("subnet.taken_ip_2", "its other secondary"),
    ("subnet.outside_ip", "an address outside that subnet (inside its network where the vendor has one)"),
    ("subnet.reserved_ip", "an address of that subnet the vendor reserves and never hands out"),
];

/// The neutral names that are interfaces (what a step acts on).
pub const INTERFACES: &[&str] = &[
    "eni.available",
    "eni.with_secondaries",
    "eni.full",
    "eni.exhausted",
    "eni.unknown",
];

/// What a dialect's API may or may not offer; a scenario step that needs
/// what its dialect lacks is not applicable there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Explicit addresses in an assign.
    Ips,
    /// A number of addresses the cloud picks, in one assign.
    Count,
    /// Moving an address another interface holds.
    AllowReassign,
}

impl Capability {
    pub const ALL: &'static [Capability] = &[
        Capability::Ips,
        Capability::Count,
        Capability::AllowReassign,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Ips => "ips",
            Capability::Count => "count",
            Capability::AllowReassign => "allow_reassign",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Capability::Ips => "explicit addresses in an assign",
            Capability::Count => "a count of addresses in an assign",
            Capability::AllowReassign => "reassigning an address another interface holds",
        }
    }
}

/// A scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    pub path: PathBuf,
    /// The path for messages.
    pub display: String,
    /// `portable.<stem>`: the middle part of the compiled cases' addresses.
    pub group: String,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub scenarios: Vec<Scenario>,
    /// The text, for the positions of later diagnostics.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub source: Option<String>,
    pub tags: Vec<String>,
    /// Capabilities declared beside those the steps imply.
    pub needs: Vec<Capability>,
    /// Powers the target must have (`requires: {powers: [clock]}`).
    pub powers: Vec<crate::case::Power>,
    pub steps: Vec<NeutralStep>,
    pub cleanup: Vec<NeutralStep>,
    pub line: usize,
    pub end_line: usize,
}

/// The neutral operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Give the interface addresses (`ips`, `count`, or both).
    Assign,
    /// Take addresses from it.
    Unassign,
    /// Read it: its neutral views.
    List,
    /// Read it until its views meet `until`.
    WaitUntil,
    /// Wait for the interface's changes to settle, without changing it.
    Settle,
}

impl Op {
    pub const KEYS: &'static [&'static str] =
        &["assign", "unassign", "list", "wait_until", "settle"];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Assign => "assign",
            Op::Unassign => "unassign",
            Op::List => "list",
            Op::WaitUntil => "wait_until",
            Op::Settle => "settle",
        }
    }
}

/// A neutral view of an interface, always a list of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    Secondaries,
    Primary,
}

impl View {
    pub const KEYS: &'static [&'static str] = &["secondaries", "primary"];

    pub fn parse(name: &str) -> Option<View> {
        match name {
            "secondaries" => Some(View::Secondaries),
            "primary" => Some(View::Primary),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            View::Secondaries => "secondaries",
            View::Primary => "primary",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NeutralStep {
    pub op: Op,
    /// The neutral name of the interface.
    pub eni: String,
    pub ips: Option<Vec<Template>>,
    pub count: Option<Template>,
    pub allow_reassign: bool,
    /// After a change that succeeded, settle it (the default).
    pub wait: bool,
    /// This step's outcome is the scenario's cell in the comparison.
    pub observe: bool,
    pub expect: Expectation,
    pub capture: Vec<(String, View)>,
    /// `wait_until`: the views' conditions.
    pub until: Vec<ViewCheck>,
    pub timeout: Option<Duration>,
    pub line: usize,
    pub col: usize,
    pub end_line: usize,
}

/// Matchers on one view, as written (their templates use neutral names:
/// they are rewritten per dialect, then parsed).
#[derive(Debug, Clone)]
pub struct ViewCheck {
    pub view: View,
    pub matchers: Vec<serde_yaml::Value>,
}

/// What a step expects, by default and where a dialect's documents differ.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub default: Outcome,
    /// Dialect -> its documented outcome and why (quoting the document).
    pub per_dialect: BTreeMap<DialectId, (Outcome, String)>,
    /// The line of `expect:` (or of the step when absent).
    pub line: usize,
}

impl Expectation {
    pub fn for_dialect(&self, dialect: DialectId) -> (&Outcome, Option<&str>) {
        match self.per_dialect.get(&dialect) {
            Some((outcome, why)) => (outcome, Some(why)),
            None => (&self.default, None),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Success; on reads, with these view checks.
    Ok(Vec<ViewCheck>),
    /// A refusal of this neutral kind.
    Kind(Kind),
}

impl Outcome {
    /// `ok` or the kind's name.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::Kind(k) => k.as_str(),
        }
    }
}

/// One scenario across the dialects: what the comparison runs and shows.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioPlan {
    pub file: String,
    pub group: String,
    pub id: String,
    pub title: String,
    pub source: Option<String>,
    pub line: usize,
    pub cells: BTreeMap<DialectId, CellPlan>,
}

/// One scenario compiled for one dialect.
#[derive(Debug, Clone, Serialize)]
pub struct CellPlan {
    /// Index, in the compiled case's steps, of the observed step's call.
    pub observe_step: Option<usize>,
    /// The operation that step calls.
    pub observe_call: Option<String>,
    /// `ok` or a kind: what the dialect's documents promise there.
    pub expected: String,
    /// Why it differs from the scenario's default, when it does.
    pub why: Option<String>,
    /// Why the dialect cannot run the scenario, when it cannot.
    pub not_applicable: Option<String>,
}
