//! Load with nothing lost: one emulator on loopback, 16 concurrent
//! connections sending mixed signed operations of every dialect (assign by
//! count and by address, unassign, describe, task polls; Alibaba v1 and V3,
//! Tencent HmacSHA1 and HmacSHA256, NAVER's two signature headers; GET and
//! POST; refusals on purpose), each through the emulator's real request
//! path, then:
//!
//! - every reply is its vendor's envelope (a refusal with its documented
//!   status), and no transport error happened;
//! - every change a connection saw acknowledged is in the world, and
//!   nothing else is: each interface lists exactly the union of what the
//!   connections hold on it (each connection also checks its own
//!   interfaces as it goes, by describing them);
//! - the world's invariants hold: no address on two interfaces, none
//!   reserved, quotas, free counts;
//! - the nonce stores stay bounded by their windows: their size and the
//!   process's memory are printed before, after the load, and after the
//!   emulator's clock passes the windows, when one request leaves one nonce.
//!
//! Interfaces are each connection's own (for exact expectations while
//! running) plus two shared per dialect that all connections contend for.
//! Bounded by request count and by time; loopback only.
//!
//! `cargo test` runs a short version. The documented long run:
//!
//! ```sh
//! IPCONFORM_LOAD_REQUESTS=100000 cargo test --release --test load -- --ignored --nocapture
//! ```

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::judge;
use ipconform::dialect::{DialectId, Method};
use ipconform::emulator::world::WorldFile;
use ipconform::emulator::EmulatorState;
use ipconform::fixtures::{Credentials, Secret};
use serde_json::Value;

const WORKERS: usize = 16;
const SHARED: usize = 2;

fn load_world() -> String {
    let mut enis = String::new();
    for (prefix, region, subnet) in [
        ("eni-ecs", "r-ecs", "vsw-ecs"),
        ("eni-ens", "r-ens", "vsw-ens"),
        ("eni-tc", "r-tc", "subnet-tc"),
    ] {
        let account = if prefix == "eni-tc" { "tc" } else { "ali" };
        for w in 0..WORKERS {
            enis += &format!("  - {{id: {prefix}-own-{w}, account: {account}, region: {region}, subnet: {subnet}, state: Available}}\n");
        }
        for s in 0..SHARED {
            enis += &format!("  - {{id: {prefix}-shared-{s}, account: {account}, region: {region}, subnet: {subnet}, state: Available}}\n");
        }
    }
    for w in 0..WORKERS {
        enis += &format!(
            "  - {{id: \"{}\", account: nc, region: KR, subnet: \"200\", state: Available}}\n",
            3000 + w
        );
    }
    for s in 0..SHARED {
        enis += &format!(
            "  - {{id: \"{}\", account: nc, region: KR, subnet: \"200\", state: Available}}\n",
            3900 + s
        );
    }
    format!(
        r#"
accounts:
  - id: ali
    access_keys: [{{id: LTAIload1, secret: loadAliSecret1}}, {{id: LTAIload2, secret: loadAliSecret2}}]
  - id: tc
    access_keys: [{{id: AKIDload1, secret: loadTcSecret1}}, {{id: AKIDload2, secret: loadTcSecret2}}]
  - id: nc
    access_keys: [{{id: ncpLoad1, secret: loadNcSecret1}}, {{id: ncpLoad2, secret: loadNcSecret2}}]
regions:
  - {{id: r-ecs, service: alibaba-ecs, zones: [r-ecs-a]}}
  - {{id: r-ens, service: alibaba-ens, zones: [r-ens]}}
  - {{id: r-tc, service: tencent-vpc-v2, zones: [r-tc-3]}}
  - {{id: KR, service: naver-vpc, zones: [KR-1]}}
vpcs:
  - {{id: vpc-ecs, account: ali, region: r-ecs, cidr: 10.10.0.0/16}}
  - {{id: n-ens, account: ali, region: r-ens, cidr: 10.11.0.0/16}}
  - {{id: vpc-tc, account: tc, region: r-tc, cidr: 10.12.0.0/16}}
  - {{id: "100", account: nc, region: KR, cidr: 10.13.0.0/16}}
subnets:
  - {{id: vsw-ecs, vpc: vpc-ecs, zone: r-ecs-a, cidr: 10.10.0.0/22, reserved: {{first: 1, last: 3}}}}
  - {{id: vsw-ens, vpc: n-ens, zone: r-ens, cidr: 10.11.0.0/22, reserved: {{first: 1, last: 3}}}}
  - {{id: subnet-tc, vpc: vpc-tc, zone: r-tc-3, cidr: 10.12.0.0/22, reserved: {{first: 1, last: 2}}, secondary_limit: 9, change_delay: 20ms}}
  - {{id: "200", vpc: "100", zone: KR-1, cidr: 10.13.0.0/22, reserved: {{first: 6, last: 1}}, secondary_limit: 5, change_delay: 10ms}}
enis:
{enis}"#
    )
}

