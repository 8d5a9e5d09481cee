//! Test helpers for the rules: small constructors for records, pages and
//! outcomes, and a fake [`ScanFacts`]. Test-only; owned by the rules.

use std::time::Duration;

use crate::filing::{GonganNumber, IcpNumber};
use crate::input::Record;
use crate::page::{PageSnapshot, TargetFailure, TextBlock, TextSegment};
use crate::rules::{Finding, FindingCode, ScanFacts, TargetOutcome};
use crate::targets::{Device, Target};

/// The MIIT filing homepage.
pub(crate) const MIIT: &str = "https://beian.miit.gov.cn/";
/// A current MPS query link for `11010502030143`.
pub(crate) const MPS: &str = "https://beian.mps.gov.cn/#/query/webSearch?code=11010502030143";

/// A text segment.
pub(crate) fn seg(text: &str, href: Option<&str>, visible: bool, in_footer: bool) -> TextSegment {
    TextSegment {
        text: text.to_owned(),
        href: href.map(str::to_owned),
        visible,
        in_footer,
    }
}

/// A text block of these segments.
pub(crate) fn block(segments: Vec<TextSegment>) -> TextBlock {
    TextBlock {
        segments,
        frame: None,
    }
}

/// A 200 page on `https://example.cn/` titled 例子网 with these blocks.
pub(crate) fn page_with_blocks(blocks: Vec<TextBlock>) -> PageSnapshot {
    PageSnapshot {
        final_url: "https://example.cn/".to_owned(),
        status: Some(200),
        addresses: vec!["203.0.113.7".to_owned()],
        refused_subresources: 0,
        redirects: Vec::new(),
        title: "例子网".to_owned(),
        blocks,
        links: Vec::new(),
        headings: Vec::new(),
        joined: false,
        unsettled: None,
    }
}

/// A page whose footer shows `text`, visible, inside a link to `href`.
pub(crate) fn page_with_footer(text: &str, href: Option<&str>) -> PageSnapshot {
    page_with_blocks(vec![block(vec![seg(text, href, true, true)])])
}

/// The same page, ending on `final_url`.
pub(crate) fn landing_on(mut page: PageSnapshot, final_url: &str) -> PageSnapshot {
    page.final_url = final_url.to_owned();
    page
}

/// A parsed ICP number (panics on a bad test literal).
pub(crate) fn icp(text: &str) -> IcpNumber {
    IcpNumber::parse(text).expect("test ICP number")
}

/// A record of an ASCII `domain` with nothing filed but the domain.
pub(crate) fn record(domain: &str) -> Record {
    Record {
        line: 2,
        domain: domain.to_owned(),
        ascii_domain: domain.to_ascii_lowercase(),
        id: None,
        service_name: None,
        icp_number: None,
        gongan_number: None,
        ips: Vec::new(),
        hosts: Vec::new(),
        subject_type: None,
        approvals: Vec::new(),
    }
}

/// A record of `domain` filed with service number `number`.
pub(crate) fn filed(domain: &str, number: &str) -> Record {
    Record {
        icp_number: Some(icp(number)),
        ..record(domain)
    }
}

/// A record of `domain` filed with a 公安 number.
pub(crate) fn filed_gongan(domain: &str, number: &str) -> Record {
    Record {
        gongan_number: Some(GonganNumber::parse(number).expect("test 公安 number")),
        ..record(domain)
    }
}

/// A desktop outcome on `https://<host>/` that produced `page`.
pub(crate) fn reached(host: &str, page: PageSnapshot) -> TargetOutcome {
    outcome(host, Device::Desktop, Ok(page))
}

/// A desktop outcome on `https://<host>/` that failed.
pub(crate) fn failed(host: &str, failure: TargetFailure) -> TargetOutcome {
    outcome(host, Device::Desktop, Err(failure))
}

/// An outcome on `https://<host>/` for `device`.
pub(crate) fn outcome(
    host: &str,
    device: Device,
    result: Result<PageSnapshot, TargetFailure>,
) -> TargetOutcome {
    let target = Target {
        host: host.to_owned(),
        device,
    };
    TargetOutcome::new(
        target.clone(),
        target.url("https"),
        result,
        Duration::from_millis(5),
    )
}

/// A scan with the given filed numbers (by registrable domain) and, when
/// `shared_page`, another record of the same subject on every page.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Registrable domain → filed number.
    pub(crate) filed: Vec<(String, IcpNumber)>,
    /// The answer to every `subject_shares_page` question.
    pub(crate) shared_page: bool,
}

impl ScanFacts for Facts {
    fn filed_number(&self, registrable_domain: &str) -> Option<IcpNumber> {
        self.filed
            .iter()
            .find(|(d, _)| d == registrable_domain)
            .map(|(_, n)| n.clone())
    }

    fn subject_shares_page(&self, _subject: &IcpNumber, _domain: &str, _final_url: &str) -> bool {
        self.shared_page
    }
}

/// The codes of `findings`, in order.
pub(crate) fn codes(findings: &[Finding]) -> Vec<FindingCode> {
    findings.iter().map(|f| f.code).collect()
}
