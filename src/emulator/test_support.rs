//! What the emulator's HTTP tests of every dialect share: the default world
//! and a raw request that hides nothing of the reply, so each dialect's
//! tests see the status, content type and bytes its SDKs would see.

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