/// Per dialect: its interfaces, its subnet's base, its limit.
struct Dialect {
    id: DialectId,
    own: fn(usize) -> String,
    shared: fn(usize) -> String,
    base: Ipv4Addr,
    limit: usize,
}

fn dialects() -> [Dialect; 4] {
    [
        Dialect {
            id: DialectId::AlibabaEcs,
            own: |w| format!("eni-ecs-own-{w}"),
            shared: |s| format!("eni-ecs-shared-{s}"),
            base: Ipv4Addr::new(10, 10, 0, 0),
            limit: 10,
        },
        Dialect {
            id: DialectId::AlibabaEns,
            own: |w| format!("eni-ens-own-{w}"),
            shared: |s| format!("eni-ens-shared-{s}"),
            base: Ipv4Addr::new(10, 11, 0, 0),
            limit: 10,
        },
        Dialect {
            id: DialectId::TencentVpcV2,
            own: |w| format!("eni-tc-own-{w}"),
            shared: |s| format!("eni-tc-shared-{s}"),
            base: Ipv4Addr::new(10, 12, 0, 0),
            limit: 9,
        },
        Dialect {
            id: DialectId::NaverVpc,
            own: |w| (3000 + w).to_string(),
            shared: |s| (3900 + s).to_string(),
            base: Ipv4Addr::new(10, 13, 0, 0),
            limit: 5,
        },
    ]
}

fn creds(dialect: DialectId, n: usize) -> Credentials {
    let (id, secret) = match dialect {
        DialectId::AlibabaEcs | DialectId::AlibabaEns => ("LTAIload", "loadAliSecret"),
        DialectId::TencentVpcV2 => ("AKIDload", "loadTcSecret"),
        DialectId::NaverVpc => ("ncpLoad", "loadNcSecret"),
    };
    Credentials {
        access_key_id: format!("{id}{}", n % 2 + 1),
        access_key_secret: Secret::new(format!("{secret}{}", n % 2 + 1)),
    }
}

/// A small deterministic generator per connection.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One connection: its HTTP client, what it holds where, its counters.
struct Worker {
    w: usize,
    http: reqwest::Client,
    base: String,
    host: String,
    state: Arc<EmulatorState>,
    rng: Rng,
    held: BTreeMap<String, BTreeSet<Ipv4Addr>>,
    sent: Arc<AtomicU64>,
    refusals: BTreeMap<String, u64>,
    secrets: Arc<Vec<String>>,
}

type Outcome = Result<(String, Value), String>;

