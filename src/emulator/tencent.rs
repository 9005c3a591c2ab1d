//! Tencent Cloud's legacy VPC API v2 at `/v2/index.php` (dialect
//! `tencent-vpc-v2`): AssignPrivateIpAddresses, UnassignPrivateIpAddresses,
//! DescribeNetworkInterfaces and DescribeVpcTaskResult, over the same world
//! and on the same port as the other dialects.
//!
//! Where the field's IPAM bugs come from: Assign and Unassign return a task
//! id at once and their change shows only when the task ends, on the
//! emulator's clock (the subnet's `change_delay`); meanwhile a second change
//! to the ENI is refused as busy, an address being released is still "in
//! use", and DescribeVpcTaskResult answers 2 (running), then 0 (done) or 1
//! (failed). Every reply is HTTP 200 with a JSON body: `code` 0 and
//! `codeDesc` "Success" with `data`, or a non-zero `code` with `message` and
//! `codeDesc`. The numeric code of each `codeDesc` comes from the spec's
//! catalog, so the two cannot disagree. The signature is the legacy
//! HmacSHA1 / HmacSHA256 over the Host header as received.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::faults::{self, Slot, Verdict};
use super::reply::Node;
use super::world::{
    AssignRequest, Eni, EniFilter, Scope, TaskStatus, Visibility, World, WorldError,
};
use super::{EmulatorState, MAX_QUERY};
use crate::dialect::tencent_v2::{self, PATH};
use crate::dialect::{DialectId, Pair};
use crate::spec::{OperationSpec, ViolationKind};

const DIALECT: DialectId = DialectId::TencentVpcV2;

/// Signature clock window, either side of the server's clock.
const WINDOW_SECS: i64 = 300;

/// The `codeDesc` of each outcome; their numeric codes are in the specs.
mod code {
    pub const BAD_PARAMETER: &str = "InvalidParameter";
    pub const AUTH_FAILED: &str = "AuthFailure";
    pub const UNKNOWN_SECRET_ID: &str = "AuthFailure.SecretIdNotFound";
    pub const REPLAY: &str = "ReplayAttack";
    pub const NO_SUCH_RESOURCE: &str = "ResourceNotFound";
    pub const OPERATION_FAILED: &str = "FailedOperation";
    pub const VPC_NOT_FOUND: &str = "InvalidVpc.NotFound";
    pub const ENI_NOT_FOUND: &str = "InvalidNetworkInterface.NotFound";
    pub const PRIMARY: &str = "InvalidPrivateip.IsPrimary";
    pub const IN_USE: &str = "InvalidPrivateIpAddress.InUse";
    pub const NOT_ON_ENI: &str = "InvalidPrivateIpAddress.NotFound";
    pub const QUOTA: &str = "LimitExceeded";
    pub const EXHAUSTED: &str = "ResourceInsufficient";
    pub const BUSY: &str = "UnsupportedOperation.MutexOperationTaskRunning";
    pub const BAD_STATE: &str = "UnsupportedOperation.InvalidState";
    pub const NOT_PERMITTED: &str = "UnauthorizedOperation";
}

/// A Tencent error: `codeDesc` and message; the numeric `code` comes from
/// the catalog when it is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcError {
    pub code: String,
    pub message: String,
}

impl TcError {
    fn new(code: impl Into<String>, message: impl Into<String>) -> TcError {
        TcError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The Tencent route: every method on `/v2/index.php`.
pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new().route(PATH, any(handle))
}

/// Every Tencent reply: HTTP 200, `application/json` exactly (the
/// official SDKs read errors only with that content type).
struct Reply(Node);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, self.0.to_json()).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

async fn handle(State(state): State<Arc<EmulatorState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("");
    let body = super::read_body(body).await;
    let is_form = super::is_form(&parts.headers);
    let host = parts
        .headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let slot = Slot::default();
    let outcome = match (query.len() > MAX_QUERY, &body) {
        (true, _) => Err((None, too_large(&state, "the query string"))),
        (_, Err(_)) => Err((None, too_large(&state, "the request body"))),
        (false, Ok(bytes)) => {
            // The SDK sends a space as `+`, in the query as in a form.
            // Borrowed from the request where decoding changed nothing.
            let mut params: Vec<Pair<'_>> = form_urlencoded::parse(query.as_bytes()).collect();
            if is_form && !bytes.is_empty() {
                params.extend(form_urlencoded::parse(bytes));
            }
            process(&state, parts.method.as_str(), &host, &params, &slot)
        }
    };
    let response = match outcome {
        Ok(data) => Reply(Node::obj([
            ("code", Node::Int(0)),
            ("message", Node::Static("")),
            ("codeDesc", Node::Static("Success")),
            ("data", data),
        ]))
        .into_response(),
        Err((spec, error)) => render_error(&state, spec, &error),
    };
    faults::finish(response, slot.take()).await
}

