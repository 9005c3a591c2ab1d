//! Alibaba Cloud RPC, shared by every Alibaba product the emulator serves
//! (ECS 2014-05-26 in [`ecs`], ENS 2017-11-10 in [`ens`]).
//!
//! Everything that is the wire protocol and not the product lives here:
//! the route on `/`, query and form parsing, `Format` (JSON or XML), the
//! signature checks (v1 HMAC-SHA1 parameters and V3 `ACS3-HMAC-SHA256`
//! Authorization header, both on the same route), the 15-minute clock
//! window and the nonce store, the access key's state and permissions,
//! request validation against the operation's spec, and the error envelope
//! `{RequestId, HostId, Code, Message, Recommend}` with the product's own
//! HostId. A product module only gives its version, its words for the
//! neutral world errors, and its operations.
//!
//! Checks run in a fixed order and the first failure wins (the order is in
//! `specs/_family/alibaba-rpc.yaml`): product (version) and Action; the
//! signature protocol's own parameters; access key known; signature;
//! timestamp; nonce; key enabled; permission; the operation's parameters;
//! the operation.

pub mod ecs;
pub mod ens;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use chrono::DateTime;

use super::faults::{self, Slot, Verdict};
pub use super::reply::Node;
use super::world::{AccessKey, Scope, WorldError};
use super::{EmulatorState, MAX_QUERY};
use crate::dialect::alibaba_rpc as rpc;
use crate::dialect::DialectId;
use crate::spec::{OperationSpec, ViolationKind};

/// Signature clock window, either side of the server's clock.
const WINDOW_SECS: i64 = 15 * 60;

/// One Alibaba product served on `/`.
pub trait Product: Sync {
    fn dialect(&self) -> DialectId;
    /// The `Version` (or `x-acs-version`) that addresses it.
    fn version(&self) -> &'static str;
    /// `HostId` of its error envelope (`ecs.aliyuncs.com`).
    fn host_id(&self) -> &'static str;
    /// `product=` of its error envelope's Recommend link (`Ecs`).
    fn name(&self) -> &'static str;
    /// A neutral world error in this product's words.
    fn world_error(&self, error: WorldError) -> RpcError;
    /// The refusal of a key whose policy does not allow `operation`.
    fn not_permitted(&self, operation: &str) -> RpcError;
    /// Runs an operation whose request has passed every common check and
    /// the spec's validation; returns the success body.
    fn operation(&self, call: &OpCall<'_>) -> Result<Node, RpcError>;
}

/// The products on `/`, in the order versions are matched.
static PRODUCTS: &[&dyn Product] = &[&ecs::Ecs, &ens::Ens];

/// An error in the Alibaba envelope; its HTTP status comes from the spec's
/// catalog when it is rendered, so the spec and the emulator agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: String,
    pub message: String,
}

impl RpcError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A validated request as an operation sees it.
pub struct OpCall<'a> {
    pub state: &'a EmulatorState,
    pub action: &'a str,
    pub params: Params<'a>,
    pub account: &'a str,
    pub request_id: &'a str,
}

impl OpCall<'_> {
    /// The world scope of this call's account and product, in `region`.
    pub fn scope<'s>(&'s self, product: &dyn Product, region: Option<&'s str>) -> Scope<'s> {
        Scope {
            account: self.account,
            service: product.dialect(),
            region,
        }
    }
}

/// Reading a request's parameters once the spec has validated them: an
/// empty value reads as absent (the SDKs send optional parameters empty).
#[derive(Clone, Copy)]
pub struct Params<'a> {
    all: &'a [rpc::Pair<'a>],
}

