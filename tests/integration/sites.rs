//! Every fixture site of `fixtures/sites`, scanned once from
//! `fixtures/records/farm.csv` with a real Chromium: exact findings per
//! record (code and target), and the page facts that prove the render was
//! real. `fixtures/README.md` explains each scenario.

use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode::{
    self, GonganNotLinked, GonganNumberMissing, GonganNumberWrong, IcpHidden, IcpLinkWrongUrl,
    IcpNotInFooter, IcpNotLinked, IcpNumberMissing, IcpNumberWrong, IcpSubjectNumberOnly,
    IpNotFiled, NameRestrictedKeyword, PreApprovalTopic, RedirectedOffsite, SiteUnreachable,
    TitleMismatch, TitleMissing,
};
use beian_audit::targets::Device;
use pretty_assertions::assert_eq;
use rstest::rstest;

use crate::common::{assert_findings, describe_targets, farm_scan, label, records, report, On};

/// The report of `domain` in the shared scan.
fn farm_report(domain: &str) -> &'static RecordReport {
    report(&farm_scan().reports, domain)
}

#[rstest]
// beian-link: numbers that are shown correctly however the page builds them
#[case::icp_ok("icp-ok.test", &[])]
#[case::icp_js_injected("icp-js-injected.test", &[])]
#[case::icp_timer("icp-timer.test", &[])]
#[case::icp_spa("icp-spa.test", &[])]
#[case::icp_split_spans("icp-split-spans.test", &[])]
#[case::icp_fullwidth("icp-fullwidth.test", &[])]
#[case::icp_subject_gd("icp-subject-gd.test", &[])]
// beian-link: display axis
#[case::icp_hidden_mobile("icp-hidden-mobile.test", &[(IcpHidden, On::Mobile)])]
#[case::icp_wrong_link("icp-wrong-link.test", &[(IcpLinkWrongUrl, On::All)])]
#[case::icp_unlinked("icp-unlinked.test", &[(IcpNotLinked, On::All)])]
#[case::icp_hidden("icp-hidden.test", &[(IcpHidden, On::All)])]
#[case::icp_not_in_footer("icp-not-in-footer.test", &[(IcpNotInFooter, On::All)])]
// beian-link: number axis
#[case::icp_mobile_variant("icp-mobile-variant.test", &[(IcpNumberMissing, On::Mobile)])]
#[case::icp_wrong_number("icp-wrong-number.test", &[(IcpNumberWrong, On::All)])]
#[case::icp_missing("icp-missing.test", &[(IcpNumberMissing, On::All)])]
#[case::icp_subject_only("icp-subject-only.test", &[(IcpSubjectNumberOnly, On::All)])]
// several filed domains of one subject landing on one page
#[case::group_a("group-a.test", &[])]
#[case::group_b("group-b.test", &[(RedirectedOffsite, On::All)])]
// title-match
#[case::title_wrong("title-wrong.test", &[(TitleMismatch, On::All)])]
#[case::title_empty("title-empty.test", &[(TitleMissing, On::All)])]
#[case::title_js("title-js.test", &[])]
#[case::title_fullwidth("title-fullwidth.test", &[])]
// redirect
#[case::redirect_www("redirect-www.test", &[])]
// one page per record: every target still a first visit
#[case::first_visit("first-visit.test", &[])]
#[case::cached_variant("cached-variant.test", &[(IcpNumberMissing, On::Mobile)])]
#[case::redirect_offsite("redirect-offsite.test", &[(RedirectedOffsite, On::All)])]
#[case::redirect_to_record("redirect-to-record.test", &[(RedirectedOffsite, On::All)])]
// site-access
#[case::status_404("status-404.test", &[(SiteUnreachable, On::All)])]
#[case::status_500("status-500.test", &[(SiteUnreachable, On::All)])]
#[case::never_loads("never-loads.test", &[])]
// gongan
#[case::gongan_ok("gongan-ok.test", &[])]
#[case::gongan_missing("gongan-missing.test", &[(GonganNumberMissing, On::All)])]
#[case::gongan_wrong("gongan-wrong.test", &[(GonganNumberWrong, On::All)])]
#[case::gongan_unlinked("gongan-unlinked.test", &[(GonganNotLinked, On::All)])]
// site-name: 中国 (prefix) and 论坛, in the service name and in each title;
// 论坛 is also the bulletin-board topic (电子公告), which the record holds no
// approval for (#15)
#[case::name_restricted("name-restricted.test", &[
    (NameRestrictedKeyword, On::Record),
    (NameRestrictedKeyword, On::Record),
    (NameRestrictedKeyword, On::All),
    (NameRestrictedKeyword, On::All),
    (PreApprovalTopic, On::Record),
    (PreApprovalTopic, On::All),
])]
// access
#[case::ip_not_filed("ip-not-filed.test", &[(IpNotFiled, On::All)])]
fn findings(#[case] domain: &str, #[case] expected: &[(FindingCode, On)]) {
    assert_findings(farm_report(domain), expected);
}

