//! Target profiles: where a real cloud (or anything that speaks its API)
//! is, how to sign for it, where its credentials come from and which
//! pre-created resources the cases may use.
//!
//! A profile is YAML, strict like every other input file, and holds no
//! secret: it names the environment variables that hold them (the vendors'
//! conventional names by default), which are read only when a run starts,
//! so a profile can be committed and a missing variable is an error naming
//! it before any request is made. Fixtures are the dialect's vocabulary
//! (docs/FORMATS.md): a case that uses a fixture the profile lacks is
//! skipped, not failed, so a profile lists only what the account has.
//!
//! ```yaml
//! name: aliyun-hangzhou
//! client: {rate_limit: 5/s, concurrency: 1, request_timeout: 30s, retries: 3}
//! dialects:
//!   alibaba-ecs:
//!     endpoint: https://ecs.cn-hangzhou.aliyuncs.com
//!     signing: v3
//!     credentials:            # optional; `default` falls back to the vendor's names
//!       default: {id_env: ALIBABA_CLOUD_ACCESS_KEY_ID, secret_env: ALIBABA_CLOUD_ACCESS_KEY_SECRET}
//!     fixtures: {region: cn-hangzhou, eni.available: eni-..., vswitch.cidr: 172.16.0.0/24}
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::diag::{closest, find_key, Diagnostic};
use crate::dialect::DialectId;
use crate::fixtures::{scalar_to_string, Credentials, DialectFixtures, Fixtures, Secret};
use crate::runner::policy::{ClientPolicy, RateLimit, RetryPolicy};
use crate::runner::{CallObserver, Endpoint};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    client: Option<RawClient>,
    dialects: BTreeMap<DialectId, RawDialect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    /// `5/s`, `300/min`.
    #[serde(default)]
    rate_limit: Option<String>,
    #[serde(default)]
    burst: Option<u32>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    request_timeout: Option<String>,
    /// Retries after the first attempt.
    #[serde(default)]
    retries: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDialect {
    endpoint: String,
    #[serde(default)]
    signing: Option<String>,
    #[serde(default)]
    credentials: BTreeMap<String, CredentialSource>,
    #[serde(default)]
    fixtures: serde_yaml::Mapping,
}

/// Where one credential set comes from: the names of two environment
/// variables, never the values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSource {
    pub id_env: String,
    pub secret_env: String,
}

/// A loaded, checked profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The target's name: in reports, trial addresses and `deviations`.
    pub name: String,
    /// The file as given, for messages.
    pub file: String,
    pub client: ClientPolicy,
    pub dialects: BTreeMap<DialectId, DialectProfile>,
}

#[derive(Debug, Clone)]
pub struct DialectProfile {
    /// Base URL, without a trailing slash.
    pub endpoint: String,
    /// The signing variant cases use unless they name one.
    pub signing: Option<String>,
    /// Credential set name -> where it comes from; `default` always present.
    pub credentials: BTreeMap<String, CredentialSource>,
    pub fixtures: BTreeMap<String, String>,
}

/// One fixture that is an interface the harness may change: its IPs are
/// recorded before a run and put back after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EniFixture {
    /// `eni.available`.
    pub fixture: String,
    /// The interface's id at the vendor.
    pub id: String,
    /// The credential set that can read it.
    pub credentials: String,
}

/// The environment variables a vendor's own tools read, used when a
/// profile names none.
pub fn default_credentials(dialect: DialectId) -> CredentialSource {
    let (id, secret) = match dialect {
        DialectId::AlibabaEcs | DialectId::AlibabaEns => (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        ),
        DialectId::TencentVpcV2 => ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"),
        DialectId::NaverVpc => ("NCLOUD_ACCESS_KEY", "NCLOUD_SECRET_KEY"),
    };
    CredentialSource {
        id_env: id.into(),
        secret_env: secret.into(),
    }
}

/// Credential sets every profile gets without configuring them, so the
/// authentication cases run everywhere: an access key id no account has,
/// and the default id with a wrong secret. Both are random per run.
pub const DERIVED_CREDENTIALS: &[&str] = &["unknown", "wrong_secret"];

