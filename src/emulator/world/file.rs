//! The world file (`cases/worlds/*.yaml`): the emulator's starting state,
//! vendor-neutral, and the fixtures each dialect's cases see.
//!
//! Everything that differs between vendors is data here, per object:
//! reserved addresses and the default secondary limit per subnet, the
//! limit per instance type (primary counted) or per interface, the
//! operations a region does not offer, and the dialect whose API sees a
//! region. Strict like every input file: an unknown key is an error with
//! `file:line:col` and a suggestion.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::{Deserialize, Deserializer, Serialize};

use crate::diag::Diagnostic;
use crate::dialect::DialectId;
use crate::fixtures::{DialectFixtures, Fixtures, Secret};

/// A world file (`cases/worlds/*.yaml`): the starting state and the fixtures
/// the emulator target hands to cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldFile {
    pub accounts: Vec<AccountDef>,
    pub regions: Vec<RegionDef>,
    pub vpcs: Vec<VpcDef>,
    pub subnets: Vec<SubnetDef>,
    #[serde(default)]
    pub instance_types: Vec<InstanceTypeDef>,
    #[serde(default)]
    pub instances: Vec<InstanceDef>,
    #[serde(default)]
    pub enis: Vec<EniDef>,
    /// The fixtures each dialect's cases see, by dialect.
    #[serde(default)]
    pub fixtures: DialectFixtures,
    /// Faults the emulator starts with (see [`crate::emulator::faults`]).
    #[serde(default)]
    pub faults: Vec<crate::emulator::faults::FaultSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDef {
    pub id: String,
    #[serde(default)]
    pub access_keys: Vec<AccessKeyDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyDef {
    pub id: String,
    pub secret: Secret,
    /// A disabled (or expired) key is refused after its signature checks.
    #[serde(default)]
    pub disabled: bool,
    /// The operations this key may call (a RAM user's policy); every
    /// operation when absent.
    #[serde(default)]
    pub allowed_operations: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionDef {
    pub id: String,
    /// The dialect whose API sees this region's resources: an ECS ENI does
    /// not exist for the ENS API, though one account owns both.
    pub service: DialectId,
    pub zones: Vec<String>,
    /// Operations this region does not offer (refused before any lookup).
    #[serde(default)]
    pub unavailable_operations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcDef {
    pub id: String,
    pub account: String,
    pub region: String,
    #[serde(deserialize_with = "de_net")]
    pub cidr: Ipv4Net,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetDef {
    pub id: String,
    pub vpc: String,
    pub zone: String,
    #[serde(deserialize_with = "de_net")]
    pub cidr: Ipv4Net,
    #[serde(default)]
    pub reserved: Reserved,
    /// Secondary IPs an ENI of this subnet may hold when no instance type
    /// sets its limit (an Alibaba ENI that is not attached: 10).
    #[serde(default = "default_secondary_limit")]
    pub secondary_limit: u32,
    /// How long a change to an ENI of this subnet runs as a task on the
    /// emulator's clock (`2s`); none by default: changes are synchronous.
    #[serde(default, deserialize_with = "de_duration")]
    pub change_delay: std::time::Duration,
}

fn default_secondary_limit() -> u32 {
    10
}

/// How many addresses at each end of a subnet's CIDR are never handed out.
/// `first` counts the network address, `last` the broadcast address.
/// Alibaba: first 1, last 3 (`.0` and `.253-.255` of a /24); AWS: 4 and 1.
/// The default reserves only the network and broadcast addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reserved {
    #[serde(default = "one")]
    pub first: u32,
    #[serde(default = "one")]
    pub last: u32,
}

fn one() -> u32 {
    1
}

impl Reserved {
    /// Alibaba VPC: the first address and the last three of every vSwitch.
    pub const ALIBABA: Reserved = Reserved { first: 1, last: 3 };
}

impl Default for Reserved {
    fn default() -> Self {
        Reserved { first: 1, last: 1 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceTypeDef {
    pub name: String,
    /// Private IPs per ENI, the primary counted (ecs.g6.large: 6).
    pub private_ips_per_eni: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceDef {
    pub id: String,
    pub account: String,
    pub region: String,
    pub zone: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub state: InstanceState,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EniDef {
    pub id: String,
    pub account: String,
    pub region: String,
    pub subnet: String,
    pub state: EniState,
    #[serde(rename = "type", default)]
    pub eni_type: EniType,
    #[serde(default)]
    pub instance: Option<String>,
    /// Allocated (lowest free) when absent.
    #[serde(default)]
    pub primary_ip: Option<Ipv4Addr>,
    /// Derived from the ENI's position when absent (Alibaba OUI 00:16:3e).
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub secondary_ips: Vec<Ipv4Addr>,
    /// Overrides the secondary limit of this ENI (benchmarks, odd vendors).
    #[serde(default)]
    pub max_secondaries: Option<u32>,
    /// Every task that changes this ENI ends failed, changing nothing.
    #[serde(default)]
    pub changes_fail: bool,
    /// Elastic (public) IPs bound to its addresses: private -> public.
    #[serde(default)]
    pub eips: BTreeMap<Ipv4Addr, Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum InstanceState {
    Pending,
    Starting,
    Running,
    Stopping,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum EniState {
    Available,
    Attaching,
    InUse,
    Detaching,
    Deleting,
    Creating,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
pub enum EniType {
    Primary,
    #[default]
    Secondary,
}

macro_rules! display_as_debug {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    )*};
}
display_as_debug!(InstanceState, EniState, EniType);

fn de_duration<'de, D: Deserializer<'de>>(de: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({e}); write e.g. `2s` or `500ms`"
        ))
    })
}

fn de_net<'de, D: Deserializer<'de>>(de: D) -> Result<Ipv4Net, D::Error> {
    let text = String::deserialize(de)?;
    text.parse::<Ipv4Net>().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an IPv4 CIDR block (expected e.g. 172.16.0.0/24)"
        ))
    })
}

/// A world file that does not load: where, what, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum WorldLoadError {
    #[error("failed to read world file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(Box<Diagnostic>),
}

