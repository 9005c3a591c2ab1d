//! The `alibaba-ecs` dialect (ECS API 2014-05-26) over the neutral world:
//! AssignPrivateIpAddresses, UnassignPrivateIpAddresses and
//! DescribeNetworkInterfaces, with signature v1.
//!
//! The behaviour, the codes, the HTTP statuses, the messages and above all
//! the order of the checks follow `ecs-decisions.md`, which the case authors
//! share: the first failing check wins, so the order is part of the contract.
//! Every failure is an [`EcsError`] rendered in the vendor envelope
//! (`RequestId, HostId, Code, Message, Recommend`) in the requested `Format`.

use std::net::Ipv4Addr;

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::world::{AssignRequest, Eni, EniFilter, WorldError};
use super::{EmulatorState, RpcRequest};
use crate::dialect::{alibaba_rpc, xml};

/// The `Version` parameter that addresses this dialect.
pub const VERSION: &str = "2014-05-26";

const HOST_ID: &str = "ecs.aliyuncs.com";

/// Signature v1 clock window, either side of now.
const WINDOW_SECS: i64 = 15 * 60;

/// Repeat-list bounds (`.N`); assumed where the documents give none, and a
/// guard against a client sending a million indexes.
const ASSIGN_MAX_N: u32 = 50;
const UNASSIGN_MAX_N: u32 = 50;
const DESCRIBE_MAX_N: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

impl Format {
    fn of(req: &RpcRequest) -> Format {
        match req.param("Format") {
            Some(f) if f.eq_ignore_ascii_case("xml") => Format::Xml,
            _ => Format::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Assign,
    Unassign,
    Describe,
}

impl Op {
    fn parse(action: &str) -> Option<Op> {
        match action {
            "AssignPrivateIpAddresses" => Some(Op::Assign),
            "UnassignPrivateIpAddresses" => Some(Op::Unassign),
            "DescribeNetworkInterfaces" => Some(Op::Describe),
            _ => None,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Op::Assign => "AssignPrivateIpAddresses",
            Op::Unassign => "UnassignPrivateIpAddresses",
            Op::Describe => "DescribeNetworkInterfaces",
        }
    }

    /// MissingParameter is 403 in the Assign document (seed 001) but 400 in
    /// the public Unassign and DescribeNetworkInterfaces references: each
    /// operation answers with its own document's status.
    fn missing_status(self) -> u16 {
        match self {
            Op::Unassign | Op::Describe => 400,
            Op::Assign => 403,
        }
    }
}

/// An ECS error: rendered as the vendor's envelope with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl EcsError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> EcsError {
        EcsError {
            status,
            code,
            message: message.into(),
        }
    }

