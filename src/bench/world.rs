//! The bench's world and its pre-signed requests, for every dialect.
//!
//! The world is written as a world file (YAML), so that the emulator under
//! measure is the one a user runs, `ipconform emulate --world FILE`, in a
//! process of its own: its CPU and memory are then its own, not shared
//! with the client. Every address is laid out here (nothing is left to the
//! allocator) so that each request can be signed before the clock starts:
//! connection `i` cycles one address on interface `i`, and cycles of
//! different connections never touch the same interface or address.
//!
//! Requests are signed with the project's own clients
//! ([`crate::dialect::ClientDialect::encode`]), each with a fresh nonce and
//! the current time, so that the emulator checks every signature, nonce
//! and clock window exactly as it does for the harness.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use bytes::Bytes;

use super::loadgen::{self, Check};
use crate::dialect::{Call, CallContext, DialectId, Method};
use crate::fixtures::{Credentials, Secret};

/// Interfaces that cycle, per dialect: one per connection, at most.
pub const MAX_CONNECTIONS: usize = 8;

/// The interface sizes a Describe is measured on.
pub const DESCRIBE_SIZES: [u32; 3] = [10, 100, 1000];

/// What a bench world holds beyond its cycling interfaces.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Secondaries held by a filler interface in the ECS vSwitch the
    /// cycles run in (the cost-growth table's crowded vSwitch).
    pub held: u32,
    /// Whether to include the Describe interfaces (10, 100 and 1,000
    /// secondaries) of every dialect.
    pub describe: bool,
}

/// Where one dialect lives in the bench world.
struct Place {
    dialect: DialectId,
    account: &'static str,
    key_id: &'static str,
    secret: &'static str,
    region: &'static str,
    zone: &'static str,
    vpc: &'static str,
    vpc_cidr: &'static str,
    /// The subnet every interface of the dialect is in (ENS: the Describe
    /// interfaces only; each cycling ENS interface has a vSwitch of its
    /// own, since ENS picks the address itself).
    subnet: &'static str,
    subnet_cidr: &'static str,
    reserved: (u32, u32),
}

const PLACES: [Place; 4] = [
    Place {
        dialect: DialectId::AlibabaEcs,
        account: "bench-ecs",
        key_id: "LTAIbenchEcsKey000000001",
        secret: "benchEcsSecret00000000000000001",
        region: "cn-hangzhou",
        zone: "cn-hangzhou-h",
        vpc: "vpc-bench-ecs",
        vpc_cidr: "10.0.0.0/12",
        subnet: "vsw-bench-ecs",
        subnet_cidr: "10.0.0.0/14",
        reserved: (1, 3),
    },
    Place {
        dialect: DialectId::AlibabaEns,
        account: "bench-ens",
        key_id: "LTAIbenchEnsKey000000001",
        secret: "benchEnsSecret00000000000000001",
        region: "cn-chengdu-telecom",
        zone: "cn-chengdu-telecom",
        vpc: "n-bench-ens",
        vpc_cidr: "10.16.0.0/12",
        subnet: "vsw-bench-ens-d",
        subnet_cidr: "10.20.0.0/16",
        reserved: (1, 3),
    },
    Place {
        dialect: DialectId::TencentVpcV2,
        account: "100000009001",
        key_id: "AKIDbenchTcKey00000000000000000001",
        secret: "benchTcSecret0000000000000000001",
        region: "ap-guangzhou",
        zone: "ap-guangzhou-3",
        vpc: "vpc-benchtc1",
        vpc_cidr: "10.32.0.0/12",
        subnet: "subnet-benchtc1",
        subnet_cidr: "10.32.0.0/14",
        reserved: (1, 2),
    },
    Place {
        dialect: DialectId::NaverVpc,
        account: "ncp-bench",
        key_id: "ncpBenchAccessKey0000001",
        secret: "ncpBenchSecretKey00000000000000000000001",
        region: "KR",
        zone: "KR-1",
        vpc: "19001",
        vpc_cidr: "10.48.0.0/12",
        subnet: "29001",
        subnet_cidr: "10.48.0.0/14",
        reserved: (6, 1),
    },
];

fn place(dialect: DialectId) -> &'static Place {
    // PLACES has every dialect; ECS stands in should a new one be added
    // without its place (its requests would then fail loudly, not panic).
    PLACES
        .iter()
        .find(|p| p.dialect == dialect)
        .unwrap_or(&PLACES[0])
}

/// The first address of a place's subnet, as a number.
fn base(p: &Place) -> u32 {
    let net = p.subnet_cidr.split('/').next().unwrap_or("0.0.0.0");
    net.parse::<Ipv4Addr>().map(u32::from).unwrap_or(0)
}

fn ip(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(n)
}

