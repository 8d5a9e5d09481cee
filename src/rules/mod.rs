//! The rules engine: record + page facts → findings. Pure: no browser, no
//! tokio, no clock. Each rule lives in its own module with one `check`.

pub mod finding;

use std::time::Duration;

pub use finding::{Evidence, Finding, FindingCode, RuleId, Severity, Verdict};

use crate::filing::IcpNumber;
use crate::input::Record;
use crate::page::{PageSnapshot, TargetFailure};
use crate::targets::Target;

/// One target's result: the page facts, or why there are none.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// The host and device.
    pub target: Target,
    /// The URL that was navigated (after the `--scheme auto` fallback).
    pub url: String,
    /// What the browser saw, or why it saw nothing.
    pub result: Result<PageSnapshot, TargetFailure>,
    /// Wall time spent on this target.
    pub elapsed: Duration,
}

impl TargetOutcome {
    /// The finding `target` label: the URL with `#desktop` or `#mobile`.
    pub fn label(&self) -> String {
        format!("{}#{}", self.url, self.target.device)
    }
}

/// Facts about the whole scan that some rules need beyond one record.
pub trait ScanFacts {
    /// The filed ICP number of the scan's record whose registrable domain is
    /// `registrable_domain`, if the scan has one.
    fn filed_number(&self, registrable_domain: &str) -> Option<IcpNumber>;

    /// Whether another record of the scan (not `domain`) with subject number
    /// `subject` has a target that ended on `final_url`.
    fn subject_shares_page(&self, subject: &IcpNumber, domain: &str, final_url: &str) -> bool;
}

/// Every finding of `record`, given its targets' outcomes, in SPEC order.
pub fn evaluate(record: &Record, outcomes: &[TargetOutcome], facts: &dyn ScanFacts) -> Vec<Finding> {
    todo!("rules helper: {record:?} {outcomes:?} {}", facts.filed_number("").is_some())
}