impl<'a> Params<'a> {
    pub fn value(&self, name: &str) -> Option<&'a str> {
        super::value_of(self.all, name)
    }

    /// The values of the repeat list `stem.N`, by N (validation has
    /// checked every index).
    pub fn list(&self, stem: &str) -> Vec<&'a str> {
        super::list_by_index(self.all.iter().filter(|(_, v)| !v.is_empty()), |k| {
            k.strip_prefix(stem)?.strip_prefix('.')
        })
    }

    /// An integer the spec has checked, or `default`.
    pub fn integer(&self, name: &str, default: i64) -> i64 {
        self.value(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// An IPv4 address the spec has checked.
    pub fn ipv4(&self, name: &str) -> Option<std::net::Ipv4Addr> {
        self.value(name).and_then(|v| v.parse().ok())
    }

    /// The IPv4 addresses of a list the spec has checked.
    pub fn ipv4_list(&self, stem: &str) -> Vec<std::net::Ipv4Addr> {
        self.list(stem)
            .into_iter()
            .filter_map(|v| v.parse().ok())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

impl Format {
    fn of(params: &[rpc::Pair<'_>]) -> Format {
        match params.iter().find(|(k, _)| k == "Format") {
            Some((_, f)) if f.eq_ignore_ascii_case("xml") => Format::Xml,
            _ => Format::Json,
        }
    }
}

/// The Alibaba route: every method on `/`, so that even an unsupported
/// method is answered in the envelope.
pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new().route("/", any(handle))
}

/// One request as received: method, every parameter (query, then form
/// body) decoded in arrival order (borrowed from the request where
/// decoding changed nothing), how many came from the query, headers and
/// the raw body.
struct Received<'a> {
    method: &'a str,
    params: Vec<rpc::Pair<'a>>,
    query_len: usize,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl Received<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// V3 when the Authorization header names the V3 algorithm.
    fn is_v3(&self) -> bool {
        self.header(AUTHORIZATION.as_str())
            .is_some_and(|a| a.starts_with("ACS3-"))
    }
}

async fn handle(State(state): State<Arc<EmulatorState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = super::read_body(body).await;
    let query = parts.uri.query().unwrap_or("");
    let oversized_query = query.len() > MAX_QUERY;
    let params = if oversized_query {
        Vec::new()
    } else {
        rpc::parse_query_borrowed(query)
    };
    let query_len = params.len();
    let bytes: &[u8] = body.as_deref().unwrap_or_default();
    let mut received = Received {
        method: parts.method.as_str(),
        params,
        query_len,
        headers: &parts.headers,
        body: bytes,
    };
    if super::is_form(&parts.headers) && !received.body.is_empty() {
        let form = rpc::parse_form_borrowed(received.body);
        received.params.extend(form);
    }
    let format = Format::of(&received.params);
    let v3 = received.is_v3();
    let version = if v3 {
        received
            .header("x-acs-version")
            .or_else(|| received.param("Version"))
    } else {
        received.param("Version")
    };
    let oversized = if oversized_query {
        Some("QueryString")
    } else if body.is_err() {
        Some("Body")
    } else {
        None
    };
    // An oversized query is not parsed; its Version is looked up in the
    // raw text, so that it is refused as too large in its product's
    // envelope rather than as a request without a Version.
    let version = match version {
        None if oversized_query => sniff_version(query),
        other => other.unwrap_or("").to_string(),
    };
    let request_id = super::request_id()
        .hyphenated()
        .encode_upper(&mut uuid::Uuid::encode_buffer())
        .to_string();
    let product = PRODUCTS.iter().copied().find(|p| p.version() == version);
    // Too large to read, with no product named: answered as the first.
    let product = product.or(oversized.map(|_| PRODUCTS[0]));
    let Some(product) = product else {
        // No product serves this version; answer as the first one would.
        let error = RpcError::new(
            "InvalidVersion",
            format!("Specified parameter Version \"{version}\" is not valid."),
        );
        return render_error(&state, PRODUCTS[0], None, &error, format, &request_id);
    };
    let slot = Slot::default();
    let outcome = match oversized {
        Some(what) => Err((None, too_large(&state, product, what))),
        None => process(&state, product, &received, v3, &request_id, &slot),
    };
    let response = match outcome {
        Ok((action, body)) => respond(StatusCode::OK, format, &format!("{action}Response"), &body),
        Err((spec, error)) => render_error(&state, product, spec, &error, format, &request_id),
    };
    faults::finish(response, slot.take()).await
}

/// The `Version=` of a raw query, without parsing the rest of it.
fn sniff_version(query: &str) -> String {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("Version="))
        .map(|v| rpc::parse_query(&format!("v={v}")).remove(0).1)
        .unwrap_or_default()
}

/// The refusal of an Action the product does not have, whether its spec
/// or its module lacks it.
pub fn unknown_action(action: &str) -> RpcError {
    RpcError::new(
        "InvalidAction",
        format!("Specified api \"{action}\" is not found, please check your url and method."),
    )
}

/// An oversized query or body: the dialect's `malformed` answer, naming
/// what was too large.
fn too_large(state: &EmulatorState, product: &dyn Product, what: &str) -> RpcError {
    violation_reply(state, product, ViolationKind::Malformed, what, what)
}

/// The dialect's answer to a violation found outside the spec's own
/// validation (the signature protocol's parameters).
fn violation_reply(
    state: &EmulatorState,
    product: &dyn Product,
    kind: ViolationKind,
    parameter: &str,
    wire_name: &str,
) -> RpcError {
    match state.violation(product.dialect(), kind, parameter, wire_name) {
        Some((code, message)) => RpcError::new(code, message),
        None => RpcError::new("InvalidParameter", format!("{wire_name} is not valid.")),
    }
}

type Failure<'s> = (Option<&'s OperationSpec>, RpcError);

