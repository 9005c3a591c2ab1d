//! The emulator's vendor-neutral state: accounts and keys, vSwitches with
//! their address allocators, instances, ENIs and their secondary IPs.
//!
//! Every dialect (Alibaba ECS today; ENS, Tencent, NAVER, EC2 later) is a thin
//! skin over the operations here, which return a neutral [`WorldError`] that
//! each dialect maps to its own codes. The rules that differ between vendors
//! are data, not code: the reserved addresses of a vSwitch
//! ([`Reserved`]: Alibaba 1 + 3, AWS 4 + 1), the secondary limit of an ENI
//! that is not attached ([`Settings`]), the per-instance-type limit, and
//! `allow_reassign` (NAVER moves an IP from another interface).
//!
//! The allocator never walks the CIDR: it keeps the free addresses as a
//! `BTreeMap` of disjoint intervals, so a /8 with a million addresses taken
//! costs the same O(log n) per operation as an empty /24.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::{Deserialize, Deserializer, Serialize};

use crate::fixtures::{Fixtures, Secret};

// ---------------------------------------------------------------------------
// The world file
// ---------------------------------------------------------------------------

/// A world file (`cases/worlds/*.yaml`): the starting state and the fixtures
/// the emulator target hands to cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldFile {
    #[serde(default)]
    pub settings: Settings,
    pub accounts: Vec<AccountDef>,
    pub regions: Vec<RegionDef>,
    pub vpcs: Vec<VpcDef>,
    pub vswitches: Vec<VSwitchDef>,
    #[serde(default)]
    pub instance_types: Vec<InstanceTypeDef>,
    #[serde(default)]
    pub instances: Vec<InstanceDef>,
    #[serde(default)]
    pub enis: Vec<EniDef>,
    #[serde(default)]
    pub fixtures: Fixtures,
}

/// Vendor rules that are numbers rather than behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Secondary IPs an ENI that is not attached may hold (Alibaba: 10).
    #[serde(default = "default_available_limit")]
    pub available_eni_secondary_limit: u32,
}

fn default_available_limit() -> u32 {
    10
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            available_eni_secondary_limit: default_available_limit(),
        }
    }
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionDef {
    pub id: String,
    pub zones: Vec<String>,
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
pub struct VSwitchDef {
    pub id: String,
    pub vpc: String,
    pub zone: String,
    #[serde(deserialize_with = "de_net")]
    pub cidr: Ipv4Net,
    #[serde(default)]
    pub reserved: Reserved,
}

/// How many addresses at each end of a vSwitch CIDR are never handed out.
/// `first` counts the network address, `last` the broadcast address.
/// Alibaba: first 1, last 3 (`.0` and `.253-.255` of a /24); AWS: 4 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reserved {
    #[serde(default = "one")]
    pub first: u32,
    #[serde(default = "three")]
    pub last: u32,
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}

impl Default for Reserved {
    fn default() -> Self {
        Reserved { first: 1, last: 3 }
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
    pub vswitch: String,
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

fn de_net<'de, D: Deserializer<'de>>(de: D) -> Result<Ipv4Net, D::Error> {
    let text = String::deserialize(de)?;
    text.parse::<Ipv4Net>().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an IPv4 CIDR block (expected e.g. 172.16.0.0/24)"
        ))
    })
}

/// A world file that does not parse: where, what, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum WorldLoadError {
    #[error("failed to read world file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}:{line}:{column}: {message}\n{snippet}help: {hint}")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        message: String,
        snippet: String,
        hint: String,
    },
}

/// Names in [`WorldFile::single_vswitch`] worlds, for benches and tests.
pub const BENCH_ACCOUNT: &str = "acct-bench";
pub const BENCH_REGION: &str = "cn-hangzhou";
pub const BENCH_VSWITCH: &str = "vsw-bench";
pub const BENCH_ACCESS_KEY_ID: &str = "LTAIbenchkey";
pub const BENCH_ACCESS_KEY_SECRET: &str = "bench-secret";

impl WorldFile {
    /// Parses a world file; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<WorldFile, WorldLoadError> {
        serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let message = e.to_string();
            // serde_norway appends " at line L column C"; the prefix says it.
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            WorldLoadError::Parse {
                origin: origin.to_string(),
                line,
                column,
                snippet: snippet(text, line, column),
                hint: hint_for(&message),
                message,
            }
        })
    }

    pub fn load(path: &Path) -> Result<WorldFile, WorldLoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldLoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        WorldFile::from_yaml(&text, &path.display().to_string())
    }

    /// A minimal world for benchmarks and tests: one account (key
    /// `LTAIbenchkey` / `bench-secret`) in cn-hangzhou, one VPC, one vSwitch
    /// `vsw-bench` of `cidr`, and `enis` Available ENIs `eni-bench0`, ...
    /// whose primary IPs are allocated from it.
    pub fn single_vswitch(cidr: Ipv4Net, enis: usize) -> WorldFile {
        let account = BENCH_ACCOUNT.to_string();
        let mut fixtures = Fixtures::default();
        fixtures.values.insert("region".into(), BENCH_REGION.into());
        fixtures
            .values
            .insert("vswitch".into(), BENCH_VSWITCH.into());
        fixtures.credentials.insert(
            "default".into(),
            crate::fixtures::Credentials {
                access_key_id: BENCH_ACCESS_KEY_ID.into(),
                access_key_secret: Secret::new(BENCH_ACCESS_KEY_SECRET),
            },
        );
        WorldFile {
            settings: Settings::default(),
            accounts: vec![AccountDef {
                id: account.clone(),
                access_keys: vec![AccessKeyDef {
                    id: BENCH_ACCESS_KEY_ID.into(),
                    secret: Secret::new(BENCH_ACCESS_KEY_SECRET),
                }],
            }],
            regions: vec![RegionDef {
                id: BENCH_REGION.into(),
                zones: vec!["cn-hangzhou-h".into()],
            }],
            vpcs: vec![VpcDef {
                id: "vpc-bench".into(),
                account: account.clone(),
                region: BENCH_REGION.into(),
                cidr: cidr.trunc(),
            }],
            vswitches: vec![VSwitchDef {
                id: BENCH_VSWITCH.into(),
                vpc: "vpc-bench".into(),
                zone: "cn-hangzhou-h".into(),
                cidr: cidr.trunc(),
                reserved: Reserved::default(),
            }],
            instance_types: vec![],
            instances: vec![],
            enis: (0..enis)
                .map(|i| EniDef {
                    id: format!("eni-bench{i}"),
                    account: account.clone(),
                    region: BENCH_REGION.into(),
                    vswitch: BENCH_VSWITCH.into(),
                    state: EniState::Available,
                    eni_type: EniType::Secondary,
                    instance: None,
                    primary_ip: None,
                    mac: None,
                    secondary_ips: vec![],
                    max_secondaries: None,
                })
                .collect(),
            fixtures,
        }
    }
}

/// The offending line with a caret under the column, rustc style.
fn snippet(text: &str, line: usize, column: usize) -> String {
    let Some(src) = text.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let gutter = line.to_string();
    let pad = " ".repeat(gutter.len());
    format!(
        "{pad} |\n{gutter} | {src}\n{pad} | {}^\n",
        " ".repeat(column.saturating_sub(1))
    )
}

