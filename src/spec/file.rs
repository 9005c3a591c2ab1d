//! The YAML shape of spec files and their loading into [`SpecSet`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{diag, OperationSpec, SpecSet};
use crate::diag::{Diagnostic, Diagnostics};
use crate::dialect::DialectId;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assumption {
    pub assumption: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    Ipv4,
}

/// Allowed N of a repeat list such as `PrivateIpAddress.N`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub repeat: Option<Repeat>,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    /// The document's allowed values, where it lists them.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub example: Option<serde_yaml::Value>,
}

impl ParamSpec {
    /// `Some(None)` for a plain match, `Some(Some(n))` for element n of a
    /// repeat list, `None` when the wire name is not this parameter.
    pub fn matches(&self, wire_name: &str) -> Option<Option<u32>> {
        match self.name.strip_suffix(".N") {
            Some(stem) => {
                let n = wire_name.strip_prefix(stem)?.strip_prefix('.')?;
                n.parse().ok().map(Some)
            }
            None => (self.name == wire_name).then_some(None),
        }
    }
}

/// A combination rule between parameters, written as a one-key map
/// (`- exactly_one_of: [A, B]`). A struct rather than an enum because
/// serde_norway reads enums from YAML tags (`!exactly_one_of`), which
/// nobody writes by hand.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Exactly one of these parameters (a repeat list counts when any of
    /// its elements is present).
    #[serde(default)]
    pub exactly_one_of: Option<Vec<String>>,
    /// At most one of them.
    #[serde(default)]
    pub at_most_one_of: Option<Vec<String>>,
}

impl Rule {
    /// The parameters the rule names, whichever kind it is.
    pub fn parameters(&self) -> &[String] {
        self.exactly_one_of
            .as_deref()
            .or(self.at_most_one_of.as_deref())
            .unwrap_or_default()
    }

    fn is_well_formed(&self) -> bool {
        self.exactly_one_of.is_some() != self.at_most_one_of.is_some()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorEntry {
    pub status: u16,
    pub code: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Where this row comes from when not from the spec's own source.
    #[serde(default)]
    pub source: Option<String>,
    /// Set when no document lists this code: why it is in the catalog.
    #[serde(default)]
    pub assumption: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationFile {
    dialect: String,
    operation: String,
    source: String,
    #[serde(default)]
    assumptions: Vec<Assumption>,
    #[serde(default)]
    parameters: Vec<ParamSpec>,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    response: Option<ResponseSection>,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseSection {
    schema: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonFile {
    dialect: String,
    source: String,
    #[serde(default)]
    assumptions: Vec<Assumption>,
    #[serde(default)]
    common_parameters: Vec<ParamSpec>,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

pub(super) fn load_dir(dir: &Path) -> Result<SpecSet, Diagnostics> {
    let mut diags = Vec::new();
    let mut operations = BTreeMap::new();
    let mut dialect_dirs: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic::new(
                dir.display().to_string(),
                format!("failed to read the specs directory: {e}"),
            )
            .with_hint("run from the project root, or pass --specs DIR")]))
        }
    };
    dialect_dirs.sort();
    for dialect_dir in dialect_dirs.into_iter().filter(|p| p.is_dir()) {
        let name = dialect_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let dialect: DialectId = match name.parse() {
            Ok(d) => d,
            Err(e) => {
                diags.push(Diagnostic::new(dialect_dir.display().to_string(), e));
                continue;
            }
        };
        let files = match crate::diag::yaml_files_in(&dialect_dir) {
            Ok(files) => files,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let common_path = files
            .iter()
            .find(|p| p.file_stem().is_some_and(|s| s == "_common"))
            .cloned();
        let common = match common_path {
            Some(path) => match read_yaml::<CommonFile>(&path) {
                Ok((c, text)) => {
                    check_dialect(&c.dialect, dialect, &path, &text, &mut diags);
                    Some(c)
                }
                Err(d) => {
                    diags.push(d);
                    None
                }
            },
            None => None,
        };
        for path in files
            .iter()
            .filter(|p| p.file_stem().is_none_or(|s| s != "_common"))
        {
            let (op, text) = match read_yaml::<OperationFile>(path) {
                Ok(v) => v,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let file = path.display().to_string();
            check_dialect(&op.dialect, dialect, path, &text, &mut diags);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            if stem != op.operation {
                diags.push(diag(
                    &file,
                    &text,
                    "operation",
                    format!(
                        "the file is named {stem}.yaml but describes `{}`",
                        op.operation
                    ),
                ));
            }
            for rule in &op.rules {
                if !rule.is_well_formed() {
                    diags.push(diag(
                        &file,
                        &text,
                        "rules",
                        "each rule is one of `exactly_one_of: [...]` or `at_most_one_of: [...]`"
                            .into(),
                    ));
                }
                for name in rule.parameters() {
                    if !op.parameters.iter().any(|p| &p.name == name) {
                        diags.push(diag(
                            &file,
                            &text,
                            "rules",
                            format!("rule names `{name}`, which is not among the parameters"),
                        ));
                    }
                }
            }
            let response_schema = match &op.response {
                Some(r) => match jsonschema::validator_for(&r.schema) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        diags.push(diag(
                            &file,
                            &text,
                            "schema",
                            format!("the response schema is not a valid JSON Schema: {e}"),
                        ));
                        None
                    }
                },
                None => None,
            };
            let mut errors = op.errors;
            let mut common_parameters = Vec::new();
            let mut assumptions = op.assumptions;
            if let Some(common) = &common {
                // An operation's own row wins over a common one: the ECS
                // documents give MissingParameter different statuses.
                for e in &common.errors {
                    if !errors.iter().any(|own| own.code == e.code) {
                        let mut e = e.clone();
                        // A common row is sourced by the common file, not
                        // by the operation's document.
                        e.source.get_or_insert_with(|| common.source.clone());
                        errors.push(e);
                    }
                }
                common_parameters = common.common_parameters.clone();
                assumptions.extend(common.assumptions.iter().cloned());
            }
            for (i, e) in errors.iter().enumerate() {
                if errors[..i].iter().any(|prev| prev.code == e.code) {
                    diags.push(diag(
                        &file,
                        &text,
                        &e.code,
                        format!("error code {} is listed twice", e.code),
                    ));
                }
            }
            operations.insert(
                (dialect, op.operation.clone()),
                OperationSpec {
                    dialect,
                    operation: op.operation,
                    source: op.source,
                    file,
                    assumptions,
                    parameters: op.parameters,
                    common_parameters,
                    rules: op.rules,
                    errors,
                    response_schema,
                },
            );
        }
    }
    if diags.is_empty() {
        Ok(SpecSet { operations })
    } else {
        Err(Diagnostics(diags))
    }
}

fn check_dialect(
    written: &str,
    expected: DialectId,
    path: &Path,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if written != expected.as_str() {
        diags.push(diag(
            &path.display().to_string(),
            text,
            "dialect",
            format!(
                "`dialect: {written}` in a file under specs/{expected}/; write `dialect: {expected}`"
            ),
        ));
    }
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(T, String), Diagnostic> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(&file, format!("failed to read: {e}")))?;
    match serde_yaml::from_str(&text) {
        Ok(v) => Ok((v, text)),
        Err(e) => Err(Diagnostic::from_yaml(&file, &text, &e)),
    }
}
