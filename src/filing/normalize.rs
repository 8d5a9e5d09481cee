//! Text normalisation: Unicode NFKC, then white space trimmed and collapsed.
//! The only place text is normalised.
//!
//! Two views of the same folding live here: [`normalize`] for whole strings
//! (titles, service names), and the crate-private `Folded` view that the
//! number scanners of [`super::icp`] and [`super::gongan`] read. `Folded`
//! folds one character at a time (NFKC of the single character, ASCII upper
//! case, one dash for every dash style, white space kept as a separator,
//! traditional characters of the numbers' vocabulary as simplified) and
//! remembers where each folded character came from, so that a match maps
//! back to a byte range of the original, un-normalised text.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

/// NFKC-normalise `text`, trim it, and collapse every run of white space to
/// one ASCII space.
///
/// White space is Unicode `White_Space` (so U+3000 ideographic space, NBSP
/// and line breaks count). The result is a fixed point:
/// `normalize(&normalize(s)) == normalize(s)`.
#[must_use]
pub fn normalize(text: &str) -> String {
    let nfkc: String = text.nfkc().collect();
    let mut out = String::with_capacity(nfkc.len());
    for word in nfkc.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The folded character that stands for any run of white space.
pub(crate) const SPACE: char = ' ';

/// One folded character and the bytes of the original text it came from.
#[derive(Debug, Clone, Copy)]
struct Token {
    ch: char,
    start: usize,
    end: usize,
}

/// A cumulative run of digits: the digits of the first `k` white-space
/// separated groups, and the token index just after group `k`.
#[derive(Debug, Clone)]
pub(crate) struct DigitRun {
    /// The digits, white space removed.
    pub(crate) digits: String,
    /// Token index just after the last digit.
    pub(crate) end: usize,
}

/// Text folded character by character for the number scanners.
///
/// Every folded character keeps the byte range of the original character it
/// came from. White space (and invisible format characters such as U+200B)
/// becomes [`SPACE`]; the `eat*` helpers skip it, so a scanner tolerates
/// spaces anywhere.
#[derive(Debug, Clone)]
pub(crate) struct Folded {
    tokens: Vec<Token>,
}

impl Folded {
    /// Fold `text`.
    pub(crate) fn new(text: &str) -> Folded {
        let mut tokens = Vec::with_capacity(text.len());
        for (start, c) in text.char_indices() {
            let end = start + c.len_utf8();
            if c.is_ascii() {
                tokens.push(Token {
                    ch: fold_char(c),
                    start,
                    end,
                });
                continue;
            }
            // A compatibility character may expand to several (`№` → `No`);
            // each keeps the whole original character's range.
            for d in std::iter::once(c).nfkc() {
                tokens.push(Token {
                    ch: fold_char(d),
                    start,
                    end,
                });
            }
        }
        Folded { tokens }
    }

    /// Number of folded characters.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The folded character at `i` ([`SPACE`] for white space).
    pub(crate) fn at(&self, i: usize) -> Option<char> {
        self.tokens.get(i).map(|t| t.ch)
    }

    /// The first index at or after `i` that is not white space.
    pub(crate) fn skip_space(&self, i: usize) -> usize {
        let mut j = i;
        while self.at(j) == Some(SPACE) {
            j += 1;
        }
        j
    }

    /// The next character after white space from `i`, and the index after it.
    pub(crate) fn next(&self, i: usize) -> Option<(char, usize)> {
        let j = self.skip_space(i);
        self.at(j).map(|c| (c, j + 1))
    }

    /// After white space from `i`, one of `wants`: which, and the index after.
    pub(crate) fn eat_any(&self, i: usize, wants: &[char]) -> Option<(char, usize)> {
        self.next(i).filter(|(c, _)| wants.contains(c))
    }

    /// After white space from `i`, every character of `word` in turn (white
    /// space allowed between them): the index after the last.
    pub(crate) fn eat_word(&self, i: usize, word: &[&[char]]) -> Option<usize> {
        word.iter().try_fold(i, |at, wants| {
            self.eat_any(at, wants).map(|(_, after)| after)
        })
    }

    /// Index after an optional `want` (white space allowed before it), or `i`.
    pub(crate) fn eat_opt(&self, i: usize, wants: &[char]) -> usize {
        self.eat_any(i, wants).map_or(i, |(_, after)| after)
    }

    /// The digit groups starting (after white space) at `i`, cumulatively:
    /// entry `k` holds the digits of groups `0..=k`. Groups are runs of ASCII
    /// digits separated only by white space; a run is never split. Stops
    /// before the total would pass `max` digits, so the result is empty when
    /// the first group alone is longer.
    pub(crate) fn digit_runs(&self, i: usize, max: usize) -> Vec<DigitRun> {
        let mut runs = Vec::new();
        let mut digits = String::new();
        let mut at = self.skip_space(i);
        while self.at(at).is_some_and(|c| c.is_ascii_digit()) {
            let mut end = at;
            let mut group = String::new();
            while let Some(c) = self.at(end).filter(char::is_ascii_digit) {
                group.push(c);
                end += 1;
            }
            if digits.len() + group.len() > max {
                break;
            }
            digits.push_str(&group);
            runs.push(DigitRun {
                digits: digits.clone(),
                end,
            });
            at = self.skip_space(end);
            if at == end {
                break;
            }
        }
        runs
    }

    /// Every match of `match_at` in reading order, none overlapping: what
    /// matched, its first token and the token after it. `match_at(self, i)`
    /// tries a match starting at token `i`; scanning goes on after a match.
    pub(crate) fn scan<T>(
        &self,
        match_at: impl Fn(&Folded, usize) -> Option<(T, usize)>,
    ) -> Vec<(T, usize, usize)> {
        let mut found = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if let Some((value, end)) = match_at(self, i) {
                found.push((value, i, end));
                i = end;
            } else {
                i += 1;
            }
        }
        found
    }

    /// Byte range in the original text of the tokens `first..end`
    /// (`end` exclusive, `first < end`).
    pub(crate) fn byte_range(&self, first: usize, end: usize) -> Range<usize> {
        let start = self.tokens.get(first).map_or(0, |t| t.start);
        let stop = end
            .checked_sub(1)
            .and_then(|last| self.tokens.get(last))
            .map_or(start, |t| t.end);
        start..stop
    }
}