/// Every check, then the operation. Returns the action and its body.
fn process<'s>(
    state: &'s EmulatorState,
    product: &dyn Product,
    req: &Received,
    v3: bool,
    request_id: &str,
    slot: &Slot,
) -> Result<(String, Node), Failure<'s>> {
    let specs = state.specs();
    let action = if v3 {
        req.header("x-acs-action").or_else(|| req.param("Action"))
    } else {
        req.param("Action")
    }
    .unwrap_or("");
    let Some(spec) = specs.get(product.dialect(), action) else {
        return Err((None, unknown_action(action)));
    };
    let fail = |e: RpcError| (Some(spec), e);
    if req.method != "GET" && req.method != "POST" {
        return Err(fail(violation_reply(
            state,
            product,
            ViolationKind::Malformed,
            "HTTPMethod",
            &format!("HTTP method {}", req.method),
        )));
    }

    let auth = if v3 {
        check_v3(state, req)
    } else {
        check_v1(state, product, req)
    }
    .map_err(fail)?;

    if auth.key.disabled {
        return Err(fail(RpcError::new(
            "Abs.InvalidAccount.NotFound",
            "The Alibaba Cloud account does not exist or the AccessKey has expired or been disabled.",
        )));
    }
    if !auth.key.permits(action) {
        return Err(fail(product.not_permitted(action)));
    }

    // Under V3 only the operation's own parameters travel as parameters.
    specs
        .validate(
            product.dialect(),
            action,
            req.params
                .iter()
                .map(|(k, v)| (k.as_ref(), Some(v.as_ref()))),
        )
        .map_err(|v| fail(RpcError::new(v.code, v.message)))?;

    match state.inject(spec, &req.params, slot) {
        Verdict::Proceed => {}
        Verdict::Refuse(entry) => {
            return Err(fail(RpcError::new(
                entry.code.clone(),
                faults::message(entry),
            )))
        }
        // Never sent: the connection closes instead.
        Verdict::Drop => return Err(fail(RpcError::new("", ""))),
    }

    let call = OpCall {
        state,
        action,
        params: Params { all: &req.params },
        account: &auth.key.account,
        request_id,
    };
    let body = product.operation(&call).map_err(fail)?;
    Ok((action.to_string(), body))
}

/// The authenticated key of a request.
struct Authenticated<'s> {
    key: &'s AccessKey,
}