fn too_large(state: &EmulatorState, what: &str) -> TcError {
    violation_reply(state, ViolationKind::Malformed, what)
}

/// The dialect's answer to a violation found outside the spec's validation
/// (the signature protocol's own parameters).
fn violation_reply(state: &EmulatorState, kind: ViolationKind, name: &str) -> TcError {
    match state.violation(DIALECT, kind, name, name) {
        Some((code, message)) => TcError::new(code, message),
        None => TcError::new(code::BAD_PARAMETER, format!("{name} is not valid")),
    }
}

/// The error body, its numeric `code` from the operation's catalog (or the
/// dialect's, before an operation is known); 5100 for a code neither
/// documents, which a contract check then reports.
fn render_error(state: &EmulatorState, spec: Option<&OperationSpec>, error: &TcError) -> Response {
    let number = state
        .documented(DIALECT, spec, &error.code)
        .and_then(|e| e.numeric_code)
        .unwrap_or(5100);
    Reply(Node::obj([
        ("code", number.into()),
        ("message", error.message.as_str().into()),
        ("codeDesc", error.code.as_str().into()),
    ]))
    .into_response()
}

type Failure<'s> = (Option<&'s OperationSpec>, TcError);

fn process<'s>(
    state: &'s EmulatorState,
    method: &str,
    host: &str,
    params: &[Pair<'_>],
    slot: &Slot,
) -> Result<Node, Failure<'s>> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.is_empty())
    };
    let action = param("Action").unwrap_or("");
    let Some(spec) = state.specs().get(DIALECT, action) else {
        return Err((
            None,
            TcError::new(
                code::BAD_PARAMETER,
                format!("The Action `{action}` is not an operation of this API."),
            ),
        ));
    };
    let fail = |e: TcError| (Some(spec), e);
    if method != "GET" && method != "POST" {
        return Err(fail(violation_reply(
            state,
            ViolationKind::Malformed,
            "the HTTP method",
        )));
    }
    for name in ["SecretId", "Signature", "Nonce", "Timestamp", "Region"] {
        if param(name).is_none() {
            return Err(fail(violation_reply(state, ViolationKind::Missing, name)));
        }
    }
    let signature_method = param("SignatureMethod").unwrap_or(tencent_v2::HMAC_SHA1);
    if signature_method != tencent_v2::HMAC_SHA1 && signature_method != tencent_v2::HMAC_SHA256 {
        return Err(fail(violation_reply(
            state,
            ViolationKind::OutOfRange,
            "SignatureMethod",
        )));
    }
    let secret_id = param("SecretId").unwrap_or_default();
    let key = state.access_key(secret_id).ok_or_else(|| {
        fail(TcError::new(
            code::UNKNOWN_SECRET_ID,
            format!("The SecretId {secret_id} does not exist."),
        ))
    })?;
    let source = tencent_v2::source(method, host, PATH, params);
    let expected = tencent_v2::sign(&source, key.secret.expose(), signature_method);
    let given = param("Signature").unwrap_or_default();
    if !super::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(fail(TcError::new(
            code::AUTH_FAILED,
            "The signature does not match: sign the request as the API's signature document says, with the Host header as sent.",
        )));
    }
    let now = state.now().timestamp();
    let at = param("Timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| {
            fail(violation_reply(
                state,
                ViolationKind::Malformed,
                "Timestamp",
            ))
        })?;
    if (now - at).abs() > WINDOW_SECS {
        return Err(fail(TcError::new(
            code::REPLAY,
            format!(
                "The Timestamp {at} is more than {WINDOW_SECS} seconds from the server's clock."
            ),
        )));
    }
    let nonce = param("Nonce").unwrap_or_default();
    if !state.record_nonce_at(secret_id, nonce, now, at.max(now) + WINDOW_SECS) {
        return Err(fail(TcError::new(
            code::REPLAY,
            format!("The Nonce {nonce} was used already: a replayed request."),
        )));
    }
    if key.disabled || !key.permits(action) {
        return Err(fail(TcError::new(
            code::NOT_PERMITTED,
            format!("The key may not call {action}."),
        )));
    }
    state
        .specs()
        .validate(
            DIALECT,
            action,
            params.iter().map(|(k, v)| (k.as_ref(), Some(v.as_ref()))),
        )
        .map_err(|v| fail(TcError::new(v.code, v.message)))?;
    match state.inject(spec, params, slot) {
        Verdict::Proceed => {}
        Verdict::Refuse(entry) => {
            return Err(fail(TcError::new(
                entry.code.clone(),
                faults::message(entry),
            )))
        }
        // Never sent: the connection closes instead.
        Verdict::Drop => return Err(fail(TcError::new("", ""))),
    }
    let call = Call {
        state,
        action,
        params,
        scope: Scope {
            account: &key.account,
            service: DIALECT,
            region: param("Region"),
        },
    };
    operation(&call).map_err(fail)
}

