//! ICP numbers (ICP备 filing numbers and licence forms): parsing and
//! recognition in page text.
//!
//! Owns the grammar of every form in SPEC §1 and its tolerances. Both
//! [`IcpNumber::parse`] and [`IcpNumber::find_all`] run the same scanner over
//! `Folded` text, so what a record files and what a page shows are read
//! by one set of rules:
//!
//! ```text
//! number   = region form serial tail
//! region   = province | "合字"            (合字 only before B1/B2)
//! form     = "ICP" ("备" ["案" ["号"]] | "证") [":"]  |  "B" ("1" | "2") ["-"]
//! serial   = 6 to 12 digits               (white space between digits allowed)
//! tail     = ["号"] [suffix]  |  suffix ["号"]
//! suffix   = "-" 1 to 3 digits [letter]   (-1, -2A, -3X, -4K)
//! ```
//!
//! White space may stand between any two symbols but the suffix digits and
//! their letter, letters and digits may be full-width, `icp` may be lower
//! case, and any dash style is a dash.
//!
//! Judgement calls where SPEC is silent:
//!
//! - When white space leaves a serial's end open (`京ICP备12345678 2024`,
//!   no `号`), the reading closed by `号` wins, then one closed by a suffix,
//!   then one of the length the form is issued with (8 or 10 for ICP备, 6
//!   for ICP证, 8 for B1/B2), then the longest.
//! - A suffix's letter counts only when written right after the digits
//!   and not followed by another letter or digit: `-2A`, `-2A 版权所有`,
//!   `-3X。`, but not the `E` of `-1 E-mail` or `-1Email` (the words a
//!   footer goes on with). Suffix digits drop leading zeros (`-01` is
//!   `-1`).
//! - Traditional characters read as simplified (`滬ICP備12345678號` is
//!   `沪ICP备12345678号`; the one table is `normalize::TRADITIONAL`), and
//!   `京ICP备案号：` before the serial as `京ICP备`.
//! - `parse` takes any label before the number and nothing but white space
//!   after it.

use std::fmt;
use std::str::FromStr;

use super::normalize::{DigitRun, Folded, SPACE};
use super::Found;

/// Province characters ICP numbers are issued with, then the ones pages show
/// instead (川 贵 云 甘 for 蜀 黔 滇 陇). Each is kept as written: 川 never
/// equals 蜀.
const PROVINCES: [&str; 35] = [
    "京", "津", "冀", "晋", "蒙", "辽", "吉", "黑", "沪", "苏", "浙", "皖", "闽", "赣", "鲁", "豫",
    "鄂", "湘", "粤", "桂", "琼", "渝", "蜀", "黔", "滇", "藏", "陕", "陇", "青", "宁", "新", "川",
    "贵", "云", "甘",
];

/// The region of joint-venture telecom licences (`合字B2-20170010`).
const JOINT: &str = "合字";

/// Fewest serial digits recognised (licences have 6, filings 8 or 10).
const MIN_SERIAL: usize = 6;

/// Most serial digits recognised.
const MAX_SERIAL: usize = 12;

/// Most digits in a service suffix (`-1`, `-12`, `-123`).
const MAX_SUFFIX_DIGITS: usize = 3;

/// `号` (its traditional form 號 is folded to it).
const HAO: [char; 1] = ['号'];

/// The canonical province string for `c`, if it is a province character.
pub(crate) fn province(c: char) -> Option<&'static str> {
    PROVINCES.iter().copied().find(|p| p.starts_with(c))
}

/// Which form of number it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcpKind {
    /// A filing (备案) number: `京ICP备12345678号`.
    Filing,
    /// An ICP operating licence (ICP证): `京ICP证030173号`.
    IcpLicence,
    /// A first-category value-added telecom licence: `京B1-20090001`.
    B1,
    /// A second-category value-added telecom licence: `粤B2-20090059`.
    B2,
}

/// A parsed ICP filing or licence number, in canonical form.
///
/// `Display` gives the canonical spelling (`京ICP备12345678号-1`,
/// `京ICP证030173号-1`, `粤B2-20090059-5`); serde uses that string.
/// Equality is on the canonical fields: region as written (川 ≠ 蜀), form,
/// serial (leading zeros kept), and service suffix (leading zeros dropped,
/// letter upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IcpNumber {
    region: &'static str,
    kind: IcpKind,
    serial: String,
    suffix: Option<String>,
}

