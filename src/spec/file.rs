//! The YAML shape of spec files and their loading into [`SpecSet`].
//!
//! Specs come as a list of `(path, text)` pairs, so that the binary's
//! embedded copy and a folder on disk load through the same code. Paths are
//! `specs/<dialect>/<Operation>.yaml`, `specs/<dialect>/_common.yaml` and
//! `specs/_family/<family>.yaml`: a dialect's `_common.yaml` may name a
//! family whose common parameters and errors it shares with the other
//! products of the same wire protocol (ECS and ENS share `alibaba-rpc`).
//! `specs/<dialect>/_portable.yaml` is the dialect's binding for portable
//! scenarios ([`crate::portable::binding`]); it is read last, because it is
//! checked against the dialect's operations.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::validate::Validation;
use super::{
    diag, Catalog, DialectSpec, DialectSpecs, OperationSpec, Part, ResponseSchema, SpecSet,
};
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
    /// A 32-bit signed integer, as the vendors' Java backends read it.
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
    /// The indexes must run from `min` without a gap (Tencent's 0-based
    /// lists).
    #[serde(default)]
    pub contiguous: bool,
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
    /// The values of a repeat list must be distinct.
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    /// The document's allowed values, where it lists them.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// Compare `values` without regard to case (Alibaba's `Format`).
    #[serde(default)]
    pub ignore_case: bool,
    /// The dialect's idempotency token (ECS `ClientToken`): a call that
    /// sends it may be retried after a throttling or busy reply, since the
    /// vendor answers a repeat with the first call's result.
    #[serde(default)]
    pub idempotency_token: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub example: Option<serde_yaml::Value>,
}

impl ParamSpec {
    /// The text before and after a repeat list's index placeholder (`N`
    /// or `n`, a whole dot-separated segment, anywhere in the name):
    /// `("PrivateIpAddress.", "")` for `PrivateIpAddress.N`,
    /// `("privateIpAddressSet.", ".primary")` for
    /// `privateIpAddressSet.n.primary`.
    ///
    /// Only the first such segment counts, and never the first segment.
    /// Allocation-free: the emulator asks this of every parameter of every
    /// request it validates.
    pub(super) fn placeholder(&self) -> Option<(&str, &str)> {
        let name = self.name.as_str();
        let mut start = 0;
        for (i, segment) in name.split('.').enumerate() {
            if segment == "N" || segment == "n" {
                return (i > 0).then(|| (&name[..start], &name[start + 1..]));
            }
            start += segment.len() + 1;
        }
        None
    }

    /// The name without its index segment (`PrivateIpAddress`,
    /// `privateIpAddressSet.primary`): what templated codes say.
    pub fn stem(&self) -> String {
        match self.placeholder() {
            Some((prefix, suffix)) => format!("{}{suffix}", prefix.trim_end_matches('.')),
            None => self.name.clone(),
        }
    }

    pub fn is_list(&self) -> bool {
        self.placeholder().is_some()
    }

    /// `Some(None)` for a plain match, `Some(Some(n))` for element n of a
    /// repeat list, `None` when the wire name is not this parameter (or
    /// names an element with an index that is not a number).
    pub fn matches(&self, wire_name: &str) -> Option<Option<u32>> {
        match self.element_index(wire_name)? {
            None => Some(None),
            Some(n) => n.parse().ok().map(Some),
        }
    }

