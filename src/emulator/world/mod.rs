//! The emulator's vendor-neutral state: accounts and keys, regions, VPCs,
//! subnets with their address allocators, instances, ENIs and their
//! secondary IPs.
//!
//! Every dialect is a thin skin over the operations here, which return a
//! neutral [`WorldError`] that each dialect renders in its own words: no
//! vendor's wording appears in this module. The rules that differ between
//! vendors are data in the world file ([`file`]): reserved addresses and the
//! default secondary limit per subnet, the limit per instance type (primary
//! counted) or per interface, `allow_reassign` per request (NAVER moves an
//! IP from another interface), the subnet to allocate from (ENS names one).
//! A [`Scope`] says whose view a lookup takes: one account, through one
//! dialect's API, so an ECS ENI does not exist for the ENS API.

mod allocator;
pub mod file;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use ipnet::Ipv4Net;

use crate::dialect::DialectId;
use crate::fixtures::Secret;

pub use allocator::Allocator;
pub use file::{
    AccessKeyDef, AccountDef, EniDef, EniState, EniType, InstanceDef, InstanceState,
    InstanceTypeDef, RegionDef, Reserved, SubnetDef, VpcDef, WorldFile, WorldLoadError,
    BENCH_ACCESS_KEY_ID, BENCH_ACCESS_KEY_SECRET, BENCH_ACCOUNT, BENCH_REGION, BENCH_SUBNET,
};

/// A subnet at run time.
#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub vpc: String,
    pub zone: String,
    pub region: String,
    pub account: String,
    pub cidr: Ipv4Net,
    pub reserved: Reserved,
    /// Secondaries an ENI here may hold when no instance type says.
    pub secondary_limit: u32,
    /// How long a change to one of its ENIs runs as a task.
    pub change_delay: TimeDelta,
    alloc: Allocator,
    /// Which ENI holds an address. Addresses taken by [`World::take_addresses`]
    /// have no entry: they stand for things the emulator does not model.
    owners: HashMap<u32, String>,
}

impl Subnet {
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
    pub subnet: String,
    pub vpc: String,
    pub zone: String,
    pub state: EniState,
    pub eni_type: EniType,
    pub instance: Option<String>,
    pub primary_ip: Ipv4Addr,
    pub mac: String,
    pub max_secondaries: Option<u32>,
    /// Its tasks end failed and change nothing.
    pub changes_fail: bool,
    /// Elastic IPs bound to its addresses (private -> public); an
    /// address's is dissociated when it is unassigned.
    pub eips: HashMap<Ipv4Addr, Ipv4Addr>,
    /// The task changing it now, if one runs.
    task: Option<u64>,
    /// Assignment order -> address; the describe order of the vendors.
    secondaries: BTreeMap<u64, Ipv4Addr>,
    /// Address -> (assignment order, the subnet it came from when that is
    /// not the ENI's own: ENS assigns from a named vSwitch).
    seq_of: HashMap<Ipv4Addr, (u64, Option<String>)>,
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

    /// The task changing this ENI now, if one runs.
    pub fn running_task(&self) -> Option<u64> {
        self.task
    }

    /// The subnet a secondary IP was taken from.
    pub fn subnet_of(&self, ip: Ipv4Addr) -> Option<&str> {
        self.seq_of
            .get(&ip)
            .map(|(_, subnet)| subnet.as_deref().unwrap_or(&self.subnet))
    }

    fn push_secondary(&mut self, seq: u64, ip: Ipv4Addr, subnet: &str) {
        self.secondaries.insert(seq, ip);
        let other = (subnet != self.subnet).then(|| subnet.to_string());
        self.seq_of.insert(ip, (seq, other));
    }

    fn remove_secondary(&mut self, ip: Ipv4Addr) -> bool {
        match self.seq_of.remove(&ip) {
            Some((seq, _)) => self.secondaries.remove(&seq).is_some(),
            None => false,
        }
    }
}

/// When a change to an ENI whose subnet has a `change_delay` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// At once; the ENI stays busy (a transitional state) until the task
    /// ends (NAVER's `SET`).
    #[default]
    Immediate,
    /// Only when the task ends (Tencent's asynchronous operations): an
    /// address being assigned is held but not listed, one being unassigned
    /// is listed and still held.
    AfterTask,
}

/// How a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Succeeded,
    Failed,
}

/// A change that takes time: the assignment or release of addresses on one
/// ENI, done when the emulator's clock passes `done_at`.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: u64,
    pub account: String,
    pub eni: String,
    pub done_at: DateTime<Utc>,
    pub status: TaskStatus,
    change: Pending,
}

#[derive(Debug, Clone)]
enum Pending {
    /// Addresses taken (held in their subnet) to be listed when done.
    Assign {
        ips: Vec<(Ipv4Addr, String)>,
        visibility: Visibility,
    },
    /// Addresses to release when done.
    Unassign {
        ips: Vec<Ipv4Addr>,
        visibility: Visibility,
    },
}

/// What an assign asks for: explicit addresses, a count to allocate, or both.
#[derive(Debug, Clone, Default)]
pub struct AssignRequest {
    pub explicit: Vec<Ipv4Addr>,
    pub count: u32,
    /// Take an explicit address from another ENI of the same subnet
    /// instead of failing (NAVER `allowReassign`).
    pub allow_reassign: bool,
    /// Allocate from this subnet of the ENI's VPC rather than the ENI's own
    /// (ENS `VSwitchId`).
    pub subnet: Option<String>,
    /// When the change shows, if the ENI's subnet makes it a task.
    pub visibility: Visibility,
}

/// Whose view a lookup takes: an account, through one dialect's API,
/// in one region or (ENS, which names no region) in all of them.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub account: &'a str,
    pub service: DialectId,
    pub region: Option<&'a str>,
}