#[test]
fn every_record_of_farm_csv_is_reported_once_with_its_id() {
    let csv = std::fs::read_to_string(records("farm.csv")).expect("farm.csv");
    let mut want: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_owned(), fields[6].to_owned())
        })
        .collect();
    want.sort();
    let mut got: Vec<(String, String)> = farm_scan()
        .reports
        .iter()
        .map(|r| {
            let id = r.id.as_ref().and_then(|id| id.as_str()).unwrap_or_default();
            (r.domain.clone(), id.to_owned())
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn the_farm_scan_exits_1_because_some_records_fail() {
    let scan = farm_scan();
    assert_eq!(scan.status, Some(1), "stderr:\n{}", scan.stderr);
}

#[test]
fn every_record_has_apex_and_www_on_desktop_and_mobile() {
    for report in &farm_scan().reports {
        let www = format!("www.{}", report.domain);
        let mut want: Vec<(String, String, Device)> = [report.domain.as_str(), www.as_str()]
            .into_iter()
            .flat_map(|host| {
                Device::ALL.map(|device| (format!("http://{host}/"), host.to_owned(), device))
            })
            .collect();
        want.sort();
        let mut got: Vec<(String, String, Device)> = report
            .targets
            .iter()
            .map(|t| (t.url.clone(), t.host.clone(), t.device))
            .collect();
        got.sort();
        assert_eq!(got, want, "targets of {}", report.domain);
    }
}

/// The targets of `domain` on `device`.
fn targets_on(
    domain: &str,
    device: Device,
) -> impl Iterator<Item = &'static beian_audit::output::TargetReport> {
    farm_report(domain)
        .targets
        .iter()
        .filter(move |t| t.device == device)
}

/// Assert that every target of `domain` lists `number` among its ICP numbers.
fn assert_every_target_shows(domain: &str, number: &str) {
    let report = farm_report(domain);
    for target in &report.targets {
        assert!(
            target.icp_numbers.iter().any(|n| n == number),
            "{}#{} does not list {number}; targets:\n{}",
            target.url,
            target.device,
            describe_targets(report)
        );
    }
}

#[test]
fn numbers_written_late_by_scripts_are_read() {
    assert_every_target_shows("icp-js-injected.test", "京ICP备19020231号-1");
    assert_every_target_shows("icp-timer.test", "沪ICP备20031452号-1");
    assert_every_target_shows("icp-spa.test", "浙ICP备2021034567号-2");
}

#[test]
fn numbers_in_odd_spellings_are_read_in_canonical_form() {
    assert_every_target_shows("icp-split-spans.test", "京ICP备17044321号-1");
    assert_every_target_shows("icp-fullwidth.test", "苏ICP备16052277号-3");
}

#[test]
fn titles_are_read_after_scripts_ran() {
    for (domain, title) in [
        ("icp-spa.test", "星河云课堂 - 在线学习平台"),
        ("title-js.test", "锦鲤音乐 - 原创音乐分享"),
    ] {
        for target in &farm_report(domain).targets {
            assert_eq!(
                target.title.as_deref(),
                Some(title),
                "{}#{}",
                target.url,
                target.device
            );
        }
    }
}

#[test]
fn http_errors_are_recorded_with_their_status() {
    for (domain, status) in [("status-404.test", 404), ("status-500.test", 500)] {
        for target in &farm_report(domain).targets {
            assert_eq!(
                target.status,
                Some(status),
                "{}#{}",
                target.url,
                target.device
            );
            assert!(
                target.error.is_some(),
                "{}#{} has no error",
                target.url,
                target.device
            );
        }
    }
}

#[test]
fn a_page_whose_load_never_fires_is_judged_on_what_it_shows() {
    for target in &farm_report("never-loads.test").targets {
        assert_eq!(target.status, Some(200), "{}#{}", target.url, target.device);
        assert_eq!(target.error, None, "{}#{}", target.url, target.device);
    }
    assert_every_target_shows("never-loads.test", "桂ICP备18281234号-1");
    let hung = farm_scan()
        .requests
        .iter()
        .any(|r| r.host.ends_with("never-loads.test") && r.path == "/frame/hall.html");
    assert!(hung, "the browser never asked for the frame that hangs");
}

#[test]
fn phones_are_served_the_phone_page() {
    for target in targets_on("icp-mobile-variant.test", Device::Mobile) {
        assert_eq!(
            target.title.as_deref(),
            Some("知味食堂 - 手机版"),
            "{}",
            target.url
        );
        assert_eq!(target.icp_numbers, Vec::<String>::new(), "{}", target.url);
    }
    for target in targets_on("icp-mobile-variant.test", Device::Desktop) {
        assert_eq!(
            target.title.as_deref(),
            Some("知味食堂 - 家常菜馆"),
            "{}",
            target.url
        );
    }
    let homepage_uas: Vec<&str> = farm_scan()
        .requests
        .iter()
        .filter(|r| r.host.ends_with("icp-mobile-variant.test") && r.path == "/")
        .filter_map(|r| r.ua.as_deref())
        .collect();
    assert!(
        homepage_uas.iter().any(|ua| ua.contains("Mobile")),
        "no phone user agent among {homepage_uas:?}"
    );
    assert!(
        homepage_uas.iter().any(|ua| !ua.contains("Mobile")),
        "no desktop user agent among {homepage_uas:?}"
    );
}

#[test]
fn a_footer_hidden_on_phones_is_visible_on_desktops() {
    let number = "闽ICP备18061234号-1";
    for (device, visible) in [(Device::Desktop, true), (Device::Mobile, false)] {
        for target in targets_on("icp-hidden-mobile.test", device) {
            let runs: Vec<bool> = target
                .links
                .iter()
                .filter(|l| l.text.contains("18061234"))
                .map(|l| l.visible)
                .collect();
            assert!(
                !runs.is_empty(),
                "{}#{device}: no run of {number}",
                target.url
            );
            assert!(
                runs.iter().all(|&v| v == visible),
                "{}#{device}: visibility {runs:?}",
                target.url
            );
        }
    }
}

#[test]
fn redirects_end_where_the_sites_send_them() {
    for (domain, host, device, final_url) in [
        (
            "redirect-www.test",
            "redirect-www.test",
            Device::Desktop,
            "http://www.redirect-www.test/",
        ),
        (
            "redirect-www.test",
            "redirect-www.test",
            Device::Mobile,
            "http://www.redirect-www.test/",
        ),
        (
            "group-a.test",
            "group-a.test",
            Device::Mobile,
            "http://www.group-a.test/",
        ),
        (
            "group-b.test",
            "group-b.test",
            Device::Desktop,
            "http://www.group-a.test/",
        ),
        (
            "group-b.test",
            "www.group-b.test",
            Device::Mobile,
            "http://www.group-a.test/",
        ),
        (
            "redirect-offsite.test",
            "redirect-offsite.test",
            Device::Desktop,
            "http://www.other-brand.test/",
        ),
        (
            "redirect-to-record.test",
            "www.redirect-to-record.test",
            Device::Mobile,
            "http://www.icp-ok.test/",
        ),
    ] {
        let report = farm_report(domain);
        let target = report
            .targets
            .iter()
            .find(|t| t.host == host && t.device == device)
            .unwrap_or_else(|| panic!("no target {}", label(host, device)));
        assert_eq!(
            target.final_url.as_deref(),
            Some(final_url),
            "{}",
            label(host, device)
        );
    }
}

#[test]
fn addresses_served_from_are_recorded() {
    for target in &farm_report("ip-not-filed.test").targets {
        assert_eq!(
            target.addresses,
            vec!["127.0.0.1".to_owned()],
            "{}#{}",
            target.url,
            target.device
        );
    }
}

#[test]
fn offsite_redirects_name_the_domain_they_land_on() {
    for (domain, landed) in [
        ("group-b.test", "group-a.test"),
        ("redirect-offsite.test", "other-brand.test"),
        ("redirect-to-record.test", "icp-ok.test"),
    ] {
        for finding in &farm_report(domain).findings {
            assert_eq!(finding.code, RedirectedOffsite, "{domain}");
            assert_eq!(finding.evidence.domain.as_deref(), Some(landed), "{domain}");
        }
    }
}

#[test]
fn an_apex_that_redirects_to_www_shares_www_s_render() {
    let page = farm_report("redirect-www.test");
    for target in &page.targets {
        let shared =
            (target.host == "redirect-www.test").then_some("http://www.redirect-www.test/");
        assert_eq!(
            (target.shared_render.as_deref(), target.final_url.as_deref()),
            (shared, Some("http://www.redirect-www.test/")),
            "{}#{}",
            target.url,
            target.device
        );
        assert_eq!(target.icp_numbers, vec!["黑ICP备18225678号-1".to_owned()]);
    }
    // www.'s page was loaded once per device, not once more per apex; the
    // apex was asked once per device and answered with its redirect.
    let homepage_loads = |host: &str| {
        farm_scan()
            .requests
            .iter()
            .filter(|r| r.host == host && r.path == "/")
            .count()
    };
    assert_eq!(
        (
            homepage_loads("redirect-www.test"),
            homepage_loads("www.redirect-www.test")
        ),
        (2, 2)
    );
}

#[test]
fn images_and_fonts_are_never_fetched() {
    // gongan-ok.test's footer shows an <img> badge beside its number.
    assert!(std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/sites/gongan-ok.test/index.html")
    )
    .is_ok_and(|html| html.contains("/img/gongan.png")));
    assert_every_target_shows("gongan-ok.test", "京ICP备19292345号-1");
    let heavy: Vec<&str> = farm_scan()
        .requests
        .iter()
        .map(|r| r.path.as_str())
        .filter(|path| {
            [
                ".png", ".jpg", ".gif", ".webp", ".woff", ".woff2", ".ttf", ".mp4",
            ]
            .iter()
            .any(|ext| path.ends_with(ext))
        })
        .collect();
    assert!(heavy.is_empty(), "fetched: {heavy:?}");
}
