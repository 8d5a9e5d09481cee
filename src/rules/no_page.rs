//! Rule `site-access` (网站无法访问), plus the two other ways a target can
//! have no page: the crawler refused its address (`address-refused`) or
//! failed itself (`crawler-error`).
//!
//! A failed target gets exactly one finding, from here; every other rule
//! looks only at targets that produced a page (`rules::reachable`).

use crate::input::Record;
use crate::page::{TargetFailure, Unreachable};
use crate::rules::{Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// One finding per target that has no page, in target order.
pub(crate) fn check(
    _record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    outcomes
        .iter()
        .filter_map(|outcome| {
            let failure = outcome.result.as_ref().err()?;
            let (code, evidence) = match failure {
                TargetFailure::Unreachable(why) => (
                    FindingCode::SiteUnreachable,
                    Evidence {
                        reason: Some(why.to_string()),
                        keyword: Some(unreachable_kind(why).to_owned()),
                        ..Evidence::default()
                    },
                ),
                TargetFailure::AddressRefused { host, address } => (
                    FindingCode::AddressRefused,
                    Evidence {
                        address: Some(address.clone()),
                        domain: Some(host.clone()),
                        ..Evidence::default()
                    },
                ),
                TargetFailure::Crawler { reason } => (
                    FindingCode::CrawlerError,
                    Evidence {
                        reason: Some(reason.clone()),
                        ..Evidence::default()
                    },
                ),
            };
            Some(Finding::new(code, Some(outcome.label()), evidence))
        })
        .collect()
}

/// A machine-readable name for why a site is unreachable (the same names
/// as `Unreachable`'s serde `kind`); the messages translate it.
pub(crate) fn unreachable_kind(why: &Unreachable) -> &'static str {
    match why {
        Unreachable::Dns { .. } => "dns",
        Unreachable::Refused { .. } => "refused",
        Unreachable::Reset { .. } => "reset",
        Unreachable::Tls { .. } => "tls",
        Unreachable::Timeout { .. } => "timeout",
        Unreachable::HttpStatus { .. } => "http-status",
        Unreachable::EmptyDocument => "empty-document",
        Unreachable::Download => "download",
        Unreachable::RendererCrashed => "renderer-crashed",
        Unreachable::ScriptHung => "script-hung",
        Unreachable::StillLoading { .. } => "still-loading",
        Unreachable::OutOfMemory { .. } => "out-of-memory",
        Unreachable::Other { .. } => "other",
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::test_support::{
        codes, failed, page_with_footer, reached, record, Facts, MIIT,
    };

    #[rstest]
    #[case::dns(
        TargetFailure::Unreachable(Unreachable::Dns { detail: "net::ERR_NAME_NOT_RESOLVED".into() }),
        FindingCode::SiteUnreachable
    )]
    #[case::http_status(
        TargetFailure::Unreachable(Unreachable::HttpStatus { status: 502 }),
        FindingCode::SiteUnreachable
    )]
    #[case::address_refused(
        TargetFailure::AddressRefused { host: "example.cn".into(), address: "10.0.0.1".into() },
        FindingCode::AddressRefused
    )]
    #[case::crawler_error(
        TargetFailure::Crawler { reason: "browser crashed".into() },
        FindingCode::CrawlerError
    )]
    fn a_failed_target_gets_one_finding(#[case] failure: TargetFailure, #[case] code: FindingCode) {
        let outcomes = [
            reached(
                "example.cn",
                page_with_footer("京ICP备12345678号-1", Some(MIIT)),
            ),
            failed("www.example.cn", failure),
        ];
        let findings = check(&record("example.cn"), &outcomes, &Facts::default());
        assert_eq!(codes(&findings), [code]);
        assert_eq!(
            findings[0].target.as_deref(),
            Some("https://www.example.cn/#desktop")
        );
    }

    #[test]
    fn unreachable_evidence_carries_the_reason() {
        let outcomes = [failed(
            "example.cn",
            TargetFailure::Unreachable(Unreachable::Timeout { seconds: 30 }),
        )];
        let findings = check(&record("example.cn"), &outcomes, &Facts::default());
        let evidence = &findings[0].evidence;
        assert_eq!(evidence.reason.as_deref(), Some("timed out after 30 s"));
        assert_eq!(evidence.keyword.as_deref(), Some("timeout"));
    }

    #[test]
    fn refused_evidence_names_host_and_address() {
        let outcomes = [failed(
            "example.cn",
            TargetFailure::AddressRefused {
                host: "example.cn".into(),
                address: "127.0.0.1".into(),
            },
        )];
        let findings = check(&record("example.cn"), &outcomes, &Facts::default());
        let evidence = &findings[0].evidence;
        assert_eq!(evidence.address.as_deref(), Some("127.0.0.1"));
        assert_eq!(evidence.domain.as_deref(), Some("example.cn"));
    }

    #[test]
    fn unreachable_kinds_match_the_serde_tags() {
        for why in [
            Unreachable::Dns {
                detail: String::new(),
            },
            Unreachable::HttpStatus { status: 404 },
            Unreachable::EmptyDocument,
            Unreachable::ScriptHung,
            Unreachable::StillLoading {
                seconds: 20,
                bytes: None,
            },
            Unreachable::OutOfMemory { limit_mib: 512 },
        ] {
            let json = serde_json::to_value(&why).unwrap();
            assert_eq!(json["kind"], unreachable_kind(&why), "{why:?}");
        }
    }
}
