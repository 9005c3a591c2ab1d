//! Fault injection: the emulator answers some calls as a struggling cloud
//! would, so that IPAM code (and the harness itself) can be tested for what
//! it does then. Terway retries `Throttling` and `Operation.Conflict`; the
//! AWS VPC CNI backs off on `RequestLimitExceeded`; a client must give up on
//! a reply that never comes.
//!
//! A fault names which calls it hits (a dialect, an operation, an interface
//! named anywhere in the request; each optional), what it does, and how
//! often: the next `times` matching calls, or an evenly spaced `rate` of
//! them (0.25: the 4th, 8th, 12th...), reproducible from run to run. Faults
//! come from the world file (`faults:`) or the emulator-only control
//! `/_emulator/faults` (POST adds, GET lists with counts, DELETE clears).
//!
//! A fault is checked once a request has passed authentication and
//! validation, just before its operation would run, so a refused call
//! changes nothing. The effects:
//!
//! - `throttled`, `busy`, `internal-error`: the vendor's own refusal — the
//!   first row of that kind in the operation's catalog (its own rows, then
//!   the dialect's common ones), or the row `code` names — in the vendor's
//!   envelope with the documented status. A fault whose dialect documents
//!   no such code is refused when it is added.
//! - `drop`: the connection closes without a complete reply; nothing
//!   changed.
//! - `drop-after`: the operation takes effect, then the connection closes
//!   without a complete reply: the lost reply a retry must not repeat.
//! - `delay`: the operation takes effect at once and the reply leaves after
//!   `delay` (real time): a client that gives up first has still changed
//!   the world.
//!
//! Every faulted reply carries the header `x-emulator-fault: <effect>`.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;

use super::EmulatorState;
use crate::dialect::DialectId;
use crate::spec::{ErrorEntry, Kind, OperationSpec, SpecSet};

/// The emulator-only control of faults.
pub const FAULTS_PATH: &str = "/_emulator/faults";

/// The header every faulted reply carries.
pub const FAULT_HEADER: &str = "x-emulator-fault";

/// Longest `delay`: long enough for any client timeout, short enough that a
/// forgotten fault does not hold a connection for hours.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// One fault as written in a world file, a case or the control's JSON.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Only calls of this dialect; every dialect when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<DialectId>,
    /// Only calls of this operation (as the dialect names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Only calls that name this interface in some parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub effect: Effect,
    /// For a refusal: this documented code of the effect's kind rather than
    /// the catalog's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For `delay`: how late the reply leaves (`2s`, `500ms`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_delay",
        serialize_with = "ser_delay"
    )]
    pub delay: Option<Duration>,
    /// Fault at most this many matching calls; every one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Fault this evenly spaced fraction of the matching calls (0 < rate
    /// <= 1); every one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Throttled,
    Busy,
    InternalError,
    Delay,
    Drop,
    DropAfter,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Throttled => "throttled",
            Effect::Busy => "busy",
            Effect::InternalError => "internal-error",
            Effect::Delay => "delay",
            Effect::Drop => "drop",
            Effect::DropAfter => "drop-after",
        }
    }

    /// The catalog kind a refusal renders; `None` for the transport effects.
    pub fn kind(self) -> Option<Kind> {
        match self {
            Effect::Throttled => Some(Kind::Throttled),
            Effect::Busy => Some(Kind::Busy),
            Effect::InternalError => Some(Kind::InternalError),
            Effect::Delay | Effect::Drop | Effect::DropAfter => None,
        }
    }
}

fn de_delay<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({e}); write e.g. `2s` or `500ms`"
        ))
    })
}

fn ser_delay<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(&humantime::format_duration(*d)),
        None => s.serialize_none(),
    }
}

/// The catalog row a refusal of `kind` renders for `spec`: the row `code`
/// names (exactly, of that kind), else the first of that kind that is a
/// code and not a template.
pub fn row<'s>(spec: &'s OperationSpec, kind: Kind, code: Option<&str>) -> Option<&'s ErrorEntry> {
    spec.errors
        .entries()
        .iter()
        .find(|e| e.kind == Some(kind) && !e.is_template() && code.is_none_or(|c| e.code == c))
}

