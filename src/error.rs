//! Fatal errors: the conditions under which the scan cannot run at all
//! (exit status 2). Everything about one row or one site is a finding.

use crate::browser::BrowserError;
use crate::input::InputFatal;

/// Why the scan could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flag's value is wrong.
    #[error("{0}")]
    Flag(String),
    /// The input as a whole cannot be read.
    #[error(transparent)]
    Input(#[from] InputFatal),
    /// No usable browser.
    #[error(transparent)]
    Browser(#[from] BrowserError),
    /// The output cannot be written.
    #[error("cannot write output {path}: {source}")]
    Output {
        /// The file (or `<stdout>`).
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
