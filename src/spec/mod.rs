//! Specs: the contract of each operation, transcribed from its vendor
//! document, loaded and validated once.
//!
//! A spec says which parameters an operation takes, how they combine, what a
//! success body looks like (a JSON Schema, compiled here once so that every
//! response check is a walk over a prebuilt validator) and the whole error
//! table of the document. The runner asks a spec two questions about every
//! response: does this success body fit the schema, and is this error code
//! documented for this operation with this HTTP status? Those answers are
//! the "contract findings" reported beside a case's own expectations.

pub mod embedded;
mod file;
mod validate;
pub mod xml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::dialect::DialectId;

pub use file::{
    Assumption, ErrorEntry, ErrorShape, Kind, ParamSpec, ParamType, Repeat, Rule, SourceFile,
};
pub use validate::{Reply, Validation, Violation, ViolationKind};

/// Every spec of every dialect, one part per dialect.
///
/// A set read from a folder is loaded and checked whole, so that every
/// problem is reported at once. The set built into the binary was checked
/// when the crate was tested; it loads one dialect at a time, on the first
/// question about that dialect, so that a run of one dialect's cases (a
/// single trial under cargo-nextest, `ipconform run --filter`) reads and
/// builds nothing of the others.
pub struct SpecSet {
    parts: BTreeMap<DialectId, Part>,
}

/// One dialect's specs: loaded, or to be loaded from `source` on first use.
struct Part {
    loaded: OnceLock<DialectSpecs>,
    /// Gives the dialect's files (its folder and the families) when the
    /// part was not loaded with the set.
    source: Option<fn(DialectId) -> Vec<SourceFile>>,
}

/// What one dialect's spec files say.
#[derive(Default)]
struct DialectSpecs {
    common: Option<DialectSpec>,
    operations: BTreeMap<String, OperationSpec>,
    /// The portable binding (`_portable.yaml`), checked against the
    /// operations.
    binding: Option<crate::portable::Binding>,
}

impl Part {
    fn loaded(specs: DialectSpecs) -> Part {
        Part {
            loaded: OnceLock::from(specs),
            source: None,
        }
    }

    fn get(&self, dialect: DialectId) -> &DialectSpecs {
        self.loaded.get_or_init(|| {
            let Some(source) = self.source else {
                return DialectSpecs::default();
            };
            match file::load(&source(dialect), file::Schemas::OnFirstUse) {
                Ok(mut set) => set
                    .parts
                    .remove(&dialect)
                    .and_then(|p| p.loaded.into_inner())
                    .unwrap_or_default(),
                // Checked when the crate was tested: a build whose specs do
                // not load is broken, said here rather than by a panic.
                Err(diagnostics) => {
                    eprintln!("error: the built-in specs of {dialect} do not load:\n{diagnostics}");
                    DialectSpecs::default()
                }
            }
        })
    }
}

/// What every operation of one dialect shares (`_common.yaml`, with its
/// family merged in): the common parameters, the errors any operation can
/// return before its own checks, and the codes of request violations.
pub struct DialectSpec {
    pub dialect: DialectId,
    pub source: String,
    pub file: String,
    pub assumptions: Vec<Assumption>,
    pub common_parameters: Vec<ParamSpec>,
    pub errors: Catalog,
    pub validation: Validation,
}

/// An error table: exact codes, and templates such as `Missing%s` matched
/// as patterns. An exact code wins over a template, and of two templates
/// the one with more fixed text: `InvalidParameter.PageSize` is an
/// instance of `InvalidParameter.%s`, not of `Invalid%s`.
pub struct Catalog {
    entries: Vec<ErrorEntry>,
}

impl Catalog {
    pub fn new(entries: Vec<ErrorEntry>) -> Catalog {
        Catalog { entries }
    }

