//! https that a visitor's browser refuses (See: #7). The fixture farm
//! answers TLS with a self-signed certificate (right host, right dates,
//! unknown signer) and cuts off the handshakes of `hostile-no-https.test`.
//! Chromium must refuse the certificate as a visitor's browser does: with
//! `--scheme https` the target is `site-unreachable` for the TLS reason;
//! with `--scheme auto` the http fallback decides, and each target's
//! `https_error` says why https failed.

use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode::SiteUnreachable;
use beian_audit::targets::Device;
use pretty_assertions::assert_eq;

use crate::common::{assert_findings, report, FixtureFarm, Scan};

/// The self-signed site and the site without https; both pages are correct.
const RECORDS: &str = "domain,service_name,icp_number
hostile-tls-selfsigned.test,自签证书站,京ICP备18090013号-1
hostile-no-https.test,明文小站,京ICP备18090014号-1
";

/// The self-signed site's certificate error, as Chromium names it.
const UNTRUSTED: &str = "net::ERR_CERT_AUTHORITY_INVALID";
/// A handshake cut off by the server, as Chromium names it.
const CUT_OFF: &str = "net::ERR_CONNECTION_CLOSED";

/// `(finding target, keyword, reason)` of each `site-unreachable` finding.
fn unreachable(report: &RecordReport) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == SiteUnreachable)
        .map(|f| {
            (
                f.target.clone().unwrap_or_default(),
                f.evidence.keyword.clone().unwrap_or_default(),
                f.evidence.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    found
}

/// What `unreachable` should give for `domain` over https: every target,
/// each failed for `keyword`, with `why` in the reason.
fn every_https_target(domain: &str, keyword: &str, why: &str) -> Vec<(String, String, String)> {
    let mut want = Vec::new();
    for host in [domain.to_owned(), format!("www.{domain}")] {
        for device in Device::ALL {
            want.push((
                format!("https://{host}/#{device}"),
                keyword.to_owned(),
                why.to_owned(),
            ));
        }
    }
    want.sort();
    want
}

#[test]
fn https_only_refuses_an_untrusted_certificate() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm).scheme("https").stdin(RECORDS).run();
    output.assert_status(1);
    let reports = output.reports();
    let only_unreachable = |r: &RecordReport| r.findings.iter().all(|f| f.code == SiteUnreachable);
    let selfsigned = report(&reports, "hostile-tls-selfsigned.test");
    assert!(only_unreachable(selfsigned), "{:?}", selfsigned.findings);
    assert_eq!(
        unreachable(selfsigned),
        every_https_target(
            "hostile-tls-selfsigned.test",
            "tls",
            &format!("TLS failure ({UNTRUSTED})")
        )
    );
    let no_https = report(&reports, "hostile-no-https.test");
    assert!(only_unreachable(no_https), "{:?}", no_https.findings);
    assert_eq!(
        unreachable(no_https),
        every_https_target(
            "hostile-no-https.test",
            "reset",
            &format!("connection reset ({CUT_OFF})")
        )
    );
    // Refused before any request: the farm saw none inside TLS.
    assert_no_request_over_tls(&farm);
}

#[test]
fn a_browser_told_to_ignore_certificates_would_have_passed() {
    // The control of the test above: the certificate is all that fails.
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm)
        .scheme("https")
        .stdin(RECORDS)
        .arg("--chrome-arg=--ignore-certificate-errors")
        .run();
    output.assert_status(1);
    let reports = output.reports();
    let selfsigned = report(&reports, "hostile-tls-selfsigned.test");
    assert_findings(selfsigned, &[]);
    assert!(
        selfsigned
            .targets
            .iter()
            .all(|t| t.url.starts_with("https://") && t.status == Some(200)),
        "{:?}",
        selfsigned.targets
    );
    assert!(
        farm.requests()
            .iter()
            .any(|r| r.scheme == "https" && r.host == "www.hostile-tls-selfsigned.test"),
        "the farm served no https request"
    );
}

#[test]
fn auto_falls_back_to_http_and_says_why_https_failed() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm).scheme("auto").stdin(RECORDS).run();
    output.assert_status(0);
    let reports = output.reports();
    for (domain, why) in [
        (
            "hostile-tls-selfsigned.test",
            format!("TLS failure ({UNTRUSTED})"),
        ),
        (
            "hostile-no-https.test",
            format!("connection reset ({CUT_OFF})"),
        ),
    ] {
        let r = report(&reports, domain);
        // The http page decides: correct, so no finding.
        assert_findings(r, &[]);
        let got: Vec<_> = r
            .targets
            .iter()
            .map(|t| (t.url.clone(), t.status, t.https_error.clone()))
            .collect();
        let want: Vec<_> = r
            .targets
            .iter()
            .map(|t| (format!("http://{}/", t.host), Some(200), Some(why.clone())))
            .collect();
        assert_eq!(got, want, "{domain}");
    }
    assert_no_request_over_tls(&farm);
}

/// Chromium refused every untrusted certificate before sending a request.
fn assert_no_request_over_tls(farm: &FixtureFarm) {
    let https: Vec<_> = farm
        .requests()
        .into_iter()
        .filter(|r| r.scheme == "https")
        .collect();
    assert!(
        https.is_empty(),
        "requests sent over untrusted TLS: {https:?}"
    );
}