/// A validated request.
struct Call<'a> {
    state: &'a EmulatorState,
    action: &'a str,
    params: &'a [Pair<'a>],
    scope: Scope<'a>,
}

impl<'a> Call<'a> {
    fn value(&self, name: &str) -> Option<&'a str> {
        super::value_of(self.params, name)
    }

    /// The values of a 0-based list `prefix.N suffix`, by index (the spec
    /// has checked that they run without a gap).
    fn list(&self, prefix: &str, suffix: &str) -> Vec<&'a str> {
        super::list_by_index(self.params.iter(), |k| {
            k.strip_prefix(prefix)?.strip_suffix(suffix)
        })
    }
}

fn operation(call: &Call<'_>) -> Result<Node, TcError> {
    match call.action {
        "AssignPrivateIpAddresses" => assign(call),
        "UnassignPrivateIpAddresses" => unassign(call),
        "DescribeNetworkInterfaces" => describe(call),
        "DescribeVpcTaskResult" => task_result(call),
        other => Err(TcError::new(
            code::BAD_PARAMETER,
            format!("The Action `{other}` is not an operation of this API."),
        )),
    }
}

/// Tencent's words for the world's outcomes.
fn world_error(e: WorldError) -> TcError {
    match e {
        WorldError::EniNotFound { id } => TcError::new(
            code::ENI_NOT_FOUND,
            format!("The ENI {id} does not exist. Query it with DescribeNetworkInterfaces."),
        ),
        WorldError::PrimaryIp { ip } => TcError::new(
            code::PRIMARY,
            format!("{ip} is the primary IP: it cannot be unbound."),
        ),
        WorldError::IpAlreadyAssigned { ip, .. } => {
            TcError::new(code::IN_USE, format!("The private IP {ip} is in use."))
        }
        WorldError::IpNotOnEni { ip } | WorldError::IpOutsideCidr { ip, .. } => TcError::new(
            code::NOT_ON_ENI,
            format!("The private IP {ip} is not bound to the ENI."),
        ),
        WorldError::IpReserved { ip, cidr } => TcError::new(
            code::BAD_PARAMETER,
            format!("The private IP {ip} is reserved in the subnet {cidr}."),
        ),
        WorldError::QuotaExceeded { limit, .. } => TcError::new(
            code::QUOTA,
            format!(
                "The ENI may hold {} private IPs, its primary counted.",
                limit + 1
            ),
        ),
        WorldError::SubnetExhausted { subnet, .. } => TcError::new(
            code::EXHAUSTED,
            format!("The subnet {subnet} has not enough free IP addresses."),
        ),
        WorldError::Busy { eni, task } => TcError::new(
            code::BUSY,
            format!("Task {task} is changing the ENI {eni}: wait until it ends."),
        ),
        WorldError::EniState { actual, .. } => TcError::new(
            code::BAD_STATE,
            format!("The ENI is {actual}: it cannot be changed now."),
        ),
        WorldError::InstanceState {
            instance, actual, ..
        } => TcError::new(
            code::BAD_STATE,
            format!("The instance {instance} is {actual}: its ENI cannot be changed now."),
        ),
        WorldError::DuplicateIp { ip } => TcError::new(
            code::BAD_PARAMETER,
            format!("The private IP {ip} is given twice."),
        ),
        WorldError::SubnetNotFound { id } | WorldError::SubnetNotInNetwork { subnet: id, .. } => {
            TcError::new(
                code::NO_SUCH_RESOURCE,
                format!("The subnet {id} does not exist."),
            )
        }
        WorldError::OperationNotOffered { region, operation } => TcError::new(
            code::OPERATION_FAILED,
            format!("The region {region} does not offer {operation}."),
        ),
    }
}

