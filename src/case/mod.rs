//! Cases: scenarios against one dialect, loaded strictly from YAML.
//!
//! Loading is one pass: serde (with `deny_unknown_fields`) gives the raw
//! shape and the position of any syntax or shape error; a second, semantic
//! pass parses templates, body paths, matchers and regexes once, and checks
//! what serde cannot (duplicate ids, an expectation of both a body and an
//! error). Every problem becomes a [`Diagnostic`] with `file:line:col`, and
//! all of a run's problems are reported together.

mod load;
pub mod matcher;
pub mod path;
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::dialect::{DialectId, Method};
use crate::spec::Kind;

pub use load::{load_dir, load_dir_where, load_file, parse_file};
pub(crate) use load::{locate_ids, RawWait};
pub use matcher::{Expected, Matcher, Pattern, Var, Vars};
pub use path::BodyPath;
pub use template::Template;

/// One case file.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// The path as given to the loader.
    pub path: PathBuf,
    /// The path for messages (relative to the working directory).
    pub display: String,
    /// The file's stem: the middle part of a trial name.
    pub group: String,
    pub dialect: DialectId,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub cases: Vec<Case>,
    /// The text, kept for positions of later (lint) diagnostics.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub title: String,
    /// The case's source, or its file's.
    pub source: Option<String>,
    /// The file's tags followed by the case's own.
    pub tags: Vec<String>,
    /// Target name -> why that target is known to deviate.
    pub deviations: BTreeMap<String, String>,
    /// What a target must offer for this case to run; where it does not,
    /// the case is skipped with the reason, not failed.
    pub requires: Requires,
    /// Faults the target injects while the steps run (not the cleanup);
    /// needs the `faults` power. `interface` may hold templates.
    pub faults: Vec<crate::emulator::faults::FaultSpec>,
    pub steps: Vec<Step>,
    pub cleanup: Vec<Step>,
    /// 1-based line of the case's `id:`.
    pub line: usize,
    /// Last line that belongs to this case.
    pub end_line: usize,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub call: String,
    /// Credential set by name; `default` when the case does not say.
    pub credentials: String,
    /// Signing variant (step, else case, else file); the target's when `None`.
    pub signing: Option<String>,
    /// GET or POST (step, else case, else file); GET when `None`.
    pub method: Option<Method>,
    /// Header overrides; `None` signs the header and leaves it out.
    pub headers: Vec<(String, Option<Template>)>,
    /// Parameters in the order written.
    pub params: Vec<(String, ParamValue)>,
    pub expect: Expect,
    /// Repeat this (read-only) call until its body meets a condition.
    pub wait: Option<Wait>,
    /// Whether a throttled or busy reply is retried: `None` by the rule
    /// (a read, or a call with the dialect's idempotency token), `Some(true)`
    /// always, `Some(false)` never (to see the code itself).
    pub retry: Option<bool>,
    pub capture: Vec<(String, BodyPath)>,
    /// 1-based position of the step's `call:`.
    pub line: usize,
    pub col: usize,
    /// Last line of the step.
    pub end_line: usize,
}

/// A polling step: the read is sent again, after growing pauses, until its
/// body meets `until` (then `expect` judges that last reply), a reply meets
/// `halt_on` (a terminal state: the step fails at once), or `timeout` has
/// passed. On the embedded emulator the pauses advance its clock instead of
/// sleeping; against a URL they are real.
#[derive(Debug, Clone)]
pub struct Wait {
    pub until: Vec<(BodyPath, Matcher)>,
    pub halt_on: Vec<(BodyPath, Matcher)>,
    pub timeout: Duration,
    /// The first pause; each next one doubles, up to `max_interval`.
    pub interval: Duration,
    pub max_interval: Duration,
}

impl Wait {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);
    pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(5);
}

