//! `OldIndex`: OLD's records, held compactly while NEW streams past.
//!
//! A million records must fit in little memory, so nothing is kept as a
//! `String` or a `Vec` per record:
//!
//! - one byte arena holds each record's keys back to back: its ASCII
//!   domain, its id (as text), and the domain as written only when it
//!   differs (an IDN);
//! - one fixed 16-byte `Entry` per record: where its bytes and its
//!   findings start, their lengths, the verdict and flags;
//! - findings as one `u32` each in a shared arena: the interned pair
//!   (code, target with the record's domain cut out), so
//!   `http://www.\0/#mobile` + `icp-not-linked` is stored once for the
//!   whole scan and each record's finding costs four bytes;
//! - two sorted `u64` lookup tables, (32-bit hash of the key, entry):
//!   one for domains and one for ids. A lookup binary-searches the hash
//!   and then compares the key's bytes, so hash collisions cost a compare,
//!   never a wrong match.
//!
//! What a record costs is measured by `scripts/diff-million.sh` (README
//! "Week over week").

use std::collections::HashMap;

use super::change::{Change, CodeTarget, RecordChange};
use super::lines::{Key, ScanLine};
use crate::rules::Verdict;

/// `Entry::flags`: the verdict, in the two low bits.
const VERDICT_MASK: u8 = 0b11;
/// `Entry::flags`: the id is a JSON string (else other JSON, as text).
const ID_STRING: u8 = 1 << 2;
/// `Entry::flags`: a NEW record has taken this one.
const MATCHED: u8 = 1 << 3;
/// `Entry::flags`: the domain as written equals the key (no copy kept).
const SHOWN_IS_KEY: u8 = 1 << 4;
/// `Entry::flags`: the record has an id.
const HAS_ID: u8 = 1 << 5;

/// Where the placeholder for the record's domain sits in a stored target.
const DOMAIN_MARK: char = '\0';

/// One OLD record: 16 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Start of its bytes in `OldIndex::bytes`: domain key, id, shown domain.
    bytes: u32,
    /// Start of its pairs in `OldIndex::pairs` (they end where the next
    /// entry's start).
    pairs: u32,
    /// Length of the domain key.
    domain_len: u16,
    /// Length of the id text.
    id_len: u16,
    /// Length of the shown domain (0 with `SHOWN_IS_KEY`).
    shown_len: u16,
    /// Verdict and flags (see the constants).
    flags: u8,
}

/// OLD's records, compactly (see the module doc).
#[derive(Debug, Default)]
pub struct OldIndex {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
    pairs: Vec<u32>,
    /// (hash of the domain key) << 32 | entry, sorted.
    by_domain: Vec<u64>,
    /// (hash of the id) << 32 | entry, sorted; records with an id only.
    by_id: Vec<u64>,
    /// Interned (code, target template) pairs.
    interned: HashMap<(Box<str>, Option<Box<str>>), u32>,
    /// The same, by number.
    pair_names: Vec<(Box<str>, Option<Box<str>>)>,
    /// Records left out because a field would not fit an entry.
    pub oversized: u64,
}

/// What NEW's matching record gets back from OLD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldRecord {
    /// Its OLD verdict.
    pub verdict: Verdict,
    /// Its OLD findings, as (code, target), each once.
    pub findings: Vec<CodeTarget>,
}

impl OldIndex {
    /// Add one OLD record. Call [`OldIndex::finish`] after the last.
    ///
    /// # Panics
    ///
    /// Never on real input: past 4 GiB of keys or 4 billion records or
    /// findings the record is counted in `oversized` and left out.
    pub fn push(&mut self, line: &ScanLine) {
        let key = line.key();
        let id = key.id.as_deref().unwrap_or_default();
        let shown_is_key = line.domain == key.domain;
        let shown = if shown_is_key {
            ""
        } else {
            line.domain.as_str()
        };
        let starts = (
            u32::try_from(self.bytes.len()),
            u32::try_from(self.pairs.len()),
            u32::try_from(self.entries.len()),
        );
        let lengths = (
            u16::try_from(key.domain.len()),
            u16::try_from(id.len()),
            u16::try_from(shown.len()),
        );
        let room = u32::try_from(self.bytes.len() + key.domain.len() + id.len() + shown.len())
            .is_ok()
            && u32::try_from(self.pairs.len() + line.findings.len()).is_ok();
        let (
            (Ok(bytes), Ok(pairs), Ok(entry_no)),
            (Ok(domain_len), Ok(id_len), Ok(shown_len)),
            true,
        ) = (starts, lengths, room)
        else {
            self.oversized += 1;
            return;
        };
        let mut flags = verdict_bits(line.verdict);
        if matches!(line.id, Some(serde_json::Value::String(_))) {
            flags |= ID_STRING;
        }
        if shown_is_key {
            flags |= SHOWN_IS_KEY;
        }
        if key.id.is_some() {
            flags |= HAS_ID;
        }
        let entry = Entry {
            bytes,
            pairs,
            domain_len,
            id_len,
            shown_len,
            flags,
        };
        self.bytes.extend_from_slice(key.domain.as_bytes());
        self.bytes.extend_from_slice(id.as_bytes());
        self.bytes.extend_from_slice(shown.as_bytes());
        let start = self.pairs.len();
        for finding in &line.findings {
            let pair = self.intern(finding, &key.domain);
            if !self.pairs[start..].contains(&pair) {
                self.pairs.push(pair);
            }
        }
        self.by_domain
            .push(u64::from(hash32(&key.domain)) << 32 | u64::from(entry_no));
        if key.id.is_some() {
            self.by_id
                .push(u64::from(hash32(id)) << 32 | u64::from(entry_no));
        }
        self.entries.push(entry);
    }

