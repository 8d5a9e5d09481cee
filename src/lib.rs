//! beian-audit: checks that filed websites display their ICP filing number
//! the way China's 备案 rules require (README.md is the contract).
//!
//! # Brief overview
//!
//! Data flows one way, one module a stage:
//!
//! ```text
//! input ─Record─▶ targets ─Target─▶ guard ─▶ browser ─PageSnapshot─▶ rules ─Finding─▶ judge ─JudgedRecord─▶ output
//!  (CSV/NDJSON/   (apex, www.,     (may this   (Chromium pool,        (pure: record +       (+ what the      (one JSON
//!   lines)         hosts × devices) host be     render, extract.js)    page facts)           whole scan       line each)
//!                                   reached?)                                                knows)
//! ```
//!
//! - [`input`] reads records as a stream; a broken row is an
//!   [`input::InputError`], never the end of the scan.
//! - [`targets`] expands a record into (host, device) pairs.
//! - [`guard`] refuses hosts that resolve into the crawler's own network:
//!   a target's host is checked before it is rendered, and every
//!   connection of every page goes through its proxy.
//! - [`browser`] owns Chromium and reports facts ([`page::PageSnapshot`]) or
//!   whose fault a failure was; it knows no rule.
//! - [`page`] is those facts as plain data, with the two ways a target can
//!   have none ([`page::Unreachable`]: the site's fault;
//!   [`page::TargetFailure`]: whoever's).
//! - [`filing`] is the 备案 vocabulary (ICP and 公安 numbers, filing-site
//!   links, subject types, pre-approval topics) shared by `input` and
//!   `rules`.
//! - [`rules`] recognises what a page shows, once ([`rules::Shown`]), and
//!   judges a record's outcomes; [`judge`] adds what the whole scan knows
//!   (other records' numbers and landing pages) and hands each record on as
//!   a [`judge::JudgedRecord`]: findings, verdict and outcomes, decided.
//! - [`output`] writes judged records as [`output::RecordReport`]s, one
//!   line each, and shows progress and the summary; it decides nothing.
//! - [`exit`] decides the exit status from what was written (`--fail-on`).
//! - [`fault`] is the one classifier: every raw fact that ends a target
//!   without a page (a `net::ERR_*` name, an HTTP status, the guard's
//!   denial) becomes the site's fault or a target failure there.
//! - [`scan`] wires the stages together: the run loop (records in flight,
//!   the one writer loop), a record's lanes, one target's visit end to end
//!   (guard verdict, scheme fallback, error status, shared render) and,
//!   apart, every retry. Concurrency has a few owners, each said in its
//!   module: `scan` (records in flight, [`scan::pages`]: the pages open at
//!   once, and `level`: how many, adapted while it runs), [`throttle`] (`--rate`, the per-site cap), `browser` (its
//!   processes' tasks) and `guard` (one task a proxied connection).
//! - [`cli`] is clap's view of the command line; [`config`] turns it into
//!   the settings `scan`, `report` and `diff` read, and clap's types stop
//!   there. [`error`] is what stops a run before it starts (exit status 2).
//! - [`report`] is the `report` subcommand: a scan's output → one HTML page
//!   (or a CSV) for people; [`diff`] is the `diff` subcommand: two scans'
//!   outputs compared record by record.
//! - [`http1`] is the one HTTP/1 head reader (the guard's proxy, and the
//!   test tools beside the product in `tools/`).
//! - `cgroup` reads the container's CPU quota, memory limit and CPU
//!   throttling, from which [`config`] derives its defaults; `starvation`
//!   tells when a render was spoiled by the worker's own lack of CPU.

pub mod browser;
mod cgroup;
pub mod cli;
pub mod config;
pub mod diff;
pub mod error;
pub mod exit;
pub mod fault;
pub mod filing;
pub mod guard;
pub mod http1;
pub mod input;
pub mod judge;
mod load;
pub mod output;
pub mod page;
pub mod report;
pub mod rules;
pub mod scan;
mod starvation;
pub mod targets;
pub mod throttle;

pub use error::Error;
pub use exit::ExitStatus;
