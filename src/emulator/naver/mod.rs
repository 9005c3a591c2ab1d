//! NAVER Cloud Platform's VPC server API v2 at `/vserver/v2/<action>`
//! (dialect `naver-vpc`): assignSecondaryIps, unassignSecondaryIps,
//! getNetworkInterfaceDetail and getNetworkInterfaceList, over the same
//! world and on the same port as the other dialects.
//!
//! NAVER's contract differs from the others where IPAM code notices:
//! at most 5 secondaries per interface; a list and a count in one request;
//! `allowReassign` moves an address from another interface; unassigning an
//! address that is not there is no error; and after a change the interface
//! reads `SET` (Configuring) until the subnet's `change_delay` has passed on
//! the emulator's clock, during which another change is refused. Replies are
//! wrapped in `<action>Response`, in XML (the default) or JSON with the same
//! content; the API gateway answers authentication failures itself, with
//! its own body and HTTP 401.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::faults::{self, Slot, Verdict};
use super::reply::Node;
use super::world::{
    AssignRequest, Eni, EniFilter, EniState, EniType, Scope, Visibility, WorldError,
};
use super::{EmulatorState, MAX_QUERY};
use crate::dialect::naver::{self, ACCESS_KEY, SIGNATURE_V1, SIGNATURE_V2, TIMESTAMP};
use crate::dialect::{DialectId, Pair};
use crate::spec::{ErrorShape, OperationSpec, ViolationKind};

const DIALECT: DialectId = DialectId::NaverVpc;

/// The gateway's clock window, either side of the server's clock.
const WINDOW_MS: i64 = 5 * 60 * 1000;

/// The region when a request names none (NAVER's default, KR).
const DEFAULT_REGION: &str = "KR";

/// Codes of each outcome: the service's `returnCode`s and the gateway's
/// `errorCode`s (their HTTP statuses are in the specs).
mod code {
    pub const AUTH_FAILED: &str = "200";
    pub const PERMISSION_DENIED: &str = "210";
    pub const NOT_FOUND: &str = "300";
    pub const BAD_PARAMETER: &str = "1100000";
    pub const NIC_NOT_FOUND: &str = "1002101";
    pub const BUSY: &str = "1002102";
    pub const IN_USE: &str = "1002103";
    pub const LIMIT: &str = "1002104";
    pub const IP_INVALID: &str = "1002105";
    pub const EXHAUSTED: &str = "1002106";
    pub const PRIMARY: &str = "1002107";
}

/// A NAVER error: the service's `responseError` or the gateway's `error`.
/// The gateway's `message` is fixed per code (its error table); what went
/// wrong goes in `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcpError {
    pub code: String,
    pub message: String,
    pub details: String,
    pub gateway: bool,
}

/// The API gateway's message for each of its codes (NAVER's Legacy API
/// error table): the same text whatever the cause.
fn gateway_message(code: &str) -> &'static str {
    match code {
        "200" => "Authentication Failed",
        "210" => "Permission Denied",
        "300" => "Not Found Exception",
        "400" => "Quota Exceeded",
        "410" => "Throttle Limited",
        "420" => "Rate Limited",
        "430" => "Request Entity Too Large",
        "500" => "Endpoint Error",
        "510" => "Endpoint Timeout",
        _ => "Unexpected Error",
    }
}

impl NcpError {
    fn service(code: &str, message: impl Into<String>) -> NcpError {
        NcpError {
            code: code.to_string(),
            message: message.into(),
            details: String::new(),
            gateway: false,
        }
    }

    fn gateway(code: &str, details: impl Into<String>) -> NcpError {
        NcpError {
            code: code.to_string(),
            message: gateway_message(code).to_string(),
            details: details.into(),
            gateway: true,
        }
    }
}

/// The NAVER routes: every method on `/vserver/v2/<action>`, and on any
/// deeper path, which the gateway answers as an API it does not have.
pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new().route("/vserver/v2/{*action}", any(handle))
}