/// Fold one (already NFKC) character: white space and invisible format
/// characters to [`SPACE`], every dash to `-`, ASCII letters to upper case,
/// traditional characters of [`TRADITIONAL`] to their simplified form.
fn fold_char(c: char) -> char {
    if c.is_whitespace() || is_invisible(c) {
        SPACE
    } else if is_dash(c) {
        '-'
    } else if c.is_ascii() {
        c.to_ascii_uppercase()
    } else {
        simplified(c)
    }
}

/// Traditional forms of the characters the number scanners read, each with
/// the simplified form it reads as. Numbers are issued in simplified script,
/// but sites in traditional script show the same number
/// (`滬ICP備12345678號-1` is `沪ICP备12345678号-1`, `粵公網安備…號` a 公安
/// number). The province characters that are written alike in both scripts
/// (京 津 冀 黑 吉 浙 皖 鄂 湘 渝 蜀 黔 滇 藏 青 新 甘 蒙 豫 桂 川) and 案 公 安
/// need no entry. This is the only table of them: the scanners in
/// [`super::icp`] and [`super::gongan`] see simplified text only.
pub(crate) const TRADITIONAL: [(char, char); 18] = [
    // Provinces.
    ('滬', '沪'),
    ('遼', '辽'),
    ('蘇', '苏'),
    ('閩', '闽'),
    ('贛', '赣'),
    ('魯', '鲁'),
    ('粵', '粤'),
    ('貴', '贵'),
    ('隴', '陇'),
    ('寧', '宁'),
    ('晉', '晋'),
    ('瓊', '琼'),
    ('陝', '陕'),
    ('雲', '云'),
    // The words of the forms: ICP備, ICP證, 公網安備, 號.
    ('備', '备'),
    ('號', '号'),
    ('證', '证'),
    ('網', '网'),
];

/// The simplified form of `c` if [`TRADITIONAL`] has one, else `c`.
fn simplified(c: char) -> char {
    TRADITIONAL
        .iter()
        .find(|&&(traditional, _)| traditional == c)
        .map_or(c, |&(_, simple)| simple)
}

/// Zero-width and soft-hyphen characters: not shown, so they separate like
/// white space.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Dash and hyphen styles sites use between a number and its suffix,
/// besides the hyphens and dashes U+2010 to U+2015.
const OTHER_DASHES: [char; 8] = [
    '-', '\u{2043}', '\u{2212}', '\u{2E3A}', '\u{2E3B}', '\u{FE58}', '\u{FE63}', '\u{FF0D}',
];