/// Why a filed ICP number could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ICP number: {input:?} ({reason})")]
pub struct IcpParseError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl IcpNumber {
    /// Parse a whole string as one ICP number (the form a record files),
    /// with every tolerance of SPEC §1 (spaces, full-width, dash styles,
    /// lower case, prefixes like `备案号：`).
    ///
    /// Any label before the number is allowed (`ICP备案号：`,
    /// `网站备案/许可证号：`); after it only white space. The text must hold
    /// exactly one number.
    ///
    /// # Errors
    ///
    /// [`IcpParseError`] saying why, when the text holds no ICP number (or
    /// a malformed one), more than one, or text after the number.
    pub fn parse(text: &str) -> Result<IcpNumber, IcpParseError> {
        let error = |reason| IcpParseError {
            input: text.to_owned(),
            reason,
        };
        let folded = Folded::new(text);
        let mut found = folded.scan(match_at);
        let first = match found.len() {
            0 => return Err(error(why_not_found(text))),
            1 => found.swap_remove(0),
            _ => return Err(error("more than one ICP number")),
        };
        let (number, _, end) = first;
        if folded.skip_space(end) < folded.len() {
            return Err(error("unexpected text after the number"));
        }
        Ok(number)
    }

    /// Every ICP number shown in `text`, in order, with its byte range.
    ///
    /// The range covers the number from its province character to its last
    /// character (`号` or the suffix), in the original text. A number must
    /// start with a province character (or `合字` before `B1`/`B2`), so
    /// look-alikes such as `萌ICP备12345678号` are not found. Neighbouring
    /// text is never swallowed: a digit run is never split, a suffix is at
    /// most three digits and a letter, and a year range such as `2020-2024`
    /// is not a suffix.
    pub fn find_all(text: &str) -> Vec<Found<IcpNumber>> {
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

    /// The subject (主体) number: this number without its `-n` service suffix.
    #[must_use]
    pub fn subject(&self) -> IcpNumber {
        IcpNumber {
            suffix: None,
            ..self.clone()
        }
    }

    /// Whether this is a service number (has a `-n` suffix).
    #[must_use]
    pub fn is_service(&self) -> bool {
        self.suffix.is_some()
    }

    /// Whether this is a licence-form number (`…ICP证…`, `…B2-…`).
    #[must_use]
    pub fn is_licence(&self) -> bool {
        self.kind != IcpKind::Filing
    }

    /// The region prefix as written canonically: one province character
    /// (`京`, `川` …) or `合字`.
    #[must_use]
    pub fn region(&self) -> &str {
        self.region
    }

    /// The province character, or `None` for `合字` numbers.
    #[must_use]
    pub fn province(&self) -> Option<char> {
        if self.region == JOINT {
            None
        } else {
            self.region.chars().next()
        }
    }

    /// Which form of number this is.
    #[must_use]
    pub fn kind(&self) -> IcpKind {
        self.kind
    }

    /// The serial digits, as written (`12345678`, `030173`, `20090059`).
    #[must_use]
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The service suffix without its dash (`1`, `2A`), if any.
    #[must_use]
    pub fn suffix(&self) -> Option<&str> {
        self.suffix.as_deref()
    }
}

impl fmt::Display for IcpNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (region, serial) = (self.region, &self.serial);
        match self.kind {
            IcpKind::Filing => write!(f, "{region}ICP备{serial}号")?,
            IcpKind::IcpLicence => write!(f, "{region}ICP证{serial}号")?,
            IcpKind::B1 => write!(f, "{region}B1-{serial}")?,
            IcpKind::B2 => write!(f, "{region}B2-{serial}")?,
        }
        if let Some(suffix) = &self.suffix {
            write!(f, "-{suffix}")?;
        }
        Ok(())
    }
}

impl FromStr for IcpNumber {
    type Err = IcpParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IcpNumber::parse(s)
    }
}

impl serde::Serialize for IcpNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IcpNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        IcpNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The most helpful reason when `text` holds no number.
fn why_not_found(text: &str) -> &'static str {
    const GENERIC: &str = "no ICP number found (expected e.g. 京ICP备12345678号-1)";
    let folded = Folded::new(text);
    if folded.skip_space(0) == folded.len() {
        return "empty";
    }
    let icp = (0..folded.len()).find(|&i| {
        folded.at(i) == Some('I') && folded.eat_word(i, &[&['I'], &['C'], &['P']]).is_some()
    });
    let Some(icp) = icp else {
        return GENERIC;
    };
    match (0..icp)
        .rev()
        .find_map(|j| folded.at(j).filter(|&c| c != SPACE))
    {
        None => "no province character before ICP",
        Some(c) if province(c).is_none() && c != '字' => {
            "the character before ICP is not a province character"
        }
        Some(_) => GENERIC,
    }
}

/// What follows a serial: `号` and a service suffix, in either order.
#[derive(Debug, Clone)]
struct Tail {
    suffix: Option<String>,
    hao: bool,
    end: usize,
}

/// The number starting at token `i`, and the token index after it.
fn match_at(f: &Folded, i: usize) -> Option<(IcpNumber, usize)> {
    let (region, after_region) = region_at(f, i)?;
    let (kind, serial_at) = form_at(f, after_region, region == JOINT)?;
    let (run, tail) = f
        .digit_runs(serial_at, MAX_SERIAL)
        .into_iter()
        .filter(|run| run.digits.len() >= MIN_SERIAL)
        .map(|run| {
            let tail = tail_at(f, run.end);
            (run, tail)
        })
        .max_by_key(|(run, tail)| (score(kind, run, tail), run.digits.len()))?;
    let number = IcpNumber {
        region,
        kind,
        serial: run.digits,
        suffix: tail.suffix,
    };
    Some((number, tail.end))
}