fn missing(state: &EmulatorState, product: &dyn Product, name: &str) -> RpcError {
    violation_reply(state, product, ViolationKind::Missing, name, name)
}

/// Signature v1: the protocol's parameters, the key, the HMAC-SHA1 over
/// every received parameter, the timestamp, the nonce.
fn check_v1<'s>(
    state: &'s EmulatorState,
    product: &dyn Product,
    req: &Received,
) -> Result<Authenticated<'s>, RpcError> {
    let value = |name: &str| req.param(name).filter(|v| !v.is_empty());
    let timestamp_name = if value("Timestamp").is_none() && value("TimeStamp").is_some() {
        "TimeStamp"
    } else {
        "Timestamp"
    };
    for name in [
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        timestamp_name,
    ] {
        if value(name).is_none() {
            return Err(missing(state, product, name));
        }
    }
    let malformed =
        |name: &str| violation_reply(state, product, ViolationKind::OutOfRange, name, name);
    if value("SignatureMethod") != Some("HMAC-SHA1") {
        return Err(malformed("SignatureMethod"));
    }
    if value("SignatureVersion") != Some("1.0") {
        return Err(malformed("SignatureVersion"));
    }
    let key_id = value("AccessKeyId").unwrap_or_default();
    let key = find_key(state, key_id)?;
    let sts = rpc::string_to_sign(req.method, &req.params);
    let expected = rpc::sign_string(&sts, key.secret.expose());
    let given = value("Signature").unwrap_or_default();
    if !super::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(RpcError::new(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{sts}"
            ),
        ));
    }
    let now = state.now().timestamp();
    let at = check_time(now, value(timestamp_name).unwrap_or_default())?;
    check_nonce(
        state,
        key_id,
        value("SignatureNonce").unwrap_or_default(),
        at,
        now,
    )?;
    Ok(Authenticated { key })
}

/// Signature V3: the Authorization header and every header it signs, the
/// key, the body's hash, the HMAC-SHA256 over the canonical request (built
/// from the client's own SignedHeaders), the date, the nonce.
fn check_v3<'s>(state: &'s EmulatorState, req: &Received) -> Result<Authenticated<'s>, RpcError> {
    let incomplete = |why: String| {
        RpcError::new(
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards: {why}."),
        )
    };
    if req.headers.get_all(AUTHORIZATION).iter().count() > 1 {
        return Err(incomplete(
            "the Authorization header is given more than once".into(),
        ));
    }
    let header = req.header(AUTHORIZATION.as_str()).unwrap_or_default();
    let auth = rpc::parse_v3_authorization(header).map_err(incomplete)?;
    let mut signed = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let mut values = req.headers.get_all(name.as_str()).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(incomplete(format!(
                "the signed header `{name}` is missing or given more than once"
            )));
        };
        let value = value
            .to_str()
            .map_err(|_| incomplete(format!("the signed header `{name}` is not text")))?;
        signed.push((name.clone(), value.to_string()));
    }
    for name in [
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
    ] {
        if !auth.signed_headers.iter().any(|h| h == name) {
            return Err(incomplete(format!("the header `{name}` is not signed")));
        }
    }
    let signed_value = |name: &str| {
        signed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let key = find_key(state, &auth.access_key_id)?;
    let actual_hash = rpc::sha256_hex(req.body);
    // Without the header the server hashes the body itself.
    let payload_hash = req
        .header("x-acs-content-sha256")
        .unwrap_or(&actual_hash)
        .to_string();
    if !payload_hash.eq_ignore_ascii_case(&actual_hash) {
        return Err(RpcError::new(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature does not match our calculation: the x-acs-content-sha256 header is {payload_hash}, the SHA-256 of the body is {actual_hash}."
            ),
        ));
    }
    let canonical = rpc::v3_canonical_request(
        req.method,
        &req.params[..req.query_len],
        &signed,
        &payload_hash,
    );
    let sts = rpc::v3_string_to_sign(&canonical);
    let expected = rpc::sign_v3(&sts, key.secret.expose());
    if !super::constant_time_eq(
        expected.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(RpcError::new(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature does not match our calculation. server StringToSign is [{}]",
                sts.replace('\n', " ")
            ),
        ));
    }
    let now = state.now().timestamp();
    let at = check_time(now, signed_value("x-acs-date"))?;
    check_nonce(
        state,
        &auth.access_key_id,
        signed_value("x-acs-signature-nonce"),
        at,
        now,
    )?;
    Ok(Authenticated { key })
}

