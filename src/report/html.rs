//! The HTML of `beian-audit report`: `template.html` filled with escaped
//! text. Every string that came from a scanned site (titles, link texts,
//! hrefs, URLs, messages quoting them) goes through [`escape`]; only URLs
//! that parse as `http`/`https` become links ([`link`]); the template's one
//! style and one script are admitted by their SHA-256 in the page's
//! Content-Security-Policy, so markup that slipped through still could not
//! run.
//!
//! Elements that tests and tools read have stable ids and data attributes:
//! `#count-records`, `#count-targets`, `#count-findings`,
//! `#count-verdict-<verdict>`, `#count-code-<code>` (each with
//! `data-count`), `#count-shown`, rows `tr.record[data-verdict][data-codes]`,
//! findings `.finding[data-code][data-count]`, and the filter checkboxes
//! `input[data-filter-code]` / `input[data-filter-verdict]`. With a
//! baseline, rows carry `data-change`, `#count-change-<change>` counts
//! them, `input[data-filter-change]` filters them, and the baseline's
//! records missing here are rows `tr.gone-record`. A finding's fix is
//! `code.fix` beside a `button.copy-fix`.
//!
//! Headings, labels and column names come from `labels` (`--lang`); codes,
//! rules and the wire names of verdicts and changes stay as they are in
//! the data attributes. A finding's evidence, its fix and the record's
//! screenshots are `evidence`'s to write.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::diff::{Change, RecordChange};
use crate::output::{RecordReport, TargetReport};
use crate::report::baseline::Baseline;
use crate::report::evidence::{evidence, screenshots};
use crate::report::labels::{fill as phrase, Labels, Lang};
/// HTML-escape text for element content and quoted attribute values (the
/// same escaping the fix a site owner pastes gets).
pub(crate) use crate::rules::escape_html as escape;
use crate::rules::{Evidence, Finding, FindingCode, RuleId, Verdict};

/// The page, with `{{name}}` placeholders (never inside its style or script).
const TEMPLATE: &str = include_str!("template.html");

/// Every verdict, in the order the header lists them.
const VERDICTS: [Verdict; 3] = [Verdict::Fail, Verdict::Error, Verdict::Pass];

/// What the page says about where its records came from.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The NDJSON file's name, for the heading.
    pub source: &'a str,
    /// How many lines of it were not records.
    pub skipped: u64,
    /// Where relative screenshot paths are also looked up (the NDJSON's
    /// folder), besides the working directory.
    pub evidence_base: Option<&'a Path>,
    /// The language of headings, labels and column names.
    pub lang: Lang,
    /// Each record's change since a baseline scan, when one was given.
    pub baseline: Option<&'a Baseline>,
}

/// The whole report page for `reports`.
#[must_use]
pub fn render(reports: &[RecordReport], page: &Page<'_>) -> String {
    let record_count = reports.len().to_string();
    let l = page.lang.labels();
    let mut out = String::with_capacity(TEMPLATE.len() + reports.len() * 2048);
    fill(TEMPLATE, &mut out, |name, out| match name {
        "csp" => out.push_str(&escape(&content_security_policy())),
        "source" => out.push_str(&escape(page.source)),
        "skipped" if page.skipped > 0 => {
            let n = page.skipped;
            let _ = write!(
                out,
                " · <strong id=\"count-skipped\" data-count=\"{n}\">{}</strong>",
                escape(&phrase(l.skipped, "n", &n.to_string()))
            );
        }
        "baseline" => {
            if let Some(baseline) = page.baseline {
                let _ = write!(
                    out,
                    " · {}: <code>{}</code>",
                    escape(l.baseline),
                    escape(&baseline.source)
                );
            }
        }
        "totals" => totals(reports, page, out),
        "showing" => {
            let live = format!(
                "<span id=\"count-shown\" data-count=\"{record_count}\">{record_count}</span>"
            );
            let sentence = phrase(&escape(l.showing), "total", &record_count);
            out.push_str(&phrase(&sentence, "shown", &live));
        }
        "rows" => {
            for (index, report) in reports.iter().enumerate() {
                let change = page.baseline.and_then(|b| b.changes.get(index));
                row(index, report, change, page, out);
            }
        }
        "gone" => {
            if let Some(baseline) = page.baseline {
                gone_rows(&baseline.gone, page.lang, out);
            }
        }
        label => out.push_str(&escape(template_label(l, label))),
    });
    out
}

