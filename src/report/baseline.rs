//! `report --baseline OLD.ndjson`: each record's change since an earlier
//! scan, with `diff`'s own index and classifier, for the page to mark and
//! filter by.

use crate::diff::{compare_line, OldIndex, RecordChange, ScanLine};
use crate::output::RecordReport;

/// What changed since the baseline.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// The baseline file's name, for the page's heading.
    pub source: String,
    /// Each record's change line, in the reports' order.
    pub changes: Vec<RecordChange>,
    /// The baseline's records this scan does not have, in its order.
    pub gone: Vec<RecordChange>,
}

impl Baseline {
    /// Compare `reports` with the baseline's records in `old`.
    #[must_use]
    pub fn compare(source: &str, reports: &[RecordReport], mut old: OldIndex) -> Baseline {
        let changes = reports
            .iter()
            .map(|report| compare_line(&mut old, &ScanLine::from_report(report)))
            .collect();
        Baseline {
            source: source.to_owned(),
            changes,
            gone: old.gone().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Change;
    use crate::rules::{Evidence, Finding, FindingCode, Verdict};

    fn report(domain: &str, findings: Vec<Finding>) -> RecordReport {
        RecordReport {
            domain: domain.to_owned(),
            id: None,
            line: 2,
            verdict: Verdict::of(&findings),
            findings,
            targets: Vec::new(),
            elapsed_ms: 1,
        }
    }

    #[test]
    fn each_record_gets_its_change_and_the_missing_are_gone() {
        let unlinked = || {
            Finding::new(
                FindingCode::IcpNotLinked,
                Some("http://a.cn/#desktop".to_owned()),
                Evidence::default(),
            )
        };
        let mut old = OldIndex::default();
        for r in [
            report("a.cn", Vec::new()),
            report("b.cn", vec![unlinked()]),
            report("c.cn", Vec::new()),
        ] {
            old.push(&ScanLine::from_report(&r));
        }
        old.finish();
        let now = [
            report("a.cn", vec![unlinked()]),
            report("b.cn", Vec::new()),
            report("d.cn", Vec::new()),
        ];
        let baseline = Baseline::compare("old.ndjson", &now, old);
        let changes: Vec<Change> = baseline.changes.iter().map(|c| c.change).collect();
        assert_eq!(changes, [Change::NewFail, Change::Fixed, Change::New]);
        assert_eq!(baseline.gone.len(), 1);
        assert_eq!(baseline.gone[0].domain, "c.cn");
    }
}