/// Names in [`WorldFile::single_subnet`] worlds, for benches and tests.
pub const BENCH_ACCOUNT: &str = "acct-bench";
pub const BENCH_REGION: &str = "cn-hangzhou";
pub const BENCH_SUBNET: &str = "vsw-bench";
pub const BENCH_ACCESS_KEY_ID: &str = "LTAIbenchkey";
pub const BENCH_ACCESS_KEY_SECRET: &str = "bench-secret";

impl WorldFile {
    /// Parses a world file; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<WorldFile, WorldLoadError> {
        serde_yaml::from_str(text).map_err(|e| {
            let mut d = Diagnostic::from_yaml(origin, text, &e);
            if d.hint.is_none() {
                d = d.with_hint(
                    "see the Worlds section of docs/FORMATS.md and cases/worlds/default.yaml",
                );
            }
            WorldLoadError::Parse(Box::new(d))
        })
    }

    /// The world built into the binary (`cases/worlds/default.yaml`).
    pub fn builtin() -> Result<WorldFile, WorldLoadError> {
        WorldFile::from_yaml(
            crate::spec::embedded::default_world_text(),
            "cases/worlds/default.yaml (built in)",
        )
    }

    /// The fixtures of one dialect (empty when the world gives none).
    pub fn fixtures_of(&self, dialect: DialectId) -> &Fixtures {
        crate::fixtures::of(&self.fixtures, dialect)
    }

    pub fn load(path: &Path) -> Result<WorldFile, WorldLoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldLoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        WorldFile::from_yaml(&text, &path.display().to_string())
    }

    /// A minimal world for benchmarks and tests: one account (key
    /// `LTAIbenchkey` / `bench-secret`) in the ECS region cn-hangzhou, one
    /// VPC, one subnet `vsw-bench` of `cidr` (Alibaba's reserved
    /// addresses), and `enis` Available ENIs `eni-bench0`, ... whose
    /// primary IPs are allocated from it.
    pub fn single_subnet(cidr: Ipv4Net, enis: usize) -> WorldFile {
        let account = BENCH_ACCOUNT.to_string();
        let mut fixtures = Fixtures::default();
        fixtures.values.insert("region".into(), BENCH_REGION.into());
        fixtures
            .values
            .insert("vswitch".into(), BENCH_SUBNET.into());
        fixtures.credentials.insert(
            "default".into(),
            crate::fixtures::Credentials {
                access_key_id: BENCH_ACCESS_KEY_ID.into(),
                access_key_secret: Secret::new(BENCH_ACCESS_KEY_SECRET),
            },
        );
        WorldFile {
            accounts: vec![AccountDef {
                id: account.clone(),
                access_keys: vec![AccessKeyDef {
                    id: BENCH_ACCESS_KEY_ID.into(),
                    secret: Secret::new(BENCH_ACCESS_KEY_SECRET),
                    disabled: false,
                    allowed_operations: None,
                }],
            }],
            regions: vec![RegionDef {
                id: BENCH_REGION.into(),
                service: DialectId::AlibabaEcs,
                zones: vec!["cn-hangzhou-h".into()],
                unavailable_operations: vec![],
            }],
            vpcs: vec![VpcDef {
                id: "vpc-bench".into(),
                account: account.clone(),
                region: BENCH_REGION.into(),
                cidr: cidr.trunc(),
            }],
            subnets: vec![SubnetDef {
                id: BENCH_SUBNET.into(),
                vpc: "vpc-bench".into(),
                zone: "cn-hangzhou-h".into(),
                cidr: cidr.trunc(),
                reserved: Reserved::ALIBABA,
                secondary_limit: default_secondary_limit(),
                change_delay: std::time::Duration::ZERO,
            }],
            instance_types: vec![],
            instances: vec![],
            enis: (0..enis)
                .map(|i| EniDef {
                    id: format!("eni-bench{i}"),
                    account: account.clone(),
                    region: BENCH_REGION.into(),
                    subnet: BENCH_SUBNET.into(),
                    state: EniState::Available,
                    eni_type: EniType::Secondary,
                    instance: None,
                    primary_ip: None,
                    mac: None,
                    secondary_ips: vec![],
                    max_secondaries: None,
                    changes_fail: false,
                    eips: BTreeMap::new(),
                })
                .collect(),
            fixtures: BTreeMap::from([(DialectId::AlibabaEcs, fixtures)]),
            faults: Vec::new(),
        }
    }
}