    /// The entry documenting `code`, exact first, then the most specific
    /// template (the first of equals, in spec order).
    pub fn get(&self, code: &str) -> Option<&ErrorEntry> {
        self.entries
            .iter()
            .find(|e| !e.is_template() && e.code == code)
            .or_else(|| {
                self.entries
                    .iter()
                    .filter(|e| e.is_template() && e.matches(code))
                    // `rev` so that, of equally long templates, the first wins.
                    .rev()
                    .max_by_key(|e| e.code.len())
            })
    }

    /// Every row, in the order the spec lists them.
    pub fn entries(&self) -> &[ErrorEntry] {
        &self.entries
    }

    /// The documented HTTP status of `code`, if it is documented.
    pub fn status_of(&self, code: &str) -> Option<u16> {
        self.get(code).map(|e| e.status)
    }
}

/// The contract of one operation, with the dialect's common parameters and
/// errors merged in.
pub struct OperationSpec {
    pub dialect: DialectId,
    pub operation: String,
    /// Only reads; polling steps may repeat it.
    pub readonly: bool,
    pub source: String,
    pub file: String,
    pub assumptions: Vec<Assumption>,
    /// The operation's own parameters, in document order.
    pub parameters: Vec<ParamSpec>,
    /// The dialect's common parameters (Action, Signature, ...).
    pub common_parameters: Vec<ParamSpec>,
    pub rules: Vec<Rule>,
    /// The operation's errors followed by the dialect's common errors.
    pub errors: Catalog,
    /// How many of `errors`, from the start, the operation's own file
    /// lists; the rest come from `_common.yaml` and its family.
    own_errors: usize,
    response_schema: Option<ResponseSchema>,
    /// The schema as written and how XML lists map to it.
    response_xml: Option<(serde_json::Value, xml::XmlLists)>,
}

/// A response schema and its validator, built at load (a folder of specs,
/// where an invalid schema is reported with its place) or on the first
/// body checked against it (the built-in specs, checked when the crate was
/// tested: a run pays only for the operations it calls).
pub(crate) struct ResponseSchema {
    schema: serde_json::Value,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

impl ResponseSchema {
    fn new(schema: serde_json::Value) -> ResponseSchema {
        ResponseSchema {
            schema,
            validator: OnceLock::new(),
        }
    }

    fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        self.validator
            .get_or_init(|| jsonschema::validator_for(&self.schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }
}

/// A way a response departs from its operation's documented contract,
/// whatever the case itself expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// The success body breaks the response schema at `pointer`.
    SchemaViolation { pointer: String, message: String },
    /// The error code is not in the operation's catalog.
    UndocumentedErrorCode { code: String, status: u16 },
    /// The code is documented, with another HTTP status.
    StatusMismatch {
        code: String,
        documented: u16,
        actual: u16,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::SchemaViolation { pointer, message } => {
                let at = if pointer.is_empty() { "/" } else { pointer };
                write!(
                    f,
                    "success body breaks the response schema at {at}: {message}"
                )
            }
            Finding::UndocumentedErrorCode { code, status } => write!(
                f,
                "error code {code} (HTTP {status}) is not documented for this operation"
            ),
            Finding::StatusMismatch {
                code,
                documented,
                actual,
            } => write!(
                f,
                "error code {code} came with HTTP {actual}; the document says {documented}"
            ),
        }
    }
}

impl SpecSet {
    /// Loads every spec under `dir` (`<dialect>/*.yaml`, `_family/*.yaml`),
    /// reporting every problem found rather than the first.
    pub fn load_dir(dir: &Path) -> Result<SpecSet, Diagnostics> {
        file::load(&file::read_dir(dir)?, file::Schemas::AtLoad)
    }

    /// Loads specs from files already in memory.
    pub fn load_files(files: &[SourceFile]) -> Result<SpecSet, Diagnostics> {
        file::load(files, file::Schemas::AtLoad)
    }

