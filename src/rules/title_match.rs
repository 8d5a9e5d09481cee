//! Rule `title-match` (网站标题与备案服务名称不一致): the rendered title equals
//! the filed service name or contains it whole, both normalised (NFKC, white
//! space trimmed and collapsed). Runs only when the record files a name.

use crate::filing::normalize;
use crate::input::Record;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// `title-missing` or `title-mismatch` for each reachable target whose title
/// does not hold the service name.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let Some(service_name) = record.service_name.as_deref() else {
        return Vec::new();
    };
    let name = normalize(service_name);
    // An empty filed name holds nothing to compare; input should reject it.
    if name.is_empty() {
        return Vec::new();
    }
    reachable(outcomes)
        .filter_map(|(outcome, page)| {
            let title = normalize(&page.title);
            let code = if title.is_empty() {
                FindingCode::TitleMissing
            } else if title.contains(&name) {
                return None;
            } else {
                FindingCode::TitleMismatch
            };
            let evidence = Evidence {
                text: Some(page.title.clone()),
                expected: Some(service_name.to_owned()),
                ..Evidence::default()
            };
            Some(Finding::new(code, Some(outcome.label()), evidence))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::input::Record;
    use crate::page::{TargetFailure, Unreachable};
    use crate::rules::test_support::{codes, failed, page_with_footer, reached, record, Facts};

    fn named(name: &str) -> Record {
        Record {
            service_name: Some(name.to_owned()),
            ..record("example.cn")
        }
    }

    fn titled(title: &str) -> TargetOutcome {
        let mut page = page_with_footer("", None);
        title.clone_into(&mut page.title);
        reached("example.cn", page)
    }

    #[rstest]
    #[case::equal("例子网", "例子网", &[])]
    #[case::contained("例子网", "例子网 - 首页", &[])]
    #[case::full_width_and_spaces("ABC 商城", "  ＡＢＣ\u{3000}商城｜官网 ", &[])]
    #[case::collapsed_white_space("例子 网", "例子\n\t 网", &[])]
    #[case::empty_title("例子网", "", &[FindingCode::TitleMissing])]
    #[case::white_space_title("例子网", " \u{3000} ", &[FindingCode::TitleMissing])]
    #[case::other_title("例子网", "欢迎光临", &[FindingCode::TitleMismatch])]
    #[case::name_split_in_title("例子网", "例子 网", &[FindingCode::TitleMismatch])]
    fn title_holds_service_name(
        #[case] name: &str,
        #[case] title: &str,
        #[case] expected: &[FindingCode],
    ) {
        let findings = check(&named(name), &[titled(title)], &Facts::default());
        assert_eq!(codes(&findings), expected);
    }

    #[test]
    fn mismatch_evidence_quotes_title_and_name() {
        let findings = check(&named("例子网"), &[titled("欢迎光临")], &Facts::default());
        assert_eq!(findings[0].evidence.text.as_deref(), Some("欢迎光临"));
        assert_eq!(findings[0].evidence.expected.as_deref(), Some("例子网"));
        assert_eq!(
            findings[0].target.as_deref(),
            Some("https://example.cn/#desktop")
        );
    }

    #[test]
    fn no_service_name_no_check() {
        let findings = check(&record("example.cn"), &[titled("")], &Facts::default());
        assert_eq!(codes(&findings), []);
    }

    #[test]
    fn unreachable_targets_are_skipped() {
        let outcomes = [failed(
            "example.cn",
            TargetFailure::Unreachable(Unreachable::EmptyDocument),
        )];
        let findings = check(&named("例子网"), &outcomes, &Facts::default());
        assert_eq!(codes(&findings), []);
    }
}