// Offsets inside a subnet: cycling primaries, Describe primaries, the
// filler's primary, cycled addresses, then the Describe interfaces' and
// the filler's secondaries, none overlapping (a /14 holds them all).
const CYCLE_PRIMARY: u32 = 16;
const DESCRIBE_PRIMARY: u32 = 100;
const FILLER_PRIMARY: u32 = 200;
const CYCLE_IP: u32 = 256;
const DESCRIBE_SECONDARIES: u32 = 1024;
const FILLER_SECONDARIES: u32 = 4096;

/// The credentials the bench signs with for `dialect`.
pub fn credentials(dialect: DialectId) -> Credentials {
    let p = place(dialect);
    Credentials {
        access_key_id: p.key_id.into(),
        access_key_secret: Secret::new(p.secret),
    }
}

/// The interface connection `i` cycles on.
fn cycle_eni(dialect: DialectId, i: usize) -> String {
    match dialect {
        DialectId::AlibabaEcs => format!("eni-bench-ecs-c{i}"),
        DialectId::AlibabaEns => format!("eni-bench-ens-c{i}"),
        DialectId::TencentVpcV2 => format!("eni-bench-tc-c{i}"),
        // NAVER numbers its interfaces.
        DialectId::NaverVpc => (391_000 + i).to_string(),
    }
}

/// The interface holding `size` secondaries, for Describe.
fn describe_eni(dialect: DialectId, size: u32) -> String {
    match dialect {
        DialectId::AlibabaEcs => format!("eni-bench-ecs-d{size}"),
        DialectId::AlibabaEns => format!("eni-bench-ens-d{size}"),
        DialectId::TencentVpcV2 => format!("eni-bench-tc-d{size}"),
        DialectId::NaverVpc => (392_000 + size).to_string(),
    }
}

/// The ENS vSwitch of cycling interface `i`: ENS assigns the lowest free
/// address of the interface's vSwitch (it cannot be told which), so each
/// connection has a vSwitch of its own, where that address is always `.1`.
fn ens_cycle_vswitch(i: usize) -> (String, Ipv4Addr) {
    (
        format!("vsw-bench-ens-c{i}"),
        Ipv4Addr::new(10, 16, i as u8, 0),
    )
}

/// The address connection `i` assigns and unassigns, over and over.
fn cycle_ip(dialect: DialectId, i: usize) -> Ipv4Addr {
    match dialect {
        DialectId::AlibabaEns => {
            let net = u32::from(ens_cycle_vswitch(i).1);
            ip(net + 1)
        }
        d => ip(base(place(d)) + CYCLE_IP + i as u32),
    }
}

/// The Describe interfaces' secondaries, one run after another.
fn describe_secondaries(dialect: DialectId, size: u32) -> std::ops::Range<u32> {
    let before: u32 = DESCRIBE_SIZES.iter().take_while(|&&s| s != size).sum();
    let start = base(place(dialect)) + DESCRIBE_SECONDARIES + before;
    start..start + size
}