    /// Sort the lookup tables and give back spare capacity; the index is
    /// then ready for [`OldIndex::take`].
    pub fn finish(&mut self) {
        self.by_domain.sort_unstable();
        self.by_id.sort_unstable();
        self.entries.shrink_to_fit();
        self.bytes.shrink_to_fit();
        self.pairs.shrink_to_fit();
        self.by_domain.shrink_to_fit();
        self.by_id.shrink_to_fit();
    }

    /// How many records it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes its tables take on the heap (the interned pairs, a few
    /// hundred for a whole scan, aside).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.bytes.capacity()
            + self.pairs.capacity() * 4
            + (self.by_domain.capacity() + self.by_id.capacity()) * 8
    }

    /// Take the OLD record matching `key`, if an untaken one does: by id
    /// where both have one, else by ASCII domain (a NEW record without an
    /// id prefers an OLD one without an id). Each OLD record is taken once.
    pub fn take(&mut self, key: &Key) -> Option<OldRecord> {
        let found = match &key.id {
            Some(id) => self
                .find(&self.by_id, id, |e, s| s.id(e) == id.as_bytes())
                .or_else(|| {
                    self.find(&self.by_domain, &key.domain, |e, s| {
                        e.flags & HAS_ID == 0 && s.domain(e) == key.domain.as_bytes()
                    })
                }),
            None => self
                .find(&self.by_domain, &key.domain, |e, s| {
                    e.flags & HAS_ID == 0 && s.domain(e) == key.domain.as_bytes()
                })
                .or_else(|| {
                    self.find(&self.by_domain, &key.domain, |e, s| {
                        s.domain(e) == key.domain.as_bytes()
                    })
                }),
        }?;
        self.entries[found].flags |= MATCHED;
        let entry = self.entries[found];
        Some(OldRecord {
            verdict: verdict_of(entry.flags),
            findings: self.findings(found),
        })
    }

    /// The OLD records no NEW record took, in OLD's order, as `gone` lines.
    pub fn gone(&self) -> impl Iterator<Item = RecordChange> + '_ {
        (0..self.entries.len())
            .filter(|&i| self.entries[i].flags & MATCHED == 0)
            .map(|i| {
                let entry = &self.entries[i];
                let was = verdict_of(entry.flags);
                RecordChange {
                    domain: self.shown(entry),
                    id: self.id_value(entry),
                    change: Change::Gone,
                    verdict: None,
                    was: Some(was),
                    added: Vec::new(),
                    removed: self.findings(i),
                }
            })
    }

    /// The first untaken entry in `table` under `text`'s hash for which
    /// `same` holds.
    fn find(
        &self,
        table: &[u64],
        text: &str,
        same: impl Fn(&Entry, &OldIndex) -> bool,
    ) -> Option<usize> {
        let hash = u64::from(hash32(text)) << 32;
        let first = table.partition_point(|&v| v < hash);
        table[first..]
            .iter()
            .take_while(|&&v| v & !u64::from(u32::MAX) == hash)
            .map(|&v| usize::try_from(v & u64::from(u32::MAX)).unwrap_or(usize::MAX))
            .find(|&i| {
                let entry = &self.entries[i];
                entry.flags & MATCHED == 0 && same(entry, self)
            })
    }

    /// Entry `i`'s findings, targets with its domain put back.
    fn findings(&self, i: usize) -> Vec<CodeTarget> {
        let entry = &self.entries[i];
        let end = self
            .entries
            .get(i + 1)
            .map_or(self.pairs.len(), |next| next.pairs as usize);
        let domain = String::from_utf8_lossy(self.domain(entry));
        self.pairs[entry.pairs as usize..end]
            .iter()
            .map(|&pair| {
                let (code, template) = &self.pair_names[pair as usize];
                CodeTarget {
                    code: code.to_string(),
                    target: template
                        .as_deref()
                        .map(|t| t.replacen(DOMAIN_MARK, &domain, 1)),
                }
            })
            .collect()
    }

    fn domain(&self, entry: &Entry) -> &[u8] {
        let start = entry.bytes as usize;
        &self.bytes[start..start + usize::from(entry.domain_len)]
    }

    fn id(&self, entry: &Entry) -> &[u8] {
        let start = entry.bytes as usize + usize::from(entry.domain_len);
        &self.bytes[start..start + usize::from(entry.id_len)]
    }

    /// The domain as OLD wrote it.
    fn shown(&self, entry: &Entry) -> String {
        if entry.flags & SHOWN_IS_KEY != 0 {
            return String::from_utf8_lossy(self.domain(entry)).into_owned();
        }
        let start =
            entry.bytes as usize + usize::from(entry.domain_len) + usize::from(entry.id_len);
        String::from_utf8_lossy(&self.bytes[start..start + usize::from(entry.shown_len)])
            .into_owned()
    }

    /// The id as OLD wrote it: a string, or the JSON its text is.
    fn id_value(&self, entry: &Entry) -> Option<serde_json::Value> {
        if entry.flags & HAS_ID == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(self.id(entry)).into_owned();
        if entry.flags & ID_STRING != 0 {
            return Some(serde_json::Value::String(text));
        }
        Some(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// The number of `finding` with its target's `domain` cut out.
    fn intern(&mut self, finding: &CodeTarget, domain: &str) -> u32 {
        let template = finding
            .target
            .as_deref()
            .map(|t| template(t, domain).into_boxed_str());
        let key = (finding.code.as_str().into(), template);
        if let Some(&n) = self.interned.get(&key) {
            return n;
        }
        let n = u32::try_from(self.pair_names.len()).unwrap_or(u32::MAX);
        self.pair_names.push(key.clone());
        self.interned.insert(key, n);
        n
    }
}

/// `target` with the record's `domain` in its host replaced by
/// [`DOMAIN_MARK`] (`https://www.a.cn/#mobile` → `https://www.\0/#mobile`),
/// so that one template serves every record; unchanged when its host is
/// not the domain or a name under it.
fn template(target: &str, domain: &str) -> String {
    let Some(scheme_end) = target.find("://") else {
        return target.to_owned();
    };
    let host_start = scheme_end + 3;
    let host_end = target[host_start..]
        .find(['/', ':', '#', '?'])
        .map_or(target.len(), |i| host_start + i);
    let host = &target[host_start..host_end];
    let under = host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.';
    if domain.is_empty() || target.contains(DOMAIN_MARK) || !(host == domain || under) {
        return target.to_owned();
    }
    let at = host_end - domain.len();
    format!("{}{DOMAIN_MARK}{}", &target[..at], &target[host_end..])
}

fn verdict_bits(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => 0,
        Verdict::Fail => 1,
        Verdict::Error => 2,
    }
}