#[derive(Debug, Clone)]
pub enum Expect {
    /// A 2xx reply without a vendor error; `status` pins the exact code.
    Success {
        status: Option<u16>,
        body: Vec<(BodyPath, Matcher)>,
    },
    /// A vendor error with this code and HTTP status (when `None`, the
    /// status the operation's catalog documents for the code), and the
    /// numeric code when the vendor sends one beside it.
    Error {
        status: Option<u16>,
        /// The acceptable codes: one, or several written as
        /// `code: {any_of: [A, B]}` where the documents leave the choice
        /// open.
        codes: Vec<String>,
        numeric_code: Option<i64>,
        message: Option<Pattern>,
        /// A neutral outcome (portable scenarios): any code whose catalog
        /// entry has this kind is accepted, templated codes included;
        /// `codes` then lists the catalog's codes of that kind, for the
        /// diff and the lint.
        kind: Option<Kind>,
    },
}

impl Expect {
    /// The error codes this expectation accepts (none for a success).
    pub fn error_codes(&self) -> &[String] {
        match self {
            Expect::Error { codes, .. } => codes,
            Expect::Success { .. } => &[],
        }
    }
}

impl Step {
    /// The parameters as they go on the wire, in the order written: each
    /// template rendered, each list parameter expanded into its numbered
    /// elements from `first_index(pattern)` (the spec's first index; the
    /// placeholder's default when the spec has no such list). The error is
    /// the name of the first variable that did not render.
    pub fn wire_params(
        &self,
        vars: matcher::Lookup<'_>,
        first_index: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::with_capacity(self.params.len());
        for (name, value) in &self.params {
            match value {
                ParamValue::Empty => out.push((name.clone(), String::new())),
                ParamValue::Text(t) => out.push((name.clone(), t.render_owned(|v| vars.text(v))?)),
                ParamValue::List(items) => {
                    let start = first_index(name).unwrap_or(match list_placeholder(name) {
                        Some('n') => 0,
                        _ => 1,
                    });
                    let mut index = start;
                    for item in items {
                        let values = match item.sole_variable().map(|v| (v, vars.var(v))) {
                            Some((_, Some(Var::List(values)))) => values.to_vec(),
                            _ => vec![item.render_owned(|v| vars.text(v))?],
                        };
                        for value in values {
                            out.push((list_element_name(name, index), value));
                            index += 1;
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A parameter's value as written.
#[derive(Debug, Clone)]
pub enum ParamValue {
    /// `~`: sent empty (`Name=`).
    Empty,
    Text(Template),
    /// The value of a repeat-list parameter written with its placeholder
    /// (`PrivateIpAddress.N: ['{{a}}', '{{b}}']` or `: '{{ips}}'`, a list
    /// capture): one wire parameter per item, numbered the dialect's way.
    List(Vec<Template>),
}

impl ParamValue {
    pub fn templates(&self) -> &[Template] {
        match self {
            ParamValue::Empty => &[],
            ParamValue::Text(t) => std::slice::from_ref(t),
            ParamValue::List(items) => items,
        }
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.templates().iter().flat_map(|t| t.variables())
    }
}

/// The index placeholder of a repeat-list parameter name: a whole
/// dot-separated segment `N` (counting from 1 unless the spec says
/// otherwise) or `n` (from 0), not the first segment.
pub fn list_placeholder(name: &str) -> Option<char> {
    name.split('.').skip(1).find_map(|s| match s {
        "N" => Some('N'),
        "n" => Some('n'),
        _ => None,
    })
}

/// `PrivateIpAddress.N` with index 3: `PrivateIpAddress.3`.
pub fn list_element_name(pattern: &str, index: u32) -> String {
    let mut first = true;
    pattern
        .split('.')
        .map(|s| {
            let is_placeholder = !first && (s == "N" || s == "n");
            first = false;
            if is_placeholder {
                index.to_string()
            } else {
                s.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// What a case needs of its target: fixtures by name and powers only some
/// targets have.
#[derive(Debug, Clone, Default)]
pub struct Requires {
    pub fixtures: Vec<String>,
    pub powers: Vec<Power>,
    /// Why the case cannot be expressed in its dialect at all (a portable
    /// scenario that needs what the dialect's API does not offer): it is
    /// skipped everywhere, with this reason.
    pub not_applicable: Option<String>,
}

/// A capability of a target beyond serving the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    /// A clock the harness moves (the embedded emulator): waits take no
    /// real time, and cases may depend on exact timing.
    Clock,
    /// A world set up by the case file's own world (the emulator only).
    World,
    /// Fault injection (`faults:` in a case; the emulator's
    /// `/_emulator/faults`).
    Faults,
}

impl Power {
    pub fn as_str(self) -> &'static str {
        match self {
            Power::Clock => "clock",
            Power::World => "world",
            Power::Faults => "faults",
        }
    }
}

impl Case {
    /// The fixtures this case reads: every variable of its parameters,
    /// headers, expectations and polling conditions that is neither a
    /// capture of one of its steps nor a built-in. A target that lacks one
    /// cannot run the case (it is skipped, as if it were in `requires`).
    pub fn fixtures_used(&self) -> std::collections::BTreeSet<&str> {
        let steps = || self.steps.iter().chain(&self.cleanup);
        let captured: std::collections::BTreeSet<&str> = steps()
            .flat_map(|s| s.capture.iter().map(|(n, _)| n.as_str()))
            .collect();
        let mut out = std::collections::BTreeSet::new();
        for step in steps() {
            let mut vars: Vec<&str> = step
                .params
                .iter()
                .flat_map(|(_, v)| v.variables())
                .collect();
            vars.extend(
                step.headers
                    .iter()
                    .flat_map(|(_, t)| t.iter().flat_map(|t| t.variables())),
            );
            if let Expect::Success { body, .. } = &step.expect {
                vars.extend(body.iter().flat_map(|(_, m)| m.variables()));
            }
            if let Some(wait) = &step.wait {
                vars.extend(
                    wait.until
                        .iter()
                        .chain(&wait.halt_on)
                        .flat_map(|(_, m)| m.variables()),
                );
            }
            out.extend(
                vars.into_iter()
                    .filter(|v| !captured.contains(v) && !BUILTIN_VARIABLES.contains(v)),
            );
        }
        out
    }

    /// The credential sets its steps sign with (`as:`).
    pub fn credential_sets(&self) -> std::collections::BTreeSet<&str> {
        self.steps
            .iter()
            .chain(&self.cleanup)
            .map(|s| s.credentials.as_str())
            .collect()
    }

    /// The trial address of this case on a target:
    /// `emulator::alibaba-ecs::assign::ecs-assign-explicit-ip`.
    pub fn address(&self, target: &str, file: &CaseFile) -> String {
        format!("{target}::{}::{}::{}", file.dialect, file.group, self.id)
    }
}

/// The dialect and group of a trial address
/// (`<target>::<dialect>::<group>::<id>`, as [`Case::address`] writes it):
/// the group is the stem of the file holding the case (`portable.<stem>`
/// for a portable scenario), so a process running one case by its name
/// reads only that file. `None` when `name` is not such an address.
pub fn file_of_address(name: &str) -> Option<(DialectId, &str)> {
    let (_target, address) = name.split_once("::")?;
    let mut parts = address.splitn(3, "::");
    let dialect = parts.next()?.parse::<DialectId>().ok()?;
    let group = parts.next()?;
    let id = parts.next()?;
    (!group.is_empty() && !id.is_empty()).then_some((dialect, group))
}

/// Names the runner itself provides to templates, beside fixtures and
/// captures.
pub const BUILTIN_VARIABLES: &[&str] = &["case.nonce", "case.number", "case.id"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_names_the_dialect_and_file_of_its_case() {
        assert_eq!(
            file_of_address("emulator::alibaba-ecs::assign::ecs-assign-explicit-ip"),
            Some((DialectId::AlibabaEcs, "assign"))
        );
        // A portable scenario's group, and an id holding `::` and a row.
        assert_eq!(
            file_of_address("aliyun-prod::naver-vpc::portable.assign::a::b[row-1]"),
            Some((DialectId::NaverVpc, "portable.assign"))
        );
        for not_one in [
            "emulator::alibaba-ecs::assign",
            "emulator::alibaba-ecs::assign::",
            "emulator::no-such-dialect::assign::x",
            "lint::cases-match-specs",
            "assign",
            "",
        ] {
            assert_eq!(file_of_address(not_one), None, "{not_one}");
        }
    }
}