/// The action as the path names it, percent-decoded; bytes that are not
/// UTF-8 are replaced rather than refused outside the envelope (axum's
/// `Path` would answer them in plain text).
fn action_of(path: &str) -> String {
    let raw = path.strip_prefix(naver::PREFIX).unwrap_or(path);
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xml,
    Json,
}

/// Every NAVER reply, in the format asked for, with its status.
struct Reply {
    status: StatusCode,
    format: Format,
    root: String,
    body: Node,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (text, content_type) = match self.format {
            Format::Json => (
                Node::wrap(self.root, self.body).to_json(),
                "application/json;charset=UTF-8",
            ),
            Format::Xml => (
                self.body.to_xml_wrapped(&self.root, &item_name),
                "application/xml;charset=UTF-8",
            ),
        };
        let mut response = (self.status, text).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

/// The element of one item of a wrapped list: `secondaryIpList` holds
/// `secondaryIp`s.
fn item_name(list: &str) -> String {
    list.strip_suffix("List").unwrap_or(list).to_string()
}

async fn handle(State(state): State<Arc<EmulatorState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let action = action_of(parts.uri.path());
    let raw_query = parts.uri.query().unwrap_or("");
    let body = super::read_body(body).await;
    let is_form = super::is_form(&parts.headers);
    // Borrowed from the request where decoding changed nothing.
    let mut params: Vec<Pair<'_>> = form_urlencoded::parse(raw_query.as_bytes()).collect();
    if let (true, Ok(bytes)) = (is_form, &body) {
        // A parameter in both the query and the body with the same value
        // counts once (the spec's assumption: the Go SDK writes
        // responseFormatType=json into the body, the Python SDK into the
        // query); a different value stays a duplicate and is refused.
        let in_query = params.len();
        for pair in form_urlencoded::parse(bytes) {
            if !params[..in_query].contains(&pair) {
                params.push(pair);
            }
        }
    }
    // An unknown format is refused in JSON, as the gateway's errors are.
    let format = match params
        .iter()
        .find(|(k, _)| k == "responseFormatType")
        .map(|(_, v)| v.as_ref())
    {
        None | Some("xml") => Format::Xml,
        Some(_) => Format::Json,
    };
    let slot = Slot::default();
    let outcome = if raw_query.len() > MAX_QUERY || body.is_err() {
        Err((
            None,
            violation_reply(&state, ViolationKind::Malformed, "the request"),
        ))
    } else {
        process(
            &state,
            parts.method.as_str(),
            &action,
            raw_query,
            &parts.headers,
            &params,
            &slot,
        )
    };
    let response = match outcome {
        Ok(body) => Reply {
            status: StatusCode::OK,
            format,
            root: format!("{action}Response"),
            body,
        }
        .into_response(),
        Err((spec, error)) => render_error(&state, spec, &error, format),
    };
    faults::finish(response, slot.take()).await
}

fn violation_reply(state: &EmulatorState, kind: ViolationKind, name: &str) -> NcpError {
    match state.violation(DIALECT, kind, name, name) {
        Some((code, message)) => NcpError::service(&code, message),
        None => NcpError::service(code::BAD_PARAMETER, format!("{name} is not valid")),
    }
}

/// The error body with the status its catalog documents (400 for a code
/// none documents, which a contract check then reports). The gateway's
/// errors are JSON whatever format was asked for.
fn render_error(
    state: &EmulatorState,
    spec: Option<&OperationSpec>,
    error: &NcpError,
    format: Format,
) -> Response {
    let status = state.documented_status(DIALECT, spec, &error.code);
    if error.gateway {
        let body = Node::obj([
            ("errorCode", error.code.as_str().into()),
            ("message", error.message.as_str().into()),
            ("details", error.details.as_str().into()),
        ]);
        return Reply {
            status,
            format: Format::Json,
            root: "error".into(),
            body,
        }
        .into_response();
    }
    Reply {
        status,
        format,
        root: "responseError".into(),
        body: Node::obj([
            ("returnCode", error.code.as_str().into()),
            ("returnMessage", error.message.as_str().into()),
        ]),
    }
    .into_response()
}

type Failure<'s> = (Option<&'s OperationSpec>, NcpError);