/// Whether `c` is a dash or hyphen style.
fn is_dash(c: char) -> bool {
    ('\u{2010}'..='\u{2015}').contains(&c) || OTHER_DASHES.contains(&c)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::empty("", "")]
    #[case::only_space(" \u{3000}\n\t", "")]
    #[case::trim("  标题  ", "标题")]
    #[case::collapse_mixed("a \u{3000}\u{a0} \n b", "a b")]
    #[case::fullwidth_latin("ＡＢＣ１２３", "ABC123")]
    #[case::fullwidth_space_inside("某某\u{3000}公司", "某某 公司")]
    #[case::nbsp("某某\u{a0}公司", "某某 公司")]
    #[case::line_breaks("第一行\r\n第二行", "第一行 第二行")]
    #[case::compat_ideograph("\u{2F08}", "人")]
    #[case::kept_case("Example Site", "Example Site")]
    fn normalize_cases(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalize(input), expected);
    }

    #[rstest]
    #[case::fullwidth_dash('－', '-')]
    #[case::em_dash('—', '-')]
    #[case::en_dash('–', '-')]
    #[case::hyphen('‐', '-')]
    #[case::horizontal_bar('―', '-')]
    #[case::minus('−', '-')]
    #[case::lower('i', 'I')]
    #[case::ideographic_space('\u{3000}', SPACE)]
    #[case::zero_width('\u{200B}', SPACE)]
    #[case::cjk_kept('京', '京')]
    #[case::simplified_kept('沪', '沪')]
    // Traditional characters of the numbers' vocabulary.
    #[case::hu_shanghai('滬', '沪')]
    #[case::liao_liaoning('遼', '辽')]
    #[case::su_jiangsu('蘇', '苏')]
    #[case::min_fujian('閩', '闽')]
    #[case::gan_jiangxi('贛', '赣')]
    #[case::lu_shandong('魯', '鲁')]
    #[case::yue_guangdong('粵', '粤')]
    #[case::gui_guizhou('貴', '贵')]
    #[case::long_gansu('隴', '陇')]
    #[case::ning_ningxia('寧', '宁')]
    #[case::jin_shanxi('晉', '晋')]
    #[case::qiong_hainan('瓊', '琼')]
    #[case::shan_shaanxi('陝', '陕')]
    #[case::yun_yunnan('雲', '云')]
    #[case::bei_filing('備', '备')]
    #[case::hao_number('號', '号')]
    #[case::zheng_licence('證', '证')]
    #[case::wang_net('網', '网')]
    fn fold_cases(#[case] input: char, #[case] expected: char) {
        let folded = Folded::new(&input.to_string());
        assert_eq!(folded.at(0), Some(expected));
    }

    #[test]
    fn traditional_table_folds_every_pair_to_a_fixed_point() {
        for (traditional, simple) in TRADITIONAL {
            let folded = Folded::new(&format!("{traditional}{simple}"));
            assert_eq!(
                (folded.at(0), folded.at(1)),
                (Some(simple), Some(simple)),
                "{traditional}"
            );
        }
    }

    #[test]
    fn folded_ranges_point_into_original() {
        let text = "ａ京 b";
        let folded = Folded::new(text);
        assert_eq!(folded.len(), 4);
        assert_eq!(&text[folded.byte_range(0, 2)], "ａ京");
        assert_eq!(&text[folded.byte_range(3, 4)], "b");
    }

    #[rstest]
    #[case::one_group("12345678号", 8, &["12345678"])]
    #[case::split_groups("1234 5678 90号", 12, &["1234", "12345678", "1234567890"])]
    #[case::capped("12345678 2024", 10, &["12345678"])]
    #[case::first_too_long("1234567890123", 12, &[])]
    #[case::no_digits("号", 12, &[])]
    fn digit_run_cases(#[case] text: &str, #[case] max: usize, #[case] expected: &[&str]) {
        let folded = Folded::new(text);
        let runs: Vec<String> = folded
            .digit_runs(0, max)
            .into_iter()
            .map(|r| r.digits)
            .collect();
        assert_eq!(runs, expected);
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in "\\PC*") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn normalize_is_idempotent_on_spaced_cjk(
            s in "[京ICP备号 \u{3000}\u{a0}\t\nＡ-Ｚ０-９ａ-ｚ¨\u{301}\u{323}－—]{0,40}"
        ) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn normalize_leaves_no_edge_or_double_space(s in "\\PC*") {
            let once = normalize(&s);
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            prop_assert!(!once.contains("  "));
            prop_assert!(!once.chars().any(|c| c.is_whitespace() && c != ' '));
        }
    }
}
