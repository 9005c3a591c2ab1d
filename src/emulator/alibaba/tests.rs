//! The Alibaba RPC emulator over real HTTP, as a raw client that signs by
//! the book sees it: ECS and ENS, v1 and V3, the documents' codes and
//! statuses, and state that a refused call leaves untouched.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::dialect::alibaba_rpc::{self as rpc, ECS_CLIENT, ENS_CLIENT};
use crate::dialect::{xml, Call, CallContext, ClientDialect, DialectId, Method, WireRequest};
use crate::emulator::test_support::{default_world, send_raw, start_default};
use crate::emulator::world::{World, WorldFile};
use crate::emulator::{start, start_with_state, EmulatorState, RunningEmulator};
use crate::fixtures::{Credentials, Fixtures};

/// A running emulator and the fixtures of its world.
struct Emu {
    emu: RunningEmulator,
    world: WorldFile,
}

impl Emu {
    async fn start() -> Emu {
        let (emu, world) = start_default().await;
        Emu { emu, world }
    }

    async fn with_state(state: EmulatorState) -> Emu {
        let world = default_world();
        let emu = start_with_state(Arc::new(state), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Emu { emu, world }
    }

    fn fixtures(&self, dialect: DialectId) -> &Fixtures {
        self.world.fixtures_of(dialect)
    }

    fn ecs(&self, key: &str) -> &str {
        fixture(self.fixtures(DialectId::AlibabaEcs), key)
    }

    fn ens(&self, key: &str) -> &str {
        fixture(self.fixtures(DialectId::AlibabaEns), key)
    }

    fn creds(&self, name: &str) -> Credentials {
        self.fixtures(DialectId::AlibabaEcs).credentials[name].clone()
    }

    /// ECS, v1, GET, default credentials.
    async fn call(&self, params: &[(&str, &str)]) -> (u16, Value) {
        self.send(&Req::ecs(params)).await
    }

    /// `req` as its client encodes and signs it.
    fn wire(&self, req: &Req<'_>) -> WireRequest {
        let creds = self.creds(req.creds);
        let host = self.emu.addr().to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let action = req
            .params
            .iter()
            .find(|(k, _)| *k == "Action")
            .map(|(_, v)| *v)
            .unwrap_or("DescribeNetworkInterfaces");
        // The client adds the common parameters; under V3 Action is a header.
        let params: Vec<(String, String)> = req
            .params
            .iter()
            .filter(|(k, _)| req.signing == "v1" || *k != "Action")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        req.client.encode(&Call {
            operation: action,
            params: &params,
            headers: &req.headers,
            credentials: &creds,
            context: CallContext {
                host: &host,
                now: chrono::Utc::now(),
                nonce: &nonce,
                signing: req.signing,
                method: req.method,
            },
        })
    }

    async fn send(&self, req: &Req<'_>) -> (u16, Value) {
        let mut wire = self.wire(req);
        for name in req.drop_after_signing {
            let query = wire.path_and_query.split_once('?').map(|(_, q)| q);
            let kept: Vec<&str> = query
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect();
            wire.path_and_query = format!("/?{}", kept.join("&"));
        }
        if let Some(body) = &req.body_override {
            wire.body = Some(body.as_bytes().to_vec());
        }
        raw(
            &self.emu,
            &wire.method,
            &wire.path_and_query,
            &wire.headers,
            wire.body,
        )
        .await
    }
}

fn fixture<'a>(f: &'a Fixtures, key: &str) -> &'a str {
    f.values.get(key).unwrap_or_else(|| panic!("fixture {key}"))
}

/// One request: which product, which signing, which method and params.
struct Req<'a> {
    client: &'static rpc::AlibabaRpcClient,
    signing: &'static str,
    method: Method,
    creds: &'a str,
    params: Vec<(&'a str, &'a str)>,
    headers: Vec<(String, Option<String>)>,
    /// Parameters removed from the query after signing.
    drop_after_signing: &'a [&'a str],
    body_override: Option<String>,
}

impl<'a> Req<'a> {
    fn ecs(params: &[(&'a str, &'a str)]) -> Req<'a> {
        Req {
            client: &ECS_CLIENT,
            signing: "v1",
            method: Method::Get,
            creds: "default",
            params: params.to_vec(),
            headers: Vec::new(),
            drop_after_signing: &[],
            body_override: None,
        }
    }

    fn ens(params: &[(&'a str, &'a str)]) -> Req<'a> {
        Req {
            client: &ENS_CLIENT,
            ..Req::ecs(params)
        }
    }

    fn v3(mut self) -> Self {
        self.signing = "v3";
        self
    }

    fn post(mut self) -> Self {
        self.method = Method::Post;
        self
    }

    fn creds(mut self, name: &'a str) -> Self {
        self.creds = name;
        self
    }

    fn header(mut self, name: &str, value: Option<&str>) -> Self {
        self.headers
            .push((name.to_string(), value.map(str::to_string)));
        self
    }
}

async fn raw(
    emu: &RunningEmulator,
    method: &Method,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let reply = send_raw(emu, method.as_str(), path_and_query, headers, body).await;
    (reply.status, parse_body(&reply.text))
}

fn parse_body(text: &str) -> Value {
    if text.starts_with("<?xml") {
        let (root, tree) = xml::xml_to_json(text).unwrap();
        json!({"root": root, "tree": tree})
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }
}