/// The template's own words (`{{l_…}}` placeholders).
fn template_label<'l>(l: &'l Labels, name: &str) -> &'l str {
    match name {
        "l_html_lang" => l.html_lang,
        "l_title" => l.title,
        "l_source" => l.source,
        "l_codes" => l.codes,
        "l_all" => l.all,
        "l_none" => l.none,
        "l_domain" => l.domain,
        "l_id" => l.id,
        "l_line" => l.line,
        "l_verdict" => l.verdict,
        "l_findings" => l.findings,
        _ => "",
    }
}

/// The policy: nothing by default; `data:` images (inlined screenshots);
/// the template's own style and script by hash.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; img-src data:; style-src '{}'; script-src '{}'; \
         base-uri 'none'; form-action 'none'",
        sha256_source(between(TEMPLATE, "<style>", "</style>")),
        sha256_source(between(TEMPLATE, "<script>", "</script>")),
    )
}

/// A CSP hash source, `sha256-<base64>`.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The text between the first `open` and the following `close` (empty if absent).
fn between<'t>(text: &'t str, open: &str, close: &str) -> &'t str {
    text.split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map_or("", |(inner, _)| inner)
}

/// Copy `template` to `out`, replacing each `{{name}}` by what `value`
/// writes. One pass: text written for a placeholder is never scanned again.
fn fill(template: &str, out: &mut String, mut value: impl FnMut(&str, &mut String)) {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return;
        };
        value(&after[..end], out);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
}

/// A URL as a link when it parses as `http`/`https` (the href is the parsed,
/// serialised form, so no other scheme can hide in it), else as plain text.
pub(crate) fn link(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => format!(
            "<a href=\"{}\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">{}</a>",
            escape(parsed.as_str()),
            escape(url)
        ),
        _ => format!("<code>{}</code>", escape(url)),
    }
}

/// A serde unit-variant enum's wire name (`fail`, `beian-link`, `error`).
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The header: records by verdict (with the verdict filters) and findings
/// by code (with the code filters).
fn totals(reports: &[RecordReport], page: &Page<'_>, out: &mut String) {
    let (lang, l) = (page.lang, page.lang.labels());
    let targets: usize = reports.iter().map(|r| r.targets.len()).sum();
    let findings: usize = reports.iter().map(|r| r.findings.len()).sum();
    let _ = write!(
        out,
        "<div><h2>{}</h2><table><tbody>\n<tr><th>{}</th>\
         <td class=\"count\" id=\"count-records\" data-count=\"{n}\">{n}</td></tr>\n",
        escape(l.records_heading),
        escape(l.records),
        n = reports.len()
    );
    for verdict in VERDICTS {
        let name = wire_name(&verdict);
        let shown = escape(lang.verdict(verdict));
        let n = reports.iter().filter(|r| r.verdict == verdict).count();
        let _ = writeln!(
            out,
            "<tr><th><label><input type=\"checkbox\" checked data-filter-verdict=\"{name}\" \
             id=\"filter-verdict-{name}\"> <span class=\"verdict verdict-{name}\">{shown}</span></label></th>\
             <td class=\"count\" id=\"count-verdict-{name}\" data-count=\"{n}\">{n}</td></tr>"
        );
    }
    let _ = write!(
        out,
        "<tr><th>{}</th><td class=\"count\" id=\"count-targets\" data-count=\"{targets}\">{targets}</td></tr>\n\
         </tbody></table></div>\n",
        escape(l.targets)
    );
    if let Some(baseline) = page.baseline {
        change_totals(baseline, lang, out);
    }

    let mut by_code: BTreeMap<FindingCode, (usize, usize)> = BTreeMap::new();
    for report in reports {
        let mut seen: Vec<FindingCode> = Vec::new();
        for finding in &report.findings {
            let entry = by_code.entry(finding.code).or_default();
            entry.0 += 1;
            if !seen.contains(&finding.code) {
                seen.push(finding.code);
                entry.1 += 1;
            }
        }
    }
    let _ = writeln!(
        out,
        "<div><h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th>\
         <th>{}</th><th class=\"count\">{}</th><th class=\"count\">{}</th></tr></thead><tbody>",
        escape(l.findings_heading),
        escape(l.code),
        escape(l.rule),
        escape(l.severity),
        escape(l.findings),
        escape(l.records),
    );
    // FindingCode's order is SPEC §2's.
    for (code, (n, records)) in &by_code {
        let rule = wire_name(&code.rule());
        let severity = escape(lang.severity(code.severity()));
        let code = code.as_str();
        let _ = writeln!(
            out,
            "<tr data-code=\"{code}\"><td><label><input type=\"checkbox\" checked \
             data-filter-code=\"{code}\" id=\"filter-code-{code}\"> <span class=\"code\">{code}</span></label></td>\
             <td>{rule}</td><td>{severity}</td>\
             <td class=\"count\" id=\"count-code-{code}\" data-count=\"{n}\">{n}</td>\
             <td class=\"count\" id=\"records-code-{code}\" data-count=\"{records}\">{records}</td></tr>"
        );
    }
    if by_code.is_empty() {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"5\" class=\"none\">{}</td></tr>",
            escape(l.no_findings)
        );
    }
    let _ = write!(
        out,
        "<tr><th>{}</th><td></td><td></td>\
         <td class=\"count\" id=\"count-findings\" data-count=\"{findings}\">{findings}</td><td></td></tr>\n\
         </tbody></table></div>",
        escape(l.all)
    );
}

