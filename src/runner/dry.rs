//! Dry runs: every request of a case as it would be sent, signed, with its
//! secrets and signatures redacted, and nothing sent. A step whose
//! parameters need a value only a reply can give (a capture) cannot be
//! rendered; it says which value it waits for instead.

use super::{host_of, signing_of, Endpoint, Phase, Runner, Scope};
use crate::case::{Case, CaseFile, Step};
use crate::dialect::{Call, CallContext, SentRequest};

/// One step of a dry run.
#[derive(Debug, Clone)]
pub struct DryStep {
    pub phase: Phase,
    /// 1-based within its phase.
    pub index: usize,
    pub call: String,
    /// `file:line` of the step.
    pub location: String,
    /// The request as it would go out, redacted; or why it cannot be shown.
    pub request: Result<SentRequest, String>,
}

impl Runner<'_> {
    /// The requests `case` would send to `endpoint`, in order.
    pub fn dry_run_case(
        &self,
        file: &CaseFile,
        case: &Case,
        endpoint: &Endpoint<'_>,
    ) -> Vec<DryStep> {
        let scope = Scope::new(file, case, endpoint);
        let steps = case
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (Phase::Step, i + 1, s))
            .chain(
                case.cleanup
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (Phase::Cleanup, i + 1, s)),
            );
        steps
            .map(|(phase, index, step)| DryStep {
                phase,
                index,
                call: step.call.clone(),
                location: format!("{}:{}", file.display, step.line),
                request: self.render(file, step, endpoint, &scope),
            })
            .collect()
    }

    fn render(
        &self,
        file: &CaseFile,
        step: &Step,
        endpoint: &Endpoint<'_>,
        scope: &Scope<'_>,
    ) -> Result<SentRequest, String> {
        let client = file.dialect.client();
        let unknown = |missing: String| {
            if scope.is_capture_name(file, &missing) {
                format!("not rendered: `{{{{{missing}}}}}` comes from an earlier reply, and a dry run sends nothing")
            } else {
                format!(
                    "not rendered: `{{{{{missing}}}}}` is not a fixture of target `{}`",
                    endpoint.target
                )
            }
        };
        let params = self.wire_params(file, step, scope).map_err(unknown)?;
        let headers = scope.render_headers(step).map_err(unknown)?;
        let credentials = scope
            .fixtures
            .credentials
            .get(&step.credentials)
            .ok_or_else(|| {
                format!(
                    "target `{}` has no credential set `{}`",
                    endpoint.target, step.credentials
                )
            })?;
        let host = host_of(endpoint.base_url);
        let signing = signing_of(step, endpoint, client);
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let wire = client.encode(&Call {
            operation: &step.call,
            params: &params,
            headers: &headers,
            credentials,
            context: CallContext {
                host: &host,
                now: chrono::Utc::now(),
                nonce: &nonce,
                signing,
                method: step.method.unwrap_or_default(),
            },
        });
        Ok(client.redact(&wire))
    }
}
