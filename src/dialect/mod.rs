//! Dialects: one module per vendor API wire format.
//!
//! A dialect knows how a request is addressed, encoded and signed, and how a
//! response or an error comes back. The same code serves both sides: the
//! runner's client signs with it and the emulator verifies with it, so a
//! published signing vector pins both at once. Dialects of one wire family
//! share their module: ECS and ENS are both [`alibaba_rpc`], told apart by
//! their API version.

pub mod alibaba_rpc;
pub mod naver;
pub mod tencent_v2;
pub mod xml;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fixtures::Credentials;

/// A decoded request parameter, borrowed from the request where decoding
/// changed nothing (the verifiers' view: most parameters need no decoding).
pub type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The dialects ipconform speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DialectId {
    #[serde(rename = "alibaba-ecs")]
    AlibabaEcs,
    #[serde(rename = "alibaba-ens")]
    AlibabaEns,
    #[serde(rename = "tencent-vpc-v2")]
    TencentVpcV2,
    #[serde(rename = "naver-vpc")]
    NaverVpc,
}

impl DialectId {
    pub const ALL: &'static [DialectId] = &[
        DialectId::AlibabaEcs,
        DialectId::AlibabaEns,
        DialectId::TencentVpcV2,
        DialectId::NaverVpc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DialectId::AlibabaEcs => "alibaba-ecs",
            DialectId::AlibabaEns => "alibaba-ens",
            DialectId::TencentVpcV2 => "tencent-vpc-v2",
            DialectId::NaverVpc => "naver-vpc",
        }
    }

    /// The client side of this dialect, for the runner.
    pub fn client(self) -> &'static dyn ClientDialect {
        match self {
            DialectId::AlibabaEcs => &alibaba_rpc::ECS_CLIENT,
            DialectId::AlibabaEns => &alibaba_rpc::ENS_CLIENT,
            DialectId::TencentVpcV2 => &tencent_v2::TencentV2Client,
            DialectId::NaverVpc => &naver::NaverClient,
        }
    }
}

impl fmt::Display for DialectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DialectId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DialectId::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = DialectId::ALL.iter().map(|d| d.as_str()).collect();
                format!("unknown dialect `{s}`; known: {}", known.join(", "))
            })
    }
}

/// How a request carries its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// Parameters in the query string.
    #[default]
    Get,
    /// Parameters in an `application/x-www-form-urlencoded` body.
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Everything about a call that is not the case's business: where it goes,
/// when and with which nonce it is made, how it is signed and sent.
#[derive(Debug, Clone)]
pub struct CallContext<'a> {
    /// The `Host` header the client sends (`127.0.0.1:PORT`), which some
    /// signatures cover.
    pub host: &'a str,
    /// The client's clock.
    pub now: DateTime<Utc>,
    /// A fresh nonce for this call.
    pub nonce: &'a str,
    /// One of the dialect's [`ClientDialect::signing_variants`].
    pub signing: &'a str,
    pub method: Method,
}

/// One call as the runner asks for it: the operation and the parameters the
/// case gives (after templating), header overrides, credentials and the
/// call's context. The dialect adds its common parameters unless the case
/// set them, then signs.
pub struct Call<'a> {
    pub operation: &'a str,
    pub params: &'a [(String, String)],
    /// Headers the case sets: a value replaces the dialect's before signing;
    /// `None` signs the header as usual but leaves it out of the request.
    pub headers: &'a [(String, Option<String>)],
    pub credentials: &'a Credentials,
    pub context: CallContext<'a>,
}

/// An HTTP request ready to send, relative to the target's base URL.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: Method,
    /// Path and query, e.g. `/?Action=...&Signature=...`.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A request as reports show it: what was sent, with every signature and
/// secret replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentRequest {
    pub method: &'static str,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl fmt::Display for SentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.target)?;
        for (name, value) in &self.headers {
            write!(f, "\n    {name}: {value}")?;
        }
        if let Some(body) = &self.body {
            write!(f, "\n    body: {body}")?;
        }
        Ok(())
    }
}

/// A vendor error as its envelope carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorError {
    pub code: String,
    /// A numeric code beside `code` (Tencent's `code` beside `codeDesc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    pub message: String,
}

/// A response decoded into the shape every check works on.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub status: u16,
    /// The body as JSON (an XML body converted; text that is neither
    /// becomes a JSON string).
    pub body: serde_json::Value,
    /// The body was XML: leaves are text and one element may be a list.
    pub xml: bool,
    pub error: Option<VendorError>,
}

impl Decoded {
    /// A body the dialect cannot read, kept as text for the report, and an
    /// error saying why.
    pub fn unreadable(status: u16, text: &str, why: &str) -> Decoded {
        Decoded {
            status,
            body: serde_json::Value::String(text.to_string()),
            xml: false,
            error: Some(VendorError {
                code: String::new(),
                number: None,
                message: format!("unreadable body ({why})"),
            }),
        }
    }
}

/// The client half of a dialect.
pub trait ClientDialect: Send + Sync {
    /// The signing variants this dialect's client offers; the first is the
    /// default.
    fn signing_variants(&self) -> &'static [&'static str];
    fn encode(&self, call: &Call<'_>) -> WireRequest;
    fn decode(&self, status: u16, body: &[u8]) -> Decoded;
    /// The request for reports, signatures and secrets redacted.
    fn redact(&self, wire: &WireRequest) -> SentRequest;
}

/// Applies a case's header overrides (names compared lower-case): a value
/// replaces or adds the header; `None` keeps it for signing and returns its
/// name, to be dropped from the request after signing.
pub fn apply_header_overrides(
    headers: &mut Vec<(String, String)>,
    overrides: &[(String, Option<String>)],
) -> Vec<String> {
    let mut dropped = Vec::new();
    for (name, value) in overrides {
        let name = name.to_ascii_lowercase();
        match value {
            Some(v) => match headers.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => headers.push((name, v.clone())),
            },
            None => dropped.push(name),
        }
    }
    dropped
}

/// `wire` as reports show it, the values of the `redacted` parameters
/// replaced by `***` in its query and its form body; headers as sent.
pub fn redact_params(wire: &WireRequest, redacted: &[&str]) -> SentRequest {
    let target = match wire.path_and_query.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_pairs(query, redacted)),
        None => wire.path_and_query.clone(),
    };
    SentRequest {
        method: wire.method.as_str(),
        target,
        headers: wire.headers.clone(),
        body: wire
            .body
            .as_ref()
            .map(|b| redact_pairs(&String::from_utf8_lossy(b), redacted)),
    }
}

/// `name=value&...` with the values of `redacted` names replaced by `***`;
/// used for queries and form bodies alike.
pub fn redact_pairs(encoded: &str, redacted: &[&str]) -> String {
    encoded
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if redacted.contains(&name) => format!("{name}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A `Signature=<value>` part inside a header (an Authorization header)
/// replaced by `Signature=***`; the rest (key id, signed headers) stays
/// for the reader.
pub fn redact_signature_in(value: &str) -> String {
    match value.find("Signature=") {
        Some(at) => {
            let start = at + "Signature=".len();
            let end = value[start..]
                .find([',', ' '])
                .map_or(value.len(), |i| start + i);
            format!("{}***{}", &value[..start], &value[end..])
        }
        None => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_names_and_drops_values() {
        assert_eq!(
            redact_pairs("A=1&Signature=abc%3D&B=", &["Signature"]),
            "A=1&Signature=***&B="
        );
        assert_eq!(
            redact_signature_in("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=0abc"),
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=***"
        );
        assert_eq!(redact_signature_in("opaque"), "***");
    }
}