/// The vendor's words for a refusal: the row's message, else its
/// description without the tables' `Message: ` prefix.
pub fn message(entry: &ErrorEntry) -> String {
    entry
        .message
        .as_deref()
        .or(entry.description.as_deref())
        .map(|d| d.strip_prefix("Message: ").unwrap_or(d).to_string())
        .unwrap_or_else(|| entry.code.clone())
}

/// Why `fault` cannot be installed against `specs`, if it cannot: an
/// operation no dialect in its scope has, a refusal no dialect in scope
/// documents, a value out of range.
pub fn check(fault: &FaultSpec, specs: &SpecSet) -> Result<(), String> {
    if fault.times == Some(0) {
        return Err(
            "`times` must be at least 1 (leave it out to fault every matching call)".into(),
        );
    }
    if let Some(rate) = fault.rate {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(format!(
                "`rate` {rate} is not a fraction above 0 and at most 1"
            ));
        }
    }
    match (fault.effect, fault.delay) {
        (Effect::Delay, None) => {
            return Err("a `delay` fault needs `delay: <duration>` (e.g. `2s`)".into())
        }
        (Effect::Delay, Some(d)) if d > MAX_DELAY => {
            return Err(format!(
                "`delay` {} is longer than the longest allowed, {}",
                humantime::format_duration(d),
                humantime::format_duration(MAX_DELAY)
            ))
        }
        (Effect::Delay, Some(_)) => {}
        (other, Some(_)) => {
            return Err(format!(
                "`delay` goes with the `delay` effect only, not `{}`",
                other.as_str()
            ))
        }
        (_, None) => {}
    }
    if fault.code.is_some() && fault.effect.kind().is_none() {
        return Err(format!(
            "`code` goes with a refusal (throttled, busy, internal-error), not `{}`",
            fault.effect.as_str()
        ));
    }
    let dialects: Vec<DialectId> = match fault.dialect {
        Some(d) => vec![d],
        None => DialectId::ALL.to_vec(),
    };
    // Every (dialect, operation) the fault can hit.
    let mut scope: Vec<&OperationSpec> = Vec::new();
    for &dialect in &dialects {
        match &fault.operation {
            Some(op) => scope.extend(specs.get(dialect, op)),
            None => scope.extend(specs.all_of(dialect)),
        }
    }
    if scope.is_empty() {
        let op = fault.operation.as_deref().unwrap_or_default();
        let known: Vec<&str> = dialects.iter().flat_map(|&d| specs.operations(d)).collect();
        let mut why = match fault.dialect {
            Some(d) => format!("{d} has no operation `{op}`"),
            None => format!("no dialect has an operation `{op}`"),
        };
        if let Some(best) = crate::diag::closest(op, known.iter().copied()) {
            why.push_str(&format!(" (did you mean `{best}`?)"));
        }
        return Err(why);
    }
    if let Some(kind) = fault.effect.kind() {
        for spec in &scope {
            if row(spec, kind, fault.code.as_deref()).is_none() {
                let what = match &fault.code {
                    Some(code) => format!("no {} code `{code}`", kind.as_str()),
                    None => format!("no {} code", kind.as_str()),
                };
                return Err(format!(
                    "{} {} documents {what} (specs/{}/): name a `dialect` and `operation` whose catalog has one, or choose another effect",
                    spec.dialect, spec.operation, spec.dialect
                ));
            }
        }
    }
    Ok(())
}

/// An installed fault and how often it has struck.
#[derive(Debug, Clone)]
struct Installed {
    id: u64,
    spec: FaultSpec,
    /// `rate` in millionths: decimal rates stay exact.
    per_million: u64,
    /// Matching calls seen (authenticated, valid, of its scope), after it
    /// is used up too.
    seen: u64,
    /// Calls it faulted.
    fired: u64,
}

impl Installed {
    fn matches<K, V: AsRef<str>>(
        &self,
        dialect: DialectId,
        operation: &str,
        params: &[(K, V)],
    ) -> bool {
        self.spec.dialect.is_none_or(|d| d == dialect)
            && self
                .spec
                .operation
                .as_deref()
                .is_none_or(|o| o == operation)
            && self
                .spec
                .interface
                .as_deref()
                .is_none_or(|i| params.iter().any(|(_, v)| v.as_ref() == i))
    }

    fn exhausted(&self) -> bool {
        self.spec.times.is_some_and(|t| self.fired >= u64::from(t))
    }