/// What to do about a serde error: the closest known key for an unknown
/// field, the key to add for a missing one.
fn hint_for(message: &str) -> String {
    let between = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    // serde_norway prefixes the path (`vswitches[0]: unknown field ...`).
    let find = |needle: &str| message.find(needle).map(|i| &message[i + needle.len()..]);
    if let Some(rest) = find("unknown field ") {
        let names = between(rest);
        if let Some((unknown, expected)) = names.split_first() {
            if let Some(best) = expected
                .iter()
                .min_by_key(|k| edit_distance(unknown, k))
                .filter(|k| edit_distance(unknown, k) <= 3.max(unknown.len() / 3))
            {
                return format!(
                    "did you mean `{best}`? (known keys: {})",
                    expected.join(", ")
                );
            }
            return format!("remove `{unknown}`; known keys: {}", expected.join(", "));
        }
    }
    if let Some(rest) = find("missing field ") {
        if let Some(name) = between(rest).first() {
            return format!("add the required key `{name}`");
        }
    }
    if message.contains("unknown variant") {
        let names = between(message);
        if names.len() > 1 {
            return format!("use one of: {}", names[1..].join(", "));
        }
    }
    "see the Worlds section of docs/FORMATS.md and cases/worlds/default.yaml".to_string()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------
// The allocator
// ---------------------------------------------------------------------------

/// Free addresses of one vSwitch as disjoint inclusive intervals
/// `start -> end` (addresses as `u32`). Network, broadcast and reserved
/// addresses are never in it, so they can never be handed out.
#[derive(Clone)]
pub struct Allocator {
    free: BTreeMap<u32, u32>,
    free_count: u64,
    first_usable: u32,
    last_usable: u32,
}

impl fmt::Debug for Allocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Allocator")
            .field("free_count", &self.free_count)
            .field("intervals", &self.free.len())
            .finish()
    }
}

impl Allocator {
    /// All usable addresses of `cidr` free.
    pub fn new(cidr: Ipv4Net, reserved: Reserved) -> Allocator {
        let network = u64::from(u32::from(cidr.network()));
        let broadcast = u64::from(u32::from(cidr.broadcast()));
        let first = network + u64::from(reserved.first);
        let last = broadcast.saturating_sub(u64::from(reserved.last));
        let mut free = BTreeMap::new();
        let mut free_count = 0;
        // first/last fit u32 whenever first <= last <= broadcast.
        if first <= last {
            free.insert(first as u32, last as u32);
            free_count = last - first + 1;
        }
        Allocator {
            free,
            free_count,
            first_usable: first.min(u64::from(u32::MAX)) as u32,
            last_usable: last as u32,
        }
    }

    /// Inside the CIDR and not network, broadcast or reserved.
    pub fn is_usable(&self, ip: u32) -> bool {
        self.first_usable <= ip && ip <= self.last_usable && self.first_usable <= self.last_usable
    }

    pub fn is_free(&self, ip: u32) -> bool {
        self.free
            .range(..=ip)
            .next_back()
            .is_some_and(|(_, &end)| ip <= end)
    }

    pub fn free_count(&self) -> u64 {
        self.free_count
    }

    /// Number of free intervals (fragmentation; for tests and benches).
    pub fn intervals(&self) -> usize {
        self.free.len()
    }

    /// Takes one given address; false when it is not free.
    pub fn take(&mut self, ip: u32) -> bool {
        let Some((&start, &end)) = self.free.range(..=ip).next_back() else {
            return false;
        };
        if ip > end {
            return false;
        }
        self.free.remove(&start);
        if start < ip {
            self.free.insert(start, ip - 1);
        }
        if ip < end {
            self.free.insert(ip + 1, end);
        }
        self.free_count -= 1;
        true
    }

    /// Takes the lowest free address.
    pub fn take_lowest(&mut self) -> Option<u32> {
        let (&start, _) = self.free.first_key_value()?;
        self.take(start);
        Some(start)
    }

    /// Takes the `n` lowest free addresses, or nothing when fewer are free.
    pub fn take_lowest_n(&mut self, n: u64) -> Option<Vec<u32>> {
        if n > self.free_count {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        self.carve_lowest(n, |start, end| out.extend(start..=end));
        Some(out)
    }

    /// Removes the `n` lowest free addresses (or all, when fewer are free),
    /// calling `taken(start, end)` per removed run; cost per run, not per address.
    fn carve_lowest(&mut self, mut n: u64, mut taken: impl FnMut(u32, u32)) -> u64 {
        let mut done = 0;
        while n > 0 {
            let Some((start, end)) = self.free.pop_first() else {
                break;
            };
            let len = u64::from(end - start) + 1;
            if len <= n {
                taken(start, end);
                n -= len;
                done += len;
            } else {
                let cut = start + (n as u32) - 1;
                taken(start, cut);
                self.free.insert(cut + 1, end);
                done += n;
                n = 0;
            }
        }
        self.free_count -= done;
        done
    }

    /// Gives an address back, merging with its neighbours; false when it
    /// was free already or is not usable.
    pub fn release(&mut self, ip: u32) -> bool {
        if !self.is_usable(ip) || self.is_free(ip) {
            return false;
        }
        let mut start = ip;
        let mut end = ip;
        if ip > 0 {
            if let Some((&s, &e)) = self.free.range(..ip).next_back() {
                if e == ip - 1 {
                    self.free.remove(&s);
                    start = s;
                }
            }
        }
        if ip < u32::MAX {
            if let Some(e) = self.free.remove(&(ip + 1)) {
                end = e;
            }
        }
        self.free.insert(start, end);
        self.free_count += 1;
        true
    }
}

// ---------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------

/// A vSwitch at run time.
#[derive(Debug, Clone)]
pub struct VSwitch {
    pub id: String,
    pub vpc: String,
    pub zone: String,
    pub region: String,
    pub account: String,
    pub cidr: Ipv4Net,
    pub reserved: Reserved,
    alloc: Allocator,
    /// Which ENI holds an address. Addresses taken by [`World::take_addresses`]
    /// have no entry: they stand for things the emulator does not model.
    owners: HashMap<u32, String>,
}

impl VSwitch {
    pub fn allocator(&self) -> &Allocator {
        &self.alloc
    }

    /// The ENI holding `ip`, if an ENI does.
    pub fn owner(&self, ip: Ipv4Addr) -> Option<&str> {
        self.owners.get(&u32::from(ip)).map(String::as_str)
    }

    pub fn is_free(&self, ip: Ipv4Addr) -> bool {
        self.alloc.is_free(u32::from(ip))
    }
}

/// An instance at run time.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub account: String,
    pub region: String,
    pub zone: String,
    pub instance_type: String,
    pub state: InstanceState,
}

/// An ENI at run time. Its fields are read-only outside the world: every
/// change goes through a [`World`] operation that keeps the allocator in step.
#[derive(Debug, Clone)]
pub struct Eni {
    pub id: String,
    pub account: String,
    pub region: String,
    pub vswitch: String,
    pub vpc: String,
    pub zone: String,
    pub state: EniState,
    pub eni_type: EniType,
    pub instance: Option<String>,
    pub primary_ip: Ipv4Addr,
    pub mac: String,
    pub max_secondaries: Option<u32>,
    /// Assignment order -> address; the describe order of the vendors.
    secondaries: BTreeMap<u64, Ipv4Addr>,
    seq_of: HashMap<Ipv4Addr, u64>,
}

