//! The runner: one case against one endpoint, over HTTP.
//!
//! Steps run in order; each renders its parameters from fixtures, captures
//! and built-ins, is encoded and signed by the case's dialect, sent, decoded,
//! judged against the step's expectation and against the operation's spec
//! (the contract findings), and may capture values for later steps. The
//! first failing step stops the steps; cleanup runs regardless, each of its
//! steps on its own, so a failed assertion never leaves state behind on a
//! real cloud. The runner reaches a target only through its base URL: it
//! never touches the emulator's memory.

mod check;
mod dry;
pub mod policy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::case::{Case, CaseFile, Power, Step, Var, Vars};
use crate::dialect::{Call, ClientDialect, Decoded, DialectId};
use crate::dialect::{CallContext, SentRequest};
use crate::fixtures::{DialectFixtures, Fixtures};
use crate::spec::{Finding, Kind, SpecSet};

pub use check::{accept_hint, judge, Verdict};
pub use dry::DryStep;
pub use policy::{ClientPolicy, RateLimit, RetryPolicy};

/// A target's token bucket, shared by every case that runs there.
type Limiter = governor::DefaultDirectRateLimiter;

/// Where a case runs: a name (for deviations and reports), a base URL, the
/// fixtures that target provides per dialect, and the signing variant it
/// uses unless a case says otherwise.
pub struct Endpoint<'a> {
    pub target: &'a str,
    pub base_url: &'a str,
    pub fixtures: &'a DialectFixtures,
    pub signing: Option<&'a str>,
    /// What the target offers beyond its API: with [`Power::Clock`] the
    /// runner moves its clock (at `/_emulator/clock`) instead of sleeping in
    /// a polling step. A case that requires a power the target lacks is
    /// skipped.
    pub powers: &'a [Power],
    /// How the runner behaves as this target's client: rate, timeouts,
    /// retries.
    pub policy: &'a ClientPolicy,
    /// Told about every request that changes state, before it is sent and
    /// after its reply: a real-cloud target keeps its ledger with it.
    pub observer: Option<&'a dyn CallObserver>,
}

/// Watches the requests that change state (operations the spec does not
/// mark `readonly`). `before_send` comes before each attempt is sent and
/// may refuse it: the step then fails with the reason and nothing is sent.
/// `after_reply` comes with the decoded reply, or `None` when none came.
pub trait CallObserver: Send + Sync {
    fn before_send(
        &self,
        dialect: DialectId,
        operation: &str,
        params: &[(String, String)],
    ) -> Result<(), String>;
    fn after_reply(
        &self,
        dialect: DialectId,
        operation: &str,
        params: &[(String, String)],
        decoded: Option<&Decoded>,
    );
}

/// Sends requests and judges responses. Cheap to share: one HTTP client
/// (with its connection pool) and the loaded specs.
pub struct Runner<'s> {
    http: reqwest::Client,
    specs: &'s SpecSet,
    /// One token bucket per target name and rate, so a rate holds over
    /// every case of a run however many run at once.
    limiters: Mutex<HashMap<(String, RateLimit), Arc<Limiter>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every step met its expectation and the contract.
    Conforms,
    /// Some step did not.
    Fails,
    /// It failed on a target where that is a known deviation.
    KnownDeviation,
    /// It conformed on a target listed as deviating: the deviation is stale.
    UnexpectedConformance,
    /// It did not run: the target lacks what the case `requires` (the
    /// result's `skipped` says what).
    Skipped,
}

impl Outcome {
    /// Whether this outcome lets the run succeed.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Conforms | Outcome::KnownDeviation | Outcome::Skipped
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Step,
    Cleanup,
}

/// What happened in one step, as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub phase: Phase,
    /// 1-based within its phase.
    pub index: usize,
    pub call: String,
    /// `file:line` of the step's `call:`.
    pub location: String,
    /// The request as sent, with signatures and secrets redacted.
    pub request: Option<SentRequest>,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub body: Option<Value>,
    /// Expectation mismatches as a unified diff of expected and actual.
    pub diff: Option<String>,
    /// The expectation as lines (`status: 404`, `body.Path: length 1`),
    /// and the reply in the same words, index by index: what `diff` was
    /// made from, kept for reports that render it their own way (word
    /// highlighting, normalized values). Empty when nothing was judged.
    pub expected: Vec<String>,
    pub actual: Vec<String>,
    /// Values this step captured, `(name, value)` in the case's order.
    pub captured: Vec<(String, String)>,
    /// How to accept the actual behaviour, when the step did not meet its
    /// expectation (also the last line of `diff`).
    pub hint: Option<String>,
    pub findings: Vec<Finding>,
    /// Anything else that stopped the step (transport, unknown variable).
    pub problems: Vec<String>,
    /// A cleanup step skipped because what it needs was never captured.
    pub skipped: Option<String>,
    /// Each attempt of a polling step, in order.
    pub attempts: Vec<Attempt>,
    #[serde(serialize_with = "as_micros")]
    pub elapsed: Duration,
}

