//! A throwaway load generator for the emulator's server path (issue 12,
//! part Z), until `ipconform bench` measures the same figures.
//!
//! Requests are signed with the project's own clients and serialized to
//! raw HTTP/1.1 bytes before the timed window; each connection is a tokio
//! TCP keep-alive connection that writes one request and reads one
//! `Content-Length` reply at a time. The server runs in this process on
//! its own runtime (threads `emu-*`, default 2 workers) and the load on a
//! second, single-threaded runtime, so `perf record -p` separates them by
//! thread name.
//!
//! ```sh
//! cargo run --release --example server_load -- [--rounds N] [--window-ms MS]
//!     [--only cycles|describe] [--dialect ecs,ens,tc,ncp] [--conns 1,8]
//! ```
//!
//! Cycles: each connection owns one interface and sends assign(IP) then
//! unassign(IP) (ENS: assign by count, the interface alone in its vSwitch,
//! so the address is known in advance). /healthz on the same server with
//! the same connection count is the baseline; the ratio is signed requests
//! per second over /healthz requests per second.
//!
//! Describe: an interface holding 1,000 secondaries per dialect, pre-signed
//! describes on one connection, one at a time: p50 and p99, and /healthz's
//! p50 on the same connection beside them.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipconform::dialect::{Call, CallContext, DialectId, Method};
use ipconform::emulator::world::{World, WorldFile};
use ipconform::emulator::{self, EmulatorState};
use ipconform::fixtures::{Credentials, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_CONNS: usize = 8;

fn world_yaml() -> String {
    let mut subnets = String::new();
    let mut enis = String::new();
    for c in 0..MAX_CONNS {
        enis += &format!("  - {{id: eni-ecs-{c}, account: ali, region: r-ecs, subnet: vsw-ecs, state: Available}}\n");
        subnets +=
            &format!("  - {{id: vsw-ens-{c}, vpc: n-ens, zone: r-ens, cidr: 10.11.{c}.0/24}}\n");
        enis += &format!("  - {{id: eni-ens-{c}, account: ali, region: r-ens, subnet: vsw-ens-{c}, state: Available}}\n");
        enis += &format!("  - {{id: eni-tc-{c}, account: tc, region: r-tc, subnet: subnet-tc, state: Available}}\n");
        enis += &format!(
            "  - {{id: \"{}\", account: nc, region: KR, subnet: \"200\", state: Available}}\n",
            3000 + c
        );
    }
    subnets += "  - {id: vsw-ens-d, vpc: n-ens, zone: r-ens, cidr: 10.11.128.0/20}\n";
    enis += "  - {id: eni-ecs-d, account: ali, region: r-ecs, subnet: vsw-ecs, state: Available}\n";
    enis +=
        "  - {id: eni-ens-d, account: ali, region: r-ens, subnet: vsw-ens-d, state: Available}\n";
    enis += "  - {id: eni-tc-d, account: tc, region: r-tc, subnet: subnet-tc, state: Available}\n";
    enis += "  - {id: \"3999\", account: nc, region: KR, subnet: \"200\", state: Available}\n";
    format!(
        r#"
accounts:
  - id: ali
    access_keys: [{{id: LTAIzload, secret: zAliSecret}}]
  - id: tc
    access_keys: [{{id: AKIDzload, secret: zTcSecret}}]
  - id: nc
    access_keys: [{{id: ncpZload, secret: zNcSecret}}]
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
  - {{id: vsw-ecs, vpc: vpc-ecs, zone: r-ecs-a, cidr: 10.10.0.0/16}}
  - {{id: subnet-tc, vpc: vpc-tc, zone: r-tc-3, cidr: 10.12.0.0/16}}
  - {{id: "200", vpc: "100", zone: KR-1, cidr: 10.13.0.0/16}}
{subnets}enis:
{enis}"#
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum D {
    Ecs,
    Ens,
    Tc,
    Ncp,
}

impl D {
    fn id(self) -> DialectId {
        match self {
            D::Ecs => DialectId::AlibabaEcs,
            D::Ens => DialectId::AlibabaEns,
            D::Tc => DialectId::TencentVpcV2,
            D::Ncp => DialectId::NaverVpc,
        }
    }
    fn name(self) -> &'static str {
        match self {
            D::Ecs => "ecs",
            D::Ens => "ens",
            D::Tc => "tc",
            D::Ncp => "ncp",
        }
    }
    fn creds(self) -> Credentials {
        let (id, secret) = match self {
            D::Ecs | D::Ens => ("LTAIzload", "zAliSecret"),
            D::Tc => ("AKIDzload", "zTcSecret"),
            D::Ncp => ("ncpZload", "zNcSecret"),
        };
        Credentials {
            access_key_id: id.into(),
            access_key_secret: Secret::new(secret),
        }
    }
    fn eni(self, c: usize) -> String {
        match self {
            D::Ecs => format!("eni-ecs-{c}"),
            D::Ens => format!("eni-ens-{c}"),
            D::Tc => format!("eni-tc-{c}"),
            D::Ncp => (3000 + c).to_string(),
        }
    }
    fn describe_eni(self) -> String {
        match self {
            D::Ecs => "eni-ecs-d".into(),
            D::Ens => "eni-ens-d".into(),
            D::Tc => "eni-tc-d".into(),
            D::Ncp => "3999".into(),
        }
    }
}

struct Signer {
    host: String,
    signing: Option<&'static str>,
    method: Method,
}

impl Signer {
    /// One request, signed now, as raw HTTP/1.1 bytes.
    fn raw(&self, d: D, op: &str, params: &[(&str, String)]) -> Vec<u8> {
        let client = d.id().client();
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let nonce = uuid::Uuid::new_v4().to_string();
        let creds = d.creds();
        let wire = client.encode(&Call {
            operation: op,
            params: &params,
            headers: &[],
            credentials: &creds,
            context: CallContext {
                host: &self.host,
                now: chrono::Utc::now(),
                nonce: &nonce,
                signing: self.signing.unwrap_or(client.signing_variants()[0]),
                method: self.method,
            },
        });
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(wire.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(wire.path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.host.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (k, v) in &wire.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(body) = &wire.body {
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn healthz(&self) -> Vec<u8> {
        format!("GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n", self.host).into_bytes()
    }

    /// An address of connection `c`'s own range (ENS: its vSwitch's lowest).
    fn ip(d: D, c: usize, k: usize) -> Ipv4Addr {
        match d {
            D::Ecs => Ipv4Addr::new(10, 10, 100 + c as u8, 10 + (k % 200) as u8),
            D::Ens => Ipv4Addr::new(10, 11, c as u8, 2),
            D::Tc => Ipv4Addr::new(10, 12, 100 + c as u8, 10 + (k % 200) as u8),
            D::Ncp => Ipv4Addr::new(10, 13, 100 + c as u8, 10 + (k % 200) as u8),
        }
    }

    /// Assign then unassign of one address on connection `c`'s interface.
    fn cycle(&self, d: D, c: usize, k: usize) -> [Vec<u8>; 2] {
        let eni = d.eni(c);
        let ip = Self::ip(d, c, k).to_string();
        match d {
            D::Ecs => [
                self.raw(
                    d,
                    "AssignPrivateIpAddresses",
                    &[
                        ("RegionId", "r-ecs".into()),
                        ("NetworkInterfaceId", eni.clone()),
                        ("PrivateIpAddress.1", ip.clone()),
                    ],
                ),
                self.raw(
                    d,
                    "UnassignPrivateIpAddresses",
                    &[
                        ("RegionId", "r-ecs".into()),
                        ("NetworkInterfaceId", eni),
                        ("PrivateIpAddress.1", ip),
                    ],
                ),
            ],
            D::Ens => [
                self.raw(
                    d,
                    "AssignPrivateIpAddresses",
                    &[("NetworkInterfaceId", eni.clone())],
                ),
                self.raw(
                    d,
                    "UnassignPrivateIpAddresses",
                    &[("NetworkInterfaceId", eni), ("PrivateIpAddress.1", ip)],
                ),
            ],
            D::Tc => [
                self.raw(
                    d,
                    "AssignPrivateIpAddresses",
                    &[
                        ("Region", "r-tc".into()),
                        ("vpcId", "vpc-tc".into()),
                        ("networkInterfaceId", eni.clone()),
                        ("privateIpAddressSet.0.privateIpAddress", ip.clone()),
                    ],
                ),
                self.raw(
                    d,
                    "UnassignPrivateIpAddresses",
                    &[
                        ("Region", "r-tc".into()),
                        ("vpcId", "vpc-tc".into()),
                        ("networkInterfaceId", eni),
                        ("privateIpAddress.0", ip),
                    ],
                ),
            ],
            D::Ncp => [
                self.raw(
                    d,
                    "assignSecondaryIps",
                    &[
                        ("regionCode", "KR".into()),
                        ("networkInterfaceNo", eni.clone()),
                        ("secondaryIpList.1", ip.clone()),
                    ],
                ),
                self.raw(
                    d,
                    "unassignSecondaryIps",
                    &[
                        ("regionCode", "KR".into()),
                        ("networkInterfaceNo", eni),
                        ("secondaryIpList.1", ip),
                    ],
                ),
            ],
        }
    }

    fn describe(&self, d: D, format: Option<&str>) -> Vec<u8> {
        let eni = d.describe_eni();
        match d {
            D::Ecs => {
                let mut p = vec![
                    ("RegionId", "r-ecs".to_string()),
                    ("NetworkInterfaceId.1", eni),
                ];
                if let Some(f) = format {
                    p.push(("Format", f.into()));
                }
                self.raw(d, "DescribeNetworkInterfaces", &p)
            }
            D::Ens => {
                let mut p = vec![("NetworkInterfaceId", eni)];
                if let Some(f) = format {
                    p.push(("Format", f.into()));
                }
                self.raw(d, "DescribeNetworkInterfaces", &p)
            }
            D::Tc => self.raw(
                d,
                "DescribeNetworkInterfaces",
                &[("Region", "r-tc".into()), ("networkInterfaceId", eni)],
            ),
            D::Ncp => {
                let mut p = vec![
                    ("regionCode", "KR".to_string()),
                    ("networkInterfaceNo", eni),
                ];
                if let Some(f) = format {
                    p.push(("responseFormatType", f.into()));
                }
                self.raw(d, "getNetworkInterfaceDetail", &p)
            }
        }
    }

    fn list(&self, format: Option<&str>) -> Vec<u8> {
        let mut p = vec![
            ("regionCode", "KR".to_string()),
            ("networkInterfaceNoList.1", D::Ncp.describe_eni()),
        ];
        if let Some(f) = format {
            p.push(("responseFormatType", f.into()));
        }
        self.raw(D::Ncp, "getNetworkInterfaceList", &p)
    }
}

/// One keep-alive connection: write a request, read its reply.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(128 << 10),
        }
    }

    /// Sends `req`; returns the status and the body, whatever they are.
    async fn send_raw(&mut self, req: &[u8]) -> (u16, Vec<u8>) {
        self.stream.write_all(req).await.expect("write");
        self.buf.clear();
        let mut chunk = [0u8; 64 << 10];
        let head_end = loop {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .expect("head")
            .to_string();
        let status: u16 = head[9..12].parse().expect("status");
        let len: usize = head
            .split("\r\n")
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("content-length");
        while self.buf.len() < head_end + len {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed mid-body");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let ctype = head
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with("content-type"))
            .unwrap_or("")
            .to_string();
        let mut out = ctype.into_bytes();
        out.push(b' ');
        out.extend_from_slice(&self.buf[head_end..head_end + len]);
        (status, out)
    }

    /// Sends `req`; returns the status and body length, and checks the
    /// reply is a success (Tencent: `"code":0`).
    async fn send(&mut self, req: &[u8]) -> (u16, usize) {
        self.stream.write_all(req).await.expect("write");
        self.buf.clear();
        let mut chunk = [0u8; 64 << 10];
        let head_end = loop {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).expect("head");
        let status: u16 = head[9..12].parse().expect("status");
        let len: usize = head
            .split("\r\n")
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("content-length");
        while self.buf.len() < head_end + len {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed mid-body");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = &self.buf[head_end..head_end + len];
        if status != 200 || body.starts_with(b"{\"code\":") && !body.starts_with(b"{\"code\":0,") {
            panic!(
                "refused: {status} {}\nrequest: {}",
                String::from_utf8_lossy(body),
                String::from_utf8_lossy(req)
            );
        }
        (status, len)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Requests per second with each connection sending its own list until
/// the window ends (or its list does).
async fn rate(
    addr: SocketAddr,
    lists: Vec<Vec<Vec<u8>>>,
    window: Duration,
    cyclic: bool,
) -> (f64, usize, f64) {
    let mut conns = Vec::new();
    for _ in 0..lists.len() {
        conns.push(Conn::open(addr).await);
    }
    let cpu0 = cpu_ns();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (mut conn, list) in conns.into_iter().zip(lists) {
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            let n = if cyclic { usize::MAX } else { list.len() };
            for req in list.iter().cycle().take(n) {
                conn.send(req).await;
                done += 1;
                // Pairs stay whole: a cycle is not cut in half.
                if done % 2 == 0 && start.elapsed() >= window {
                    break;
                }
            }
            (done, done == list.len())
        }));
    }
    let mut total = 0;
    let mut exhausted = 0;
    for t in tasks {
        let (n, ran_out) = t.await.unwrap();
        total += n;
        exhausted += ran_out as usize;
    }
    let cpu1 = cpu_ns();
    let server_us = (cpu1.0 - cpu0.0) as f64 / 1e3 / total as f64;
    if std::env::var_os("LOAD_CLIENT_CPU").is_some() {
        eprintln!(
            "  (load side CPU {:.1} us/req)",
            (cpu1.1 - cpu0.1) as f64 / 1e3 / total as f64
        );
    }
    (
        total as f64 / start.elapsed().as_secs_f64(),
        exhausted,
        server_us,
    )
}

/// CPU time (ns) of the calling thread.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A raw HTTP/1.1 request as an `http::Request`, for the router in-process.
fn to_request(raw: &[u8]) -> axum::http::Request<axum::body::Body> {
    let end = find(raw, b"\r\n\r\n").expect("head");
    let head = std::str::from_utf8(&raw[..end]).expect("head");
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap().split(' ');
    let (method, target) = (first.next().unwrap(), first.next().unwrap());
    let mut builder = axum::http::Request::builder().method(method).uri(target);
    for line in lines {
        let (k, v) = line.split_once(": ").unwrap();
        builder = builder.header(k, v);
    }
    builder
        .body(axum::body::Body::from(raw[end + 4..].to_vec()))
        .unwrap()
}

/// CPU time (ns) of this process's threads: the server's workers and the rest.
fn cpu_ns() -> (u64, u64) {
    let (mut server, mut other) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let ns: u64 = std::fs::read_to_string(task.path().join("schedstat"))
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if comm.starts_with("emu-") {
            server += ns;
        } else {
            other += ns;
        }
    }
    (server, other)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(v: &[f64], p: usize) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[(v.len() * p / 100).min(v.len() - 1)]
}

struct Args {
    rounds: usize,
    window: Duration,
    only: Option<String>,
    dialects: Vec<D>,
    conns: Vec<usize>,
    workers: usize,
    signing: Option<&'static str>,
    post: bool,
    describe_samples: usize,
    shared_rt: bool,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 3,
        window: Duration::from_millis(1000),
        only: None,
        dialects: vec![D::Ecs, D::Ens, D::Tc, D::Ncp],
        conns: vec![1, 8],
        workers: 2,
        signing: None,
        post: false,
        describe_samples: 2000,
        shared_rt: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("a value");
        match arg.as_str() {
            "--rounds" => a.rounds = val().parse().unwrap(),
            "--window-ms" => a.window = Duration::from_millis(val().parse().unwrap()),
            "--only" => a.only = Some(val()),
            "--workers" => a.workers = val().parse().unwrap(),
            "--samples" => a.describe_samples = val().parse().unwrap(),
            "--signing" => a.signing = Some(Box::leak(val().into_boxed_str())),
            "--post" => a.post = true,
            "--shared-rt" => a.shared_rt = true,
            "--dialect" => {
                a.dialects = val()
                    .split(',')
                    .filter(|s| *s != "none")
                    .map(|s| match s {
                        "ecs" => D::Ecs,
                        "ens" => D::Ens,
                        "tc" => D::Tc,
                        "ncp" => D::Ncp,
                        other => panic!("unknown dialect {other}"),
                    })
                    .collect()
            }
            "--conns" => a.conns = val().split(',').map(|s| s.parse().unwrap()).collect(),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let args = args();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("emu-worker")
        .enable_all()
        .build()
        .unwrap();
    let file = WorldFile::from_yaml(&world_yaml(), "server_load").unwrap_or_else(|e| panic!("{e}"));
    let mut world = World::build(&file).unwrap_or_else(|e| panic!("{e}"));
    for d in [D::Ecs, D::Ens, D::Tc, D::Ncp] {
        let got = world.fill_eni(&d.describe_eni(), 1000).unwrap();
        assert_eq!(got.len(), 1000);
    }
    let state = Arc::new(EmulatorState::new(world));
    let server = server_rt
        .block_on(emulator::start_with_state(
            state,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ))
        .unwrap();
    let addr = server.addr();
    let signer = Signer {
        host: addr.to_string(),
        signing: args.signing,
        method: if args.post { Method::Post } else { Method::Get },
    };
    // --shared-rt: the load's tasks run on the server's runtime (as a bench
    // in the same process would); otherwise on a runtime of their own.
    let own_rt;
    let client_rt = if args.shared_rt {
        &server_rt
    } else {
        own_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        &own_rt
    };
    println!(
        "server_load: {} server workers{}, window {} ms, {} rounds, signing {:?}, {}; load {}",
        args.workers,
        if args.shared_rt {
            " (load on the same runtime)"
        } else {
            ""
        },
        args.window.as_millis(),
        args.rounds,
        args.signing,
        if args.post { "POST" } else { "GET" },
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let wanted = |s: &str| args.only.as_deref().is_none_or(|o| o == s);
    if wanted("cycles") {
        // Pre-signed per round: a signature is valid for 5 minutes.
        let cap_per_conn = |conns: usize| (60_000 / conns).max(8_000);
        for &conns in &args.conns {
            let mut healthz = Vec::new();
            let mut healthz_us = Vec::new();
            let mut per: Vec<(D, Vec<f64>, Vec<f64>, Vec<f64>)> = args
                .dialects
                .iter()
                .map(|d| (*d, vec![], vec![], vec![]))
                .collect();
            for _round in 0..args.rounds {
                let cap = cap_per_conn(conns);
                let lists = (0..conns).map(|_| vec![signer.healthz()]).collect();
                let (h, _, h_us) = client_rt.block_on(rate(addr, lists, args.window, true));
                healthz.push(h);
                healthz_us.push(h_us);
                for (d, rates, ratios, cpu) in per.iter_mut() {
                    let lists: Vec<Vec<Vec<u8>>> = (0..conns)
                        .map(|c| (0..cap / 2).flat_map(|k| signer.cycle(*d, c, k)).collect())
                        .collect();
                    let (r, ex, us) = client_rt.block_on(rate(addr, lists, args.window, false));
                    cpu.push(us);
                    if ex > 0 {
                        eprintln!("warning: {} of {conns} {d:?} lists ran out", ex);
                    }
                    rates.push(r);
                    ratios.push(r / h);
                }
            }
            let h = median(healthz.clone());
            println!(
                "conns {conns}: /healthz {h:.0} req/s, server CPU {:.1} us/req (rounds {:?})",
                median(healthz_us),
                healthz.iter().map(|x| *x as u64).collect::<Vec<_>>()
            );
            for (d, rates, ratios, cpu) in per {
                let r = median(rates.clone());
                println!(
                    "  {:4} {:6.0} req/s = {:5.0} cycles/s, server CPU {:5.1} us/req; ratio (req/s over healthz) median {:.3}, rounds {:?}",
                    d.name(),
                    r,
                    r / 2.0,
                    median(cpu),
                    median(ratios.clone()),
                    ratios.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>()
                );
            }
        }
    }
    if args.only.as_deref() == Some("dump") {
        // Replies of a fixed sequence, for comparing two builds byte by
        // byte (request ids differ; mask them before comparing).
        let bad = |d: D| -> Vec<u8> {
            match d {
                D::Ecs => signer.raw(
                    d,
                    "AssignPrivateIpAddresses",
                    &[
                        ("RegionId", "r-ecs".into()),
                        ("NetworkInterfaceId", "eni-nope".into()),
                        ("PrivateIpAddress.1", "10.10.200.1".into()),
                    ],
                ),
                D::Ens => signer.raw(
                    d,
                    "UnassignPrivateIpAddresses",
                    &[
                        ("NetworkInterfaceId", "eni-ens-0".into()),
                        ("PrivateIpAddress.1", "not-an-ip".into()),
                    ],
                ),
                D::Tc => signer.raw(
                    d,
                    "AssignPrivateIpAddresses",
                    &[
                        ("Region", "r-tc".into()),
                        ("vpcId", "vpc-nope".into()),
                        ("networkInterfaceId", "eni-tc-0".into()),
                        (
                            "privateIpAddressSet.0.privateIpAddress",
                            "10.12.200.1".into(),
                        ),
                    ],
                ),
                D::Ncp => signer.raw(
                    d,
                    "unassignSecondaryIps",
                    &[
                        ("regionCode", "KR".into()),
                        ("networkInterfaceNo", "3000".into()),
                        ("secondaryIpList.1", "10.13.0.1".into()),
                    ],
                ),
            }
        };
        client_rt.block_on(async {
            let mut conn = Conn::open(addr).await;
            for &d in &args.dialects {
                let mut reqs = vec![
                    signer.describe(d, None),
                    signer.describe(d, Some(if d == D::Ncp { "json" } else { "XML" })),
                ];
                reqs.extend(signer.cycle(d, 0, 0));
                reqs.push(bad(d));
                if d == D::Ncp {
                    reqs.push(signer.list(None));
                    reqs.push(signer.list(Some("json")));
                }
                for req in reqs {
                    let (status, body) = conn.send_raw(&req).await;
                    println!("{:?} {status} {}", d, String::from_utf8_lossy(&body));
                }
            }
        });
    }
    if args.only.as_deref() == Some("transport") {
        // The same requests to a server whose "/" answers a fixed ECS-sized
        // reply without looking at them: what the transport alone costs.
        let dummy = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route(
                "/",
                axum::routing::any(|| async {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json;charset=utf-8")],
                        r#"{"RequestId":"2CACE6D4-A064-49FC-86C5-750D68497B32","AssignedPrivateIpAddressesSet":{"NetworkInterfaceId":"eni-ecs-0","PrivateIpSet":{"PrivateIpAddress":["10.10.100.10"]}}}"#,
                    )
                }),
            );
        let listener = server_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let daddr = listener.local_addr().unwrap();
        server_rt.spawn(async move { axum::serve(listener, dummy).await });
        for &conns in &args.conns {
            for _ in 0..args.rounds {
                let lists = (0..conns).map(|_| vec![signer.healthz()]).collect();
                let (h, _, h_us) = client_rt.block_on(rate(daddr, lists, args.window, true));
                let lists = (0..conns)
                    .map(|c| (0..4000).flat_map(|k| signer.cycle(D::Ecs, c, k)).collect())
                    .collect();
                let (r, _, r_us) = client_rt.block_on(rate(daddr, lists, args.window, false));
                println!(
                    "transport conns {conns}: healthz {h:.0} req/s {h_us:.1} us/req; ECS-sized to a fixed reply {r:.0} req/s {r_us:.1} us/req; ratio {:.3}",
                    r / h
                );
            }
        }
    }
    if args.only.as_deref() == Some("inproc2") {
        // The handlers on two threads at once (each its own interface and
        // requests): what sharing the state costs; CPU per request.
        let router = emulator::app(Arc::clone(server.state()));
        let n = args.describe_samples;
        for &d in &args.dialects {
            let lists: Vec<Vec<axum::http::Request<axum::body::Body>>> = (0..2)
                .map(|c| {
                    (0..n / 2)
                        .flat_map(|k| signer.cycle(d, c, k))
                        .map(|r| to_request(&r))
                        .collect()
                })
                .collect();
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let threads: Vec<_> = lists
                .into_iter()
                .map(|reqs| {
                    let router = router.clone();
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .build()
                            .unwrap();
                        let count = reqs.len();
                        barrier.wait();
                        let cpu0 = thread_cpu_ns();
                        rt.block_on(async {
                            use tower::ServiceExt;
                            for req in reqs {
                                let resp = router.clone().oneshot(req).await.unwrap();
                                assert_eq!(resp.status(), 200);
                                let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
                            }
                        });
                        (thread_cpu_ns() - cpu0) as f64 / 1e3 / count as f64
                    })
                })
                .collect();
            let us: Vec<f64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            println!(
                "inproc2 {} cycle: {:.2} / {:.2} us CPU/req on two threads at once",
                d.name(),
                us[0],
                us[1]
            );
        }
    }
    if args.only.as_deref() == Some("inproc") {
        // The handlers alone: each request through the router in this
        // thread, no sockets; CPU time of this thread per request.
        let router = emulator::app(Arc::clone(server.state()));
        let n = args.describe_samples;
        let mut kinds: Vec<(String, Vec<Vec<u8>>)> =
            vec![("healthz".into(), vec![signer.healthz(); n])];
        for &d in &args.dialects {
            kinds.push((
                format!("{} cycle", d.name()),
                (0..n / 2).flat_map(|k| signer.cycle(d, 0, k)).collect(),
            ));
        }
        let describes = std::env::var_os("INPROC_NO_DESCRIBE").is_none();
        for &d in args.dialects.iter().filter(|_| describes) {
            kinds.push((
                format!("{} describe", d.name()),
                (0..n / 10).map(|_| signer.describe(d, None)).collect(),
            ));
        }
        for (name, raws) in kinds {
            let reqs: Vec<axum::http::Request<axum::body::Body>> =
                raws.iter().map(|r| to_request(r)).collect();
            let count = reqs.len();
            let (cpu, wall) = client_rt.block_on(async {
                use tower::ServiceExt;
                let cpu0 = thread_cpu_ns();
                let t = Instant::now();
                for req in reqs {
                    let resp = router.clone().oneshot(req).await.unwrap();
                    let status = resp.status();
                    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    if status != 200
                        || body.starts_with(b"{\"code\":") && !body.starts_with(b"{\"code\":0,")
                    {
                        panic!("refused: {status} {}", String::from_utf8_lossy(&body));
                    }
                }
                (thread_cpu_ns() - cpu0, t.elapsed())
            });
            println!(
                "inproc {name:14} {:6.2} us CPU/req ({:6.2} us wall/req, {count} requests)",
                cpu as f64 / 1e3 / count as f64,
                wall.as_secs_f64() * 1e6 / count as f64
            );
        }
    }
    if wanted("describe") {
        let n = args.describe_samples;
        let mut cases: Vec<(String, Box<dyn Fn() -> Vec<u8>>)> = Vec::new();
        for &d in &args.dialects {
            let s = &signer;
            match d {
                D::Ecs | D::Ens => {
                    cases.push((
                        format!("{} json", d.name()),
                        Box::new(move || s.describe(d, None)),
                    ));
                    cases.push((
                        format!("{} xml", d.name()),
                        Box::new(move || s.describe(d, Some("XML"))),
                    ));
                }
                D::Tc => cases.push(("tc json".into(), Box::new(move || s.describe(d, None)))),
                D::Ncp => {
                    cases.push((
                        "ncp detail xml".into(),
                        Box::new(move || s.describe(d, None)),
                    ));
                    cases.push((
                        "ncp detail json".into(),
                        Box::new(move || s.describe(d, Some("json"))),
                    ));
                    cases.push(("ncp list xml".into(), Box::new(move || s.list(None))));
                    cases.push((
                        "ncp list json".into(),
                        Box::new(move || s.list(Some("json"))),
                    ));
                }
            }
        }
        for (name, make) in cases {
            let reqs: Vec<Vec<u8>> = (0..n).map(|_| make()).collect();
            let h = signer.healthz();
            let (d_ms, h_ms, len) = client_rt.block_on(async {
                let mut conn = Conn::open(addr).await;
                let mut d_ms = Vec::with_capacity(n);
                let mut h_ms = Vec::with_capacity(n);
                let mut len = 0;
                for req in &reqs {
                    let t = Instant::now();
                    len = conn.send(req).await.1;
                    d_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    let t = Instant::now();
                    conn.send(&h).await;
                    h_ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
                (d_ms, h_ms, len)
            });
            println!(
                "describe {name:16} p50 {:.3} ms p99 {:.3} ms ({} KiB) | healthz p50 {:.3} ms | server p50 - healthz p50 = {:.3} ms",
                percentile(&d_ms, 50),
                percentile(&d_ms, 99),
                len / 1024,
                percentile(&h_ms, 50),
                percentile(&d_ms, 50) - percentile(&h_ms, 50),
            );
        }
    }
    server_rt.block_on(server.shutdown());
}