fn assert_error(got: &(u16, Value), status: u16, code: &str, host: &str) {
    assert_eq!(
        (got.0, got.1["Code"].as_str()),
        (status, Some(code)),
        "{:#}",
        got.1
    );
    assert_eq!(got.1["HostId"], host);
    assert!(got.1["Recommend"].as_str().unwrap().contains(code));
    let rid = got.1["RequestId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(rid).is_ok() && rid == rid.to_ascii_uppercase());
}

/// A request's parameters, the status and the code it must get.
type ExpectedRefusal<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

fn ecs_error(got: &(u16, Value), status: u16, code: &str) {
    assert_error(got, status, code, "ecs.aliyuncs.com");
}

fn ens_error(got: &(u16, Value), code: &str) {
    // Both ENS documents give every code HTTP 400.
    assert_error(got, 400, code, "ens.aliyuncs.com");
}

/// The private addresses of one ENI as Describe shows them, ECS or ENS.
async fn ips_of(emu: &Emu, dialect: DialectId, eni: &str) -> Vec<String> {
    let got = match dialect {
        DialectId::AlibabaEcs => {
            emu.call(&[
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", emu.ecs("region")),
                ("NetworkInterfaceId.1", eni),
            ])
            .await
        }
        _ => {
            emu.send(&Req::ens(&[
                ("Action", "DescribeNetworkInterfaces"),
                ("NetworkInterfaceId", eni),
            ]))
            .await
        }
    };
    assert_eq!(got.0, 200, "{}", got.1);
    got.1["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["PrivateIpSets"]["PrivateIpSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["PrivateIpAddress"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn default_world_provides_every_fixture() {
    let file = default_world();
    let world = World::build(&file).unwrap();
    for (dialect, vocabulary) in [
        (
            DialectId::AlibabaEcs,
            &[
                "region",
                "eni.available",
                "eni.available.primary_ip",
                "eni.inuse",
                "eni.inuse.primary_ip",
                "eni.primary",
                "eni.primary_of_stopping",
                "eni.attaching",
                "eni.other_account",
                "eni.exhausted",
                "eni.with_secondaries",
                "vswitch",
                "vswitch.cidr",
                "vswitch.free_ip",
                "vswitch.free_ip_2",
                "vswitch.free_ip_3",
                "vswitch.taken_ip",
                "vswitch.taken_ip_2",
                "vswitch.outside_ip",
                "vswitch.network_ip",
                "vswitch.broadcast_ip",
                "vswitch.reserved_ip",
                "instance.small.max_secondaries",
                "region.assign_not_offered",
            ][..],
        ),
        (
            DialectId::AlibabaEns,
            &[
                "ens_region",
                "network",
                "vswitch",
                "vswitch.cidr",
                "vswitch.second",
                "vswitch.second.cidr",
                "vswitch.other_network",
                "vswitch.exhausted",
                "eni.available",
                "eni.available.primary_ip",
                "eni.inuse",
                "eni.primary_of_stopping",
                "eni.attaching",
                "eni.with_secondaries",
                "eni.with_secondaries.primary_ip",
                "eni.full",
                "eni.full.max_secondaries",
                "eni.exhausted",
                "eni.other_account",
                "instance.running",
                "vswitch.free_ip",
                "vswitch.taken_ip",
                "vswitch.taken_ip_2",
                "vswitch.outside_ip",
            ][..],
        ),
    ] {
        let f = file.fixtures_of(dialect);
        for key in vocabulary {
            assert!(f.values.contains_key(*key), "{dialect} lacks fixture {key}");
        }
        for name in [
            "default",
            "other",
            "unknown",
            "wrong_secret",
            "disabled",
            "ram_describe_only",
        ] {
            assert!(
                f.credentials.contains_key(name),
                "{dialect} credentials {name}"
            );
        }
        let creds = &f.credentials;
        let key = |name: &str| world.access_key(&creds[name].access_key_id);
        let owner = key("default").unwrap();
        assert_eq!(&owner.secret, &creds["default"].access_key_secret);
        assert_ne!(owner.account, key("other").unwrap().account);
        assert!(key("unknown").is_none());
        assert!(key("disabled").unwrap().disabled);
        let reader = key("ram_describe_only").unwrap();
        assert!(reader.permits("DescribeNetworkInterfaces"));
        assert!(!reader.permits("AssignPrivateIpAddresses"));
        assert_eq!(
            creds["wrong_secret"].access_key_id,
            creds["default"].access_key_id
        );
        assert_ne!(
            creds["wrong_secret"].access_key_secret,
            creds["default"].access_key_secret
        );
    }

    // ECS: what each fixture promises.
    let v = &file.fixtures_of(DialectId::AlibabaEcs).values;
    let owner = "1608712344331111";
    let scope = crate::emulator::world::Scope {
        account: owner,
        service: DialectId::AlibabaEcs,
        region: Some(&v["region"]),
    };
    let eni = |key: &str| {
        world
            .eni(&scope, &v[key])
            .unwrap_or_else(|e| panic!("{key}: {e}"))
    };
    let ip = |key: &str| v[key].parse::<Ipv4Addr>().unwrap();
    let vs = world.subnet(&v["vswitch"]).unwrap();
    assert_eq!(vs.cidr.to_string(), v["vswitch.cidr"]);
    let available = eni("eni.available");
    assert_eq!(available.state.to_string(), "Available");
    assert_eq!(available.secondary_count(), 0);
    assert_eq!(available.primary_ip, ip("eni.available.primary_ip"));
    let inuse = eni("eni.inuse");
    assert_eq!(inuse.state.to_string(), "InUse");
    assert_eq!(
        world.secondary_limit(inuse).to_string(),
        v["instance.small.max_secondaries"]
    );
    assert_eq!(eni("eni.attaching").state.to_string(), "Attaching");
    assert!(world.eni(&scope, &v["eni.other_account"]).is_err());
    let exhausted = eni("eni.exhausted");
    assert_eq!(
        world
            .subnet(&exhausted.subnet)
            .unwrap()
            .allocator()
            .free_count(),
        0
    );
    assert_eq!(
        eni("eni.with_secondaries")
            .secondaries()
            .collect::<Vec<_>>(),
        vec![ip("vswitch.taken_ip"), ip("vswitch.taken_ip_2")]
    );
    for key in ["vswitch.free_ip", "vswitch.free_ip_2", "vswitch.free_ip_3"] {
        assert!(vs.is_free(ip(key)), "{key} must be free");
    }
    assert!(!vs.cidr.contains(&ip("vswitch.outside_ip")));
    assert!(!vs
        .allocator()
        .is_usable(u32::from(ip("vswitch.reserved_ip"))));
    // The ECS ENIs do not exist for the ENS API, though the account owns both.
    let ens_scope = crate::emulator::world::Scope {
        service: DialectId::AlibabaEns,
        region: None,
        ..scope
    };
    assert!(world.eni(&ens_scope, &v["eni.available"]).is_err());

    // ENS: what each fixture promises.
    let v = &file.fixtures_of(DialectId::AlibabaEns).values;
    let eni = |key: &str| {
        world
            .eni(&ens_scope, &v[key])
            .unwrap_or_else(|e| panic!("{key}: {e}"))
    };
    assert_eq!(eni("eni.available").subnet, v["vswitch"]);
    assert_eq!(eni("eni.available").region, v["ens_region"]);
    assert_eq!(eni("eni.available").vpc, v["network"]);
    let full = eni("eni.full");
    assert_eq!(
        world.secondary_limit(full).to_string(),
        v["eni.full.max_secondaries"]
    );
    assert_eq!(
        full.secondary_count().to_string(),
        v["eni.full.max_secondaries"]
    );
    assert_eq!(
        world.subnet(&v["vswitch.second"]).unwrap().vpc,
        v["network"]
    );
    assert_ne!(
        world.subnet(&v["vswitch.other_network"]).unwrap().vpc,
        v["network"]
    );
    assert_eq!(
        world
            .subnet(&v["vswitch.exhausted"])
            .unwrap()
            .allocator()
            .free_count(),
        0
    );
    assert!(world.eni(&ens_scope, &v["eni.other_account"]).is_err());
}

#[tokio::test]
async fn ecs_assign_explicit_then_describe_then_unassign() {
    let emu = Emu::start().await;
    let (region, eni, free) = (
        emu.ecs("region"),
        emu.ecs("eni.available"),
        emu.ecs("vswitch.free_ip"),
    );
    let (status, body) = emu
        .call(&[
            ("Action", "AssignPrivateIpAddresses"),
            ("RegionId", region),
            ("NetworkInterfaceId", eni),
            ("PrivateIpAddress.1", free),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]["PrivateIpAddress"],
        json!([free])
    );
    let (status, body) = emu
        .call(&[
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", region),
            ("NetworkInterfaceId.1", eni),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["TotalCount"], 1);
    let set = &body["NetworkInterfaceSets"]["NetworkInterfaceSet"][0];
    assert_eq!(set["InstanceId"], "");
    assert_eq!(
        set["PrivateIpSets"]["PrivateIpSet"],
        json!([
            {"PrivateIpAddress": emu.ecs("eni.available.primary_ip"), "Primary": true},
            {"PrivateIpAddress": free, "Primary": false}
        ])
    );
    let (status, _) = emu
        .call(&[
            ("Action", "UnassignPrivateIpAddresses"),
            ("RegionId", region),
            ("NetworkInterfaceId", eni),
            ("PrivateIpAddress.1", free),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEcs, eni).await,
        [emu.ecs("eni.available.primary_ip")]
    );
}

#[tokio::test]
async fn ecs_error_codes_and_statuses_change_nothing() {
    let emu = Emu::start().await;
    let assign = |eni: &'static str, extra: (&'static str, &'static str)| {
        vec![
            ("Action", "AssignPrivateIpAddresses"),
            ("RegionId", "cn-hangzhou"),
            ("NetworkInterfaceId", eni),
            extra,
        ]
    };
    let count1 = ("SecondaryPrivateIpAddressCount", "1");
    let available = "eni-bp1emu0available00001";
    let cases: Vec<ExpectedRefusal<'_>> = vec![
        (
            assign("eni-doesnotexist", count1),
            404,
            "InvalidEniId.NotFound",
        ),
        (
            assign("eni-bp1emu0otheracct00001", count1),
            404,
            "InvalidEniId.NotFound",
        ),
        (
            assign("eni-bp1emu0attaching00001", count1),
            400,
            "InvalidOperation.InvalidEniState",
        ),
        (
            assign("eni-bp1emu0stopping000001", count1),
            400,
            "InvalidOperation.InvalidEcsState",
        ),
        (
            assign(available, ("PrivateIpAddress.1", "172.16.0.253")),
            403,
            "InvalidVSwitchId.IpInvalid",
        ),
        (
            assign(available, ("PrivateIpAddress.1", "172.16.9.9")),
            403,
            "InvalidVSwitchId.IpInvalid",
        ),
        (
            assign(available, ("PrivateIpAddress.1", "172.16.0.20")),
            403,
            "InvalidIp.IpAssigned",
        ),
        (
            assign(available, ("PrivateIpAddress.1", "172.16.0.999")),
            400,
            "InvalidParameter",
        ),
        (
            assign(available, ("PrivateIpAddress.0", "172.16.0.50")),
            400,
            "InvalidParameter",
        ),
        (
            assign(available, ("PrivateIpAddress.51", "172.16.0.50")),
            400,
            "InvalidParameter",
        ),
        (
            assign(available, ("SecondaryPrivateIpAddressCount", "0")),
            400,
            "InvalidParameter",
        ),
        (
            assign(available, ("SecondaryPrivateIpAddressCount", "99999999999")),
            400,
            "InvalidParameter",
        ),
        (
            assign(available, ("SecondaryPrivateIpAddressCount", "11")),
            403,
            "InvalidOperation.Ipv4CountExceeded",
        ),
        (
            assign(
                "eni-bp1emu0inuse000000001",
                ("SecondaryPrivateIpAddressCount", "6"),
            ),
            403,
            "InvalidOperation.Ipv4CountExceeded",
        ),
        (
            assign("eni-bp1emu0exhausted00001", count1),
            403,
            "InvalidVSwitchId.IpNotEnough",
        ),
        // Neither the list nor the count: MissingParameter, before the
        // unknown parameter is noticed.
        (assign(available, ("Foo", "bar")), 403, "MissingParameter"),
        (
            vec![
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", available),
                count1,
                ("Foo", "bar"),
            ],
            400,
            "UnsupportedParameter",
        ),
        (
            vec![
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-wulanchabu"),
                ("NetworkInterfaceId", available),
                count1,
            ],
            400,
            "Forbidden.RegionId",
        ),
        (
            vec![
                ("Action", "AssignPrivateIpAddresses"),
                ("NetworkInterfaceId", "eni-x"),
                count1,
            ],
            403,
            "MissingParameter",
        ),
        (
            vec![
                ("Action", "UnassignPrivateIpAddresses"),
                ("NetworkInterfaceId", "eni-x"),
            ],
            400,
            "MissingParameter",
        ),
        (
            vec![
                ("Action", "UnassignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-bp1emu0withsecs000001"),
                ("PrivateIpAddress.1", "172.16.0.11"),
            ],
            403,
            "InvalidIp.IpUnassigned",
        ),
        (
            vec![
                ("Action", "UnassignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-bp1emu0withsecs000001"),
                ("PrivateIpAddress.1", "172.16.0.20"),
                ("PrivateIpAddress.2", "172.16.0.20"),
            ],
            400,
            "InvalidParameter",
        ),
        (vec![("Action", "RebootInstance")], 400, "InvalidAction"),
        (
            vec![
                ("Action", "DescribeNetworkInterfaces"),
                ("Version", "2099-01-01"),
            ],
            400,
            "InvalidVersion",
        ),
        (
            vec![
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", "cn-hangzhou"),
                ("SignatureNonce", ""),
            ],
            400,
            "MissingParameter",
        ),
        (
            vec![
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", "cn-hangzhou"),
                ("Timestamp", "2016-02-23T12:46:24Z"),
            ],
            400,
            "InvalidTimeStamp.Expired",
        ),
        (
            vec![
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", "cn-hangzhou"),
                ("Timestamp", "yesterday"),
            ],
            400,
            "InvalidTimeStamp.Format",
        ),
        (
            vec![
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", "cn-hangzhou"),
                ("PageSize", "101"),
            ],
            400,
            "InvalidParameter",
        ),
        (
            vec![
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", "cn-hangzhou"),
                ("PageSize", "x"),
            ],
            400,
            "InvalidParameter",
        ),
    ];
    for (params, status, code) in &cases {
        let got = emu.call(params).await;
        ecs_error(&got, *status, code);
    }
    // The refused requests changed nothing.
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEcs, "eni-bp1emu0withsecs000001").await,
        ["172.16.0.11", "172.16.0.20", "172.16.0.21"]
    );
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEcs, available).await,
        ["172.16.0.10"]
    );
}