impl StepRecord {
    /// A step not yet sent: nothing observed, nothing found.
    pub fn new(phase: Phase, index: usize, call: &str, location: String) -> StepRecord {
        StepRecord {
            phase,
            index,
            call: call.to_string(),
            location,
            request: None,
            status: None,
            error_code: None,
            body: None,
            diff: None,
            expected: Vec::new(),
            actual: Vec::new(),
            captured: Vec::new(),
            hint: None,
            findings: Vec::new(),
            problems: Vec::new(),
            skipped: None,
            attempts: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn failed(&self) -> bool {
        self.diff.is_some() || !self.findings.is_empty() || !self.problems.is_empty()
    }
}

/// One attempt of a step: each reply of a polling step, and each reply
/// of a step the runner retried (throttled or busy).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Time waited before this attempt, since the first (virtual on the
    /// emulator).
    pub waited_ms: u64,
    pub status: u16,
    pub error_code: Option<String>,
    /// Whether the reply met `until`; for a retried step without `wait`,
    /// whether this is the reply the step was judged on.
    pub met: bool,
    /// Why this reply was not the last: it was throttled or busy and the
    /// call could safely be repeated (`throttled (Throttling): a read;
    /// retry 1 of 3 after 137 ms`).
    pub retried: Option<String>,
}

impl Attempt {
    /// The attempt that got `decoded` after `waited`; not retried.
    fn of(decoded: &Decoded, waited: Duration, met: bool) -> Attempt {
        Attempt {
            waited_ms: waited.as_millis() as u64,
            status: decoded.status,
            error_code: decoded.error.as_ref().map(|e| e.code.clone()),
            met,
            retried: None,
        }
    }
}

/// The result of one case on one target.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub address: String,
    pub target: String,
    pub dialect: String,
    pub file: String,
    pub line: usize,
    pub id: String,
    pub title: String,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub outcome: Outcome,
    /// The reason the target's deviation gives, when it has one.
    pub deviation: Option<String>,
    /// Why the case did not run (outcome `skipped`).
    pub skipped: Option<String>,
    pub steps: Vec<StepRecord>,
    #[serde(serialize_with = "as_micros")]
    pub elapsed: Duration,
}

impl CaseResult {
    /// The result of `case` on `target`, with no deviation and no time.
    pub fn new(
        target: &str,
        file: &CaseFile,
        case: &Case,
        outcome: Outcome,
        steps: Vec<StepRecord>,
    ) -> CaseResult {
        CaseResult {
            address: case.address(target, file),
            target: target.to_string(),
            dialect: file.dialect.to_string(),
            file: file.display.clone(),
            line: case.line,
            id: case.id.clone(),
            title: case.title.clone(),
            source: case.source.clone(),
            tags: case.tags.clone(),
            outcome,
            deviation: None,
            skipped: None,
            steps,
            elapsed: Duration::ZERO,
        }
    }

    /// The result of `case` on `target` when it did not run, and why.
    pub fn skipped(target: &str, file: &CaseFile, case: &Case, reason: String) -> CaseResult {
        let mut result = CaseResult::new(target, file, case, Outcome::Skipped, Vec::new());
        result.skipped = Some(reason);
        result
    }
}

/// A duration in whole microseconds, as the JSON documents give times.
pub(crate) fn as_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