fn process<'s>(
    state: &'s EmulatorState,
    method: &str,
    action: &str,
    raw_query: &str,
    headers: &HeaderMap,
    params: &[Pair<'_>],
    slot: &Slot,
) -> Result<Node, Failure<'s>> {
    let spec = state.specs().get(DIALECT, action);
    let fail = |e: NcpError| (spec, e);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(name) = [TIMESTAMP, ACCESS_KEY, SIGNATURE_V2, SIGNATURE_V1]
        .into_iter()
        .find(|name| headers.get_all(*name).iter().count() > 1)
    {
        return Err(fail(NcpError::gateway(
            code::AUTH_FAILED,
            format!("Authentication Failed: the {name} header is given more than once."),
        )));
    }
    let (Some(timestamp), Some(access_key)) = (header(TIMESTAMP), header(ACCESS_KEY)) else {
        return Err(fail(NcpError::gateway(
            code::AUTH_FAILED,
            "Required header missing: x-ncp-apigw-timestamp and x-ncp-iam-access-key",
        )));
    };
    let Some(signature) = header(SIGNATURE_V2).or_else(|| header(SIGNATURE_V1)) else {
        return Err(fail(NcpError::gateway(
            code::AUTH_FAILED,
            "Required header missing: x-ncp-apigw-signature-v2",
        )));
    };
    let key = state
        .access_key(access_key)
        .ok_or_else(|| fail(NcpError::gateway(code::AUTH_FAILED, "Invalid access key")))?;
    // The query as received, and as decoded (the Python SDK signs it so).
    let path = format!("{}{action}", naver::PREFIX);
    let signs = |q: &str| {
        let expected = naver::sign(
            &naver::message(method, &path, q, timestamp, access_key),
            key.secret.expose(),
        );
        super::constant_time_eq(expected.as_bytes(), signature.as_bytes())
    };
    // The decoded query is built only when the query as sent does not
    // match (the Python SDK's signature), and checked only if it differs.
    let matches = signs(raw_query) || {
        let decoded = params_in_query(raw_query);
        decoded != raw_query && signs(&decoded)
    };
    if !matches {
        return Err(fail(NcpError::gateway(
            code::AUTH_FAILED,
            "Signature mismatch",
        )));
    }
    let now = state.now().timestamp_millis();
    match timestamp.parse::<i64>() {
        Ok(at) if (now - at).abs() <= WINDOW_MS => {}
        _ => {
            return Err(fail(NcpError::gateway(
                code::AUTH_FAILED,
                format!(
                    "Timestamp expired: {timestamp} is not within 5 minutes of the server's clock"
                ),
            )))
        }
    }
    let Some(operation_spec) = spec else {
        return Err((
            None,
            NcpError::gateway(code::NOT_FOUND, format!("No API {action}")),
        ));
    };
    if method != "GET" && method != "POST" {
        return Err(fail(NcpError::gateway(
            code::NOT_FOUND,
            format!("No API {method} {path}"),
        )));
    }
    if key.disabled || !key.permits(action) {
        return Err(fail(NcpError::gateway(
            code::PERMISSION_DENIED,
            "The access key may not call this API",
        )));
    }
    state
        .specs()
        .validate(
            DIALECT,
            action,
            params.iter().map(|(k, v)| (k.as_ref(), Some(v.as_ref()))),
        )
        .map_err(|v| fail(NcpError::service(&v.code, v.message)))?;
    match state.inject(operation_spec, params, slot) {
        Verdict::Proceed => {}
        Verdict::Refuse(entry) if entry.shape == Some(ErrorShape::Gateway) => {
            return Err(fail(NcpError::gateway(&entry.code, "")))
        }
        Verdict::Refuse(entry) => {
            return Err(fail(NcpError::service(&entry.code, faults::message(entry))))
        }
        // Never sent: the connection closes instead.
        Verdict::Drop => return Err(fail(NcpError::service("", ""))),
    }
    let call = Call {
        state,
        action,
        params,
        scope: Scope {
            account: &key.account,
            service: DIALECT,
            region: Some(
                params
                    .iter()
                    .find(|(k, v)| k == "regionCode" && !v.is_empty())
                    .map_or(DEFAULT_REGION, |(_, v)| v.as_ref()),
            ),
        },
    };
    operation(&call).map_err(fail)
}

