//! The emulator: one HTTP server, one port, every dialect, over one
//! vendor-neutral [`world::World`].
//!
//! Each vendor module gives its routes and renders its own error envelope
//! (Alibaba RPC on `/`, told apart by API version; Tencent at
//! `/v2/index.php`; NAVER at `/vserver/v2/<action>`); [`app`] merges them,
//! as LocalStack's single edge port does. What they share lives here: the
//! size limits, the form test, reading a repeat list, the constant-time
//! signature compare, and the spec lookups that word a violation and give
//! an error its documented status. Requests are validated against the
//! specs built into the binary, the same files lint and the runner read,
//! so a bound cannot differ between a spec and the emulator.
//!
//! The test harness starts one per case ([`start`] on `127.0.0.1:0`), so
//! starting is cheap: build the world from its file, bind, spawn. All state
//! sits behind `std::sync::Mutex`es in [`EmulatorState`], each held only for
//! a synchronous step and never across an `.await`; one lock around the
//! world is what makes every operation atomic.

pub mod alibaba;
pub mod faults;
pub mod naver;
pub mod nonce;
pub mod reply;
pub mod tencent;
#[cfg(test)]
mod test_support;
pub mod world;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::dialect::DialectId;
use crate::dialect::Pair;
use crate::spec::{ErrorEntry, OperationSpec, SpecSet, ViolationKind};
use nonce::NonceStore;
use world::{AccessKey, World, WorldBuildError, WorldFile};

/// Largest request body read; RPC bodies are a few hundred bytes.
pub const MAX_BODY: usize = 1 << 20;
/// Largest query string read: far above any real request (100 list
/// elements of 40 characters), far below what would cost memory, and below
/// the 64 KiB an HTTP client library will put in a request line.
pub const MAX_QUERY: usize = 32 << 10;

/// The emulator's clock: real time, or a pinned instant, plus an offset
/// that tests and the runner's waits advance instead of sleeping.
#[derive(Debug, Default, Clone, Copy)]
struct Clock {
    pinned: Option<DateTime<Utc>>,
    offset: TimeDelta,
}

impl Clock {
    fn is_real_time(&self) -> bool {
        self.pinned.is_none() && self.offset.is_zero()
    }
}

/// Everything a request handler needs, shared by all connections.
pub struct EmulatorState {
    world: Mutex<World>,
    /// The world's access keys, which never change: read without its lock.
    keys: Arc<HashMap<String, AccessKey>>,
    nonces: Mutex<NonceStore>,
    clock: Mutex<Clock>,
    /// `clock` is real time with no offset; set with it, under its lock.
    real_time: AtomicBool,
    /// Faults injected by the world file or the control (see [`faults`]).
    faults: Mutex<faults::FaultTable>,
    /// Whether `faults` holds any: requests check this before the lock.
    faults_installed: AtomicBool,
    specs: &'static SpecSet,
    /// When this state was built: the creation time of every ENI of its
    /// world, which gives none.
    started: DateTime<Utc>,
}

impl EmulatorState {
    /// A state over `world`, validating with the built-in specs.
    pub fn new(world: World) -> EmulatorState {
        EmulatorState::with_specs(world, SpecSet::embedded())
    }

    pub fn with_specs(world: World, specs: &'static SpecSet) -> EmulatorState {
        EmulatorState {
            keys: world.access_keys(),
            world: Mutex::new(world),
            nonces: Mutex::new(NonceStore::default()),
            clock: Mutex::new(Clock::default()),
            real_time: AtomicBool::new(true),
            faults: Mutex::new(faults::FaultTable::default()),
            faults_installed: AtomicBool::new(false),
            specs,
            started: Utc::now(),
        }
    }

    /// Pins the clock (tests of the timestamp window).
    pub fn with_fixed_now(self, now: DateTime<Utc>) -> EmulatorState {
        self.set_now(Some(now));
        self
    }