impl<'s> Runner<'s> {
    pub fn new(specs: &'s SpecSet) -> Runner<'s> {
        // Each request carries its target's timeout (`ClientPolicy`); this
        // one only bounds what carries none.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Runner {
            http,
            specs,
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// The token bucket of `endpoint`'s rate limit, if it has one.
    fn limiter(&self, endpoint: &Endpoint<'_>) -> Option<Arc<Limiter>> {
        let rate = endpoint.policy.rate_limit?;
        let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        let limiter = limiters
            .entry((endpoint.target.to_string(), rate))
            .or_insert_with(|| Arc::new(governor::RateLimiter::direct(rate.quota())));
        Some(Arc::clone(limiter))
    }

    pub fn specs(&self) -> &SpecSet {
        self.specs
    }

    pub async fn run_case(
        &self,
        file: &CaseFile,
        case: &Case,
        endpoint: &Endpoint<'_>,
    ) -> CaseResult {
        let started = Instant::now();
        if let Some(reason) = missing_requirement(
            file,
            case,
            endpoint.target,
            endpoint.fixtures,
            endpoint.powers,
        ) {
            return CaseResult::skipped(endpoint.target, file, case, reason);
        }
        let client = file.dialect.client();
        let mut scope = Scope::new(file, case, endpoint);
        let mut records = Vec::with_capacity(case.steps.len() + case.cleanup.len());
        let faulted = !case.faults.is_empty();
        if faulted {
            if let Err(problem) = self.set_faults(file, case, endpoint, &scope).await {
                let mut record = StepRecord::new(
                    Phase::Step,
                    0,
                    crate::emulator::faults::FAULTS_PATH,
                    format!("{}:{}", file.display, case.line),
                );
                record.problems.push(problem);
                records.push(record);
            }
        }
        if records.is_empty() {
            for (i, step) in case.steps.iter().enumerate() {
                let record = self
                    .run_step(file, step, Phase::Step, i + 1, client, endpoint, &mut scope)
                    .await;
                let failed = record.failed();
                records.push(record);
                if failed {
                    break;
                }
            }
        }
        // Cleanup runs without faults: it must leave nothing behind.
        if faulted {
            if let Err(problem) = self.clear_faults(endpoint).await {
                let mut record = StepRecord::new(
                    Phase::Cleanup,
                    0,
                    crate::emulator::faults::FAULTS_PATH,
                    format!("{}:{}", file.display, case.line),
                );
                record.problems.push(problem);
                records.push(record);
            }
        }
        for (i, step) in case.cleanup.iter().enumerate() {
            let record = self
                .run_step(
                    file,
                    step,
                    Phase::Cleanup,
                    i + 1,
                    client,
                    endpoint,
                    &mut scope,
                )
                .await;
            records.push(record);
        }
        let failed = records.iter().any(StepRecord::failed);
        let deviation = case.deviations.get(endpoint.target).cloned();
        let outcome = match (failed, deviation.is_some()) {
            (false, false) => Outcome::Conforms,
            (true, false) => Outcome::Fails,
            (true, true) => Outcome::KnownDeviation,
            (false, true) => Outcome::UnexpectedConformance,
        };
        let mut result = CaseResult::new(endpoint.target, file, case, outcome, records);
        result.deviation = deviation;
        result.elapsed = started.elapsed();
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        file: &CaseFile,
        step: &Step,
        phase: Phase,
        index: usize,
        client: &dyn ClientDialect,
        endpoint: &Endpoint<'_>,
        scope: &mut Scope<'_>,
    ) -> StepRecord {
        let started = Instant::now();
        let mut record = StepRecord::new(
            phase,
            index,
            &step.call,
            format!("{}:{}", file.display, step.line),
        );
        if phase == Phase::Cleanup {
            if let Some(name) = scope.empty_list_parameter(step) {
                record.skipped = Some(format!(
                    "`{name}` is an empty list: there is nothing to clean up"
                ));
                return record;
            }
        }
        let params = match self.wire_params(file, step, scope) {
            Ok(p) => p,
            Err(missing) if phase == Phase::Cleanup && scope.is_capture_name(file, &missing) => {
                record.skipped = Some(format!(
                    "`{{{{{missing}}}}}` was never captured (an earlier step failed first)"
                ));
                return record;
            }
            Err(missing) => {
                record.problems.push(match scope.var(&missing) {
                    Some(Var::List(_)) => crate::case::matcher::unknown_variable(&*scope, &missing),
                    _ => format!(
                        "unknown variable `{{{{{missing}}}}}`: not a fixture of target `{}`, a capture of an earlier step, nor a built-in",
                        endpoint.target
                    ),
                });
                return record;
            }
        };
        let Some(credentials) = scope.fixtures.credentials.get(&step.credentials) else {
            record.problems.push(format!(
                "target `{}` has no credential set `{}` (`as:` of this step)",
                endpoint.target, step.credentials
            ));
            return record;
        };
        let headers = match scope.render_headers(step) {
            Ok(h) => h,
            Err(missing) => {
                record.problems.push(format!(
                    "unknown variable `{{{{{missing}}}}}` in a header: not a fixture of target `{}`, a capture of an earlier step, nor a built-in",
                    endpoint.target
                ));
                return record;
            }
        };
        let host = host_of(endpoint.base_url);
        let signing = signing_of(step, endpoint, client);
        if step.wait.is_some() && !self.is_read_only(file, step) {
            record.problems.push(format!(
                "`{}` changes state, so it is never repeated: `wait` is for reads (operations the spec marks `readonly: true`)",
                step.call
            ));
            return record;
        }
        let mut waited = Duration::ZERO;
        let mut pause = step.wait.as_ref().map_or(Duration::ZERO, |w| w.interval);
        let exchange = Exchange {
            file,
            step,
            client,
            endpoint,
            params: &params,
            headers: &headers,
            credentials,
            host: &host,
            signing,
            retry: self.retry_reason(file, step, &params),
        };
        let decoded = loop {
            let decoded = match self
                .exchange(&exchange, scope, &mut record, &mut waited)
                .await
            {
                Ok(decoded) => decoded,
                Err(problem) => {
                    record.problems.push(problem);
                    record.elapsed = started.elapsed();
                    return record;
                }
            };
            let Some(wait) = &step.wait else {
                // A retried step's last reply is the one judged.
                if !record.attempts.is_empty() {
                    record.attempts.push(Attempt::of(&decoded, waited, true));
                }
                break decoded;
            };
            let lookup: &dyn Vars = &*scope;
            let holds = |conditions: &[(crate::case::BodyPath, crate::case::Matcher)]| {
                decoded.error.is_none()
                    && conditions.iter().all(|(path, m)| {
                        m.check(path.select(&decoded.body).as_ref(), decoded.xml, lookup)
                            .is_ok()
                    })
            };
            let met = holds(&wait.until);
            let halted = !wait.halt_on.is_empty() && holds(&wait.halt_on);
            record.attempts.push(Attempt::of(&decoded, waited, met));
            if met {
                break decoded;
            }
            if halted {
                record.problems.push(format!(
                    "the read reached a terminal state (`halt_on`) after {} attempt{} over {:?}: {}",
                    record.attempts.len(),
                    if record.attempts.len() == 1 { "" } else { "s" },
                    waited,
                    crate::case::matcher::compact(&decoded.body)
                ));
                record.body = Some(decoded.body);
                record.elapsed = started.elapsed();
                return record;
            }
            if waited >= wait.timeout {
                record.problems.push(format!(
                    "`until` did not hold after {} attempts over {:?} (timeout {:?}); last reply: {}",
                    record.attempts.len(),
                    waited,
                    wait.timeout,
                    crate::case::matcher::compact(&decoded.body)
                ));
                record.body = Some(decoded.body);
                record.status = Some(decoded.status);
                record.elapsed = started.elapsed();
                return record;
            }
            let this_pause = pause.min(wait.timeout - waited);
            if let Err(e) = self.pause(endpoint, this_pause, scope).await {
                record.problems.push(e);
                record.elapsed = started.elapsed();
                return record;
            }
            waited += this_pause;
            pause = (pause * 2).min(wait.max_interval);
        };
        record.status = Some(decoded.status);
        record.error_code = decoded.error.as_ref().map(|e| e.code.clone());
        if let Some(problem) = unreadable(&decoded) {
            record.problems.push(problem);
        }
        let verdict = {
            let lookup: &dyn Vars = &*scope;
            let spec = self.specs.get(file.dialect, &step.call);
            let actual = decoded.error.as_ref().map(|e| e.code.as_str());
            // The neutral kind the catalog gives the code that came.
            let actual_kind = actual
                .and_then(|code| spec.and_then(|s| s.error(code)))
                .and_then(|entry| entry.kind);
            // The documented status of the code that came, when it is one
            // the step accepts (by name, or by kind); else of the first it
            // names.
            let documented = match &step.expect {
                crate::case::Expect::Error { codes, kind, .. } => {
                    let listed = codes
                        .iter()
                        .map(String::as_str)
                        .find(|c| Some(*c) == actual);
                    let of_kind = actual.filter(|_| kind.is_some() && actual_kind == *kind);
                    listed
                        .or(of_kind)
                        .or(codes.first().map(String::as_str))
                        .and_then(|code| spec.and_then(|spec| spec.errors.status_of(code)))
                }
                crate::case::Expect::Success { .. } => None,
            };
            check::judge(&step.expect, &decoded, lookup, documented, actual_kind)
        };
        if let Some(diff) = verdict.diff() {
            // A portable scenario has no deviations: a vendor whose
            // documents promise another outcome gets its own expectation.
            let hint = if file
                .group
                .starts_with(&format!("{}.", crate::portable::FOLDER))
            {
                format!(
                    "to accept the actual behaviour, edit the `expect` of the scenario's step at {}:{}; \
                     if only {} behaves so and its documents say it, give it a `per_dialect` expectation with `why`",
                    file.display, step.line, file.dialect
                )
            } else {
                check::accept_hint(&record.location, endpoint.target)
            };
            record.diff = Some(format!("{diff}\n{hint}"));
            record.hint = Some(hint);
        }
        record.expected = verdict.expected;
        record.actual = verdict.actual;
        record.findings = self.contract_findings(file, step, &decoded);
        self.capture(step, &decoded, scope, &mut record);
        record.body = Some(decoded.body);
        record.elapsed = started.elapsed();
        record
    }

    /// Waits `by` between two attempts of a polling step: on a target with
    /// a virtual clock, by moving that clock (and the client's with it);
    /// elsewhere, for real.
    async fn pause(
        &self,
        endpoint: &Endpoint<'_>,
        by: Duration,
        scope: &mut Scope<'_>,
    ) -> Result<(), String> {
        if !endpoint.powers.contains(&Power::Clock) {
            tokio::time::sleep(by).await;
            return Ok(());
        }
        let path = format!(
            "{}?advance_ms={}",
            crate::emulator::CLOCK_PATH,
            by.as_millis()
        );
        let response = self
            .control(
                endpoint,
                reqwest::Method::POST,
                &path,
                None,
                "advance the emulator's clock",
            )
            .await?;
        if !response.status().is_success() {
            return Err(format!(
                "the emulator refused to advance its clock: HTTP {}",
                response.status()
            ));
        }
        scope.clock_offset += chrono::TimeDelta::from_std(by).unwrap_or_default();
        Ok(())
    }

    /// The step's parameters on the wire, list elements numbered from the
    /// spec's first index; the error is a variable the scope lacks.
    fn wire_params(
        &self,
        file: &CaseFile,
        step: &Step,
        scope: &Scope<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        let first_index = |pattern: &str| {
            self.specs
                .get(file.dialect, &step.call)
                .and_then(|spec| spec.list_first_index(pattern))
        };
        step.wire_params(scope, &first_index)
    }

    /// Whether the spec marks the step's operation as a read.
    fn is_read_only(&self, file: &CaseFile, step: &Step) -> bool {
        self.specs
            .get(file.dialect, &step.call)
            .is_some_and(|spec| spec.readonly)
    }

    /// Why a throttled or busy reply to `step` may be retried, if it may:
    /// the step says so, the operation only reads, or the call carries the
    /// dialect's idempotency token. A change without a token is never
    /// repeated: the vendor could apply it twice.
    fn retry_reason(
        &self,
        file: &CaseFile,
        step: &Step,
        params: &[(String, String)],
    ) -> Option<String> {
        match step.retry {
            Some(false) => return None,
            Some(true) => return Some("the step says `retry: true`".into()),
            None => {}
        }
        let spec = self.specs.get(file.dialect, &step.call)?;
        if spec.readonly {
            return Some("a read".into());
        }
        spec.parameters
            .iter()
            .filter(|p| p.idempotency_token)
            .find(|p| {
                params
                    .iter()
                    .any(|(name, value)| name == &p.name && !value.is_empty())
            })
            .map(|p| format!("it carries the idempotency token `{}`", p.name))
    }

    /// Sends one step's call and returns the reply it is judged on: the
    /// first, or after throttling or busy replies the last of the retries
    /// its policy allows, each attempt a new request (fresh nonce, clock
    /// now) after a growing, jittered pause. The error is the cause of a
    /// failure to get any reply.
    async fn exchange(
        &self,
        x: &Exchange<'_>,
        scope: &mut Scope<'_>,
        record: &mut StepRecord,
        waited: &mut Duration,
    ) -> Result<Decoded, String> {
        let retry = &x.endpoint.policy.retry;
        let mut attempt: u32 = 1;
        loop {
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let wire = x.client.encode(&Call {
                operation: &x.step.call,
                params: x.params,
                headers: x.headers,
                credentials: x.credentials,
                context: CallContext {
                    host: x.host,
                    now: chrono::Utc::now() + scope.clock_offset,
                    nonce: &nonce,
                    signing: x.signing,
                    method: x.step.method.unwrap_or_default(),
                },
            });
            record.request = Some(x.client.redact(&wire));
            // One request per attempt, each through the target's bucket,
            // each a change the observer (a profile's ledger) sees before it
            // is sent and after its reply.
            let observer = x
                .endpoint
                .observer
                .filter(|_| !self.is_read_only(x.file, x.step));
            if let Some(observer) = observer {
                observer
                    .before_send(x.file.dialect, &x.step.call, x.params)
                    .map_err(|why| format!("not sent: {why}"))?;
            }
            if let Some(limiter) = self.limiter(x.endpoint) {
                limiter.until_ready().await;
            }
            let timeout = x.endpoint.policy.request_timeout;
            let sent = self.send(x.endpoint.base_url, &wire, timeout).await;
            let (status, bytes) = match sent {
                Ok(reply) => reply,
                Err(cause) => {
                    if let Some(observer) = observer {
                        observer.after_reply(x.file.dialect, &x.step.call, x.params, None);
                    }
                    return Err(format!(
                        "no usable reply from {}: {cause}",
                        x.endpoint.base_url
                    ));
                }
            };
            let decoded = self.in_schema_shape(x.file, x.step, x.client.decode(status, &bytes));
            if let Some(observer) = observer {
                observer.after_reply(x.file.dialect, &x.step.call, x.params, Some(&decoded));
            }
            let kind = decoded
                .error
                .as_ref()
                .and_then(|e| self.specs.kind_of(x.file.dialect, &x.step.call, &e.code));
            let transient = matches!(kind, Some(Kind::Throttled | Kind::Busy));
            let (Some(reason), true, true) = (&x.retry, transient, attempt < retry.max_attempts)
            else {
                return Ok(decoded);
            };
            let pause = retry.pause(attempt);
            let mut tried = Attempt::of(&decoded, *waited, false);
            tried.retried = Some(format!(
                "{} ({}): {reason}; retry {attempt} of {} after {}",
                kind.map(Kind::as_str).unwrap_or_default(),
                tried.error_code.as_deref().unwrap_or_default(),
                retry.max_attempts - 1,
                policy::spoken(pause)
            ));
            record.attempts.push(tried);
            self.pause(x.endpoint, pause, scope).await?;
            *waited += pause;
            attempt += 1;
        }
    }

    /// One HTTP exchange within `timeout`; the error says what went wrong
    /// in the words of the cause: no reply in time, a reset, a reply that
    /// is not HTTP, a body cut short.
    async fn send(
        &self,
        base_url: &str,
        wire: &crate::dialect::WireRequest,
        timeout: Duration,
    ) -> Result<(u16, bytes::Bytes), String> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), wire.path_and_query);
        let method = match wire.method {
            crate::dialect::Method::Get => reqwest::Method::GET,
            crate::dialect::Method::Post => reqwest::Method::POST,
        };
        let mut request = self.http.request(method, url).timeout(timeout);
        for (name, value) in &wire.headers {
            request = request.header(name.as_str(), value);
        }
        if let Some(body) = &wire.body {
            request = request.body(body.clone());
        }
        let response = request.send().await.map_err(|e| cause(&e, timeout))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| cause(&e, timeout))?;
        Ok((status, bytes))
    }

    /// Installs the case's faults on the target, each `interface` rendered
    /// and each without a dialect given the case's.
    async fn set_faults(
        &self,
        file: &CaseFile,
        case: &Case,
        endpoint: &Endpoint<'_>,
        scope: &Scope<'_>,
    ) -> Result<(), String> {
        let mut faults = case.faults.clone();
        for fault in &mut faults {
            fault.dialect.get_or_insert(file.dialect);
            if let Some(interface) = &fault.interface {
                let rendered = crate::case::Template::parse(interface)
                    .and_then(|t| t.render_owned(|v| scope.text(v)))
                    .map_err(|e| format!("fault `interface: {interface}`: {e}"))?;
                fault.interface = Some(rendered);
            }
        }
        let response = self
            .control(
                endpoint,
                reqwest::Method::POST,
                crate::emulator::faults::FAULTS_PATH,
                Some(serde_json::to_vec(&faults).unwrap_or_default()),
                "inject the case's faults",
            )
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(format!(
            "the target refused the case's faults (HTTP {status}): {}",
            text.trim()
        ))
    }

    /// Removes every fault from the target, before the cleanup runs.
    async fn clear_faults(&self, endpoint: &Endpoint<'_>) -> Result<(), String> {
        let response = self
            .control(
                endpoint,
                reqwest::Method::DELETE,
                crate::emulator::faults::FAULTS_PATH,
                None,
                "clear the case's faults",
            )
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "the target refused to clear the case's faults: HTTP {}",
                response.status()
            ))
        }
    }

    /// Sends one request to the target's control `path` (the emulator's
    /// clock or faults, never the vendor API), a JSON `body` if given,
    /// within the endpoint's request timeout. The error says it failed
    /// `to` do what it was for, and why.
    async fn control(
        &self,
        endpoint: &Endpoint<'_>,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        to: &str,
    ) -> Result<reqwest::Response, String> {
        let url = format!("{}{path}", endpoint.base_url.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method, url)
            .timeout(endpoint.policy.request_timeout);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        request.send().await.map_err(|e| {
            format!(
                "failed to {to}: {}",
                cause(&e, endpoint.policy.request_timeout)
            )
        })
    }

    /// An XML success body in the JSON shape of its schema, where the spec
    /// says how the vendor's XML maps: the same paths and typed matchers
    /// then serve both formats, and the schema checks XML replies too.
    fn in_schema_shape(&self, file: &CaseFile, step: &Step, mut decoded: Decoded) -> Decoded {
        if decoded.xml && decoded.error.is_none() {
            if let Some(body) = self
                .specs
                .get(file.dialect, &step.call)
                .and_then(|spec| spec.xml_to_schema_shape(&decoded.body))
            {
                decoded.body = body;
                decoded.xml = false;
            }
        }
        decoded
    }

    /// What the spec says about this response, whatever the case expected.
    fn contract_findings(&self, file: &CaseFile, step: &Step, decoded: &Decoded) -> Vec<Finding> {
        let Some(spec) = self.specs.get(file.dialect, &step.call) else {
            return Vec::new();
        };
        match &decoded.error {
            Some(error) => spec.check_error(decoded.status, &error.code),
            // An XML body whose spec gives no mapping to the schema's JSON
            // (its leaves are all text): its shape is checked by the paths.
            None if decoded.xml => Vec::new(),
            None if (200..300).contains(&decoded.status) => spec.check_success(&decoded.body),
            None => Vec::new(),
        }
    }

    fn capture(
        &self,
        step: &Step,
        decoded: &Decoded,
        scope: &mut Scope<'_>,
        record: &mut StepRecord,
    ) {
        for (name, path) in &step.capture {
            match path.select(&decoded.body) {
                Some(Value::Array(items)) => {
                    // A list capture: its items must be scalars.
                    let texts: Option<Vec<String>> = items.iter().map(scalar_text).collect();
                    match texts {
                        Some(texts) => {
                            // Reports show each item, named by its index.
                            for (i, text) in texts.iter().enumerate() {
                                record.captured.push((format!("{name}[{i}]"), text.clone()));
                            }
                            scope.captures.insert(name.clone(), Captured::List(texts));
                        }
                        None => record.problems.push(format!(
                            "capture `{name}`: `{path}` holds a list of non-scalars {}",
                            crate::case::matcher::compact(&Value::Array(items))
                        )),
                    }
                }
                Some(v) => match scalar_text(&v) {
                    Some(text) => {
                        record.captured.push((name.clone(), text.clone()));
                        scope.captures.insert(name.clone(), Captured::Text(text));
                    }
                    None => record.problems.push(format!(
                        "capture `{name}`: `{path}` holds {}, not a scalar or a list of scalars",
                        crate::case::matcher::compact(&v)
                    )),
                },
                None => record.problems.push(format!(
                    "capture `{name}`: `{path}` is absent from the body"
                )),
            }
        }
    }
}