#[tokio::test]
async fn ecs_messages_name_the_parameter_and_the_resource() {
    let emu = Emu::start().await;
    let message = |got: (u16, Value)| got.1["Message"].as_str().unwrap().to_string();
    assert_eq!(
        message(emu.call(&[("Action", "AssignPrivateIpAddresses"), ("NetworkInterfaceId", "eni-x"), ("SecondaryPrivateIpAddressCount", "1")]).await),
        "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied."
    );
    assert_eq!(
        message(
            emu.call(&[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-x"),
                ("PrivateIpAddress.1", "1.2.3.4"),
                ("PrivateIpAddress.2", "nope")
            ])
            .await
        ),
        "The specified parameter \"PrivateIpAddress.2\" is not valid."
    );
    assert_eq!(
        message(
            emu.call(&[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-x"),
                ("SecondaryPrivateIpAddressCount", "1")
            ])
            .await
        ),
        "The specified EniId \"eni-x\" is not found."
    );
    assert_eq!(
        message(emu.call(&[("Action", "AssignPrivateIpAddresses"), ("RegionId", "cn-hangzhou"), ("NetworkInterfaceId", "eni-bp1emu0attaching00001"), ("SecondaryPrivateIpAddressCount", "1")]).await),
        "The operation is not allowed in the current ENI state. Expecting status is \"Available,InUse\" while current status is \"Attaching\"."
    );
    assert_eq!(
        message(emu.call(&[("Action", "AssignPrivateIpAddresses"), ("RegionId", "cn-hangzhou"), ("NetworkInterfaceId", "eni-bp1emu0available00001"), ("PrivateIpAddress.1", "172.16.0.255")]).await),
        "The specified IpAddress \"172.16.0.255\" is not valid in VSwitch CIDR block \"172.16.0.0/24\"."
    );
    assert_eq!(
        message(
            emu.call(&[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-bp1emu0available00001"),
                ("PrivateIpAddress.1", "172.16.0.50"),
                ("SecondaryPrivateIpAddressCount", "1")
            ])
            .await
        ),
        "The specified parameter \"SecondaryPrivateIpAddressCount\" is not valid."
    );
}