/// The ENI the call names, once it and its VPC are checked: an unknown (or
/// another account's) VPC is InvalidVpc.NotFound; an ENI outside it,
/// InvalidNetworkInterface.NotFound. Checked under the lock that then makes
/// the change, so the check and the change are one step.
fn check_vpc_and_eni<'a>(world: &World, call: &Call<'a>) -> Result<&'a str, TcError> {
    let vpc = call.value("vpcId").unwrap_or_default();
    let eni = call.value("networkInterfaceId").unwrap_or_default();
    if !world.sees_vpc(&call.scope, vpc) {
        return Err(TcError::new(
            code::VPC_NOT_FOUND,
            format!("The VPC {vpc} does not exist. Query it with DescribeVpcEx."),
        ));
    }
    match world.eni(&call.scope, eni) {
        Ok(e) if e.vpc == vpc => Ok(eni),
        _ => Err(world_error(WorldError::EniNotFound {
            id: eni.to_string(),
        })),
    }
}

/// The task the change just started, read under the lock that made the
/// change: locking again would first settle the world, and a task whose
/// delay had passed meanwhile (a loaded machine, a short delay) would be
/// gone, answered as taskId 0, or another change's task by then.
fn task_data(world: &World, call: &Call<'_>, eni: &str) -> Node {
    let task = world.eni(&call.scope, eni).ok().and_then(Eni::running_task);
    Node::obj([("taskId", task.unwrap_or(0).into())])
}

fn assign(call: &Call<'_>) -> Result<Node, TcError> {
    let asks_primary = call
        .list("privateIpAddressSet.", ".primary")
        .iter()
        .any(|p| p.eq_ignore_ascii_case("true"));
    let explicit: Vec<Ipv4Addr> = call
        .list("privateIpAddressSet.", ".privateIpAddress")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let count = call
        .value("secondaryPrivateIpAddressCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let request = AssignRequest {
        explicit,
        count,
        visibility: Visibility::AfterTask,
        ..AssignRequest::default()
    };
    let mut world = call.state.world();
    let eni = check_vpc_and_eni(&world, call)?;
    // A new address is never the primary: the primary exists already.
    if asks_primary {
        return Err(TcError::new(
            code::BAD_PARAMETER,
            "privateIpAddressSet.n.primary: a new address cannot be the primary one.",
        ));
    }
    let assigned = world.assign(&call.scope, eni, &request);
    assigned.map_err(|e| match e {
        // An address the subnet cannot give is a bad value of the
        // parameter that named it: 4000, naming it.
        WorldError::IpOutsideCidr { ip, .. } | WorldError::IpReserved { ip, .. } => {
            let index = request.explicit.iter().position(|x| *x == ip).unwrap_or(0);
            violation_reply(
                call.state,
                ViolationKind::OutOfRange,
                &format!("privateIpAddressSet.{index}.privateIpAddress"),
            )
        }
        other => world_error(other),
    })?;
    Ok(task_data(&world, call, eni))
}

fn unassign(call: &Call<'_>) -> Result<Node, TcError> {
    let ips: Vec<Ipv4Addr> = call
        .list("privateIpAddress.", "")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let mut world = call.state.world();
    let eni = check_vpc_and_eni(&world, call)?;
    world
        .unassign(&call.scope, eni, &ips, Visibility::AfterTask)
        .map_err(world_error)?;
    Ok(task_data(&world, call, eni))
}

