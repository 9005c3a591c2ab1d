//! What the hardening tests share: the default world, a signed request of
//! any dialect, a request sent through the emulator's router in-process,
//! and the judge of a reply's envelope (is a refusal in the vendor's own
//! shape, with the status the spec documents for its code?).
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use ipconform::dialect::{Call, CallContext, DialectId, Method, WireRequest};
use ipconform::emulator::world::{World, WorldFile};
use ipconform::emulator::{app, EmulatorState};
use ipconform::spec::SpecSet;
use serde_json::Value;
use tower::ServiceExt;

pub fn default_world() -> WorldFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/worlds/default.yaml");
    WorldFile::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub fn state_of(world: &WorldFile) -> Arc<EmulatorState> {
    Arc::new(EmulatorState::new(
        World::build(world).unwrap_or_else(|e| panic!("{e}")),
    ))
}

/// Every access key secret of the world: none may ever appear in a reply.
pub fn secrets(world: &WorldFile) -> Vec<String> {
    world
        .accounts
        .iter()
        .flat_map(|a| a.access_keys.iter())
        .map(|k| k.secret.expose().to_string())
        .collect()
}

/// The Host every in-process request carries (Tencent signs it).
pub const HOST: &str = "127.0.0.1:8080";

/// `params` for `operation`, signed by the dialect's own client with the
/// world's credentials `creds`, at the emulator's clock.
#[allow(clippy::too_many_arguments)]
pub fn signed(
    state: &EmulatorState,
    world: &WorldFile,
    dialect: DialectId,
    operation: &str,
    params: &[(&str, String)],
    creds: &str,
    signing: Option<&str>,
    method: Method,
) -> WireRequest {
    let creds = world.fixtures_of(dialect).credentials[creds].clone();
    signed_with(
        state, HOST, &creds, dialect, operation, params, signing, method,
    )
}

/// As [`signed`], with credentials and the Host given.
#[allow(clippy::too_many_arguments)]
pub fn signed_with(
    state: &EmulatorState,
    host: &str,
    creds: &ipconform::fixtures::Credentials,
    dialect: DialectId,
    operation: &str,
    params: &[(&str, String)],
    signing: Option<&str>,
    method: Method,
) -> WireRequest {
    let client = dialect.client();
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let nonce = uuid::Uuid::new_v4().to_string();
    client.encode(&Call {
        operation,
        params: &params,
        headers: &[],
        credentials: creds,
        context: CallContext {
            host,
            now: state.now(),
            nonce: &nonce,
            signing: signing.unwrap_or(client.signing_variants()[0]),
            method,
        },
    })
}

/// A raw request: method, path and query, headers (bytes allowed in a
/// header value), body.
#[derive(Debug, Clone)]
pub struct Raw {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn from_wire(wire: &WireRequest) -> Raw {
        let mut headers: Vec<(String, Vec<u8>)> = vec![("host".into(), HOST.as_bytes().to_vec())];
        headers.extend(
            wire.headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
        );
        Raw {
            method: wire.method.as_str().to_string(),
            target: wire.path_and_query.clone(),
            headers,
            body: wire.body.clone().unwrap_or_default(),
        }
    }

    /// The request as `http` builds it; `None` when no HTTP client could
    /// send it (a method or URI that is not HTTP, a header value with a
    /// control character): the HTTP layer refuses those before any handler.
    pub fn build(&self) -> Option<Request<Body>> {
        let mut b = Request::builder()
            .method(self.method.as_bytes())
            .uri(self.target.as_str());
        for (k, v) in &self.headers {
            let name = axum::http::HeaderName::from_bytes(k.as_bytes()).ok()?;
            let value = axum::http::HeaderValue::from_bytes(v).ok()?;
            b = b.header(name, value);
        }
        b.body(Body::from(self.body.clone())).ok()
    }
}

/// A reply as received.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends `request` through the emulator's router, no socket involved.
pub async fn send(state: &Arc<EmulatorState>, request: Request<Body>) -> Reply {
    send_to(app(Arc::clone(state)), request).await
}

/// Sends `request` through `router` (built once by [`app`]).
pub async fn send_to(router: axum::Router, request: Request<Body>) -> Reply {
    let response = router
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Which API a path addresses.
pub fn dialect_family(path: &str) -> Option<&'static str> {
    if path == "/" {
        Some("alibaba")
    } else if path == "/v2/index.php" {
        Some("tencent")
    } else if path.starts_with("/vserver/v2/") && path.len() > "/vserver/v2/".len() {
        Some("naver")
    } else {
        None
    }
}

/// Whether some catalog of `dialects` documents `code` with `status`
/// (or, for Tencent, with the numeric code `number`).
fn documented(
    specs: &SpecSet,
    dialects: &[DialectId],
    code: &str,
    status: Option<u16>,
    number: Option<i64>,
) -> bool {
    let fits = |e: Option<&ipconform::spec::ErrorEntry>| {
        e.is_some_and(|e| {
            status.is_none_or(|s| e.status == s) && number.is_none_or(|n| e.numeric_code == Some(n))
        })
    };
    dialects.iter().any(|d| {
        fits(specs.dialect(*d).and_then(|c| c.errors.get(code)))
            || specs
                .all()
                .filter(|op| op.dialect == *d)
                .any(|op| fits(op.errors.get(code)))
    })
}

