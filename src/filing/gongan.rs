//! 公安备案号 (public-security filing numbers): `京公网安备 11010502030143号`.
//!
//! Owns their grammar, read with the same tolerance as ICP numbers (white
//! space anywhere, full-width forms, traditional characters such as
//! `粵公網安備…號`):
//!
//! ```text
//! number = province "公网安备" ["案"] ["号"] [":"] 14 digits ["号"]
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::icp;
use super::normalize::Folded;
use super::Found;

/// Number of digits in a 公安备案号.
const DIGITS: usize = 14;

/// `号` (its traditional form 號 is folded to it).
const HAO: [char; 1] = ['号'];

/// A public-security filing number. Two are equal when their 14 digits are
/// (the province character often differs from the ICP one).
///
/// `Display` gives the canonical spelling `京公网安备11010502030143号` with
/// the province character as written; serde uses that string.
#[derive(Debug, Clone)]
pub struct GonganNumber {
    province: char,
    digits: String,
}

/// Why a filed 公安 number could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 公安备案号: {input:?} ({reason})")]
pub struct GonganParseError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl PartialEq for GonganNumber {
    fn eq(&self, other: &Self) -> bool {
        self.digits() == other.digits()
    }
}

impl Eq for GonganNumber {}

impl Hash for GonganNumber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.digits.hash(state);
    }
}

impl GonganNumber {
    /// Parse a whole string as one 公安 number, with ICP-like tolerance.
    ///
    /// Any label before the number is allowed (`公安备案号：`); after it only
    /// white space. The text must hold exactly one number.
    ///
    /// # Errors
    ///
    /// [`GonganParseError`] saying why, when the text is empty, holds no 公安
    /// number, more than one, or text after the number.
    pub fn parse(text: &str) -> Result<GonganNumber, GonganParseError> {
        let error = |reason| GonganParseError {
            input: text.to_owned(),
            reason,
        };
        let folded = Folded::new(text);
        let mut found = folded.scan(match_at);
        let first = match found.len() {
            0 if text.trim().is_empty() => return Err(error("empty")),
            0 => {
                return Err(error(
                    "no 公安备案号 found (expected e.g. 京公网安备11010502030143号)",
                ))
            }
            1 => found.swap_remove(0),
            _ => return Err(error("more than one 公安备案号")),
        };
        let (number, _, end) = first;
        if folded.skip_space(end) < folded.len() {
            return Err(error("unexpected text after the number"));
        }
        Ok(number)
    }

    /// Every 公安 number shown in `text`, in order, with its byte range.
    ///
    /// The range runs from the province character to the last digit or
    /// `号`, in the original text. A run of more than 14 digits is not a
    /// number.
    pub fn find_all(text: &str) -> Vec<Found<GonganNumber>> {
        let folded = Folded::new(text);
        folded
            .scan(match_at)
            .into_iter()
            .map(|(number, first, end)| Found {
                number,
                range: folded.byte_range(first, end),
            })
            .collect()
    }

    /// The 14 digits that identify it.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The province character as written (`京`, `川` …).
    #[must_use]
    pub fn province(&self) -> char {
        self.province
    }
}

impl fmt::Display for GonganNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}公网安备{}号", self.province, self.digits)
    }
}

impl FromStr for GonganNumber {
    type Err = GonganParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GonganNumber::parse(s)
    }
}