    /// Pins (`Some`) or releases (`None`) the clock.
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        let mut clock = lock(&self.clock);
        clock.pinned = now;
        self.real_time
            .store(clock.is_real_time(), Ordering::Release);
    }

    /// Moves the clock forward by `by`, whether pinned or real.
    pub fn advance(&self, by: TimeDelta) {
        let mut clock = lock(&self.clock);
        clock.offset += by;
        self.real_time
            .store(clock.is_real_time(), Ordering::Release);
    }

    pub fn now(&self) -> DateTime<Utc> {
        // Unless a test pinned or moved it, the clock is the system's:
        // read it without the lock every request would otherwise share.
        if self.real_time.load(Ordering::Acquire) {
            return Utc::now();
        }
        let clock = *lock(&self.clock);
        clock.pinned.unwrap_or_else(Utc::now) + clock.offset
    }

    /// The world, locked and moved to the emulator's clock (tasks due by
    /// now have ended). Keep the guard short and never across `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let now = self.now();
        let mut world = lock(&self.world);
        world.settle(now);
        world
    }

    /// The access key `id`, for verifying a signature: no lock taken.
    pub fn access_key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.get(id)
    }

    /// When the world began (the creation time of its ENIs).
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// The specs requests are validated with.
    pub fn specs(&self) -> &'static SpecSet {
        self.specs
    }

    /// The catalog row documenting the error `code`: the operation's
    /// catalog once the operation is known, else the dialect's. The
    /// vendors' error replies take their status (or numeric code) from it,
    /// so the specs and the emulator agree.
    pub fn documented<'s>(
        &self,
        dialect: DialectId,
        spec: Option<&'s OperationSpec>,
        code: &str,
    ) -> Option<&'s ErrorEntry> {
        match spec {
            Some(spec) => spec.errors.get(code),
            None => self.specs.dialect(dialect).and_then(|d| d.errors.get(code)),
        }
    }

    /// The HTTP status [`EmulatorState::documented`] gives `code`; 400 for
    /// a code none documents, which a contract check then reports.
    pub fn documented_status(
        &self,
        dialect: DialectId,
        spec: Option<&OperationSpec>,
        code: &str,
    ) -> StatusCode {
        self.documented(dialect, spec, code)
            .and_then(|e| StatusCode::from_u16(e.status).ok())
            .unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// A violation found outside the spec's own validation (a signature
    /// protocol's parameters, an oversized request) in the dialect's words,
    /// code and message, rendered as the spec's validation renders its own;
    /// `None` when the specs give the dialect no common part.
    pub fn violation(
        &self,
        dialect: DialectId,
        kind: ViolationKind,
        parameter: &str,
        wire_name: &str,
    ) -> Option<(String, String)> {
        let common = self.specs.dialect(dialect)?;
        Some(common.validation.render_names(kind, parameter, wire_name))
    }

    /// Records a nonce for an access key at `now` (Unix seconds, the clock
    /// as the verifier read it); false when it was seen and has not yet
    /// expired. `expires` is when a replay would be outside the clock window
    /// anyway, so forgetting it then is safe.
    pub fn record_nonce_at(&self, access_key: &str, nonce: &str, now: i64, expires: i64) -> bool {
        let digest = nonce::digest(nonce);
        lock(&self.nonces).record_digest(access_key, digest, now, expires)
    }

    /// Nonces currently remembered, over every key.
    pub fn nonce_count(&self) -> usize {
        lock(&self.nonces).len()
    }

    /// Bytes the nonce store's tables hold, over every key.
    pub fn nonce_bytes(&self) -> usize {
        lock(&self.nonces).approx_bytes()
    }
}

/// A request's body, at most [`MAX_BODY`] bytes (`Err` when longer). A body
/// known to be empty (a GET) is not collected at all.
pub(crate) async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, axum::Error> {
    use axum::body::HttpBody as _;
    if body.is_end_stream() {
        return Ok(axum::body::Bytes::new());
    }
    axum::body::to_bytes(body, MAX_BODY).await
}

