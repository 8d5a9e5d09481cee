//! The one integration test binary (STYLE §6.5): real `beian-audit` runs
//! with a real Chromium against the fixture farm.

mod cli;
mod common;
mod sites;
