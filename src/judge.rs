//! Judging finished records with what the whole scan knows.
//!
//! Two rules look beyond one record (SPEC §1): a site that redirects to
//! another filed domain must show *that* record's number, and a subject
//! number alone is accepted on a page that several records of the same
//! subject land on. The first needs the scan's records (an index built by
//! a pre-pass over the input file); the second needs the other records'
//! renders, so a record whose subject is shared is held until every record
//! of its subject has finished, then all are judged together. Records of an
//! unshared subject are judged and written at once.

use std::collections::HashMap;
use std::time::Instant;

use crate::filing::IcpNumber;
use crate::input::Record;
use crate::output::wire::millis;
use crate::output::{RecordReport, TargetReport};
use crate::rules::{evaluate, registrable_domain, ScanFacts, TargetOutcome, Verdict};

/// What the scan's input files: built before scanning, when the input is a
/// file that can be read twice.
#[derive(Debug, Default)]
pub struct ScanIndex {
    /// Registrable domain → filed number.
    filed: HashMap<String, IcpNumber>,
    /// Subject number (canonical) → records of it that this process scans.
    subjects: HashMap<String, usize>,
}

impl ScanIndex {
    /// Note a record of the input; `scanned` when this process scans it
    /// (its shard), so that held groups wait only for records that come.
    pub fn add(&mut self, record: &Record, scanned: bool) {
        let Some(number) = &record.icp_number else {
            return;
        };
        self.filed
            .entry(registrable_domain(&record.ascii_domain))
            .or_insert_with(|| number.clone());
        if scanned {
            *self
                .subjects
                .entry(number.subject().to_string())
                .or_default() += 1;
        }
    }

    fn group_size(&self, subject: &str) -> usize {
        self.subjects.get(subject).copied().unwrap_or(0)
    }
}

/// A record whose targets have all been rendered.
#[derive(Debug)]
pub struct RecordOutcome {
    /// The record.
    pub record: Record,
    /// One outcome per target, in target order.
    pub outcomes: Vec<TargetOutcome>,
    /// When its first target started.
    pub started: Instant,
}

/// Judges finished records, holding those whose subject group is unfinished.
#[derive(Debug, Default)]
pub struct Judge {
    index: ScanIndex,
    /// Subject → its finished records, not yet judged.
    held: HashMap<String, Vec<RecordOutcome>>,
}

impl Judge {
    /// A judge over `index`.
    #[must_use]
    pub fn new(index: ScanIndex) -> Judge {
        Judge {
            index,
            held: HashMap::new(),
        }
    }

    /// Take a finished record; return the reports that can be written now.
    pub fn accept(&mut self, done: RecordOutcome) -> Vec<RecordReport> {
        let subject = done
            .record
            .icp_number
            .as_ref()
            .map(|n| n.subject().to_string());
        let Some(subject) = subject.filter(|s| self.index.group_size(s) > 1) else {
            return vec![self.report(&done, &[])];
        };
        let group = self.held.entry(subject.clone()).or_default();
        group.push(done);
        if group.len() < self.index.group_size(&subject) {
            return Vec::new();
        }
        let group = self.held.remove(&subject).unwrap_or_default();
        group.iter().map(|d| self.report(d, &group)).collect()
    }

    /// Judge every record still held (their groups never completed, e.g. a
    /// group member was skipped by `--resume` or the scan was interrupted).
    pub fn finish(&mut self) -> Vec<RecordReport> {
        let held: Vec<Vec<RecordOutcome>> = self.held.drain().map(|(_, g)| g).collect();
        held.iter()
            .flat_map(|group| group.iter().map(|d| self.report(d, group)))
            .collect()
    }

    fn report(&self, done: &RecordOutcome, group: &[RecordOutcome]) -> RecordReport {
        let facts = Facts {
            index: &self.index,
            group,
        };
        let findings = evaluate(&done.record, &done.outcomes, &facts);
        RecordReport {
            domain: done.record.domain.clone(),
            id: done.record.id.clone(),
            line: done.record.line,
            verdict: Verdict::of(&findings),
            findings,
            targets: done
                .outcomes
                .iter()
                .map(TargetReport::from_outcome)
                .collect(),
            elapsed_ms: millis(done.started.elapsed()),
        }
    }
}

/// The scan facts one record is judged with.
struct Facts<'a> {
    index: &'a ScanIndex,
    /// The finished records of the judged record's subject.
    group: &'a [RecordOutcome],
}

impl ScanFacts for Facts<'_> {
    fn filed_number(&self, registrable_domain: &str) -> Option<IcpNumber> {
        self.index.filed.get(registrable_domain).cloned()
    }

    fn subject_shares_page(&self, subject: &IcpNumber, domain: &str, final_url: &str) -> bool {
        self.group.iter().any(|other| {
            other.record.domain != domain
                && other
                    .record
                    .icp_number
                    .as_ref()
                    .is_some_and(|n| n.subject() == *subject)
                && other
                    .outcomes
                    .iter()
                    .any(|o| o.result.as_ref().is_ok_and(|p| p.final_url == final_url))
        })
    }
}