/// What one step sends, fixed across its attempts.
struct Exchange<'x> {
    file: &'x CaseFile,
    step: &'x Step,
    client: &'x dyn ClientDialect,
    endpoint: &'x Endpoint<'x>,
    params: &'x [(String, String)],
    headers: &'x [(String, Option<String>)],
    credentials: &'x crate::fixtures::Credentials,
    host: &'x str,
    signing: &'x str,
    /// Why a throttled or busy reply may be retried; `None`: it may not.
    retry: Option<String>,
}

/// The cause of a failed exchange in a reader's words. The error's chain
/// is searched for what the transport saw (a reset, a connection closed
/// mid-reply, bytes that are not HTTP) before falling back to its text.
fn cause(e: &reqwest::Error, timeout: Duration) -> String {
    use std::error::Error as _;
    if e.is_timeout() {
        return format!("no reply within {}", policy::spoken(timeout));
    }
    let mut source = e.source();
    // Not `e.to_string()`: reqwest's own text carries the URL, signed query
    // and all.
    let mut innermost = String::from("the request failed");
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => {
                    return "connection closed before a complete reply".into()
                }
                std::io::ErrorKind::TimedOut => {
                    return format!("no reply within {}", policy::spoken(timeout))
                }
                _ => {}
            }
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                return "connection closed before a complete reply".into();
            }
            if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() {
                return format!("not an HTTP reply: {h}");
            }
        }
        innermost = s.to_string();
        source = s.source();
    }
    if e.is_connect() {
        format!("could not connect: {innermost}")
    } else if e.is_body() || e.is_decode() {
        format!("unreadable body: {innermost}")
    } else {
        innermost
    }
}

