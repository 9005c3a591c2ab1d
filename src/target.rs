//! Targets: where cases run.
//!
//! - `emulator` (the default): the embedded emulator, started fresh on
//!   `127.0.0.1:0` for every case from a world file, so cases never see each
//!   other's state and run side by side.
//! - a URL (`http://127.0.0.1:8080`): any endpoint that speaks the dialect,
//!   such as a separately started `ipconform emulate`; cases run one after
//!   another, each cleaning up after itself, with the fixtures of a world or
//!   fixtures file.
//!
//! - a profile ([`crate::profile`]): a real cloud, or anything configured
//!   like one, per dialect an endpoint, its credentials from the
//!   environment and its pre-created fixtures. Cases run through a
//!   [`Session`] that records the fixtures before changing them, keeps a
//!   ledger and puts them back ([`crate::safety`]); cases of one dialect run
//!   one after another, different dialects side by side up to the profile's
//!   `concurrency`.

use std::net::{Ipv4Addr, SocketAddr};

use crate::case::{Case, CaseFile, Power};
use crate::emulator::world::WorldFile;
use crate::fixtures::DialectFixtures;
use crate::profile::Profile;
use crate::runner::{CaseResult, ClientPolicy, Endpoint, Outcome, Phase, Runner, StepRecord};
use crate::safety::Session;
use crate::spec::SpecSet;

/// What the embedded emulator offers beyond the API: a clock the runner
/// moves, a world the case files' fixtures describe, and fault injection.
pub const EMULATOR_POWERS: &[Power] = &[Power::Clock, Power::World, Power::Faults];

pub enum Target {
    Emulator {
        world: WorldFile,
        /// The specs the emulator validates requests with.
        specs: &'static SpecSet,
    },
    Url {
        name: String,
        base_url: String,
        fixtures: DialectFixtures,
        /// The signing variant cases use unless they name one.
        signing: Option<String>,
        /// Rate, timeouts and retries toward this URL.
        client: ClientPolicy,
    },
    Profile(Box<ProfileTarget>),
}

/// A profile with its credentials read, and the session that keeps its
/// fixtures safe (absent for a dry run, which sends nothing).
pub struct ProfileTarget {
    pub profile: Profile,
    /// The profile's fixtures with the credentials resolved.
    pub fixtures: DialectFixtures,
    pub session: Option<Session>,
}

impl Target {
    /// The name cases use in `deviations` and trial addresses.
    pub fn name(&self) -> &str {
        match self {
            Target::Emulator { .. } => "emulator",
            Target::Url { name, .. } => name,
            Target::Profile(p) => &p.profile.name,
        }
    }

    /// Whether cases may run side by side: only when each gets its own
    /// world.
    pub fn isolates_cases(&self) -> bool {
        matches!(self, Target::Emulator { .. })
    }

    /// How many cases may run at once here, when a run asks for `jobs`:
    /// all of them on the emulator; on a URL or a profile, as its client
    /// policy allows (1 by default: each case cleans up after itself
    /// before the next starts; a profile's session keeps each dialect's
    /// cases one at a time).
    pub fn parallelism(&self, jobs: usize) -> usize {
        match self {
            Target::Emulator { .. } => jobs.max(1),
            Target::Url { client, .. } => client.concurrency.max(1),
            Target::Profile(p) => p.profile.client.concurrency.max(1),
        }
    }

    /// Whether a Ctrl-C has stopped the run on this target.
    pub fn is_interrupted(&self) -> bool {
        match self {
            Target::Profile(p) => p.session.as_ref().is_some_and(Session::is_interrupted),
            _ => false,
        }
    }