/// How well a candidate serial ends, when white space leaves the serial's
/// length open (`京ICP备12345678 2024`): closed by `号` best, then by a
/// suffix, then a length the form is issued with; ties go to the longer.
fn score(kind: IcpKind, run: &DigitRun, tail: &Tail) -> u8 {
    let len = run.digits.len();
    let usual = match kind {
        IcpKind::Filing => len == 8 || len == 10,
        IcpKind::IcpLicence => len == 6,
        IcpKind::B1 | IcpKind::B2 => len == 8,
    };
    if tail.hao {
        3
    } else if tail.suffix.is_some() {
        2
    } else {
        u8::from(usual)
    }
}

/// A province character or `合字` at token `i`.
fn region_at(f: &Folded, i: usize) -> Option<(&'static str, usize)> {
    let c = f.at(i)?;
    if let Some(p) = province(c) {
        return Some((p, i + 1));
    }
    if c == '合' {
        return f.eat_any(i + 1, &['字']).map(|(_, after)| (JOINT, after));
    }
    None
}

/// The form after the region (`ICP备`, `ICP证`, `B1-`, `B2-`), and the
/// token index where the serial may start.
fn form_at(f: &Folded, i: usize, joint: bool) -> Option<(IcpKind, usize)> {
    let (c, after) = f.next(i)?;
    match c {
        'I' if !joint => {
            let after_icp = f.eat_word(after, &[&['C'], &['P']])?;
            let (word, mut at) = f.eat_any(after_icp, &['备', '证'])?;
            let kind = if word == '备' {
                // `京ICP备案号：12345678` names the number the same way.
                if let Some((_, after_an)) = f.eat_any(at, &['案']) {
                    at = f.eat_opt(after_an, &HAO);
                }
                IcpKind::Filing
            } else {
                IcpKind::IcpLicence
            };
            Some((kind, f.eat_opt(at, &[':'])))
        }
        'B' => {
            let (class, at) = f.eat_any(after, &['1', '2'])?;
            let kind = if class == '1' {
                IcpKind::B1
            } else {
                IcpKind::B2
            };
            Some((kind, f.eat_opt(at, &['-'])))
        }
        _ => None,
    }
}

/// `号` and a service suffix after a serial ending at token `i`, in either
/// order, both optional.
fn tail_at(f: &Folded, i: usize) -> Tail {
    if let Some((_, after_hao)) = f.eat_any(i, &HAO) {
        return match suffix_at(f, after_hao) {
            Some((suffix, end)) => Tail {
                suffix: Some(suffix),
                hao: true,
                end,
            },
            None => Tail {
                suffix: None,
                hao: true,
                end: after_hao,
            },
        };
    }
    match suffix_at(f, i) {
        Some((suffix, end)) => match f.eat_any(end, &HAO) {
            Some((_, after_hao)) => Tail {
                suffix: Some(suffix),
                hao: true,
                end: after_hao,
            },
            None => Tail {
                suffix: Some(suffix),
                hao: false,
                end,
            },
        },
        None => Tail {
            suffix: None,
            hao: false,
            end: i,
        },
    }
}

/// A service suffix `-<digits>[letter]` at token `i` (after white space):
/// canonical text without the dash, and the token index after it.
fn suffix_at(f: &Folded, i: usize) -> Option<(String, usize)> {
    let (_, after_dash) = f.eat_any(i, &['-'])?;
    let runs = f.digit_runs(after_dash, usize::MAX);
    // Groups split by white space join only when all of them fit a suffix:
    // in `-1 2020` the year is the next thing, not part of the suffix.
    let run = match runs.last() {
        Some(all) if all.digits.len() <= MAX_SUFFIX_DIGITS => all,
        _ => runs
            .first()
            .filter(|first| first.digits.len() <= MAX_SUFFIX_DIGITS)?,
    };
    let trimmed = run.digits.trim_start_matches('0');
    let mut suffix = if trimmed.is_empty() { "0" } else { trimmed }.to_owned();
    let mut end = run.end;
    if let Some(letter) = suffix_letter(f, end) {
        suffix.push(letter);
        end += 1;
    }
    Some((suffix, end))
}

