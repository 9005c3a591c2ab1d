//! The NAVER emulator over real HTTP, as a raw client that signs by the
//! book sees it: vector A4-1 on the verifier, both signing variants, the
//! 5-minute window, hostile input that gets NAVER's error body and leaves
//! the world as it was, XML and JSON with the same content, and a POST
//! that repeats a query parameter in its body.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::DIALECT;
use crate::dialect::naver::{self, ACCESS_KEY, SIGNATURE_V1, SIGNATURE_V2, TIMESTAMP};
use crate::dialect::{xml, Method};
use crate::emulator::test_support::{
    default_world, send_raw, signed_wire, start_default, RawReply, Signer,
};
use crate::emulator::world::{AccessKeyDef, AccountDef, World, WorldFile};
use crate::emulator::{start_with_state, EmulatorState, RunningEmulator};
use crate::fixtures::Secret;
use crate::spec::SpecSet;

/// Signs `params` for `action` as the client does (`v2` or `sdk`) with the
/// credential set `creds` of the world's NAVER fixtures, and sends them.
async fn send(
    emu: &RunningEmulator,
    world: &WorldFile,
    creds: &str,
    signing: &str,
    method: Method,
    action: &str,
    params: &[(&str, &str)],
) -> RawReply {
    let signer = Signer {
        dialect: DIALECT,
        creds,
        signing,
        method,
    };
    let wire = signed_wire(emu, world, &signer, action, params);
    send_raw(
        emu,
        method.as_str(),
        &wire.path_and_query,
        &wire.headers,
        wire.body,
    )
    .await
}

/// The gateway's headers for `method path?query`, signed v2 by hand with
/// the default keys at the emulator's clock: for what the client cannot
/// send (a method NAVER does not serve, a body that repeats the query).
fn signed_by_hand(
    emu: &RunningEmulator,
    world: &WorldFile,
    method: &str,
    path: &str,
    query: &str,
) -> Vec<(String, String)> {
    let creds = &world.fixtures_of(DIALECT).credentials["default"];
    let now = emu.state().now().timestamp_millis().to_string();
    let signature = naver::sign(
        &naver::message(method, path, query, &now, &creds.access_key_id),
        creds.access_key_secret.expose(),
    );
    vec![
        (TIMESTAMP.to_string(), now),
        (ACCESS_KEY.to_string(), creds.access_key_id.clone()),
        (SIGNATURE_V2.to_string(), signature),
    ]
}

/// [`send`] as most requests go: a GET signed `v2` with the default keys.
async fn get(
    emu: &RunningEmulator,
    world: &WorldFile,
    action: &str,
    params: &[(&str, &str)],
) -> RawReply {
    send(emu, world, "default", "v2", Method::Get, action, params).await
}

fn json(reply: &RawReply) -> Value {
    serde_json::from_str(&reply.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text))
}

fn fixture<'w>(world: &'w WorldFile, key: &str) -> &'w str {
    world.fixtures_of(DIALECT).values[key].as_str()
}

/// The service's error code of a JSON reply, or the gateway's.
fn error_code(body: &Value) -> (&str, &str) {
    match (body.get("responseError"), body.get("error")) {
        (Some(e), _) => (
            e["returnCode"].as_str().unwrap_or_default(),
            e["returnMessage"].as_str().unwrap_or_default(),
        ),
        (None, Some(e)) => (
            e["errorCode"].as_str().unwrap_or_default(),
            e["message"].as_str().unwrap_or_default(),
        ),
        (None, None) => ("", ""),
    }
}