/// The query decoded, `name=value` joined by `&` in the order sent.
fn params_in_query(raw: &str) -> String {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
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

    /// The values of a 1-based list `stem.N`, by N.
    fn list(&self, stem: &str) -> Vec<&'a str> {
        super::list_by_index(self.params.iter(), |k| {
            k.strip_prefix(stem)?.strip_prefix('.')
        })
    }

    fn ips(&self, stem: &str) -> Vec<Ipv4Addr> {
        self.list(stem)
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect()
    }
}

fn operation(call: &Call<'_>) -> Result<Node, NcpError> {
    match call.action {
        "assignSecondaryIps" => assign(call),
        "unassignSecondaryIps" => unassign(call),
        "getNetworkInterfaceDetail" => detail(call),
        "getNetworkInterfaceList" => list(call),
        other => Err(NcpError::gateway(
            code::NOT_FOUND,
            format!("No API {other}"),
        )),
    }
}

/// NAVER's words for the world's outcomes.
fn world_error(e: WorldError) -> NcpError {
    match e {
        WorldError::EniNotFound { id } => NcpError::service(
            code::NIC_NOT_FOUND,
            format!("The network interface {id} does not exist."),
        ),
        WorldError::IpAlreadyAssigned { ip, .. } => NcpError::service(
            code::IN_USE,
            format!("The IP {ip} is already in use. Set allowReassign to true to move it."),
        ),
        WorldError::QuotaExceeded { limit, .. } => NcpError::service(
            code::LIMIT,
            format!("A network interface may hold at most {limit} secondary IPs."),
        ),
        WorldError::PrimaryIp { ip } => NcpError::service(
            code::PRIMARY,
            format!("{ip} is the primary IP of the network interface: it cannot be unassigned."),
        ),
        WorldError::Busy { eni, .. } => NcpError::service(
            code::BUSY,
            format!(
                "The network interface {eni} is being configured (SET): try again when it is done."
            ),
        ),
        WorldError::SubnetExhausted { subnet, .. } => NcpError::service(
            code::EXHAUSTED,
            format!("The subnet {subnet} has no free IP address left."),
        ),
        WorldError::IpOutsideCidr { ip, cidr } | WorldError::IpReserved { ip, cidr } => {
            NcpError::service(
                code::IP_INVALID,
                format!("The IP {ip} is not a usable address of the subnet {cidr}."),
            )
        }
        WorldError::DuplicateIp { ip } => {
            NcpError::service(code::BAD_PARAMETER, format!("The IP {ip} is given twice."))
        }
        WorldError::EniState { actual, .. } => NcpError::service(
            code::BUSY,
            format!("The network interface is {actual}: it cannot be changed now."),
        ),
        WorldError::InstanceState {
            instance, actual, ..
        } => NcpError::service(
            code::BUSY,
            format!("The server {instance} is {actual}: its interfaces cannot be changed now."),
        ),
        WorldError::IpNotOnEni { ip } => NcpError::service(
            code::BAD_PARAMETER,
            format!("The IP {ip} is not on the network interface."),
        ),
        WorldError::SubnetNotFound { id } | WorldError::SubnetNotInNetwork { subnet: id, .. } => {
            NcpError::service(
                code::NIC_NOT_FOUND,
                format!("The subnet {id} does not exist."),
            )
        }
        WorldError::OperationNotOffered { region, operation } => NcpError::service(
            code::BAD_PARAMETER,
            format!("The region {region} does not offer {operation}."),
        ),
    }
}

