//! What the emulator's HTTP tests of every dialect share: the default world,
//! a request signed by the dialect's own client, and a raw request that
//! hides nothing of the reply, so each dialect's tests see the status,
//! content type and bytes its SDKs would see.

use crate::dialect::{Call, CallContext, DialectId, Method, WireRequest};
use crate::emulator::world::WorldFile;
use crate::emulator::{start, RunningEmulator};

/// The built-in world, read from its file so a test sees the fixtures the
/// cases see.
pub fn default_world() -> WorldFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/worlds/default.yaml");
    WorldFile::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// An emulator of the default world on a free loopback port.
pub async fn start_default() -> (RunningEmulator, WorldFile) {
    let world = default_world();
    let emu = start(&world, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emu, world)
}

/// How a test signs its calls: with the credential set `creds` of the
/// world's fixtures of `dialect`, the signing variant `signing`, as `method`.
pub struct Signer<'a> {
    pub dialect: DialectId,
    pub creds: &'a str,
    pub signing: &'a str,
    pub method: Method,
}

/// `operation` with `params` as the dialect's client puts it on the wire
/// for `emu`: signed at the emulator's clock, with a fresh nonce.
pub fn signed_wire(
    emu: &RunningEmulator,
    world: &WorldFile,
    signer: &Signer<'_>,
    operation: &str,
    params: &[(&str, &str)],
) -> WireRequest {
    let credentials = world.fixtures_of(signer.dialect).credentials[signer.creds].clone();
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let host = emu.addr().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    signer.dialect.client().encode(&Call {
        operation,
        params: &params,
        headers: &[],
        credentials: &credentials,
        context: CallContext {
            host: &host,
            now: emu.state().now(),
            nonce: &nonce,
            signing: signer.signing,
            method: signer.method,
        },
    })
}

/// A reply as received: status, content type and body text.
pub struct RawReply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

/// Sends exactly `method target` with `headers` and `body`, nothing added.
pub async fn send_raw(
    emu: &RunningEmulator,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Option<Vec<u8>>,
) -> RawReply {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, format!("{}{target}", emu.base_url()));
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap();
    RawReply {
        status,
        content_type,
        text,
    }
}
