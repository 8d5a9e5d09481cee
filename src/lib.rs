//! beian-audit: checks that filed websites display their ICP filing number
//! the way China's 备案 rules require (SPEC.md is the contract).
//!
//! # Brief overview
//!
//! Data flows one way, one module a stage:
//!
//! ```text
//! input ──Record──▶ targets ──Target──▶ browser ──PageSnapshot──▶ rules ──Finding──▶ output
//!   (CSV/NDJSON/     (apex, www.,        (Chromium pool,           (pure: record +     (one JSON
//!    lines)           hosts × devices)    render, extract.js)       page facts)          line each)
//! ```
//!
//! - [`input`] reads records as a stream; a broken row is an
//!   [`input::InputError`], never the end of the scan.
//! - [`targets`] expands a record into (host, device) pairs.
//! - [`guard`] refuses hosts that resolve into the crawler's own network:
//!   every connection of every page goes through its proxy.
//! - [`browser`] owns Chromium and reports facts ([`page::PageSnapshot`]) or
//!   whose fault a failure was; it knows no rule.
//! - [`filing`] is the 备案 vocabulary (ICP and 公安 numbers, filing-site
//!   links) shared by `input` and `rules`.
//! - [`rules`] judges a record's outcomes; [`judge`] adds what the whole
//!   scan knows (other records' numbers and landing pages).
//! - [`output`] writes [`output::RecordReport`]s, one line each.
//! - [`scan`] wires the stages together and owns all concurrency
//!   ([`budget`]: the pages open at once; [`throttle`]: politeness).
//! - [`report`] turns a scan's output into one HTML page for people.
//! - [`http1`] is the one HTTP/1 head reader (the guard's proxy, and the
//!   test tools beside the product in `tools/`).
//! - `cgroup` reads the container's CPU quota, memory limit and CPU
//!   throttling, from which [`config`] derives its defaults.

pub mod browser;
mod cgroup;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod filing;
pub mod guard;
pub mod http1;
pub mod input;
pub mod judge;
pub mod output;
pub mod page;
pub mod pages;
pub mod report;
pub mod rules;
pub mod scan;
mod starvation;
pub mod targets;
pub mod throttle;

pub use error::Error;
pub use exit::ExitStatus;