/// Describe filters; an empty filter matches every ENI of the account and region.
#[derive(Debug, Clone, Default)]
pub struct EniFilter {
    pub ids: Vec<String>,
    pub subnet: Option<String>,
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
    #[error("subnet `{subnet}` is not in the network `{vpc}` of the ENI")]
    SubnetNotInNetwork { subnet: String, vpc: String },
    #[error("region `{region}` does not offer {operation}")]
    OperationNotOffered { region: String, operation: String },
    #[error("subnet `{id}` not found")]
    SubnetNotFound { id: String },
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
    #[error("{ip} is outside the subnet CIDR {cidr}")]
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
    #[error("subnet `{subnet}` has {free} free addresses, {requested} requested")]
    SubnetExhausted {
        subnet: String,
        free: u64,
        requested: u64,
    },
    #[error("{ip} is not a secondary IP of this ENI")]
    IpNotOnEni { ip: Ipv4Addr },
    #[error("{ip} is the primary IP of this ENI")]
    PrimaryIp { ip: Ipv4Addr },
    #[error("{ip} appears twice in the request")]
    DuplicateIp { ip: Ipv4Addr },
    #[error("ENI `{eni}` is being changed by task {task}")]
    Busy { eni: String, task: u64 },
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
    pub disabled: bool,
    /// The operations a RAM-style policy allows; all when `None`.
    pub allowed_operations: Option<Vec<String>>,
}

impl AccessKey {
    /// Whether this key's policy lets it call `operation`.
    pub fn permits(&self, operation: &str) -> bool {
        self.allowed_operations
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|o| o == operation))
    }
}

/// A region at run time: whose API sees it, what it does not offer.
#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub service: DialectId,
    pub unavailable_operations: Vec<String>,
}

/// The running state. One `std::sync::Mutex<World>` in the emulator
/// serializes every operation, which is what makes assign all-or-nothing
/// and keeps an address from being handed to two ENIs.
#[derive(Clone)]
pub struct World {
    /// Fixed once built: the emulator reads them without the world's lock.
    keys: Arc<HashMap<String, AccessKey>>,
    regions: HashMap<String, Region>,
    /// VPC id -> (account, region).
    vpcs: HashMap<String, (String, String)>,
    subnets: BTreeMap<String, Subnet>,
    instance_types: HashMap<String, u32>,
    instances: BTreeMap<String, Instance>,
    enis: BTreeMap<String, Eni>,
    next_seq: u64,
    /// Tasks by id; `running` counts those not yet settled.
    tasks: BTreeMap<u64, Task>,
    next_task: u64,
    running: usize,
    /// The time of the last [`World::settle`]: when new tasks start.
    now: DateTime<Utc>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("subnets", &self.subnets.len())
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
                        disabled: key.disabled,
                        allowed_operations: key.allowed_operations.clone(),
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

