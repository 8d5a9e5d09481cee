//! What changed for one record between two scans: the `change` kind, from
//! the two verdicts, and the (code, target) pairs added and removed.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::rules::Verdict;

/// How a record changed between OLD and NEW (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Passed in OLD; fails (or errs) in NEW.
    NewFail,
    /// Failed (or erred) in OLD; passes in NEW.
    Fixed,
    /// Failed (or erred) in both.
    StillFail,
    /// Only in NEW.
    New,
    /// Only in OLD.
    Gone,
    /// Passed in both.
    Unchanged,
}

impl Change {
    /// Every change, in the order summaries list them.
    pub const ALL: [Change; 6] = [
        Change::NewFail,
        Change::Fixed,
        Change::StillFail,
        Change::New,
        Change::Gone,
        Change::Unchanged,
    ];

    /// The wire name (`new-fail` …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewFail => "new-fail",
            Change::Fixed => "fixed",
            Change::StillFail => "still-fail",
            Change::New => "new",
            Change::Gone => "gone",
            Change::Unchanged => "unchanged",
        }
    }

    /// The change of a record whose OLD verdict was `was` and NEW verdict
    /// is `now` (`None`: not in that scan).
    ///
    /// `error` (the crawler could not judge) counts with `fail`, as SPEC's
    /// `new-fail` (pass → fail or error) and `fixed` (fail or error → pass)
    /// say; so a record that failed once and could not be judged the other
    /// time is `still-fail`: nothing shows it passes.
    #[must_use]
    pub fn classify(was: Option<Verdict>, now: Option<Verdict>) -> Change {
        let passes = |v: Verdict| v == Verdict::Pass;
        match (was, now) {
            (None, _) => Change::New,
            (Some(_), None) => Change::Gone,
            (Some(was), Some(now)) => match (passes(was), passes(now)) {
                (true, true) => Change::Unchanged,
                (true, false) => Change::NewFail,
                (false, true) => Change::Fixed,
                (false, false) => Change::StillFail,
            },
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finding reduced to what `diff` compares: its code and its target
/// (`None` for a record-level finding).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CodeTarget {
    /// The finding code, as written (codes of other versions are kept).
    pub code: String,
    /// The finding's target label; null for record-level findings.
    #[serde(default)]
    pub target: Option<String>,
}

/// One output line of `beian-audit diff` (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordChange {
    /// The domain as the input wrote it (NEW's; OLD's for `gone`).
    pub domain: String,
    /// The record's `id` (NEW's; OLD's for `gone`); null when absent.
    pub id: Option<serde_json::Value>,
    /// How it changed.
    pub change: Change,
    /// Its verdict in NEW; null for `gone`.
    pub verdict: Option<Verdict>,
    /// Its verdict in OLD; null for `new`.
    pub was: Option<Verdict>,
    /// (code, target) pairs in NEW and not in OLD, in NEW's order.
    pub added: Vec<CodeTarget>,
    /// (code, target) pairs in OLD and not in NEW, in OLD's order.
    pub removed: Vec<CodeTarget>,
}

/// The pairs only in `new` (added) and only in `old` (removed), each once,
/// in their list's order.
#[must_use]
pub fn compare(old: &[CodeTarget], new: &[CodeTarget]) -> (Vec<CodeTarget>, Vec<CodeTarget>) {
    let olds: HashSet<&CodeTarget> = old.iter().collect();
    let news: HashSet<&CodeTarget> = new.iter().collect();
    (only(new, &olds), only(old, &news))
}

/// The items of `list` not in `other`, each once, in order.
fn only(list: &[CodeTarget], other: &HashSet<&CodeTarget>) -> Vec<CodeTarget> {
    let mut seen = HashSet::new();
    list.iter()
        .filter(|p| !other.contains(p) && seen.insert(*p))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use Verdict::{Error, Fail, Pass};

    #[rstest]
    #[case::pass_pass(Some(Pass), Some(Pass), Change::Unchanged)]
    #[case::pass_fail(Some(Pass), Some(Fail), Change::NewFail)]
    #[case::pass_error(Some(Pass), Some(Error), Change::NewFail)]
    #[case::fail_pass(Some(Fail), Some(Pass), Change::Fixed)]
    #[case::error_pass(Some(Error), Some(Pass), Change::Fixed)]
    #[case::fail_fail(Some(Fail), Some(Fail), Change::StillFail)]
    #[case::fail_error(Some(Fail), Some(Error), Change::StillFail)]
    #[case::error_fail(Some(Error), Some(Fail), Change::StillFail)]
    #[case::error_error(Some(Error), Some(Error), Change::StillFail)]
    #[case::new_pass(None, Some(Pass), Change::New)]
    #[case::new_fail(None, Some(Fail), Change::New)]
    #[case::gone_pass(Some(Pass), None, Change::Gone)]
    #[case::gone_fail(Some(Fail), None, Change::Gone)]
    fn changes_from_verdicts(
        #[case] was: Option<Verdict>,
        #[case] now: Option<Verdict>,
        #[case] want: Change,
    ) {
        assert_eq!(Change::classify(was, now), want);
    }

    #[test]
    fn wire_names_are_spec_strings() {
        for change in Change::ALL {
            assert_eq!(serde_json::to_value(change).unwrap(), change.as_str());
        }
    }

    fn pair(code: &str, target: Option<&str>) -> CodeTarget {
        CodeTarget {
            code: code.to_owned(),
            target: target.map(str::to_owned),
        }
    }

    const M: Option<&str> = Some("https://www.a.cn/#mobile");
    const D: Option<&str> = Some("https://www.a.cn/#desktop");

    #[rstest]
    #[case::same(vec![pair("icp-not-linked", M)], vec![pair("icp-not-linked", M)], vec![], vec![])]
    #[case::code_changed(
        vec![pair("icp-not-linked", M)],
        vec![pair("icp-link-wrong-url", M)],
        vec![pair("icp-link-wrong-url", M)],
        vec![pair("icp-not-linked", M)]
    )]
    #[case::target_changed(
        vec![pair("icp-not-linked", M)],
        vec![pair("icp-not-linked", D), pair("icp-not-linked", M)],
        vec![pair("icp-not-linked", D)],
        vec![]
    )]
    #[case::record_level(
        vec![pair("name-restricted-keyword", None)],
        vec![],
        vec![],
        vec![pair("name-restricted-keyword", None)]
    )]
    #[case::repeats_once(
        vec![],
        vec![pair("ip-not-filed", M), pair("ip-not-filed", M)],
        vec![pair("ip-not-filed", M)],
        vec![]
    )]
    fn pairs_added_and_removed(
        #[case] old: Vec<CodeTarget>,
        #[case] new: Vec<CodeTarget>,
        #[case] added: Vec<CodeTarget>,
        #[case] removed: Vec<CodeTarget>,
    ) {
        assert_eq!(compare(&old, &new), (added, removed));
    }
}