    /// The session of a profile target.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Target::Profile(p) => p.session.as_ref(),
            _ => None,
        }
    }

    /// Why `case` cannot run here, if it cannot: what it requires (powers,
    /// fixtures, credential sets) and, on a profile, its dialect.
    pub fn missing_requirement(&self, file: &CaseFile, case: &Case) -> Option<String> {
        if let Target::Profile(p) = self {
            if !p.profile.dialects.contains_key(&file.dialect) {
                return Some(format!(
                    "profile `{}` has no {} endpoint",
                    p.profile.name, file.dialect
                ));
            }
        }
        crate::runner::missing_requirement(file, case, self.name(), self.fixtures(), self.powers())
    }

    /// The endpoint `case` would be sent to, for a dry run: no emulator is
    /// started and nothing watches; the embedded emulator shows as
    /// `127.0.0.1:0`.
    pub fn dry_endpoint(&self, dialect: crate::dialect::DialectId) -> Option<Endpoint<'_>> {
        let (base_url, signing, policy): (&str, Option<&str>, &ClientPolicy) = match self {
            Target::Emulator { .. } => ("http://127.0.0.1:0", None, &ClientPolicy::DEFAULT),
            Target::Url {
                base_url,
                signing,
                client,
                ..
            } => (base_url, signing.as_deref(), client),
            Target::Profile(p) => return p.profile.endpoint(&p.fixtures, dialect, None),
        };
        Some(Endpoint {
            target: self.name(),
            base_url,
            fixtures: self.fixtures(),
            signing,
            powers: &[],
            policy,
            observer: None,
        })
    }

    /// What this target offers beyond the API (cases `requires` them).
    pub fn powers(&self) -> &'static [Power] {
        match self {
            Target::Emulator { .. } => EMULATOR_POWERS,
            Target::Url { .. } | Target::Profile(_) => &[],
        }
    }

    /// How the runner behaves as this target's client. The embedded
    /// emulator always gets the default: its timeouts bound a hang, and
    /// its retries run on its virtual clock.
    pub fn policy(&self) -> &ClientPolicy {
        match self {
            Target::Emulator { .. } => &ClientPolicy::DEFAULT,
            Target::Url { client, .. } => client,
            Target::Profile(p) => &p.profile.client,
        }
    }

    pub fn fixtures(&self) -> &DialectFixtures {
        match self {
            Target::Emulator { world, .. } => &world.fixtures,
            Target::Url { fixtures, .. } => fixtures,
            Target::Profile(p) => &p.fixtures,
        }
    }

    /// Runs one case here. An emulator that cannot start fails the case
    /// with the reason, it does not abort the run.
    pub async fn run_case(&self, runner: &Runner<'_>, file: &CaseFile, case: &Case) -> CaseResult {
        match self {
            Target::Emulator { world, specs } => {
                let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                let emulator = match crate::emulator::start_with_specs(world, specs, loopback).await
                {
                    Ok(e) => e,
                    Err(e) => {
                        return infrastructure_failure(
                            self.name(),
                            file,
                            case,
                            format!("failed to start the emulator: {e}"),
                        )
                    }
                };
                let base_url = emulator.base_url();
                let endpoint = Endpoint {
                    target: self.name(),
                    base_url: &base_url,
                    fixtures: &world.fixtures,
                    signing: None,
                    powers: EMULATOR_POWERS,
                    policy: &ClientPolicy::DEFAULT,
                    observer: None,
                };
                let result = runner.run_case(file, case, &endpoint).await;
                emulator.shutdown().await;
                result
            }
            Target::Url {
                name,
                base_url,
                fixtures,
                signing,
                client,
            } => {
                let endpoint = Endpoint {
                    target: name,
                    base_url,
                    fixtures,
                    signing: signing.as_deref(),
                    powers: &[],
                    policy: client,
                    observer: None,
                };
                runner.run_case(file, case, &endpoint).await
            }
            Target::Profile(p) => {
                if let Some(reason) = self.missing_requirement(file, case) {
                    return CaseResult::skipped(self.name(), file, case, reason);
                }
                match &p.session {
                    Some(session) => session.run_case(runner, file, case).await,
                    None => infrastructure_failure(
                        self.name(),
                        file,
                        case,
                        "this profile target was made for a dry run, which sends nothing".into(),
                    ),
                }
            }
        }
    }
}

/// A failed result for `case` that no step of it caused: one step-less
/// record at the case's line carries `problem`.
pub(crate) fn infrastructure_failure(
    target: &str,
    file: &CaseFile,
    case: &Case,
    problem: String,
) -> CaseResult {
    let mut step = StepRecord::new(
        Phase::Step,
        0,
        "",
        format!("{}:{}", file.display, case.line),
    );
    step.problems.push(problem);
    CaseResult::new(target, file, case, Outcome::Fails, vec![step])
}