    /// Like [`ParamSpec::matches`], but hands back the index as sent, so
    /// that a malformed index (`PrivateIpAddress.x`) is still recognised as
    /// this list's element and can be refused as a bad index.
    pub fn element_index<'w>(&self, wire_name: &'w str) -> Option<Option<&'w str>> {
        self.element_index_with(self.placeholder(), wire_name)
    }

    /// [`ParamSpec::element_index`] with this parameter's
    /// [`ParamSpec::placeholder`] already found (validation finds each
    /// once per request, not once per received parameter).
    pub(super) fn element_index_with<'w>(
        &self,
        placeholder: Option<(&str, &str)>,
        wire_name: &'w str,
    ) -> Option<Option<&'w str>> {
        match placeholder {
            Some((prefix, suffix)) => {
                let index = wire_name.strip_prefix(prefix)?.strip_suffix(suffix)?;
                // With a suffix the index is one segment; a trailing index
                // may be anything (a bad one is refused as a bad index).
                (!index.is_empty() && (suffix.is_empty() || !index.contains('.')))
                    .then_some(Some(index))
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
    /// At least one of them (both may be given).
    #[serde(default)]
    pub at_least_one_of: Option<Vec<String>>,
    /// A list's elements and an integer's value, added, at most `max`
    /// (Tencent: at most 10 addresses per call, explicit and counted).
    #[serde(default)]
    pub total_at_most: Option<TotalAtMost>,
    /// The same total, at least `min` (NAVER: a list and a count that
    /// together ask for at least one address).
    #[serde(default)]
    pub total_at_least: Option<TotalAtLeast>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TotalAtMost {
    pub parameters: Vec<String>,
    pub max: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TotalAtLeast {
    pub parameters: Vec<String>,
    pub min: u64,
}

impl Rule {
    /// The parameters the rule names, whichever kind it is.
    pub fn parameters(&self) -> &[String] {
        self.exactly_one_of
            .as_deref()
            .or(self.at_most_one_of.as_deref())
            .or(self.at_least_one_of.as_deref())
            .or(self.total_at_most.as_ref().map(|t| t.parameters.as_slice()))
            .or(self
                .total_at_least
                .as_ref()
                .map(|t| t.parameters.as_slice()))
            .unwrap_or_default()
    }

    fn is_well_formed(&self) -> bool {
        [
            self.exactly_one_of.is_some(),
            self.at_most_one_of.is_some(),
            self.at_least_one_of.is_some(),
            self.total_at_most.is_some(),
            self.total_at_least.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count()
            == 1
    }
}

/// The envelope of an error, where a vendor has two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorShape {
    Service,
    Gateway,
}

/// The neutral name of an outcome, shared by every vendor: what portable
/// scenarios and the comparison report compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    IpInUse,
    InterfaceNotFound,
    QuotaExceeded,
    SubnetExhausted,
    IpNotAssigned,
    PrimaryIp,
    InvalidParameter,
    Busy,
    AuthFailed,
    InvalidState,
    IpInvalid,
    SubnetNotFound,
    NotPermitted,
    Throttled,
    InternalError,
    UnsupportedOperation,
}

impl Kind {
    /// Every kind, in the order the documents list them.
    pub const ALL: &'static [Kind] = &[
        Kind::IpInUse,
        Kind::InterfaceNotFound,
        Kind::QuotaExceeded,
        Kind::SubnetExhausted,
        Kind::IpNotAssigned,
        Kind::PrimaryIp,
        Kind::InvalidParameter,
        Kind::Busy,
        Kind::AuthFailed,
        Kind::InvalidState,
        Kind::IpInvalid,
        Kind::SubnetNotFound,
        Kind::NotPermitted,
        Kind::Throttled,
        Kind::InternalError,
        Kind::UnsupportedOperation,
    ];

    /// The name specs and scenarios write (`ip-in-use`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IpInUse => "ip-in-use",
            Kind::InterfaceNotFound => "interface-not-found",
            Kind::QuotaExceeded => "quota-exceeded",
            Kind::SubnetExhausted => "subnet-exhausted",
            Kind::IpNotAssigned => "ip-not-assigned",
            Kind::PrimaryIp => "primary-ip",
            Kind::InvalidParameter => "invalid-parameter",
            Kind::Busy => "busy",
            Kind::AuthFailed => "auth-failed",
            Kind::InvalidState => "invalid-state",
            Kind::IpInvalid => "ip-invalid",
            Kind::SubnetNotFound => "subnet-not-found",
            Kind::NotPermitted => "not-permitted",
            Kind::Throttled => "throttled",
            Kind::InternalError => "internal-error",
            Kind::UnsupportedOperation => "unsupported-operation",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let mut message = format!("`{s}` is not an outcome kind");
                if let Some(best) = crate::diag::closest(s, Kind::ALL.iter().map(|k| k.as_str())) {
                    message.push_str(&format!(" (did you mean `{best}`?)"));
                }
                message
            })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorEntry {
    pub status: u16,
    /// The code, or a template with `%s` standing for a parameter name
    /// (`Missing%s` matches `MissingNetworkInterfaceId`).
    pub code: String,
    #[serde(default)]
    pub kind: Option<Kind>,
    /// The numeric code some vendors send beside the string one (Tencent's
    /// `code` beside its `codeDesc`).
    #[serde(default)]
    pub numeric_code: Option<i64>,
    /// Which envelope carries it, where a vendor has two (NAVER: the
    /// service's `responseError`, or the API gateway's `error`).
    #[serde(default)]
    pub shape: Option<ErrorShape>,
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
    /// `false` for a row that no request can be built to cause (a failure
    /// inside the vendor's backend): it stays in the catalog so that a real
    /// cloud's answer is recognised as documented, and coverage lists it
    /// apart rather than as a gap no case can ever close.
    #[serde(default = "producible_by_default")]
    pub producible: bool,
    /// Why a row is `producible: false`; required with it, refused without.
    #[serde(default)]
    pub unproducible_reason: Option<String>,
}