    fn missing(op: Op, name: &str) -> EcsError {
        EcsError::new(
            op.missing_status(),
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    fn invalid(name: &str) -> EcsError {
        EcsError::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid."),
        )
    }

    /// The vendor envelope, in the requested format.
    fn render(&self, format: Format, request_id: &str) -> Response {
        let body = json!({
            "RequestId": request_id,
            "HostId": HOST_ID,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={request_id}",
                self.code
            ),
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        respond(status, format, "Error", &body)
    }
}

impl From<WorldError> for EcsError {
    fn from(e: WorldError) -> EcsError {
        match e {
            WorldError::EniNotFound { id } => EcsError::new(
                404,
                "InvalidEniId.NotFound",
                format!("The specified EniId \"{id}\" is not found."),
            ),
            WorldError::VSwitchNotFound { id } => EcsError::new(
                404,
                "InvalidVSwitchId.NotFound",
                format!("The specified VSwitchId \"{id}\" is not found."),
            ),
            WorldError::EniState { expected, actual } => EcsError::new(
                400,
                "InvalidOperation.InvalidEniState",
                format!(
                    "The operation is not allowed in the current ENI state. Expecting status is \"{expected}\" while current status is \"{actual}\"."
                ),
            ),
            WorldError::InstanceState {
                instance,
                expected,
                actual,
            } => EcsError::new(
                400,
                "InvalidOperation.InvalidEcsState",
                format!(
                    "The operation is not allowed in the current state of instance \"{instance}\". Expecting status is \"{expected}\" while current status is \"{actual}\"."
                ),
            ),
            WorldError::IpOutsideCidr { ip, cidr } | WorldError::IpReserved { ip, cidr } => {
                EcsError::new(
                    403,
                    "InvalidVSwitchId.IpInvalid",
                    format!(
                        "The specified IpAddress \"{ip}\" is not valid in VSwitch CIDR block \"{cidr}\"."
                    ),
                )
            }
            WorldError::IpAlreadyAssigned { ip, .. } => EcsError::new(
                403,
                "InvalidIp.IpAssigned",
                format!("The specified IP \"{ip}\" is already assigned."),
            ),
            WorldError::QuotaExceeded {
                limit,
                current,
                requested,
            } => EcsError::new(
                403,
                "InvalidOperation.Ipv4CountExceeded",
                format!(
                    "The number of IPv4 addresses exceeds the limit: the ENI may hold {limit} secondary private IPs, holds {current}, {requested} requested."
                ),
            ),
            WorldError::VSwitchExhausted { vswitch, .. } => EcsError::new(
                403,
                "InvalidVSwitchId.IpNotEnough",
                format!("The specified VSwitch \"{vswitch}\" has not enough IpAddress."),
            ),
            WorldError::IpNotOnEni { ip } | WorldError::PrimaryIp { ip } => EcsError::new(
                403,
                "InvalidIp.IpUnassigned",
                format!("The specified IP \"{ip}\" is not assigned on this ENI."),
            ),
            // The dialect rejects repeats before the world sees them (check 9).
            WorldError::DuplicateIp { .. } => EcsError::invalid("PrivateIpAddress.N"),
        }
    }
}

fn respond(status: StatusCode, format: Format, root: &str, body: &Value) -> Response {
    let (text, content_type) = match format {
        Format::Json => (body.to_string(), "application/json;charset=utf-8"),
        Format::Xml => (xml::json_to_xml(root, body), "text/xml;charset=utf-8"),
    };
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// Serves one ECS request.
pub fn handle(state: &EmulatorState, req: &RpcRequest) -> Response {
    let format = Format::of(req);
    let request_id = new_request_id();
    match run(state, req, &request_id) {
        Ok((op, body)) => respond(
            StatusCode::OK,
            format,
            &format!("{}Response", op.action()),
            &body,
        ),
        Err(e) => e.render(format, &request_id),
    }
}

/// The answer to a `Version` no dialect serves (check 1, assumed code).
pub fn invalid_version(req: &RpcRequest) -> Response {
    let version = req.param("Version").unwrap_or("");
    EcsError::new(
        400,
        "InvalidVersion",
        format!("Specified parameter Version \"{version}\" is not valid."),
    )
    .render(Format::of(req), &new_request_id())
}

/// The answer to a body over the size limit.
pub fn body_too_large(req: &RpcRequest) -> Response {
    EcsError::new(413, "InvalidParameter", "The request body is too large.")
        .render(Format::of(req), &new_request_id())
}

/// A parameter's value, with an empty value treated as not supplied: the
/// SDKs send optional parameters empty, and ECS reads them as absent.
fn value<'a>(req: &'a RpcRequest, name: &str) -> Option<&'a str> {
    req.param(name).filter(|v| !v.is_empty())
}

fn required<'a>(req: &'a RpcRequest, op: Op, name: &str) -> Result<&'a str, EcsError> {
    value(req, name).ok_or_else(|| EcsError::missing(op, name))
}

/// The items of a repeat list `Prefix.N`, sorted by N. A malformed or out
/// of range N, or the same N twice, is InvalidParameter naming the parameter.
fn repeat_list<'a>(
    req: &'a RpcRequest,
    prefix: &str,
    max_n: u32,
) -> Result<Vec<(&'a str, &'a str)>, EcsError> {
    let mut items: Vec<(u32, &str, &str)> = Vec::new();
    for (name, val) in &req.params {
        let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
        else {
            continue;
        };
        let index = match n.parse::<u32>() {
            Ok(i) if (1..=max_n).contains(&i) && !n.starts_with('0') && !n.starts_with('+') => i,
            _ => return Err(EcsError::invalid(name)),
        };
        if items.iter().any(|(i, _, _)| *i == index) {
            return Err(EcsError::invalid(name));
        }
        if !val.is_empty() {
            items.push((index, name, val));
        }
    }
    items.sort_unstable_by_key(|(i, _, _)| *i);
    Ok(items.into_iter().map(|(_, n, v)| (n, v)).collect())
}

fn ipv4_list(items: &[(&str, &str)]) -> Result<Vec<Ipv4Addr>, EcsError> {
    items
        .iter()
        .map(|(name, v)| v.parse::<Ipv4Addr>().map_err(|_| EcsError::invalid(name)))
        .collect()
}

/// Check 9: the same address twice is InvalidParameter naming the later one.
fn no_repeats(items: &[(&str, &str)], ips: &[Ipv4Addr]) -> Result<(), EcsError> {
    for (i, ip) in ips.iter().enumerate() {
        if ips[..i].contains(ip) {
            return Err(EcsError::invalid(items[i].0));
        }
    }
    Ok(())
}

fn integer(req: &RpcRequest, name: &str, min: i64, max: i64) -> Result<Option<i64>, EcsError> {
    match value(req, name) {
        None => Ok(None),
        // ECS integers are Java `Integer`s: anything beyond is malformed.
        Some(v) => match v.parse::<i32>() {
            Ok(n) if (min..=max).contains(&i64::from(n)) => Ok(Some(i64::from(n))),
            _ => Err(EcsError::invalid(name)),
        },
    }
}

