//! Dialects: one module per vendor API wire format.
//!
//! A dialect knows how a request is addressed, encoded and signed, and how a
//! response or an error comes back. The same code serves both sides: the
//! runner's client signs with it and the emulator verifies with it, so a
//! published signing vector pins both at once.

pub mod alibaba_ecs;
pub mod alibaba_rpc;
pub mod xml;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fixtures::Credentials;

/// The dialects ipconform speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DialectId {
    #[serde(rename = "alibaba-ecs")]
    AlibabaEcs,
}

impl DialectId {
    pub const ALL: &'static [DialectId] = &[DialectId::AlibabaEcs];

    pub fn as_str(self) -> &'static str {
        match self {
            DialectId::AlibabaEcs => "alibaba-ecs",
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

impl DialectId {
    /// The client side of this dialect, for the runner.
    pub fn client(self) -> &'static dyn ClientDialect {
        match self {
            DialectId::AlibabaEcs => &alibaba_ecs::AlibabaEcsClient,
        }
    }
}

/// One call as the runner asks for it: the operation and the parameters the
/// case gives (after templating). The dialect adds its common parameters
/// unless the case set them, then signs.
pub struct Call<'a> {
    pub operation: &'a str,
    pub params: &'a [(String, String)],
    pub credentials: &'a Credentials,
}

/// An HTTP request ready to send, relative to the target's base URL.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: &'static str,
    /// Path and query, e.g. `/?Action=...&Signature=...`.
    pub path_and_query: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

/// A vendor error as its envelope carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorError {
    pub code: String,
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

/// The client half of a dialect.
pub trait ClientDialect: Send + Sync {
    fn encode(&self, call: &Call<'_>) -> WireRequest;
    fn decode(&self, status: u16, body: &[u8]) -> Decoded;
    /// Parameter names that must not be shown in reports (signatures).
    fn redacted_params(&self) -> &'static [&'static str];
}