fn verdict_of(flags: u8) -> Verdict {
    match flags & VERDICT_MASK {
        0 => Verdict::Pass,
        1 => Verdict::Fail,
        _ => Verdict::Error,
    }
}

/// FNV-1a of `text`, folded to 32 bits: a fixed function, so two runs agree.
fn hash32(text: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from((hash ^ (hash >> 32)) & u64::from(u32::MAX)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn pair(code: &str, target: Option<&str>) -> CodeTarget {
        CodeTarget {
            code: code.to_owned(),
            target: target.map(str::to_owned),
        }
    }

    fn line(domain: &str, id: Option<serde_json::Value>, verdict: Verdict) -> ScanLine {
        ScanLine {
            domain: domain.to_owned(),
            id,
            line: Some(2),
            verdict,
            findings: Vec::new(),
        }
    }

    fn index(lines: &[ScanLine]) -> OldIndex {
        let mut index = OldIndex::default();
        for line in lines {
            index.push(line);
        }
        index.finish();
        index
    }

    #[rstest]
    #[case::apex("https://a.cn/#desktop", "a.cn", "https://\0/#desktop")]
    #[case::www("https://www.a.cn/#mobile", "a.cn", "https://www.\0/#mobile")]
    #[case::port("http://m.a.cn:8080/#mobile", "a.cn", "http://m.\0:8080/#mobile")]
    #[case::other_host("https://b.cn/#desktop", "a.cn", "https://b.cn/#desktop")]
    #[case::suffix_not_a_label("https://data.cn/#desktop", "a.cn", "https://data.cn/#desktop")]
    #[case::not_a_url("the record", "a.cn", "the record")]
    fn targets_become_templates(#[case] target: &str, #[case] domain: &str, #[case] want: &str) {
        assert_eq!(template(target, domain), want);
        assert_eq!(want.replacen(DOMAIN_MARK, domain, 1), target);
    }

    #[test]
    fn findings_come_back_whole_and_pairs_are_shared() {
        let mut a = line("a.cn", None, Verdict::Fail);
        a.findings = vec![
            pair("icp-not-linked", Some("https://www.a.cn/#mobile")),
            pair("icp-not-linked", Some("https://www.a.cn/#mobile")),
            pair("name-restricted-keyword", None),
        ];
        let mut b = line("例子.中国", Some(serde_json::json!(7)), Verdict::Fail);
        b.findings = vec![pair(
            "icp-not-linked",
            Some("https://www.xn--fsqu00a.xn--fiqs8s/#mobile"),
        )];
        let mut old = index(&[a, b]);
        assert_eq!(old.pair_names.len(), 2, "one template for both records");
        let got = old.take(&line("a.cn", None, Verdict::Pass).key()).unwrap();
        assert_eq!(got.verdict, Verdict::Fail);
        assert_eq!(
            got.findings,
            [
                pair("icp-not-linked", Some("https://www.a.cn/#mobile")),
                pair("name-restricted-keyword", None)
            ]
        );
        let gone: Vec<RecordChange> = old.gone().collect();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].domain, "例子.中国");
        assert_eq!(gone[0].id, Some(serde_json::json!(7)));
        assert_eq!(
            gone[0].removed,
            [pair(
                "icp-not-linked",
                Some("https://www.xn--fsqu00a.xn--fiqs8s/#mobile")
            )]
        );
    }

    #[rstest]
    // OLD (domain, id, verdict) records; NEW (domain, id): which OLD it takes.
    #[case::by_domain(&[("a.cn", None)], ("a.cn", None), Some(0))]
    #[case::by_id(&[("a.cn", Some("1"))], ("b.cn", Some("1")), Some(0))]
    #[case::ids_differ(&[("a.cn", Some("1"))], ("a.cn", Some("2")), None)]
    #[case::new_id_old_none(&[("a.cn", None)], ("a.cn", Some("1")), Some(0))]
    #[case::new_none_old_id(&[("a.cn", Some("1"))], ("a.cn", None), Some(0))]
    #[case::prefers_no_id(&[("a.cn", Some("1")), ("a.cn", None)], ("a.cn", None), Some(1))]
    #[case::id_before_domain(&[("a.cn", None), ("b.cn", Some("1"))], ("a.cn", Some("1")), Some(1))]
    #[case::idn_by_ascii(&[("xn--fsqu00a.xn--fiqs8s", None)], ("例子.中国", None), Some(0))]
    #[case::number_and_string_ids(&[("a.cn", Some("42"))], ("z.cn", Some("42")), Some(0))]
    #[case::none(&[("a.cn", None)], ("b.cn", None), None)]
    fn records_match(
        #[case] old: &[(&str, Option<&str>)],
        #[case] new: (&str, Option<&str>),
        #[case] want: Option<usize>,
    ) {
        let old_lines: Vec<ScanLine> = old
            .iter()
            .enumerate()
            .map(|(i, (domain, id))| {
                let mut l = line(domain, id.map(|s| serde_json::json!(s)), Verdict::Pass);
                // Tell them apart by their findings.
                l.findings = vec![pair(&format!("n{i}"), None)];
                l
            })
            .collect();
        let mut old_index = index(&old_lines);
        let key = line(new.0, new.1.map(|s| serde_json::json!(s)), Verdict::Pass).key();
        let got = old_index.take(&key).map(|r| {
            r.findings[0]
                .code
                .trim_start_matches('n')
                .parse::<usize>()
                .unwrap()
        });
        assert_eq!(got, want);
    }

    #[test]
    fn each_old_record_is_taken_once() {
        let mut old = index(&[
            line("a.cn", None, Verdict::Pass),
            line("a.cn", None, Verdict::Fail),
        ]);
        let key = line("a.cn", None, Verdict::Pass).key();
        assert_eq!(old.take(&key).map(|r| r.verdict), Some(Verdict::Pass));
        assert_eq!(old.take(&key).map(|r| r.verdict), Some(Verdict::Fail));
        assert_eq!(old.take(&key), None);
        assert_eq!(old.gone().count(), 0);
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_their_bytes() {
        // Two real domains with the same 32-bit hash (a birthday search
        // over a few hundred thousand names finds some).
        let mut seen = HashMap::new();
        let (a, b) = (0..400_000)
            .map(|i| format!("site{i}.cn"))
            .find_map(|name| {
                let hash = hash32(&name);
                seen.insert(hash, name.clone()).map(|other| (other, name))
            })
            .expect("a collision among 400,000 names");
        assert_eq!(hash32(&a), hash32(&b));
        let mut old = index(&[line(&a, None, Verdict::Fail)]);
        assert_eq!(old.take(&line(&b, None, Verdict::Pass).key()), None);
        assert!(old.take(&line(&a, None, Verdict::Pass).key()).is_some());
    }
}
