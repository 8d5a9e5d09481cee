//! The one integration test binary (STYLE §6.5): real `beian-audit` runs
//! with a real Chromium against the fixture farm, plus the browser layer's
//! own tests and the docs-drift checks.

mod browser;
mod checklist;
mod cli;
mod common;
mod crawler_error;
mod docs;
mod faults;
mod guard;
mod job;
mod load;
mod recycle;
mod report;
mod resilience;
mod sites;
mod summary;
mod tabs;
mod tls;
mod trust;