fn interface_no<'a>(call: &Call<'a>) -> &'a str {
    call.value("networkInterfaceNo").unwrap_or_default()
}

/// The reply of every operation: the interfaces, wrapped.
fn reply(enis: &[&Eni]) -> Node {
    let list: Vec<Node> = enis.iter().map(|e| nic_json(e)).collect();
    Node::obj([
        ("requestId", super::request_id().to_string().into()),
        ("returnCode", Node::Static("0")),
        ("returnMessage", Node::Static("success")),
        ("totalRows", list.len().into()),
        ("networkInterfaceList", Node::List(list)),
    ])
}

fn assign(call: &Call<'_>) -> Result<Node, NcpError> {
    let eni_id = interface_no(call);
    let reassign = call
        .value("allowReassign")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let count = call
        .value("secondaryIpCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut world = call.state.world();
    let eni = world.eni(&call.scope, eni_id).map_err(world_error)?;
    refuse_while_set(eni)?;
    // An address already on this interface is no error and no change.
    let explicit: Vec<Ipv4Addr> = call
        .ips("secondaryIpList")
        .into_iter()
        .filter(|ip| !eni.holds(*ip) || *ip == eni.primary_ip)
        .collect();
    if explicit.is_empty() && count == 0 {
        return Ok(reply(&[eni]));
    }
    let request = AssignRequest {
        explicit,
        count,
        allow_reassign: reassign,
        visibility: Visibility::Immediate,
        ..AssignRequest::default()
    };
    world
        .assign(&call.scope, eni_id, &request)
        .map_err(world_error)?;
    let eni = world.eni(&call.scope, eni_id).map_err(world_error)?;
    Ok(reply(&[eni]))
}

fn unassign(call: &Call<'_>) -> Result<Node, NcpError> {
    let eni_id = interface_no(call);
    let mut world = call.state.world();
    let eni = world.eni(&call.scope, eni_id).map_err(world_error)?;
    refuse_while_set(eni)?;
    let primary = eni.primary_ip;
    let asked = call.ips("secondaryIpList");
    if let Some(ip) = asked.iter().find(|ip| **ip == primary) {
        return Err(world_error(WorldError::PrimaryIp { ip: *ip }));
    }
    // An address that is not on the interface is no error: it is skipped.
    let present: Vec<Ipv4Addr> = asked.into_iter().filter(|ip| eni.holds(*ip)).collect();
    if !present.is_empty() {
        world
            .unassign(&call.scope, eni_id, &present, Visibility::Immediate)
            .map_err(world_error)?;
    }
    let eni = world.eni(&call.scope, eni_id).map_err(world_error)?;
    Ok(reply(&[eni]))
}

/// Any change, even one that would change nothing, waits for SET to end.
fn refuse_while_set(eni: &Eni) -> Result<(), NcpError> {
    match eni.running_task() {
        Some(task) => Err(world_error(WorldError::Busy {
            eni: eni.id.clone(),
            task,
        })),
        None => Ok(()),
    }
}

/// An interface the caller cannot see is no error: an empty list (what
/// terraform-provider-ncloud reads as "gone").
fn detail(call: &Call<'_>) -> Result<Node, NcpError> {
    let world = call.state.world();
    let found: Vec<&Eni> = world
        .eni(&call.scope, interface_no(call))
        .into_iter()
        .collect();
    Ok(reply(&found))
}

fn list(call: &Call<'_>) -> Result<Node, NcpError> {
    let page_no = call
        .value("pageNo")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let page_size = call
        .value("pageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let filter = EniFilter {
        ids: call
            .list("networkInterfaceNoList")
            .into_iter()
            .map(str::to_string)
            .collect(),
        instance: call.value("instanceNo").map(str::to_string),
        primary_ip: call.value("ip").and_then(|v| v.parse().ok()),
        ..EniFilter::default()
    };
    let secondaries = call.ips("secondaryIpList");
    let named = call.value("networkInterfaceName");
    let status_code = call.value("networkInterfaceStatusCode");
    let is_default = call
        .value("isDefault")
        .map(|v| v.eq_ignore_ascii_case("true"));
    let device = call.value("deviceName");
    // Subnets and servers have no names in the world: such a filter
    // matches nothing.
    let unnamed = call.value("subnetName").is_some() || call.value("serverName").is_some();
    let world = call.state.world();
    let mut found: Vec<&Eni> = world
        .describe(&call.scope, &filter)
        .into_iter()
        .filter(|_| !unnamed)
        .filter(|e| named.is_none_or(|n| n == nic_name(e)))
        .filter(|e| {
            secondaries.is_empty()
                || secondaries
                    .iter()
                    .any(|ip| e.secondaries().any(|s| s == *ip))
        })
        .filter(|e| status_code.is_none_or(|c| status(e).0 == c))
        .filter(|e| is_default.is_none_or(|d| d == (e.eni_type == EniType::Primary)))
        .filter(|e| device.is_none_or(|d| d == device_name(e)))
        .collect();
    found.sort_by_key(|e| e.id.parse::<u64>().unwrap_or(u64::MAX));
    let total = found.len();
    // Without pageSize every match; pageNo 0 and 1 are both the first page.
    let page: Vec<&Eni> = if page_size == 0 {
        found
    } else {
        found
            .into_iter()
            .skip(page_no.max(1).saturating_sub(1).saturating_mul(page_size))
            .take(page_size)
            .collect()
    };
    let mut body = reply(&page);
    body.set("totalRows", total.into());
    Ok(body)
}

/// `eth0` for a server's default interface, `eth1` for another attached
/// one, nothing when not attached.
fn device_name(eni: &Eni) -> &'static str {
    match (&eni.instance, eni.eni_type) {
        (None, _) => "",
        (Some(_), EniType::Primary) => "eth0",
        (Some(_), EniType::Secondary) => "eth1",
    }
}

