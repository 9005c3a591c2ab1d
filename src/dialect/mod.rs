//! Dialects: one module per vendor API wire format.
//!
//! A dialect knows how a request is addressed, encoded and signed, and how a
//! response or an error comes back. The same code serves both sides: the
//! runner's client signs with it and the emulator verifies with it, so a
//! published signing vector pins both at once.

pub mod alibaba_rpc;
pub mod xml;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