/// With a baseline: records by change, each with its filter checkbox.
fn change_totals(baseline: &Baseline, lang: Lang, out: &mut String) {
    let l = lang.labels();
    let _ = writeln!(
        out,
        "<div><h2>{}</h2><table><tbody>",
        escape(l.changes_heading)
    );
    for change in Change::ALL {
        let name = change.as_str();
        let n = baseline
            .changes
            .iter()
            .chain(&baseline.gone)
            .filter(|c| c.change == change)
            .count();
        let _ = writeln!(
            out,
            "<tr><th><label><input type=\"checkbox\" checked data-filter-change=\"{name}\" \
             id=\"filter-change-{name}\"> <span class=\"change change-{name}\">{}</span></label></th>\
             <td class=\"count\" id=\"count-change-{name}\" data-count=\"{n}\">{n}</td></tr>",
            escape(lang.change(change))
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// With a baseline: its records that this scan does not have.
fn gone_rows(gone: &[RecordChange], lang: Lang, out: &mut String) {
    if gone.is_empty() {
        return;
    }
    let l = lang.labels();
    let _ = writeln!(
        out,
        "<section id=\"gone\"><h2>{}</h2><table class=\"records\"><thead><tr><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        escape(l.gone_heading),
        escape(l.domain),
        escape(l.id),
        escape(l.was),
        escape(l.code),
    );
    for g in gone {
        let was = g.was.map(|v| wire_name(&v)).unwrap_or_default();
        let was_shown = g.was.map(|v| lang.verdict(v)).unwrap_or_default();
        let codes: Vec<String> = g
            .removed
            .iter()
            .map(|p| format!("<span class=\"code\">{}</span>", escape(&p.code)))
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"gone-record\" data-change=\"gone\"><td class=\"domain\">{}</td><td>{}</td>\
             <td><span class=\"verdict verdict-{was}\">{}</span></td><td>{}</td></tr>",
            escape(&g.domain),
            escape(&id_text(g.id.as_ref())),
            escape(was_shown),
            codes.join(" "),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// A record's id as text (a string's content, other JSON as written).
fn id_text(id: Option<&serde_json::Value>) -> String {
    match id {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Findings of one record that say the same thing, merged: one entry per
/// code, messages and evidence (screenshots aside), listing its targets.
struct Merged<'r> {
    first: &'r Finding,
    evidence: Evidence,
    targets: Vec<Option<&'r str>>,
}

/// One record's row.
fn row(
    index: usize,
    report: &RecordReport,
    change: Option<&RecordChange>,
    page: &Page<'_>,
    out: &mut String,
) {
    let lang = page.lang;
    let verdict = wire_name(&report.verdict);
    let verdict_shown = escape(lang.verdict(report.verdict));
    let mut codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    codes.dedup();
    codes.sort_unstable();
    codes.dedup();
    let id = escape(&id_text(report.id.as_ref()));
    let (change_attr, change_badge) = match change {
        Some(c) => {
            let name = c.change.as_str();
            (
                format!(" data-change=\"{name}\""),
                format!(
                    " <span class=\"change change-{name}\">{}</span>",
                    escape(lang.change(c.change))
                ),
            )
        }
        None => (String::new(), String::new()),
    };
    let _ = write!(
        out,
        "<tr class=\"record\" id=\"record-{index}\" data-verdict=\"{verdict}\" data-codes=\"{}\"{change_attr}>\
         <td class=\"domain\">{}</td><td>{id}</td><td>{}</td>\
         <td><span class=\"verdict verdict-{verdict}\">{verdict_shown}</span>{change_badge}</td><td>",
        codes.join(" "),
        escape(&report.domain),
        report.line,
    );
    if report.findings.is_empty() {
        let _ = write!(
            out,
            "<span class=\"none\">{}</span>",
            escape(lang.labels().no_findings)
        );
    }
    let mut by_rule: BTreeMap<RuleId, Vec<Merged<'_>>> = BTreeMap::new();
    for finding in &report.findings {
        let evidence = Evidence {
            screenshot: None,
            ..finding.evidence.clone()
        };
        let group = by_rule.entry(finding.rule).or_default();
        let same = group.iter_mut().find(|m| {
            m.first.code == finding.code
                && m.first.message == finding.message
                && m.first.message_zh == finding.message_zh
                && m.evidence == evidence
        });
        match same {
            Some(merged) => merged.targets.push(finding.target.as_deref()),
            None => group.push(Merged {
                first: finding,
                evidence,
                targets: vec![finding.target.as_deref()],
            }),
        }
    }
    for (rule, merged) in &by_rule {
        let rule = wire_name(rule);
        let _ = write!(
            out,
            "<section class=\"rule\" data-rule=\"{rule}\"><h3>{rule}</h3>"
        );
        for m in merged {
            finding(m, lang, out);
        }
        out.push_str("</section>");
    }
    screenshots(index, report, page, out);
    targets_table(&report.targets, lang.labels(), out);
    out.push_str("</td></tr>\n");
}

/// One (merged) finding: code, severity, both messages, targets, evidence.
fn finding(m: &Merged<'_>, lang: Lang, out: &mut String) {
    let l = lang.labels();
    let f = m.first;
    let code = f.code.as_str();
    let severity = wire_name(&f.severity);
    let zh = format!(
        "<p class=\"msg-zh\" lang=\"zh-CN\">{}</p>",
        escape(&f.message_zh)
    );
    let en = format!("<p class=\"msg-en\" lang=\"en\">{}</p>", escape(&f.message));
    let messages = match lang {
        Lang::Zh => zh + &en,
        Lang::En => en + &zh,
    };
    let _ = write!(
        out,
        "<div class=\"finding severity-{severity}\" data-code=\"{code}\" data-count=\"{}\">\
         <div><span class=\"code\">{code}</span> · {}</div>{messages}\
         <div class=\"targets-of\">{}",
        m.targets.len(),
        escape(lang.severity(f.severity)),
        escape(l.on),
    );
    let record = format!("<span class=\"none\">{}</span>", escape(l.the_record));
    let labels: Vec<String> = m
        .targets
        .iter()
        .map(|t| t.map_or_else(|| record.clone(), link))
        .collect();
    out.push_str(&labels.join(", "));
    out.push_str("</div>");
    evidence(&m.evidence, l, out);
    out.push_str("</div>");
}

/// A target's error, and the two facts beyond SPEC that explain a line:
/// why https failed (`--scheme auto`) and whose render it shares.
fn target_notes(t: &TargetReport, l: &Labels) -> String {
    let mut notes: Vec<String> = t.error.as_deref().map(escape).into_iter().collect();
    if let Some(why) = &t.https_error {
        notes.push(format!("{}{}", escape(l.https_failed), escape(why)));
    }
    if let Some(url) = &t.shared_render {
        notes.push(format!("{}{}", escape(l.shared_render), link(url)));
    }
    notes.join("<br>")
}

/// The record's targets, folded away: what each one showed.
fn targets_table(targets: &[TargetReport], l: &Labels, out: &mut String) {
    if targets.is_empty() {
        return;
    }
    let mut headings = String::new();
    for h in [
        l.target,
        l.status,
        l.final_url,
        l.page_title,
        l.icp_numbers,
        l.gongan_numbers,
        l.notes,
        l.ms,
    ] {
        let _ = write!(headings, "<th>{}</th>", escape(h));
    }
    let _ = write!(
        out,
        "<details class=\"targets\"><summary>{}</summary><table><thead><tr>{headings}</tr></thead><tbody>",
        escape(&phrase(l.targets_summary, "n", &targets.len().to_string()))
    );
    for t in targets {
        let label = format!("{}#{}", t.url, t.device);
        let status = t.status.map(|s| s.to_string()).unwrap_or_default();
        let final_url = t.final_url.as_deref().map(link).unwrap_or_default();
        let title = t.title.as_deref().map(escape).unwrap_or_default();
        let error = target_notes(t, l);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{status}</td><td>{final_url}</td><td>{title}</td><td>{}</td>\
             <td>{}</td><td>{error}</td><td>{}</td></tr>",
            link(&label),
            escape(&t.icp_numbers.join(" ")),
            escape(&t.gongan_numbers.join(" ")),
            t.elapsed_ms
        );
    }
    out.push_str("</tbody></table></details>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::script("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;")]
    #[case::attribute("\" onload='a'", "&quot; onload=&#39;a&#39;")]
    #[case::amp("a&b", "a&amp;b")]
    #[case::chinese("京ICP备12345678号-1", "京ICP备12345678号-1")]
    fn escapes(#[case] text: &str, #[case] want: &str) {
        assert_eq!(escape(text), want);
    }

    #[rstest]
    #[case::javascript("javascript:alert(1)")]
    #[case::javascript_upper(" JavaScript:alert(1)")]
    #[case::javascript_split("java\nscript:alert(1)")]
    #[case::data("data:text/html,<script>1</script>")]
    #[case::vbscript("vbscript:x")]
    #[case::relative("/publish/query")]
    #[case::empty("")]
    fn only_web_urls_become_links(#[case] url: &str) {
        let html = link(url);
        assert!(html.starts_with("<code>"), "{url:?} became {html}");
        assert!(!html.contains("href"));
    }

    #[test]
    fn a_web_url_is_linked_in_serialised_form() {
        let html = link("https://beian.miit.gov.cn/\"><script>");
        assert!(
            html.starts_with("<a href=\"https://beian.miit.gov.cn/%22%3E%3Cscript%3E\""),
            "{html}"
        );
    }

    #[test]
    fn target_notes_say_why_https_failed_and_whose_render_is_shared() {
        let target: TargetReport = serde_json::from_value(serde_json::json!({
            "url": "http://a.cn/", "host": "a.cn", "device": "mobile",
            "final_url": "http://www.a.cn/", "status": 200, "addresses": [],
            "title": "t", "icp_numbers": [], "gongan_numbers": [], "links": [],
            "error": null, "https_error": "TLS failure (<cert>)",
            "shared_render": "http://www.a.cn/", "elapsed_ms": 1
        }))
        .expect("a target line");
        let notes = target_notes(&target, Lang::En.labels());
        assert!(
            notes.contains("https failed: TLS failure (&lt;cert&gt;)"),
            "{notes}"
        );
        assert!(notes.contains("shared render of <a"), "{notes}");
        assert!(notes.contains("http://www.a.cn/"), "{notes}");
    }

    fn sample() -> Vec<RecordReport> {
        let unlinked = Finding::new(
            FindingCode::IcpNotLinked,
            Some("http://a.cn/#desktop".to_owned()),
            Evidence {
                text: Some("京ICP备12345678号-1".to_owned()),
                fix: Some(
                    "<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">京ICP备12345678号-1</a>"
                        .to_owned(),
                ),
                ..Evidence::default()
            },
        );
        let report = |domain: &str, findings: Vec<Finding>| RecordReport {
            domain: domain.to_owned(),
            id: None,
            line: 2,
            verdict: Verdict::of(&findings),
            findings,
            targets: Vec::new(),
            elapsed_ms: 1,
        };
        vec![report("a.cn", vec![unlinked]), report("b.cn", Vec::new())]
    }

    fn page(lang: Lang, baseline: Option<&Baseline>) -> Page<'_> {
        Page {
            source: "scan.ndjson",
            skipped: 0,
            evidence_base: None,
            lang,
            baseline,
        }
    }

    #[rstest]
    #[case::zh(Lang::Zh, "lang=\"zh-CN\"", &["<h1>beian-audit 备案检测报告</h1>", "<th>域名</th>", ">不通过</span>", "显示 <span id=\"count-shown\" data-count=\"2\">2</span> / 2 条记录。"])]
    #[case::en(Lang::En, "lang=\"en\"", &["<h1>beian-audit report</h1>", "<th>domain</th>", ">fail</span>", "Showing <span id=\"count-shown\" data-count=\"2\">2</span> of 2 records."])]
    fn labels_follow_the_language(
        #[case] lang: Lang,
        #[case] html_lang: &str,
        #[case] words: &[&str],
    ) {
        let html = render(&sample(), &page(lang, None));
        assert!(html.contains(&format!("<html {html_lang}>")), "{html_lang}");
        for word in words {
            assert!(html.contains(word), "{word} missing");
        }
        // The data the filters read keeps its wire names.
        assert!(html.contains("data-verdict=\"fail\""));
        assert!(html.contains("data-filter-verdict=\"pass\""));
        assert!(!html.contains("{{"), "every placeholder filled");
    }

    #[test]
    fn a_fix_is_shown_escaped_with_a_copy_button() {
        let html = render(&sample(), &page(Lang::Zh, None));
        assert!(html.contains(
            "<code class=\"fix\">&lt;a href=&quot;https://beian.miit.gov.cn/&quot; target=&quot;_blank&quot;&gt;京ICP备12345678号-1&lt;/a&gt;</code>"
        ));
        assert!(html.contains(
            "<button type=\"button\" class=\"copy-fix\" data-label=\"复制\">复制</button>"
        ));
    }

    #[test]
    fn a_baseline_marks_each_record_and_lists_the_gone() {
        use crate::diff::{OldIndex, ScanLine};
        let mut old = OldIndex::default();
        for (domain, verdict) in [("a.cn", Verdict::Pass), ("c.cn", Verdict::Fail)] {
            old.push(&ScanLine {
                domain: domain.to_owned(),
                id: None,
                line: Some(2),
                verdict,
                findings: Vec::new(),
            });
        }
        old.finish();
        let reports = sample();
        let baseline = Baseline::compare("old.ndjson", &reports, old);
        let html = render(&reports, &page(Lang::En, Some(&baseline)));
        assert!(html.contains("data-change=\"new-fail\""));
        assert!(html.contains("data-change=\"new\""));
        assert!(html.contains("id=\"count-change-new-fail\" data-count=\"1\""));
        assert!(html.contains("id=\"count-change-gone\" data-count=\"1\""));
        assert!(html.contains("data-filter-change=\"unchanged\""));
        assert!(html.contains(
            "<tr class=\"gone-record\" data-change=\"gone\"><td class=\"domain\">c.cn</td>"
        ));
        assert!(html.contains("Baseline: <code>old.ndjson</code>"));
        let plain = render(&reports, &page(Lang::En, None));
        assert!(!plain.contains("data-change=\""), "no baseline, no marks");
    }

    #[test]
    fn fill_is_one_pass() {
        let mut out = String::new();
        fill("a{{x}}b{{y}}c{{", &mut out, |name, out| {
            out.push_str(if name == "x" { "{{y}}" } else { "Y" });
        });
        assert_eq!(out, "a{{y}}bYc{{");
    }

    #[test]
    fn the_policy_hashes_the_template_style_and_script() {
        let csp = content_security_policy();
        assert!(
            csp.starts_with("default-src 'none'; img-src data:; style-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"));
        assert!(!between(TEMPLATE, "<script>", "</script>").is_empty());
        assert!(!between(TEMPLATE, "<style>", "</style>").contains("{{"));
        assert!(!between(TEMPLATE, "<script>", "</script>").contains("{{"));
    }
}