#[tokio::test]
async fn ecs_accounts_keys_and_permissions() {
    let emu = Emu::start().await;
    let describe = [
        ("Action", "DescribeNetworkInterfaces"),
        ("RegionId", "cn-hangzhou"),
    ];
    let as_ =
        |name: &'static str, params: &[(&'static str, &'static str)]| Req::ecs(params).creds(name);
    ecs_error(
        &emu.send(&as_("unknown", &describe)).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );
    let got = emu.send(&as_("wrong_secret", &describe)).await;
    ecs_error(&got, 400, "SignatureDoesNotMatch");
    assert!(got.1["Message"]
        .as_str()
        .unwrap()
        .contains("server string to sign is:GET&%2F&AccessKeyId%3D"));
    ecs_error(
        &emu.send(&as_("disabled", &describe)).await,
        403,
        "Abs.InvalidAccount.NotFound",
    );
    // A RAM user allowed only Describe: Describe works, Assign is refused
    // and assigns nothing.
    assert_eq!(emu.send(&as_("ram_describe_only", &describe)).await.0, 200);
    let assign = [
        ("Action", "AssignPrivateIpAddresses"),
        ("RegionId", "cn-hangzhou"),
        ("NetworkInterfaceId", "eni-bp1emu0available00001"),
        ("PrivateIpAddress.1", "172.16.0.100"),
    ];
    ecs_error(
        &emu.send(&as_("ram_describe_only", &assign)).await,
        403,
        "Forbidden.SubUser",
    );
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEcs, "eni-bp1emu0available00001").await,
        ["172.16.0.10"]
    );

    // A replayed nonce, then the same nonce for another key.
    let nonce = [
        describe[0],
        describe[1],
        ("SignatureNonce", "fixed-nonce-1"),
    ];
    assert_eq!(emu.call(&nonce).await.0, 200);
    ecs_error(&emu.call(&nonce).await, 400, "SignatureNonceUsed");
    assert_eq!(emu.send(&as_("other", &nonce)).await.0, 200);
    // The other account sees only its own ENI.
    let (_, body) = emu.send(&as_("other", &describe)).await;
    assert_eq!(body["TotalCount"], 1);
    assert_eq!(
        body["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["NetworkInterfaceId"],
        "eni-bp1emu0otheracct00001"
    );
}

