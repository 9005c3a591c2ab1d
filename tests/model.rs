//! A reference model of the emulator's world, and a state-machine test that
//! drives the real [`World`] and the model with the same random sequences.
//!
//! The model is small and obviously correct where the world is clever: a
//! subnet is a range of `u32` and a map of who holds which address, free
//! addresses are found by walking the range, an interface is a `Vec` of its
//! secondaries in assignment order, a task is a record applied when the
//! clock passes it. The world keeps free intervals, owner maps, sequence
//! numbers and a task table instead; after every step the two must agree on
//! every address of every subnet, every interface's list and state, every
//! task, and on the outcome of the step itself (the same addresses, or the
//! same neutral error with the same fields).
//!
//! Sequences mix assignment by list and by count, moves (`allow_reassign`),
//! unassignment, describe, task queries and clock advances, with either
//! visibility, over interfaces of two accounts in three services, subnets
//! with and without a change delay, interfaces whose tasks fail, quotas
//! from the subnet, the instance type (primary counted) and the interface,
//! and interfaces whose state or instance refuses changes. Invariants are
//! checked on the world alone after every step: no address on two
//! interfaces; never a network, broadcast or reserved address; quotas hold;
//! a refused step changes nothing; the primary is never removed; a subnet's
//! free count is its usable size minus what is held.
//!
//! `cargo test` runs a few hundred sequences. The documented long run:
//!
//! ```sh
//! IPCONFORM_MODEL_CASES=100000 cargo test --release --test model -- --ignored --nocapture
//! ```
//!
//! prints how many sequences and steps ran.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use ipconform::dialect::DialectId;
use ipconform::emulator::world::{
    AssignRequest, EniFilter, EniState, InstanceState, Scope, TaskStatus, Visibility, World,
    WorldError, WorldFile,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

// ---------------------------------------------------------------------------
// The world under test

/// Two accounts; an ECS-like region whose subnets change at once, a
/// Tencent-like one whose changes run 2 s, a NAVER-like one (3 s, six
/// reserved addresses first); subnets of 6 to 16 addresses so that
/// exhaustion, quotas and collisions come up in short sequences.
const WORLD: &str = r#"
accounts:
  - {id: A, access_keys: [{id: ka, secret: sa}]}
  - {id: B, access_keys: [{id: kb, secret: sb}]}
regions:
  - {id: r1, service: alibaba-ecs, zones: [z1]}
  - {id: r2, service: tencent-vpc-v2, zones: [z2]}
  - {id: r3, service: naver-vpc, zones: [z3]}
vpcs:
  - {id: v1, account: A, region: r1, cidr: 10.0.0.0/16}
  - {id: v1x, account: A, region: r1, cidr: 10.5.0.0/16}
  - {id: v2, account: A, region: r2, cidr: 10.1.0.0/16}
  - {id: v3, account: A, region: r3, cidr: 10.2.0.0/16}
  - {id: vb, account: B, region: r1, cidr: 10.9.0.0/16}
subnets:
  - {id: s1, vpc: v1, zone: z1, cidr: 10.0.0.0/28, reserved: {first: 1, last: 3}}
  - {id: s1b, vpc: v1, zone: z1, cidr: 10.0.1.0/29}
  - {id: s1x, vpc: v1x, zone: z1, cidr: 10.5.0.0/29}
  - {id: s2, vpc: v2, zone: z2, cidr: 10.1.0.0/28, reserved: {first: 1, last: 2}, secondary_limit: 9, change_delay: 2s}
  - {id: s3, vpc: v3, zone: z3, cidr: 10.2.0.0/28, reserved: {first: 6, last: 1}, secondary_limit: 5, change_delay: 3s}
  - {id: sb, vpc: vb, zone: z1, cidr: 10.9.0.0/29}
instance_types:
  - {name: t4, private_ips_per_eni: 4}
instances:
  - {id: i1, account: A, region: r1, zone: z1, type: t4, state: Running}
  - {id: i2, account: A, region: r1, zone: z1, type: t4, state: Stopping}
enis:
  - {id: e1, account: A, region: r1, subnet: s1, state: Available, primary_ip: 10.0.0.1}
  - {id: e2, account: A, region: r1, subnet: s1, state: InUse, instance: i1}
  - {id: e3, account: A, region: r1, subnet: s1, state: Available, max_secondaries: 2, secondary_ips: [10.0.0.12]}
  - {id: e4, account: A, region: r1, subnet: s1, state: Attaching, instance: i1}
  - {id: e5, account: A, region: r1, subnet: s1, state: InUse, type: Primary, instance: i2}
  - {id: t1, account: A, region: r2, subnet: s2, state: Available, secondary_ips: [10.1.0.9]}
  - {id: t2, account: A, region: r2, subnet: s2, state: Available}
  - {id: tf, account: A, region: r2, subnet: s2, state: Available, changes_fail: true}
  - {id: n1, account: A, region: r3, subnet: s3, state: Available, secondary_ips: [10.2.0.12]}
  - {id: n2, account: A, region: r3, subnet: s3, state: Available}
  - {id: nf, account: A, region: r3, subnet: s3, state: Available, changes_fail: true}
  - {id: b1, account: B, region: r1, subnet: sb, state: Available}
"#;

fn world_file() -> WorldFile {
    WorldFile::from_yaml(WORLD, "model.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
}

fn ip(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(n)
}

fn n(ip: Ipv4Addr) -> u32 {
    u32::from(ip)
}

const ACCOUNTS: [&str; 2] = ["A", "B"];
const SERVICES: [DialectId; 3] = [
    DialectId::AlibabaEcs,
    DialectId::TencentVpcV2,
    DialectId::NaverVpc,
];
const REGIONS: [&str; 3] = ["r1", "r2", "r3"];
/// Subnet ids a request may name, one that does not exist among them.
const NAMED_SUBNETS: [&str; 7] = ["s1", "s1b", "s1x", "s2", "s3", "sb", "nope"];

// ---------------------------------------------------------------------------
// The model

#[derive(Debug, Clone)]
struct MSubnet {
    id: &'static str,
    vpc: &'static str,
    account: &'static str,
    region: &'static str,
    network: u32,
    broadcast: u32,
    /// First and last address ever handed out.
    first: u32,
    last: u32,
    delay_ms: i64,
}

impl MSubnet {
    fn contains(&self, ip: u32) -> bool {
        self.network <= ip && ip <= self.broadcast
    }

    fn usable(&self, ip: u32) -> bool {
        self.first <= ip && ip <= self.last
    }

    fn cidr(&self) -> ipnet::Ipv4Net {
        let len = 32 - (self.broadcast - self.network + 1).trailing_zeros() as u8;
        ipnet::Ipv4Net::new(ip(self.network), len).unwrap()
    }
}

/// Why an interface refuses every change, whatever is asked.
#[derive(Debug, Clone, Copy)]
enum Blocked {
    State(EniState),
    Instance(&'static str, InstanceState),
}

#[derive(Debug, Clone)]
struct MEni {
    id: &'static str,
    account: &'static str,
    region: &'static str,
    subnet: usize,
    blocked: Option<Blocked>,
    limit: u32,
    fails: bool,
    primary: u32,
    /// Secondaries in assignment order, with the subnet each came from.
    listed: Vec<(u32, usize)>,
    task: Option<u64>,
}

impl MEni {
    fn lists(&self, ip: u32) -> bool {
        self.listed.iter().any(|(x, _)| *x == ip)
    }
}

#[derive(Debug, Clone)]
enum MChange {
    Assign(Vec<(u32, usize)>, Visibility),
    Unassign(Vec<u32>, Visibility),
}

#[derive(Debug, Clone)]
struct MTask {
    account: &'static str,
    eni: usize,
    done_at: i64,
    fails: bool,
    done: bool,
    change: MChange,
}

/// What a step should answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Assigned(Result<Vec<Ipv4Addr>, WorldError>),
    Unassigned(Result<(), WorldError>),
    Described(Vec<(String, Vec<Ipv4Addr>)>),
    Task(Option<TaskStatus>),
    Advanced,
}

#[derive(Debug, Clone)]
struct Model {
    now: i64,
    subnets: Vec<MSubnet>,
    enis: Vec<MEni>,
    /// Address -> the interface holding it (listed, or held by a task).
    holder: BTreeMap<u32, usize>,
    tasks: BTreeMap<u64, MTask>,
    next_task: u64,
    last: Option<Outcome>,
}

fn v4(s: &str) -> u32 {
    n(s.parse().unwrap())
}

impl Model {
    fn new() -> Model {
        let subnet = |id, vpc, account, region, cidr: &str, first, last, delay_ms| {
            let net: ipnet::Ipv4Net = cidr.parse().unwrap();
            let (network, broadcast) = (n(net.network()), n(net.broadcast()));
            MSubnet {
                id,
                vpc,
                account,
                region,
                network,
                broadcast,
                first: network + first,
                last: broadcast - last,
                delay_ms,
            }
        };
        let subnets = vec![
            subnet("s1", "v1", "A", "r1", "10.0.0.0/28", 1, 3, 0),
            subnet("s1b", "v1", "A", "r1", "10.0.1.0/29", 1, 1, 0),
            subnet("s1x", "v1x", "A", "r1", "10.5.0.0/29", 1, 1, 0),
            subnet("s2", "v2", "A", "r2", "10.1.0.0/28", 1, 2, 2000),
            subnet("s3", "v3", "A", "r3", "10.2.0.0/28", 6, 1, 3000),
            subnet("sb", "vb", "B", "r1", "10.9.0.0/29", 1, 1, 0),
        ];
        let mut m = Model {
            now: 0,
            subnets,
            enis: Vec::new(),
            holder: BTreeMap::new(),
            tasks: BTreeMap::new(),
            next_task: 16_284,
            last: None,
        };
        // (id, account, region, subnet, blocked, limit, fails, primary, secondaries)
        type Def = (
            &'static str,
            &'static str,
            &'static str,
            usize,
            Option<Blocked>,
            u32,
            bool,
            Option<&'static str>,
            &'static [&'static str],
        );
        let defs: [Def; 12] = [
            ("e1", "A", "r1", 0, None, 10, false, Some("10.0.0.1"), &[]),
            // InUse on a t4: 4 private IPs, the primary counted.
            ("e2", "A", "r1", 0, None, 3, false, None, &[]),
            ("e3", "A", "r1", 0, None, 2, false, None, &["10.0.0.12"]),
            (
                "e4",
                "A",
                "r1",
                0,
                Some(Blocked::State(EniState::Attaching)),
                3,
                false,
                None,
                &[],
            ),
            (
                "e5",
                "A",
                "r1",
                0,
                Some(Blocked::Instance("i2", InstanceState::Stopping)),
                3,
                false,
                None,
                &[],
            ),
            ("t1", "A", "r2", 3, None, 9, false, None, &["10.1.0.9"]),
            ("t2", "A", "r2", 3, None, 9, false, None, &[]),
            ("tf", "A", "r2", 3, None, 9, true, None, &[]),
            ("n1", "A", "r3", 4, None, 5, false, None, &["10.2.0.12"]),
            ("n2", "A", "r3", 4, None, 5, false, None, &[]),
            ("nf", "A", "r3", 4, None, 5, true, None, &[]),
            ("b1", "B", "r1", 5, None, 10, false, None, &[]),
        ];
        // Written addresses first, then the primaries to allocate, lowest
        // free first, in file order: the world's build order.
        for (i, (id, account, region, subnet, blocked, limit, fails, primary, secs)) in
            defs.iter().enumerate()
        {
            let primary = primary.map(v4).unwrap_or(0);
            if primary != 0 {
                m.holder.insert(primary, i);
            }
            let listed: Vec<(u32, usize)> = secs.iter().map(|s| (v4(s), *subnet)).collect();
            for (x, _) in &listed {
                m.holder.insert(*x, i);
            }
            m.enis.push(MEni {
                id,
                account,
                region,
                subnet: *subnet,
                blocked: *blocked,
                limit: *limit,
                fails: *fails,
                primary,
                listed,
                task: None,
            });
        }
        for i in 0..m.enis.len() {
            if m.enis[i].primary == 0 {
                let s = m.enis[i].subnet;
                let free = m.lowest_free(s, 1)[0];
                m.enis[i].primary = free;
                m.holder.insert(free, i);
            }
        }
        m
    }

    fn lowest_free(&self, s: usize, count: usize) -> Vec<u32> {
        let sub = &self.subnets[s];
        (sub.first..=sub.last)
            .filter(|x| !self.holder.contains_key(x))
            .take(count)
            .collect()
    }

    fn free_count(&self, s: usize) -> u64 {
        let sub = &self.subnets[s];
        (sub.first..=sub.last)
            .filter(|x| !self.holder.contains_key(x))
            .count() as u64
    }

    fn sees(&self, scope: &MScope, e: usize) -> bool {
        let eni = &self.enis[e];
        let region_service = SERVICES[REGIONS.iter().position(|r| *r == eni.region).unwrap()];
        eni.account == ACCOUNTS[scope.account]
            && scope.region.is_none_or(|r| REGIONS[r] == eni.region)
            && region_service == SERVICES[scope.service]
    }

    /// The checks assign and unassign share: visible, state, idle.
    fn common_checks(&self, scope: &MScope, e: usize) -> Result<(), WorldError> {
        let eni = &self.enis[e];
        if !self.sees(scope, e) {
            return Err(WorldError::EniNotFound {
                id: eni.id.to_string(),
            });
        }
        match eni.blocked {
            Some(Blocked::State(actual)) => {
                return Err(WorldError::EniState {
                    expected: "Available,InUse",
                    actual,
                })
            }
            Some(Blocked::Instance(instance, actual)) => {
                return Err(WorldError::InstanceState {
                    instance: instance.to_string(),
                    expected: "Running,Stopped",
                    actual,
                })
            }
            None => {}
        }
        if let Some(task) = eni.task {
            return Err(WorldError::Busy {
                eni: eni.id.to_string(),
                task,
            });
        }
        Ok(())
    }

    fn assign(&mut self, op: &Assign) -> Result<Vec<Ipv4Addr>, WorldError> {
        let e = op.eni;
        self.common_checks(&op.scope, e)?;
        let eni = &self.enis[e];
        let target = match op.subnet {
            None => eni.subnet,
            Some(named) => {
                let id = NAMED_SUBNETS[named];
                let own = &self.subnets[eni.subnet];
                let found = self
                    .subnets
                    .iter()
                    .position(|s| s.id == id && s.account == eni.account && s.region == eni.region)
                    .ok_or_else(|| WorldError::SubnetNotFound { id: id.to_string() })?;
                if self.subnets[found].vpc != own.vpc {
                    return Err(WorldError::SubnetNotInNetwork {
                        subnet: id.to_string(),
                        vpc: own.vpc.to_string(),
                    });
                }
                found
            }
        };
        let sub = &self.subnets[target];
        for &x in &op.explicit {
            if !sub.contains(x) {
                return Err(WorldError::IpOutsideCidr {
                    ip: ip(x),
                    cidr: sub.cidr(),
                });
            }
            if !sub.usable(x) {
                return Err(WorldError::IpReserved {
                    ip: ip(x),
                    cidr: sub.cidr(),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for &x in &op.explicit {
            if !seen.insert(x) {
                return Err(WorldError::DuplicateIp { ip: ip(x) });
            }
        }
        let mut moves = Vec::new();
        let mut free_explicit = 0u64;
        for &x in &op.explicit {
            match self.holder.get(&x) {
                None => free_explicit += 1,
                Some(&h) => {
                    // A move takes a secondary the holder lists and is not
                    // changing: never a primary, never one in flight.
                    let other = &self.enis[h];
                    let movable = op.reassign
                        && h != e
                        && other.primary != x
                        && other.lists(x)
                        && other.task.is_none();
                    if !movable {
                        return Err(WorldError::IpAlreadyAssigned {
                            ip: ip(x),
                            holder: Some(other.id.to_string()),
                        });
                    }
                    moves.push((x, h));
                }
            }
        }
        let current = eni.listed.len() as u32;
        let requested = op.explicit.len() as u64 + u64::from(op.count);
        if u64::from(current) + requested > u64::from(eni.limit) {
            return Err(WorldError::QuotaExceeded {
                limit: eni.limit,
                current,
                requested,
            });
        }
        let free = self.free_count(target);
        if free < free_explicit + u64::from(op.count) {
            return Err(WorldError::SubnetExhausted {
                subnet: sub.id.to_string(),
                free,
                requested: free_explicit + u64::from(op.count),
            });
        }
        // Apply.
        for (x, h) in moves {
            self.enis[h].listed.retain(|(y, _)| *y != x);
        }
        let mut added: Vec<u32> = op.explicit.clone();
        for &x in &added {
            self.holder.insert(x, e);
        }
        let auto = self.lowest_free(target, op.count as usize);
        for &x in &auto {
            self.holder.insert(x, e);
        }
        added.extend(auto);
        let delay = self.subnets[self.enis[e].subnet].delay_ms;
        let deferred = delay > 0 && op.visibility == Visibility::AfterTask;
        if !deferred {
            self.enis[e]
                .listed
                .extend(added.iter().map(|x| (*x, target)));
        }
        if delay > 0 {
            let change =
                MChange::Assign(added.iter().map(|x| (*x, target)).collect(), op.visibility);
            self.start_task(e, ACCOUNTS[op.scope.account], delay, change);
        }
        Ok(added.into_iter().map(ip).collect())
    }

    fn unassign(&mut self, op: &Unassign) -> Result<(), WorldError> {
        let e = op.eni;
        self.common_checks(&op.scope, e)?;
        let eni = &self.enis[e];
        let own = &self.subnets[eni.subnet];
        for &x in &op.ips {
            if !own.contains(x) && !eni.lists(x) {
                return Err(WorldError::IpOutsideCidr {
                    ip: ip(x),
                    cidr: own.cidr(),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for &x in &op.ips {
            if !seen.insert(x) {
                return Err(WorldError::DuplicateIp { ip: ip(x) });
            }
        }
        for &x in &op.ips {
            if x == eni.primary {
                return Err(WorldError::PrimaryIp { ip: ip(x) });
            }
            if !eni.lists(x) {
                return Err(WorldError::IpNotOnEni { ip: ip(x) });
            }
        }
        let delay = own.delay_ms;
        if delay == 0 || op.visibility == Visibility::Immediate {
            self.release(e, &op.ips);
        }
        if delay > 0 {
            let change = MChange::Unassign(op.ips.clone(), op.visibility);
            self.start_task(e, ACCOUNTS[op.scope.account], delay, change);
        }
        Ok(())
    }

    fn release(&mut self, e: usize, ips: &[u32]) {
        for x in ips {
            self.enis[e].listed.retain(|(y, _)| y != x);
            self.holder.remove(x);
        }
    }

    fn start_task(&mut self, e: usize, account: &'static str, delay: i64, change: MChange) {
        let id = self.next_task;
        self.next_task += 1;
        self.enis[e].task = Some(id);
        self.tasks.insert(
            id,
            MTask {
                account,
                eni: e,
                done_at: self.now + delay,
                fails: self.enis[e].fails,
                done: false,
                change,
            },
        );
    }

    fn advance(&mut self, ms: i64) {
        self.now += ms;
        let due: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.done && t.done_at <= self.now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let t = self.tasks[&id].clone();
            match (&t.change, t.fails) {
                (MChange::Assign(ips, Visibility::AfterTask), false) => {
                    self.enis[t.eni].listed.extend(ips.iter().copied());
                }
                (MChange::Assign(ips, Visibility::Immediate), true) => {
                    let ips: Vec<u32> = ips.iter().map(|(x, _)| *x).collect();
                    self.release(t.eni, &ips);
                }
                (MChange::Assign(ips, Visibility::AfterTask), true) => {
                    for (x, _) in ips {
                        self.holder.remove(x);
                    }
                }
                (MChange::Unassign(ips, Visibility::AfterTask), false) => {
                    let ips = ips.clone();
                    self.release(t.eni, &ips);
                }
                _ => {}
            }
            self.enis[t.eni].task = None;
            self.tasks.get_mut(&id).unwrap().done = true;
        }
    }

    fn task(&self, account: usize, id: u64) -> Option<TaskStatus> {
        let t = self
            .tasks
            .get(&id)
            .filter(|t| t.account == ACCOUNTS[account])?;
        Some(match (t.done, t.fails) {
            (false, _) => TaskStatus::Running,
            (true, true) => TaskStatus::Failed,
            (true, false) => TaskStatus::Succeeded,
        })
    }

    fn describe(&self, op: &Describe) -> Vec<(String, Vec<Ipv4Addr>)> {
        let mut out: Vec<(String, Vec<Ipv4Addr>)> = (0..self.enis.len())
            .filter(|&e| self.sees(&op.scope, e))
            .filter(|&e| op.ids.is_empty() || op.ids.contains(&e))
            .map(|e| {
                let eni = &self.enis[e];
                (
                    eni.id.to_string(),
                    eni.listed.iter().map(|(x, _)| ip(*x)).collect(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Addresses worth naming for an interface: all of its subnet (network,
    /// broadcast and reserved included), some of another, everything held.
    fn candidates(&self, e: usize) -> Vec<u32> {
        let own = &self.subnets[self.enis[e].subnet];
        let mut out: Vec<u32> = (own.network..=own.broadcast).collect();
        out.extend(own.first..=own.last);
        out.extend(self.holder.keys().copied());
        out.extend(self.subnets[1].network..=self.subnets[1].broadcast);
        out.push(v4("192.0.2.1"));
        out
    }
}

// ---------------------------------------------------------------------------
// Transitions

#[derive(Debug, Clone)]
struct MScope {
    account: usize,
    service: usize,
    region: Option<usize>,
}

impl MScope {
    fn world(&self) -> Scope<'static> {
        Scope {
            account: ACCOUNTS[self.account],
            service: SERVICES[self.service],
            region: self.region.map(|r| REGIONS[r]),
        }
    }
}

#[derive(Debug, Clone)]
struct Assign {
    scope: MScope,
    eni: usize,
    explicit: Vec<u32>,
    count: u32,
    reassign: bool,
    subnet: Option<usize>,
    visibility: Visibility,
}

#[derive(Debug, Clone)]
struct Unassign {
    scope: MScope,
    eni: usize,
    ips: Vec<u32>,
    visibility: Visibility,
}

#[derive(Debug, Clone)]
struct Describe {
    scope: MScope,
    ids: Vec<usize>,
}

#[derive(Clone)]
enum Step {
    Assign(Assign),
    Unassign(Unassign),
    Describe(Describe),
    Task { account: usize, id: u64 },
    Advance(i64),
}

/// Addresses as dotted quads, so a shrunk failing sequence reads as one.
impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ips = |v: &[u32]| v.iter().map(|x| ip(*x).to_string()).collect::<Vec<_>>();
        let eni = |e: usize| ENI_IDS[e];
        match self {
            Step::Assign(a) => write!(
                f,
                "assign {} {:?} explicit={:?} count={} reassign={} subnet={:?} {:?}",
                eni(a.eni),
                a.scope,
                ips(&a.explicit),
                a.count,
                a.reassign,
                a.subnet.map(|s| NAMED_SUBNETS[s]),
                a.visibility
            ),
            Step::Unassign(u) => write!(
                f,
                "unassign {} {:?} {:?} {:?}",
                eni(u.eni),
                u.scope,
                ips(&u.ips),
                u.visibility
            ),
            Step::Describe(d) => write!(f, "describe {:?} ids={:?}", d.scope, d.ids),
            Step::Task { account, id } => write!(f, "task {} {id}", ACCOUNTS[*account]),
            Step::Advance(ms) => write!(f, "advance {ms} ms"),
        }
    }
}

const ENI_IDS: [&str; 12] = [
    "e1", "e2", "e3", "e4", "e5", "t1", "t2", "tf", "n1", "n2", "nf", "b1",
];

/// Mostly the interface's own account, service and region; sometimes not,
/// which must find nothing.
fn scope_for(m: &Model, e: usize) -> impl Strategy<Value = MScope> {
    let eni = &m.enis[e];
    let account = ACCOUNTS.iter().position(|a| *a == eni.account).unwrap();
    let region = REGIONS.iter().position(|r| *r == eni.region).unwrap();
    prop_oneof![
        8 => Just(MScope { account, service: region, region: Some(region) }),
        1 => Just(MScope { account, service: region, region: None }),
        1 => (0..2usize, 0..3usize, proptest::option::of(0..3usize))
            .prop_map(|(account, service, region)| MScope { account, service, region }),
    ]
}

fn visibility() -> impl Strategy<Value = Visibility> {
    prop_oneof![Just(Visibility::Immediate), Just(Visibility::AfterTask)]
}

struct ModelWorld;

impl ReferenceStateMachine for ModelWorld {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new()).boxed()
    }

    fn transitions(m: &Model) -> BoxedStrategy<Step> {
        let per_eni: Vec<BoxedStrategy<Step>> = (0..m.enis.len())
            .map(|e| {
                let candidates = m.candidates(e);
                let own: Vec<u32> = m.enis[e].listed.iter().map(|(x, _)| *x).collect();
                let mut own_or_any = own.clone();
                own_or_any.extend(candidates.iter().take(4));
                own_or_any.push(m.enis[e].primary);
                let held_elsewhere: Vec<u32> = m
                    .holder
                    .iter()
                    .filter(|(_, h)| **h != e)
                    .map(|(x, _)| *x)
                    .collect();
                let pick = proptest::sample::select(candidates);
                let pick_own = proptest::sample::select(own_or_any);
                let assign = (
                    scope_for(m, e),
                    proptest::collection::vec(pick.clone(), 0..4),
                    prop_oneof![3 => Just(0u32), 3 => 1..4u32, 2 => 4..12u32],
                    any::<bool>(),
                    proptest::option::weighted(0.15, 0..NAMED_SUBNETS.len()),
                    visibility(),
                )
                    .prop_map(
                        move |(scope, explicit, count, reassign, subnet, visibility)| {
                            Step::Assign(Assign {
                                scope,
                                eni: e,
                                explicit,
                                count,
                                reassign,
                                subnet,
                                visibility,
                            })
                        },
                    );
                let unassign = (
                    scope_for(m, e),
                    proptest::collection::vec(pick_own, 0..4),
                    visibility(),
                )
                    .prop_map(move |(scope, ips, visibility)| {
                        Step::Unassign(Unassign {
                            scope,
                            eni: e,
                            ips,
                            visibility,
                        })
                    });
                let mut options: Vec<(u32, BoxedStrategy<Step>)> =
                    vec![(4, assign.boxed()), (3, unassign.boxed())];
                if !held_elsewhere.is_empty() {
                    let steal = (
                        scope_for(m, e),
                        proptest::collection::vec(proptest::sample::select(held_elsewhere), 1..3),
                        visibility(),
                    )
                        .prop_map(move |(scope, explicit, visibility)| {
                            Step::Assign(Assign {
                                scope,
                                eni: e,
                                explicit,
                                count: 0,
                                reassign: true,
                                subnet: None,
                                visibility,
                            })
                        });
                    options.push((2, steal.boxed()));
                }
                proptest::strategy::Union::new_weighted(options).boxed()
            })
            .collect();
        let describe = (
            0..2usize,
            0..3usize,
            proptest::option::of(0..3usize),
            proptest::collection::vec(0..ENI_IDS.len(), 0..3),
        )
            .prop_map(|(account, service, region, ids)| {
                Step::Describe(Describe {
                    scope: MScope {
                        account,
                        service,
                        region,
                    },
                    ids,
                })
            });
        let unknown = (0..2usize, proptest::sample::select(vec![1u64, 16_283]))
            .prop_map(|(account, id)| Step::Task { account, id });
        let task = if m.tasks.is_empty() {
            unknown.boxed()
        } else {
            // Recent tasks, as a client polls them, by their account (A).
            let recent: Vec<u64> = m.tasks.keys().rev().take(3).copied().collect();
            prop_oneof![
                4 => proptest::sample::select(recent).prop_map(|id| Step::Task { account: 0, id }),
                1 => unknown,
            ]
            .boxed()
        };
        let advance = prop_oneof![Just(0i64), Just(1000), Just(2000), Just(3000), 0..7000i64]
            .prop_map(Step::Advance);
        prop_oneof![
            12 => proptest::strategy::Union::new(per_eni),
            2 => describe,
            2 => task,
            3 => advance,
        ]
        .boxed()
    }

    fn apply(mut m: Model, step: &Step) -> Model {
        let outcome = match step {
            Step::Assign(a) => Outcome::Assigned(m.assign(a)),
            Step::Unassign(u) => Outcome::Unassigned(m.unassign(u)),
            Step::Describe(d) => Outcome::Described(m.describe(d)),
            Step::Task { account, id } => Outcome::Task(m.task(*account, *id)),
            Step::Advance(ms) => {
                m.advance(*ms);
                Outcome::Advanced
            }
        };
        m.last = Some(outcome);
        m
    }
}

// ---------------------------------------------------------------------------
// The world driven alongside

struct Sut {
    world: World,
    now: i64,
    /// Each interface's primary at start: it must never change.
    primaries: BTreeMap<String, Ipv4Addr>,
}

/// Everything a refused step must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    listed: Vec<(String, Vec<Ipv4Addr>, Option<u64>)>,
    free: Vec<(String, u64)>,
    owners: Vec<(Ipv4Addr, Option<String>)>,
}

fn snapshot(w: &World, m: &Model) -> Snapshot {
    Snapshot {
        listed: w
            .all_enis()
            .map(|e| (e.id.clone(), e.secondaries().collect(), e.running_task()))
            .collect(),
        free: m
            .subnets
            .iter()
            .map(|s| {
                let sub = w.subnet(s.id).unwrap();
                (s.id.to_string(), sub.allocator().free_count())
            })
            .collect(),
        owners: m
            .subnets
            .iter()
            .flat_map(|s| s.network..=s.broadcast)
            .map(|x| {
                let sub = m.subnets.iter().find(|s| s.contains(x)).unwrap();
                let owner = w.subnet(sub.id).unwrap().owner(ip(x)).map(str::to_string);
                (ip(x), owner)
            })
            .collect(),
    }
}

struct WorldTest;

/// How often each kind of outcome came up, so that a run shows (and the
/// short run asserts) that sequences reach every refusal and every change.
static TALLY: std::sync::Mutex<BTreeMap<&'static str, u64>> =
    std::sync::Mutex::new(BTreeMap::new());

fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Assigned(Ok(v)) if v.is_empty() => "assign-nothing",
        Outcome::Assigned(Ok(_)) => "assign",
        Outcome::Unassigned(Ok(())) => "unassign",
        Outcome::Assigned(Err(e)) | Outcome::Unassigned(Err(e)) => match e {
            WorldError::EniNotFound { .. } => "eni-not-found",
            WorldError::SubnetNotInNetwork { .. } => "subnet-not-in-network",
            WorldError::OperationNotOffered { .. } => "not-offered",
            WorldError::SubnetNotFound { .. } => "subnet-not-found",
            WorldError::EniState { .. } => "eni-state",
            WorldError::InstanceState { .. } => "instance-state",
            WorldError::IpOutsideCidr { .. } => "outside-cidr",
            WorldError::IpReserved { .. } => "reserved",
            WorldError::IpAlreadyAssigned { .. } => "in-use",
            WorldError::QuotaExceeded { .. } => "quota",
            WorldError::SubnetExhausted { .. } => "exhausted",
            WorldError::IpNotOnEni { .. } => "not-on-eni",
            WorldError::PrimaryIp { .. } => "primary",
            WorldError::DuplicateIp { .. } => "duplicate",
            WorldError::Busy { .. } => "busy",
        },
        Outcome::Described(_) => "describe",
        Outcome::Task(Some(TaskStatus::Running)) => "task-running",
        Outcome::Task(Some(TaskStatus::Succeeded)) => "task-succeeded",
        Outcome::Task(Some(TaskStatus::Failed)) => "task-failed",
        Outcome::Task(None) => "task-unknown",
        Outcome::Advanced => "advance",
    }
}

fn tally(o: &Outcome) {
    *TALLY.lock().unwrap().entry(kind(o)).or_default() += 1;
}

static SEQUENCES: AtomicU64 = AtomicU64::new(0);
static STEPS: AtomicU64 = AtomicU64::new(0);

impl StateMachineTest for WorldTest {
    type SystemUnderTest = Sut;
    type Reference = ModelWorld;

    fn init_test(_: &Model) -> Sut {
        SEQUENCES.fetch_add(1, Ordering::Relaxed);
        let mut world = World::build(&world_file()).unwrap_or_else(|e| panic!("{e}"));
        world.settle(at(0));
        let primaries = world
            .all_enis()
            .map(|e| (e.id.clone(), e.primary_ip))
            .collect();
        Sut {
            world,
            now: 0,
            primaries,
        }
    }

    fn apply(mut sut: Sut, m: &Model, step: Step) -> Sut {
        STEPS.fetch_add(1, Ordering::Relaxed);
        let before = snapshot(&sut.world, m);
        let w = &mut sut.world;
        let got = match &step {
            Step::Assign(a) => {
                let req = AssignRequest {
                    explicit: a.explicit.iter().map(|x| ip(*x)).collect(),
                    count: a.count,
                    allow_reassign: a.reassign,
                    subnet: a.subnet.map(|s| NAMED_SUBNETS[s].to_string()),
                    visibility: a.visibility,
                };
                Outcome::Assigned(w.assign(&a.scope.world(), ENI_IDS[a.eni], &req))
            }
            Step::Unassign(u) => {
                let ips: Vec<Ipv4Addr> = u.ips.iter().map(|x| ip(*x)).collect();
                Outcome::Unassigned(w.unassign(
                    &u.scope.world(),
                    ENI_IDS[u.eni],
                    &ips,
                    u.visibility,
                ))
            }
            Step::Describe(d) => {
                let filter = EniFilter {
                    ids: d.ids.iter().map(|e| ENI_IDS[*e].to_string()).collect(),
                    ..EniFilter::default()
                };
                let mut found: Vec<(String, Vec<Ipv4Addr>)> = w
                    .describe(&d.scope.world(), &filter)
                    .into_iter()
                    .map(|e| (e.id.clone(), e.secondaries().collect()))
                    .collect();
                found.sort();
                Outcome::Described(found)
            }
            Step::Task { account, id } => Outcome::Task(w.task(ACCOUNTS[*account], *id)),
            Step::Advance(ms) => {
                sut.now += ms;
                w.settle(at(sut.now));
                Outcome::Advanced
            }
        };
        tally(&got);
        assert_eq!(
            Some(&got),
            m.last.as_ref(),
            "the world and the model answer {step:?} differently"
        );
        let refused = matches!(got, Outcome::Assigned(Err(_)) | Outcome::Unassigned(Err(_)))
            || matches!(got, Outcome::Described(_) | Outcome::Task(_));
        if refused {
            assert_eq!(
                snapshot(&sut.world, m),
                before,
                "{step:?} was refused or only read, yet changed the world"
            );
        }
        sut
    }

    fn check_invariants(sut: &Sut, m: &Model) {
        let w = &sut.world;
        // No address on two interfaces; every address inside its subnet,
        // usable there, and held there by the interface that lists it.
        let mut seen: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
        for eni in w.all_enis() {
            assert_eq!(
                Some(&eni.primary_ip),
                sut.primaries.get(&eni.id),
                "{}: the primary changed",
                eni.id
            );
            let own = w.subnet(&eni.subnet).unwrap();
            assert_eq!(own.owner(eni.primary_ip), Some(eni.id.as_str()));
            for x in std::iter::once(eni.primary_ip).chain(eni.secondaries()) {
                if let Some(other) = seen.insert(x, &eni.id) {
                    panic!("{x} is on {other} and on {}", eni.id);
                }
                let subnet = eni.subnet_of(x).unwrap_or(&eni.subnet);
                let sub = w.subnet(subnet).unwrap();
                assert!(sub.cidr.contains(&x), "{x} outside {}", sub.cidr);
                assert!(
                    sub.allocator().is_usable(n(x)),
                    "{x} is a network, broadcast or reserved address of {}",
                    sub.cidr
                );
                assert!(!sub.is_free(x), "{x} is listed on {} but free", eni.id);
                assert_eq!(sub.owner(x), Some(eni.id.as_str()), "owner of {x}");
            }
            // Quotas: the limit the world applies, and the model's, which
            // counts the primary for an attached interface of a t4.
            let limit = w.secondary_limit(eni);
            assert!(
                eni.secondary_count() as u64 <= u64::from(limit),
                "{} holds {} secondaries over its limit {limit}",
                eni.id,
                eni.secondary_count()
            );
            let me = m.enis.iter().find(|x| x.id == eni.id).unwrap();
            assert_eq!(limit, me.limit, "{}: limit", eni.id);
        }
        // Each subnet: free count = usable size - held; every address free
        // exactly when no one holds it; never a reserved address held.
        for s in &m.subnets {
            let sub = w.subnet(s.id).unwrap();
            let alloc = sub.allocator();
            let mut held = 0u64;
            for x in s.network..=s.broadcast {
                let owner = sub.owner(ip(x));
                if !s.usable(x) {
                    assert!(!alloc.is_usable(x) && !alloc.is_free(x) && owner.is_none());
                    continue;
                }
                assert_eq!(alloc.is_free(x), owner.is_none(), "{}: {}", s.id, ip(x));
                held += u64::from(owner.is_some());
                let model_owner = m.holder.get(&x).map(|e| m.enis[*e].id);
                assert_eq!(owner, model_owner, "{}: holder of {}", s.id, ip(x));
            }
            let usable = u64::from(s.last - s.first + 1);
            assert_eq!(
                alloc.free_count(),
                usable - held,
                "{}: free count against usable {usable} minus held {held}",
                s.id
            );
        }
        // And the model's view of each interface.
        for me in &m.enis {
            let eni = w
                .all_enis()
                .find(|e| e.id == me.id)
                .expect("every interface exists");
            let listed: Vec<Ipv4Addr> = me.listed.iter().map(|(x, _)| ip(*x)).collect();
            assert_eq!(
                eni.secondaries().collect::<Vec<_>>(),
                listed,
                "{}: secondaries",
                me.id
            );
            assert_eq!(eni.running_task(), me.task, "{}: task", me.id);
        }
    }
}

/// Runs `cases` sequences of 1 to 40 steps; on a failure, panics with the
/// shrunk sequence.
fn run(cases: u32) {
    let before = (
        SEQUENCES.load(Ordering::Relaxed),
        STEPS.load(Ordering::Relaxed),
    );
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 20_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let strategy = ModelWorld::sequential_strategy(1..40);
    let result = runner.run(&strategy, |(initial, steps, seen)| {
        WorldTest::test_sequential(config.clone(), initial, steps, seen);
        Ok(())
    });
    let sequences = SEQUENCES.load(Ordering::Relaxed) - before.0;
    let steps = STEPS.load(Ordering::Relaxed) - before.1;
    if cases >= 300 {
        // Sequences that never reached these would prove little.
        let seen = TALLY.lock().unwrap();
        for kind in [
            "assign",
            "unassign",
            "in-use",
            "quota",
            "exhausted",
            "busy",
            "primary",
            "not-on-eni",
            "reserved",
            "task-succeeded",
            "task-failed",
            "eni-not-found",
        ] {
            assert!(
                seen.get(kind).is_some_and(|n| *n > 0),
                "no step ended `{kind}`: {seen:?}"
            );
        }
    }
    match result {
        Ok(()) => {
            println!(
                "model: {sequences} sequences, {steps} steps, world and model agreed after every step, 0 failures"
            );
            println!("outcomes: {:?}", TALLY.lock().unwrap());
        }
        Err(TestError::Fail(why, (_, steps, _))) => {
            panic!("the world departs from the model: {why}\nshrunk sequence:\n{steps:#?}")
        }
        Err(TestError::Abort(why)) => panic!("aborted: {why}"),
    }
}

#[test]
fn world_agrees_with_the_model_over_random_sequences() {
    run(300);
}

/// The documented long run: `IPCONFORM_MODEL_CASES` sequences (100,000 by
/// default).
#[test]
#[ignore = "long: run with IPCONFORM_MODEL_CASES=100000 cargo test --release --test model -- --ignored --nocapture"]
fn world_agrees_with_the_model_long() {
    let cases = std::env::var("IPCONFORM_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    run(cases);
}