/// Whether a request's body is a form whose parameters count: SDKs POST
/// one, and a body without a Content-Type is read as one; a body of any
/// other type carries no parameters.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The value of parameter `name` once the spec has validated the request;
/// an empty value reads as absent, since the SDKs send optional
/// parameters empty.
pub(crate) fn value_of<'a>(params: &'a [Pair<'a>], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_ref())
}

/// The values of a repeat list, ordered by index: `index_of` gives the
/// index of a parameter that belongs to the list (from its name), each
/// dialect spelling list members its own way.
pub(crate) fn list_by_index<'a>(
    params: impl Iterator<Item = &'a Pair<'a>>,
    index_of: impl Fn(&str) -> Option<&str>,
) -> Vec<&'a str> {
    let mut items: Vec<(u32, &str)> = params
        .filter_map(|(k, v)| Some((index_of(k)?.parse().ok()?, v.as_ref())))
        .collect();
    items.sort_unstable_by_key(|(n, _)| *n);
    items.into_iter().map(|(_, v)| v).collect()
}

/// A fresh request id: a random (version 4) UUID from the thread's
/// generator, not a system call per request.
pub fn request_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// Whether a signature sent equals the one computed, in a time that does
/// not tell how much of it was right. Every dialect's verifier uses it.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A poisoned lock only means another request panicked mid-operation; the
/// world operations validate before they mutate, so the state is still sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The emulator-only control of its clock: `POST ?advance_ms=N` moves it
/// forward; `GET` tells it. The runner's polling steps use it instead of
/// sleeping, so asynchronous behaviour is tested in virtual time.
pub const CLOCK_PATH: &str = "/_emulator/clock";

#[derive(serde::Deserialize)]
struct Advance {
    advance_ms: u64,
}

async fn clock_now(State(state): State<Arc<EmulatorState>>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"now": state.now().to_rfc3339()}).to_string(),
    )
        .into_response()
}

async fn clock_advance(
    State(state): State<Arc<EmulatorState>>,
    query: Result<Query<Advance>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let by = query
        .ok()
        .and_then(|Query(a)| TimeDelta::try_milliseconds(i64::try_from(a.advance_ms).ok()?));
    match by {
        Some(by) => {
            state.advance(by);
            clock_now(State(state)).await
        }
        None => (
            StatusCode::BAD_REQUEST,
            "give ?advance_ms=N, a whole number of milliseconds\n",
        )
            .into_response(),
    }
}

/// The emulator's routes: `/healthz`, the clock control, and every vendor
/// module's.
pub fn app(state: Arc<EmulatorState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(CLOCK_PATH, get(clock_now).post(clock_advance))
        .route(
            faults::FAULTS_PATH,
            get(faults::list).post(faults::add).delete(faults::clear),
        )
        .merge(alibaba::routes())
        .merge(tencent::routes())
        .merge(naver::routes())
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "no dialect is served at this path: Alibaba RPC is at /, Tencent v2 at /v2/index.php, NAVER at /vserver/v2/<action>\n",
            )
                .into_response()
        })
        .with_state(state)
}

/// Why the emulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("failed to build the emulator's world")]
    World(#[from] WorldBuildError),
    #[error("the world file's `faults:` cannot be installed: {0}")]
    Faults(String),
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

/// Builds the world of `world` and serves it on `listen` (port 0: any free
/// port), validating requests with the built-in specs.
pub async fn start(
    world: &WorldFile,
    listen: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    start_with_specs(world, SpecSet::embedded(), listen).await
}

/// Like [`start`], validating with `specs` (a run over edited specs).
pub async fn start_with_specs(
    world: &WorldFile,
    specs: &'static SpecSet,
    listen: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    let state = Arc::new(EmulatorState::with_specs(World::build(world)?, specs));
    if !world.faults.is_empty() {
        state
            .add_faults(world.faults.clone())
            .map_err(EmulatorError::Faults)?;
    }
    start_with_state(state, listen).await
}

/// Serves an already built state (benchmarks pre-fill the world, tests pin the clock).
pub async fn start_with_state(
    state: Arc<EmulatorState>,
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
        state,
        stop: Some(stop),
        task: Some(task),
    })
}