    /// The specs built into the binary, one set per process: the emulator
    /// validates requests with them, so it works from any folder. Each
    /// dialect loads on the first question about it.
    pub fn embedded() -> &'static SpecSet {
        static SPECS: OnceLock<SpecSet> = OnceLock::new();
        SPECS.get_or_init(|| SpecSet {
            parts: embedded::dialects()
                .into_iter()
                .map(|d| {
                    let part = Part {
                        loaded: OnceLock::new(),
                        source: Some(embedded::sources_of),
                    };
                    (d, part)
                })
                .collect(),
        })
    }

    fn part(&self, dialect: DialectId) -> Option<&DialectSpecs> {
        self.parts.get(&dialect).map(|p| p.get(dialect))
    }

    /// Every dialect's part, loading those not loaded yet.
    fn every_part(&self) -> impl Iterator<Item = &DialectSpecs> {
        self.parts.iter().map(|(d, p)| p.get(*d))
    }

    pub fn get(&self, dialect: DialectId, operation: &str) -> Option<&OperationSpec> {
        self.part(dialect)?.operations.get(operation)
    }

    /// The neutral kind the catalog of `operation` gives the error `code`,
    /// if it documents the code with one.
    pub fn kind_of(&self, dialect: DialectId, operation: &str, code: &str) -> Option<Kind> {
        self.get(dialect, operation)?.error(code)?.kind
    }

    /// The common part of a dialect's specs.
    pub fn dialect(&self, dialect: DialectId) -> Option<&DialectSpec> {
        self.part(dialect)?.common.as_ref()
    }

    /// The operation names of a dialect, for "did you mean" hints.
    pub fn operations(&self, dialect: DialectId) -> impl Iterator<Item = &str> {
        self.part(dialect)
            .into_iter()
            .flat_map(|p| p.operations.keys().map(String::as_str))
    }

    /// Every operation spec, by dialect and name.
    pub fn all(&self) -> impl Iterator<Item = &OperationSpec> {
        self.every_part().flat_map(|p| p.operations.values())
    }

    /// Every operation spec of one dialect, by name.
    pub fn all_of(&self, dialect: DialectId) -> impl Iterator<Item = &OperationSpec> {
        self.part(dialect)
            .into_iter()
            .flat_map(|p| p.operations.values())
    }

    /// The dialect's portable binding, when it has one.
    pub fn binding(&self, dialect: DialectId) -> Option<&crate::portable::Binding> {
        self.part(dialect)?.binding.as_ref()
    }

    pub fn len(&self) -> usize {
        self.every_part().map(|p| p.operations.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks a request's parameters against the operation's spec; the
    /// violation comes with the vendor code and message its dialect gives it.
    pub fn validate<'p>(
        &self,
        dialect: DialectId,
        operation: &str,
        params: impl IntoIterator<Item = (&'p str, Option<&'p str>)>,
    ) -> Result<(), Box<RenderedViolation>> {
        let (Some(spec), Some(common)) = (self.get(dialect, operation), self.dialect(dialect))
        else {
            return Ok(());
        };
        spec.validate(params, common.validation.empty_is_absent)
            .map_err(|violation| {
                let (code, message) = common.validation.render(&violation);
                Box::new(RenderedViolation {
                    status: spec.errors.status_of(&code),
                    numeric_code: common.validation.reply(violation.kind).numeric_code,
                    code,
                    message,
                    violation,
                })
            })
    }
}

/// A violation as the dialect answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedViolation {
    pub violation: Violation,
    pub code: String,
    /// The numeric code beside `code`, for vendors that send one.
    pub numeric_code: Option<i64>,
    pub message: String,
    /// The documented status of `code` for the operation, if documented.
    pub status: Option<u16>,
}

impl OperationSpec {
    /// Looks up a parameter by the name sent on the wire: `PrivateIpAddress.3`
    /// matches the repeat list `PrivateIpAddress.N`, whose allowed N is
    /// checked by the caller through [`ParamSpec::repeat`].
    pub fn parameter(&self, wire_name: &str) -> Option<(&ParamSpec, Option<u32>)> {
        self.parameters
            .iter()
            .chain(&self.common_parameters)
            .find_map(|p| p.matches(wire_name).map(|n| (p, n)))
    }

