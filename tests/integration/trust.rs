//! Verdicts a site owner can trust: the pages real themes and hand-made
//! edge cases build (`fixtures/records/trust.csv`), scanned once with a real
//! Chromium. Each case is a false finding the scan used to make; the
//! fixture README says what each site does.

use std::sync::OnceLock;
use std::time::Duration;

use beian_audit::output::{RecordReport, TargetReport};
use beian_audit::rules::FindingCode::{self, IcpNotLinked};
use beian_audit::targets::Device;
use rstest::rstest;

use crate::common::{assert_findings, describe_targets, records, report, FixtureFarm, On, Scan};

/// The shared scan of trust.csv.
fn trust_scan() -> &'static [RecordReport] {
    static SCAN: OnceLock<Vec<RecordReport>> = OnceLock::new();
    SCAN.get_or_init(|| {
        let farm = FixtureFarm::start();
        let output = Scan::new(&farm)
            .input_file(records("trust.csv"))
            .concurrency(4)
            .deadline(Duration::from_secs(600))
            .run();
        output.reports()
    })
}

fn trust_report(domain: &str) -> &'static RecordReport {
    report(trust_scan(), domain)
}

#[rstest]
// footers revealed by scrolling or by an animation
#[case::reveal_wow("reveal-wow.test", &[])]
#[case::reveal_aos("reveal-aos.test", &[])]
#[case::reveal_lazy("reveal-lazy.test", &[])]
#[case::reveal_fade("reveal-fade.test", &[])]
// apexes that forward to www. by page, not by HTTP
#[case::forward_meta("forward-meta.test", &[])]
#[case::forward_js("forward-js.test", &[])]
#[case::forward_late("forward-late.test", &[])]
// frames
#[case::frame_same("frame-same.test", &[])]
#[case::frame_cross("frame-cross.test", &[])]
#[case::frameset("frameset.test", &[])]
// texts as a visitor reads them: the flex row's number is read whole
// (unlinked, so icp-not-linked, not a wrong or subject-only number)
#[case::flex_row("flex-row.test", &[(IcpNotLinked, On::All)])]
#[case::shadow_closed("shadow-closed.test", &[])]
#[case::pseudo_content("pseudo-content.test", &[])]
// number reading
#[case::suffix_email("icp-suffix-email.test", &[(IcpNotLinked, On::All)])]
#[case::traditional("icp-traditional.test", &[])]
// the bottom of a short page
#[case::short_page("short-page.test", &[])]
// a text clipped inside a surrogate pair, and a lone surrogate
#[case::surrogate_clip("surrogate-clip.test", &[])]
fn findings(#[case] domain: &str, #[case] expected: &[(FindingCode, On)]) {
    assert_findings(trust_report(domain), expected);
}

/// Every target of `domain`.
fn targets(domain: &str) -> impl Iterator<Item = &'static TargetReport> {
    trust_report(domain).targets.iter()
}

#[test]
fn every_page_of_the_trust_list_settled() {
    for report in trust_scan() {
        for t in &report.targets {
            assert!(
                t.settled == Some(true) && t.unsettled.is_none(),
                "{}#{} did not settle: {:?}",
                t.url,
                t.device,
                t.unsettled
            );
        }
    }
}

#[rstest]
#[case::meta_refresh("forward-meta.test")]
#[case::script("forward-js.test")]
#[case::late_meta_refresh("forward-late.test")]
fn a_forwarding_apex_is_judged_on_the_www_page_it_lands_on(#[case] domain: &str) {
    let www = format!("http://www.{domain}/");
    for t in targets(domain) {
        assert_eq!(
            t.final_url.as_deref(),
            Some(www.as_str()),
            "{}#{} ended elsewhere; targets:\n{}",
            t.url,
            t.device,
            describe_targets(trust_report(domain))
        );
        if t.host == domain {
            // Reached through its own forward, and not rendered twice.
            assert_eq!(
                t.shared_render.as_deref(),
                Some(www.as_str()),
                "{}#{}",
                t.url,
                t.device
            );
        }
    }
}

#[rstest]
#[case::same_origin(
    "frame-same.test",
    "http://frame-same.test/beian.html",
    "琼ICP备18117890号-1"
)]
#[case::cross_site(
    "frame-cross.test",
    "http://beian-widget.test/frame-cross.html",
    "渝ICP备19128901号-1"
)]
#[case::frameset("frameset.test", "http://framed-real.test/", "黔ICP备2021139012号-1")]
fn a_number_in_a_frame_names_the_frame_it_came_from(
    #[case] domain: &str,
    #[case] frame: &str,
    #[case] number: &str,
) {
    for t in targets(domain) {
        // www. shows the same frames; the same-origin frame's URL has its host.
        let frame = frame.replace(&format!("//{domain}/"), &format!("//{}/", t.host));
        assert!(
            t.links.iter().any(|l| l.text.contains(number)
                && l.frame.as_deref() == Some(frame.as_str())
                && l.visible
                && l.in_footer),
            "{}#{}: no visible footer text {number} from frame {frame}: {:?}",
            t.url,
            t.device,
            t.links
        );
    }
}

#[test]
fn the_flex_rows_number_keeps_its_suffix() {
    for t in targets("flex-row.test") {
        assert_eq!(
            t.icp_numbers,
            ["桂ICP备18140123号-1"],
            "{}#{}",
            t.url,
            t.device
        );
    }
}

#[test]
fn a_text_cut_inside_a_surrogate_pair_is_read_not_lost() {
    for t in targets("surrogate-clip.test") {
        assert!(t.error.is_none(), "{}#{}: {:?}", t.url, t.device, t.error);
        assert_eq!(
            t.icp_numbers,
            ["冀ICP备20206789号-1"],
            "{}#{}",
            t.url,
            t.device
        );
    }
}

#[test]
fn the_phone_and_the_desktop_both_see_revealed_footers() {
    for domain in [
        "reveal-wow.test",
        "reveal-aos.test",
        "reveal-lazy.test",
        "reveal-fade.test",
    ] {
        for device in Device::ALL {
            let seen = targets(domain).filter(|t| t.device == device).all(|t| {
                t.links
                    .iter()
                    .any(|l| l.href.is_some() && l.visible && l.in_footer)
            });
            assert!(
                seen,
                "{domain} on {device}:\n{}",
                describe_targets(trust_report(domain))
            );
        }
    }
}