fn find_key<'s>(state: &'s EmulatorState, key_id: &str) -> Result<&'s AccessKey, RpcError> {
    state.access_key(key_id).ok_or_else(|| {
        RpcError::new(
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    })
}

/// The timestamp parses and lies within the window of `now` (seconds);
/// returns it (seconds).
fn check_time(now: i64, timestamp: &str) -> Result<i64, RpcError> {
    let at = DateTime::parse_from_rfc3339(timestamp).map_err(|_| {
        RpcError::new(
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    })?;
    let at = at.timestamp();
    if (now - at).abs() > WINDOW_SECS {
        return Err(RpcError::new(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(at)
}

/// The nonce is recorded only now that the request is authentic and
/// fresh, so a forged request cannot burn someone's nonce; it is forgotten
/// once a replay would fail the clock window anyway.
fn check_nonce(
    state: &EmulatorState,
    key_id: &str,
    nonce: &str,
    at: i64,
    now: i64,
) -> Result<(), RpcError> {
    if !state.record_nonce_at(key_id, nonce, now, at.max(now) + WINDOW_SECS) {
        return Err(RpcError::new(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

/// The envelope, with the status the spec documents for the code: the
/// operation's catalog when the operation is known, else the dialect's.
fn render_error(
    state: &EmulatorState,
    product: &dyn Product,
    spec: Option<&OperationSpec>,
    error: &RpcError,
    format: Format,
    request_id: &str,
) -> Response {
    let status = state.documented_status(product.dialect(), spec, &error.code);
    let body = Node::obj([
        ("RequestId", request_id.into()),
        ("HostId", Node::Static(product.host_id())),
        ("Code", error.code.as_str().into()),
        ("Message", error.message.as_str().into()),
        (
            "Recommend",
            format!(
                "https://api.aliyun.com/troubleshoot?q={}&product={}&requestId={request_id}",
                error.code,
                product.name()
            )
            .into(),
        ),
    ]);
    respond(status, format, "Error", &body)
}

/// An Alibaba reply, a success body or the error envelope, in the
/// requested format with its status: every Alibaba answer (and every
/// refusal, from an oversized body to an unknown version) goes out here.
fn respond(status: StatusCode, format: Format, root: &str, body: &Node) -> Response {
    let (text, content_type) = match format {
        Format::Json => (body.to_json(), "application/json;charset=utf-8"),
        Format::Xml => (body.to_xml(root), "text/xml;charset=utf-8"),
    };
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The body of an Alibaba DescribeNetworkInterfaces: page `page_number`
/// (from 1) of `page_size` of `found`, each rendered by `render`, with the
/// total and the paging echoed back. ECS and ENS share the shape.
pub fn describe_page<T>(
    call: &OpCall<'_>,
    found: &[T],
    page_number: i64,
    page_size: i64,
    render: impl Fn(&T) -> Node,
) -> Node {
    let size = usize::try_from(page_size).unwrap_or(0);
    let skip = usize::try_from(page_number - 1)
        .unwrap_or(0)
        .saturating_mul(size);
    let page: Vec<Node> = found.iter().skip(skip).take(size).map(render).collect();
    Node::obj([
        ("RequestId", call.request_id.into()),
        ("TotalCount", found.len().into()),
        ("PageNumber", page_number.into()),
        ("PageSize", page_size.into()),
        (
            "NetworkInterfaceSets",
            Node::obj([("NetworkInterfaceSet", Node::List(page))]),
        ),
    ])
}