impl Eni {
    /// Secondary IPs in the order they were assigned.
    pub fn secondaries(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.secondaries.values().copied()
    }

    pub fn secondary_count(&self) -> usize {
        self.secondaries.len()
    }

    pub fn holds(&self, ip: Ipv4Addr) -> bool {
        self.primary_ip == ip || self.seq_of.contains_key(&ip)
    }

    fn push_secondary(&mut self, seq: u64, ip: Ipv4Addr) {
        self.secondaries.insert(seq, ip);
        self.seq_of.insert(ip, seq);
    }

    fn remove_secondary(&mut self, ip: Ipv4Addr) -> bool {
        match self.seq_of.remove(&ip) {
            Some(seq) => self.secondaries.remove(&seq).is_some(),
            None => false,
        }
    }
}

/// What an assign asks for: explicit addresses, a count to allocate, or both.
#[derive(Debug, Clone, Default)]
pub struct AssignRequest {
    pub explicit: Vec<Ipv4Addr>,
    pub count: u32,
    /// Take an explicit address from another ENI of the same vSwitch
    /// instead of failing (NAVER `allowReassign`).
    pub allow_reassign: bool,
}

/// Describe filters; an empty filter matches every ENI of the account and region.
#[derive(Debug, Clone, Default)]
pub struct EniFilter {
    pub ids: Vec<String>,
    pub vswitch: Option<String>,
    pub vpc: Option<String>,
    pub instance: Option<String>,
    pub state: Option<String>,
    pub eni_type: Option<String>,
    pub primary_ip: Option<Ipv4Addr>,
    /// Matches an ENI holding any of these (primary or secondary).
    pub private_ips: Vec<Ipv4Addr>,
}

/// Why a neutral operation failed; each dialect maps these to its codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    #[error("ENI `{id}` not found")]
    EniNotFound { id: String },
    #[error("vSwitch `{id}` not found")]
    VSwitchNotFound { id: String },
    #[error("ENI is {actual}; the operation needs {expected}")]
    EniState {
        expected: &'static str,
        actual: EniState,
    },
    #[error("instance `{instance}` is {actual}; the operation needs {expected}")]
    InstanceState {
        instance: String,
        expected: &'static str,
        actual: InstanceState,
    },
    #[error("{ip} is outside the vSwitch CIDR {cidr}")]
    IpOutsideCidr { ip: Ipv4Addr, cidr: Ipv4Net },
    #[error("{ip} is a network, broadcast or reserved address of {cidr}")]
    IpReserved { ip: Ipv4Addr, cidr: Ipv4Net },
    #[error("{ip} is already assigned")]
    IpAlreadyAssigned {
        ip: Ipv4Addr,
        holder: Option<String>,
    },
    #[error("{requested} more secondary IPs on top of {current} exceed the limit of {limit}")]
    QuotaExceeded {
        limit: u32,
        current: u32,
        requested: u64,
    },
    #[error("vSwitch `{vswitch}` has {free} free addresses, {requested} requested")]
    VSwitchExhausted {
        vswitch: String,
        free: u64,
        requested: u64,
    },
    #[error("{ip} is not a secondary IP of this ENI")]
    IpNotOnEni { ip: Ipv4Addr },
    #[error("{ip} is the primary IP of this ENI")]
    PrimaryIp { ip: Ipv4Addr },
    #[error("{ip} appears twice in the request")]
    DuplicateIp { ip: Ipv4Addr },
}

/// A world file that is not consistent: which object, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid world: {object}: {problem}")]
pub struct WorldBuildError {
    pub object: String,
    pub problem: String,
}

fn invalid(object: impl fmt::Display, problem: impl Into<String>) -> WorldBuildError {
    WorldBuildError {
        object: object.to_string(),
        problem: problem.into(),
    }
}

/// An access key as the verifier needs it.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub account: String,
    pub secret: Secret,
}

/// The running state. One `std::sync::Mutex<World>` in the emulator
/// serializes every operation, which is what makes assign all-or-nothing
/// and keeps an address from being handed to two ENIs.
#[derive(Clone)]
pub struct World {
    settings: Settings,
    keys: HashMap<String, AccessKey>,
    vswitches: BTreeMap<String, VSwitch>,
    instance_types: HashMap<String, u32>,
    instances: BTreeMap<String, Instance>,
    enis: BTreeMap<String, Eni>,
    next_seq: u64,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("vswitches", &self.vswitches.len())
            .field("instances", &self.instances.len())
            .field("enis", &self.enis.len())
            .finish()
    }
}

const ENI_STATES_OK: &str = "Available,InUse";
const INSTANCE_STATES_OK: &str = "Running,Stopped";