/// The problem with a reply whose body is neither JSON nor XML (a
/// dialect decodes such text to a JSON string): the step cannot judge it.
fn unreadable(decoded: &Decoded) -> Option<String> {
    let Value::String(text) = &decoded.body else {
        return None;
    };
    let shown: String = text.chars().take(60).collect();
    Some(format!(
        "unreadable body: HTTP {} with {} characters that are neither JSON nor XML, starting {:?}",
        decoded.status,
        text.chars().count(),
        shown
    ))
}

/// A capture's text; `None` for objects, lists and null.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// Why `case` cannot run on a target, if it cannot: a fixture it requires
/// or reads, a credential set it signs with, or a power it requires, that
/// the target lacks. Known before the case runs, so a test harness can list
/// the case as ignored.
pub fn missing_requirement(
    file: &CaseFile,
    case: &Case,
    target: &str,
    fixtures: &DialectFixtures,
    powers: &[Power],
) -> Option<String> {
    if let Some(reason) = &case.requires.not_applicable {
        return Some(format!("not applicable to {}: {reason}", file.dialect));
    }
    let fixtures = crate::fixtures::of(fixtures, file.dialect);
    // Those the case declares, then those its templates read: a target
    // that lacks a fixture cannot run the case, whether declared or not.
    let mut lacking: Vec<&str> = case
        .requires
        .fixtures
        .iter()
        .map(String::as_str)
        .filter(|f| !fixtures.values.contains_key(*f))
        .collect();
    for used in case.fixtures_used() {
        if !fixtures.values.contains_key(used) && !lacking.contains(&used) {
            lacking.push(used);
        }
    }
    if !lacking.is_empty() {
        return Some(format!(
            "target `{target}` has no {} fixture{} {}",
            file.dialect,
            if lacking.len() == 1 { "" } else { "s" },
            lacking.join(", ")
        ));
    }
    let no_credentials: Vec<&str> = case
        .credential_sets()
        .into_iter()
        .filter(|c| !fixtures.credentials.contains_key(*c))
        .collect();
    if !no_credentials.is_empty() {
        return Some(format!(
            "target `{target}` has no {} credential set{} {} (`as:` of a step)",
            file.dialect,
            if no_credentials.len() == 1 { "" } else { "s" },
            no_credentials.join(", ")
        ));
    }
    let powers: Vec<&str> = case
        .requires
        .powers
        .iter()
        .filter(|p| !powers.contains(p))
        .map(|p| p.as_str())
        .collect();
    (!powers.is_empty()).then(|| {
        format!(
            "target `{target}` lacks the power{} the case requires: {} (the embedded emulator has them)",
            if powers.len() == 1 { "" } else { "s" },
            powers.join(", ")
        )
    })
}