impl Worker {
    /// Sends one signed call; the reply must be in its envelope. Returns
    /// the refusal's code ("" on success) and the body as JSON.
    async fn call(&mut self, d: DialectId, op: &str, params: &[(&str, String)]) -> Outcome {
        let variants = d.client().signing_variants();
        let signing = variants[self.rng.below(variants.len())];
        let method = if self.rng.below(3) == 0 {
            Method::Post
        } else {
            Method::Get
        };
        let creds = creds(d, self.rng.below(2));
        let wire = common::signed_with(
            &self.state,
            &self.host,
            &creds,
            d,
            op,
            params,
            Some(signing),
            method,
        );
        let mut request = self.http.request(
            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
            format!("{}{}", self.base, wire.path_and_query),
        );
        for (k, v) in &wire.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some(body) = wire.body {
            request = request.body(body);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let response = request
            .send()
            .await
            .map_err(|e| format!("transport error on {op}: {e}"))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response
            .text()
            .await
            .map_err(|e| format!("transport error reading {op}: {e}"))?;
        let path = wire.path_and_query.split('?').next().unwrap().to_string();
        let reply = common::Reply {
            status,
            content_type,
            body,
        };
        let code = judge(&path, &reply, &self.secrets).map_err(|e| format!("{op}: {e}"))?;
        if !code.is_empty() {
            *self.refusals.entry(format!("{d} {code}")).or_default() += 1;
        }
        let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        Ok((code, json))
    }

    fn held_on(&mut self, eni: &str) -> &mut BTreeSet<Ipv4Addr> {
        self.held.entry(eni.to_string()).or_default()
    }

    /// An address of this connection's own range of `d`'s subnet, not held.
    fn pool_ip(&mut self, d: &Dialect) -> Ipv4Addr {
        let start = u32::from(d.base) + 512 + 16 * self.w as u32;
        let mine: BTreeSet<Ipv4Addr> = self.held.values().flatten().copied().collect();
        let free: Vec<Ipv4Addr> = (start..start + 16)
            .map(Ipv4Addr::from)
            .filter(|ip| !mine.contains(ip))
            .collect();
        free[self.rng.below(free.len())]
    }

    /// Another connection's address: never ours to assign or release.
    fn foreign_ip(&mut self, d: &Dialect) -> Ipv4Addr {
        let other = (self.w + 1 + self.rng.below(WORKERS - 1)) % WORKERS;
        Ipv4Addr::from(u32::from(d.base) + 512 + 16 * other as u32 + self.rng.below(16) as u32)
    }

    async fn step(&mut self, d: &Dialect) -> Result<(), String> {
        let shared = self.rng.below(4) == 0;
        let eni = if shared {
            (d.shared)(self.rng.below(SHARED))
        } else {
            (d.own)(self.w)
        };
        let mine = self.held_on(&eni).len();
        let roll = self.rng.below(10);
        let cap = if shared { 2 } else { d.limit - 1 };
        match roll {
            0..=3 if mine < cap => self.assign(d, &eni, shared).await,
            0..=6 if mine > 0 => {
                let ips: Vec<Ipv4Addr> = self.held[&eni].iter().copied().collect();
                let ip = ips[self.rng.below(ips.len())];
                self.unassign(d, &eni, ip).await
            }
            7 => {
                // Refused on purpose: release, from our own interface, an
                // address of another connection's range (a shared
                // interface may really hold it).
                let ip = self.foreign_ip(d);
                let own = (d.own)(self.w);
                self.unassign_refused(d, &own, ip).await
            }
            _ => self.describe_own(d).await,
        }
    }

    async fn assign(&mut self, d: &Dialect, eni: &str, shared: bool) -> Result<(), String> {
        // By address from our own range, or (where the reply says which
        // addresses came) by count.
        let by_count = !shared && self.rng.below(2) == 0 || d.id == DialectId::AlibabaEns;
        let explicit = (!by_count).then(|| self.pool_ip(d));
        let before: BTreeSet<Ipv4Addr> = self.held_on(eni).clone();
        match d.id {
            DialectId::AlibabaEcs => {
                let mut p = vec![
                    ("RegionId", "r-ecs".to_string()),
                    ("NetworkInterfaceId", eni.to_string()),
                ];
                match explicit {
                    Some(ip) => p.push(("PrivateIpAddress.1", ip.to_string())),
                    None => p.push(("SecondaryPrivateIpAddressCount", "1".into())),
                }
                let (code, body) = self.call(d.id, "AssignPrivateIpAddresses", &p).await?;
                if code.is_empty() {
                    let got =
                        ips(&body["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]
                            ["PrivateIpAddress"]);
                    expect(explicit.is_none_or(|ip| got == [ip]), "ECS assign", &body)?;
                    self.held_on(eni).extend(got);
                } else {
                    refusal_ok(&code, &["InvalidOperation.Ipv4CountExceeded"], "ECS assign")?;
                }
            }
            DialectId::AlibabaEns => {
                let p = [("NetworkInterfaceId", eni.to_string())];
                let (code, body) = self.call(d.id, "AssignPrivateIpAddresses", &p).await?;
                if code.is_empty() {
                    let got = ips(&body["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]);
                    expect(got.len() == 1, "ENS assign", &body)?;
                    self.held_on(eni).extend(got);
                } else {
                    refusal_ok(&code, &["MaxEniPrivateIpsCountExceeded"], "ENS assign")?;
                }
            }
            DialectId::TencentVpcV2 => {
                let mut p = vec![
                    ("Region", "r-tc".to_string()),
                    ("vpcId", "vpc-tc".to_string()),
                    ("networkInterfaceId", eni.to_string()),
                ];
                match explicit {
                    Some(ip) => p.push(("privateIpAddressSet.0.privateIpAddress", ip.to_string())),
                    None => p.push(("secondaryPrivateIpAddressCount", "1".into())),
                }
                let (code, body) = self.call(d.id, "AssignPrivateIpAddresses", &p).await?;
                if code.is_empty() {
                    self.wait_task(&body).await?;
                    match explicit {
                        Some(ip) => {
                            self.held_on(eni).insert(ip);
                        }
                        None => {
                            // Our own interface: what it lists now, less
                            // what it held, is what the task added.
                            let now = self.listed_tc(eni).await?;
                            let added: Vec<Ipv4Addr> = now.difference(&before).copied().collect();
                            expect(
                                added.len() == 1 && before.is_subset(&now),
                                "Tencent assign",
                                &body,
                            )?;
                            self.held_on(eni).extend(added);
                        }
                    }
                } else {
                    refusal_ok(
                        &code,
                        &[
                            "UnsupportedOperation.MutexOperationTaskRunning",
                            "LimitExceeded",
                        ],
                        "Tencent assign",
                    )?;
                }
            }
            DialectId::NaverVpc => {
                let mut p = vec![
                    ("regionCode", "KR".to_string()),
                    ("networkInterfaceNo", eni.to_string()),
                    ("responseFormatType", "json".to_string()),
                ];
                match explicit {
                    Some(ip) => p.push(("secondaryIpList.1", ip.to_string())),
                    None => p.push(("secondaryIpCount", "1".into())),
                }
                let (code, body) = self.call(d.id, "assignSecondaryIps", &p).await?;
                if code.is_empty() {
                    let listed: BTreeSet<Ipv4Addr> = ips(&body["assignSecondaryIpsResponse"]
                        ["networkInterfaceList"][0]["secondaryIpList"])
                    .into_iter()
                    .collect();
                    match explicit {
                        Some(ip) => {
                            expect(listed.contains(&ip), "NAVER assign", &body)?;
                            self.held_on(eni).insert(ip);
                        }
                        None => {
                            let added: Vec<Ipv4Addr> =
                                listed.difference(&before).copied().collect();
                            expect(
                                added.len() == 1 && before.is_subset(&listed),
                                "NAVER assign",
                                &body,
                            )?;
                            self.held_on(eni).extend(added);
                        }
                    }
                } else {
                    // 1002102: the interface is SET after a change (10 ms).
                    refusal_ok(&code, &["1002102", "1002104"], "NAVER assign")?;
                }
            }
        }
        Ok(())
    }

    async fn unassign(&mut self, d: &Dialect, eni: &str, ip: Ipv4Addr) -> Result<(), String> {
        let (op, p): (&str, Vec<(&str, String)>) = match d.id {
            DialectId::AlibabaEcs => (
                "UnassignPrivateIpAddresses",
                vec![
                    ("RegionId", "r-ecs".into()),
                    ("NetworkInterfaceId", eni.into()),
                    ("PrivateIpAddress.1", ip.to_string()),
                ],
            ),
            DialectId::AlibabaEns => (
                "UnassignPrivateIpAddresses",
                vec![
                    ("NetworkInterfaceId", eni.into()),
                    ("PrivateIpAddress.1", ip.to_string()),
                ],
            ),
            DialectId::TencentVpcV2 => (
                "UnassignPrivateIpAddresses",
                vec![
                    ("Region", "r-tc".into()),
                    ("vpcId", "vpc-tc".into()),
                    ("networkInterfaceId", eni.into()),
                    ("privateIpAddress.0", ip.to_string()),
                ],
            ),
            DialectId::NaverVpc => (
                "unassignSecondaryIps",
                vec![
                    ("regionCode", "KR".into()),
                    ("networkInterfaceNo", eni.into()),
                    ("secondaryIpList.1", ip.to_string()),
                    ("responseFormatType", "json".into()),
                ],
            ),
        };
        let (code, body) = self.call(d.id, op, &p).await?;
        if code.is_empty() {
            if d.id == DialectId::TencentVpcV2 {
                self.wait_task(&body).await?;
            }
            if d.id == DialectId::NaverVpc {
                let listed = ips(
                    &body["unassignSecondaryIpsResponse"]["networkInterfaceList"][0]
                        ["secondaryIpList"],
                );
                expect(!listed.contains(&ip), "NAVER unassign", &body)?;
            }
            self.held_on(eni).remove(&ip);
        } else {
            refusal_ok(
                &code,
                &["UnsupportedOperation.MutexOperationTaskRunning", "1002102"],
                "unassign",
            )?;
        }
        Ok(())
    }

    async fn unassign_refused(
        &mut self,
        d: &Dialect,
        eni: &str,
        ip: Ipv4Addr,
    ) -> Result<(), String> {
        if d.id == DialectId::NaverVpc {
            // NAVER skips an address that is not there: no error, no change.
            return Ok(());
        }
        let before = self.held.clone();
        let p = match d.id {
            DialectId::AlibabaEcs => vec![
                ("RegionId", "r-ecs".into()),
                ("NetworkInterfaceId", eni.to_string()),
                ("PrivateIpAddress.1", ip.to_string()),
            ],
            DialectId::AlibabaEns => vec![
                ("NetworkInterfaceId", eni.to_string()),
                ("PrivateIpAddress.1", ip.to_string()),
            ],
            _ => vec![
                ("Region", "r-tc".into()),
                ("vpcId", "vpc-tc".into()),
                ("networkInterfaceId", eni.to_string()),
                ("privateIpAddress.0", ip.to_string()),
            ],
        };
        let (code, body) = self.call(d.id, "UnassignPrivateIpAddresses", &p).await?;
        expect(
            !code.is_empty(),
            "an address that is not ours was released",
            &body,
        )?;
        self.held = before;
        Ok(())
    }

    async fn wait_task(&mut self, body: &Value) -> Result<(), String> {
        let task = body["data"]["taskId"].as_u64().unwrap_or(0).to_string();
        for _ in 0..200 {
            let (code, reply) = self
                .call(
                    DialectId::TencentVpcV2,
                    "DescribeVpcTaskResult",
                    &[("Region", "r-tc".into()), ("taskId", task.clone())],
                )
                .await?;
            expect(code.is_empty(), "task poll", &reply)?;
            match reply["data"]["status"].as_i64() {
                Some(0) => return Ok(()),
                Some(2) => tokio::time::sleep(Duration::from_millis(5)).await,
                _ => return Err(format!("task {task} ended {reply}")),
            }
        }
        Err(format!("task {task} never ended"))
    }

    async fn listed_tc(&mut self, eni: &str) -> Result<BTreeSet<Ipv4Addr>, String> {
        let (code, body) = self
            .call(
                DialectId::TencentVpcV2,
                "DescribeNetworkInterfaces",
                &[
                    ("Region", "r-tc".into()),
                    ("networkInterfaceId", eni.into()),
                ],
            )
            .await?;
        expect(code.is_empty(), "Tencent describe", &body)?;
        let entries = body["data"]["data"][0]["privateIpAddressesSet"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(entries
            .iter()
            .filter(|e| e["primary"] == false)
            .filter_map(|e| e["privateIpAddress"].as_str()?.parse().ok())
            .collect())
    }

    /// Our own interface lists exactly what we hold on it.
    async fn describe_own(&mut self, d: &Dialect) -> Result<(), String> {
        let eni = (d.own)(self.w);
        let listed: BTreeSet<Ipv4Addr> = match d.id {
            DialectId::AlibabaEcs | DialectId::AlibabaEns => {
                let p = if d.id == DialectId::AlibabaEcs {
                    vec![
                        ("RegionId", "r-ecs".to_string()),
                        ("NetworkInterfaceId.1", eni.clone()),
                    ]
                } else {
                    vec![("NetworkInterfaceId", eni.clone())]
                };
                let (code, body) = self.call(d.id, "DescribeNetworkInterfaces", &p).await?;
                expect(code.is_empty(), "describe", &body)?;
                body["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["PrivateIpSets"]
                    ["PrivateIpSet"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter(|e| e["Primary"] == false)
                    .filter_map(|e| e["PrivateIpAddress"].as_str()?.parse().ok())
                    .collect()
            }
            DialectId::TencentVpcV2 => self.listed_tc(&eni).await?,
            DialectId::NaverVpc => {
                let p = [
                    ("regionCode", "KR".to_string()),
                    ("networkInterfaceNo", eni.clone()),
                    ("responseFormatType", "json".to_string()),
                ];
                let (code, body) = self.call(d.id, "getNetworkInterfaceDetail", &p).await?;
                expect(code.is_empty(), "describe", &body)?;
                ips(
                    &body["getNetworkInterfaceDetailResponse"]["networkInterfaceList"][0]
                        ["secondaryIpList"],
                )
                .into_iter()
                .collect()
            }
        };
        let held = self.held_on(&eni).clone();
        if listed != held {
            return Err(format!(
                "{eni} lists {listed:?}; the acknowledged changes leave {held:?}"
            ));
        }
        Ok(())
    }
}

fn ips(v: &Value) -> Vec<Ipv4Addr> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str()?.parse().ok())
            .collect(),
        Value::String(s) => s.parse().ok().into_iter().collect(),
        _ => Vec::new(),
    }
}

fn expect(ok: bool, what: &str, body: &Value) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: {body}"))
    }
}

fn refusal_ok(code: &str, allowed: &[&str], what: &str) -> Result<(), String> {
    if allowed.contains(&code) {
        Ok(())
    } else {
        Err(format!("{what}: refused with {code}"))
    }
}

/// The process's resident memory, from /proc (KiB); 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn run(requests: u64, deadline: Duration, strict: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_async(requests, deadline, strict));
}

async fn run_async(requests: u64, deadline: Duration, strict: bool) {
    let file = WorldFile::from_yaml(&load_world(), "load.yaml").unwrap_or_else(|e| panic!("{e}"));
    let secrets = Arc::new(common::secrets(&file));
    let state = common::state_of(&file);
    let emu =
        ipconform::emulator::start_with_state(Arc::clone(&state), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let before = (state.nonce_count(), state.nonce_bytes(), rss_kib());
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let mut worker = Worker {
            w,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .unwrap(),
            base: emu.base_url(),
            host: emu.addr().to_string(),
            state: Arc::clone(&state),
            rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d)),
            held: BTreeMap::new(),
            sent: Arc::clone(&sent),
            refusals: BTreeMap::new(),
            secrets: Arc::clone(&secrets),
        };
        tasks.push(tokio::spawn(async move {
            let dialects = dialects();
            let mut i = w;
            while worker.sent.load(Ordering::Relaxed) < requests && started.elapsed() < deadline {
                let d = &dialects[i % 4];
                i += 1;
                worker
                    .step(d)
                    .await
                    .map_err(|e| format!("connection {w}: {e}"))?;
            }
            Ok::<Worker, String>(worker)
        }));
    }
    let mut workers = Vec::new();
    for t in tasks {
        workers.push(t.await.unwrap().unwrap_or_else(|e| panic!("{e}")));
    }
    let elapsed = started.elapsed();
    let total = sent.load(Ordering::Relaxed);
    // The time bound only stops a run that would not end; the long run
    // is defined by its count, so there a cut is a failure, said as such.
    if total < requests {
        println!("load: stopped by the {deadline:?} bound after {total} of {requests} requests");
        assert!(!strict, "the long run must send all {requests} requests");
    }
    let after = (state.nonce_count(), state.nonce_bytes(), rss_kib());
    // Let NAVER's SET end; every Tencent task was polled to its end.
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Every acknowledged change is there, and nothing else.
    let mut expected: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
    for w in &workers {
        for (eni, ips) in &w.held {
            let set = expected.entry(eni.clone()).or_default();
            for ip in ips {
                assert!(set.insert(*ip), "{ip} held twice on {eni}");
            }
        }
        for (k, n) in &w.refusals {
            *refusals.entry(k.clone()).or_default() += n;
        }
    }
    {
        let world = state.world();
        let mut seen: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
        for eni in world.all_enis() {
            let listed: BTreeSet<Ipv4Addr> = eni.secondaries().collect();
            let want = expected.get(&eni.id).cloned().unwrap_or_default();
            assert_eq!(listed, want, "{}: listed against acknowledged", eni.id);
            assert!(eni.running_task().is_none(), "{} still busy", eni.id);
            assert!(eni.secondary_count() as u32 <= world.secondary_limit(eni));
            for ip in std::iter::once(eni.primary_ip).chain(eni.secondaries()) {
                if let Some(other) = seen.insert(ip, eni.id.clone()) {
                    panic!("{ip} on {other} and {}", eni.id);
                }
                let sub = world.subnet(&eni.subnet).unwrap();
                assert!(sub.allocator().is_usable(u32::from(ip)), "{ip} reserved");
                assert_eq!(sub.owner(ip), Some(eni.id.as_str()));
            }
        }
        for subnet in ["vsw-ecs", "vsw-ens", "subnet-tc", "200"] {
            let sub = world.subnet(subnet).unwrap();
            let held = seen.keys().filter(|ip| sub.cidr.contains(*ip)).count() as u64;
            let usable = (sub.cidr.network()..=sub.cidr.broadcast())
                .filter(|ip| sub.allocator().is_usable(u32::from(*ip)))
                .count() as u64;
            assert_eq!(sub.allocator().free_count(), usable - held, "{subnet}");
        }
    }

    // The windows pass (15 min for Alibaba, 5 for Tencent): one request
    // leaves one nonce, and the tables give their memory back.
    state.advance(chrono::TimeDelta::minutes(16));
    let mut probe = Worker {
        w: 0,
        http: reqwest::Client::new(),
        base: emu.base_url(),
        host: emu.addr().to_string(),
        state: Arc::clone(&state),
        rng: Rng(7),
        held: BTreeMap::new(),
        sent: Arc::new(AtomicU64::new(0)),
        refusals: BTreeMap::new(),
        secrets: Arc::clone(&secrets),
    };
    let (code, body) = probe
        .call(
            DialectId::AlibabaEcs,
            "DescribeNetworkInterfaces",
            &[("RegionId", "r-ecs".into())],
        )
        .await
        .unwrap();
    assert_eq!(code, "", "{body}");
    let pruned = (state.nonce_count(), state.nonce_bytes(), rss_kib());
    assert_eq!(
        pruned.0, 1,
        "only the last request's nonce is within its window"
    );
    assert!(after.0 > 0, "signed requests left nonces");
    assert!(
        pruned.1 * 10 < after.1.max(1),
        "the store gave its memory back: {} of {} bytes",
        pruned.1,
        after.1
    );
    emu.shutdown().await;

    let changes: usize = expected.values().map(BTreeSet::len).sum();
    println!(
        "load: {total} requests over {WORKERS} connections in {:.1}s ({:.0} req/s), 0 transport errors, every reply in its envelope",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  acknowledged state: {changes} secondaries held at the end, each listed where acknowledged and nothing else listed"
    );
    println!("  refusals (all expected): {refusals:?}");
    println!(
        "  nonce store: before {} nonces / {} KiB; after the load {} nonces / {} KiB; after the windows passed {} nonce / {} KiB",
        before.0,
        before.1 / 1024,
        after.0,
        after.1 / 1024,
        pruned.0,
        pruned.1 / 1024
    );
    println!(
        "  process RSS: before {} MiB, after the load {} MiB, after the windows passed {} MiB",
        before.2 / 1024,
        after.2 / 1024,
        pruned.2 / 1024
    );
}

