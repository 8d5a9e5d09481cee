//! Exit statuses (SPEC §4) and the `--fail-on` policy: the one place that
//! decides what a scan's findings make of its exit status.

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

/// `--fail-on`: which findings make the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Any error-severity finding.
    Error,
    /// Any finding at all, warnings included.
    Warning,
    /// Never: exit 0 whenever the scan ran.
    Never,
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

/// The exit status the findings written so far give under a `--fail-on`
/// policy.
#[derive(Debug, Clone, Copy)]
pub struct ExitTally {
    fail_on: FailOn,
    /// Some finding written counts.
    counted: bool,
}

impl ExitTally {
    /// Nothing written yet, under `fail_on`.
    #[must_use]
    pub fn new(fail_on: FailOn) -> ExitTally {
        ExitTally {
            fail_on,
            counted: false,
        }
    }

    /// Note the findings of one written record.
    pub fn add(&mut self, findings: &[Finding]) {
        self.counted |= findings.iter().any(|f| self.fail_on.counts(f));
    }

    /// [`ExitStatus::Findings`] once a counted finding was written, else
    /// [`ExitStatus::Passed`].
    #[must_use]
    pub fn status(&self) -> ExitStatus {
        if self.counted {
            ExitStatus::Findings
        } else {
            ExitStatus::Passed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Evidence, FindingCode};
    use rstest::rstest;

    fn status(fail_on: FailOn, codes: &[FindingCode]) -> ExitStatus {
        let findings: Vec<Finding> = codes
            .iter()
            .map(|c| Finding::new(*c, None, Evidence::default()))
            .collect();
        let mut tally = ExitTally::new(fail_on);
        tally.add(&findings);
        tally.status()
    }

    #[rstest]
    #[case::nothing_found(FailOn::Error, &[], ExitStatus::Passed)]
    #[case::warning_under_error(FailOn::Error, &[FindingCode::IcpNotInFooter], ExitStatus::Passed)]
    #[case::error_under_error(FailOn::Error, &[FindingCode::IcpNotLinked], ExitStatus::Findings)]
    #[case::warning_under_warning(FailOn::Warning, &[FindingCode::IcpNotInFooter], ExitStatus::Findings)]
    #[case::error_under_never(FailOn::Never, &[FindingCode::IcpNumberMissing], ExitStatus::Passed)]
    fn the_exit_status_follows_fail_on(
        #[case] fail_on: FailOn,
        #[case] codes: &[FindingCode],
        #[case] expected: ExitStatus,
    ) {
        assert_eq!(status(fail_on, codes), expected);
    }
}