/// The bench world as a world file.
pub fn world_yaml(layout: &Layout) -> String {
    let mut y = String::with_capacity(4096 + layout.held as usize * 14);
    y.push_str("# Written by `ipconform bench`; see src/bench/world.rs.\naccounts:\n");
    for p in &PLACES {
        let _ = writeln!(
            y,
            "  - {{id: \"{}\", access_keys: [{{id: {}, secret: {}}}]}}",
            p.account, p.key_id, p.secret
        );
    }
    y.push_str("regions:\n");
    for p in &PLACES {
        let _ = writeln!(
            y,
            "  - {{id: {}, service: {}, zones: [{}]}}",
            p.region, p.dialect, p.zone
        );
    }
    y.push_str("vpcs:\n");
    for p in &PLACES {
        let _ = writeln!(
            y,
            "  - {{id: \"{}\", account: \"{}\", region: {}, cidr: {}}}",
            p.vpc, p.account, p.region, p.vpc_cidr
        );
    }
    // No change delay anywhere: Tencent's tasks end at once and NAVER's
    // interfaces never read SET, so a cycle's unassign never meets a busy
    // interface.
    y.push_str("subnets:\n");
    for p in &PLACES {
        let _ = writeln!(
            y,
            "  - {{id: \"{}\", vpc: \"{}\", zone: {}, cidr: {}, reserved: {{first: {}, last: {}}}}}",
            p.subnet, p.vpc, p.zone, p.subnet_cidr, p.reserved.0, p.reserved.1
        );
    }
    let ens = place(DialectId::AlibabaEns);
    for i in 0..MAX_CONNECTIONS {
        let (id, net) = ens_cycle_vswitch(i);
        let _ = writeln!(
            y,
            "  - {{id: {id}, vpc: {}, zone: {}, cidr: {net}/24, reserved: {{first: 1, last: 3}}}}",
            ens.vpc, ens.zone
        );
    }
    y.push_str("enis:\n");
    for p in &PLACES {
        let b = base(p);
        for i in 0..MAX_CONNECTIONS {
            let (subnet, primary) = match p.dialect {
                DialectId::AlibabaEns => {
                    let (id, net) = ens_cycle_vswitch(i);
                    (id, ip(u32::from(net) + 10))
                }
                _ => (p.subnet.to_string(), ip(b + CYCLE_PRIMARY + i as u32)),
            };
            let _ = writeln!(
                y,
                "  - {{id: \"{}\", account: \"{}\", region: {}, subnet: \"{subnet}\", state: Available, primary_ip: {primary}}}",
                cycle_eni(p.dialect, i),
                p.account,
                p.region
            );
        }
        if layout.describe {
            for (k, &size) in DESCRIBE_SIZES.iter().enumerate() {
                let _ = write!(
                    y,
                    "  - {{id: \"{}\", account: \"{}\", region: {}, subnet: \"{}\", state: Available, primary_ip: {}, max_secondaries: {size}, secondary_ips: [",
                    describe_eni(p.dialect, size),
                    p.account,
                    p.region,
                    p.subnet,
                    ip(b + DESCRIBE_PRIMARY + k as u32)
                );
                list(&mut y, describe_secondaries(p.dialect, size));
                y.push_str("]}\n");
            }
        }
        if p.dialect == DialectId::AlibabaEcs && layout.held > 0 {
            let _ = write!(
                y,
                "  - {{id: eni-bench-ecs-filler, account: \"{}\", region: {}, subnet: {}, state: Available, primary_ip: {}, max_secondaries: {}, secondary_ips: [",
                p.account,
                p.region,
                p.subnet,
                ip(b + FILLER_PRIMARY),
                layout.held
            );
            let start = b + FILLER_SECONDARIES;
            list(&mut y, start..start + layout.held);
            y.push_str("]}\n");
        }
    }
    y.push_str("fixtures:\n");
    for p in &PLACES {
        let _ = writeln!(
            y,
            "  {}:\n    values: {{region: {}}}\n    credentials:\n      default: {{access_key_id: {}, access_key_secret: {}}}",
            p.dialect, p.region, p.key_id, p.secret
        );
    }
    y
}

fn list(y: &mut String, addresses: std::ops::Range<u32>) {
    for (n, a) in addresses.enumerate() {
        if n > 0 {
            y.push_str(", ");
        }
        let _ = write!(y, "{}", ip(a));
    }
}

/// What a success of `dialect` looks like to the load generator.
pub fn check(dialect: DialectId) -> Check {
    match dialect {
        DialectId::TencentVpcV2 => Check::TencentCodeZero,
        DialectId::NaverVpc => Check::NaverReturnCodeZero,
        DialectId::AlibabaEcs | DialectId::AlibabaEns => Check::Status200,
    }
}

