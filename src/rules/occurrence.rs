//! Occurrences: where a page shows a filing number, with the facts of the
//! text that carries it (visible, in the footer, inside which link).
//!
//! Owns the mapping from a number recognised in a block's joined text back
//! onto the DOM segments it came from. Recognition itself is `filing`'s job
//! (`IcpNumber::find_all`, `GonganNumber::find_all`); judging is the rules'.

use crate::filing::links::is_link;
use crate::filing::{Found, GonganNumber, IcpNumber};
use crate::page::{PageSnapshot, TextBlock, TextSegment};

/// One place a page shows a filing number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence<T> {
    /// The number, parsed.
    pub number: T,
    /// The text that matched, as the page wrote it (not normalised).
    pub text: String,
    /// The `href` of the link holding the number, when one does
    /// ([`is_link`] accepts it); `None` when the number is not linked.
    pub href: Option<String>,
    /// Whether every piece of the number is visible to a visitor.
    pub visible: bool,
    /// Whether some piece of the number sits at the bottom of the page.
    pub in_footer: bool,
    /// The URL of the frame that shows it; `None` for the top document.
    pub frame: Option<String>,
}

/// What a page shows: every filing number recognised in it, with where and
/// how. Made once per rendered target ([`super::TargetOutcome::new`]); the
/// rules judge it and the output lists it, and neither recognises again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// Every ICP number, as [`icp_occurrences`] finds them.
    pub icp: Vec<Occurrence<IcpNumber>>,
    /// Every 公安 number, as [`gongan_occurrences`] finds them.
    pub gongan: Vec<Occurrence<GonganNumber>>,
}

impl Shown {
    /// Recognise what `page` shows.
    #[must_use]
    pub fn of(page: &PageSnapshot) -> Shown {
        Shown {
            icp: icp_occurrences(page),
            gongan: gongan_occurrences(page),
        }
    }
}

/// Every ICP number the page shows, hidden ones included, in reading order.
///
/// Text blocks are the source. An anchor text of `page.links` adds a number
/// only when no block shows that number at all: the browser reports an
/// anchor's text in a block too, and the block's facts (every piece of the
/// number visible) are the stricter ones.
pub fn icp_occurrences(page: &PageSnapshot) -> Vec<Occurrence<IcpNumber>> {
    occurrences(page, IcpNumber::find_all)
}

/// Every 公安 number the page shows, hidden ones included, in reading order.
///
/// Same sources as [`icp_occurrences`].
pub fn gongan_occurrences(page: &PageSnapshot) -> Vec<Occurrence<GonganNumber>> {
    occurrences(page, GonganNumber::find_all)
}

fn occurrences<T: PartialEq>(
    page: &PageSnapshot,
    find_all: impl Fn(&str) -> Vec<Found<T>>,
) -> Vec<Occurrence<T>> {
    let mut found: Vec<Occurrence<T>> = page
        .blocks
        .iter()
        .flat_map(|block| block_occurrences(block, &find_all))
        .collect();
    let from_blocks = found.len();
    for link in &page.links {
        for hit in find_all(&link.text) {
            if found[..from_blocks].iter().any(|o| o.number == hit.number) {
                continue;
            }
            let href = Some(link.href.as_str())
                .filter(|h| is_link(Some(h)))
                .map(str::to_owned);
            let occurrence = Occurrence {
                text: link.text.get(hit.range).unwrap_or_default().to_owned(),
                number: hit.number,
                href,
                visible: link.visible,
                in_footer: link.in_footer,
                frame: link.frame.clone(),
            };
            if !found.contains(&occurrence) {
                found.push(occurrence);
            }
        }
    }
    found
}

fn block_occurrences<T>(
    block: &TextBlock,
    find_all: impl Fn(&str) -> Vec<Found<T>>,
) -> Vec<Occurrence<T>> {
    let text = block.text();
    find_all(&text)
        .into_iter()
        .map(|hit| {
            let covering = covering_segments(&block.segments, &hit.range);
            Occurrence {
                text: text.get(hit.range.clone()).unwrap_or_default().to_owned(),
                number: hit.number,
                href: covering
                    .iter()
                    .filter_map(|s| s.href.as_deref())
                    .find(|h| is_link(Some(h)))
                    .map(str::to_owned),
                visible: !covering.is_empty() && covering.iter().all(|s| s.visible),
                in_footer: covering.iter().any(|s| s.in_footer),
                frame: block.frame.clone(),
            }
        })
        .collect()
}

