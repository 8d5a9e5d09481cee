//! Exit statuses (SPEC §4) and the `--fail-on` policy.

use crate::cli::FailOn;
use crate::rules::{Finding, Severity};

/// The process exit status of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every record passed (or `--fail-on` excused what was found).
    Passed = 0,
    /// Some record has findings that `--fail-on` counts.
    Findings = 1,
    /// The scan could not run.
    Fatal = 2,
    /// A signal stopped the scan before every record was written; run it
    /// again with `--resume` to finish.
    Interrupted = 130,
}

impl FailOn {
    /// Whether `finding` makes the exit status 1 under this policy.
    #[must_use]
    pub fn counts(self, finding: &Finding) -> bool {
        match self {
            FailOn::Error => finding.severity == Severity::Error,
            FailOn::Warning => true,
            FailOn::Never => false,
        }
    }
}