impl World {
    /// Checks the file for consistency and builds the running state.
    pub fn build(file: &WorldFile) -> Result<World, WorldBuildError> {
        fn unique<'a>(
            kind: &str,
            ids: impl Iterator<Item = &'a str>,
        ) -> Result<HashSet<&'a str>, WorldBuildError> {
            let mut seen = HashSet::new();
            for id in ids {
                if !seen.insert(id) {
                    return Err(invalid(
                        format!("{kind} `{id}`"),
                        "defined twice; give each one its own id",
                    ));
                }
            }
            Ok(seen)
        }
        let accounts = unique("account", file.accounts.iter().map(|a| a.id.as_str()))?;
        let mut keys = HashMap::new();
        for account in &file.accounts {
            for key in &account.access_keys {
                let prev = keys.insert(
                    key.id.clone(),
                    AccessKey {
                        account: account.id.clone(),
                        secret: key.secret.clone(),
                    },
                );
                if prev.is_some() {
                    return Err(invalid(
                        format!("access key `{}`", key.id),
                        "defined twice; an access key belongs to exactly one account",
                    ));
                }
            }
        }
        unique("region", file.regions.iter().map(|r| r.id.as_str()))?;
        let zones: HashMap<&str, &str> = file
            .regions
            .iter()
            .flat_map(|r| r.zones.iter().map(move |z| (z.as_str(), r.id.as_str())))
            .collect();
        let known = |kind: &str, id: &str, set: &HashSet<&str>| {
            if set.contains(id) {
                Ok(())
            } else {
                let mut list: Vec<_> = set.iter().copied().collect();
                list.sort_unstable();
                Err(format!(
                    "{kind} `{id}` is not defined (defined: {})",
                    list.join(", ")
                ))
            }
        };
        let region_ids: HashSet<&str> = file.regions.iter().map(|r| r.id.as_str()).collect();

        unique("vpc", file.vpcs.iter().map(|v| v.id.as_str()))?;
        let mut vpcs = HashMap::new();
        for vpc in &file.vpcs {
            let obj = format!("vpc `{}`", vpc.id);
            known("account", &vpc.account, &accounts).map_err(|p| invalid(&obj, p))?;
            known("region", &vpc.region, &region_ids).map_err(|p| invalid(&obj, p))?;
            vpcs.insert(vpc.id.as_str(), vpc);
        }

        unique("vswitch", file.vswitches.iter().map(|v| v.id.as_str()))?;
        let mut vswitches = BTreeMap::new();
        for vs in &file.vswitches {
            let obj = format!("vswitch `{}`", vs.id);
            let vpc = vpcs.get(vs.vpc.as_str()).ok_or_else(|| {
                invalid(&obj, format!("vpc `{}` is not defined under vpcs", vs.vpc))
            })?;
            match zones.get(vs.zone.as_str()) {
                Some(region) if *region == vpc.region => {}
                _ => {
                    return Err(invalid(
                        &obj,
                        format!(
                            "zone `{}` is not a zone of region `{}`; list it under regions",
                            vs.zone, vpc.region
                        ),
                    ))
                }
            }
            if vs.cidr != vs.cidr.trunc() {
                return Err(invalid(
                    &obj,
                    format!(
                        "cidr {} has host bits set; write {}",
                        vs.cidr,
                        vs.cidr.trunc()
                    ),
                ));
            }
            if !vpc.cidr.contains(&vs.cidr) {
                return Err(invalid(
                    &obj,
                    format!("cidr {} is not inside the vpc's {}", vs.cidr, vpc.cidr),
                ));
            }
            if vs.reserved.first < 1 || vs.reserved.last < 1 {
                return Err(invalid(
                    &obj,
                    "reserved.first and reserved.last count the network and broadcast \
                     addresses, so each must be at least 1",
                ));
            }
            if let Some(other) = vswitches.values().find(|o: &&VSwitch| {
                o.vpc == vs.vpc && (o.cidr.contains(&vs.cidr) || vs.cidr.contains(&o.cidr))
            }) {
                return Err(invalid(
                    &obj,
                    format!(
                        "cidr {} overlaps vswitch `{}` ({})",
                        vs.cidr, other.id, other.cidr
                    ),
                ));
            }
            vswitches.insert(
                vs.id.clone(),
                VSwitch {
                    id: vs.id.clone(),
                    vpc: vs.vpc.clone(),
                    zone: vs.zone.clone(),
                    region: vpc.region.clone(),
                    account: vpc.account.clone(),
                    cidr: vs.cidr,
                    reserved: vs.reserved,
                    alloc: Allocator::new(vs.cidr, vs.reserved),
                    owners: HashMap::new(),
                },
            );
        }

        unique(
            "instance type",
            file.instance_types.iter().map(|t| t.name.as_str()),
        )?;
        let mut instance_types = HashMap::new();
        for t in &file.instance_types {
            if t.private_ips_per_eni < 1 {
                return Err(invalid(
                    format!("instance type `{}`", t.name),
                    "private_ips_per_eni counts the primary IP, so it is at least 1",
                ));
            }
            instance_types.insert(t.name.clone(), t.private_ips_per_eni);
        }

        unique("instance", file.instances.iter().map(|i| i.id.as_str()))?;
        let mut instances = BTreeMap::new();
        for i in &file.instances {
            let obj = format!("instance `{}`", i.id);
            known("account", &i.account, &accounts).map_err(|p| invalid(&obj, p))?;
            if zones.get(i.zone.as_str()) != Some(&i.region.as_str()) {
                return Err(invalid(
                    &obj,
                    format!("zone `{}` is not a zone of region `{}`", i.zone, i.region),
                ));
            }
            if !instance_types.contains_key(&i.instance_type) {
                return Err(invalid(
                    &obj,
                    format!(
                        "type `{}` is not defined under instance_types",
                        i.instance_type
                    ),
                ));
            }
            instances.insert(
                i.id.clone(),
                Instance {
                    id: i.id.clone(),
                    account: i.account.clone(),
                    region: i.region.clone(),
                    zone: i.zone.clone(),
                    instance_type: i.instance_type.clone(),
                    state: i.state,
                },
            );
        }

        unique("eni", file.enis.iter().map(|e| e.id.as_str()))?;
        let mut world = World {
            settings: file.settings.clone(),
            keys,
            vswitches,
            instance_types,
            instances,
            enis: BTreeMap::new(),
            next_seq: 0,
        };
        let mut primaries: HashMap<&str, &str> = HashMap::new();
        // First pass: structure and explicit addresses; primaries to
        // allocate wait until every explicit address is taken, so an
        // allocated primary can never collide with a written one.
        let mut pending_primary = Vec::new();
        for (index, def) in file.enis.iter().enumerate() {
            let obj = format!("eni `{}`", def.id);
            known("account", &def.account, &accounts).map_err(|p| invalid(&obj, p))?;
            let vs = world.vswitches.get(&def.vswitch).ok_or_else(|| {
                invalid(
                    &obj,
                    format!("vswitch `{}` is not defined under vswitches", def.vswitch),
                )
            })?;
            if vs.account != def.account {
                return Err(invalid(
                    &obj,
                    format!(
                        "belongs to account `{}` but its vswitch `{}` to `{}`",
                        def.account, vs.id, vs.account
                    ),
                ));
            }
            if vs.region != def.region {
                return Err(invalid(
                    &obj,
                    format!(
                        "region `{}` differs from its vswitch's `{}`",
                        def.region, vs.region
                    ),
                ));
            }
            let attached = matches!(
                def.state,
                EniState::InUse | EniState::Attaching | EniState::Detaching
            );
            match (&def.instance, attached) {
                (None, true) => {
                    return Err(invalid(
                        &obj,
                        format!("state {} needs an `instance`", def.state),
                    ))
                }
                (Some(_), false) if def.state == EniState::Available => {
                    return Err(invalid(
                        &obj,
                        "an Available ENI is not attached; drop `instance` or use state InUse",
                    ))
                }
                _ => {}
            }
            if let Some(inst_id) = &def.instance {
                let inst = world.instances.get(inst_id).ok_or_else(|| {
                    invalid(
                        &obj,
                        format!("instance `{inst_id}` is not defined under instances"),
                    )
                })?;
                if inst.account != def.account || inst.zone != vs.zone {
                    return Err(invalid(
                        &obj,
                        format!(
                            "instance `{inst_id}` must be in the same account and zone ({}) as the ENI's vswitch",
                            vs.zone
                        ),
                    ));
                }
            }
            if def.eni_type == EniType::Primary {
                let Some(inst_id) = &def.instance else {
                    return Err(invalid(&obj, "a Primary ENI needs its `instance`"));
                };
                if let Some(prev) = primaries.insert(inst_id, &def.id) {
                    return Err(invalid(
                        &obj,
                        format!("instance `{inst_id}` already has primary ENI `{prev}`"),
                    ));
                }
            }
            let vpc = vs.vpc.clone();
            let zone = vs.zone.clone();
            let explicit = def.primary_ip.iter().chain(def.secondary_ips.iter());
            for &ip in explicit {
                world
                    .take_for_build(&def.vswitch, &def.id, ip)
                    .map_err(|p| invalid(&obj, p))?;
            }
            let mut eni = Eni {
                id: def.id.clone(),
                account: def.account.clone(),
                region: def.region.clone(),
                vswitch: def.vswitch.clone(),
                vpc,
                zone,
                state: def.state,
                eni_type: def.eni_type,
                instance: def.instance.clone(),
                primary_ip: def.primary_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                mac: def.mac.clone().unwrap_or_else(|| {
                    let n = index as u32 + 1;
                    format!(
                        "00:16:3e:{:02x}:{:02x}:{:02x}",
                        (n >> 16) & 0xff,
                        (n >> 8) & 0xff,
                        n & 0xff
                    )
                }),
                max_secondaries: def.max_secondaries,
                secondaries: BTreeMap::new(),
                seq_of: HashMap::new(),
            };
            for &ip in &def.secondary_ips {
                let seq = world.next_seq;
                world.next_seq += 1;
                eni.push_secondary(seq, ip);
            }
            if def.primary_ip.is_none() {
                pending_primary.push(def.id.clone());
            }
            world.enis.insert(def.id.clone(), eni);
        }
        for id in pending_primary {
            let vswitch = world.enis[&id].vswitch.clone();
            let vs = world.vswitches.get_mut(&vswitch).expect("checked above");
            let ip = vs.alloc.take_lowest().ok_or_else(|| {
                invalid(
                    format!("eni `{id}`"),
                    format!("vswitch `{vswitch}` has no free address left for its primary IP; give it a primary_ip"),
                )
            })?;
            vs.owners.insert(ip, id.clone());
            world.enis.get_mut(&id).expect("inserted above").primary_ip = Ipv4Addr::from(ip);
        }
        for eni in world.enis.values() {
            let limit = world.secondary_limit(eni);
            if eni.secondary_count() as u64 > u64::from(limit) {
                return Err(invalid(
                    format!("eni `{}`", eni.id),
                    format!(
                        "holds {} secondary IPs but its limit is {limit}; remove some or raise max_secondaries",
                        eni.secondary_count()
                    ),
                ));
            }
        }
        Ok(world)
    }

    fn take_for_build(&mut self, vswitch: &str, eni: &str, ip: Ipv4Addr) -> Result<(), String> {
        let vs = self
            .vswitches
            .get_mut(vswitch)
            .expect("checked by the caller");
        let n = u32::from(ip);
        if !vs.cidr.contains(&ip) {
            return Err(format!("{ip} is outside its vswitch's CIDR {}", vs.cidr));
        }
        if !vs.alloc.is_usable(n) {
            return Err(format!(
                "{ip} is a network, broadcast or reserved address of {}",
                vs.cidr
            ));
        }
        if !vs.alloc.take(n) {
            let holder = vs.owners.get(&n).cloned().unwrap_or_default();
            return Err(format!(
                "{ip} is already held by eni `{holder}`; every address belongs to one ENI"
            ));
        }
        vs.owners.insert(n, eni.to_string());
        Ok(())
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn access_key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.get(id)
    }

    pub fn vswitch(&self, id: &str) -> Option<&VSwitch> {
        self.vswitches.get(id)
    }

    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.get(id)
    }

    /// An ENI as the given account sees it in the given region: another
    /// account's ENI, or one in another region, does not exist.
    pub fn eni(&self, account: &str, region: &str, id: &str) -> Result<&Eni, WorldError> {
        self.enis
            .get(id)
            .filter(|e| e.account == account && e.region == region)
            .ok_or_else(|| WorldError::EniNotFound { id: id.to_string() })
    }

    /// How many secondaries the ENI may hold now: its override, else the
    /// instance type's private IPs minus the primary when attached, else the
    /// world's limit for an unattached ENI.
    pub fn secondary_limit(&self, eni: &Eni) -> u32 {
        if let Some(limit) = eni.max_secondaries {
            return limit;
        }
        let per_type = eni
            .instance
            .as_ref()
            .filter(|_| eni.state != EniState::Available)
            .and_then(|i| self.instances.get(i))
            .and_then(|i| self.instance_types.get(&i.instance_type));
        match per_type {
            Some(per_eni) => per_eni.saturating_sub(1),
            None => self.settings.available_eni_secondary_limit,
        }
    }

    /// The state checks shared by assign and unassign.
    fn check_states(&self, eni: &Eni) -> Result<(), WorldError> {
        if !matches!(eni.state, EniState::Available | EniState::InUse) {
            return Err(WorldError::EniState {
                expected: ENI_STATES_OK,
                actual: eni.state,
            });
        }
        if eni.eni_type == EniType::Primary {
            if let Some(inst) = eni.instance.as_ref().and_then(|i| self.instances.get(i)) {
                if !matches!(inst.state, InstanceState::Running | InstanceState::Stopped) {
                    return Err(WorldError::InstanceState {
                        instance: inst.id.clone(),
                        expected: INSTANCE_STATES_OK,
                        actual: inst.state,
                    });
                }
            }
        }
        Ok(())
    }

    /// Assigns secondary IPs, all or nothing. Checks run in this order:
    /// ENI exists, ENI and instance state, each explicit address inside the
    /// CIDR and usable, no address twice, each explicit address free (or
    /// movable), the ENI's limit, enough free addresses for `count`.
    /// Returns the new addresses: explicit ones in request order, then the
    /// allocated ones lowest first.
    pub fn assign(
        &mut self,
        account: &str,
        region: &str,
        eni_id: &str,
        req: &AssignRequest,
    ) -> Result<Vec<Ipv4Addr>, WorldError> {
        let eni = self.eni(account, region, eni_id)?;
        self.check_states(eni)?;
        let vs = &self.vswitches[&eni.vswitch];
        for &ip in &req.explicit {
            if !vs.cidr.contains(&ip) {
                return Err(WorldError::IpOutsideCidr { ip, cidr: vs.cidr });
            }
            if !vs.alloc.is_usable(u32::from(ip)) {
                return Err(WorldError::IpReserved { ip, cidr: vs.cidr });
            }
        }
        let mut seen = HashSet::with_capacity(req.explicit.len());
        for &ip in &req.explicit {
            if !seen.insert(ip) {
                return Err(WorldError::DuplicateIp { ip });
            }
        }
        let mut moves: Vec<(Ipv4Addr, String)> = Vec::new();
        for &ip in &req.explicit {
            if vs.alloc.is_free(u32::from(ip)) {
                continue;
            }
            let holder = vs.owners.get(&u32::from(ip));
            let movable = req.allow_reassign
                && holder.is_some_and(|h| {
                    h != eni_id && self.enis.get(h).is_some_and(|o| o.primary_ip != ip)
                });
            match holder {
                Some(h) if movable => moves.push((ip, h.clone())),
                _ => {
                    return Err(WorldError::IpAlreadyAssigned {
                        ip,
                        holder: holder.cloned(),
                    })
                }
            }
        }
        let limit = self.secondary_limit(eni);
        let current = eni.secondary_count() as u32;
        let requested = req.explicit.len() as u64 + u64::from(req.count);
        if u64::from(current) + requested > u64::from(limit) {
            return Err(WorldError::QuotaExceeded {
                limit,
                current,
                requested,
            });
        }
        if vs.alloc.free_count() < u64::from(req.count) {
            return Err(WorldError::VSwitchExhausted {
                vswitch: vs.id.clone(),
                free: vs.alloc.free_count(),
                requested: u64::from(req.count),
            });
        }

        // Every check passed: apply. Nothing below can fail.
        let vswitch = eni.vswitch.clone();
        for (ip, holder) in &moves {
            if let Some(other) = self.enis.get_mut(holder) {
                other.remove_secondary(*ip);
            }
        }
        let vs = self
            .vswitches
            .get_mut(&vswitch)
            .expect("ENI's vswitch exists");
        let mut added = Vec::with_capacity(requested as usize);
        for &ip in &req.explicit {
            // Moved addresses are taken already; free ones are taken now.
            vs.alloc.take(u32::from(ip));
            added.push(ip);
        }
        let auto = vs
            .alloc
            .take_lowest_n(u64::from(req.count))
            .expect("free count checked above");
        added.extend(auto.into_iter().map(Ipv4Addr::from));
        for &ip in &added {
            vs.owners.insert(u32::from(ip), eni_id.to_string());
        }
        let eni = self.enis.get_mut(eni_id).expect("looked up above");
        for &ip in &added {
            eni.push_secondary(self.next_seq, ip);
            self.next_seq += 1;
        }
        Ok(added)
    }

    /// Unassigns secondary IPs, all or nothing. Checks: ENI exists, states,
    /// each address inside the CIDR, no address twice, none is the primary,
    /// each is a secondary of this ENI.
    pub fn unassign(
        &mut self,
        account: &str,
        region: &str,
        eni_id: &str,
        ips: &[Ipv4Addr],
    ) -> Result<(), WorldError> {
        let eni = self.eni(account, region, eni_id)?;
        self.check_states(eni)?;
        let vs = &self.vswitches[&eni.vswitch];
        for &ip in ips {
            if !vs.cidr.contains(&ip) {
                return Err(WorldError::IpOutsideCidr { ip, cidr: vs.cidr });
            }
        }
        let mut seen = HashSet::with_capacity(ips.len());
        for &ip in ips {
            if !seen.insert(ip) {
                return Err(WorldError::DuplicateIp { ip });
            }
        }
        for &ip in ips {
            if ip == eni.primary_ip {
                return Err(WorldError::PrimaryIp { ip });
            }
            if !eni.seq_of.contains_key(&ip) {
                return Err(WorldError::IpNotOnEni { ip });
            }
        }
        let vswitch = eni.vswitch.clone();
        let eni = self.enis.get_mut(eni_id).expect("looked up above");
        let vs = self
            .vswitches
            .get_mut(&vswitch)
            .expect("ENI's vswitch exists");
        for &ip in ips {
            eni.remove_secondary(ip);
            vs.owners.remove(&u32::from(ip));
            vs.alloc.release(u32::from(ip));
        }
        Ok(())
    }

    /// The account's ENIs in the region that match `filter`, by id.
    pub fn describe(&self, account: &str, region: &str, filter: &EniFilter) -> Vec<&Eni> {
        let ids: BTreeSet<&str> = filter.ids.iter().map(String::as_str).collect();
        let matches = |e: &&Eni| {
            e.account == account
                && e.region == region
                && (ids.is_empty() || ids.contains(e.id.as_str()))
                && filter.vswitch.as_ref().is_none_or(|v| *v == e.vswitch)
                && filter.vpc.as_ref().is_none_or(|v| *v == e.vpc)
                && filter
                    .instance
                    .as_ref()
                    .is_none_or(|i| e.instance.as_ref() == Some(i))
                && filter
                    .state
                    .as_ref()
                    .is_none_or(|s| *s == e.state.to_string())
                && filter
                    .eni_type
                    .as_ref()
                    .is_none_or(|t| *t == e.eni_type.to_string())
                && filter.primary_ip.is_none_or(|ip| ip == e.primary_ip)
                && (filter.private_ips.is_empty()
                    || filter.private_ips.iter().any(|ip| e.holds(*ip)))
        };
        if ids.is_empty() {
            self.enis.values().filter(matches).collect()
        } else {
            ids.iter()
                .filter_map(|id| self.enis.get(*id))
                .filter(matches)
                .collect()
        }
    }

    // -- helpers for tests and benchmarks ---------------------------------

    /// Marks the `n` lowest free addresses of a vSwitch taken, as if used by
    /// things the emulator does not model. Cost grows with the number of
    /// free intervals touched, not with `n`. Returns how many were taken
    /// (fewer than `n` when the vSwitch runs out).
    pub fn take_addresses(&mut self, vswitch: &str, n: u64) -> Result<u64, WorldError> {
        let vs = self
            .vswitches
            .get_mut(vswitch)
            .ok_or_else(|| WorldError::VSwitchNotFound {
                id: vswitch.to_string(),
            })?;
        Ok(vs.alloc.carve_lowest(n, |_, _| {}))
    }

    /// Gives an ENI `n` more secondaries (the lowest free addresses), raising
    /// its limit as needed: the "ENI holding 1,000 secondaries" of the benches.
    pub fn fill_eni(&mut self, eni_id: &str, n: u32) -> Result<Vec<Ipv4Addr>, WorldError> {
        let eni = self
            .enis
            .get(eni_id)
            .ok_or_else(|| WorldError::EniNotFound {
                id: eni_id.to_string(),
            })?;
        let (account, region) = (eni.account.clone(), eni.region.clone());
        let needed = (eni.secondary_count() as u32).saturating_add(n);
        if self.secondary_limit(eni) < needed {
            self.set_eni_secondary_limit(eni_id, Some(needed))?;
        }
        self.assign(
            &account,
            &region,
            eni_id,
            &AssignRequest {
                count: n,
                ..Default::default()
            },
        )
    }

    /// Overrides (or with `None` restores) an ENI's secondary limit.
    pub fn set_eni_secondary_limit(
        &mut self,
        eni: &str,
        limit: Option<u32>,
    ) -> Result<(), WorldError> {
        let eni = self
            .enis
            .get_mut(eni)
            .ok_or_else(|| WorldError::EniNotFound {
                id: eni.to_string(),
            })?;
        eni.max_secondaries = limit;
        Ok(())
    }

    /// Sets an ENI's state (tests of state checks).
    pub fn set_eni_state(&mut self, eni: &str, state: EniState) -> Result<(), WorldError> {
        let eni = self
            .enis
            .get_mut(eni)
            .ok_or_else(|| WorldError::EniNotFound {
                id: eni.to_string(),
            })?;
        eni.state = state;
        Ok(())
    }

    /// All ENIs, by id, regardless of account (tests and invariants).
    pub fn all_enis(&self) -> impl Iterator<Item = &Eni> {
        self.enis.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn small_world() -> World {
        World::build(&WorldFile::single_vswitch(net("192.168.1.0/24"), 3)).unwrap()
    }

    const A: &str = "acct-bench";
    const R: &str = "cn-hangzhou";

    fn count(n: u32) -> AssignRequest {
        AssignRequest {
            count: n,
            ..Default::default()
        }
    }

    fn explicit(ips: &[&str]) -> AssignRequest {
        AssignRequest {
            explicit: ips.iter().map(|s| ip(s)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn allocator_hands_out_lowest_and_never_reserved() {
        let mut a = Allocator::new(net("192.168.1.0/24"), Reserved::default());
        assert_eq!(a.free_count(), 252);
        assert!(!a.is_usable(u32::from(ip("192.168.1.0"))));
        assert!(!a.is_usable(u32::from(ip("192.168.1.253"))));
        assert!(a.is_usable(u32::from(ip("192.168.1.252"))));
        assert_eq!(a.take_lowest(), Some(u32::from(ip("192.168.1.1"))));
        let all = a.take_lowest_n(251).unwrap();
        assert_eq!(*all.last().unwrap(), u32::from(ip("192.168.1.252")));
        assert_eq!(a.take_lowest(), None);
        assert!(
            !a.release(u32::from(ip("192.168.1.255"))),
            "broadcast is never free"
        );
        assert!(
            !a.release(u32::from(ip("192.168.1.254"))),
            "reserved is never free"
        );
        assert_eq!(a.free_count(), 0);
    }

    #[test]
    fn allocator_splits_and_merges() {
        let mut a = Allocator::new(net("10.0.0.0/24"), Reserved::default());
        let x = u32::from(ip("10.0.0.10"));
        assert!(a.take(x));
        assert!(!a.take(x));
        assert_eq!(a.intervals(), 2);
        assert!(a.take(x + 1));
        assert!(a.take(x - 1));
        assert_eq!(a.intervals(), 2);
        assert!(a.release(x));
        assert_eq!(a.intervals(), 3);
        assert!(a.release(x - 1));
        assert!(a.release(x + 1));
        assert_eq!(
            a.intervals(),
            1,
            "releasing the gap merges back to one interval"
        );
        assert_eq!(a.free_count(), 252);
        assert!(!a.release(x), "double release is refused");
        assert_eq!(a.free_count(), 252);
    }

    #[test]
    fn slash8_with_a_million_taken_stays_logarithmic() {
        let mut world = World::build(&WorldFile::single_vswitch(net("10.0.0.0/8"), 1)).unwrap();
        let start = std::time::Instant::now();
        assert_eq!(
            world.take_addresses("vsw-bench", 1_000_000).unwrap(),
            1_000_000
        );
        // Scatter another 100k so the free set is fragmented too.
        let vs = world.vswitches.get_mut("vsw-bench").unwrap();
        let base = u32::from(ip("10.100.0.0"));
        for i in 0..100_000u32 {
            assert!(vs.alloc.take(base + 2 * i));
        }
        assert!(vs.alloc.intervals() > 100_000);
        let got = world.assign(A, R, "eni-bench0", &count(10)).unwrap();
        // eni-bench0's primary is 10.0.0.1; 1e6 after it are taken.
        assert_eq!(
            got[0],
            Ipv4Addr::from(u32::from(ip("10.0.0.2")) + 1_000_000)
        );
        world.unassign(A, R, "eni-bench0", &got).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn explicit_and_count_assign_then_unassign() {
        let mut w = small_world();
        // eni-bench0..2 hold .1 .2 .3 as primaries.
        let got = w
            .assign(A, R, "eni-bench0", &explicit(&["192.168.1.50"]))
            .unwrap();
        assert_eq!(got, vec![ip("192.168.1.50")]);
        let got = w.assign(A, R, "eni-bench0", &count(2)).unwrap();
        assert_eq!(got, vec![ip("192.168.1.4"), ip("192.168.1.5")]);
        let eni = w.eni(A, R, "eni-bench0").unwrap();
        let order: Vec<_> = eni.secondaries().collect();
        assert_eq!(
            order,
            vec![ip("192.168.1.50"), ip("192.168.1.4"), ip("192.168.1.5")]
        );
        w.unassign(A, R, "eni-bench0", &[ip("192.168.1.4")])
            .unwrap();
        assert_eq!(
            w.assign(A, R, "eni-bench1", &count(1)).unwrap(),
            vec![ip("192.168.1.4")]
        );
    }

    #[test]
    fn quota_is_all_or_nothing() {
        let mut w = small_world();
        w.assign(A, R, "eni-bench0", &count(8)).unwrap();
        let err = w.assign(A, R, "eni-bench0", &count(3)).unwrap_err();
        assert_eq!(
            err,
            WorldError::QuotaExceeded {
                limit: 10,
                current: 8,
                requested: 3
            }
        );
        assert_eq!(w.eni(A, R, "eni-bench0").unwrap().secondary_count(), 8);
        assert_eq!(
            w.vswitch("vsw-bench").unwrap().allocator().free_count(),
            252 - 3 - 8
        );
        let err = w.assign(A, R, "eni-bench0", &count(u32::MAX)).unwrap_err();
        assert!(matches!(err, WorldError::QuotaExceeded { .. }));
    }

    #[test]
    fn explicit_address_checks() {
        let mut w = small_world();
        assert!(matches!(
            w.assign(A, R, "eni-bench0", &explicit(&["10.0.0.1"])),
            Err(WorldError::IpOutsideCidr { .. })
        ));
        for reserved in ["192.168.1.0", "192.168.1.253", "192.168.1.255"] {
            assert!(matches!(
                w.assign(A, R, "eni-bench0", &explicit(&[reserved])),
                Err(WorldError::IpReserved { .. })
            ));
        }
        assert_eq!(
            w.assign(
                A,
                R,
                "eni-bench0",
                &explicit(&["192.168.1.9", "192.168.1.9"])
            ),
            Err(WorldError::DuplicateIp {
                ip: ip("192.168.1.9")
            })
        );
        // Another ENI's primary.
        assert_eq!(
            w.assign(
                A,
                R,
                "eni-bench0",
                &explicit(&["192.168.1.9", "192.168.1.2"])
            ),
            Err(WorldError::IpAlreadyAssigned {
                ip: ip("192.168.1.2"),
                holder: Some("eni-bench1".into())
            })
        );
        assert!(
            w.vswitch("vsw-bench").unwrap().is_free(ip("192.168.1.9")),
            "nothing assigned"
        );
    }

    #[test]
    fn unassign_refuses_primary_and_foreign_and_is_all_or_nothing() {
        let mut w = small_world();
        w.assign(
            A,
            R,
            "eni-bench0",
            &explicit(&["192.168.1.20", "192.168.1.21"]),
        )
        .unwrap();
        w.assign(A, R, "eni-bench1", &explicit(&["192.168.1.30"]))
            .unwrap();
        assert_eq!(
            w.unassign(A, R, "eni-bench0", &[ip("192.168.1.20"), ip("192.168.1.1")]),
            Err(WorldError::PrimaryIp {
                ip: ip("192.168.1.1")
            })
        );
        assert_eq!(
            w.unassign(
                A,
                R,
                "eni-bench0",
                &[ip("192.168.1.20"), ip("192.168.1.30")]
            ),
            Err(WorldError::IpNotOnEni {
                ip: ip("192.168.1.30")
            })
        );
        assert!(matches!(
            w.unassign(A, R, "eni-bench0", &[ip("172.16.0.1")]),
            Err(WorldError::IpOutsideCidr { .. })
        ));
        assert_eq!(w.eni(A, R, "eni-bench0").unwrap().secondary_count(), 2);
        assert!(!w.vswitch("vsw-bench").unwrap().is_free(ip("192.168.1.20")));
    }

    #[test]
    fn state_and_account_checks() {
        let mut w = small_world();
        assert!(matches!(
            w.assign("someone-else", R, "eni-bench0", &count(1)),
            Err(WorldError::EniNotFound { .. })
        ));
        assert!(matches!(
            w.assign(A, "cn-beijing", "eni-bench0", &count(1)),
            Err(WorldError::EniNotFound { .. })
        ));
        w.set_eni_state("eni-bench0", EniState::Attaching).unwrap();
        assert_eq!(
            w.assign(A, R, "eni-bench0", &count(1)),
            Err(WorldError::EniState {
                expected: "Available,InUse",
                actual: EniState::Attaching
            })
        );
    }

    #[test]
    fn allow_reassign_moves_a_secondary_but_never_a_primary() {
        let mut w = small_world();
        w.assign(A, R, "eni-bench1", &explicit(&["192.168.1.40"]))
            .unwrap();
        let mut req = explicit(&["192.168.1.40"]);
        assert!(w.assign(A, R, "eni-bench0", &req).is_err());
        req.allow_reassign = true;
        w.assign(A, R, "eni-bench0", &req).unwrap();
        assert!(!w.eni(A, R, "eni-bench1").unwrap().holds(ip("192.168.1.40")));
        assert_eq!(
            w.vswitch("vsw-bench").unwrap().owner(ip("192.168.1.40")),
            Some("eni-bench0")
        );
        let mut primary = explicit(&["192.168.1.3"]);
        primary.allow_reassign = true;
        assert!(matches!(
            w.assign(A, R, "eni-bench0", &primary),
            Err(WorldError::IpAlreadyAssigned { .. })
        ));
    }

    #[test]
    fn fill_eni_holds_a_thousand_and_unassign_stays_ordered() {
        let mut w = World::build(&WorldFile::single_vswitch(net("10.0.0.0/8"), 1)).unwrap();
        w.take_addresses(BENCH_VSWITCH, 1_000_000).unwrap();
        let got = w.fill_eni("eni-bench0", 1000).unwrap();
        assert_eq!(got.len(), 1000);
        let eni = w.eni(BENCH_ACCOUNT, BENCH_REGION, "eni-bench0").unwrap();
        assert_eq!(eni.secondary_count(), 1000);
        w.unassign(BENCH_ACCOUNT, BENCH_REGION, "eni-bench0", &got[500..501])
            .unwrap();
        let order: Vec<_> = w.eni(A, R, "eni-bench0").unwrap().secondaries().collect();
        assert_eq!(order.len(), 999);
        assert_eq!(order[500], got[501]);
    }

    #[test]
    fn vswitch_exhaustion_assigns_nothing() {
        let mut w = World::build(&WorldFile::single_vswitch(net("10.1.0.0/29"), 2)).unwrap();
        // /29: .1-.4 usable; primaries hold .1 .2.
        assert_eq!(
            w.assign(A, R, "eni-bench0", &count(3)),
            Err(WorldError::VSwitchExhausted {
                vswitch: "vsw-bench".into(),
                free: 2,
                requested: 3
            })
        );
        assert_eq!(w.vswitch("vsw-bench").unwrap().allocator().free_count(), 2);
    }

    #[test]
    fn inuse_limit_comes_from_the_instance_type() {
        let text = r#"
accounts: [{id: a, access_keys: [{id: k, secret: s}]}]
regions: [{id: r, zones: [z]}]
vpcs: [{id: v, account: a, region: r, cidr: 10.0.0.0/16}]
vswitches: [{id: s, vpc: v, zone: z, cidr: 10.0.0.0/24}]
instance_types: [{name: t, private_ips_per_eni: 6}]
instances: [{id: i, account: a, region: r, zone: z, type: t, state: Stopping}]
enis:
  - {id: p, account: a, region: r, vswitch: s, state: InUse, type: Primary, instance: i}
  - {id: e, account: a, region: r, vswitch: s, state: InUse, instance: i}
"#;
        let mut w = World::build(&WorldFile::from_yaml(text, "t.yaml").unwrap()).unwrap();
        assert_eq!(w.secondary_limit(w.eni("a", "r", "e").unwrap()), 5);
        assert!(matches!(
            w.assign("a", "r", "e", &count(6)),
            Err(WorldError::QuotaExceeded { limit: 5, .. })
        ));
        assert_eq!(w.assign("a", "r", "e", &count(5)).unwrap().len(), 5);
        assert!(matches!(
            w.assign("a", "r", "p", &count(1)),
            Err(WorldError::InstanceState {
                actual: InstanceState::Stopping,
                ..
            })
        ));
    }

    #[test]
    fn build_rejects_inconsistent_worlds() {
        let base = |enis: &str| {
            format!(
                "accounts: [{{id: a}}]\nregions: [{{id: r, zones: [z]}}]\n\
                 vpcs: [{{id: v, account: a, region: r, cidr: 10.0.0.0/16}}]\n\
                 vswitches: [{{id: s, vpc: v, zone: z, cidr: 10.0.0.0/24}}]\nenis:\n{enis}"
            )
        };
        let cases = [
            ("  - {id: e, account: a, region: r, vswitch: nope, state: Available}", "vswitch `nope`"),
            ("  - {id: e, account: a, region: r, vswitch: s, state: Available, primary_ip: 10.1.0.5}", "outside"),
            ("  - {id: e, account: a, region: r, vswitch: s, state: Available, primary_ip: 10.0.0.254}", "reserved"),
            (
                "  - {id: e, account: a, region: r, vswitch: s, state: Available, primary_ip: 10.0.0.5}\n  - {id: f, account: a, region: r, vswitch: s, state: Available, secondary_ips: [10.0.0.5]}",
                "already held by eni `e`",
            ),
            ("  - {id: e, account: a, region: r, vswitch: s, state: InUse}", "needs an `instance`"),
            ("  - {id: e, account: a, region: r, vswitch: s, state: Available, instance: i}", "Available ENI"),
            (
                "  - {id: e, account: a, region: r, vswitch: s, state: Available, secondary_ips: [10.0.0.10, 10.0.0.11], max_secondaries: 1}",
                "limit is 1",
            ),
        ];
        for (enis, needle) in cases {
            let file = WorldFile::from_yaml(&base(enis), "t.yaml").unwrap();
            let err = World::build(&file).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }

    #[test]
    fn load_errors_name_line_column_and_suggest() {
        let text = "accounts: []\nregions: []\nvpcs: []\nvswitches:\n  - {id: s, vpx: v, zone: z, cidr: 10.0.0.0/24}\n";
        let err = WorldFile::from_yaml(text, "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.yaml:5:"), "{err}");
        assert!(err.contains("did you mean `vpc`"), "{err}");
        assert!(err.contains("  - {id: s, vpx"), "{err}");
        assert!(err.contains('^'), "{err}");
        let err = WorldFile::from_yaml(
            "accounts: []\nregions: []\nvpcs: []\nvswitches: []\nenis: [{id: e}]\n",
            "w.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("add the required key"), "{err}");
    }

    #[test]
    fn concurrent_assigns_never_share_an_address() {
        let mut w = World::build(&WorldFile::single_vswitch(net("10.2.0.0/22"), 8)).unwrap();
        for i in 0..8 {
            w.set_eni_secondary_limit(&format!("eni-bench{i}"), Some(1000))
                .unwrap();
        }
        let world = Arc::new(Mutex::new(w));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let world = Arc::clone(&world);
                std::thread::spawn(move || {
                    let eni = format!("eni-bench{t}");
                    let mut mine = Vec::new();
                    for _ in 0..100 {
                        let got = world.lock().unwrap().assign(A, R, &eni, &count(1)).unwrap();
                        mine.extend(got.into_iter().map(|ip| (ip, eni.clone())));
                    }
                    mine
                })
            })
            .collect();
        let mut owner = HashMap::new();
        for t in threads {
            for (ip, eni) in t.join().unwrap() {
                if let Some(prev) = owner.insert(ip, eni.clone()) {
                    panic!("{ip} handed to {prev} and {eni}");
                }
            }
        }
        assert_eq!(owner.len(), 800);
        let w = world.lock().unwrap();
        for (ip, eni) in &owner {
            assert_eq!(
                w.vswitch("vsw-bench").unwrap().owner(*ip),
                Some(eni.as_str())
            );
        }
    }
}
