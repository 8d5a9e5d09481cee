//! `ChromeConfig`: which Chromium to start and with which flags.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `--resolve HOST=ADDR:PORT`: send connections for `host` (`*` for every
/// host) to `addr` instead of what DNS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRule {
    /// The host (ASCII, lower case) or `*`.
    pub host: String,
    /// Where its connections go.
    pub addr: SocketAddr,
}

/// Everything needed to start one Chromium process of the pool.
#[derive(Debug, Clone)]
pub struct ChromeConfig {
    /// The real browser binary (not a wrapper script).
    pub executable: PathBuf,
    /// Extra flags from `--chrome-arg`, passed as given.
    pub extra_args: Vec<String>,
    /// Host mappings from `--resolve`.
    pub resolve: Vec<ResolveRule>,
}