#[tokio::test]
async fn clock_window_is_fifteen_minutes_either_side() {
    let pinned = chrono::DateTime::parse_from_rfc3339("2016-02-23T12:46:24Z")
        .unwrap()
        .to_utc();
    let state = EmulatorState::new(World::build(&default_world()).unwrap()).with_fixed_now(pinned);
    let emu = Emu::with_state(state).await;
    let at = |ts: &'static str| {
        vec![
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", "cn-hangzhou"),
            ("Timestamp", ts),
        ]
    };
    assert_eq!(emu.call(&at("2016-02-23T13:01:24Z")).await.0, 200);
    assert_eq!(emu.call(&at("2016-02-23T12:31:24Z")).await.0, 200);
    ecs_error(
        &emu.call(&at("2016-02-23T13:01:25Z")).await,
        400,
        "InvalidTimeStamp.Expired",
    );
    ecs_error(
        &emu.call(&at("2016-02-23T12:31:23Z")).await,
        400,
        "InvalidTimeStamp.Expired",
    );
    // The V3 date obeys the same window; advancing the clock moves it.
    let v3 = |date: &'static str| {
        Req::ecs(&[
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", "cn-hangzhou"),
        ])
        .v3()
        .header("x-acs-date", Some(date))
    };
    assert_eq!(emu.send(&v3("2016-02-23T13:01:24Z")).await.0, 200);
    emu.emu.state().advance(chrono::TimeDelta::seconds(-2));
    ecs_error(
        &emu.send(&v3("2016-02-23T13:01:24Z")).await,
        400,
        "InvalidTimeStamp.Expired",
    );
}

#[tokio::test]
async fn xml_format_and_form_body() {
    let emu = Emu::start().await;
    let params = [
        ("Format", "xml"),
        ("Action", "AssignPrivateIpAddresses"),
        ("RegionId", "cn-hangzhou"),
        ("NetworkInterfaceId", "eni-bp1emu0available00001"),
        ("SecondaryPrivateIpAddressCount", "2"),
        // Known optional parameters: a space (`+` in the form) and an
        // empty value, as the old Python SDK sends them.
        ("ClientToken", "a b*c"),
        ("SignatureType", ""),
    ];
    let mut req = Req::ecs(&params).post();
    // SDKs put `+` for a space in a form body but sign `%20`.
    let body = String::from_utf8(emu.wire(&req).body.unwrap()).unwrap();
    req.body_override = Some(body.replace("%20", "+"));
    let (status, body) = emu.send(&req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["root"], "AssignPrivateIpAddressesResponse");
    assert_eq!(
        body["tree"]["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]["PrivateIpAddress"],
        json!(["172.16.0.5", "172.16.0.6"]),
        "lowest free addresses, in order"
    );
    let (status, body) = emu
        .send(&Req::ecs(&[("Format", "XML"), ("Action", "Nope")]).post())
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["root"], "Error");
    assert_eq!(body["tree"]["Code"], "InvalidAction");
}

