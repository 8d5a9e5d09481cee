//! `Shard`: which records this process scans when N processes share one
//! input (a Kubernetes Indexed Job runs one shard a pod).

use super::RecordResult;

/// Shard `index` of `count` (0-based index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's shard, `0..count`.
    pub index: u64,
    /// How many shards share the input.
    pub count: u64,
}

impl Shard {
    /// Every record: one shard of one.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parse `I/N`.
    ///
    /// # Errors
    ///
    /// A message saying why, when the text is not `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text:?}: write it as I/N, e.g. 0/4"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: I is not a number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: N is not a number"))?;
        Shard::new(index, count).ok_or_else(|| format!("--shard {text:?}: need 0 <= I < N"))
    }

    /// `Some` when `index < count`.
    #[must_use]
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (count > 0 && index < count).then_some(Shard { index, count })
    }

    /// Whether this shard scans `item` (a record, or a row that could not
    /// be read: those are reported by exactly one shard too).
    #[must_use]
    pub fn contains(&self, item: &RecordResult) -> bool {
        if self.count == 1 {
            return true;
        }
        let key = match item {
            Ok(record) => record.ascii_domain.clone(),
            Err(invalid) => match &invalid.domain {
                Some(domain) => domain.trim().to_lowercase(),
                None => format!("line:{}", invalid.line),
            },
        };
        fnv1a(key.as_bytes()) % self.count == self.index
    }
}

/// FNV-1a, 64 bits: a fixed, documented hash, so that the same domain lands
/// in the same shard in every process and every release (Rust's
/// `DefaultHasher` promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{InputError, RawRecord};
    use rstest::rstest;

    #[rstest]
    #[case::first("0/4", Some((0, 4)))]
    #[case::last("3/4", Some((3, 4)))]
    #[case::spaces(" 1 / 2 ", Some((1, 2)))]
    #[case::index_too_big("4/4", None)]
    #[case::zero_count("0/0", None)]
    #[case::no_slash("3", None)]
    #[case::negative("-1/4", None)]
    fn parses(#[case] text: &str, #[case] want: Option<(u64, u64)>) {
        assert_eq!(Shard::parse(text).ok().map(|s| (s.index, s.count)), want);
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference ("" and "a").
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn every_item_is_in_exactly_one_shard() {
        let items: Vec<RecordResult> = (0..200)
            .map(|i| {
                if i % 10 == 0 {
                    Err(InputError {
                        line: i,
                        domain: None,
                        id: None,
                        reason: String::new(),
                    })
                } else {
                    RawRecord {
                        domain: Some(format!("site{i}.cn")),
                        ..RawRecord::default()
                    }
                    .validate(i)
                }
            })
            .collect();
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        let mut per_shard = [0; 4];
        for item in &items {
            let owners: Vec<u64> = shards
                .iter()
                .filter(|s| s.contains(item))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{item:?} in shards {owners:?}");
            per_shard[usize::try_from(owners[0]).unwrap()] += 1;
        }
        // A hash that sends everything to one shard would pass the line above.
        assert!(per_shard.iter().all(|&n| n > 20), "{per_shard:?}");
    }
}