/// Interface fixtures the harness does not record or sweep: no account
/// holds `eni.unknown`; `eni.other_account` belongs to the second account
/// and Tencent's `eni.other_vpc` to another VPC, which the dialect's read
/// (its portable binding's `list`, scoped to `vpc`) does not reach. Cases
/// only ever see changes to those refused.
const NOT_AN_ENI: &[&str] = &["eni.unknown", "eni.other_account", "eni.other_vpc"];

impl Profile {
    /// Reads and checks a profile file.
    pub fn load(path: &Path) -> Result<Profile, Diagnostic> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::new(&display, format!("failed to read the profile: {e}")))?;
        Profile::parse(&display, &text)
    }

    /// Checks a profile's text; `file` names it in diagnostics.
    pub fn parse(file: &str, text: &str) -> Result<Profile, Diagnostic> {
        let raw: RawProfile =
            serde_yaml::from_str(text).map_err(|e| Diagnostic::from_yaml(file, text, &e))?;
        let at = |key: &str, from: usize, message: String| {
            let d = Diagnostic::new(file, message);
            match find_key(text, key, from, usize::MAX) {
                Some((line, col)) => d.at(text, line, col),
                None => d,
            }
        };
        if raw.name.is_empty()
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(at(
                "name",
                1,
                format!(
                    "profile name `{}` must be letters, digits, `-`, `_` and `.`",
                    raw.name
                ),
            )
            .with_hint("it names the target in reports and the ledger file (`.ipconform/ledger-<name>.jsonl`)"));
        }
        if raw.name == "emulator" {
            return Err(at(
                "name",
                1,
                "`emulator` is the embedded emulator's name; give the profile its own".into(),
            ));
        }
        if raw.dialects.is_empty() {
            return Err(
                at("dialects", 1, "a profile needs at least one dialect".into()).with_hint(
                    format!(
                        "dialects: {}",
                        DialectId::ALL
                            .iter()
                            .map(|d| d.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            );
        }
        let client = match &raw.client {
            None => ClientPolicy::default(),
            Some(c) => client_policy(c).map_err(|(key, message, hint)| {
                let d = at(key, find_line(text, "client").unwrap_or(1), message);
                match hint {
                    Some(h) => d.with_hint(h),
                    None => d,
                }
            })?,
        };
        let mut dialects = BTreeMap::new();
        for (dialect, raw_dialect) in raw.dialects {
            let from = find_line(text, dialect.as_str()).unwrap_or(1);
            let endpoint = check_endpoint(&raw_dialect.endpoint)
                .map_err(|(message, hint)| at("endpoint", from, message).with_hint(hint))?;
            let variants = dialect.client().signing_variants();
            if let Some(signing) = &raw_dialect.signing {
                if !variants.contains(&signing.as_str()) {
                    let mut d = at(
                        "signing",
                        from,
                        format!("{dialect} has no signing variant `{signing}`"),
                    );
                    d = match closest(signing, variants.iter().copied()) {
                        Some(best) => d.with_hint(format!("did you mean `{best}`?")),
                        None => d.with_hint(format!("variants: {}", variants.join(", "))),
                    };
                    return Err(d);
                }
            }
            let mut credentials = raw_dialect.credentials;
            for (name, source) in &credentials {
                for var in [&source.id_env, &source.secret_env] {
                    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(at(
                            name,
                            from,
                            format!("`{var}` is not an environment variable name"),
                        )
                        .with_hint("name the variables that hold the key; the profile never holds a secret itself"));
                    }
                }
                if DERIVED_CREDENTIALS.contains(&name.as_str()) {
                    return Err(at(
                        name,
                        from,
                        format!("credential set `{name}` is made up for every run; it cannot be configured"),
                    )
                    .with_hint("remove it: `unknown` is a random key id, `wrong_secret` the default id with a random secret"));
                }
            }
            credentials
                .entry("default".to_string())
                .or_insert_with(|| default_credentials(dialect));
            let mut fixtures = BTreeMap::new();
            for (key, value) in &raw_dialect.fixtures {
                let Some(key) = scalar_to_string(key) else {
                    return Err(at("fixtures", from, "fixture names must be text".into()));
                };
                match scalar_to_string(value) {
                    Some(v) if v.starts_with('<') && v.ends_with('>') => {
                        return Err(at(
                            &key,
                            from,
                            format!("fixture `{key}` is still the example's placeholder `{v}`"),
                        )
                        .with_hint("write your own resource's id or address, or remove the line (its cases are then skipped)"));
                    }
                    Some(v) => {
                        fixtures.insert(key, v);
                    }
                    None => {
                        return Err(at(
                            &key,
                            from,
                            format!("fixture `{key}` must be a scalar (text, number or boolean)"),
                        ))
                    }
                }
            }
            dialects.insert(
                dialect,
                DialectProfile {
                    endpoint,
                    signing: raw_dialect.signing,
                    credentials,
                    fixtures,
                },
            );
        }
        Ok(Profile {
            name: raw.name,
            file: file.to_string(),
            client,
            dialects,
        })
    }

    /// The endpoints that are not on this machine, which a run may reach
    /// only when the user says `--allow-network`.
    pub fn remote_endpoints(&self) -> Vec<(DialectId, &str)> {
        self.dialects
            .iter()
            .filter(|(_, d)| !is_loopback(&d.endpoint))
            .map(|(dialect, d)| (*dialect, d.endpoint.as_str()))
            .collect()
    }

    /// The error for a profile that reaches beyond loopback without
    /// permission, or `None` when it may run.
    pub fn network_refusal(&self, allowed: bool) -> Option<String> {
        let remote = self.remote_endpoints();
        if allowed || remote.is_empty() {
            return None;
        }
        let list: Vec<String> = remote.iter().map(|(d, e)| format!("{d} at {e}")).collect();
        Some(format!(
            "profile `{}` ({}) reaches beyond this machine: {}; pass --allow-network to let it \
             (IPCONFORM_ALLOW_NETWORK=1 for the test harness), so that no run reaches a cloud by mistake",
            self.name,
            self.file,
            list.join(", ")
        ))
    }

    /// Reads every credential set from the environment through `env`, and
    /// adds the derived ones: the fixtures cases see on this target. Every
    /// variable that is missing is named, not only the first.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<DialectFixtures, String> {
        let mut missing = Vec::new();
        let mut out = DialectFixtures::new();
        for (dialect, d) in &self.dialects {
            let mut credentials = BTreeMap::new();
            for (name, source) in &d.credentials {
                let id = env(&source.id_env).filter(|v| !v.is_empty());
                let secret = env(&source.secret_env).filter(|v| !v.is_empty());
                for (var, value) in [(&source.id_env, &id), (&source.secret_env, &secret)] {
                    if value.is_none() {
                        missing.push(format!("  {var} (credential set `{name}` of {dialect})"));
                    }
                }
                if let (Some(id), Some(secret)) = (id, secret) {
                    credentials.insert(
                        name.clone(),
                        Credentials {
                            access_key_id: id,
                            access_key_secret: Secret::new(secret),
                        },
                    );
                }
            }
            if let Some(default) = credentials.get("default").cloned() {
                credentials.insert(
                    "unknown".into(),
                    Credentials {
                        access_key_id: random_key_id(*dialect),
                        access_key_secret: Secret::new(random_token(30)),
                    },
                );
                credentials.insert(
                    "wrong_secret".into(),
                    Credentials {
                        access_key_id: default.access_key_id,
                        access_key_secret: Secret::new(random_token(30)),
                    },
                );
            }
            out.insert(
                *dialect,
                Fixtures {
                    values: d.fixtures.clone(),
                    credentials,
                },
            );
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(format!(
                "profile `{}` ({}) reads its credentials from the environment, and {} not set:\n{}\n\
                 export {}, or name other variables under `credentials:` in the profile",
                self.name,
                self.file,
                if missing.len() == 1 {
                    "this variable is"
                } else {
                    "these variables are"
                },
                missing.join("\n"),
                if missing.len() == 1 { "it" } else { "them" }
            ))
        }
    }

    /// The endpoint of `dialect` on this profile, its fixtures (with the
    /// credentials resolved) `fixtures`, each change told to `observer`.
    pub fn endpoint<'a>(
        &'a self,
        fixtures: &'a DialectFixtures,
        dialect: DialectId,
        observer: Option<&'a dyn CallObserver>,
    ) -> Option<Endpoint<'a>> {
        let d = self.dialects.get(&dialect)?;
        Some(Endpoint {
            target: &self.name,
            base_url: &d.endpoint,
            fixtures,
            signing: d.signing.as_deref(),
            powers: &[],
            policy: &self.client,
            observer,
        })
    }

    /// The interfaces among `dialect`'s fixtures that the harness may
    /// change: `eni.<name>` but for those of [`NOT_AN_ENI`], read and
    /// changed with the `default` credentials.
    pub fn eni_fixtures(&self, dialect: DialectId) -> Vec<EniFixture> {
        let Some(d) = self.dialects.get(&dialect) else {
            return Vec::new();
        };
        d.fixtures
            .iter()
            .filter(|(name, _)| is_eni_fixture(name))
            .map(|(name, id)| EniFixture {
                fixture: name.clone(),
                id: id.clone(),
                credentials: "default".into(),
            })
            .collect()
    }
}