fn p(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

/// Signs one call with `dialect`'s client, its default signing variant,
/// a fresh nonce and the current time; the bytes to send to `host`.
pub fn signed(
    dialect: DialectId,
    host: &str,
    operation: &str,
    params: &[(String, String)],
) -> Bytes {
    let wire = signed_wire(dialect, host, operation, params);
    loadgen::serialize(
        wire.method.as_str(),
        &wire.path_and_query,
        host,
        &wire.headers,
        wire.body.as_deref(),
    )
}

/// A signed request as the project's client builds it (for a client
/// that sends it itself).
pub fn signed_wire(
    dialect: DialectId,
    host: &str,
    operation: &str,
    params: &[(String, String)],
) -> crate::dialect::WireRequest {
    let client = dialect.client();
    let credentials = credentials(dialect);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    client.encode(&Call {
        operation,
        params,
        headers: &[],
        credentials: &credentials,
        context: CallContext {
            host,
            now: chrono::Utc::now(),
            nonce: &nonce,
            signing: client.signing_variants().first().copied().unwrap_or(""),
            method: Method::Get,
        },
    })
}

/// `cycles` assign+unassign pairs of connection `i`, signed now.
pub fn cycle_requests(dialect: DialectId, host: &str, i: usize, cycles: usize) -> Vec<Bytes> {
    let pl = place(dialect);
    let eni = cycle_eni(dialect, i);
    let address = cycle_ip(dialect, i).to_string();
    let (assign_op, assign, unassign_op, unassign) = match dialect {
        DialectId::AlibabaEcs => (
            "AssignPrivateIpAddresses",
            vec![
                p("RegionId", pl.region),
                p("NetworkInterfaceId", &eni),
                p("PrivateIpAddress.1", &address),
            ],
            "UnassignPrivateIpAddresses",
            vec![
                p("RegionId", pl.region),
                p("NetworkInterfaceId", &eni),
                p("PrivateIpAddress.1", &address),
            ],
        ),
        // ENS takes no address: it hands out the lowest free one of the
        // interface's own vSwitch, which is `address`.
        DialectId::AlibabaEns => (
            "AssignPrivateIpAddresses",
            vec![p("NetworkInterfaceId", &eni)],
            "UnassignPrivateIpAddresses",
            vec![
                p("NetworkInterfaceId", &eni),
                p("PrivateIpAddress.1", &address),
            ],
        ),
        DialectId::TencentVpcV2 => (
            "AssignPrivateIpAddresses",
            vec![
                p("Region", pl.region),
                p("vpcId", pl.vpc),
                p("networkInterfaceId", &eni),
                p("privateIpAddressSet.0.privateIpAddress", &address),
            ],
            "UnassignPrivateIpAddresses",
            vec![
                p("Region", pl.region),
                p("vpcId", pl.vpc),
                p("networkInterfaceId", &eni),
                p("privateIpAddress.0", &address),
            ],
        ),
        DialectId::NaverVpc => (
            "assignSecondaryIps",
            vec![
                p("regionCode", pl.region),
                p("networkInterfaceNo", &eni),
                p("secondaryIpList.1", &address),
                p("responseFormatType", "json"),
            ],
            "unassignSecondaryIps",
            vec![
                p("regionCode", pl.region),
                p("networkInterfaceNo", &eni),
                p("secondaryIpList.1", &address),
                p("responseFormatType", "json"),
            ],
        ),
    };
    let mut out = Vec::with_capacity(cycles * 2);
    for _ in 0..cycles {
        out.push(signed(dialect, host, assign_op, &assign));
        out.push(signed(dialect, host, unassign_op, &unassign));
    }
    out
}

/// The Describe (or the dialect's equivalent) of the interface holding
/// `size` secondaries: operation and parameters.
pub fn describe_call(dialect: DialectId, size: u32) -> (&'static str, Vec<(String, String)>) {
    let pl = place(dialect);
    let eni = describe_eni(dialect, size);
    match dialect {
        DialectId::AlibabaEcs => (
            "DescribeNetworkInterfaces",
            vec![p("RegionId", pl.region), p("NetworkInterfaceId.1", eni)],
        ),
        DialectId::AlibabaEns => (
            "DescribeNetworkInterfaces",
            vec![p("NetworkInterfaceId", eni)],
        ),
        DialectId::TencentVpcV2 => (
            "DescribeNetworkInterfaces",
            vec![p("Region", pl.region), p("networkInterfaceId", eni)],
        ),
        DialectId::NaverVpc => (
            "getNetworkInterfaceDetail",
            vec![
                p("regionCode", pl.region),
                p("networkInterfaceNo", eni),
                p("responseFormatType", "json"),
            ],
        ),
    }
}

/// `n` signed Describes of the interface holding `size` secondaries.
pub fn describe_requests(dialect: DialectId, host: &str, size: u32, n: usize) -> Vec<Bytes> {
    let (operation, params) = describe_call(dialect, size);
    (0..n)
        .map(|_| signed(dialect, host, operation, &params))
        .collect()
}

/// The last secondary of the interface holding `size`: a Describe body
/// that lists it lists them all (checked once, outside the timing).
pub fn describe_marker(dialect: DialectId, size: u32) -> String {
    let range = describe_secondaries(dialect, size);
    format!("\"{}\"", ip(range.end - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::world::{World, WorldFile};

    #[test]
    fn the_bench_world_loads_and_holds_what_the_requests_assume() {
        let text = world_yaml(&Layout {
            held: 1000,
            describe: true,
        });
        let file = WorldFile::from_yaml(&text, "bench").unwrap();
        let world = World::build(&file).unwrap();
        let ecs_filler = world
            .all_enis()
            .find(|e| e.id == "eni-bench-ecs-filler")
            .unwrap();
        assert_eq!(ecs_filler.secondary_count(), 1000);
        for &d in DialectId::ALL {
            for &size in &DESCRIBE_SIZES {
                let eni = world
                    .all_enis()
                    .find(|e| e.id == describe_eni(d, size))
                    .unwrap();
                assert_eq!(eni.secondary_count(), size as usize, "{d} {size}");
            }
            for i in 0..MAX_CONNECTIONS {
                let eni = world.all_enis().find(|e| e.id == cycle_eni(d, i)).unwrap();
                assert_eq!(eni.secondary_count(), 0);
                let subnet = world.subnet(&eni.subnet).unwrap();
                assert!(subnet.is_free(cycle_ip(d, i)), "{d} {i}");
            }
        }
    }
}