/// The common checks (2-6), then the operation. Returns the success body.
fn run(state: &EmulatorState, req: &RpcRequest, request_id: &str) -> Result<(Op, Value), EcsError> {
    // 1. Version (the router only sends ours, but a direct caller may not).
    if req.param("Version") != Some(VERSION) {
        return Err(EcsError::new(
            400,
            "InvalidVersion",
            format!(
                "Specified parameter Version \"{}\" is not valid.",
                req.param("Version").unwrap_or("")
            ),
        ));
    }
    let op = req.param("Action").and_then(Op::parse).ok_or_else(|| {
        EcsError::new(
            400,
            "InvalidAction",
            format!(
                "Specified api \"{}\" is not found, please check your url and method.",
                req.param("Action").unwrap_or("")
            ),
        )
    })?;

    // 2. Common parameters.
    for name in [
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
    ] {
        required(req, op, name)?;
    }
    if value(req, "SignatureMethod") != Some("HMAC-SHA1") {
        return Err(EcsError::invalid("SignatureMethod"));
    }
    if value(req, "SignatureVersion") != Some("1.0") {
        return Err(EcsError::invalid("SignatureVersion"));
    }

    // 3. Access key. The lock is released before the HMAC.
    let key_id = required(req, op, "AccessKeyId")?;
    let key = state.world().access_key(key_id).cloned().ok_or_else(|| {
        EcsError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    })?;

    // 4. Signature over every received parameter but Signature itself.
    let sts = alibaba_rpc::string_to_sign(&req.method, &req.params);
    let expected = alibaba_rpc::sign_string(&sts, key.secret.expose());
    let given = required(req, op, "Signature")?;
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(EcsError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{sts}"
            ),
        ));
    }

    // 5. Clock window.
    let timestamp = required(req, op, "Timestamp")?;
    let at = DateTime::parse_from_rfc3339(timestamp).map_err(|_| {
        EcsError::new(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    })?;
    let now = state.now().timestamp();
    let at = at.timestamp();
    if (now - at).abs() > WINDOW_SECS {
        return Err(EcsError::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }

    // 6. Nonce, recorded only now that the request is authentic and fresh.
    // It can be forgotten once a replay would fail the clock window.
    let nonce = required(req, op, "SignatureNonce")?;
    if !state.record_nonce(key_id, nonce, at.max(now) + WINDOW_SECS) {
        return Err(EcsError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }

    let body = match op {
        Op::Assign => assign(state, req, &key.account, request_id)?,
        Op::Unassign => unassign(state, req, &key.account, request_id)?,
        Op::Describe => describe(state, req, &key.account, request_id)?,
    };
    Ok((op, body))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn assign(
    state: &EmulatorState,
    req: &RpcRequest,
    account: &str,
    request_id: &str,
) -> Result<Value, EcsError> {
    let op = Op::Assign;
    // 7. Required, in spec order.
    let region = required(req, op, "RegionId")?;
    let eni_id = required(req, op, "NetworkInterfaceId")?;
    // 8. Malformed values.
    let items = repeat_list(req, "PrivateIpAddress", ASSIGN_MAX_N)?;
    let explicit = ipv4_list(&items)?;
    let count = integer(
        req,
        "SecondaryPrivateIpAddressCount",
        1,
        i64::from(i32::MAX),
    )?;
    // 9. Combinations and repeats.
    let count = match (explicit.is_empty(), count) {
        (false, Some(_)) => return Err(EcsError::invalid("SecondaryPrivateIpAddressCount")),
        (true, None) => {
            return Err(EcsError::missing(
                op,
                "PrivateIpAddress.N or SecondaryPrivateIpAddressCount",
            ))
        }
        (_, count) => count.unwrap_or(0) as u32,
    };
    no_repeats(&items, &explicit)?;
    // 10-14 in the world.
    let assigned = state.world().assign(
        account,
        region,
        eni_id,
        &AssignRequest {
            explicit,
            count,
            allow_reassign: false,
        },
    )?;
    let ips: Vec<String> = assigned.iter().map(Ipv4Addr::to_string).collect();
    Ok(json!({
        "RequestId": request_id,
        "AssignedPrivateIpAddressesSet": {
            "NetworkInterfaceId": eni_id,
            "PrivateIpSet": {"PrivateIpAddress": ips},
        },
    }))
}

fn unassign(
    state: &EmulatorState,
    req: &RpcRequest,
    account: &str,
    request_id: &str,
) -> Result<Value, EcsError> {
    let op = Op::Unassign;
    let region = required(req, op, "RegionId")?;
    let eni_id = required(req, op, "NetworkInterfaceId")?;
    let items = repeat_list(req, "PrivateIpAddress", UNASSIGN_MAX_N)?;
    if items.is_empty() {
        return Err(EcsError::missing(op, "PrivateIpAddress.N"));
    }
    let ips = ipv4_list(&items)?;
    no_repeats(&items, &ips)?;
    state.world().unassign(account, region, eni_id, &ips)?;
    Ok(json!({"RequestId": request_id}))
}

fn describe(
    state: &EmulatorState,
    req: &RpcRequest,
    account: &str,
    request_id: &str,
) -> Result<Value, EcsError> {
    let op = Op::Describe;
    let region = required(req, op, "RegionId")?;
    let ids = repeat_list(req, "NetworkInterfaceId", DESCRIBE_MAX_N)?;
    let private = repeat_list(req, "PrivateIpAddress", DESCRIBE_MAX_N)?;
    let private_ips = ipv4_list(&private)?;
    let primary_ip = match value(req, "PrimaryIpAddress") {
        None => None,
        Some(v) => Some(
            v.parse::<Ipv4Addr>()
                .map_err(|_| EcsError::invalid("PrimaryIpAddress"))?,
        ),
    };
    let page_number = integer(req, "PageNumber", 1, i64::from(i32::MAX))?.unwrap_or(1);
    let page_size = integer(req, "PageSize", 1, 100)?.unwrap_or(10);
    let filter = EniFilter {
        ids: ids.iter().map(|(_, v)| v.to_string()).collect(),
        vswitch: value(req, "VSwitchId").map(str::to_string),
        vpc: value(req, "VpcId").map(str::to_string),
        instance: value(req, "InstanceId").map(str::to_string),
        state: value(req, "Status").map(str::to_string),
        eni_type: value(req, "Type").map(str::to_string),
        primary_ip,
        private_ips,
    };
    let world = state.world();
    let found = world.describe(account, region, &filter);
    let total = found.len();
    let skip = (page_number as usize - 1).saturating_mul(page_size as usize);
    let page: Vec<Value> = found
        .iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|eni| eni_json(eni))
        .collect();
    drop(world);
    // Built by moving values into maps: `json!` would serialize the page a
    // second time, which dominates a describe of an ENI with 1,000 IPs.
    Ok(object([
        ("RequestId", Value::from(request_id)),
        ("TotalCount", Value::from(total)),
        ("PageNumber", Value::from(page_number)),
        ("PageSize", Value::from(page_size)),
        (
            "NetworkInterfaceSets",
            object([("NetworkInterfaceSet", Value::Array(page))]),
        ),
    ]))
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn ip_entry(ip: std::net::Ipv4Addr, primary: bool) -> Value {
    object([
        ("PrivateIpAddress", Value::from(ip.to_string())),
        ("Primary", Value::from(primary)),
    ])
}

fn eni_json(eni: &Eni) -> Value {
    let mut ips = Vec::with_capacity(eni.secondary_count() + 1);
    ips.push(ip_entry(eni.primary_ip, true));
    ips.extend(eni.secondaries().map(|ip| ip_entry(ip, false)));
    let mut m = Map::new();
    m.insert("NetworkInterfaceId".into(), eni.id.clone().into());
    m.insert("Status".into(), eni.state.to_string().into());
    m.insert("Type".into(), eni.eni_type.to_string().into());
    m.insert("VpcId".into(), eni.vpc.clone().into());
    m.insert("VSwitchId".into(), eni.vswitch.clone().into());
    m.insert("ZoneId".into(), eni.zone.clone().into());
    m.insert("PrivateIpAddress".into(), eni.primary_ip.to_string().into());
    m.insert("MacAddress".into(), eni.mac.clone().into());
    m.insert(
        "InstanceId".into(),
        eni.instance.clone().unwrap_or_default().into(),
    );
    m.insert(
        "PrivateIpSets".into(),
        object([("PrivateIpSet", Value::Array(ips))]),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::world::{World, WorldFile};
    use crate::emulator::{start, start_with_state, RunningEmulator};
    use crate::fixtures::Credentials;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn default_world() -> WorldFile {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/worlds/default.yaml");
        WorldFile::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn emu() -> RunningEmulator {
        start(&default_world(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    fn now_stamp() -> String {
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// Signs and sends one request the way the SDKs do; `params` override
    /// the common ones (a `~` value removes the parameter).
    async fn call_as(
        emu: &RunningEmulator,
        creds: &Credentials,
        method: &str,
        params: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut all: Vec<(String, String)> = vec![
            ("Format".into(), "JSON".into()),
            ("Version".into(), VERSION.into()),
            ("AccessKeyId".into(), creds.access_key_id.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), uuid::Uuid::new_v4().to_string()),
            ("Timestamp".into(), now_stamp()),
        ];
        for (k, v) in params {
            all.retain(|(name, _)| name != k);
            if *v != "~" {
                all.push((k.to_string(), v.to_string()));
            }
        }
        let signed = alibaba_rpc::signed_query(method, &all, creds.access_key_secret.expose());
        let http = reqwest::Client::new();
        let response = if method == "POST" {
            http.post(emu.base_url() + "/")
                .header("content-type", "application/x-www-form-urlencoded")
                // SDKs put `+` for a space in a form body but sign `%20`.
                .body(signed.replace("%20", "+"))
                .send()
                .await
        } else {
            http.get(format!("{}/?{signed}", emu.base_url()))
                .send()
                .await
        }
        .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.starts_with("<?xml") {
            let (root, tree) = xml::xml_to_json(&text).unwrap();
            json!({"root": root, "tree": tree})
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, body)
    }

    async fn call(emu: &RunningEmulator, params: &[(&str, &str)]) -> (u16, Value) {
        let creds = emu.fixtures().credentials["default"].clone();
        call_as(emu, &creds, "GET", params).await
    }

    type Params<'a> = Vec<(&'a str, &'a str)>;

    fn fx<'a>(emu: &'a RunningEmulator, key: &str) -> &'a str {
        emu.fixtures()
            .values
            .get(key)
            .unwrap_or_else(|| panic!("fixture {key}"))
    }

    fn assert_error(got: &(u16, Value), status: u16, code: &str) {
        assert_eq!(
            (got.0, got.1["Code"].as_str()),
            (status, Some(code)),
            "{:#}",
            got.1
        );
        assert_eq!(got.1["HostId"], HOST_ID);
        assert!(got.1["Recommend"].as_str().unwrap().contains(code));
        let rid = got.1["RequestId"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(rid).is_ok() && rid == rid.to_ascii_uppercase());
    }

    #[test]
    fn default_world_provides_every_fixture() {
        let file = default_world();
        let world = World::build(&file).unwrap();
        let v = &file.fixtures.values;
        let vocabulary = [
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
        ];
        for key in vocabulary {
            assert!(v.contains_key(key), "default.yaml lacks fixture {key}");
        }
        for name in ["default", "other", "unknown", "wrong_secret"] {
            assert!(
                file.fixtures.credentials.contains_key(name),
                "credentials {name}"
            );
        }
        let creds = &file.fixtures.credentials;
        let key = |name: &str| world.access_key(&creds[name].access_key_id);
        let owner = key("default").unwrap();
        assert_eq!(&owner.secret, &creds["default"].access_key_secret);
        let other = key("other").unwrap();
        assert_eq!(&other.secret, &creds["other"].access_key_secret);
        assert_ne!(owner.account, other.account);
        assert!(key("unknown").is_none());
        assert_eq!(
            creds["wrong_secret"].access_key_id,
            creds["default"].access_key_id
        );
        assert_ne!(
            creds["wrong_secret"].access_key_secret,
            creds["default"].access_key_secret
        );

        let (acct, region) = (owner.account.as_str(), v["region"].as_str());
        let eni = |key: &str| {
            world
                .eni(acct, region, &v[key])
                .unwrap_or_else(|e| panic!("{key}: {e}"))
        };
        let ip = |key: &str| v[key].parse::<Ipv4Addr>().unwrap();
        let vs = world.vswitch(&v["vswitch"]).unwrap();
        assert_eq!(vs.cidr.to_string(), v["vswitch.cidr"]);

        let available = eni("eni.available");
        assert_eq!(
            (available.state.to_string(), available.eni_type.to_string()),
            ("Available".into(), "Secondary".into())
        );
        assert_eq!(available.secondary_count(), 0);
        assert_eq!(available.vswitch, v["vswitch"]);
        assert_eq!(available.primary_ip, ip("eni.available.primary_ip"));

        let inuse = eni("eni.inuse");
        assert_eq!(
            (inuse.state.to_string(), inuse.eni_type.to_string()),
            ("InUse".into(), "Secondary".into())
        );
        assert_eq!(inuse.primary_ip, ip("eni.inuse.primary_ip"));
        assert_eq!(inuse.secondary_count(), 0);
        assert_eq!(
            world.secondary_limit(inuse).to_string(),
            v["instance.small.max_secondaries"]
        );
        assert_eq!(v["instance.small.max_secondaries"], "5");

        let primary = eni("eni.primary");
        assert_eq!(primary.eni_type.to_string(), "Primary");
        assert_eq!(primary.instance, inuse.instance);
        assert_eq!(
            world
                .instance(primary.instance.as_deref().unwrap())
                .unwrap()
                .state
                .to_string(),
            "Running"
        );

        let stopping = eni("eni.primary_of_stopping");
        assert_eq!(stopping.eni_type.to_string(), "Primary");
        assert_eq!(
            world
                .instance(stopping.instance.as_deref().unwrap())
                .unwrap()
                .state
                .to_string(),
            "Stopping"
        );

        assert_eq!(eni("eni.attaching").state.to_string(), "Attaching");

        assert!(
            world.eni(acct, region, &v["eni.other_account"]).is_err(),
            "invisible to default"
        );
        assert_eq!(
            world
                .eni(&other.account, region, &v["eni.other_account"])
                .unwrap()
                .state
                .to_string(),
            "Available"
        );

        let exhausted = eni("eni.exhausted");
        assert_eq!(exhausted.state.to_string(), "Available");
        assert_eq!(
            world
                .vswitch(&exhausted.vswitch)
                .unwrap()
                .allocator()
                .free_count(),
            0
        );

        let with = eni("eni.with_secondaries");
        assert_eq!(
            with.secondaries().collect::<Vec<_>>(),
            vec![ip("vswitch.taken_ip"), ip("vswitch.taken_ip_2")]
        );
        assert_eq!(with.vswitch, v["vswitch"]);

        for key in ["vswitch.free_ip", "vswitch.free_ip_2", "vswitch.free_ip_3"] {
            assert!(vs.is_free(ip(key)), "{key} must be free");
        }
        assert!(!vs.cidr.contains(&ip("vswitch.outside_ip")));
        assert_eq!(ip("vswitch.network_ip"), vs.cidr.network());
        assert_eq!(ip("vswitch.broadcast_ip"), vs.cidr.broadcast());
        let reserved = u32::from(ip("vswitch.reserved_ip"));
        assert!(
            vs.cidr.contains(&ip("vswitch.reserved_ip")) && !vs.allocator().is_usable(reserved)
        );
        assert!(
            reserved != u32::from(vs.cidr.network()) && reserved != u32::from(vs.cidr.broadcast())
        );
    }

    #[tokio::test]
    async fn assign_explicit_then_describe_then_unassign() {
        let emu = emu().await;
        let (region, eni, free) = (
            fx(&emu, "region"),
            fx(&emu, "eni.available"),
            fx(&emu, "vswitch.free_ip"),
        );
        let (status, body) = call(
            &emu,
            &[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", region),
                ("NetworkInterfaceId", eni),
                ("PrivateIpAddress.1", free),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["AssignedPrivateIpAddressesSet"]["NetworkInterfaceId"],
            eni
        );
        assert_eq!(
            body["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]["PrivateIpAddress"],
            json!([free])
        );
        let rid = body["RequestId"].as_str().unwrap();
        assert_eq!(rid, rid.to_ascii_uppercase());

        let (status, body) = call(
            &emu,
            &[
                ("Action", "DescribeNetworkInterfaces"),
                ("RegionId", region),
                ("NetworkInterfaceId.1", eni),
            ],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["TotalCount"], 1);
        let set = &body["NetworkInterfaceSets"]["NetworkInterfaceSet"][0];
        assert_eq!(set["InstanceId"], "");
        assert_eq!(
            set["PrivateIpSets"]["PrivateIpSet"],
            json!([
                {"PrivateIpAddress": fx(&emu, "eni.available.primary_ip"), "Primary": true},
                {"PrivateIpAddress": free, "Primary": false}
            ])
        );

        let (status, _) = call(
            &emu,
            &[
                ("Action", "UnassignPrivateIpAddresses"),
                ("RegionId", region),
                ("NetworkInterfaceId", eni),
                ("PrivateIpAddress.1", free),
            ],
        )
        .await;
        assert_eq!(status, 200);
        assert!(emu
            .state()
            .world()
            .vswitch(fx(&emu, "vswitch"))
            .unwrap()
            .is_free(free.parse().unwrap()));
        emu.shutdown().await;
    }

    #[tokio::test]
    async fn vendor_error_codes() {
        let emu = emu().await;
        let region = fx(&emu, "region");
        let assign = |eni: &'static str, extra: (&'static str, &'static str)| {
            vec![
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", eni),
                extra,
            ]
        };
        let count1 = ("SecondaryPrivateIpAddressCount", "1");
        let cases: Vec<(Params<'_>, u16, &str)> = vec![
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
                assign(
                    "eni-bp1emu0available00001",
                    ("PrivateIpAddress.1", "172.16.0.253"),
                ),
                403,
                "InvalidVSwitchId.IpInvalid",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("PrivateIpAddress.1", "172.16.9.9"),
                ),
                403,
                "InvalidVSwitchId.IpInvalid",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("PrivateIpAddress.1", "172.16.0.20"),
                ),
                403,
                "InvalidIp.IpAssigned",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("PrivateIpAddress.1", "172.16.0.999"),
                ),
                400,
                "InvalidParameter",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("PrivateIpAddress.0", "172.16.0.50"),
                ),
                400,
                "InvalidParameter",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("SecondaryPrivateIpAddressCount", "0"),
                ),
                400,
                "InvalidParameter",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("SecondaryPrivateIpAddressCount", "99999999999"),
                ),
                400,
                "InvalidParameter",
            ),
            (
                assign(
                    "eni-bp1emu0available00001",
                    ("SecondaryPrivateIpAddressCount", "11"),
                ),
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
            (
                assign("eni-bp1emu0available00001", ("Foo", "bar")),
                403,
                "MissingParameter",
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
                    ("RegionId", region),
                    ("NetworkInterfaceId", "eni-bp1emu0withsecs000001"),
                    ("PrivateIpAddress.1", "172.16.0.11"),
                ],
                403,
                "InvalidIp.IpUnassigned",
            ),
            (
                vec![
                    ("Action", "UnassignPrivateIpAddresses"),
                    ("RegionId", region),
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
                    ("RegionId", region),
                    ("SignatureNonce", "~"),
                ],
                400,
                "MissingParameter",
            ),
            (
                vec![
                    ("Action", "DescribeNetworkInterfaces"),
                    ("RegionId", region),
                    ("Timestamp", "2016-02-23T12:46:24Z"),
                ],
                400,
                "InvalidTimeStamp.Expired",
            ),
            (
                vec![
                    ("Action", "DescribeNetworkInterfaces"),
                    ("RegionId", region),
                    ("Timestamp", "yesterday"),
                ],
                400,
                "InvalidTimeStamp.Format",
            ),
            (
                vec![
                    ("Action", "DescribeNetworkInterfaces"),
                    ("RegionId", region),
                    ("PageSize", "101"),
                ],
                400,
                "InvalidParameter",
            ),
        ];
        for (params, status, code) in &cases {
            let got = call(&emu, params).await;
            assert_error(&got, *status, code);
        }
        // The failed requests changed nothing.
        let world = emu.state().world();
        let eni = world
            .all_enis()
            .find(|e| e.id == "eni-bp1emu0withsecs000001")
            .unwrap();
        assert_eq!(eni.secondary_count(), 2);
        assert_eq!(
            world
                .all_enis()
                .find(|e| e.id == "eni-bp1emu0available00001")
                .unwrap()
                .secondary_count(),
            0
        );
    }

    #[tokio::test]
    async fn messages_follow_the_decisions() {
        let emu = emu().await;
        let (_, body) = call(
            &emu,
            &[
                ("Action", "AssignPrivateIpAddresses"),
                ("NetworkInterfaceId", "eni-x"),
                ("SecondaryPrivateIpAddressCount", "1"),
            ],
        )
        .await;
        assert_eq!(
            body["Message"],
            "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied."
        );
        let (_, body) = call(
            &emu,
            &[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-x"),
                ("PrivateIpAddress.1", "1.2.3.4"),
                ("PrivateIpAddress.2", "nope"),
            ],
        )
        .await;
        assert_eq!(
            body["Message"],
            "The specified parameter \"PrivateIpAddress.2\" is not valid."
        );
        let (_, body) = call(
            &emu,
            &[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-x"),
                ("SecondaryPrivateIpAddressCount", "1"),
            ],
        )
        .await;
        assert_eq!(
            body["Message"],
            "The specified EniId \"eni-x\" is not found."
        );
        let (_, body) = call(
            &emu,
            &[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-bp1emu0attaching00001"),
                ("SecondaryPrivateIpAddressCount", "1"),
            ],
        )
        .await;
        assert_eq!(
            body["Message"],
            "The operation is not allowed in the current ENI state. Expecting status is \"Available,InUse\" while current status is \"Attaching\"."
        );
        let (_, body) = call(
            &emu,
            &[
                ("Action", "AssignPrivateIpAddresses"),
                ("RegionId", "cn-hangzhou"),
                ("NetworkInterfaceId", "eni-bp1emu0available00001"),
                ("PrivateIpAddress.1", "172.16.0.255"),
            ],
        )
        .await;
        assert_eq!(body["Message"], "The specified IpAddress \"172.16.0.255\" is not valid in VSwitch CIDR block \"172.16.0.0/24\".");
    }

    #[tokio::test]
    async fn authentication_checks() {
        let emu = emu().await;
        let creds = emu.fixtures().credentials.clone();
        let describe = [
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", "cn-hangzhou"),
        ];
        let got = call_as(&emu, &creds["unknown"], "GET", &describe).await;
        assert_error(&got, 404, "InvalidAccessKeyId.NotFound");
        let got = call_as(&emu, &creds["wrong_secret"], "GET", &describe).await;
        assert_error(&got, 400, "SignatureDoesNotMatch");
        assert!(got.1["Message"]
            .as_str()
            .unwrap()
            .contains("server string to sign is:GET&%2F&AccessKeyId%3D"));

        // A replayed nonce, then the same nonce for another key.
        let nonce = [
            describe[0],
            describe[1],
            ("SignatureNonce", "fixed-nonce-1"),
        ];
        assert_eq!(call(&emu, &nonce).await.0, 200);
        assert_error(&call(&emu, &nonce).await, 400, "SignatureNonceUsed");
        assert_eq!(call_as(&emu, &creds["other"], "GET", &nonce).await.0, 200);

        // The other account sees only its own ENI.
        let (_, body) = call_as(&emu, &creds["other"], "GET", &describe).await;
        assert_eq!(body["TotalCount"], 1);
        assert_eq!(
            body["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["NetworkInterfaceId"],
            "eni-bp1emu0otheracct00001"
        );
    }

    #[tokio::test]
    async fn fixed_clock_window() {
        let file = default_world();
        let pinned = DateTime::parse_from_rfc3339("2016-02-23T12:46:24Z")
            .unwrap()
            .to_utc();
        let state = Arc::new(
            crate::emulator::EmulatorState::new(World::build(&file).unwrap())
                .with_fixed_now(pinned),
        );
        let emu = start_with_state(state, file.fixtures.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = [
            ("Action", "DescribeNetworkInterfaces"),
            ("RegionId", "cn-hangzhou"),
        ];
        let at = |ts: &'static str| [base[0], base[1], ("Timestamp", ts)];
        assert_eq!(
            call(&emu, &at("2016-02-23T13:01:24Z")).await.0,
            200,
            "15 minutes ahead is inside"
        );
        assert_eq!(
            call(&emu, &at("2016-02-23T12:31:24Z")).await.0,
            200,
            "15 minutes behind is inside"
        );
        assert_error(
            &call(&emu, &at("2016-02-23T13:01:25Z")).await,
            400,
            "InvalidTimeStamp.Expired",
        );
        assert_error(
            &call(&emu, &at("2016-02-23T12:31:23Z")).await,
            400,
            "InvalidTimeStamp.Expired",
        );
    }

    #[tokio::test]
    async fn xml_format_and_form_body() {
        let emu = emu().await;
        let creds = emu.fixtures().credentials["default"].clone();
        let params = [
            ("Format", "xml"),
            ("Action", "AssignPrivateIpAddresses"),
            ("RegionId", "cn-hangzhou"),
            ("NetworkInterfaceId", "eni-bp1emu0available00001"),
            ("SecondaryPrivateIpAddressCount", "2"),
            // Unknown parameters are ignored but signed: a space (`+` in
            // the form) and an empty value, as the old Python SDK sends.
            ("ClientToken", "a b*c"),
            ("SignatureType", ""),
        ];
        let (status, body) = call_as(&emu, &creds, "POST", &params).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["root"], "AssignPrivateIpAddressesResponse");
        assert_eq!(
            body["tree"]["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]["PrivateIpAddress"],
            json!(["172.16.0.5", "172.16.0.6"]),
            "lowest free addresses, in order"
        );
        let (status, body) = call_as(
            &emu,
            &creds,
            "POST",
            &[("Format", "XML"), ("Action", "Nope")],
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["root"], "Error");
        assert_eq!(body["tree"]["Code"], "InvalidAction");
    }

    #[tokio::test]
    async fn hostile_input_gets_vendor_errors() {
        let emu = emu().await;
        let http = reqwest::Client::new();
        for query in [
            "",
            "%FF%FE=%C0",
            "Version=2014-05-26&Action=AssignPrivateIpAddresses&&&=&%",
            "Version=2014-05-26&Action=DescribeNetworkInterfaces&PrivateIpAddress.4294967296=1",
            "Version=2014-05-26&Format=XML&Action=DescribeNetworkInterfaces&AccessKeyId=%00",
        ] {
            let response = http
                .get(format!("{}/?{query}", emu.base_url()))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert!((400..500).contains(&status), "{query}: {status} {text}");
            assert!(text.contains("Code"), "{query}: {text}");
        }
        let response = http
            .post(emu.base_url() + "/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![0xffu8; 4096])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let ok = http.get(emu.base_url() + "/healthz").send().await.unwrap();
        assert_eq!(
            (ok.status().as_u16(), ok.text().await.unwrap()),
            (200, "ok".to_string())
        );
        emu.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_http_assigns_never_share_an_address() {
        let file = WorldFile::single_vswitch("10.3.0.0/22".parse().unwrap(), 6);
        let emu = Arc::new(start(&file, "127.0.0.1:0".parse().unwrap()).await.unwrap());
        for i in 0..6 {
            emu.state()
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
                        let (status, body) = call(
                            &emu,
                            &[
                                ("Action", "AssignPrivateIpAddresses"),
                                ("RegionId", "cn-hangzhou"),
                                ("NetworkInterfaceId", &eni),
                                ("SecondaryPrivateIpAddressCount", "1"),
                            ],
                        )
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
}
