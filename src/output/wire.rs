//! The wire types of SPEC §4: one `RecordReport` per input record. These
//! serde types are the contract; besides them only the copy of a judged
//! record into them ([`RecordReport::of`]), which decides nothing and
//! recognises nothing: the findings, the verdict and the numbers a page
//! shows come from `rules`, through `judge`.

use serde::{Deserialize, Serialize};

use crate::judge::JudgedRecord;
use crate::rules::{Finding, TargetOutcome, Verdict};
use crate::targets::Device;

/// One output line: a record and everything found about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReport {
    /// The domain as the input wrote it (empty when the row had none).
    pub domain: String,
    /// The input's `id`, untouched; null when absent.
    pub id: Option<serde_json::Value>,
    /// 1-based line of the record in the input (the key `--resume` uses).
    pub line: u64,
    /// `pass`, `fail` or `error` (SPEC §2).
    pub verdict: Verdict,
    /// Every broken rule.
    pub findings: Vec<Finding>,
    /// One entry per host × device.
    pub targets: Vec<TargetReport>,
    /// From the first target's start to this line being written.
    pub elapsed_ms: u64,
}

/// What one target showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The homepage URL navigated.
    pub url: String,
    /// The host, ASCII form.
    pub host: String,
    /// `desktop` or `mobile`.
    pub device: Device,
    /// Where navigation ended; null when nothing arrived.
    pub final_url: Option<String>,
    /// HTTP status of the final document.
    pub status: Option<u16>,
    /// Addresses the main document was served from.
    pub addresses: Vec<String>,
    /// Requests of the page the network guard refused (internal addresses).
    #[serde(default)]
    pub refused_subresources: u32,
    /// The rendered `document.title`.
    pub title: Option<String>,
    /// ICP numbers shown, canonical form, each once.
    pub icp_numbers: Vec<String>,
    /// 公安 numbers shown, canonical form, each once.
    pub gongan_numbers: Vec<String>,
    /// Text runs carrying a number, and links to the MIIT or MPS sites.
    pub links: Vec<LinkReport>,
    /// Why the target has no page; null when it rendered.
    pub error: Option<String>,
    /// Beyond SPEC: why https failed when `--scheme auto` fell back to http
    /// (`url` is then the http one); absent when there was no fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_error: Option<String>,
    /// Beyond SPEC: the target URL whose render this target reports (same
    /// device): its navigation redirected to the page that target had
    /// already rendered, so it was not rendered twice; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_render: Option<String>,
    /// Beyond SPEC: whether the page settled before it was read (false: its
    /// budget ran out while it was still changing; `unsettled` says why);
    /// absent when no page was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<bool>,
    /// Beyond SPEC: why the page was read before it settled; absent when it
    /// settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsettled: Option<String>,
    /// Time spent on this target.
    pub elapsed_ms: u64,
}

/// A text run carrying a filing number, or a link to a filing site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// The text shown.
    pub text: String,
    /// The enclosing link's `href`; null when not linked.
    pub href: Option<String>,
    /// Whether a visitor can see it.
    pub visible: bool,
    /// Whether it is at the bottom of the page.
    pub in_footer: bool,
    /// Beyond SPEC: the URL of the frame (iframe, frameset) that shows it;
    /// absent for the top document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

impl RecordReport {
    /// `judged` in wire form.
    #[must_use]
    pub fn of(judged: &JudgedRecord) -> RecordReport {
        RecordReport {
            domain: judged.domain.clone(),
            id: judged.id.clone(),
            line: judged.line,
            verdict: judged.verdict,
            findings: judged.findings.clone(),
            targets: judged
                .targets
                .iter()
                .map(TargetReport::from_outcome)
                .collect(),
            elapsed_ms: millis(judged.elapsed),
        }
    }
}

impl TargetReport {
    /// The line of a target `url` on `host` as `device` with nothing known
    /// of its page yet: every other field empty.
    #[must_use]
    pub fn blank(url: String, host: String, device: Device) -> TargetReport {
        TargetReport {
            url,
            host,
            device,
            final_url: None,
            status: None,
            addresses: Vec::new(),
            refused_subresources: 0,
            title: None,
            icp_numbers: Vec::new(),
            gongan_numbers: Vec::new(),
            links: Vec::new(),
            error: None,
            https_error: None,
            shared_render: None,
            settled: None,
            unsettled: None,
            elapsed_ms: 0,
        }
    }