    /// Whether `wire_name` is one of the operation's or the dialect's
    /// parameters (a list element with any index counts).
    pub fn knows(&self, wire_name: &str) -> bool {
        self.parameters
            .iter()
            .chain(&self.common_parameters)
            .any(|p| p.element_index(wire_name).is_some())
    }

    /// The first index of the repeat list written `pattern` (its spec name,
    /// `PrivateIpAddress.N`): Alibaba and NAVER count from 1, Tencent from 0.
    pub fn list_first_index(&self, pattern: &str) -> Option<u32> {
        self.parameters
            .iter()
            .chain(&self.common_parameters)
            .find(|p| p.name == pattern)
            .and_then(|p| p.repeat)
            .map(|r| r.min)
    }

    /// Every parameter name as written in the spec, for hints.
    pub fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.parameters
            .iter()
            .chain(&self.common_parameters)
            .map(|p| p.name.as_str())
    }

    pub fn error(&self, code: &str) -> Option<&ErrorEntry> {
        self.errors.get(code)
    }

    /// The rows the operation's own file lists (its document's table),
    /// a common code it repeats included.
    pub fn own_errors(&self) -> &[ErrorEntry] {
        let all = self.errors.entries();
        &all[..self.own_errors.min(all.len())]
    }

    /// The rows it takes from `_common.yaml` and the family, which its
    /// own file does not list.
    pub fn inherited_errors(&self) -> &[ErrorEntry] {
        let all = self.errors.entries();
        &all[self.own_errors.min(all.len())..]
    }

    /// An XML reply's body in the JSON shape of the response schema, when
    /// the spec says how its XML maps (`response.xml`); `None` otherwise.
    pub fn xml_to_schema_shape(&self, body: &serde_json::Value) -> Option<serde_json::Value> {
        let (schema, lists) = self.response_xml.as_ref()?;
        Some(xml::coerce(schema, schema, body.clone(), *lists))
    }

    /// Checks a success body against the response schema.
    pub fn check_success(&self, body: &serde_json::Value) -> Vec<Finding> {
        let Some(schema) = &self.response_schema else {
            return Vec::new();
        };
        let validator = match schema.validator() {
            Ok(v) => v,
            Err(e) => {
                return vec![Finding::SchemaViolation {
                    pointer: String::new(),
                    message: format!("the response schema of {} does not compile: {e}", self.file),
                }]
            }
        };
        // The common case first: a body that fits needs no error built.
        if validator.is_valid(body) {
            return Vec::new();
        }
        validator
            .iter_errors(body)
            .map(|e| Finding::SchemaViolation {
                pointer: e.instance_path().to_string(),
                message: e.to_string(),
            })
            .collect()
    }

    /// Checks an error against the catalog: documented, with this status.
    pub fn check_error(&self, status: u16, code: &str) -> Vec<Finding> {
        match self.error(code) {
            None => vec![Finding::UndocumentedErrorCode {
                code: code.to_string(),
                status,
            }],
            Some(entry) if entry.status != status => vec![Finding::StatusMismatch {
                code: code.to_string(),
                documented: entry.status,
                actual: status,
            }],
            Some(_) => Vec::new(),
        }
    }
}

impl fmt::Debug for OperationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationSpec")
            .field("dialect", &self.dialect)
            .field("operation", &self.operation)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The one place a spec's diagnostics are built, so each names its file.