#[tokio::test]
async fn v3_cycle_on_ecs_and_its_refusals() {
    let emu = Emu::start().await;
    let eni = emu.ecs("eni.available");
    let assign = [
        ("Action", "AssignPrivateIpAddresses"),
        ("RegionId", "cn-hangzhou"),
        ("NetworkInterfaceId", eni),
        ("PrivateIpAddress.1", "172.16.0.100"),
    ];
    for method in [Method::Get, Method::Post] {
        let mut req = Req::ecs(&assign).v3();
        req.method = method;
        let (status, body) = emu.send(&req).await;
        assert_eq!(status, 200, "{method:?}: {body}");
        let unassign = [
            ("Action", "UnassignPrivateIpAddresses"),
            ("RegionId", "cn-hangzhou"),
            ("NetworkInterfaceId", eni),
            ("PrivateIpAddress.1", "172.16.0.100"),
        ];
        let mut req = Req::ecs(&unassign).v3();
        req.method = method;
        assert_eq!(emu.send(&req).await.0, 200);
    }
    let emu = &emu;
    let refused = |req: Req<'static>, status: u16, code: &'static str| async move {
        let got = emu.send(&req).await;
        ecs_error(&got, status, code);
        got
    };
    let a: &'static [(&str, &str)] = &[
        ("Action", "AssignPrivateIpAddresses"),
        ("RegionId", "cn-hangzhou"),
        ("NetworkInterfaceId", "eni-bp1emu0available00001"),
        ("PrivateIpAddress.1", "172.16.0.100"),
    ];
    let got = refused(
        Req::ecs(a).v3().creds("wrong_secret"),
        400,
        "SignatureDoesNotMatch",
    )
    .await;
    assert!(got.1["Message"]
        .as_str()
        .unwrap()
        .contains("server StringToSign is [ACS3-HMAC-SHA256 "));
    refused(
        Req::ecs(a).v3().creds("unknown"),
        404,
        "InvalidAccessKeyId.NotFound",
    )
    .await;
    refused(
        Req::ecs(a)
            .v3()
            .header("x-acs-date", Some("2016-02-23T12:46:24Z")),
        400,
        "InvalidTimeStamp.Expired",
    )
    .await;
    refused(
        Req::ecs(a).v3().header("x-acs-date", Some("noon")),
        400,
        "InvalidTimeStamp.Format",
    )
    .await;
    refused(
        Req::ecs(a).v3().header("x-acs-date", None),
        400,
        "IncompleteSignature",
    )
    .await;
    refused(
        Req::ecs(a).v3().post().header(
            "x-acs-content-sha256",
            Some("0000000000000000000000000000000000000000000000000000000000000000"),
        ),
        400,
        "SignatureDoesNotMatch",
    )
    .await;
    refused(
        Req::ecs(a)
            .v3()
            .header("authorization", Some("ACS3-HMAC-SHA256 Credential=x")),
        400,
        "IncompleteSignature",
    )
    .await;
    refused(
        Req::ecs(&[("Action", "RebootInstance")]).v3(),
        400,
        "InvalidAction",
    )
    .await;
    // A reused nonce, then the same request with a fresh one.
    let fixed = || {
        Req::ecs(&[
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", "cn-hangzhou"),
        ])
        .v3()
        .header("x-acs-signature-nonce", Some("v3-fixed-nonce"))
    };
    assert_eq!(emu.send(&fixed()).await.0, 200);
    refused(fixed(), 400, "SignatureNonceUsed").await;
    // Nothing was assigned by the refused calls.
    assert_eq!(
        ips_of(emu, DialectId::AlibabaEcs, "eni-bp1emu0available00001").await,
        ["172.16.0.10"]
    );
}

#[tokio::test]
async fn v3_verifies_the_query_as_signed_not_an_extra_parameter() {
    let emu = Emu::start().await;
    // A parameter added to the query after signing breaks the signature.
    let mut req = Req::ecs(&[
        ("Action", "DescribeNetworkInterfaces"),
        ("RegionId", "cn-hangzhou"),
    ])
    .v3();
    req.drop_after_signing = &["RegionId"];
    ecs_error(&emu.send(&req).await, 400, "SignatureDoesNotMatch");
    // The same header twice is refused before any signature is computed.
    let wire = emu.wire(
        &Req::ecs(&[
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", "cn-hangzhou"),
        ])
        .v3(),
    );
    let mut headers = wire.headers.clone();
    headers.push(("x-acs-date".into(), "2020-01-01T00:00:00Z".into()));
    let got = raw(&emu.emu, &wire.method, &wire.path_and_query, &headers, None).await;
    ecs_error(&got, 400, "IncompleteSignature");
}