    /// Counts a matching call; whether this one is faulted. The n-th call
    /// is when `floor(n * rate)` steps up, which spreads the faulted calls
    /// evenly and is the same on every run.
    fn strike(&mut self) -> bool {
        self.seen += 1;
        let (n, rate) = (u128::from(self.seen), u128::from(self.per_million));
        let due = n * rate / 1_000_000 > (n - 1) * rate / 1_000_000;
        if due {
            self.fired += 1;
        }
        due
    }
}

/// The installed faults, in the order they were added.
#[derive(Debug, Default)]
pub struct FaultTable {
    faults: Vec<Installed>,
    next_id: u64,
}

/// The fault a call is to suffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub effect: Effect,
    pub code: Option<String>,
    pub delay: Option<Duration>,
}

impl FaultTable {
    /// Installs faults that [`check`] passed; their ids.
    pub fn add(&mut self, faults: Vec<FaultSpec>) -> Vec<u64> {
        faults
            .into_iter()
            .map(|spec| {
                self.next_id += 1;
                let per_million = spec.rate.map_or(1_000_000, |r| {
                    ((r * 1e6).round() as u64).clamp(1, 1_000_000)
                });
                self.faults.push(Installed {
                    id: self.next_id,
                    spec,
                    per_million,
                    seen: 0,
                    fired: 0,
                });
                self.next_id
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The fault this call suffers, if any. Faults are checked in order;
    /// a call counts for each matching fault up to the one that strikes.
    pub fn hit<K, V: AsRef<str>>(
        &mut self,
        dialect: DialectId,
        operation: &str,
        params: &[(K, V)],
    ) -> Option<Hit> {
        for fault in &mut self.faults {
            if !fault.matches(dialect, operation, params) {
                continue;
            }
            if fault.exhausted() {
                // Still counted: how often a client called is worth seeing.
                fault.seen += 1;
                continue;
            }
            if fault.strike() {
                return Some(Hit {
                    effect: fault.spec.effect,
                    code: fault.spec.code.clone(),
                    delay: fault.spec.delay,
                });
            }
        }
        None
    }

    /// Every fault with its counts, for the control's GET.
    pub fn listing(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.faults
                .iter()
                .map(|f| {
                    let mut v = serde_json::to_value(&f.spec).unwrap_or_default();
                    if let Some(map) = v.as_object_mut() {
                        map.insert("id".into(), f.id.into());
                        map.insert("seen".into(), f.seen.into());
                        map.insert("fired".into(), f.fired.into());
                        map.insert(
                            "remaining".into(),
                            f.spec
                                .times
                                .map(|t| u64::from(t).saturating_sub(f.fired))
                                .into(),
                        );
                    }
                    v
                })
                .collect(),
        )
    }
}

/// What a vendor handler does with a call once faults are consulted.
pub enum Verdict<'s> {
    /// Run the operation (a `delay` or `drop-after` is noted in the slot).
    Proceed,
    /// Answer this catalog row instead of running the operation.
    Refuse(&'s ErrorEntry),
    /// Run nothing: the connection is to close without a reply.
    Drop,
}

/// What happens to one request's reply after its handler: set while the
/// request is checked, read when its response leaves.
#[derive(Default)]
pub struct Slot(Cell<Option<Hit>>);

impl Slot {
    fn set(&self, hit: Hit) {
        self.0.set(Some(hit));
    }

    /// The fault noted for this request; taken before any `.await`, so
    /// the handler's future stays `Send`.
    pub fn take(&self) -> Option<Hit> {
        self.0.take()
    }
}

impl EmulatorState {
    /// Consults the faults for a call of `spec` that passed authentication
    /// and validation. Vendors call it just before the operation.
    pub fn inject<'s, K, V: AsRef<str>>(
        &self,
        spec: &'s OperationSpec,
        params: &[(K, V)],
        slot: &Slot,
    ) -> Verdict<'s> {
        // Without faults (nearly always) no lock is taken: the flag is set
        // and cleared under the table's lock, with the table.
        if !self.faults_installed.load(Ordering::Acquire) {
            return Verdict::Proceed;
        }
        let hit = {
            let mut table = super::lock(&self.faults);
            if table.is_empty() {
                return Verdict::Proceed;
            }
            table.hit(spec.dialect, &spec.operation, params)
        };
        let Some(hit) = hit else {
            return Verdict::Proceed;
        };
        let verdict = match hit.effect.kind() {
            // Checked when the fault was added; a row missing now (the
            // specs cannot change under a running emulator) lets it pass.
            Some(kind) => match row(spec, kind, hit.code.as_deref()) {
                Some(entry) => Verdict::Refuse(entry),
                None => return Verdict::Proceed,
            },
            None if hit.effect == Effect::Drop => Verdict::Drop,
            None => Verdict::Proceed,
        };
        slot.set(hit);
        verdict
    }