/// The segments whose text overlaps `range` of the joined block text with
/// something other than white space. If only white space overlaps (a
/// recogniser that reports a padded range), every overlapping segment.
fn covering_segments<'a>(
    segments: &'a [TextSegment],
    range: &std::ops::Range<usize>,
) -> Vec<&'a TextSegment> {
    let mut overlapping = Vec::new();
    let mut start = 0;
    for segment in segments {
        let end = start + segment.text.len();
        let (from, to) = (start.max(range.start), end.min(range.end));
        if from < to {
            let piece = segment
                .text
                .get(from - start..to - start)
                .unwrap_or(&segment.text);
            overlapping.push((segment, piece.trim().is_empty()));
        }
        start = end;
    }
    let solid: Vec<&TextSegment> = overlapping
        .iter()
        .filter(|(_, blank)| !blank)
        .map(|(s, _)| *s)
        .collect();
    if solid.is_empty() {
        overlapping.into_iter().map(|(s, _)| s).collect()
    } else {
        solid
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::test_support::{block, page_with_blocks, seg, MIIT};

    const NUMBER: &str = "京ICP备12345678号-1";

    #[rstest]
    #[case::one_segment(vec![seg(NUMBER, Some(MIIT), true, true)], Some(MIIT), true, true)]
    #[case::split_over_spans(
        vec![seg("京ICP备", None, true, true), seg("12345678号-1", Some(MIIT), true, false)],
        Some(MIIT), true, true
    )]
    #[case::hidden_piece(
        vec![seg("京ICP备", None, false, true), seg("12345678号-1", None, true, true)],
        None, false, true
    )]
    #[case::hidden_white_space_is_ignored(
        vec![
            seg("京ICP备", None, true, false),
            seg(" ", Some("https://example.cn/"), false, false),
            seg("12345678号-1", None, true, false),
        ],
        None, true, false
    )]
    #[case::empty_href_is_not_a_link(vec![seg(NUMBER, Some("#"), true, true)], None, true, true)]
    #[case::prefix_text_outside_the_number(
        vec![seg("备案号：", Some("https://example.cn/about"), false, false), seg(NUMBER, None, true, true)],
        None, true, true
    )]
    fn block_facts_map_onto_covering_segments(
        #[case] segments: Vec<TextSegment>,
        #[case] href: Option<&str>,
        #[case] visible: bool,
        #[case] in_footer: bool,
    ) {
        let page = page_with_blocks(vec![block(segments)]);
        let found = icp_occurrences(&page);
        assert_eq!(found.len(), 1, "{found:?}");
        let o = &found[0];
        assert_eq!(o.number, IcpNumber::parse(NUMBER).unwrap());
        assert_eq!(o.href.as_deref(), href);
        assert_eq!((o.visible, o.in_footer), (visible, in_footer));
    }

    #[test]
    fn matched_text_is_the_original_spelling() {
        let page = page_with_blocks(vec![block(vec![
            seg("备案号：京 ICP 备", None, true, true),
            seg("12345678 号 - 1", None, true, true),
        ])]);
        let found = icp_occurrences(&page);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].text.contains("12345678 号 - 1"),
            "{:?}",
            found[0].text
        );
        assert!(!found[0].text.contains("备案号："), "{:?}", found[0].text);
    }

    #[test]
    fn anchor_text_already_in_a_block_is_not_counted_twice() {
        let mut page = page_with_blocks(vec![block(vec![seg(NUMBER, Some(MIIT), true, true)])]);
        page.links.push(miit_anchor(NUMBER));
        assert_eq!(icp_occurrences(&page).len(), 1);
    }

    fn miit_anchor(text: &str) -> crate::page::PageLink {
        crate::page::PageLink {
            text: text.to_owned(),
            href: MIIT.to_owned(),
            visible: true,
            in_footer: true,
            frame: None,
        }
    }

    #[test]
    fn block_facts_win_over_anchor_facts() {
        let mut page = page_with_blocks(vec![block(vec![seg(NUMBER, Some(MIIT), false, true)])]);
        page.links.push(miit_anchor(NUMBER));
        let found = icp_occurrences(&page);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].visible);
    }

    #[test]
    fn anchor_text_missing_from_blocks_is_counted_once() {
        let mut page = page_with_blocks(vec![block(vec![seg(
            "京ICP备87654321号-1",
            None,
            true,
            true,
        )])]);
        page.links.push(miit_anchor(NUMBER));
        page.links.push(miit_anchor(NUMBER));
        let found = icp_occurrences(&page);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].number, IcpNumber::parse(NUMBER).unwrap());
        assert_eq!(found[1].href.as_deref(), Some(MIIT));
        assert!(found[1].visible && found[1].in_footer);
    }

    #[test]
    fn gongan_numbers_are_found_in_blocks() {
        let page = page_with_blocks(vec![block(vec![
            seg(NUMBER, None, true, true),
            seg(" 京公网安备 11010502030143号", None, true, true),
        ])]);
        let found = gongan_occurrences(&page);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].number.digits(), "11010502030143");
        assert_eq!(icp_occurrences(&page).len(), 1);
    }
}