        unique("subnet", file.subnets.iter().map(|v| v.id.as_str()))?;
        let mut subnets = BTreeMap::new();
        for vs in &file.subnets {
            let obj = format!("subnet `{}`", vs.id);
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
            if let Some(other) = subnets.values().find(|o: &&Subnet| {
                o.vpc == vs.vpc && (o.cidr.contains(&vs.cidr) || vs.cidr.contains(&o.cidr))
            }) {
                return Err(invalid(
                    &obj,
                    format!(
                        "cidr {} overlaps subnet `{}` ({})",
                        vs.cidr, other.id, other.cidr
                    ),
                ));
            }
            subnets.insert(
                vs.id.clone(),
                Subnet {
                    id: vs.id.clone(),
                    vpc: vs.vpc.clone(),
                    zone: vs.zone.clone(),
                    region: vpc.region.clone(),
                    account: vpc.account.clone(),
                    cidr: vs.cidr,
                    reserved: vs.reserved,
                    secondary_limit: vs.secondary_limit,
                    change_delay: TimeDelta::from_std(vs.change_delay).map_err(|_| {
                        invalid(&obj, "change_delay is too long; give seconds or minutes")
                    })?,
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
            regions: file
                .regions
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        Region {
                            id: r.id.clone(),
                            service: r.service,
                            unavailable_operations: r.unavailable_operations.clone(),
                        },
                    )
                })
                .collect(),
            keys: Arc::new(keys),
            vpcs: file
                .vpcs
                .iter()
                .map(|v| (v.id.clone(), (v.account.clone(), v.region.clone())))
                .collect(),
            subnets,
            instance_types,
            instances,
            enis: BTreeMap::new(),
            next_seq: 0,
            tasks: BTreeMap::new(),
            next_task: 16_284,
            running: 0,
            now: DateTime::<Utc>::UNIX_EPOCH,
        };
        let mut primaries: HashMap<&str, &str> = HashMap::new();
        // First pass: structure and explicit addresses; primaries to
        // allocate wait until every explicit address is taken, so an
        // allocated primary can never collide with a written one.
        let mut pending_primary = Vec::new();
        for (index, def) in file.enis.iter().enumerate() {
            let obj = format!("eni `{}`", def.id);
            known("account", &def.account, &accounts).map_err(|p| invalid(&obj, p))?;
            let vs = world.subnets.get(&def.subnet).ok_or_else(|| {
                invalid(
                    &obj,
                    format!("subnet `{}` is not defined under subnets", def.subnet),
                )
            })?;
            if vs.account != def.account {
                return Err(invalid(
                    &obj,
                    format!(
                        "belongs to account `{}` but its subnet `{}` to `{}`",
                        def.account, vs.id, vs.account
                    ),
                ));
            }
            if vs.region != def.region {
                return Err(invalid(
                    &obj,
                    format!(
                        "region `{}` differs from its subnet's `{}`",
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
                            "instance `{inst_id}` must be in the same account and zone ({}) as the ENI's subnet",
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
                    .take_for_build(&def.subnet, &def.id, ip)
                    .map_err(|p| invalid(&obj, p))?;
            }
            let mut eni = Eni {
                id: def.id.clone(),
                account: def.account.clone(),
                region: def.region.clone(),
                subnet: def.subnet.clone(),
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
                changes_fail: def.changes_fail,
                eips: def.eips.iter().map(|(k, v)| (*k, *v)).collect(),
                task: None,
                secondaries: BTreeMap::new(),
                seq_of: HashMap::new(),
            };
            for &ip in &def.secondary_ips {
                let seq = world.next_seq;
                world.next_seq += 1;
                eni.push_secondary(seq, ip, &def.subnet);
            }
            if def.primary_ip.is_none() {
                pending_primary.push(def.id.clone());
            }
            world.enis.insert(def.id.clone(), eni);
        }
        for id in pending_primary {
            let subnet = world.enis[&id].subnet.clone();
            let vs = world.subnets.get_mut(&subnet).expect("checked above");
            let ip = vs.alloc.take_lowest().ok_or_else(|| {
                invalid(
                    format!("eni `{id}`"),
                    format!("subnet `{subnet}` has no free address left for its primary IP; give it a primary_ip"),
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

    fn take_for_build(&mut self, subnet: &str, eni: &str, ip: Ipv4Addr) -> Result<(), String> {
        let vs = self.subnets.get_mut(subnet).expect("checked by the caller");
        let n = u32::from(ip);
        if !vs.cidr.contains(&ip) {
            return Err(format!("{ip} is outside its subnet's CIDR {}", vs.cidr));
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

    pub fn access_key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.get(id)
    }

    /// Every access key; they never change once the world is built, so
    /// the emulator keeps this and verifies signatures without the lock.
    pub fn access_keys(&self) -> Arc<HashMap<String, AccessKey>> {
        Arc::clone(&self.keys)
    }

    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.get(id)
    }

    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.get(id)
    }

    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.get(id)
    }

    /// Whether `eni` is visible in `scope`: the account's, in a region of
    /// the scope's service (and the scope's region, when it names one).
    fn sees(&self, scope: &Scope<'_>, eni: &Eni) -> bool {
        eni.account == scope.account
            && scope.region.is_none_or(|r| r == eni.region)
            && self
                .regions
                .get(&eni.region)
                .is_some_and(|r| r.service == scope.service)
    }

    /// An ENI as the scope sees it: another account's ENI, one in another
    /// region, or one behind another service's API does not exist.
    pub fn eni(&self, scope: &Scope<'_>, id: &str) -> Result<&Eni, WorldError> {
        self.enis
            .get(id)
            .filter(|e| self.sees(scope, e))
            .ok_or_else(|| WorldError::EniNotFound { id: id.to_string() })
    }

    /// Whether the scope sees a VPC (network) of this id: the account's, in
    /// a region of the scope's service (and the scope's region, if named).
    pub fn sees_vpc(&self, scope: &Scope<'_>, id: &str) -> bool {
        self.vpcs.get(id).is_some_and(|(account, region)| {
            account == scope.account
                && scope.region.is_none_or(|r| r == region)
                && self
                    .regions
                    .get(region)
                    .is_some_and(|r| r.service == scope.service)
        })
    }

    /// Refuses an operation the scope's region does not offer.
    pub fn check_offered(&self, scope: &Scope<'_>, operation: &str) -> Result<(), WorldError> {
        let Some(region) = scope.region.and_then(|r| self.regions.get(r)) else {
            return Ok(());
        };
        if region.unavailable_operations.iter().any(|o| o == operation) {
            return Err(WorldError::OperationNotOffered {
                region: region.id.clone(),
                operation: operation.to_string(),
            });
        }
        Ok(())
    }

    /// How many secondaries the ENI may hold now: its override, else the
    /// instance type's private IPs minus the primary when attached, else its
    /// subnet's limit.
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
            None => self
                .subnets
                .get(&eni.subnet)
                .map_or(0, |subnet| subnet.secondary_limit),
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
    /// ENI exists, ENI and instance state, the named subnet (exists, in the
    /// ENI's network), each explicit address inside the CIDR and usable, no
    /// address twice, each explicit address free (or movable), the ENI's
    /// limit, enough free addresses for `count`. Returns the new addresses:
    /// explicit ones in request order, then the allocated ones lowest first.
    pub fn assign(
        &mut self,
        scope: &Scope<'_>,
        eni_id: &str,
        req: &AssignRequest,
    ) -> Result<Vec<Ipv4Addr>, WorldError> {
        let eni = self.eni(scope, eni_id)?;
        self.check_states(eni)?;
        self.check_idle(eni)?;
        let subnet_id = match &req.subnet {
            None => eni.subnet.clone(),
            Some(id) => {
                let subnet = self
                    .subnets
                    .get(id)
                    .filter(|s| s.account == eni.account && s.region == eni.region)
                    .ok_or_else(|| WorldError::SubnetNotFound { id: id.clone() })?;
                if subnet.vpc != eni.vpc {
                    return Err(WorldError::SubnetNotInNetwork {
                        subnet: id.clone(),
                        vpc: eni.vpc.clone(),
                    });
                }
                id.clone()
            }
        };
        let subnet = &self.subnets[&subnet_id];
        for &ip in &req.explicit {
            if !subnet.cidr.contains(&ip) {
                return Err(WorldError::IpOutsideCidr {
                    ip,
                    cidr: subnet.cidr,
                });
            }
            if !subnet.alloc.is_usable(u32::from(ip)) {
                return Err(WorldError::IpReserved {
                    ip,
                    cidr: subnet.cidr,
                });
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
            if subnet.alloc.is_free(u32::from(ip)) {
                continue;
            }
            let holder = subnet.owners.get(&u32::from(ip));
            // Only a secondary its holder lists and is not changing moves:
            // an address a task holds (being assigned, or released by a
            // task that may still fail) would come back to its holder when
            // the task ends, and then be on two interfaces or free while listed.
            let movable = req.allow_reassign
                && holder.is_some_and(|h| {
                    h != eni_id
                        && self.enis.get(h).is_some_and(|o| {
                            o.primary_ip != ip && o.seq_of.contains_key(&ip) && o.task.is_none()
                        })
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
        // The explicit addresses that are free now come out of the same
        // free count as the allocated ones: both must fit, or the
        // allocation below would run dry after the explicit ones are taken.
        let needed = (req.explicit.len() - moves.len()) as u64 + u64::from(req.count);
        if subnet.alloc.free_count() < needed {
            return Err(WorldError::SubnetExhausted {
                subnet: subnet.id.clone(),
                free: subnet.alloc.free_count(),
                requested: needed,
            });
        }

        // Every check passed: apply. Nothing below can fail.
        let delay = self.subnets[&eni.subnet].change_delay;
        for (ip, holder) in &moves {
            if let Some(other) = self.enis.get_mut(holder) {
                other.remove_secondary(*ip);
            }
        }
        let subnet = self.subnets.get_mut(&subnet_id).expect("looked up above");
        let mut added = Vec::with_capacity(requested as usize);
        for &ip in &req.explicit {
            // Moved addresses are taken already; free ones are taken now.
            subnet.alloc.take(u32::from(ip));
            added.push(ip);
        }
        let auto = subnet
            .alloc
            .take_lowest_n(u64::from(req.count))
            .expect("free count checked above");
        added.extend(auto.into_iter().map(Ipv4Addr::from));
        for &ip in &added {
            subnet.owners.insert(u32::from(ip), eni_id.to_string());
        }
        let deferred = delay > TimeDelta::zero() && req.visibility == Visibility::AfterTask;
        if !deferred {
            let eni = self.enis.get_mut(eni_id).expect("looked up above");
            for &ip in &added {
                eni.push_secondary(self.next_seq, ip, &subnet_id);
                self.next_seq += 1;
            }
        }
        if delay > TimeDelta::zero() {
            let ips = added.iter().map(|ip| (*ip, subnet_id.clone())).collect();
            self.start_task(
                scope.account,
                eni_id,
                delay,
                Pending::Assign {
                    ips,
                    visibility: req.visibility,
                },
            );
        }
        Ok(added)
    }

    /// Unassigns secondary IPs, all or nothing. Checks: ENI exists, states,
    /// each address inside the ENI's subnet (or held from another of its
    /// network), no address twice, none is the primary, each is a secondary
    /// of this ENI.
    pub fn unassign(
        &mut self,
        scope: &Scope<'_>,
        eni_id: &str,
        ips: &[Ipv4Addr],
        visibility: Visibility,
    ) -> Result<(), WorldError> {
        self.unassign_checked(scope, eni_id, ips, visibility, true)
    }

    /// Like [`World::unassign`], without the ENI and instance state checks:
    /// ENS documents no state code for its Unassign (seed 002), so an
    /// Attaching ENI or one of a Stopping instance is judged on its
    /// addresses alone.
    pub fn unassign_in_any_state(
        &mut self,
        scope: &Scope<'_>,
        eni_id: &str,
        ips: &[Ipv4Addr],
        visibility: Visibility,
    ) -> Result<(), WorldError> {
        self.unassign_checked(scope, eni_id, ips, visibility, false)
    }

    fn unassign_checked(
        &mut self,
        scope: &Scope<'_>,
        eni_id: &str,
        ips: &[Ipv4Addr],
        visibility: Visibility,
        check_states: bool,
    ) -> Result<(), WorldError> {
        let eni = self.eni(scope, eni_id)?;
        if check_states {
            self.check_states(eni)?;
        }
        self.check_idle(eni)?;
        let subnet = &self.subnets[&eni.subnet];
        for &ip in ips {
            if !subnet.cidr.contains(&ip) && eni.subnet_of(ip).is_none() {
                return Err(WorldError::IpOutsideCidr {
                    ip,
                    cidr: subnet.cidr,
                });
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
        let delay = self.subnets[&eni.subnet].change_delay;
        if delay > TimeDelta::zero() {
            if visibility == Visibility::Immediate {
                self.release(eni_id, ips);
            }
            self.start_task(
                scope.account,
                eni_id,
                delay,
                Pending::Unassign {
                    ips: ips.to_vec(),
                    visibility,
                },
            );
        } else {
            self.release(eni_id, ips);
        }
        Ok(())
    }

    /// Takes `ips` off the ENI and frees them in their subnets; their
    /// elastic IPs are dissociated.
    fn release(&mut self, eni_id: &str, ips: &[Ipv4Addr]) {
        let Some(eni) = self.enis.get_mut(eni_id) else {
            return;
        };
        for &ip in ips {
            let subnet_id = eni.subnet_of(ip).unwrap_or(&eni.subnet).to_string();
            eni.remove_secondary(ip);
            eni.eips.remove(&ip);
            if let Some(subnet) = self.subnets.get_mut(&subnet_id) {
                subnet.owners.remove(&u32::from(ip));
                subnet.alloc.release(u32::from(ip));
            }
        }
    }

    /// Refuses a change to an ENI while a task changes it.
    fn check_idle(&self, eni: &Eni) -> Result<(), WorldError> {
        match eni.task {
            Some(task) => Err(WorldError::Busy {
                eni: eni.id.clone(),
                task,
            }),
            None => Ok(()),
        }
    }

    fn start_task(&mut self, account: &str, eni_id: &str, delay: TimeDelta, change: Pending) {
        let id = self.next_task;
        self.next_task += 1;
        let fails = self.enis.get(eni_id).is_some_and(|e| e.changes_fail);
        if let Some(eni) = self.enis.get_mut(eni_id) {
            eni.task = Some(id);
        }
        self.tasks.insert(
            id,
            Task {
                id,
                account: account.to_string(),
                eni: eni_id.to_string(),
                done_at: self.now + delay,
                // Decided at the start, applied at the end.
                status: if fails {
                    TaskStatus::Failed
                } else {
                    TaskStatus::Running
                },
                change,
            },
        );
        self.running += 1;
    }

    /// Moves the world to `now`: every task due by then ends, and its
    /// change shows (or, for a failing task, is undone). The emulator
    /// calls it before each operation with its clock.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        self.now = now;
        if self.running == 0 {
            return;
        }
        let due: Vec<u64> = self
            .tasks
            .values()
            .filter(|t| {
                t.done_at <= now && self.enis.get(&t.eni).is_some_and(|e| e.task == Some(t.id))
            })
            .map(|t| t.id)
            .collect();
        for id in due {
            self.finish(id);
        }
    }

    fn finish(&mut self, id: u64) {
        let Some(task) = self.tasks.get(&id).cloned() else {
            return;
        };
        let failed = task.status == TaskStatus::Failed;
        match (&task.change, failed) {
            (Pending::Assign { ips, visibility }, false) => {
                if *visibility == Visibility::AfterTask {
                    if let Some(eni) = self.enis.get_mut(&task.eni) {
                        for (ip, subnet) in ips {
                            eni.push_secondary(self.next_seq, *ip, subnet);
                            self.next_seq += 1;
                        }
                    }
                }
            }
            (Pending::Assign { ips, visibility }, true) => {
                if *visibility == Visibility::Immediate {
                    let listed: Vec<Ipv4Addr> = ips.iter().map(|(ip, _)| *ip).collect();
                    self.release(&task.eni, &listed);
                } else {
                    // Held but never listed: only the subnets know them.
                    for (ip, subnet) in ips {
                        if let Some(subnet) = self.subnets.get_mut(subnet) {
                            subnet.owners.remove(&u32::from(*ip));
                            subnet.alloc.release(u32::from(*ip));
                        }
                    }
                }
            }
            (Pending::Unassign { ips, visibility }, false) => {
                if *visibility == Visibility::AfterTask {
                    self.release(&task.eni, ips);
                }
            }
            (Pending::Unassign { .. }, true) => {
                // An immediate release that failed is not undone: the
                // vendors that release at once (NAVER) report no failure.
            }
        }
        if let Some(eni) = self.enis.get_mut(&task.eni) {
            eni.task = None;
        }
        if let Some(t) = self.tasks.get_mut(&id) {
            if !failed {
                t.status = TaskStatus::Succeeded;
            }
        }
        self.running -= 1;
    }

    /// How a task of the account stands; `None` when it has no such task.
    pub fn task(&self, account: &str, id: u64) -> Option<TaskStatus> {
        let task = self.tasks.get(&id).filter(|t| t.account == account)?;
        let running = self.enis.get(&task.eni).is_some_and(|e| e.task == Some(id));
        Some(if running {
            TaskStatus::Running
        } else {
            task.status
        })
    }

    /// The ENIs the scope sees that match `filter`, by id.
    pub fn describe(&self, scope: &Scope<'_>, filter: &EniFilter) -> Vec<&Eni> {
        let ids: BTreeSet<&str> = filter.ids.iter().map(String::as_str).collect();
        let matches = |e: &&Eni| {
            self.sees(scope, e)
                && (ids.is_empty() || ids.contains(e.id.as_str()))
                && filter.subnet.as_ref().is_none_or(|v| *v == e.subnet)
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

    /// Marks the `n` lowest free addresses of a subnet taken, as if used by
    /// things the emulator does not model. Cost grows with the number of
    /// free intervals touched, not with `n`. Returns how many were taken
    /// (fewer than `n` when the subnet runs out).
    pub fn take_addresses(&mut self, subnet: &str, n: u64) -> Result<u64, WorldError> {
        let vs = self
            .subnets
            .get_mut(subnet)
            .ok_or_else(|| WorldError::SubnetNotFound {
                id: subnet.to_string(),
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
        let service = self.regions[&region].service;
        let needed = (eni.secondary_count() as u32).saturating_add(n);
        if self.secondary_limit(eni) < needed {
            self.set_eni_secondary_limit(eni_id, Some(needed))?;
        }
        let scope = Scope {
            account: &account,
            service,
            region: Some(&region),
        };
        self.assign(
            &scope,
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

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn small_world() -> World {
        World::build(&WorldFile::single_subnet(net("192.168.1.0/24"), 3)).unwrap()
    }

    const A: &str = "acct-bench";
    const R: &str = "cn-hangzhou";
    const S: Scope<'static> = Scope {
        account: A,
        service: DialectId::AlibabaEcs,
        region: Some(R),
    };

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
        let mut a = Allocator::new(net("192.168.1.0/24"), Reserved::ALIBABA);
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
        let mut a = Allocator::new(net("10.0.0.0/24"), Reserved::ALIBABA);
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

    /// What keeps a crowded /8 cheap, pinned as structure rather than
    /// time (timings belong in `ipconform bench`): a million addresses
    /// taken in a run stay one interval, scattered ones cost one interval
    /// each, and the lowest free address is found past them exactly.
    #[test]
    fn slash8_with_a_million_taken_keeps_free_runs_as_intervals() {
        let mut world = World::build(&WorldFile::single_subnet(net("10.0.0.0/8"), 1)).unwrap();
        let usable = (1u64 << 24) - 4;
        assert_eq!(
            world.take_addresses("vsw-bench", 1_000_000).unwrap(),
            1_000_000
        );
        let vs = &world.subnets["vsw-bench"];
        assert_eq!(vs.alloc.intervals(), 1, "a run taken from the bottom");
        assert_eq!(vs.alloc.free_count(), usable - 1 - 1_000_000);
        // Scatter another 100k so the free set is fragmented too.
        let vs = world.subnets.get_mut("vsw-bench").unwrap();
        let base = u32::from(ip("10.100.0.0"));
        for i in 0..100_000u32 {
            assert!(vs.alloc.take(base + 2 * i));
        }
        assert_eq!(
            vs.alloc.intervals(),
            100_001,
            "one per scattered address, plus one"
        );
        let got = world.assign(&S, "eni-bench0", &count(10)).unwrap();
        // eni-bench0's primary is 10.0.0.1; 1e6 after it are taken.
        let first = u32::from(ip("10.0.0.2")) + 1_000_000;
        assert_eq!(
            got,
            (first..first + 10).map(Ipv4Addr::from).collect::<Vec<_>>()
        );
        let free = usable - 1 - 1_000_000 - 100_000;
        assert_eq!(world.subnets["vsw-bench"].alloc.free_count(), free - 10);
        world
            .unassign(&S, "eni-bench0", &got, Visibility::Immediate)
            .unwrap();
        let vs = &world.subnets["vsw-bench"];
        assert_eq!(vs.alloc.free_count(), free);
        assert_eq!(
            vs.alloc.intervals(),
            100_001,
            "released addresses merge back"
        );
    }

    #[test]
    fn explicit_and_count_assign_then_unassign() {
        let mut w = small_world();
        // eni-bench0..2 hold .1 .2 .3 as primaries.
        let got = w
            .assign(&S, "eni-bench0", &explicit(&["192.168.1.50"]))
            .unwrap();
        assert_eq!(got, vec![ip("192.168.1.50")]);
        let got = w.assign(&S, "eni-bench0", &count(2)).unwrap();
        assert_eq!(got, vec![ip("192.168.1.4"), ip("192.168.1.5")]);
        let eni = w.eni(&S, "eni-bench0").unwrap();
        let order: Vec<_> = eni.secondaries().collect();
        assert_eq!(
            order,
            vec![ip("192.168.1.50"), ip("192.168.1.4"), ip("192.168.1.5")]
        );
        w.unassign(
            &S,
            "eni-bench0",
            &[ip("192.168.1.4")],
            Visibility::Immediate,
        )
        .unwrap();
        assert_eq!(
            w.assign(&S, "eni-bench1", &count(1)).unwrap(),
            vec![ip("192.168.1.4")]
        );
    }

    #[test]
    fn quota_is_all_or_nothing() {
        let mut w = small_world();
        w.assign(&S, "eni-bench0", &count(8)).unwrap();
        let err = w.assign(&S, "eni-bench0", &count(3)).unwrap_err();
        assert_eq!(
            err,
            WorldError::QuotaExceeded {
                limit: 10,
                current: 8,
                requested: 3
            }
        );
        assert_eq!(w.eni(&S, "eni-bench0").unwrap().secondary_count(), 8);
        assert_eq!(
            w.subnet("vsw-bench").unwrap().allocator().free_count(),
            252 - 3 - 8
        );
        let err = w.assign(&S, "eni-bench0", &count(u32::MAX)).unwrap_err();
        assert!(matches!(err, WorldError::QuotaExceeded { .. }));
    }

    #[test]
    fn explicit_address_checks() {
        let mut w = small_world();
        assert!(matches!(
            w.assign(&S, "eni-bench0", &explicit(&["10.0.0.1"])),
            Err(WorldError::IpOutsideCidr { .. })
        ));
        for reserved in ["192.168.1.0", "192.168.1.253", "192.168.1.255"] {
            assert!(matches!(
                w.assign(&S, "eni-bench0", &explicit(&[reserved])),
                Err(WorldError::IpReserved { .. })
            ));
        }
        assert_eq!(
            w.assign(&S, "eni-bench0", &explicit(&["192.168.1.9", "192.168.1.9"])),
            Err(WorldError::DuplicateIp {
                ip: ip("192.168.1.9")
            })
        );
        // Another ENI's primary.
        assert_eq!(
            w.assign(&S, "eni-bench0", &explicit(&["192.168.1.9", "192.168.1.2"])),
            Err(WorldError::IpAlreadyAssigned {
                ip: ip("192.168.1.2"),
                holder: Some("eni-bench1".into())
            })
        );
        assert!(
            w.subnet("vsw-bench").unwrap().is_free(ip("192.168.1.9")),
            "nothing assigned"
        );
    }

    #[test]
    fn unassign_refuses_primary_and_foreign_and_is_all_or_nothing() {
        let mut w = small_world();
        w.assign(
            &S,
            "eni-bench0",
            &explicit(&["192.168.1.20", "192.168.1.21"]),
        )
        .unwrap();
        w.assign(&S, "eni-bench1", &explicit(&["192.168.1.30"]))
            .unwrap();
        assert_eq!(
            w.unassign(
                &S,
                "eni-bench0",
                &[ip("192.168.1.20"), ip("192.168.1.1")],
                Visibility::Immediate
            ),
            Err(WorldError::PrimaryIp {
                ip: ip("192.168.1.1")
            })
        );
        assert_eq!(
            w.unassign(
                &S,
                "eni-bench0",
                &[ip("192.168.1.20"), ip("192.168.1.30")],
                Visibility::Immediate
            ),
            Err(WorldError::IpNotOnEni {
                ip: ip("192.168.1.30")
            })
        );
        assert!(matches!(
            w.unassign(&S, "eni-bench0", &[ip("172.16.0.1")], Visibility::Immediate),
            Err(WorldError::IpOutsideCidr { .. })
        ));
        assert_eq!(w.eni(&S, "eni-bench0").unwrap().secondary_count(), 2);
        assert!(!w.subnet("vsw-bench").unwrap().is_free(ip("192.168.1.20")));
    }

    #[test]
    fn state_and_account_checks() {
        let mut w = small_world();
        assert!(matches!(
            w.assign(
                &Scope {
                    account: "someone-else",
                    ..S
                },
                "eni-bench0",
                &count(1)
            ),
            Err(WorldError::EniNotFound { .. })
        ));
        assert!(matches!(
            w.assign(
                &Scope {
                    region: Some("cn-beijing"),
                    ..S
                },
                "eni-bench0",
                &count(1)
            ),
            Err(WorldError::EniNotFound { .. })
        ));
        w.set_eni_state("eni-bench0", EniState::Attaching).unwrap();
        assert_eq!(
            w.assign(&S, "eni-bench0", &count(1)),
            Err(WorldError::EniState {
                expected: "Available,InUse",
                actual: EniState::Attaching
            })
        );
    }

    #[test]
    fn allow_reassign_moves_a_secondary_but_never_a_primary() {
        let mut w = small_world();
        w.assign(&S, "eni-bench1", &explicit(&["192.168.1.40"]))
            .unwrap();
        let mut req = explicit(&["192.168.1.40"]);
        assert!(w.assign(&S, "eni-bench0", &req).is_err());
        req.allow_reassign = true;
        w.assign(&S, "eni-bench0", &req).unwrap();
        assert!(!w.eni(&S, "eni-bench1").unwrap().holds(ip("192.168.1.40")));
        assert_eq!(
            w.subnet("vsw-bench").unwrap().owner(ip("192.168.1.40")),
            Some("eni-bench0")
        );
        let mut primary = explicit(&["192.168.1.3"]);
        primary.allow_reassign = true;
        assert!(matches!(
            w.assign(&S, "eni-bench0", &primary),
            Err(WorldError::IpAlreadyAssigned { .. })
        ));
    }

    #[test]
    fn fill_eni_holds_a_thousand_and_unassign_stays_ordered() {
        let mut w = World::build(&WorldFile::single_subnet(net("10.0.0.0/8"), 1)).unwrap();
        w.take_addresses(BENCH_SUBNET, 1_000_000).unwrap();
        let got = w.fill_eni("eni-bench0", 1000).unwrap();
        assert_eq!(got.len(), 1000);
        let eni = w.eni(&S, "eni-bench0").unwrap();
        assert_eq!(eni.secondary_count(), 1000);
        w.unassign(&S, "eni-bench0", &got[500..501], Visibility::Immediate)
            .unwrap();
        let order: Vec<_> = w.eni(&S, "eni-bench0").unwrap().secondaries().collect();
        assert_eq!(order.len(), 999);
        assert_eq!(order[500], got[501]);
    }

    #[test]
    fn subnet_exhaustion_assigns_nothing() {
        let mut w = World::build(&WorldFile::single_subnet(net("10.1.0.0/29"), 2)).unwrap();
        // /29: .1-.4 usable; primaries hold .1 .2.
        assert_eq!(
            w.assign(&S, "eni-bench0", &count(3)),
            Err(WorldError::SubnetExhausted {
                subnet: "vsw-bench".into(),
                free: 2,
                requested: 3
            })
        );
        assert_eq!(w.subnet("vsw-bench").unwrap().allocator().free_count(), 2);
    }

    #[test]
    fn inuse_limit_comes_from_the_instance_type() {
        let text = r#"
accounts: [{id: a, access_keys: [{id: k, secret: s}]}]
regions: [{id: r, service: alibaba-ecs, zones: [z]}]
vpcs: [{id: v, account: a, region: r, cidr: 10.0.0.0/16}]
subnets: [{id: s, vpc: v, zone: z, cidr: 10.0.0.0/24}]
instance_types: [{name: t, private_ips_per_eni: 6}]
instances: [{id: i, account: a, region: r, zone: z, type: t, state: Stopping}]
enis:
  - {id: p, account: a, region: r, subnet: s, state: InUse, type: Primary, instance: i}
  - {id: e, account: a, region: r, subnet: s, state: InUse, instance: i}
"#;
        let mut w = World::build(&WorldFile::from_yaml(text, "t.yaml").unwrap()).unwrap();
        const AR: Scope<'static> = Scope {
            account: "a",
            service: DialectId::AlibabaEcs,
            region: Some("r"),
        };
        assert_eq!(w.secondary_limit(w.eni(&AR, "e").unwrap()), 5);
        assert!(matches!(
            w.assign(&AR, "e", &count(6)),
            Err(WorldError::QuotaExceeded { limit: 5, .. })
        ));
        assert_eq!(w.assign(&AR, "e", &count(5)).unwrap().len(), 5);
        assert!(matches!(
            w.assign(&AR, "p", &count(1)),
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
                "accounts: [{{id: a}}]\nregions: [{{id: r, service: alibaba-ecs, zones: [z]}}]\n\
                 vpcs: [{{id: v, account: a, region: r, cidr: 10.0.0.0/16}}]\n\
                 subnets: [{{id: s, vpc: v, zone: z, cidr: 10.0.0.0/24, reserved: {{first: 1, last: 3}}}}]\nenis:\n{enis}"
            )
        };
        let cases = [
            ("  - {id: e, account: a, region: r, subnet: nope, state: Available}", "subnet `nope`"),
            ("  - {id: e, account: a, region: r, subnet: s, state: Available, primary_ip: 10.1.0.5}", "outside"),
            ("  - {id: e, account: a, region: r, subnet: s, state: Available, primary_ip: 10.0.0.254}", "reserved"),
            (
                "  - {id: e, account: a, region: r, subnet: s, state: Available, primary_ip: 10.0.0.5}\n  - {id: f, account: a, region: r, subnet: s, state: Available, secondary_ips: [10.0.0.5]}",
                "already held by eni `e`",
            ),
            ("  - {id: e, account: a, region: r, subnet: s, state: InUse}", "needs an `instance`"),
            ("  - {id: e, account: a, region: r, subnet: s, state: Available, instance: i}", "Available ENI"),
            (
                "  - {id: e, account: a, region: r, subnet: s, state: Available, secondary_ips: [10.0.0.10, 10.0.0.11], max_secondaries: 1}",
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
        let text = "accounts: []\nregions: []\nvpcs: []\nsubnets:\n  - {id: s, vpx: v, zone: z, cidr: 10.0.0.0/24}\n";
        let err = WorldFile::from_yaml(text, "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--> w.yaml:5:"), "{err}");
        assert!(err.contains("did you mean `vpc`"), "{err}");
        assert!(err.contains("  - {id: s, vpx"), "{err}");
        assert!(err.contains('^'), "{err}");
        let err = WorldFile::from_yaml(
            "accounts: []\nregions: []\nvpcs: []\nsubnets: []\nenis: [{id: e}]\n",
            "w.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing field `account`"), "{err}");
    }

    /// Found by tests/model.rs: the free count was checked against the
    /// count alone, so explicit free addresses plus a count beyond what
    /// was left panicked mid-assign (after taking the explicit ones).
    #[test]
    fn explicit_free_addresses_and_a_count_beyond_the_rest_assign_nothing() {
        let mut w = World::build(&WorldFile::single_subnet(net("10.1.0.0/29"), 2)).unwrap();
        // /29 with Alibaba's reservations: .1-.4 usable; primaries hold .1 .2.
        let req = AssignRequest {
            explicit: vec![ip("10.1.0.3")],
            count: 2,
            ..Default::default()
        };
        assert_eq!(
            w.assign(&S, "eni-bench0", &req),
            Err(WorldError::SubnetExhausted {
                subnet: "vsw-bench".into(),
                free: 2,
                requested: 3
            })
        );
        assert_eq!(w.subnet("vsw-bench").unwrap().allocator().free_count(), 2);
        assert!(w.subnet("vsw-bench").unwrap().is_free(ip("10.1.0.3")));
        let fits = AssignRequest { count: 1, ..req };
        assert_eq!(
            w.assign(&S, "eni-bench0", &fits).unwrap(),
            [ip("10.1.0.3"), ip("10.1.0.4")]
        );
    }

    /// Found by tests/model.rs: a move took an address whose holder's
    /// task later failed and released it, leaving it free while listed.
    #[test]
    fn a_move_never_takes_an_address_a_failing_task_will_release() {
        let mut w = slow_world();
        w.settle(at(0));
        let now = AssignRequest {
            count: 1,
            visibility: Visibility::Immediate,
            ..Default::default()
        };
        let x = w.assign(&SLOW, "f", &now).unwrap()[0];
        let mut steal = explicit(&[&x.to_string()]);
        steal.allow_reassign = true;
        assert_eq!(
            w.assign(&SLOW, "b", &steal),
            Err(WorldError::IpAlreadyAssigned {
                ip: x,
                holder: Some("f".into())
            })
        );
        w.settle(at(2));
        assert!(listed(&w, "f").is_empty() && listed(&w, "b").is_empty());
        assert!(
            w.subnet("s").unwrap().is_free(x),
            "the failed task freed it"
        );
        assert_eq!(
            w.assign(&SLOW, "b", &steal).unwrap(),
            [x],
            "free to take now"
        );
    }

    /// Found by tests/model.rs: a move took an address an asynchronous
    /// assign still held unlisted, so it ended on two interfaces.
    #[test]
    fn a_move_never_takes_an_address_still_being_assigned() {
        let mut w = slow_world();
        w.settle(at(0));
        let later = AssignRequest {
            count: 1,
            visibility: Visibility::AfterTask,
            ..Default::default()
        };
        let x = w.assign(&SLOW, "b", &later).unwrap()[0];
        let mut steal = explicit(&[&x.to_string()]);
        steal.allow_reassign = true;
        assert!(matches!(
            w.assign(&SLOW, "a", &steal),
            Err(WorldError::IpAlreadyAssigned { .. })
        ));
        w.settle(at(2));
        assert_eq!(listed(&w, "b"), [x]);
        assert!(!listed(&w, "a").contains(&x));
        assert_eq!(w.subnet("s").unwrap().owner(x), Some("b"));
    }

    /// A world of one account, one subnet whose changes take 2 s, and
    /// three ENIs: `a`, `b` and `f` (whose tasks fail).
    fn slow_world() -> World {
        let text = r#"
accounts: [{id: acct, access_keys: [{id: k, secret: s}]}]
regions: [{id: r, service: alibaba-ecs, zones: [z]}]
vpcs: [{id: v, account: acct, region: r, cidr: 10.0.0.0/16}]
subnets: [{id: s, vpc: v, zone: z, cidr: 10.0.0.0/24, change_delay: 2s}]
enis:
  - {id: a, account: acct, region: r, subnet: s, state: Available, primary_ip: 10.0.0.10, secondary_ips: [10.0.0.20], eips: {10.0.0.20: 203.0.113.20}}
  - {id: b, account: acct, region: r, subnet: s, state: Available, primary_ip: 10.0.0.11}
  - {id: f, account: acct, region: r, subnet: s, state: Available, primary_ip: 10.0.0.12, changes_fail: true}
"#;
        World::build(&WorldFile::from_yaml(text, "slow.yaml").unwrap()).unwrap()
    }

    const SLOW: Scope<'static> = Scope {
        account: "acct",
        service: DialectId::AlibabaEcs,
        region: Some("r"),
    };

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_000 + seconds)
    }

    fn listed(w: &World, eni: &str) -> Vec<Ipv4Addr> {
        w.eni(&SLOW, eni).unwrap().secondaries().collect()
    }

    #[test]
    fn a_deferred_assign_shows_only_when_its_task_ends_and_holds_its_address_meanwhile() {
        let mut w = slow_world();
        w.settle(at(0));
        let req = AssignRequest {
            explicit: vec![ip("10.0.0.50")],
            visibility: Visibility::AfterTask,
            ..Default::default()
        };
        assert_eq!(w.assign(&SLOW, "a", &req).unwrap(), [ip("10.0.0.50")]);
        let task = w.eni(&SLOW, "a").unwrap().running_task().unwrap();
        assert_eq!(w.task("acct", task), Some(TaskStatus::Running));
        assert_eq!(w.task("someone-else", task), None);
        assert_eq!(listed(&w, "a"), [ip("10.0.0.20")], "not listed yet");
        let other = AssignRequest {
            visibility: Visibility::AfterTask,
            ..explicit(&["10.0.0.50"])
        };
        assert!(matches!(
            w.assign(&SLOW, "b", &other),
            Err(WorldError::IpAlreadyAssigned { .. })
        ));
        assert!(matches!(
            w.assign(&SLOW, "a", &count(1)),
            Err(WorldError::Busy { task: t, .. }) if t == task
        ));
        w.settle(at(1));
        assert_eq!(w.task("acct", task), Some(TaskStatus::Running));
        w.settle(at(2));
        assert_eq!(w.task("acct", task), Some(TaskStatus::Succeeded));
        assert_eq!(listed(&w, "a"), [ip("10.0.0.20"), ip("10.0.0.50")]);
        assert!(w.assign(&SLOW, "a", &count(1)).is_ok(), "idle again");
    }

    #[test]
    fn a_deferred_unassign_keeps_the_address_listed_and_held_until_its_task_ends() {
        let mut w = slow_world();
        w.settle(at(0));
        w.unassign(&SLOW, "a", &[ip("10.0.0.20")], Visibility::AfterTask)
            .unwrap();
        assert_eq!(listed(&w, "a"), [ip("10.0.0.20")], "a stale read");
        let reuse = AssignRequest {
            visibility: Visibility::AfterTask,
            ..explicit(&["10.0.0.20"])
        };
        assert!(matches!(
            w.assign(&SLOW, "b", &reuse),
            Err(WorldError::IpAlreadyAssigned { .. })
        ));
        w.settle(at(3));
        assert!(listed(&w, "a").is_empty());
        assert!(
            w.eni(&SLOW, "a").unwrap().eips.is_empty(),
            "EIP dissociated"
        );
        assert!(w.assign(&SLOW, "b", &reuse).is_ok(), "free once done");
    }

    #[test]
    fn a_failing_task_changes_nothing_and_an_immediate_change_shows_at_once() {
        let mut w = slow_world();
        w.settle(at(0));
        let req = AssignRequest {
            count: 2,
            visibility: Visibility::AfterTask,
            ..Default::default()
        };
        let got = w.assign(&SLOW, "f", &req).unwrap();
        let task = w.eni(&SLOW, "f").unwrap().running_task().unwrap();
        let free_before = w.subnet("s").unwrap().allocator().free_count();
        w.settle(at(5));
        assert_eq!(w.task("acct", task), Some(TaskStatus::Failed));
        assert!(listed(&w, "f").is_empty());
        assert_eq!(
            w.subnet("s").unwrap().allocator().free_count(),
            free_before + 2,
            "its addresses {got:?} are free again"
        );

        let now = AssignRequest {
            count: 1,
            visibility: Visibility::Immediate,
            ..Default::default()
        };
        let got = w.assign(&SLOW, "b", &now).unwrap();
        assert_eq!(listed(&w, "b"), got, "listed at once");
        assert!(
            w.eni(&SLOW, "b").unwrap().running_task().is_some(),
            "and busy"
        );
        w.settle(at(8));
        assert!(w.eni(&SLOW, "b").unwrap().running_task().is_none());
    }
}
