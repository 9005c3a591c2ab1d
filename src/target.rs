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
//! Real-cloud profiles (credentials from the environment, guaranteed cleanup)
//! are the next kind; they plug in here as another variant.

use std::net::{Ipv4Addr, SocketAddr};

use crate::case::{Case, CaseFile, Power};
use crate::emulator::world::WorldFile;
use crate::fixtures::DialectFixtures;
use crate::runner::{CaseResult, ClientPolicy, Endpoint, Outcome, Phase, Runner, StepRecord};
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
}

impl Target {
    /// The name cases use in `deviations` and trial addresses.
    pub fn name(&self) -> &str {
        match self {
            Target::Emulator { .. } => "emulator",
            Target::Url { name, .. } => name,
        }
    }

    /// Whether cases may run side by side: only when each gets its own
    /// world.
    pub fn isolates_cases(&self) -> bool {
        matches!(self, Target::Emulator { .. })
    }

    /// What this target offers beyond the API (cases `requires` them).
    pub fn powers(&self) -> &'static [Power] {
        match self {
            Target::Emulator { .. } => EMULATOR_POWERS,
            Target::Url { .. } => &[],
        }
    }

    /// How the runner behaves as this target's client. The embedded
    /// emulator always gets the default: its timeouts bound a hang, and
    /// its retries run on its virtual clock.
    pub fn policy(&self) -> &ClientPolicy {
        match self {
            Target::Emulator { .. } => &ClientPolicy::DEFAULT,
            Target::Url { client, .. } => client,
        }
    }

    pub fn fixtures(&self) -> &DialectFixtures {
        match self {
            Target::Emulator { world, .. } => &world.fixtures,
            Target::Url { fixtures, .. } => fixtures,
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
                };
                runner.run_case(file, case, &endpoint).await
            }
        }
    }
}

fn infrastructure_failure(
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