fn diag(file: &str, text: &str, key: &str, message: String) -> Diagnostic {
    let d = Diagnostic::new(file, message);
    // `key` is a key (`rules`) or a value the message is about (an error
    // code, a parameter name): then the first line that writes it.
    let value = || {
        (!key.is_empty())
            .then(|| {
                text.lines().enumerate().find_map(|(i, line)| {
                    line.find(key)
                        .map(|at| (i + 1, line[..at].chars().count() + 1))
                })
            })
            .flatten()
    };
    match crate::diag::find_key(text, key, 1, usize::MAX).or_else(value) {
        Some((line, col)) => d.at(text, line, col),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project_specs() -> SpecSet {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
        SpecSet::load_dir(&dir).unwrap_or_else(|d| panic!("{d}"))
    }

    #[test]
    fn project_specs_load_with_common_errors_merged() {
        let specs = project_specs();
        let assign = specs
            .get(DialectId::AlibabaEcs, "AssignPrivateIpAddresses")
            .expect("assign spec");
        // The seed's table says 403 for MissingParameter on assign.
        assert_eq!(
            assign.error("MissingParameter").map(|e| e.status),
            Some(403)
        );
        assert!(
            assign.error("SignatureDoesNotMatch").is_some(),
            "common errors merged"
        );
        let (p, n) = assign.parameter("PrivateIpAddress.3").expect("repeat list");
        assert_eq!((p.name.as_str(), n), ("PrivateIpAddress.N", Some(3)));
        assert!(assign.parameter("PrivateIpAddressX").is_none());
    }

    #[test]
    fn the_most_specific_template_documents_a_code() {
        let specs = project_specs();
        let describe = specs
            .get(DialectId::AlibabaEns, "DescribeNetworkInterfaces")
            .unwrap();
        // Invalid%s comes first in the table and matches too.
        let code = |c: &str| describe.error(c).map(|e| e.code.as_str());
        assert_eq!(
            code("InvalidParameter.PageSize"),
            Some("InvalidParameter.%s")
        );
        assert_eq!(code("InvalidPageSize"), Some("Invalid%s"));
        assert_eq!(code("MissingSignatureNonce"), Some("Missing%s"));
    }

    #[test]
    fn own_and_inherited_rows_are_told_apart() {
        let specs = project_specs();
        let describe = specs
            .get(DialectId::AlibabaEns, "DescribeNetworkInterfaces")
            .unwrap();
        // Its reference gives no table: every row is the dialect's.
        assert!(describe.own_errors().is_empty());
        let internal = describe
            .inherited_errors()
            .iter()
            .find(|e| e.code == "ens.interface.error")
            .expect("inherited from _common.yaml");
        assert!(!internal.producible);
        let assign = specs
            .get(DialectId::AlibabaEns, "AssignPrivateIpAddresses")
            .unwrap();
        // The seed repeats Missing%s in the operation's own table.
        assert!(assign.own_errors().iter().any(|e| e.code == "Missing%s"));
        assert!(!assign
            .inherited_errors()
            .iter()
            .any(|e| e.code == "Missing%s"));
        assert!(assign
            .inherited_errors()
            .iter()
            .any(|e| e.code == "SignatureDoesNotMatch"));
    }

    #[test]
    fn contract_checks_catch_schema_code_and_status() {
        let specs = project_specs();
        let assign = specs
            .get(DialectId::AlibabaEcs, "AssignPrivateIpAddresses")
            .unwrap();
        assert_eq!(assign.check_error(404, "InvalidEniId.NotFound"), vec![]);
        assert!(matches!(
            assign.check_error(400, "InvalidEniId.NotFound")[..],
            [Finding::StatusMismatch {
                documented: 404,
                actual: 400,
                ..
            }]
        ));
        assert!(matches!(
            assign.check_error(400, "Made.Up")[..],
            [Finding::UndocumentedErrorCode { .. }]
        ));
        let bad = json!({"RequestId": 5});
        let findings = assign.check_success(&bad);
        assert!(
            findings.iter().any(
                |f| matches!(f, Finding::SchemaViolation { pointer, .. } if pointer == "/RequestId")
            ),
            "{findings:?}"
        );
    }
}