#[tokio::test]
async fn hostile_input_gets_vendor_errors() {
    let emu = Emu::start().await;
    let huge = format!(
        "Version=2014-05-26&Action=DescribeNetworkInterfaces&X={}",
        "a".repeat(40_000)
    );
    for query in [
        "",
        "%FF%FE=%C0",
        "Version=2014-05-26&Action=AssignPrivateIpAddresses&&&=&%",
        "Version=2014-05-26&Action=DescribeNetworkInterfaces&PrivateIpAddress.4294967296=1",
        "Version=2014-05-26&Format=XML&Action=DescribeNetworkInterfaces&AccessKeyId=%00",
        "Version=2017-11-10&Action=AssignPrivateIpAddresses",
        huge.as_str(),
    ] {
        let reply = send_raw(&emu.emu, "GET", &format!("/?{query}"), &[], None).await;
        let (status, text) = (reply.status, reply.text);
        assert!(
            (400..500).contains(&status),
            "{}: {status} {text}",
            &query[..query.len().min(80)]
        );
        assert!(text.contains("Code"), "{text}");
    }
    // An oversized body, a binary body, an unsupported method.
    for (method, body) in [
        ("POST", vec![b'a'; crate::emulator::MAX_BODY + 1]),
        ("POST", vec![0xffu8; 4096]),
        ("PUT", b"Version=2014-05-26".to_vec()),
    ] {
        let reply = send_raw(
            &emu.emu,
            method,
            "/?Version=2014-05-26",
            &[(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            Some(body),
        )
        .await;
        let (status, text) = (reply.status, reply.text);
        assert_eq!(status, 400, "{method}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["HostId"], "ecs.aliyuncs.com");
    }
    let ok = send_raw(&emu.emu, "GET", "/healthz", &[], None).await;
    assert_eq!((ok.status, ok.text), (200, "ok".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_http_assigns_never_share_an_address() {
    let file = WorldFile::single_subnet("10.3.0.0/22".parse().unwrap(), 6);
    let emu = Arc::new(Emu {
        emu: start(&file, "127.0.0.1:0".parse().unwrap()).await.unwrap(),
        world: file,
    });
    for i in 0..6 {
        emu.emu
            .state()
            .world()
            .set_eni_secondary_limit(&format!("eni-bench{i}"), Some(1000))
            .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..6 {
        for _ in 0..5 {
            let emu = Arc::clone(&emu);
            tasks.push(tokio::spawn(async move {
                let eni = format!("eni-bench{i}");
                let mut got = Vec::new();
                for _ in 0..4 {
                    let (status, body) = emu
                        .call(&[
                            ("Action", "AssignPrivateIpAddresses"),
                            ("RegionId", "cn-hangzhou"),
                            ("NetworkInterfaceId", &eni),
                            ("SecondaryPrivateIpAddressCount", "1"),
                        ])
                        .await;
                    assert_eq!(status, 200, "{body}");
                    let ip = body["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]
                        ["PrivateIpAddress"][0]
                        .as_str()
                        .unwrap()
                        .to_string();
                    got.push((ip, eni.clone()));
                }
                got
            }));
        }
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for (ip, eni) in t.await.unwrap() {
            assert!(
                seen.insert(ip.clone()),
                "{ip} handed out twice (last to {eni})"
            );
        }
    }
    assert_eq!(seen.len(), 6 * 5 * 4);
}

#[tokio::test]
async fn ens_cycle_signed_v1_and_v3() {
    let emu = Emu::start().await;
    let eni = emu.ens("eni.available");
    let primary = emu.ens("eni.available.primary_ip");
    for (signing, method) in [("v1", Method::Get), ("v3", Method::Post)] {
        let mut req = Req::ens(&[
            ("Action", "AssignPrivateIpAddresses"),
            ("NetworkInterfaceId", eni),
        ]);
        req.signing = signing;
        req.method = method;
        let (status, body) = emu.send(&req).await;
        assert_eq!(status, 200, "{signing}: {body}");
        // ENS lists a flat PrivateIpSet of strings; the lowest free address.
        assert_eq!(
            body["AssignedPrivateIpAddressesSet"],
            json!({"NetworkInterfaceId": eni, "PrivateIpSet": ["10.8.1.1"]})
        );
        assert_eq!(
            ips_of(&emu, DialectId::AlibabaEns, eni).await,
            [primary, "10.8.1.1"]
        );
        let mut req = Req::ens(&[
            ("Action", "UnassignPrivateIpAddresses"),
            ("NetworkInterfaceId", eni),
            ("PrivateIpAddress.1", "10.8.1.1"),
        ]);
        req.signing = signing;
        req.method = method;
        let (status, body) = emu.send(&req).await;
        assert_eq!(status, 200, "{signing}: {body}");
        assert_eq!(body.as_object().unwrap().len(), 1, "RequestId only: {body}");
        assert_eq!(ips_of(&emu, DialectId::AlibabaEns, eni).await, [primary]);
    }
}

#[tokio::test]
async fn ens_assigns_from_a_named_vswitch_and_releases_there() {
    let emu = Emu::start().await;
    let eni = emu.ens("eni.available");
    let second = emu.ens("vswitch.second");
    let (status, body) = emu
        .send(&Req::ens(&[
            ("Action", "AssignPrivateIpAddresses"),
            ("NetworkInterfaceId", eni),
            ("VSwitchId", second),
        ]))
        .await;
    assert_eq!(status, 200, "{body}");
    let ip = body["AssignedPrivateIpAddressesSet"]["PrivateIpSet"][0]
        .as_str()
        .unwrap()
        .to_string();
    let cidr: ipnet::Ipv4Net = emu.ens("vswitch.second.cidr").parse().unwrap();
    assert!(
        cidr.contains(&ip.parse::<Ipv4Addr>().unwrap()),
        "{ip} in {cidr}"
    );
    {
        let world = emu.emu.state().world();
        assert_eq!(
            world.subnet(second).unwrap().owner(ip.parse().unwrap()),
            Some(eni)
        );
    }
    let (status, _) = emu
        .send(&Req::ens(&[
            ("Action", "UnassignPrivateIpAddresses"),
            ("NetworkInterfaceId", eni),
            ("PrivateIpAddress.1", &ip),
        ]))
        .await;
    assert_eq!(status, 200);
    let world = emu.emu.state().world();
    let subnet = world.subnet(second).unwrap();
    assert!(
        subnet.is_free(ip.parse().unwrap()),
        "released into {second}"
    );
    assert_eq!(subnet.owner(ip.parse().unwrap()), None);
}

#[tokio::test]
async fn ens_error_codes_change_nothing() {
    let emu = Emu::start().await;
    let f = |key: &str| emu.ens(key).to_string();
    let assign = |eni: String, extra: Option<(&'static str, String)>| {
        let mut p = vec![
            ("Action", "AssignPrivateIpAddresses".to_string()),
            ("NetworkInterfaceId", eni),
        ];
        p.extend(extra);
        p
    };
    let unassign = |eni: String, ips: &[&str]| {
        let mut p = vec![
            ("Action", "UnassignPrivateIpAddresses".to_string()),
            ("NetworkInterfaceId", eni),
        ];
        let names = ["PrivateIpAddress.1", "PrivateIpAddress.2"];
        p.extend(ips.iter().zip(names).map(|(ip, n)| (n, ip.to_string())));
        p
    };
    let ecs_eni = emu.ecs("eni.available").to_string();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            assign("eni-doesnotexist".into(), None),
            "InvalidEniId.NotFound",
        ),
        (
            assign(f("eni.other_account"), None),
            "InvalidEniId.NotFound",
        ),
        (assign(ecs_eni, None), "InvalidEniId.NotFound"),
        (assign(f("eni.attaching"), None), "IncorrectEniStatus"),
        (
            assign(f("eni.primary_of_stopping"), None),
            "IncorrectInstanceStatus",
        ),
        (assign(f("eni.full"), None), "MaxEniPrivateIpsCountExceeded"),
        (
            assign(f("eni.exhausted"), None),
            "InvalidVSwitchId.IpNotEnough",
        ),
        (
            assign(f("eni.available"), Some(("VSwitchId", "vsw-nope".into()))),
            "InvalidVSwitchId.NotFound",
        ),
        (
            assign(
                f("eni.available"),
                Some(("VSwitchId", f("vswitch.other_network"))),
            ),
            "InvalidVSwitchId.NotBelongNetwork",
        ),
        (
            assign(f("eni.available"), Some(("Foo", "bar".into()))),
            "InvalidParameter.Foo",
        ),
        (
            vec![("Action", "AssignPrivateIpAddresses".into())],
            "MissingNetworkInterfaceId",
        ),
        (
            unassign(f("eni.with_secondaries"), &[]),
            "MissingPrivateIpAddress",
        ),
        (
            unassign(f("eni.with_secondaries"), &["nope"]),
            "InvalidPrivateIpAddress",
        ),
        (
            unassign(f("eni.with_secondaries"), &["10.8.1.20", "10.8.1.20"]),
            "InvalidParameter.PrivateIpAddress",
        ),
        (
            unassign(f("eni.with_secondaries"), &["10.8.1.99"]),
            "InvalidPrivateIpAddress.NotFound",
        ),
        (
            unassign(f("eni.with_secondaries"), &["10.8.1.20", "10.8.200.9"]),
            "InvalidPrivateIpAddress.NotFound",
        ),
        (
            unassign(
                f("eni.with_secondaries"),
                &[emu.ens("eni.with_secondaries.primary_ip")],
            ),
            "IncorrectPrivateIpAddressStatus",
        ),
    ];
    for (params, code) in &cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ens_error(&emu.send(&Req::ens(&params)).await, code);
    }
    let reader = Req::ens(&[
        ("Action", "AssignPrivateIpAddresses"),
        ("NetworkInterfaceId", emu.ens("eni.available")),
    ])
    .creds("ram_describe_only");
    ens_error(&emu.send(&reader).await, "NoPermission");
    // The gateway's codes keep their statuses on ENS.
    let describe = || Req::ens(&[("Action", "DescribeNetworkInterfaces")]);
    assert_error(
        &emu.send(&describe().creds("unknown")).await,
        404,
        "InvalidAccessKeyId.NotFound",
        "ens.aliyuncs.com",
    );
    assert_error(
        &emu.send(&describe().creds("disabled")).await,
        403,
        "Abs.InvalidAccount.NotFound",
        "ens.aliyuncs.com",
    );
    ens_error(
        &emu.send(&describe().creds("wrong_secret").v3()).await,
        "SignatureDoesNotMatch",
    );
    // Nothing changed.
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEns, emu.ens("eni.with_secondaries")).await,
        ["10.8.1.11", "10.8.1.20", "10.8.1.21"]
    );
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEns, emu.ens("eni.available")).await,
        [emu.ens("eni.available.primary_ip")]
    );
    assert_eq!(
        ips_of(&emu, DialectId::AlibabaEns, emu.ens("eni.full"))
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn ens_describe_filters_and_pages() {
    let emu = Emu::start().await;
    let describe = |extra: &[(&'static str, &'static str)]| {
        let mut p = vec![("Action", "DescribeNetworkInterfaces")];
        p.extend_from_slice(extra);
        Req::ens(&p)
    };
    let ids = |body: &Value| -> Vec<String> {
        body["NetworkInterfaceSets"]["NetworkInterfaceSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["NetworkInterfaceId"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, all) = emu.send(&describe(&[])).await;
    assert_eq!(status, 200, "{all}");
    // The default account's ENS ENIs only: no ECS ENI, no other account's.
    let total = all["TotalCount"].as_u64().unwrap();
    assert_eq!(total, 9, "{all}");
    assert_eq!(all["PageSize"], 50);
    assert!(ids(&all).iter().all(|id| id.starts_with("eni-5emu0")));
    let first = &all["NetworkInterfaceSets"]["NetworkInterfaceSet"][0];
    assert_eq!(first["PrimaryIpType"], "IPv4");
    assert_eq!(
        (
            first["Description"].as_str(),
            first["NetworkInterfaceName"].as_str()
        ),
        (Some(""), Some(""))
    );
    assert!(chrono::DateTime::parse_from_rfc3339(first["CreationTime"].as_str().unwrap()).is_ok());
    assert!(!ids(&all).contains(&"eni-5emu0otheracct001".to_string()));
    let (_, page) = emu
        .send(&describe(&[("PageSize", "2"), ("PageNumber", "2")]))
        .await;
    assert_eq!(ids(&page), ids(&all)[2..4]);
    let (_, inuse) = emu.send(&describe(&[("Status", "InUse")])).await;
    assert!(ids(&inuse).contains(&"eni-5emu0inuse0000001".to_string()));
    assert!(inuse["NetworkInterfaceSets"]["NetworkInterfaceSet"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["Status"] == "InUse"));
    let (_, by_instance) = emu
        .send(&describe(&[("InstanceId", "i-5emu0running0000001")]))
        .await;
    assert_eq!(by_instance["TotalCount"], 3, "{by_instance}");
    let (_, exhausted) = emu
        .send(&describe(&[("VSwitchId", "vsw-5emu0exhausted001")]))
        .await;
    assert_eq!(exhausted["TotalCount"], 2);
    let (_, two) = emu
        .send(&describe(&[
            ("NetworkInterfaceIds.1", "eni-5emu0full00000001"),
            ("NetworkInterfaceIds.2", "eni-5emu0available001"),
        ]))
        .await;
    assert_eq!(two["TotalCount"], 2);
    let (_, other_region) = emu.send(&describe(&[("EnsRegionId", "cn-hangzhou")])).await;
    assert_eq!(other_region["TotalCount"], 0);
    ens_error(
        &emu.send(&describe(&[("PageSize", "101")])).await,
        "InvalidParameter.PageSize",
    );
    ens_error(
        &emu.send(&describe(&[("PageSize", "x")])).await,
        "InvalidPageSize",
    );
}