/// The secondary IPs of one interface, as getNetworkInterfaceDetail in
/// JSON reads them.
async fn secondaries(emu: &RunningEmulator, world: &WorldFile, eni: &str) -> Vec<String> {
    let reply = get(
        emu,
        world,
        "getNetworkInterfaceDetail",
        &[("networkInterfaceNo", eni), ("responseFormatType", "json")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = json(&reply);
    body["getNetworkInterfaceDetailResponse"]["networkInterfaceList"][0]["secondaryIpList"]
        .as_array()
        .unwrap_or_else(|| panic!("no secondaryIpList: {body}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

const A4_KEY: &str = "ncpAccessKeyExample";
const A4_SECRET: &str = "ncpSecretKeyExample";
const A4_TIMESTAMP: i64 = 1_700_000_000_000;
const A4_TARGET: &str = "/vserver/v2/getRegionList?responseFormatType=json";
const A4_SIGNATURE: &str = "yCZKd4kYNaoPwYpu5dJzc54B32abgch8Ts/nfcoVYwk=";

/// The default world plus an account holding the vector's key, with the
/// clock pinned to the vector's timestamp.
async fn a4_emulator() -> RunningEmulator {
    let mut world = default_world();
    world.accounts.push(AccountDef {
        id: "a4-vector".into(),
        access_keys: vec![AccessKeyDef {
            id: A4_KEY.into(),
            secret: Secret::new(A4_SECRET),
            disabled: false,
            allowed_operations: None,
        }],
    });
    let now = DateTime::<Utc>::from_timestamp_millis(A4_TIMESTAMP).unwrap();
    let state = EmulatorState::new(World::build(&world).unwrap()).with_fixed_now(now);
    start_with_state(Arc::new(state), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn a4_request(emu: &RunningEmulator, header: &str, signature: &str) -> (u16, Value) {
    let headers = [
        (TIMESTAMP.to_string(), A4_TIMESTAMP.to_string()),
        (ACCESS_KEY.to_string(), A4_KEY.to_string()),
        (header.to_string(), signature.to_string()),
    ];
    let reply = send_raw(emu, "GET", A4_TARGET, &headers, None).await;
    (reply.status, json(&reply))
}

#[tokio::test]
async fn a4_1_passes_the_verifier_under_both_headers_and_only_within_five_minutes() {
    let emu = a4_emulator().await;
    // getRegionList is not served: a request that passes the gateway's
    // authentication gets its 404 / 300, one that does not its 401 / 200.
    for header in [SIGNATURE_V2, SIGNATURE_V1] {
        let (status, body) = a4_request(&emu, header, A4_SIGNATURE).await;
        assert_eq!((status, error_code(&body).0), (404, "300"), "{body}");
    }
    let mut tampered = A4_SIGNATURE.to_string();
    tampered.replace_range(0..1, "z");
    let (status, body) = a4_request(&emu, SIGNATURE_V2, &tampered).await;
    assert_eq!((status, error_code(&body).0), (401, "200"), "{body}");
    // The window is five minutes, inclusive, either side.
    emu.state().advance(TimeDelta::minutes(5));
    let (status, body) = a4_request(&emu, SIGNATURE_V2, A4_SIGNATURE).await;
    assert_eq!((status, error_code(&body).0), (404, "300"), "{body}");
    emu.state().advance(TimeDelta::milliseconds(1));
    let (status, body) = a4_request(&emu, SIGNATURE_V2, A4_SIGNATURE).await;
    assert_eq!((status, error_code(&body).0), (401, "200"), "{body}");
    assert_eq!(body["error"]["message"], "Authentication Failed", "{body}");
    assert!(
        body["error"]["details"]
            .as_str()
            .is_some_and(|d| d.starts_with("Timestamp expired")),
        "the cause goes in details: {body}"
    );
    emu.state().advance(TimeDelta::minutes(-10));
    let (status, body) = a4_request(&emu, SIGNATURE_V2, A4_SIGNATURE).await;
    assert_eq!((status, error_code(&body).0), (404, "300"), "{body}");
}

#[tokio::test]
async fn the_query_verifies_as_sent_and_as_decoded_and_a_wrong_secret_never_does() {
    let (emu, world) = start_default().await;
    // A value that percent-encoding changes: the `sdk` variant signs it
    // unencoded, `v2` as sent.
    let params = [
        ("subnetName", "a subnet/with:odd chars"),
        ("responseFormatType", "json"),
    ];
    for signing in ["v2", "sdk"] {
        let reply = send(
            &emu,
            &world,
            "default",
            signing,
            Method::Get,
            "getNetworkInterfaceList",
            &params,
        )
        .await;
        let body = json(&reply);
        assert_eq!(reply.status, 200, "{signing}: {body}");
        assert_eq!(
            body["getNetworkInterfaceListResponse"]["totalRows"], 0,
            "{body}"
        );
        for creds in ["wrong_secret", "unknown"] {
            let reply = send(
                &emu,
                &world,
                creds,
                signing,
                Method::Get,
                "getNetworkInterfaceList",
                &params,
            )
            .await;
            let body = json(&reply);
            assert_eq!((reply.status, error_code(&body).0), (401, "200"), "{body}");
            let secret = world.fixtures_of(DIALECT).credentials[creds]
                .access_key_secret
                .expose()
                .to_string();
            assert!(
                !reply.text.contains(&secret),
                "a refusal never echoes a secret: {}",
                reply.text
            );
        }
    }
}

#[tokio::test]
async fn hostile_input_gets_naver_error_body_naming_the_parameter_and_changes_nothing() {
    let (emu, world) = start_default().await;
    let eni = fixture(&world, "eni.available");
    let free = fixture(&world, "subnet.free_ip");
    let before = secondaries(&emu, &world, eni).await;
    // Each refused in JSON with 400 / 1100000, the message naming what to fix.
    for (params, named) in [
        (
            vec![("networkInterfaceNo", "nic-abc"), ("secondaryIpCount", "1")],
            "networkInterfaceNo",
        ),
        (
            vec![("networkInterfaceNo", eni), ("secondaryIpCount", "6")],
            "secondaryIpCount",
        ),
        (
            vec![("networkInterfaceNo", eni), ("secondaryIpCount", "-1")],
            "secondaryIpCount",
        ),
        (
            vec![("networkInterfaceNo", eni), ("secondaryIpList.0", free)],
            "secondaryIpList.0",
        ),
        (
            vec![
                ("networkInterfaceNo", eni),
                ("secondaryIpList.99999999999999999999", free),
            ],
            "secondaryIpList.99999999999999999999",
        ),
        (
            vec![
                ("networkInterfaceNo", eni),
                ("secondaryIpList.1", "10.20.1.300"),
            ],
            "secondaryIpList.1",
        ),
        (
            vec![
                ("networkInterfaceNo", "99999999999999999999"),
                ("secondaryIpCount", "1"),
            ],
            "networkInterfaceNo",
        ),
        (
            vec![
                ("networkInterfaceNo", eni),
                ("allowReassign", "yes"),
                ("secondaryIpCount", "1"),
            ],
            "allowReassign",
        ),
    ] {
        let mut with_json = params.clone();
        with_json.push(("responseFormatType", "json"));
        for method in [Method::Get, Method::Post] {
            let reply = send(
                &emu,
                &world,
                "default",
                "v2",
                method,
                "assignSecondaryIps",
                &with_json,
            )
            .await;
            let body = json(&reply);
            let (code, message) = error_code(&body);
            assert_eq!((reply.status, code), (400, "1100000"), "{params:?}: {body}");
            assert!(
                message.contains(named),
                "{params:?}: the message names {named}: {body}"
            );
        }
    }
    // An unknown responseFormatType cannot be answered in itself: JSON.
    let reply = get(
        &emu,
        &world,
        "assignSecondaryIps",
        &[
            ("networkInterfaceNo", eni),
            ("secondaryIpCount", "1"),
            ("responseFormatType", "yaml"),
        ],
    )
    .await;
    assert!(
        reply.content_type.starts_with("application/json"),
        "{}",
        reply.content_type
    );
    let body = json(&reply);
    assert_eq!(
        (reply.status, error_code(&body).0),
        (400, "1100000"),
        "{body}"
    );
    assert!(error_code(&body).1.contains("responseFormatType"), "{body}");
    // The default format refuses in XML, with the same content.
    let reply = get(
        &emu,
        &world,
        "assignSecondaryIps",
        &[("networkInterfaceNo", eni), ("secondaryIpCount", "6")],
    )
    .await;
    assert!(
        reply.content_type.starts_with("application/xml"),
        "{}",
        reply.content_type
    );
    let (root, value) = xml::xml_to_json(&reply.text).unwrap();
    assert_eq!((reply.status, root.as_str()), (400, "responseError"));
    assert_eq!(value["returnCode"], "1100000", "{}", reply.text);
    // Bytes no form decodes, an oversized query, a method NAVER does not
    // serve: an error body each, never a dropped connection.
    let bad_body = send_raw(
        &emu,
        "POST",
        "/vserver/v2/assignSecondaryIps",
        &[(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        Some(vec![0xff; 4096]),
    )
    .await;
    assert!(matches!(bad_body.status, 400 | 401), "{}", bad_body.text);
    let oversized = format!(
        "/vserver/v2/getNetworkInterfaceList?x={}",
        "a".repeat(40_000)
    );
    let reply = send_raw(&emu, "GET", &oversized, &[], None).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let put = get(&emu, &world, "getNetworkInterfaceList", &[]).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let path = "/vserver/v2/getNetworkInterfaceList";
    let headers = signed_by_hand(&emu, &world, "PUT", path, "");
    let reply = send_raw(&emu, "PUT", path, &headers, None).await;
    let body = json(&reply);
    assert_eq!((reply.status, error_code(&body).0), (404, "300"), "{body}");
    // Nothing above changed the interface, and a good request still works.
    assert_eq!(secondaries(&emu, &world, eni).await, before);
    let reply = get(
        &emu,
        &world,
        "assignSecondaryIps",
        &[
            ("networkInterfaceNo", eni),
            ("secondaryIpList.1", free),
            ("responseFormatType", "json"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(secondaries(&emu, &world, eni)
        .await
        .contains(&free.to_string()));
}

#[tokio::test]
async fn xml_and_json_carry_the_same_content_once_xml_takes_the_schema_shape() {
    let (emu, world) = start_default().await;
    let eni = fixture(&world, "eni.with_secondaries");
    let specs = SpecSet::embedded();
    for (action, params) in [
        (
            "getNetworkInterfaceDetail",
            vec![("networkInterfaceNo", eni)],
        ),
        (
            "getNetworkInterfaceList",
            vec![("networkInterfaceNoList.1", eni)],
        ),
        ("getNetworkInterfaceList", vec![]),
        // No secondaries at all: an empty list in both.
        (
            "getNetworkInterfaceDetail",
            vec![("networkInterfaceNo", fixture(&world, "eni.exhausted"))],
        ),
    ] {
        let mut with_json = params.clone();
        with_json.push(("responseFormatType", "json"));
        let from_json = json(&get(&emu, &world, action, &with_json).await);
        let reply = get(&emu, &world, action, &params).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let (root, value) = xml::xml_to_json(&reply.text).unwrap();
        assert_eq!(root, format!("{action}Response"));
        let spec = specs.get(DIALECT, action).unwrap();
        // The schema describes the whole body, root element included; the
        // request ids differ by nature.
        let mut shaped = spec
            .xml_to_schema_shape(&serde_json::json!({ root.clone(): value }))
            .unwrap();
        let mut from_json = from_json;
        for body in [&mut shaped, &mut from_json] {
            body[&root]["requestId"] = "<request id>".into();
        }
        assert_eq!(shaped, from_json, "{action} {params:?}: XML {}", reply.text);
        assert!(
            spec.check_success(&shaped).is_empty(),
            "{:?}",
            spec.check_success(&shaped)
        );
    }
    let listed = json(
        &get(
            &emu,
            &world,
            "getNetworkInterfaceDetail",
            &[("networkInterfaceNo", eni), ("responseFormatType", "json")],
        )
        .await,
    );
    let ips =
        &listed["getNetworkInterfaceDetailResponse"]["networkInterfaceList"][0]["secondaryIpList"];
    assert!(
        ips.as_array().is_some_and(|l| !l.is_empty()),
        "the fixture has secondaries, so the comparison covered a list: {listed}"
    );
}

#[tokio::test]
async fn a_post_may_repeat_a_query_parameter_in_its_body_with_the_same_value_only() {
    let (emu, world) = start_default().await;
    let eni = fixture(&world, "eni.inuse");
    let path = "/vserver/v2/getNetworkInterfaceDetail";
    let post = |query: &'static str, body: String| {
        let mut headers = signed_by_hand(&emu, &world, "POST", path, query);
        headers.push((
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ));
        let target = format!("{path}?{query}");
        let emu = &emu;
        async move { send_raw(emu, "POST", &target, &headers, Some(body.into_bytes())).await }
    };
    let same = post(
        "responseFormatType=json",
        format!("networkInterfaceNo={eni}&responseFormatType=json"),
    )
    .await;
    let body = json(&same);
    assert_eq!(same.status, 200, "{body}");
    assert_eq!(
        body["getNetworkInterfaceDetailResponse"]["networkInterfaceList"][0]["networkInterfaceNo"],
        eni
    );
    let differs = post(
        "responseFormatType=json",
        format!("networkInterfaceNo={eni}&responseFormatType=xml"),
    )
    .await;
    let body = json(&differs);
    let (code, message) = error_code(&body);
    assert_eq!((differs.status, code), (400, "1100000"), "{body}");
    assert!(message.contains("responseFormatType"), "{body}");
}

#[tokio::test]
async fn only_an_attached_interface_has_a_device_and_a_server() {
    // specs/naver-vpc/getNetworkInterfaceDetail.yaml: "an attached one also
    // has instanceNo, instanceType ... and deviceName".
    let (emu, world) = start_default().await;
    let detail = |eni: &'static str| {
        let (emu, world) = (&emu, &world);
        async move {
            let reply = get(
                emu,
                world,
                "getNetworkInterfaceDetail",
                &[
                    ("networkInterfaceNo", fixture(world, eni)),
                    ("responseFormatType", "json"),
                ],
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            json(&reply)["getNetworkInterfaceDetailResponse"]["networkInterfaceList"][0].clone()
        }
    };
    let unattached = detail("eni.available").await;
    for field in ["instanceNo", "instanceType", "deviceName"] {
        assert!(unattached.get(field).is_none(), "{field}: {unattached}");
    }
    assert_eq!(unattached["networkInterfaceStatus"]["code"], "NOTUSED");
    let attached = detail("eni.inuse").await;
    assert_eq!(attached["instanceNo"], fixture(&world, "instance"));
    assert_eq!(attached["instanceType"]["code"], "VSVR");
    assert_eq!(attached["deviceName"], "eth1");
}
