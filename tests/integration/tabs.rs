//! One page per record (`browser::tab::Tab`): a record's four targets
//! render one after another in one page, each still as a first visit, and a
//! page whose load event never came is not reused; a short list lends its
//! spare pages to the phone targets (`scan::pages::PageLimit`). The scan's own
//! debug log says which renders opened a page and which reused one.

use std::time::Duration;

use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode::{IcpNumberMissing, SiteUnreachable};

use crate::common::{assert_findings, report, FixtureFarm, On, Scan};

/// How many pages the renders of `domain`'s targets opened, and how many
/// reused the page of the render before them, from the pool's debug log.
fn pages(stderr: &str, domain: &str) -> (usize, usize) {
    let (mut opened, mut reused) = (0, 0);
    for line in stderr.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields = &event["fields"];
        let host = fields["url"]
            .as_str()
            .and_then(|url| url::Url::parse(url).ok())
            .and_then(|url| url.host_str().map(str::to_owned));
        if host.is_none_or(|h| h != domain && h != format!("www.{domain}")) {
            continue;
        }
        match fields["message"].as_str() {
            Some("page opened") => opened += 1,
            Some("page reused") => reused += 1,
            _ => {}
        }
    }
    (opened, reused)
}

/// Two sites that tell a first visit from a later one: `first-visit.test`
/// hides its number from returning visitors (a site-wide cookie and local
/// storage); `cached-variant.test` serves phones a page without the number,
/// and desktops one with it, cacheable and without `Vary: User-Agent`.
const FIRST_VISITS: &str = "first-visit.test,松间茶舍,赣ICP备19214567号-1\n\
                            cached-variant.test,青禾书屋,湘ICP备18234567号-1\n";

/// A scan of CSV `rows` whose debug log says which renders opened a page
/// and which reused one.
fn logged_scan(farm: &FixtureFarm, rows: &str) -> Scan {
    Scan::new(farm)
        .stdin(&format!("domain,service_name,icp_number\n{rows}"))
        .arg("--log-format")
        .arg("json")
        .env("RUST_LOG", "warn,beian_audit::browser::tab=debug")
}

/// Every target of [`FIRST_VISITS`] was judged as a first visit, and each
/// record's renders opened and reused `pages_each` pages.
fn assert_first_visits(reports: &[RecordReport], log: &str, pages_each: (usize, usize)) {
    // Cookies and local storage do not leak from one target to the next:
    // a returning visitor would be shown no number.
    assert_findings(report(reports, "first-visit.test"), &[]);
    assert_eq!(pages(log, "first-visit.test"), pages_each, "stderr:\n{log}");
    // Nor does the HTTP cache from desktop to phone: the phone page has no
    // number, the desktop page has.
    assert_findings(
        report(reports, "cached-variant.test"),
        &[(IcpNumberMissing, On::Mobile)],
    );
    assert_eq!(
        pages(log, "cached-variant.test"),
        pages_each,
        "stderr:\n{log}"
    );
}

#[test]
fn a_records_targets_share_one_page_and_each_is_a_first_visit() {
    let farm = FixtureFarm::start();
    // Two records at once: until the first two are done, more are left to
    // start, so no page is spare and each renders its four targets in one.
    let rows = format!(
        "{FIRST_VISITS}\
         never-loads.test,海棠画廊,桂ICP备18281234号-1\n\
         status-404.test,旧时光博客,皖ICP备16269012号-1\n"
    );
    let output = logged_scan(&farm, &rows)
        // Short: never-loads.test holds each of its targets to the end.
        .timeout(6)
        .run();
    let log = &output.stderr;
    output.assert_status(1);
    let reports = output.reports();
    assert_first_visits(&reports, log, (1, 3));
    // A page whose load never fired is closed; each target opens its own.
    assert_findings(report(&reports, "never-loads.test"), &[]);
    assert_eq!(pages(log, "never-loads.test"), (4, 0), "stderr:\n{log}");
    // Nor is an HTTP error page: it is judged as soon as it commits, before
    // its load event.
    assert_findings(
        report(&reports, "status-404.test"),
        &[(SiteUnreachable, On::All)],
    );
    assert_eq!(pages(log, "status-404.test"), (4, 0), "stderr:\n{log}");
}

#[test]
fn a_short_list_lends_its_spare_pages_to_the_phone_targets() {
    let farm = FixtureFarm::start();
    // Two records, four pages: once both are under way no record is left
    // to start, so each renders its phone targets in a second page while
    // its desktop ones render in the first.
    let output = logged_scan(&farm, FIRST_VISITS).concurrency(4).run();
    output.assert_status(1);
    assert_first_visits(&output.reports(), &output.stderr, (2, 2));
}

#[test]
fn a_render_waiting_for_its_turn_does_not_take_the_last_pages_navigation_for_its_own() {
    let farm = FixtureFarm::start();
    // One load a second for four records in flight: a render waits for its
    // turn, after its tab was made ready, while the tab still shows the
    // record's last page, which moves itself on to /moved.html as soon as
    // that readying clears its cookie.
    let output = Scan::new(&farm)
        .stdin(
            "domain,service_name,icp_number\n\
             late-navigation.test,云杉旅舍,吉ICP备19253456号-1\n\
             icp-ok.test,清风文化,京ICP备18012345号-1\n\
             icp-js-injected.test,青木书店,京ICP备19020231号-1\n\
             title-js.test,锦鲤音乐,辽ICP备20203456号-1\n",
        )
        .concurrency(4)
        .arg("--rate")
        .arg("1")
        .deadline(Duration::from_secs(300))
        .run();
    let reports = output.reports();
    assert_findings(report(&reports, "late-navigation.test"), &[]);
    let moved = farm
        .requests()
        .iter()
        .any(|r| r.host.ends_with("late-navigation.test") && r.path == "/moved.html");
    assert!(
        moved,
        "no page of late-navigation.test moved on while a render waited: \
         the scan never met the case; stderr:\n{}",
        output.stderr
    );
}