    /// Installs faults after checking each against the specs; nothing is
    /// installed when one is refused.
    pub fn add_faults(&self, faults: Vec<FaultSpec>) -> Result<Vec<u64>, String> {
        for (i, fault) in faults.iter().enumerate() {
            check(fault, self.specs()).map_err(|e| {
                if faults.len() == 1 {
                    e
                } else {
                    format!("fault {}: {e}", i + 1)
                }
            })?;
        }
        let mut table = super::lock(&self.faults);
        let ids = table.add(faults);
        self.faults_installed
            .store(!table.is_empty(), Ordering::Release);
        Ok(ids)
    }
}

/// The response as the fault noted in a request's [`Slot`] leaves it: marked, late, or a
/// connection closed mid-reply.
pub async fn finish(mut response: Response, hit: Option<Hit>) -> Response {
    let Some(hit) = hit else {
        return response;
    };
    let mark = HeaderValue::from_static(hit.effect.as_str());
    match hit.effect {
        Effect::Delay => {
            tokio::time::sleep(hit.delay.unwrap_or_default()).await;
            response.headers_mut().insert(FAULT_HEADER, mark);
            response
        }
        Effect::Drop | Effect::DropAfter => dropped(mark),
        _ => {
            response.headers_mut().insert(FAULT_HEADER, mark);
            response
        }
    }
}