/// The suffix letter at token `i`, right after the suffix digits.
///
/// Only a letter written against the digits and ending there is one: a
/// footer goes on with words (`-1 E-mail：`, `-1 App下载`, `-1Email`), and
/// reading their first letter as the suffix would report a correct number
/// as a different service. So no white space may come before the letter,
/// and no letter or digit after it (`-2A`, `-2A 版权所有`, `-3X。`,
/// `-3X京公网安备`).
fn suffix_letter(f: &Folded, i: usize) -> Option<char> {
    let letter = f.at(i).filter(char::is_ascii_uppercase)?;
    let word_ends = f.at(i + 1).is_none_or(|c| !c.is_ascii_alphanumeric());
    word_ends.then_some(letter)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    fn parsed(text: &str) -> Option<String> {
        IcpNumber::parse(text).ok().map(|n| n.to_string())
    }

    /// Every found number as (canonical, matched original text).
    fn found(text: &str) -> Vec<(String, &str)> {
        IcpNumber::find_all(text)
            .into_iter()
            .map(|f| (f.number.to_string(), &text[f.range]))
            .collect()
    }

    #[rstest]
    // The canonical forms of SPEC §1.
    #[case::service("京ICP备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::subject("京ICP备12345678号", Some("京ICP备12345678号"))]
    #[case::ten_digit_serial("京ICP备2021012345号-3", Some("京ICP备2021012345号-3"))]
    #[case::six_digit_serial("京ICP备050702号", Some("京ICP备050702号"))]
    #[case::twelve_digit_serial("京ICP备202101234567号", Some("京ICP备202101234567号"))]
    #[case::app("京ICP备12345678号-2A", Some("京ICP备12345678号-2A"))]
    #[case::mini_program("京ICP备12345678号-3X", Some("京ICP备12345678号-3X"))]
    #[case::quick_app("京ICP备12345678号-4K", Some("京ICP备12345678号-4K"))]
    #[case::two_digit_suffix("京ICP备12345678号-12", Some("京ICP备12345678号-12"))]
    #[case::licence("京ICP证030173号", Some("京ICP证030173号"))]
    #[case::licence_service("京ICP证030173号-1", Some("京ICP证030173号-1"))]
    #[case::b2("粤B2-20090059", Some("粤B2-20090059"))]
    #[case::b2_service("粤B2-20090059-5", Some("粤B2-20090059-5"))]
    #[case::b1("京B1-20090001", Some("京B1-20090001"))]
    #[case::joint_b2("合字B2-20170010", Some("合字B2-20170010"))]
    #[case::joint_b2_service("合字B2-20170010-2", Some("合字B2-20170010-2"))]
    // How sites write them.
    #[case::spaces_everywhere("京 ICP 备 12345678 号 - 1", Some("京ICP备12345678号-1"))]
    #[case::spaces_in_letters("京 I C P 备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::spaces_in_serial("京ICP备1234 5678号-1", Some("京ICP备12345678号-1"))]
    #[case::ideographic_space("京ICP备\u{3000}12345678号\u{3000}-1", Some("京ICP备12345678号-1"))]
    #[case::nbsp("京ICP备\u{a0}12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::line_breaks("京ICP备\n12345678号\n-1", Some("京ICP备12345678号-1"))]
    #[case::zero_width_space("京ICP备\u{200B}12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::fullwidth_all("京ＩＣＰ备１２３４５６７８号－１", Some("京ICP备12345678号-1"))]
    #[case::fullwidth_letters("京ＩＣＰ备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::fullwidth_dash("京ICP备12345678号－1", Some("京ICP备12345678号-1"))]
    #[case::em_dash("京ICP备12345678号—1", Some("京ICP备12345678号-1"))]
    #[case::en_dash("京ICP备12345678号–1", Some("京ICP备12345678号-1"))]
    #[case::hyphen("京ICP备12345678号‐1", Some("京ICP备12345678号-1"))]
    #[case::non_breaking_hyphen("京ICP备12345678号‑1", Some("京ICP备12345678号-1"))]
    #[case::horizontal_bar("京ICP备12345678号―1", Some("京ICP备12345678号-1"))]
    #[case::minus_sign("京ICP备12345678号−1", Some("京ICP备12345678号-1"))]
    #[case::small_hyphen("京ICP备12345678号﹣1", Some("京ICP备12345678号-1"))]
    #[case::lower_case("京icp备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::mixed_case("京Icp备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::fullwidth_lower("京ｉｃｐ备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::lower_suffix_letter("京ICP备12345678号-2a", Some("京ICP备12345678号-2A"))]
    #[case::fullwidth_suffix_letter("京ICP备12345678号-2Ａ", Some("京ICP备12345678号-2A"))]
    #[case::suffix_letter_then_hao("滇ICP备09010050-4K号", Some("滇ICP备09010050号-4K"))]
    #[case::suffix_before_hao("滇ICP备09010050-5号", Some("滇ICP备09010050号-5"))]
    #[case::suffix_before_hao_spaced("滇ICP备09010050 - 5 号", Some("滇ICP备09010050号-5"))]
    #[case::hao_missing("京ICP备12345678-1", Some("京ICP备12345678号-1"))]
    #[case::hao_missing_subject("京ICP备12345678", Some("京ICP备12345678号"))]
    #[case::suffix_leading_zero("京ICP备12345678号-01", Some("京ICP备12345678号-1"))]
    #[case::traditional_chars("京ICP備12345678號-1", Some("京ICP备12345678号-1"))]
    #[case::traditional_province("滬ICP備12345678號-1", Some("沪ICP备12345678号-1"))]
    #[case::traditional_licence("粵ICP證030173號", Some("粤ICP证030173号"))]
    #[case::traditional_b2("粵B2-20090059-5", Some("粤B2-20090059-5"))]
    #[case::prefix_beian("备案号：京ICP备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::prefix_icp_beian("ICP备案号：京ICP备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::prefix_licence("网站备案/许可证号：京ICP证030173号", Some("京ICP证030173号"))]
    #[case::prefix_ascii_colon("备案号: 京ICP备12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::beian_hao_label("京ICP备案号：12345678号-1", Some("京ICP备12345678号-1"))]
    #[case::trailing_space("京ICP备12345678号-1 \u{3000}", Some("京ICP备12345678号-1"))]
    #[case::b2_fullwidth("粤Ｂ２－２００９００５９－５", Some("粤B2-20090059-5"))]
    #[case::b2_lower("粤b2-20090059", Some("粤B2-20090059"))]
    #[case::b2_spaced("粤 B2 - 20090059 - 5", Some("粤B2-20090059-5"))]
    #[case::b2_with_hao("粤B2-20090059号", Some("粤B2-20090059"))]
    #[case::licence_fullwidth("京ICP证０３０１７３号－１", Some("京ICP证030173号-1"))]
    // Province characters, issued and as pages show them.
    #[case::shu("蜀ICP备12345678号-1", Some("蜀ICP备12345678号-1"))]
    #[case::chuan("川ICP备12345678号-1", Some("川ICP备12345678号-1"))]
    #[case::qian("黔ICP备12345678号-1", Some("黔ICP备12345678号-1"))]
    #[case::gui("贵ICP备12345678号-1", Some("贵ICP备12345678号-1"))]
    #[case::dian("滇ICP备12345678号-1", Some("滇ICP备12345678号-1"))]
    #[case::yun("云ICP备12345678号-1", Some("云ICP备12345678号-1"))]
    #[case::long("陇ICP备12345678号-1", Some("陇ICP备12345678号-1"))]
    #[case::gan("甘ICP备12345678号-1", Some("甘ICP备12345678号-1"))]
    #[case::xin("新ICP备12345678号-1", Some("新ICP备12345678号-1"))]
    // Not ICP numbers.
    #[case::look_alike_meng("萌ICP备12345678号", None)]
    #[case::look_alike_cha("茶ICP备12345678号-1", None)]
    #[case::no_province("ICP备12345678号-1", None)]
    #[case::joint_icp("合字ICP备12345678号", None)]
    #[case::he_without_zi("合B2-20170010", None)]
    #[case::b3("粤B3-20090059", None)]
    #[case::serial_too_short("京ICP备12345号", None)]
    #[case::serial_too_long("京ICP备1234567890123号", None)]
    #[case::no_serial("京ICP备号", None)]
    #[case::year_as_suffix("京ICP备12345678号-2024", None)]
    #[case::dangling_dash("京ICP备12345678号-", None)]
    #[case::trailing_text("京ICP备12345678号-1 版权所有", None)]
    #[case::spaced_letter_is_not_suffix("京ICP备12345678号-1 E", None)]
    #[case::word_is_not_suffix("京ICP备12345678号-1Email", None)]
    #[case::two_numbers("京ICP备12345678号-1 京ICP备87654321号-1", None)]
    #[case::gongan_only("京公网安备11010502030143号", None)]
    #[case::empty("", None)]
    fn parse_cases(#[case] input: &str, #[case] expected: Option<&str>) {
        assert_eq!(parsed(input).as_deref(), expected);
    }

    #[rstest]
    #[case::in_footer(
        "©2024 某某公司 版权所有 京ICP备12345678号-1 | 京公网安备 11010502030143号",
        &[("京ICP备12345678号-1", "京ICP备12345678号-1")]
    )]
    #[case::two_in_one_run(
        "京ICP备12345678号-1 粤B2-20090059",
        &[("京ICP备12345678号-1", "京ICP备12345678号-1"), ("粤B2-20090059", "粤B2-20090059")]
    )]
    #[case::two_adjacent(
        "京ICP备12345678号-1京ICP备87654321号-2",
        &[("京ICP备12345678号-1", "京ICP备12345678号-1"), ("京ICP备87654321号-2", "京ICP备87654321号-2")]
    )]
    #[case::followed_by_gongan(
        "京ICP备12345678号京公网安备11010502030143号",
        &[("京ICP备12345678号", "京ICP备12345678号")]
    )]
    #[case::service_followed_by_gongan(
        "京ICP备12345678号-1京公网安备11010502030143号",
        &[("京ICP备12345678号-1", "京ICP备12345678号-1")]
    )]
    #[case::split_spans_joined("京ICP备12345678号-1", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::split_spans_spaced("京ICP备 12345678号-1", &[("京ICP备12345678号-1", "京ICP备 12345678号-1")])]
    #[case::year_range_after("京ICP备12345678号 2020-2024", &[("京ICP备12345678号", "京ICP备12345678号")])]
    #[case::year_range_no_hao("京ICP备12345678 2020-2024", &[("京ICP备12345678号", "京ICP备12345678")])]
    #[case::year_range_no_hao_long("京ICP备2021012345 2020-2024", &[("京ICP备2021012345号", "京ICP备2021012345")])]
    #[case::year_after_serial("京ICP备12345678 2024", &[("京ICP备12345678号", "京ICP备12345678")])]
    #[case::copyright_before(
        "Copyright © 2020-2024 example.cn 京ICP备12345678号-1",
        &[("京ICP备12345678号-1", "京ICP备12345678号-1")]
    )]
    #[case::suffix_then_year("京ICP备12345678号-1 2020-2024", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::dash_year("京ICP备12345678号-2024", &[("京ICP备12345678号", "京ICP备12345678号")])]
    #[case::spaced_suffix("京ICP备12345678号 - 1 版权所有", &[("京ICP备12345678号-1", "京ICP备12345678号 - 1")])]
    #[case::suffix_then_word("京ICP备12345678号-1 App下载", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::letter_suffix_then_cjk("京ICP备12345678号-3X京公网安备", &[("京ICP备12345678号-3X", "京ICP备12345678号-3X")])]
    // A suffix letter is written against the digits and ends there; the
    // words a footer goes on with are not suffix letters.
    #[case::email_spaced(
        "京ICP备12345678号-1 E-mail：x@y.cn",
        &[("京ICP备12345678号-1", "京ICP备12345678号-1")]
    )]
    #[case::email_word_spaced("京ICP备12345678号-1 Email", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::lone_letter_spaced("京ICP备12345678号-1 E", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::email_joined("京ICP备12345678号-1Email", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::letter_suffix_at_end("京ICP备12345678号-2A", &[("京ICP备12345678号-2A", "京ICP备12345678号-2A")])]
    #[case::letter_suffix_then_text(
        "京ICP备12345678号-2A 版权所有",
        &[("京ICP备12345678号-2A", "京ICP备12345678号-2A")]
    )]
    #[case::letter_suffix_then_full_stop("京ICP备12345678号-3X。", &[("京ICP备12345678号-3X", "京ICP备12345678号-3X")])]
    #[case::letter_suffix_fullwidth("京ICP备12345678号-2Ａ", &[("京ICP备12345678号-2A", "京ICP备12345678号-2Ａ")])]
    #[case::letter_suffix_then_digit("京ICP备12345678号-2A3", &[("京ICP备12345678号-2", "京ICP备12345678号-2")])]
    #[case::suffix_before_hao_in_text("备案：滇ICP备09010050-5号 ©2024", &[("滇ICP备09010050号-5", "滇ICP备09010050-5号")])]
    #[case::look_alike("萌ICP备12345678号", &[])]
    #[case::look_alike_then_real(
        "茶ICP备12345678号 京ICP备87654321号",
        &[("京ICP备87654321号", "京ICP备87654321号")]
    )]
    #[case::fullwidth_range(
        "备案：京ＩＣＰ备１２３４５６７８号－１。",
        &[("京ICP备12345678号-1", "京ＩＣＰ备１２３４５６７８号－１")]
    )]
    #[case::trailing_space_excluded("京ICP备12345678号-1   ", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::label_excluded("ICP备案号：京ICP备12345678号-1", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::beijing_city("北京ICP备12345678号-1", &[("京ICP备12345678号-1", "京ICP备12345678号-1")])]
    #[case::traditional_footer(
        "版權所有 © 2024 滬ICP備12345678號-1 滬公網安備 31010402001234號",
        &[("沪ICP备12345678号-1", "滬ICP備12345678號-1")]
    )]
    #[case::no_number("版权所有 2024 某某公司", &[])]
    #[case::serial_run_too_long("京ICP备123456789012345号", &[])]
    #[case::gongan_is_not_icp("京公网安备 11010502030143号", &[])]
    #[case::licence_in_text(
        "增值电信业务经营许可证：粤B2-20090059 网站备案：粤ICP备12345678号",
        &[("粤B2-20090059", "粤B2-20090059"), ("粤ICP备12345678号", "粤ICP备12345678号")]
    )]
    #[case::joint_in_text("许可证：合字B2-20170010。", &[("合字B2-20170010", "合字B2-20170010")])]
    #[case::hao_missing_at_end("备案号 京ICP备12345678", &[("京ICP备12345678号", "京ICP备12345678")])]
    #[case::chuan_beside_gongan(
        "川ICP备12345678号-1 川公网安备 51010702001234号",
        &[("川ICP备12345678号-1", "川ICP备12345678号-1")]
    )]
    fn find_all_cases(#[case] text: &str, #[case] expected: &[(&str, &str)]) {
        let expected: Vec<(String, &str)> = expected
            .iter()
            .map(|&(number, matched)| (number.to_owned(), matched))
            .collect();
        assert_eq!(found(text), expected);
    }

    #[rstest]
    #[case::spaced_same("京 ICP 备 12345678 号 - 1", "京ICP备12345678号-1", true)]
    #[case::suffix_position_same("滇ICP备09010050-5号", "滇ICP备09010050号-5", true)]
    #[case::suffix_zero_same("京ICP备12345678号-01", "京ICP备12345678号-1", true)]
    #[case::chuan_not_shu("川ICP备12345678号-1", "蜀ICP备12345678号-1", false)]
    #[case::gui_not_qian("贵ICP备12345678号-1", "黔ICP备12345678号-1", false)]
    #[case::yun_not_dian("云ICP备12345678号-1", "滇ICP备12345678号-1", false)]
    #[case::gan_not_long("甘ICP备12345678号-1", "陇ICP备12345678号-1", false)]
    #[case::other_suffix("京ICP备12345678号-2", "京ICP备12345678号-3", false)]
    #[case::subject_not_service("京ICP备12345678号", "京ICP备12345678号-1", false)]
    #[case::filing_not_licence("京ICP备030173号", "京ICP证030173号", false)]
    #[case::b1_not_b2("京B1-20090059", "京B2-20090059", false)]
    #[case::joint_not_province("合字B2-20170010", "粤B2-20170010", false)]
    #[case::leading_zero_serial("京ICP备05070218号", "京ICP备5070218号", false)]
    #[case::letter_suffix("京ICP备12345678号-2", "京ICP备12345678号-2A", false)]
    #[case::traditional_same("滬ICP備12345678號-1", "沪ICP备12345678号-1", true)]
    #[case::traditional_yun_same("雲ICP備12345678號", "云ICP备12345678号", true)]
    #[case::traditional_yun_not_dian("雲ICP備12345678號", "滇ICP备12345678号", false)]
    fn equality_cases(#[case] a: &str, #[case] b: &str, #[case] equal: bool) {
        let a = IcpNumber::parse(a).expect("a parses");
        let b = IcpNumber::parse(b).expect("b parses");
        assert_eq!(a == b, equal);
    }

    #[rstest]
    #[case::service(
        "京ICP备12345678号-1",
        "京ICP备12345678号",
        true,
        false,
        "京",
        Some('京')
    )]
    #[case::subject(
        "京ICP备12345678号",
        "京ICP备12345678号",
        false,
        false,
        "京",
        Some('京')
    )]
    #[case::licence("京ICP证030173号-1", "京ICP证030173号", true, true, "京", Some('京'))]
    #[case::b2("粤B2-20090059-5", "粤B2-20090059", true, true, "粤", Some('粤'))]
    #[case::joint("合字B2-20170010", "合字B2-20170010", false, true, "合字", None)]
    #[case::chuan(
        "川ICP备12345678号-2A",
        "川ICP备12345678号",
        true,
        false,
        "川",
        Some('川')
    )]
    fn accessor_cases(
        #[case] input: &str,
        #[case] subject: &str,
        #[case] service: bool,
        #[case] licence: bool,
        #[case] region: &str,
        #[case] province: Option<char>,
    ) {
        let number = IcpNumber::parse(input).expect("parses");
        assert_eq!(number.subject().to_string(), subject);
        assert!(!number.subject().is_service());
        assert_eq!(number.is_service(), service);
        assert_eq!(number.is_licence(), licence);
        assert_eq!(number.region(), region);
        assert_eq!(number.province(), province);
    }

    #[test]
    fn every_traditional_province_reads_as_its_simplified_number() {
        use crate::filing::normalize::TRADITIONAL;
        let provinces = TRADITIONAL
            .iter()
            .filter(|&&(_, simple)| province(simple).is_some());
        let mut count = 0;
        for &(traditional, simple) in provinces {
            let shown = IcpNumber::parse(&format!("{traditional}ICP備12345678號-1"))
                .expect("traditional parses");
            let filed =
                IcpNumber::parse(&format!("{simple}ICP备12345678号-1")).expect("simplified parses");
            assert_eq!(shown, filed, "{traditional}");
            assert_eq!(shown.province(), Some(simple));
            count += 1;
        }
        assert_eq!(
            count, 14,
            "every traditional province character is a province"
        );
    }

    #[test]
    fn parts_are_exposed() {
        let number = IcpNumber::parse("京 ICP 备 2021012345 号 - 3x").expect("parses");
        assert_eq!(number.kind(), IcpKind::Filing);
        assert_eq!(number.serial(), "2021012345");
        assert_eq!(number.suffix(), Some("3X"));
    }

    #[rstest]
    #[case::look_alike(
        "萌ICP备12345678号",
        "the character before ICP is not a province character"
    )]
    #[case::no_province("ICP备12345678号", "no province character before ICP")]
    #[case::empty(" ", "empty")]
    #[case::trailing("京ICP备12345678号 abc", "unexpected text after the number")]
    #[case::two("京ICP备12345678号京ICP备12345679号", "more than one ICP number")]
    fn parse_error_reasons(#[case] input: &str, #[case] reason: &str) {
        let error = IcpNumber::parse(input).expect_err("does not parse");
        assert_eq!(error.reason, reason);
        assert_eq!(error.input, input);
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let number = IcpNumber::parse("京ＩＣＰ备12345678号－1").expect("parses");
        let json = serde_json::to_string(&number).expect("serialises");
        assert_eq!(json, "\"京ICP备12345678号-1\"");
        let back: IcpNumber =
            serde_json::from_str("\"京 icp 备 12345678-1\"").expect("deserialises");
        assert_eq!(back, number);
        assert!(serde_json::from_str::<IcpNumber>("\"萌ICP备12345678号\"").is_err());
    }

    #[test]
    fn from_str_parses() {
        let number: IcpNumber = "粤B2-20090059-5".parse().expect("parses");
        assert_eq!(number.kind(), IcpKind::B2);
    }

    /// Canonical numbers the properties start from.
    const BASES: [&str; 8] = [
        "京ICP备12345678号-1",
        "京ICP备2021012345号-3",
        "沪ICP备12345678号",
        "川ICP备12345678号-2A",
        "京ICP证030173号-1",
        "粤B2-20090059-5",
        "合字B2-20170010",
        "滇ICP备09010050号-4K",
    ];

    const SPACES: [char; 5] = [' ', '\u{3000}', '\u{a0}', '\n', '\t'];
    const DASHES: [char; 9] = ['-', '－', '—', '–', '‐', '‑', '―', '−', '﹣'];

    /// `base` with white space inserted at `spaces` (char index, which
    /// space; never between suffix digits and their letter), chars at `wide` switched to full width, `lower` ASCII letters
    /// lower-cased, and every dash written as `dash`.
    fn disguise(
        base: &str,
        spaces: &[(usize, usize)],
        wide: &[bool],
        lower: &[bool],
        dash: char,
    ) -> String {
        let mut chars: Vec<char> = base
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let c = if c == '-' { dash } else { c };
                let c = if lower.get(i).copied().unwrap_or(false) {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                if wide.get(i).copied().unwrap_or(false) && c.is_ascii_graphic() {
                    char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect();
        for &(at, which) in spaces {
            let at = at % (chars.len() + 1);
            // A suffix letter is written against its digits; a space there
            // makes it the next word (`-2 A` is `-2`).
            let before_letter = at > 0
                && chars[at - 1].is_numeric()
                && chars.get(at).is_some_and(|&c| is_latin_letter(c));
            if !before_letter {
                chars.insert(at, SPACES[which % SPACES.len()]);
            }
        }
        chars.into_iter().collect()
    }

    /// An ASCII or full-width Latin letter.
    fn is_latin_letter(c: char) -> bool {
        c.is_ascii_alphabetic() || matches!(c, 'Ａ'..='Ｚ' | 'ａ'..='ｚ')
    }

    proptest! {
        #[test]
        fn disguises_never_change_the_number(
            base in proptest::sample::select(&BASES[..]),
            spaces in proptest::collection::vec((0usize..40, 0usize..5), 0..6),
            wide in proptest::collection::vec(any::<bool>(), 30),
            lower in proptest::collection::vec(any::<bool>(), 30),
            dash in proptest::sample::select(&DASHES[..]),
        ) {
            let expected = IcpNumber::parse(base).expect("base parses");
            prop_assert_eq!(expected.to_string(), base);
            let shown = disguise(base, &spaces, &wide, &lower, dash);
            prop_assert_eq!(IcpNumber::parse(&shown), Ok(expected.clone()));

            let page = format!("©2020-2024 某某公司 版权所有 {shown} | 京公网安备 11010502030143号");
            let found = IcpNumber::find_all(&page);
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(&found[0].number, &expected);
            prop_assert_eq!(&page[found[0].range.clone()], shown.trim());
        }

        #[test]
        fn find_all_ranges_are_ordered_char_boundaries(text in "\\PC{0,60}") {
            let found = IcpNumber::find_all(&text);
            let mut last_end = 0;
            for f in &found {
                prop_assert!(f.range.start >= last_end && f.range.start < f.range.end);
                prop_assert!(text.get(f.range.clone()).is_some());
                last_end = f.range.end;
            }
        }

        #[test]
        fn found_text_parses_to_the_same_number(
            text in "[京粤川萌合字ICPicpB备证号案：: 0-9０-９\\-－—©年]{0,50}"
        ) {
            for f in IcpNumber::find_all(&text) {
                prop_assert_eq!(IcpNumber::parse(&text[f.range.clone()]), Ok(f.number.clone()));
                prop_assert_eq!(IcpNumber::parse(&f.number.to_string()), Ok(f.number));
            }
        }
    }
}
