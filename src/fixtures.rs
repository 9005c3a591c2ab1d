//! Fixtures: the named values and credential sets a target hands to cases.
//!
//! Cases never hard-code an ENI id or a key: they say `{{eni.available}}`
//! or `as: other`, and each target (the emulator's world file, a real-cloud
//! profile) supplies the values. Secrets live in [`Secret`], whose `Debug`
//! and `Display` never print the value, so a stray `{:?}` in a log line or
//! a panic message cannot leak it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dialect::DialectId;

/// Fixtures by dialect: a world file's or a target's, so that `{{region}}`
/// is cn-hangzhou for ECS and an edge region for ENS.
pub type DialectFixtures = BTreeMap<DialectId, Fixtures>;

/// One dialect's fixtures; empty when the target gives that dialect none.
pub fn of(all: &DialectFixtures, dialect: DialectId) -> &Fixtures {
    static NONE: std::sync::OnceLock<Fixtures> = std::sync::OnceLock::new();
    all.get(&dialect)
        .unwrap_or_else(|| NONE.get_or_init(Fixtures::default))
}

/// Values and credentials by name.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// `{{key}}` in a case is replaced by `values[key]`.
    #[serde(default, deserialize_with = "scalar_map")]
    pub values: BTreeMap<String, String>,
    /// `as: name` in a case step signs with `credentials[name]`.
    #[serde(default)]
    pub credentials: BTreeMap<String, Credentials>,
}

/// One access key pair.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
}

/// A secret string: redacted in `Debug`, `Display` and serialization.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the signer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// YAML scalars of any type (`5`, `true`, `cn-hangzhou`) as strings: a
/// fixture is substituted into request parameters, which are text.
fn scalar_map<'de, D: Deserializer<'de>>(de: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_yaml::Value>::deserialize(de)?;
    raw.into_iter()
        .map(|(key, value)| match scalar_to_string(&value) {
            Some(text) => Ok((key, text)),
            None => Err(serde::de::Error::custom(format!(
                "fixture `{key}` must be a scalar (string, number or boolean)"
            ))),
        })
        .collect()
}

/// The text of a YAML scalar, `None` for sequences, mappings and null.
pub fn scalar_to_string(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let creds = Credentials {
            access_key_id: "id".into(),
            access_key_secret: Secret::new("hunter2"),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&creds).unwrap().contains("hunter2"));
    }

    #[test]
    fn numbers_become_fixture_text() {
        let f: Fixtures = serde_yaml::from_str("values: {n: 5, b: true, s: x}").unwrap();
        assert_eq!(f.values["n"], "5");
        assert_eq!(f.values["b"], "true");
    }
}
