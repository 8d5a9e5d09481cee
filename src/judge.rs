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
//!
//! What comes out is a [`JudgedRecord`]: the findings and verdict, with
//! the outcomes they judged. `output` writes it as it is.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::filing::IcpNumber;
use crate::input::{InputError, Record};
use crate::rules::{
    evaluate, registrable_domain, Evidence, Finding, FindingCode, ProviderRanges, ScanFacts,
    TargetOutcome, Verdict,
};

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

/// A record with its judgement: what an output line says, decided.
#[derive(Debug)]
pub struct JudgedRecord {
    /// The domain as the input wrote it (empty when the row had none).
    pub domain: String,
    /// The input's `id`, untouched.
    pub id: Option<serde_json::Value>,
    /// The record's input line.
    pub line: u64,
    /// Every broken rule, in SPEC order.
    pub findings: Vec<Finding>,
    /// What the findings make of the record.
    pub verdict: Verdict,
    /// One outcome per target, in target order (none for a row that could
    /// not be read).
    pub targets: Vec<TargetOutcome>,
    /// From the record's first target's start to its judgement.
    pub elapsed: Duration,
}

impl JudgedRecord {
    /// A row that could not be read: one `input-invalid` finding, no target.
    #[must_use]
    pub fn invalid(invalid: InputError) -> JudgedRecord {
        let finding = Finding::new(
            FindingCode::InputInvalid,
            None,
            Evidence {
                reason: Some(format!("line {}: {}", invalid.line, invalid.reason)),
                ..Evidence::default()
            },
        );
        JudgedRecord {
            domain: invalid.domain.unwrap_or_default(),
            id: invalid.id,
            line: invalid.line,
            verdict: Verdict::Fail,
            findings: vec![finding],
            targets: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }
}

/// Judges finished records, holding those whose subject group is unfinished.
#[derive(Debug, Default)]
pub struct Judge {
    index: ScanIndex,
    /// Subject → its finished records, not yet judged.
    held: HashMap<String, Vec<RecordOutcome>>,
    /// `--provider-ranges`, when given.
    provider: Option<Arc<ProviderRanges>>,
}

impl Judge {
    /// A judge over `index`.
    #[must_use]
    pub fn new(index: ScanIndex) -> Judge {
        Judge {
            index,
            held: HashMap::new(),
            provider: None,
        }
    }

    /// The same judge, also judging every target against the hosting
    /// provider's ranges (`--provider-ranges`; `None`: not judged).
    #[must_use]
    pub fn with_provider_ranges(mut self, ranges: Option<Arc<ProviderRanges>>) -> Judge {
        self.provider = ranges;
        self
    }

    /// Take a finished record; return the records that can be written now.
    pub fn accept(&mut self, done: RecordOutcome) -> Vec<JudgedRecord> {
        let subject = done
            .record
            .icp_number
            .as_ref()
            .map(|n| n.subject().to_string());
        let Some(subject) = subject.filter(|s| self.index.group_size(s) > 1) else {
            let findings = self.findings(&done, &[]);
            return vec![judged(done, findings)];
        };
        let group = self.held.entry(subject.clone()).or_default();
        group.push(done);
        if group.len() < self.index.group_size(&subject) {
            return Vec::new();
        }
        let group = self.held.remove(&subject).unwrap_or_default();
        self.judge_group(group)
    }

    /// Judge every record still held (their groups never completed, e.g. a
    /// group member was skipped by `--resume` or the scan was interrupted).
    pub fn finish(&mut self) -> Vec<JudgedRecord> {
        let held: Vec<Vec<RecordOutcome>> = self.held.drain().map(|(_, g)| g).collect();
        held.into_iter()
            .flat_map(|group| self.judge_group(group))
            .collect()
    }

    /// Judge every record of a subject group, each with the others' renders.
    fn judge_group(&self, group: Vec<RecordOutcome>) -> Vec<JudgedRecord> {
        let findings: Vec<Vec<Finding>> = group.iter().map(|d| self.findings(d, &group)).collect();
        group
            .into_iter()
            .zip(findings)
            .map(|(done, findings)| judged(done, findings))
            .collect()
    }

    /// The findings of `done`, judged with the finished records of its group.
    fn findings(&self, done: &RecordOutcome, group: &[RecordOutcome]) -> Vec<Finding> {
        let facts = Facts {
            index: &self.index,
            group,
            provider: self.provider.as_deref(),
        };
        evaluate(&done.record, &done.outcomes, &facts)
    }
}

/// `done` with its `findings`, judged now.
fn judged(done: RecordOutcome, findings: Vec<Finding>) -> JudgedRecord {
    JudgedRecord {
        domain: done.record.domain,
        id: done.record.id,
        line: done.record.line,
        verdict: Verdict::of(&findings),
        findings,
        targets: done.outcomes,
        elapsed: done.started.elapsed(),
    }
}

/// The scan facts one record is judged with.
struct Facts<'a> {
    index: &'a ScanIndex,
    /// The finished records of the judged record's subject.
    group: &'a [RecordOutcome],
    /// `--provider-ranges`, when given.
    provider: Option<&'a ProviderRanges>,
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

    fn provider_ranges(&self) -> Option<&ProviderRanges> {
        self.provider
    }
}
