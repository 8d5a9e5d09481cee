//! Why a render gave no page: our fault ([`BrowserError`]), the site's
//! ([`crate::page::Unreachable`]), or the guard's refusal, as
//! [`RenderError`]; and what that means for the target
//! ([`TargetFailure`]). Raw facts (`net::ERR_*` names, HTTP statuses) are
//! classified in [`crate::fault`], not here.

use crate::page::{TargetFailure, Unreachable};

/// The crawler's own failure: retried, then a `crawler-error` finding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// Chromium could not be found or started.
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
    /// A `DevTools` protocol command failed or timed out.
    #[error("devtools protocol error: {reason}")]
    Protocol {
        /// What was seen.
        reason: String,
    },
    /// The pool was closed.
    #[error("browser pool closed")]
    PoolClosed,
}

impl BrowserError {
    /// A [`BrowserError::Protocol`] naming the step that failed.
    pub(crate) fn protocol(step: &str, err: impl std::fmt::Display) -> Self {
        BrowserError::Protocol {
            reason: format!("{step}: {err}"),
        }
    }
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
    /// The network guard refused the address the main document's host (or
    /// a redirect hop's) resolves to: neither the site's failure nor ours.
    #[error("{host} resolves to internal address {address}; refused")]
    Refused {
        /// The host the main frame tried to reach.
        host: String,
        /// The internal address the guard refused.
        address: String,
    },
}

impl From<RenderError> for TargetFailure {
    /// What a render's error means for its target: the site's failure,
    /// the guard's refusal, or ours (`crawler-error`, in its words).
    fn from(e: RenderError) -> TargetFailure {
        match e {
            RenderError::Site(why) => TargetFailure::Unreachable(why),
            RenderError::Refused { host, address } => {
                TargetFailure::AddressRefused { host, address }
            }
            RenderError::Crawler(e) => TargetFailure::Crawler {
                reason: e.to_string(),
            },
        }
    }
}