#[test]
fn load_with_nothing_lost_short() {
    run(2_000, Duration::from_secs(60), false);
}

/// The documented long run: `IPCONFORM_LOAD_REQUESTS` requests (100,000 by
/// default), within 10 minutes.
#[test]
#[ignore = "long: run with IPCONFORM_LOAD_REQUESTS=100000 cargo test --release --test load -- --ignored --nocapture"]
fn load_with_nothing_lost_long() {
    let requests = std::env::var("IPCONFORM_LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    run(requests, Duration::from_secs(600), true);
}

/// Found by the long load run: the Tencent reply read its task id under a
/// second lock, which first settled the world; a task whose delay had
/// passed in between (a loaded machine, a short delay) was gone, and the
/// reply said taskId 0, which DescribeVpcTaskResult refuses. A delay of
/// 1 ns makes every task end before any second lock.
#[test]
fn an_assign_names_its_task_even_when_the_task_ends_at_once() {
    let text = load_world().replace("change_delay: 20ms", "change_delay: 1ns");
    let file = WorldFile::from_yaml(&text, "load.yaml").unwrap();
    let state = common::state_of(&file);
    let rt = common::runtime();
    let call = |op: &str, params: &[(&str, String)]| {
        let wire = common::signed_with(
            &state,
            common::HOST,
            &creds(DialectId::TencentVpcV2, 0),
            DialectId::TencentVpcV2,
            op,
            params,
            None,
            Method::Get,
        );
        let reply = rt.block_on(common::send(
            &state,
            common::Raw::from_wire(&wire).build().unwrap(),
        ));
        serde_json::from_str::<Value>(&reply.body).unwrap()
    };
    for (op, extra) in [
        (
            "AssignPrivateIpAddresses",
            ("secondaryPrivateIpAddressCount", "1".to_string()),
        ),
        (
            "UnassignPrivateIpAddresses",
            ("privateIpAddress.0", "10.12.0.1".to_string()),
        ),
    ] {
        let mut params = vec![
            ("Region", "r-tc".to_string()),
            ("vpcId", "vpc-tc".to_string()),
            ("networkInterfaceId", "eni-tc-own-0".to_string()),
        ];
        params.push(extra);
        if op.starts_with("Unassign") {
            // The address the assign above gave (the lowest free one).
            let listed = call(
                "DescribeNetworkInterfaces",
                &[
                    ("Region", "r-tc".into()),
                    ("networkInterfaceId", "eni-tc-own-0".into()),
                ],
            );
            let ip = listed["data"]["data"][0]["privateIpAddressesSet"][1]["privateIpAddress"]
                .as_str()
                .unwrap()
                .to_string();
            params.last_mut().unwrap().1 = ip;
        }
        let body = call(op, &params);
        assert_eq!(body["code"], 0, "{op}: {body}");
        let task = body["data"]["taskId"].as_u64().unwrap();
        assert!(task > 0, "{op}: the reply names no task: {body}");
        let status = call(
            "DescribeVpcTaskResult",
            &[("Region", "r-tc".into()), ("taskId", task.to_string())],
        );
        assert_eq!(
            status["data"]["status"], 0,
            "{op}: task {task} succeeded: {status}"
        );
    }
}
