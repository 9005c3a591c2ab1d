//! ipconform: a contract-conformance harness for the cloud APIs that assign
//! and unassign secondary private IP addresses on elastic network
//! interfaces, and a local emulator of those APIs.
//!
//! Data flows one way: YAML specs and cases are validated once at load
//! ([`spec`], [`case`]), turned into runs against a [`target`], executed by
//! the [`runner`] over HTTP, and the run's events feed the [`report`] sinks.
//! The [`emulator`] never sees the runner; the two share only the
//! [`dialect`] modules, so the client signs with the very canonicalisation
//! the emulator verifies with.

pub mod dialect;
pub mod emulator;
pub mod fixtures;

pub mod bench;
pub mod case;
pub mod compare;
pub mod coverage;
pub mod diag;
pub mod ledger;
pub mod lint;
pub mod portable;
pub mod profile;
pub mod project;
pub mod report;
pub mod run;
pub mod runner;
pub mod safety;
pub mod spec;
pub mod target;