fn describe(call: &Call<'_>) -> Result<Node, TcError> {
    let vpc = call.value("vpcId");
    let offset = call
        .value("offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = call
        .value("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20);
    let eni_id = call.value("networkInterfaceId");
    let filter = EniFilter {
        ids: eni_id.map(str::to_string).into_iter().collect(),
        vpc: vpc.map(str::to_string),
        instance: call.value("instanceId").map(str::to_string),
        ..EniFilter::default()
    };
    let created = call.state.started().format("%Y-%m-%d %H:%M:%S").to_string();
    let world = call.state.world();
    if let Some(vpc) = vpc.filter(|v| !world.sees_vpc(&call.scope, v)) {
        return Err(TcError::new(
            code::VPC_NOT_FOUND,
            format!("The VPC {vpc} does not exist. Query it with DescribeVpcEx."),
        ));
    }
    if let Some(id) = eni_id.filter(|id| world.eni(&call.scope, id).is_err()) {
        return Err(world_error(WorldError::EniNotFound { id: id.to_string() }));
    }
    // The emulator's ENIs have empty names and descriptions: a fuzzy
    // filter on either matches none of them.
    let named = call.value("eniName").is_some() || call.value("eniDescription").is_some();
    let found: Vec<&Eni> = world
        .describe(&call.scope, &filter)
        .into_iter()
        .filter(|_| !named)
        .collect();
    let page: Vec<Node> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|eni| eni_json(eni, &created))
        .collect();
    Ok(Node::obj([
        ("totalNum", found.len().into()),
        ("data", Node::List(page)),
    ]))
}

fn task_result(call: &Call<'_>) -> Result<Node, TcError> {
    let id = call
        .value("taskId")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let status = call.state.world().task(call.scope.account, id);
    let status = match status {
        Some(TaskStatus::Succeeded) => 0,
        Some(TaskStatus::Failed) => 1,
        Some(TaskStatus::Running) => 2,
        None => {
            return Err(TcError::new(
                code::NO_SUCH_RESOURCE,
                format!("The task {id} does not exist."),
            ))
        }
    };
    Ok(Node::obj([("status", Node::Int(status))]))
}

fn ip_entry(eni: &Eni, ip: Ipv4Addr, primary: bool) -> Node {
    let wan = eni.eips.get(&ip);
    // The EIP's id is derived from its address: the world names none.
    let eip_id = wan
        .map(|w| format!("eip-{}", w.to_string().replace('.', "")))
        .map_or(Node::Static(""), Node::Str);
    Node::obj([
        ("privateIpAddress", Node::Ip(ip)),
        ("primary", primary.into()),
        ("wanIp", wan.map_or(Node::Static(""), |w| Node::Ip(*w))),
        ("description", Node::Static("")),
        ("isWanIpBlocked", false.into()),
        ("eipId", eip_id),
    ])
}

/// Tencent's numeric zone id of `ap-guangzhou-3`: 100003.
fn zone_id(zone: &str) -> i64 {
    zone.rsplit('-')
        .next()
        .and_then(|n| n.parse::<i64>().ok())
        .map_or(0, |n| 100_000 + n)
}

fn eni_json(eni: &Eni, created: &str) -> Node {
    let mut ips = Vec::with_capacity(eni.secondary_count() + 1);
    ips.push(ip_entry(eni, eni.primary_ip, true));
    ips.extend(eni.secondaries().map(|ip| ip_entry(eni, ip, false)));
    let attached = eni.instance.is_some();
    Node::obj([
        ("vpcId", eni.vpc.as_str().into()),
        ("vpcName", Node::Static("")),
        ("subnetId", eni.subnet.as_str().into()),
        ("zoneId", zone_id(&eni.zone).into()),
        ("eniName", Node::Static("")),
        ("eniDescription", Node::Static("")),
        ("networkInterfaceId", eni.id.as_str().into()),
        (
            "primary",
            (eni.eni_type == super::world::EniType::Primary).into(),
        ),
        ("macAddress", eni.mac.as_str().into()),
        ("createTime", created.into()),
        ("flowLogsSet", Node::List(Vec::new())),
        ("privateIpAddressesSet", Node::List(ips)),
        (
            "instanceSet",
            Node::obj([
                (
                    "instanceId",
                    eni.instance.as_deref().unwrap_or_default().into(),
                ),
                ("attachTime", (if attached { created } else { "" }).into()),
            ]),
        ),
        ("groupSet", Node::List(Vec::new())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Method;
    use crate::emulator::test_support::{send_raw, signed_wire, start_default, Signer};
    use crate::emulator::world::WorldFile;
    use crate::emulator::RunningEmulator;
    use serde_json::Value;

    /// Signs `params` as the legacy SDK does and sends them; returns the
    /// status, the content type and the body.
    async fn send(
        emu: &RunningEmulator,
        world: &WorldFile,
        creds: &str,
        method: Method,
        params: &[(&str, &str)],
    ) -> (u16, String, Value) {
        let signer = Signer {
            dialect: DIALECT,
            creds,
            signing: tencent_v2::HMAC_SHA1,
            method,
        };
        let wire = signed_wire(emu, world, &signer, "DescribeNetworkInterfaces", params);
        raw(
            emu,
            method.as_str(),
            &wire.path_and_query,
            &wire.headers,
            wire.body,
        )
        .await
    }

    async fn raw(
        emu: &RunningEmulator,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> (u16, String, Value) {
        let reply = send_raw(emu, method, target, headers, body).await;
        let body = serde_json::from_str(&reply.text)
            .unwrap_or_else(|_| panic!("not JSON: {}", reply.text));
        (reply.status, reply.content_type, body)
    }

    fn assert_error(got: &(u16, String, Value), number: i64, code: &str) {
        assert_eq!(got.0, 200, "errors travel in HTTP 200: {}", got.2);
        assert_eq!(got.1, "application/json", "exactly, as the SDKs require");
        assert_eq!(
            (got.2["code"].as_i64(), got.2["codeDesc"].as_str()),
            (Some(number), Some(code)),
            "{}",
            got.2
        );
    }

    #[tokio::test]
    async fn bad_input_gets_4000_naming_the_parameter_and_the_next_request_succeeds() {
        let (emu, world) = start_default().await;
        let f = world.fixtures_of(DIALECT);
        let (region, vpc, eni) = (
            f.values["region"].as_str(),
            f.values["vpc"].as_str(),
            f.values["eni.with_secondaries"].as_str(),
        );
        let base = [
            ("Action", "UnassignPrivateIpAddresses"),
            ("Region", region),
            ("vpcId", vpc),
            ("networkInterfaceId", eni),
        ];
        for (extra, named) in [
            (
                vec![("privateIpAddress.x", "10.16.1.20")],
                "privateIpAddress.x",
            ),
            (
                vec![
                    ("privateIpAddress.0", "10.16.1.20"),
                    ("privateIpAddress.2", "10.16.1.21"),
                ],
                "privateIpAddress.2",
            ),
            (vec![("privateIpAddress.0", "ten")], "privateIpAddress.0"),
            (
                vec![
                    ("privateIpAddress.0", "10.16.1.20"),
                    ("privateIpAddress.1", "10.16.1.20"),
                ],
                "privateIpAddress.1",
            ),
        ] {
            let mut params = base.to_vec();
            params.extend(extra);
            let got = send(&emu, &world, "default", Method::Get, &params).await;
            assert_error(&got, 4000, "InvalidParameter");
            assert!(
                got.2["message"].as_str().unwrap().contains(named),
                "{}",
                got.2
            );
        }
        let oversized = format!("Action=DescribeNetworkInterfaces&x={}", "a".repeat(40_000));
        assert_error(
            &raw(&emu, "GET", &format!("{PATH}?{oversized}"), &[], None).await,
            4000,
            "InvalidParameter",
        );
        assert_error(
            &raw(
                &emu,
                "POST",
                PATH,
                &[(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                Some(vec![0xff; 2048]),
            )
            .await,
            4000,
            "InvalidParameter",
        );
        assert_error(
            &raw(
                &emu,
                "PUT",
                &format!("{PATH}?Action=DescribeNetworkInterfaces"),
                &[],
                None,
            )
            .await,
            4000,
            "InvalidParameter",
        );
        assert_error(
            &raw(
                &emu,
                "GET",
                &format!("{PATH}?Action=RebootEverything"),
                &[],
                None,
            )
            .await,
            4000,
            "InvalidParameter",
        );
        // Authentication: unknown SecretId, wrong key.
        let describe = [("Action", "DescribeNetworkInterfaces"), ("Region", region)];
        assert_error(
            &send(&emu, &world, "unknown", Method::Get, &describe).await,
            4104,
            "AuthFailure.SecretIdNotFound",
        );
        assert_error(
            &send(&emu, &world, "wrong_secret", Method::Post, &describe).await,
            4100,
            "AuthFailure",
        );
        // Nothing changed, and a good request still succeeds.
        let (status, content_type, body) = send(
            &emu,
            &world,
            "default",
            Method::Post,
            &[
                ("Action", "DescribeNetworkInterfaces"),
                ("Region", region),
                ("networkInterfaceId", eni),
            ],
        )
        .await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"));
        assert_eq!(body["code"], 0, "{body}");
        let ips: Vec<&str> = body["data"]["data"][0]["privateIpAddressesSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["privateIpAddress"].as_str().unwrap())
            .collect();
        assert_eq!(ips, ["10.16.1.12", "10.16.1.20", "10.16.1.21"]);
    }

    #[tokio::test]
    async fn the_signature_covers_the_host_as_received() {
        let (emu, world) = start_default().await;
        let creds = world.fixtures_of(DIALECT).credentials["default"].clone();
        let params = vec![
            (
                "Action".to_string(),
                "DescribeNetworkInterfaces".to_string(),
            ),
            ("Region".to_string(), "ap-guangzhou".to_string()),
            ("SecretId".to_string(), creds.access_key_id.clone()),
            ("Nonce".to_string(), "42".to_string()),
            (
                "Timestamp".to_string(),
                chrono::Utc::now().timestamp().to_string(),
            ),
        ];
        // Signed for another host than the one the request reaches.
        let signed = tencent_v2::signed_params(
            "GET",
            "vpc.api.qcloud.com",
            &params,
            creds.access_key_secret.expose(),
        );
        let query = tencent_v2::form_encode(&signed);
        let got = raw(&emu, "GET", &format!("{PATH}?{query}"), &[], None).await;
        assert_error(&got, 4100, "AuthFailure");
    }
}

/// SIGNING.md A3 on the verifier: a request signed as the vector is, sent
/// with the vector's Host, passes the signature check and is refused only
/// for its 2016 timestamp (4500, not 4100).
#[cfg(test)]
mod vector_tests {
    use crate::emulator::test_support::{default_world, send_raw};
    use crate::emulator::world::{AccessKeyDef, AccountDef};
    use crate::fixtures::Secret;

    #[tokio::test]
    async fn a3_vectors_verify_on_the_server() {
        let mut world = default_world();
        world.accounts.push(AccountDef {
            id: "a3-vector".into(),
            access_keys: vec![AccessKeyDef {
                id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA".into(),
                secret: Secret::new("Gu5t9xGARNpq86cd98joQYCN3Cozk1qA"),
                disabled: false,
                allowed_operations: None,
            }],
        });
        let emu = crate::emulator::start(&world, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        // The vector's key, host, nonce and timestamp on an Action the
        // emulator serves (the vector's own, DescribeInstances, is CVM's):
        // the signature the signer pinned to A3 passes the verifier from
        // the wire, Host header included; only the 2016 Timestamp fails.
        for method in ["HmacSHA256", "HmacSHA1"] {
            let params: Vec<(String, String)> = [
                ("Action", "DescribeNetworkInterfaces"),
                ("Nonce", "11886"),
                ("Region", "ap-guangzhou"),
                ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA"),
                ("SignatureMethod", method),
                ("Timestamp", "1465185768"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let signed = crate::dialect::tencent_v2::signed_params(
                "GET",
                "cvm.api.qcloud.com",
                &params,
                "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA",
            );
            let query = crate::dialect::tencent_v2::form_encode(&signed);
            let reply = send_raw(
                &emu,
                "GET",
                &format!("/v2/index.php?{query}"),
                &[("host".into(), "cvm.api.qcloud.com".into())],
                None,
            )
            .await;
            let body: serde_json::Value = serde_json::from_str(&reply.text).unwrap();
            assert_eq!(
                (body["code"].as_i64(), body["codeDesc"].as_str()),
                (Some(4500), Some("ReplayAttack")),
                "the signature passed; the 2016 Timestamp did not: {body}"
            );
        }
    }
}