/// Whether a fixture's name says it is an interface the harness may
/// change: `eni.available`, not `eni.available.primary_ip`, `eni.unknown`,
/// `eni.other_account` or `eni.other_vpc`.
pub fn is_eni_fixture(name: &str) -> bool {
    name.strip_prefix("eni.")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('.'))
        && !NOT_AN_ENI.contains(&name)
}

/// Whether a URL's host is this machine: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

fn check_endpoint(text: &str) -> Result<String, (String, String)> {
    let url = reqwest::Url::parse(text).map_err(|e| {
        (
            format!("endpoint `{text}` is not a URL: {e}"),
            "write the API's base URL, e.g. https://ecs.cn-hangzhou.aliyuncs.com".to_string(),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err((
            format!("endpoint `{text}` must be an http or https URL with a host"),
            "write the API's base URL, e.g. https://vpc.api.qcloud.com".into(),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err((
            format!("endpoint `{text}` has a path, query or fragment"),
            "give the host only: the dialect adds its own path (`/v2/index.php`, `/vserver/v2/...`)"
                .into(),
        ));
    }
    Ok(text.trim_end_matches('/').to_string())
}

type ClientError = (&'static str, String, Option<String>);

fn client_policy(raw: &RawClient) -> Result<ClientPolicy, ClientError> {
    let mut policy = ClientPolicy::default();
    if let Some(text) = &raw.rate_limit {
        // `burst` may be its own key or written in the rate (`5/s burst 10`).
        let mut rate: RateLimit = text.parse().map_err(|why: String| {
            (
                "rate_limit",
                why,
                Some("write requests per unit of time: `5/s`, `100/min`, `200/60s`".into()),
            )
        })?;
        if let Some(burst) = raw.burst {
            rate.burst = std::num::NonZeroU32::new(burst)
                .ok_or_else(|| ("burst", "`burst` must be at least 1".to_string(), None))?;
        }
        policy.rate_limit = Some(rate);
    } else if raw.burst.is_some() {
        return Err((
            "burst",
            "`burst` without a `rate_limit`".into(),
            Some("give `rate_limit: 5/s` beside it".into()),
        ));
    }
    if let Some(n) = raw.concurrency {
        if n == 0 {
            return Err((
                "concurrency",
                "`concurrency` must be at least 1".into(),
                None,
            ));
        }
        policy.concurrency = n;
    }
    if let Some(text) = &raw.request_timeout {
        policy.request_timeout = match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                return Err((
                    "request_timeout",
                    format!("request_timeout `{text}` is not a duration above zero"),
                    Some("write e.g. `30s` or `2s`".into()),
                ))
            }
        };
    }
    if let Some(retries) = raw.retries {
        if retries > 10 {
            return Err((
                "retries",
                format!("{retries} retries is more than a polite client makes"),
                Some("10 at most; the backoff grows to 5 s between attempts".into()),
            ));
        }
        policy.retry = RetryPolicy {
            max_attempts: retries + 1,
            ..RetryPolicy::DEFAULT
        };
    }
    Ok(policy)
}

/// The first line where `key:` is written (1-based).
fn find_line(text: &str, key: &str) -> Option<usize> {
    find_key(text, key, 1, usize::MAX).map(|(line, _)| line)
}

/// A random key id shaped like the vendor's, which no account holds.
fn random_key_id(dialect: DialectId) -> String {
    match dialect {
        DialectId::AlibabaEcs | DialectId::AlibabaEns => format!("LTAI{}", random_token(20)),
        DialectId::TencentVpcV2 => format!("AKID{}", random_token(32)),
        DialectId::NaverVpc => random_token(20),
    }
}

fn random_token(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(len);
    out
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.file)
    }
}

#[cfg(test)]
mod tests;
