//! Our fault ([`BrowserError`]) vs the site's fault
//! ([`crate::page::Unreachable`]), and the one classifier between them.

use crate::page::Unreachable;

/// The crawler's own failure: retried, then a `crawler-error` finding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// Chromium could not be started.
    #[error("cannot start Chromium at {path}: {reason}")]
    Launch {
        /// The executable.
        path: String,
        /// Why.
        reason: String,
    },
    /// The browser process died or its connection broke.
    #[error("browser crashed: {reason}")]
    Crashed {
        /// What was seen.
        reason: String,
    },
    /// A DevTools protocol command failed or timed out.
    #[error("devtools protocol error: {reason}")]
    Protocol {
        /// What was seen.
        reason: String,
    },
    /// The pool was closed.
    #[error("browser pool closed")]
    PoolClosed,
}

/// Why rendering one target produced no page.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The site's fault.
    #[error(transparent)]
    Site(#[from] Unreachable),
    /// Ours.
    #[error(transparent)]
    Crawler(#[from] BrowserError),
}
