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

    /// MissingParameter is 403 in the Assign document (seed 001), 400 in the
    /// public Unassign reference, and assumed 403 for Describe.
    fn missing_status(self) -> u16 {
        match self {
            Op::Unassign => 400,
            Op::Assign | Op::Describe => 403,
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
    Ok(json!({
        "RequestId": request_id,
        "TotalCount": total,
        "PageNumber": page_number,
        "PageSize": page_size,
        "NetworkInterfaceSets": {"NetworkInterfaceSet": page},
    }))
}

fn eni_json(eni: &Eni) -> Value {
    let mut ips = Vec::with_capacity(eni.secondary_count() + 1);
    ips.push(json!({"PrivateIpAddress": eni.primary_ip.to_string(), "Primary": true}));
    ips.extend(
        eni.secondaries()
            .map(|ip| json!({"PrivateIpAddress": ip.to_string(), "Primary": false})),
    );
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
    m.insert("PrivateIpSets".into(), json!({"PrivateIpSet": ips}));
    Value::Object(m)
}
