//! Shared machinery of the integration tests: the fixture farm (a real
//! HTTP server playing `fixtures/sites`) and the shared scan of its
//! records, the `Scan` builder that runs the real `beian-audit` binary
//! against it, sandboxed processes, the in-process loopback server of the
//! library-level tests, and assertions that read the output through the
//! contract types of `beian_audit::output`.

mod assert;
mod farm;
mod process;
mod scan;
mod server;

pub(crate) use assert::{assert_findings, describe_targets, expand, findings, label, report, On};
pub(crate) use farm::{farm_bin, farm_scan, records, FarmRequest, FixtureFarm, SITES};
pub(crate) use process::{
    chromium_children, drain, run_to_end, sigkill, Finished, Sandbox, Watchdog,
};
pub(crate) use scan::{input_lines, line_counts, parse, Scan};
pub(crate) use server::{serve, serve_at, Route, Server};
