//! The emulator: an HTTP server that speaks the vendors' dialects over one
//! vendor-neutral [`world::World`].
//!
//! The test harness starts one per case ([`start`] on `127.0.0.1:0`), so
//! starting is cheap: build the world from its file, bind, spawn. All state
//! sits behind one `std::sync::Mutex` in [`EmulatorState`], held only for
//! the synchronous world operation and never across an `.await`; requests
//! are small, so one lock is both simplest and what makes every operation
//! atomic. Alibaba RPC is addressed by the `Version` parameter on `/`, so
//! ECS and (later) ENS share the route and are told apart there.

pub mod alibaba_ecs;
pub mod world;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::dialect::alibaba_rpc;
use crate::fixtures::Fixtures;
use world::{World, WorldBuildError, WorldFile};

/// Largest request body read; Alibaba RPC bodies are a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

/// Everything a request handler needs, shared by all connections.
pub struct EmulatorState {
    world: Mutex<World>,
    nonces: Mutex<NonceStore>,
    fixed_now: Mutex<Option<DateTime<Utc>>>,
}

impl EmulatorState {
    pub fn new(world: World) -> EmulatorState {
        EmulatorState {
            world: Mutex::new(world),
            nonces: Mutex::new(NonceStore::default()),
            fixed_now: Mutex::new(None),
        }
    }

    /// Pins the clock (tests of the timestamp window).
    pub fn with_fixed_now(self, now: DateTime<Utc>) -> EmulatorState {
        self.set_now(Some(now));
        self
    }

    /// Pins (`Some`) or releases (`None`) the clock.
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        *lock(&self.fixed_now) = now;
    }

    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.fixed_now).unwrap_or_else(Utc::now)
    }

    /// The world, locked. Keep the guard short and never across `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Records a nonce for an access key; false when it was seen and has
    /// not yet expired. `expires` is when a replay would be outside the
    /// clock window anyway, so forgetting it then is safe.
    pub fn record_nonce(&self, access_key: &str, nonce: &str, expires: i64) -> bool {
        let now = self.now().timestamp();
        lock(&self.nonces).record(access_key, nonce, now, expires)
    }
}

/// A poisoned lock only means another request panicked mid-operation; the
/// world operations validate before they mutate, so the state is still sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Nonces seen per access key, each until it expires. Memory is bounded by
/// time (expired nonces are pruned on every insert) and by a hard cap per key
/// (the soonest to expire goes first); nonces are kept as SHA-256 digests so
/// a client sending huge nonces cannot inflate it.
#[derive(Default)]
struct NonceStore {
    per_key: HashMap<String, KeyNonces>,
}

#[derive(Default)]
struct KeyNonces {
    expiry_of: HashMap<[u8; 32], i64>,
    by_expiry: BinaryHeap<Reverse<(i64, [u8; 32])>>,
}

const NONCE_CAP_PER_KEY: usize = 200_000;

impl NonceStore {
    fn record(&mut self, key: &str, nonce: &str, now: i64, expires: i64) -> bool {
        let entry = match self.per_key.get_mut(key) {
            Some(e) => e,
            None => self.per_key.entry(key.to_string()).or_default(),
        };
        while let Some(Reverse((at, digest))) = entry.by_expiry.peek().cloned() {
            if at > now && entry.expiry_of.len() < NONCE_CAP_PER_KEY {
                break;
            }
            entry.by_expiry.pop();
            if entry.expiry_of.get(&digest) == Some(&at) {
                entry.expiry_of.remove(&digest);
            }
        }
        let digest: [u8; 32] = Sha256::digest(nonce.as_bytes()).into();
        if entry.expiry_of.contains_key(&digest) {
            return false;
        }
        entry.expiry_of.insert(digest, expires);
        entry.by_expiry.push(Reverse((expires, digest)));
        true
    }
}

/// One Alibaba RPC request as received: method and every parameter of the
/// query and the form body, decoded, in arrival order.
#[derive(Debug, Clone)]
pub struct RpcRequest {
    pub method: String,
    pub params: Vec<(String, String)>,
}

impl RpcRequest {
    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The emulator's routes: `/healthz` and Alibaba RPC on `/`.
pub fn app(state: Arc<EmulatorState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/", get(alibaba_rpc_route).post(alibaba_rpc_route))
        .with_state(state)
}

async fn alibaba_rpc_route(State(state): State<Arc<EmulatorState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut params = alibaba_rpc::parse_query(parts.uri.query().unwrap_or(""));
    // SDKs POST a form; a body of any other type carries no parameters.
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let req = RpcRequest {
                method: parts.method.to_string(),
                params,
            };
            return alibaba_ecs::body_too_large(&req);
        }
    };
    if is_form && !bytes.is_empty() {
        params.extend(alibaba_rpc::parse_form(&bytes));
    }
    let req = RpcRequest {
        method: parts.method.to_string(),
        params,
    };
    match req.param("Version") {
        Some(alibaba_ecs::VERSION) => alibaba_ecs::handle(&state, &req),
        // Alibaba ENS (Version 2017-11-10) is dispatched here once written.
        _ => alibaba_ecs::invalid_version(&req),
    }
}

/// Why the emulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("failed to build the emulator's world")]
    World(#[from] WorldBuildError),
    #[error(
        "failed to listen on {addr}: {source}; is the port taken? use port 0 for any free port"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running emulator; [`RunningEmulator::shutdown`] stops it, and so does
/// dropping it (without waiting).
pub struct RunningEmulator {
    addr: SocketAddr,
    fixtures: Fixtures,
    state: Arc<EmulatorState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fixtures(&self) -> &Fixtures {
        &self.fixtures
    }

    /// The shared state (inspect or adjust the world, pin the clock).
    pub fn state(&self) -> &Arc<EmulatorState> {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish (at most 5 s), returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Builds the world of `world` and serves it on `listen` (port 0: any free port).
pub async fn start(
    world: &WorldFile,
    listen: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    let state = Arc::new(EmulatorState::new(World::build(world)?));
    start_with_state(state, world.fixtures.clone(), listen).await
}

/// Serves an already built state (benchmarks pre-fill the world, tests pin the clock).
pub async fn start_with_state(
    state: Arc<EmulatorState>,
    fixtures: Fixtures,
    listen: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let router = app(Arc::clone(&state));
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningEmulator {
        addr,
        fixtures,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_store_forgets_only_after_expiry_and_stays_bounded() {
        let mut store = NonceStore::default();
        assert!(store.record("k", "n1", 0, 900));
        assert!(
            !store.record("k", "n1", 100, 1000),
            "replay inside the window"
        );
        assert!(
            store.record("other-key", "n1", 100, 1000),
            "nonces are per key"
        );
        assert!(
            store.record("k", "n1", 901, 1800),
            "expired nonce may be reused"
        );
        for i in 0..(NONCE_CAP_PER_KEY + 10) {
            store.record("flood", &i.to_string(), 0, 10_000);
        }
        assert!(store.per_key["flood"].expiry_of.len() <= NONCE_CAP_PER_KEY + 1);
    }
}