/// The names a step's templates can see, innermost first: captures,
/// fixtures, built-ins.
struct Scope<'a> {
    fixtures: &'a Fixtures,
    /// How far polling steps have moved the target's virtual clock; the
    /// client signs with its own clock moved as far.
    clock_offset: chrono::TimeDelta,
    captures: HashMap<String, Captured>,
    nonce: String,
    /// A random positive integer of 18 digits, unique per case run (for
    /// vendors whose nonces are numbers).
    number: String,
    case_id: &'a str,
}

/// A captured value: one scalar, or a list of them (`[*]` paths).
enum Captured {
    Text(String),
    List(Vec<String>),
}

impl Vars for Scope<'_> {
    fn var(&self, name: &str) -> Option<Var<'_>> {
        if let Some(v) = self.captures.get(name) {
            return Some(match v {
                Captured::Text(t) => Var::Text(t),
                Captured::List(items) => Var::List(items),
            });
        }
        if let Some(v) = self.fixtures.values.get(name) {
            return Some(Var::Text(v));
        }
        match name {
            "case.nonce" => Some(Var::Text(&self.nonce)),
            "case.number" => Some(Var::Text(&self.number)),
            "case.id" => Some(Var::Text(self.case_id)),
            _ => None,
        }
    }
}

impl<'a> Scope<'a> {
    /// The scope a run of `case` on `endpoint` starts with: the target's
    /// fixtures of the file's dialect, no captures, fresh nonces.
    fn new(file: &CaseFile, case: &'a Case, endpoint: &Endpoint<'a>) -> Scope<'a> {
        Scope {
            fixtures: crate::fixtures::of(endpoint.fixtures, file.dialect),
            clock_offset: chrono::TimeDelta::zero(),
            captures: HashMap::new(),
            nonce: uuid::Uuid::new_v4().to_string(),
            number: numeric_nonce(),
            case_id: &case.id,
        }
    }

    fn render_headers(&self, step: &Step) -> Result<Vec<(String, Option<String>)>, String> {
        step.headers
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    None => None,
                    Some(t) => Some(t.render_owned(|v| self.text(v))?),
                };
                Ok((name.clone(), value))
            })
            .collect()
    }

    /// The first list parameter of `step` whose every item is a list
    /// variable holding nothing: a cleanup step that would release it has
    /// nothing to release (and would be refused for a missing parameter).
    fn empty_list_parameter<'s>(&self, step: &'s Step) -> Option<&'s str> {
        step.params.iter().find_map(|(name, value)| match value {
            crate::case::ParamValue::List(items)
                if !items.is_empty()
                    && items.iter().all(|t| {
                        matches!(
                            t.sole_variable().and_then(|v| self.var(v)),
                            Some(Var::List(values)) if values.is_empty()
                        )
                    }) =>
            {
                Some(name.as_str())
            }
            _ => None,
        })
    }

    /// Whether `name` is captured by some step of the file's cases: a
    /// cleanup that needs it is skipped, not failed, when it never came.
    fn is_capture_name(&self, file: &CaseFile, name: &str) -> bool {
        file.cases
            .iter()
            .flat_map(|c| &c.steps)
            .any(|s| s.capture.iter().any(|(n, _)| n == name))
    }
}

#[cfg(test)]
mod tests;

/// 18 random digits, the first not zero.
fn numeric_nonce() -> String {
    let n = u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes());
    (100_000_000_000_000_000 + n % 900_000_000_000_000_000).to_string()
}

/// The signing variant a step's request uses: the step's, else the
/// endpoint's, where the dialect knows it; else the dialect's first.
fn signing_of<'a>(step: &'a Step, endpoint: &Endpoint<'a>, client: &dyn ClientDialect) -> &'a str {
    step.signing
        .as_deref()
        .or(endpoint.signing)
        .filter(|s| client.signing_variants().contains(s))
        .unwrap_or(client.signing_variants()[0])
}

/// The authority of a base URL (`127.0.0.1:PORT`): the Host header the
/// client sends, which some signatures cover.
fn host_of(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}