impl serde::Serialize for GonganNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GonganNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        GonganNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The number starting at token `i`, and the token index after it.
fn match_at(f: &Folded, i: usize) -> Option<(GonganNumber, usize)> {
    let province = f.at(i).filter(|&c| icp::province(c).is_some())?;
    let mut at = f.eat_word(i + 1, &[&['公'], &['网'], &['安'], &['备']])?;
    at = f.eat_opt(at, &['案']);
    at = f.eat_opt(at, &HAO);
    at = f.eat_opt(at, &[':']);
    let run = f
        .digit_runs(at, DIGITS)
        .into_iter()
        .find(|run| run.digits.len() == DIGITS)?;
    let end = f.eat_any(run.end, &HAO).map_or(run.end, |(_, after)| after);
    let number = GonganNumber {
        province,
        digits: run.digits,
    };
    Some((number, end))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    fn parsed(text: &str) -> Option<String> {
        GonganNumber::parse(text).ok().map(|n| n.to_string())
    }

    #[rstest]
    #[case::canonical("京公网安备11010502030143号", Some("京公网安备11010502030143号"))]
    #[case::spaced_as_shown("京公网安备 11010502030143号", Some("京公网安备11010502030143号"))]
    #[case::spaces_everywhere(
        "京 公 网 安 备 1101 0502 0301 43 号",
        Some("京公网安备11010502030143号")
    )]
    #[case::ideographic_space(
        "京公网安备\u{3000}11010502030143号",
        Some("京公网安备11010502030143号")
    )]
    #[case::fullwidth_digits(
        "京公网安备１１０１０５０２０３０１４３号",
        Some("京公网安备11010502030143号")
    )]
    #[case::hao_missing("京公网安备 11010502030143", Some("京公网安备11010502030143号"))]
    #[case::label(
        "公安备案号：川公网安备 51010702001234号",
        Some("川公网安备51010702001234号")
    )]
    #[case::beian_hao_label("京公网安备案号：11010502030143", Some("京公网安备11010502030143号"))]
    #[case::traditional("京公網安備11010502030143號", Some("京公网安备11010502030143号"))]
    #[case::traditional_province("粵公網安備 44030502001234號", Some("粤公网安备44030502001234号"))]
    #[case::traditional_province_hu(
        "滬公網安備 31010402001234號",
        Some("沪公网安备31010402001234号")
    )]
    #[case::chuan("川公网安备51010702001234号", Some("川公网安备51010702001234号"))]
    #[case::gan("甘公网安备62010202000123号", Some("甘公网安备62010202000123号"))]
    #[case::look_alike("萌公网安备11010502030143号", None)]
    #[case::no_province("公网安备11010502030143号", None)]
    #[case::thirteen_digits("京公网安备1101050203014号", None)]
    #[case::fifteen_digits("京公网安备110105020301434号", None)]
    #[case::icp_number("京ICP备12345678号-1", None)]
    #[case::trailing_text("京公网安备11010502030143号 版权所有", None)]
    #[case::two("京公网安备11010502030143号 京公网安备11010502030144号", None)]
    #[case::empty("  ", None)]
    fn parse_cases(#[case] input: &str, #[case] expected: Option<&str>) {
        assert_eq!(parsed(input).as_deref(), expected);
    }

    #[rstest]
    #[case::in_footer(
        "©2024 某某公司 京ICP备12345678号-1 | 京公网安备 11010502030143号",
        &[("11010502030143", "京公网安备 11010502030143号")]
    )]
    #[case::directly_after_icp(
        "京ICP备12345678号京公网安备11010502030143号",
        &[("11010502030143", "京公网安备11010502030143号")]
    )]
    #[case::year_after("京公网安备 11010502030143 2024", &[("11010502030143", "京公网安备 11010502030143")])]
    #[case::two(
        "京公网安备11010502030143号川公网安备51010702001234号",
        &[("11010502030143", "京公网安备11010502030143号"), ("51010702001234", "川公网安备51010702001234号")]
    )]
    #[case::fullwidth_range(
        "公安备案：京公网安备　１１０１０５０２０３０１４３号。",
        &[("11010502030143", "京公网安备　１１０１０５０２０３０１４３号")]
    )]
    #[case::traditional_footer(
        "粵ICP備12345678號 粵公網安備 44030502001234號",
        &[("44030502001234", "粵公網安備 44030502001234號")]
    )]
    #[case::look_alike("萌公网安备11010502030143号", &[])]
    #[case::run_too_long("京公网安备1101050203014399号", &[])]
    #[case::no_number("京ICP备12345678号-1", &[])]
    fn find_all_cases(#[case] text: &str, #[case] expected: &[(&str, &str)]) {
        let all = GonganNumber::find_all(text);
        let found: Vec<(&str, &str)> = all
            .iter()
            .map(|f| (f.number.digits(), &text[f.range.clone()]))
            .collect();
        assert_eq!(found, expected);
    }

    #[rstest]
    #[case::other_province("川公网安备51010702001234号", "蜀公网安备51010702001234号", true)]
    #[case::spaced("京公网安备 11010502030143号", "京公网安备11010502030143号", true)]
    #[case::other_digits("京公网安备11010502030143号", "京公网安备11010502030144号", false)]
    fn equality_by_digits(#[case] a: &str, #[case] b: &str, #[case] equal: bool) {
        let a = GonganNumber::parse(a).expect("a parses");
        let b = GonganNumber::parse(b).expect("b parses");
        assert_eq!(a == b, equal);
    }

    #[test]
    fn province_is_kept_as_written() {
        let number = GonganNumber::parse("川公网安备 51010702001234号").expect("parses");
        assert_eq!(number.province(), '川');
        assert_eq!(number.digits(), "51010702001234");
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let number = GonganNumber::parse("京公网安备 11010502030143号").expect("parses");
        let json = serde_json::to_string(&number).expect("serialises");
        assert_eq!(json, "\"京公网安备11010502030143号\"");
        let back: GonganNumber = serde_json::from_str("\"京公网安备１１０１０５０２０３０１４３\"")
            .expect("deserialises");
        assert_eq!(back, number);
        assert!(serde_json::from_str::<GonganNumber>("\"京公网安备123号\"").is_err());
    }

    const SPACES: [char; 4] = [' ', '\u{3000}', '\u{a0}', '\n'];

    proptest! {
        #[test]
        fn disguises_never_change_the_number(
            spaces in proptest::collection::vec((0usize..30, 0usize..4), 0..6),
            wide in proptest::collection::vec(any::<bool>(), 20),
        ) {
            let base = "川公网安备51010702001234号";
            let mut chars: Vec<char> = base
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if wide[i % wide.len()] && c.is_ascii_digit() {
                        char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            for &(at, which) in &spaces {
                chars.insert(at % (chars.len() + 1), SPACES[which]);
            }
            let shown: String = chars.into_iter().collect();
            let expected = GonganNumber::parse(base).expect("base parses");
            let parsed = GonganNumber::parse(&shown).expect("disguise parses");
            prop_assert_eq!(parsed.to_string(), base);

            let page = format!("©2020-2024 蜀ICP备12345678号-1 {shown} 版权所有");
            let found = GonganNumber::find_all(&page);
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(&found[0].number, &expected);
            prop_assert_eq!(&page[found[0].range.clone()], shown.trim());
        }

        #[test]
        fn find_all_ranges_are_char_boundaries(text in "\\PC{0,60}") {
            for f in GonganNumber::find_all(&text) {
                prop_assert!(text.get(f.range.clone()).is_some());
            }
        }
    }
}