/// The envelope of `reply` to a request at `path`, judged: `Ok(code)` of
/// a refusal (empty for a success), or what is wrong with it.
pub fn judge(path: &str, reply: &Reply, secrets: &[String]) -> Result<String, String> {
    for s in secrets {
        if reply.body.contains(s.as_str()) {
            return Err(format!("the reply carries a secret: {}", reply.body));
        }
    }
    let specs = SpecSet::embedded();
    let json = || -> Result<Value, String> {
        serde_json::from_str(&reply.body).map_err(|e| format!("not JSON ({e}): {}", reply.body))
    };
    let xml = || -> Result<(String, Value), String> {
        ipconform::dialect::xml::xml_to_json(&reply.body)
            .map_err(|e| format!("not XML ({e}): {}", reply.body))
    };
    match dialect_family(path) {
        Some("alibaba") => {
            let (root, body) = if reply.content_type.starts_with("text/xml") {
                xml()?
            } else if reply.content_type.starts_with("application/json") {
                let v = json()?;
                let root = if v.get("Code").is_some() {
                    "Error"
                } else {
                    "Response"
                };
                (root.to_string(), v)
            } else {
                return Err(format!("content type {:?}", reply.content_type));
            };
            if reply.status == 200 {
                return match root.as_str() {
                    "Error" => Err(format!("an error with 200: {}", reply.body)),
                    _ => Ok(String::new()),
                };
            }
            if root != "Error" {
                return Err(format!(
                    "a refusal outside the Error envelope: {}",
                    reply.body
                ));
            }
            for key in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
                if body
                    .get(key)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                    && key != "Message"
                {
                    return Err(format!("the envelope lacks {key}: {}", reply.body));
                }
            }
            let code = body["Code"].as_str().unwrap_or_default().to_string();
            let dialects: &[DialectId] = match body["HostId"].as_str() {
                Some("ecs.aliyuncs.com") => &[DialectId::AlibabaEcs],
                Some("ens.aliyuncs.com") => &[DialectId::AlibabaEns],
                other => return Err(format!("HostId {other:?}")),
            };
            if !documented(specs, dialects, &code, Some(reply.status), None) {
                return Err(format!(
                    "{code} with HTTP {} is not what the spec documents: {}",
                    reply.status, reply.body
                ));
            }
            Ok(code)
        }
        Some("tencent") => {
            if reply.status != 200 || reply.content_type != "application/json" {
                return Err(format!(
                    "{} {:?}: {}",
                    reply.status, reply.content_type, reply.body
                ));
            }
            let v = json()?;
            let number = v["code"]
                .as_i64()
                .ok_or_else(|| format!("no numeric code: {}", reply.body))?;
            if number == 0 {
                return Ok(String::new());
            }
            let code = v["codeDesc"].as_str().unwrap_or_default().to_string();
            if v["message"].as_str().is_none() {
                return Err(format!("no message: {}", reply.body));
            }
            if !documented(specs, &[DialectId::TencentVpcV2], &code, None, Some(number)) {
                return Err(format!(
                    "{code} as {number} is not documented: {}",
                    reply.body
                ));
            }
            Ok(code)
        }
        Some("naver") => {
            let (root, body) = if reply.content_type.starts_with("application/xml") {
                let (root, v) = xml()?;
                (root, v)
            } else if reply.content_type.starts_with("application/json") {
                let v = json()?;
                let obj = v.as_object().ok_or("not an object")?;
                let (k, inner) = obj
                    .iter()
                    .next()
                    .filter(|_| obj.len() == 1)
                    .ok_or_else(|| format!("not one wrapped object: {}", reply.body))?;
                (k.clone(), inner.clone())
            } else {
                return Err(format!("content type {:?}", reply.content_type));
            };
            let (code, gateway) = match root.as_str() {
                "error" => (body["errorCode"].as_str(), true),
                "responseError" => (body["returnCode"].as_str(), false),
                r if r.ends_with("Response") && reply.status == 200 => {
                    return match body["returnCode"].as_str() {
                        Some("0") => Ok(String::new()),
                        _ => Err(format!("a success without returnCode 0: {}", reply.body)),
                    }
                }
                _ => return Err(format!("root {root} with {}: {}", reply.status, reply.body)),
            };
            let code = code
                .ok_or_else(|| format!("no code: {}", reply.body))?
                .to_string();
            if gateway && !reply.content_type.starts_with("application/json") {
                return Err(format!("a gateway error not in JSON: {}", reply.body));
            }
            if !documented(
                specs,
                &[DialectId::NaverVpc],
                &code,
                Some(reply.status),
                None,
            ) {
                return Err(format!(
                    "{code} with HTTP {} is not documented: {}",
                    reply.status, reply.body
                ));
            }
            Ok(code)
        }
        _ => {
            if reply.status == 404 && reply.content_type.starts_with("text/plain") {
                Ok("no-dialect".into())
            } else {
                Err(format!(
                    "a path no dialect serves: {} {}",
                    reply.status, reply.body
                ))
            }
        }
    }
}

/// The default world file's text.
pub fn default_world_text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/worlds/default.yaml");
    std::fs::read_to_string(path).unwrap()
}