fn nic_name(eni: &Eni) -> String {
    format!("nic-{}", eni.id)
}

/// The status an interface reads: `SET` while a change runs, else in use
/// or not by whether it is attached.
fn status(eni: &Eni) -> (&'static str, &'static str) {
    if eni.running_task().is_some() {
        ("SET", "Configuring")
    } else if eni.state == EniState::InUse {
        ("USED", "In use")
    } else {
        ("NOTUSED", "Not used")
    }
}

fn nic_json(eni: &Eni) -> Node {
    let primary = eni.eni_type == EniType::Primary;
    let (code, name) = status(eni);
    let mut m = Node::obj([
        ("networkInterfaceNo", eni.id.as_str().into()),
        ("networkInterfaceName", nic_name(eni).into()),
        ("subnetNo", eni.subnet.as_str().into()),
        ("deleteOnTermination", primary.into()),
        ("isDefault", primary.into()),
    ]);
    // Only an attached interface has a device and a server (the spec's
    // rendering assumption; seed 004's example is an attached one).
    if eni.instance.is_some() {
        m.set("deviceName", Node::Static(device_name(eni)));
    }
    m.set(
        "networkInterfaceStatus",
        Node::obj([
            ("code", Node::Static(code)),
            ("codeName", Node::Static(name)),
        ]),
    );
    if let Some(instance) = &eni.instance {
        m.set(
            "instanceType",
            Node::obj([
                ("code", Node::Static("VSVR")),
                ("codeName", Node::Static("Server (VPC)")),
            ]),
        );
        m.set("instanceNo", instance.as_str().into());
    }
    m.set("ip", Node::Ip(eni.primary_ip));
    m.set("macAddress", eni.mac.to_ascii_uppercase().into());
    m.set("enableFlowLog", false.into());
    m.set("accessControlGroupNoList", Node::List(Vec::new()));
    m.set("networkInterfaceDescription", Node::Static(""));
    m.set(
        "secondaryIpList",
        Node::List(eni.secondaries().map(Node::Ip).collect()),
    );
    m
}

#[cfg(test)]
mod tests;