/// A reply that promises a body and fails to produce it: the server then
/// closes the connection, and the client sees it end before a complete
/// reply.
fn dropped(mark: HeaderValue) -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injected: connection dropped",
        ))
    }));
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from_static("64"),
    );
    response.headers_mut().insert(FAULT_HEADER, mark);
    response
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /_emulator/faults`: every fault with `id`, `seen`, `fired` and
/// `remaining` (null: no limit).
pub async fn list(State(state): State<Arc<EmulatorState>>) -> Response {
    let listing = super::lock(&state.faults).listing();
    json_reply(StatusCode::OK, listing)
}

/// `POST /_emulator/faults`: one fault or a list of them, as JSON.
pub async fn add(State(state): State<Arc<EmulatorState>>, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<Vec<FaultSpec>>(&body) {
        Ok(list) => Ok(list),
        Err(list_error) => match serde_json::from_slice::<FaultSpec>(&body) {
            Ok(one) => Ok(vec![one]),
            // The list's error when a list was sent, else the object's.
            Err(_) if body.trim_ascii_start().starts_with(b"[") => Err(list_error),
            Err(one_error) => Err(one_error),
        },
    };
    let faults = match faults {
        Ok(f) => f,
        Err(e) => {
            return json_reply(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("not a fault or a list of faults: {e}")}),
            )
        }
    };
    match state.add_faults(faults) {
        Ok(ids) => json_reply(StatusCode::OK, json!({"added": ids})),
        Err(e) => json_reply(StatusCode::BAD_REQUEST, json!({"error": e})),
    }
}

/// `DELETE /_emulator/faults`: removes every fault.
pub async fn clear(State(state): State<Arc<EmulatorState>>) -> Response {
    let mut table = super::lock(&state.faults);
    table.clear();
    state.faults_installed.store(false, Ordering::Release);
    drop(table);
    json_reply(StatusCode::OK, json!({"cleared": true}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Decoded;
    use crate::emulator::test_support::{signed_wire, start_default, Signer};
    use crate::emulator::world::WorldFile;
    use crate::emulator::RunningEmulator;

    fn fault(yaml: &str) -> FaultSpec {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn refused(yaml: &str) -> String {
        check(&fault(yaml), SpecSet::embedded()).expect_err(yaml)
    }

    #[test]
    fn faults_are_checked_against_the_catalogs() {
        let specs = SpecSet::embedded();
        for ok in [
            "{effect: throttled}",
            "{dialect: alibaba-ecs, operation: AssignPrivateIpAddresses, effect: busy, times: 2}",
            "{dialect: naver-vpc, operation: assignSecondaryIps, effect: throttled, code: '420'}",
            "{dialect: tencent-vpc-v2, effect: throttled, rate: 0.25}",
            "{operation: DescribeNetworkInterfaces, effect: delay, delay: 2s}",
            "{effect: drop-after, interface: eni-x}",
        ] {
            check(&fault(ok), specs).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert!(refused("{effect: internal-error}").contains("tencent-vpc-v2"));
        assert!(refused("{dialect: alibaba-ens, effect: busy}").contains("documents no busy code"));
        assert!(
            refused("{operation: AssignPrivateIpAdresses, effect: drop}")
                .contains("did you mean `AssignPrivateIpAddresses`")
        );
        assert!(refused("{effect: delay}").contains("needs `delay"));
        assert!(refused("{effect: busy, delay: 1s}").contains("goes with the `delay` effect"));
        assert!(refused("{effect: delay, delay: 2h}").contains("longer than"));
        assert!(refused("{effect: drop, times: 0}").contains("at least 1"));
        assert!(refused("{effect: drop, rate: 1.5}").contains("fraction"));
        assert!(refused("{effect: drop, rate: 0}").contains("fraction"));
        assert!(refused("{effect: drop, code: Throttling}").contains("goes with a refusal"));
        // A code of another kind is not a throttling code.
        assert!(
            refused("{dialect: alibaba-ecs, effect: throttled, code: InternalError}")
                .contains("no throttled code `InternalError`")
        );
        assert!(serde_yaml::from_str::<FaultSpec>("{effect: slow}").is_err());
        assert!(serde_yaml::from_str::<FaultSpec>("{effect: drop, often: true}").is_err());
    }

    /// Which of ten calls in a row the faults of `table` strike.
    fn struck(table: &mut FaultTable) -> Vec<u64> {
        (1..=10)
            .filter(|_| {
                table
                    .hit(DialectId::AlibabaEcs, "Op", &[] as &[(String, String)])
                    .is_some()
            })
            .collect()
    }

    #[test]
    fn times_and_rate_pick_the_same_calls_every_run() {
        let mut table = FaultTable::default();
        table.add(vec![fault("{effect: drop, rate: 0.3}")]);
        assert_eq!(struck(&mut table), [4, 7, 10]);

        let mut table = FaultTable::default();
        table.add(vec![fault("{effect: drop, rate: 0.5, times: 2}")]);
        assert_eq!(struck(&mut table), [2, 4], "times caps a rate");
        let listing = table.listing();
        assert_eq!(
            listing[0]["seen"], 10,
            "an exhausted fault still counts calls"
        );
        assert_eq!(listing[0]["fired"], 2);
        assert_eq!(listing[0]["remaining"], 0);
    }

    #[test]
    fn scope_filters_calls_and_the_first_fault_that_strikes_wins() {
        let mut table = FaultTable::default();
        table.add(vec![
            fault("{dialect: naver-vpc, operation: assignSecondaryIps, interface: '30001', effect: busy, times: 1}"),
            fault("{effect: drop}"),
        ]);
        let on = |i: &str| vec![("networkInterfaceNo".to_string(), i.to_string())];
        let naver = DialectId::NaverVpc;
        // In order: the second interface, the busy fault once, then the drop.
        for (dialect, interface, effect) in [
            (naver, "30002", Effect::Drop),
            (naver, "30001", Effect::Busy),
            (naver, "30001", Effect::Drop),
            (DialectId::TencentVpcV2, "30001", Effect::Drop),
        ] {
            let hit = table.hit(dialect, "assignSecondaryIps", &on(interface));
            assert_eq!(hit.unwrap().effect, effect, "{dialect:?} {interface}");
        }
        table.clear();
        assert_eq!(table.hit(naver, "assignSecondaryIps", &on("30001")), None);
    }

    /// Every ENI's secondaries and running task: what a call could change.
    fn fingerprint(emu: &RunningEmulator) -> Vec<(String, Vec<std::net::Ipv4Addr>, Option<u64>)> {
        let world = emu.state().world();
        let mut all: Vec<_> = world
            .all_enis()
            .map(|e| (e.id.clone(), e.secondaries().collect(), e.running_task()))
            .collect();
        all.sort();
        all
    }

    /// Signs and sends `op` of `dialect` with the world's default keys.
    async fn call(
        emu: &RunningEmulator,
        world: &WorldFile,
        dialect: DialectId,
        op: &str,
        params: &[(&str, String)],
    ) -> Result<(reqwest::header::HeaderMap, Decoded), reqwest::Error> {
        let client = dialect.client();
        let signer = Signer {
            dialect,
            creds: "default",
            signing: client.signing_variants()[0],
            method: crate::dialect::Method::Get,
        };
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let wire = signed_wire(emu, world, &signer, op, &params);
        let mut request = reqwest::Client::new()
            .get(format!("{}{}", emu.base_url(), wire.path_and_query))
            .timeout(Duration::from_secs(10));
        for (k, v) in &wire.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = request.send().await?;
        let headers = response.headers().clone();
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((headers, client.decode(status, &bytes)))
    }

    /// An assign of each dialect that succeeds (and so changes the world)
    /// when no fault stands in its way.
    fn assign(
        world: &WorldFile,
        dialect: DialectId,
    ) -> (&'static str, Vec<(&'static str, String)>) {
        let v = |k: &str| world.fixtures_of(dialect).values[k].clone();
        match dialect {
            DialectId::AlibabaEcs => (
                "AssignPrivateIpAddresses",
                vec![
                    ("RegionId", v("region")),
                    ("NetworkInterfaceId", v("eni.available")),
                    ("PrivateIpAddress.1", v("vswitch.free_ip")),
                ],
            ),
            DialectId::AlibabaEns => (
                "AssignPrivateIpAddresses",
                vec![("NetworkInterfaceId", v("eni.available"))],
            ),
            DialectId::TencentVpcV2 => (
                "AssignPrivateIpAddresses",
                vec![
                    ("Region", v("region")),
                    ("vpcId", v("vpc")),
                    ("networkInterfaceId", v("eni.available")),
                    (
                        "privateIpAddressSet.0.privateIpAddress",
                        v("subnet.free_ip"),
                    ),
                ],
            ),
            DialectId::NaverVpc => (
                "assignSecondaryIps",
                vec![
                    ("regionCode", v("region")),
                    ("networkInterfaceNo", v("eni.available")),
                    ("secondaryIpList.1", v("subnet.free_ip")),
                    ("responseFormatType", "json".into()),
                ],
            ),
        }
    }

    /// Every refusal a dialect documents, and a dropped connection, leave
    /// every ENI of the world as it was; the same call without the fault
    /// does change it (so the comparison can fail).
    #[tokio::test]
    async fn a_faulted_call_changes_nothing_in_the_world() {
        for &dialect in DialectId::ALL {
            let (emu, world) = start_default().await;
            let (op, params) = assign(&world, dialect);
            let before = fingerprint(&emu);
            let spec = emu.state().specs().get(dialect, op).unwrap();
            for effect in [
                Effect::Throttled,
                Effect::Busy,
                Effect::InternalError,
                Effect::Drop,
            ] {
                let f = FaultSpec {
                    dialect: Some(dialect),
                    operation: Some(op.into()),
                    interface: None,
                    effect,
                    code: None,
                    delay: None,
                    times: Some(1),
                    rate: None,
                };
                if check(&f, emu.state().specs()).is_err() {
                    // The dialect documents no such code; refused, as checked above.
                    assert!(effect.kind().is_some_and(|k| row(spec, k, None).is_none()));
                    continue;
                }
                emu.state().add_faults(vec![f]).unwrap();
                let reply = call(&emu, &world, dialect, op, &params).await;
                match effect.kind() {
                    Some(kind) => {
                        let (headers, decoded) = reply.unwrap();
                        let code = decoded.error.map(|e| e.code).unwrap_or_default();
                        assert_eq!(
                            spec.error(&code).and_then(|e| e.kind),
                            Some(kind),
                            "{dialect} {effect:?}: {code}"
                        );
                        assert_eq!(headers[FAULT_HEADER], effect.as_str());
                    }
                    None => assert!(reply.is_err(), "{dialect}: a dropped call has no reply"),
                }
                assert_eq!(
                    fingerprint(&emu),
                    before,
                    "{dialect} {effect:?} changed the world"
                );
            }
            let (_, decoded) = call(&emu, &world, dialect, op, &params).await.unwrap();
            assert!(decoded.error.is_none(), "{dialect}: {:?}", decoded.error);
            assert_ne!(
                fingerprint(&emu),
                before,
                "{dialect}: the unfaulted call changes the world"
            );
            emu.shutdown().await;
        }
    }

    /// `drop-after` loses the reply of a change that took effect; `delay`
    /// changes at once and answers late.
    #[tokio::test]
    async fn drop_after_and_delay_apply_the_change() {
        let (emu, world) = start_default().await;
        let dialect = DialectId::AlibabaEcs;
        let (op, params) = assign(&world, dialect);
        let before = fingerprint(&emu);
        emu.state()
            .add_faults(vec![fault(
                "{operation: AssignPrivateIpAddresses, effect: drop-after, times: 1}",
            )])
            .unwrap();
        assert!(call(&emu, &world, dialect, op, &params).await.is_err());
        let after = fingerprint(&emu);
        assert_ne!(after, before, "the change behind a lost reply took effect");

        emu.state()
            .add_faults(vec![fault(
                "{operation: DescribeNetworkInterfaces, effect: delay, delay: 50ms, times: 1}",
            )])
            .unwrap();
        let v = |k: &str| world.fixtures_of(dialect).values[k].clone();
        let describe = [
            ("RegionId", v("region")),
            ("NetworkInterfaceId.1", v("eni.available")),
        ];
        let (headers, decoded) = call(
            &emu,
            &world,
            dialect,
            "DescribeNetworkInterfaces",
            &describe,
        )
        .await
        .unwrap();
        assert_eq!(headers[FAULT_HEADER], "delay");
        assert!(decoded.error.is_none());
        emu.shutdown().await;
    }

    #[tokio::test]
    async fn the_control_adds_lists_refuses_and_clears() {
        let (emu, _) = start_default().await;
        let http = reqwest::Client::new();
        let url = format!("{}{FAULTS_PATH}", emu.base_url());
        let post = |body: &'static str| http.post(&url).body(body).send();
        let r = post(
            r#"{"operation": "DescribeNetworkInterfaces", "effect": "throttled", "times": 2}"#,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let r = post(r#"[{"dialect": "tencent-vpc-v2", "effect": "internal-error"}]"#)
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let text = r.text().await.unwrap();
        assert!(text.contains("documents no internal-error code"), "{text}");
        for garbage in [
            "",
            "[",
            "{\"effect\": 7}",
            "\u{0}\u{ff}",
            "[{\"effect\": \"drop\", \"x\": 1}]",
        ] {
            let r = http.post(&url).body(garbage).send().await.unwrap();
            assert_eq!(r.status(), 400, "{garbage:?}");
        }
        let listing: serde_json::Value =
            serde_json::from_str(&http.get(&url).send().await.unwrap().text().await.unwrap())
                .unwrap();
        assert_eq!(
            listing.as_array().unwrap().len(),
            1,
            "a refused list installs nothing"
        );
        assert_eq!(listing[0]["remaining"], 2);
        assert_eq!(listing[0]["effect"], "throttled");
        assert_eq!(http.delete(&url).send().await.unwrap().status(), 200);
        let listing = http.get(&url).send().await.unwrap().text().await.unwrap();
        assert_eq!(listing, "[]");
        emu.shutdown().await;
    }

    #[tokio::test]
    async fn a_world_file_starts_with_its_faults_or_says_why_not() {
        let mut world = crate::emulator::test_support::default_world();
        world.faults = vec![fault("{dialect: alibaba-ens, effect: busy}")];
        let err = crate::emulator::start(&world, "127.0.0.1:0".parse().unwrap())
            .await
            .err()
            .expect("ENS documents no busy code");
        assert!(err.to_string().contains("faults"), "{err}");
        world.faults = vec![fault("{effect: drop, times: 1}")];
        let emu = crate::emulator::start(&world, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let listing = super::super::lock(&emu.state().faults).listing();
        assert_eq!(listing[0]["effect"], "drop");
        emu.shutdown().await;
    }
}