    /// What `outcome` showed, in wire form: numbers in canonical form, each
    /// once; every text run carrying a number and every filing-site link.
    pub fn from_outcome(outcome: &TargetOutcome) -> TargetReport {
        let mut report = TargetReport {
            https_error: outcome.https_error.as_ref().map(ToString::to_string),
            shared_render: outcome.shared_render.clone(),
            elapsed_ms: millis(outcome.elapsed),
            ..TargetReport::blank(
                outcome.url.clone(),
                outcome.target.host.clone(),
                outcome.target.device,
            )
        };
        let page = match (&outcome.result, &outcome.partial) {
            (Ok(page), _) => page,
            (Err(failure), partial) => {
                report.error = Some(failure.to_string());
                if let Some(page) = partial {
                    report.final_url = Some(page.final_url.clone());
                    report.status = page.status;
                    report.addresses.clone_from(&page.addresses);
                    report.title = Some(page.title.clone());
                }
                return report;
            }
        };
        report.final_url = Some(page.final_url.clone());
        report.status = page.status;
        report.addresses.clone_from(&page.addresses);
        report.refused_subresources = page.refused_subresources;
        report.title = Some(page.title.clone());
        report.settled = Some(page.unsettled.is_none());
        report.unsettled.clone_from(&page.unsettled);
        let (icp, gongan) = (&outcome.shown.icp, &outcome.shown.gongan);
        report.icp_numbers = unique(icp.iter().map(|o| o.number.to_string()));
        report.gongan_numbers = unique(gongan.iter().map(|o| o.number.to_string()));
        let runs = icp
            .iter()
            .map(|o| (&o.text, &o.href, o.visible, o.in_footer, &o.frame))
            .chain(
                gongan
                    .iter()
                    .map(|o| (&o.text, &o.href, o.visible, o.in_footer, &o.frame)),
            )
            .map(|(text, href, visible, in_footer, frame)| LinkReport {
                text: text.clone(),
                href: href.clone(),
                visible,
                in_footer,
                frame: frame.clone(),
            });
        let anchors = page.links.iter().map(|l| LinkReport {
            text: l.text.clone(),
            href: Some(l.href.clone()),
            visible: l.visible,
            in_footer: l.in_footer,
            frame: l.frame.clone(),
        });
        for link in runs.chain(anchors) {
            // An anchor whose text is the number is already listed as a run.
            if !report
                .links
                .iter()
                .any(|l| l.href == link.href && l.text.contains(link.text.trim()))
            {
                report.links.push(link);
            }
        }
        report
    }
}

/// Each distinct value once, in first-seen order.
fn unique(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Whole milliseconds, saturating.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{PageLink, PageSnapshot, TextBlock, TextSegment};
    use crate::rules::{Evidence, FindingCode};
    use crate::targets::Target;
    use std::time::Duration;

    fn outcome() -> TargetOutcome {
        let footer = TextSegment {
            text: "京ICP备12345678号-1 京公网安备11010502030143号".to_owned(),
            href: None,
            visible: true,
            in_footer: true,
        };
        let page = PageSnapshot {
            final_url: "https://a.cn/".to_owned(),
            status: Some(200),
            title: "甲".to_owned(),
            blocks: vec![TextBlock {
                segments: vec![footer],
                frame: None,
            }],
            links: vec![PageLink {
                text: "工信部".to_owned(),
                href: "https://beian.miit.gov.cn/".to_owned(),
                visible: true,
                in_footer: true,
                frame: None,
            }],
            ..PageSnapshot::default()
        };
        let target = Target {
            host: "a.cn".to_owned(),
            device: Device::Desktop,
        };
        TargetOutcome::new(
            target,
            "https://a.cn/".to_owned(),
            Ok(page),
            Duration::from_millis(7),
        )
    }

    #[test]
    fn a_target_lists_what_its_outcome_shows() {
        let report = TargetReport::from_outcome(&outcome());
        assert_eq!(report.icp_numbers, ["京ICP备12345678号-1"]);
        assert_eq!(report.gongan_numbers, ["京公网安备11010502030143号"]);
        let hrefs: Vec<Option<&str>> = report.links.iter().map(|l| l.href.as_deref()).collect();
        assert_eq!(hrefs, [None, None, Some("https://beian.miit.gov.cn/")]);
        assert_eq!((report.settled, report.elapsed_ms), (Some(true), 7));
    }

    #[test]
    fn a_record_is_written_as_judged() {
        let judged = JudgedRecord {
            domain: "a.cn".to_owned(),
            id: Some(serde_json::json!(3)),
            line: 4,
            findings: vec![Finding::new(
                FindingCode::IcpNotInFooter,
                None,
                Evidence::default(),
            )],
            verdict: Verdict::Pass,
            targets: vec![outcome()],
            elapsed: Duration::from_millis(1500),
        };
        let report = RecordReport::of(&judged);
        assert_eq!(
            (report.line, report.verdict, report.elapsed_ms),
            (4, Verdict::Pass, 1500)
        );
        assert_eq!(report.findings, judged.findings);
        assert_eq!(report.targets.len(), 1);
    }
}