fn producible_by_default() -> bool {
    true
}

impl ErrorEntry {
    pub fn is_template(&self) -> bool {
        self.code.contains("%s")
    }

    /// Whether `code` is this entry's code, or fills its template with a
    /// parameter-like name (letters, digits, `.`, `_`, `-`).
    pub fn matches(&self, code: &str) -> bool {
        let Some((prefix, suffix)) = self.code.split_once("%s") else {
            return self.code == code;
        };
        code.len() > prefix.len() + suffix.len()
            && code.starts_with(prefix)
            && code.ends_with(suffix)
            && code[prefix.len()..code.len() - suffix.len()]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationFile {
    dialect: String,
    operation: String,
    source: String,
    /// The operation only reads: a polling step may repeat it.
    #[serde(default)]
    readonly: bool,
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
    /// How an XML reply maps to the schema's JSON; absent: XML replies are
    /// not checked against the schema.
    #[serde(default)]
    xml: Option<super::xml::XmlLists>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonFile {
    dialect: String,
    /// A family file under `specs/_family/` whose parameters and errors
    /// this dialect shares.
    #[serde(default)]
    family: Option<String>,
    source: String,
    #[serde(default)]
    assumptions: Vec<Assumption>,
    #[serde(default)]
    common_parameters: Vec<ParamSpec>,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    validation: Validation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyFile {
    family: String,
    source: String,
    #[serde(default)]
    assumptions: Vec<Assumption>,
    #[serde(default)]
    common_parameters: Vec<ParamSpec>,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

/// One spec file: where it is (for messages) and its text.
pub struct SourceFile {
    /// `specs/<dialect>/<Operation>.yaml`, relative to the specs root's parent.
    pub path: String,
    pub text: String,
}

/// Reads every spec file under `dir` (one folder per dialect, `_family/`
/// for families) into memory.
pub(super) fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut subdirs: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic::new(
                dir.display().to_string(),
                format!("failed to read the specs directory: {e}"),
            )
            .with_hint(
                "pass --specs DIR, or leave it out to use the specs built into ipconform",
            )]))
        }
    };
    subdirs.sort();
    for sub in subdirs.into_iter().filter(|p| p.is_dir()) {
        match crate::diag::yaml_files_in(&sub) {
            Ok(files) => {
                for path in files {
                    match std::fs::read_to_string(&path) {
                        Ok(text) => out.push(SourceFile {
                            path: path.display().to_string(),
                            text,
                        }),
                        Err(e) => diags.push(Diagnostic::new(
                            path.display().to_string(),
                            format!("failed to read: {e}"),
                        )),
                    }
                }
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

/// The folder a spec file sits in (`alibaba-ecs`, `_family`) and its stem.
fn folder_and_stem(path: &str) -> (String, String) {
    let p = Path::new(path);
    let folder = p
        .parent()
        .and_then(|d| d.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    (folder, stem)
}

/// The stem of a dialect's portable binding.
const PORTABLE_STEM: &str = "_portable";

/// When response schemas become validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Schemas {
    /// Now, each checked against its meta-schema, a bad one reported with
    /// the others.
    AtLoad,
    /// On the first body checked against each (specs already checked).
    OnFirstUse,
}

pub(super) fn load(files: &[SourceFile], schemas: Schemas) -> Result<SpecSet, Diagnostics> {
    let mut diags = Vec::new();

    let mut families: BTreeMap<String, FamilyFile> = BTreeMap::new();
    for f in files
        .iter()
        .filter(|f| folder_and_stem(&f.path).0 == "_family")
    {
        let Some(family) = parse::<FamilyFile>(f, &mut diags) else {
            continue;
        };
        let stem = folder_and_stem(&f.path).1;
        if family.family != stem {
            diags.push(diag(
                &f.path,
                &f.text,
                "family",
                format!(
                    "the file is named {stem}.yaml but says `family: {}`",
                    family.family
                ),
            ));
        }
        families.insert(stem, family);
    }

    let mut dialects: BTreeMap<DialectId, DialectSpec> = BTreeMap::new();
    for f in files.iter().filter(|f| {
        let (folder, stem) = folder_and_stem(&f.path);
        folder != "_family" && stem == "_common"
    }) {
        let Some(dialect) = folder_dialect(f, &mut diags) else {
            continue;
        };
        let Some(common) = parse::<CommonFile>(f, &mut diags) else {
            continue;
        };
        check_dialect(&common.dialect, dialect, f, &mut diags);
        let mut parameters = common.common_parameters;
        let mut errors = common.errors;
        let mut assumptions = common.assumptions;
        if let Some(name) = &common.family {
            match families.get(name) {
                Some(family) => {
                    // The dialect's own rows win over the family's.
                    for p in &family.common_parameters {
                        if !parameters.iter().any(|own| own.name == p.name) {
                            parameters.push(p.clone());
                        }
                    }
                    for e in &family.errors {
                        if !errors.iter().any(|own| own.code == e.code) {
                            let mut e = e.clone();
                            e.source.get_or_insert_with(|| family.source.clone());
                            errors.push(e);
                        }
                    }
                    assumptions.extend(family.assumptions.iter().cloned());
                }
                None => diags.push(diag(
                    &f.path,
                    &f.text,
                    "family",
                    format!(
                        "family `{name}` has no file specs/_family/{name}.yaml (known: {})",
                        families.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
        for e in errors.iter_mut() {
            e.source.get_or_insert_with(|| common.source.clone());
        }
        check_catalog(&errors, f, &mut diags);
        dialects.insert(
            dialect,
            DialectSpec {
                dialect,
                source: common.source,
                file: f.path.clone(),
                assumptions,
                common_parameters: parameters,
                errors: Catalog::new(errors),
                validation: common.validation,
            },
        );
    }

    let mut operations = BTreeMap::new();
    for f in files.iter().filter(|f| {
        let (folder, stem) = folder_and_stem(&f.path);
        folder != "_family" && stem != "_common" && stem != PORTABLE_STEM
    }) {
        let Some(dialect) = folder_dialect(f, &mut diags) else {
            continue;
        };
        let Some(op) = parse::<OperationFile>(f, &mut diags) else {
            continue;
        };
        check_dialect(&op.dialect, dialect, f, &mut diags);
        let stem = folder_and_stem(&f.path).1;
        if stem != op.operation {
            diags.push(diag(
                &f.path,
                &f.text,
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
                    &f.path,
                    &f.text,
                    "rules",
                    "each rule is one of `exactly_one_of: [...]`, `at_most_one_of: [...]`, \
                     `at_least_one_of: [...]`, `total_at_most: {parameters: [...], max: N}` \
                     or `total_at_least: {parameters: [...], min: N}`"
                        .into(),
                ));
            }
            for name in rule.parameters() {
                if !op.parameters.iter().any(|p| &p.name == name) {
                    diags.push(diag(
                        &f.path,
                        &f.text,
                        "rules",
                        format!("rule names `{name}`, which is not among the parameters"),
                    ));
                }
            }
        }
        for p in &op.parameters {
            if p.unique && !p.is_list() {
                diags.push(diag(
                    &f.path,
                    &f.text,
                    &p.name,
                    format!("`unique` applies to repeat lists; `{}` is not one", p.name),
                ));
            }
            if p.is_list() != p.repeat.is_some() {
                diags.push(diag(
                    &f.path,
                    &f.text,
                    &p.name,
                    format!(
                        "`{}`: a repeat list is named `Stem.N` and has `repeat: {{min, max}}`, both or neither",
                        p.name
                    ),
                ));
            }
        }
        let response_schema = match &op.response {
            Some(r) => {
                let schema = ResponseSchema::new(r.schema.clone());
                if schemas == Schemas::AtLoad {
                    if let Err(e) = schema.validator() {
                        diags.push(diag(
                            &f.path,
                            &f.text,
                            "schema",
                            format!("the response schema is not a valid JSON Schema: {e}"),
                        ));
                    }
                }
                Some(schema)
            }
            None => None,
        };
        let Some(common) = dialects.get(&dialect) else {
            diags.push(
                Diagnostic::new(
                    &f.path,
                    format!("dialect {dialect} has no specs/{dialect}/_common.yaml"),
                )
                .with_hint(
                    "add it: the common parameters, the common errors and the `validation:` codes",
                ),
            );
            continue;
        };
        let mut errors = op.errors;
        check_catalog(&errors, f, &mut diags);
        let own_errors = errors.len();
        // An operation's own row wins over a common one: the ECS documents
        // give MissingParameter different statuses per operation.
        for e in common.errors.entries() {
            if !errors.iter().any(|own| own.code == e.code) {
                errors.push(e.clone());
            }
        }
        let mut assumptions = op.assumptions;
        assumptions.extend(common.assumptions.iter().cloned());
        operations.insert(
            (dialect, op.operation.clone()),
            OperationSpec {
                dialect,
                operation: op.operation,
                readonly: op.readonly,
                source: op.source,
                file: f.path.clone(),
                assumptions,
                parameters: op.parameters,
                common_parameters: common.common_parameters.clone(),
                rules: op.rules,
                errors: Catalog::new(errors),
                own_errors,
                response_xml: op
                    .response
                    .as_ref()
                    .and_then(|r| r.xml.map(|lists| (r.schema.clone(), lists))),
                response_schema,
            },
        );
    }
    let mut bindings = BTreeMap::new();
    for f in files.iter().filter(|f| {
        let (folder, stem) = folder_and_stem(&f.path);
        folder != "_family" && stem == PORTABLE_STEM
    }) {
        let Some(dialect) = folder_dialect(f, &mut diags) else {
            continue;
        };
        let names: Vec<&str> = operations
            .keys()
            .filter(|(d, _)| *d == dialect)
            .map(|(_, op)| op.as_str())
            .collect();
        let lookup = |op: &str| operations.get(&(dialect, op.to_string()));
        match crate::portable::binding::parse(f, dialect, &lookup, &names) {
            Ok(binding) => {
                bindings.insert(dialect, binding);
            }
            Err(mut d) => diags.append(&mut d),
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    let mut parts: BTreeMap<DialectId, DialectSpecs> = BTreeMap::new();
    for (dialect, common) in dialects {
        parts.entry(dialect).or_default().common = Some(common);
    }
    for ((dialect, name), op) in operations {
        parts
            .entry(dialect)
            .or_default()
            .operations
            .insert(name, op);
    }
    for (dialect, binding) in bindings {
        parts.entry(dialect).or_default().binding = Some(binding);
    }
    Ok(SpecSet {
        parts: parts
            .into_iter()
            .map(|(d, specs)| (d, Part::loaded(specs)))
            .collect(),
    })
}

fn check_catalog(errors: &[ErrorEntry], f: &SourceFile, diags: &mut Vec<Diagnostic>) {
    for (i, e) in errors.iter().enumerate() {
        if errors[..i].iter().any(|prev| prev.code == e.code) {
            diags.push(diag(
                &f.path,
                &f.text,
                &e.code,
                format!("error code {} is listed twice", e.code),
            ));
        }
        if e.code.matches("%s").count() > 1 {
            diags.push(diag(
                &f.path,
                &f.text,
                &e.code,
                format!("error code {} holds `%s` more than once", e.code),
            ));
        }
        match (e.producible, &e.unproducible_reason) {
            (false, None) => diags.push(diag(
                &f.path,
                &f.text,
                &e.code,
                format!(
                    "error code {} is `producible: false` without `unproducible_reason`; say why no request can cause it",
                    e.code
                ),
            )),
            (true, Some(_)) => diags.push(diag(
                &f.path,
                &f.text,
                &e.code,
                format!(
                    "error code {} gives `unproducible_reason` but not `producible: false`",
                    e.code
                ),
            )),
            _ => {}
        }
        if !(100..=599).contains(&e.status) {
            diags.push(diag(
                &f.path,
                &f.text,
                &e.code,
                format!("{} is not an HTTP status (code {})", e.status, e.code),
            ));
        }
    }
}

fn folder_dialect(f: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<DialectId> {
    let (folder, _) = folder_and_stem(&f.path);
    match folder.parse() {
        Ok(d) => Some(d),
        Err(e) => {
            diags.push(
                Diagnostic::new(&f.path, e)
                    .with_hint("spec folders are named after their dialect, or `_family`"),
            );
            None
        }
    }
}

fn check_dialect(written: &str, expected: DialectId, f: &SourceFile, diags: &mut Vec<Diagnostic>) {
    if written != expected.as_str() {
        diags.push(diag(
            &f.path,
            &f.text,
            "dialect",
            format!(
                "`dialect: {written}` in a file under specs/{expected}/; write `dialect: {expected}`"
            ),
        ));
    }
}

fn parse<T: for<'de> Deserialize<'de>>(f: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<T> {
    match serde_yaml::from_str(&f.text) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(Diagnostic::from_yaml(&f.path, &f.text, &e));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str) -> ErrorEntry {
        ErrorEntry {
            status: 400,
            code: code.into(),
            kind: None,
            numeric_code: None,
            shape: None,
            message: None,
            description: None,
            source: None,
            assumption: None,
            producible: true,
            unproducible_reason: None,
        }
    }

    #[test]
    fn templates_match_parameter_names_only() {
        let missing = entry("Missing%s");
        assert!(missing.matches("MissingPrivateIpAddress"));
        assert!(!missing.matches("Missing"));
        assert!(!missing.matches("Missing Thing"));
        let dotted = entry("InvalidParameter.%s");
        assert!(dotted.matches("InvalidParameter.PrivateIpAddress"));
        assert!(!dotted.matches("InvalidParameter"));
        assert!(entry("X.NotFound").matches("X.NotFound"));
        assert!(!entry("X.NotFound").matches("X.NotFoundY"));
    }

    #[test]
    fn producible_false_needs_its_reason_and_the_reason_needs_it() {
        let common = |row: &str| SourceFile {
            path: "specs/alibaba-ens/_common.yaml".into(),
            text: format!(
                "dialect: alibaba-ens\nsource: s\nerrors:\n  - {row}\nvalidation:\n{}",
                [
                    "missing",
                    "malformed",
                    "out_of_range",
                    "bad_index",
                    "duplicate",
                    "unknown",
                    "conflict",
                    "none_given"
                ]
                .iter()
                .map(|k| format!("  {k}: {{code: X, message: m}}\n"))
                .collect::<String>()
            ),
        };
        let loads = |row: &str| {
            load(&[common(row)], Schemas::AtLoad)
                .map(|_| ())
                .map_err(|d| d.to_string())
        };
        assert_eq!(
            loads("{status: 400, code: Boom, producible: false, unproducible_reason: internal}"),
            Ok(())
        );
        let without = loads("{status: 400, code: Boom, producible: false}").unwrap_err();
        assert!(
            without.contains("without `unproducible_reason`"),
            "{without}"
        );
        let stray = loads("{status: 400, code: Boom, unproducible_reason: internal}").unwrap_err();
        assert!(stray.contains("not `producible: false`"), "{stray}");
    }

    #[test]
    fn kind_names_round_trip_through_serde_and_from_str() {
        for kind in Kind::ALL {
            let yaml = serde_yaml::to_string(kind).unwrap();
            assert_eq!(yaml.trim(), kind.as_str());
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(*kind));
        }
        assert!("ip-in-used"
            .parse::<Kind>()
            .unwrap_err()
            .contains("did you mean `ip-in-use`"));
    }

    #[test]
    fn element_index_keeps_malformed_indexes() {
        let p: ParamSpec = serde_yaml::from_str(
            "{name: PrivateIpAddress.N, type: ipv4, repeat: {min: 1, max: 5}}",
        )
        .unwrap();
        assert_eq!(p.element_index("PrivateIpAddress.x"), Some(Some("x")));
        assert_eq!(p.matches("PrivateIpAddress.x"), None);
        assert_eq!(p.matches("PrivateIpAddress.3"), Some(Some(3)));
        assert_eq!(p.element_index("PrivateIpAddressX"), None);
        assert_eq!(p.stem(), "PrivateIpAddress");
    }
}
