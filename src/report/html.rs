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
//! `input[data-filter-code]` / `input[data-filter-verdict]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::output::{RecordReport, TargetReport};
use crate::rules::{Evidence, Finding, FindingCode, RuleId, Verdict};

/// The page, with `{{name}}` placeholders (never inside its style or script).
const TEMPLATE: &str = include_str!("template.html");

/// Screenshots larger than this are linked, not inlined.
const MAX_INLINE_BYTES: u64 = 4 << 20;

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
}

/// The whole report page for `reports`.
#[must_use]
pub fn render(reports: &[RecordReport], page: &Page<'_>) -> String {
    let record_count = reports.len().to_string();
    let mut out = String::with_capacity(TEMPLATE.len() + reports.len() * 2048);
    fill(TEMPLATE, &mut out, |name, out| match name {
        "csp" => out.push_str(&escape(&content_security_policy())),
        "source" => out.push_str(&escape(page.source)),
        "skipped" if page.skipped > 0 => {
            let n = page.skipped;
            let _ = write!(
                out,
                " · <strong id=\"count-skipped\" data-count=\"{n}\">{n} unreadable line(s) skipped</strong>"
            );
        }
        "totals" => totals(reports, out),
        "record_count" => out.push_str(&record_count),
        "rows" => {
            for (index, report) in reports.iter().enumerate() {
                row(index, report, page, out);
            }
        }
        _ => {}
    });
    out
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

/// HTML-escape text for element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
fn totals(reports: &[RecordReport], out: &mut String) {
    let targets: usize = reports.iter().map(|r| r.targets.len()).sum();
    let findings: usize = reports.iter().map(|r| r.findings.len()).sum();
    let _ = write!(
        out,
        "<div><h2>Records</h2><table><tbody>\n<tr><th>records</th>\
         <td class=\"count\" id=\"count-records\" data-count=\"{n}\">{n}</td></tr>\n",
        n = reports.len()
    );
    for verdict in VERDICTS {
        let name = wire_name(&verdict);
        let n = reports.iter().filter(|r| r.verdict == verdict).count();
        let _ = writeln!(
            out,
            "<tr><th><label><input type=\"checkbox\" checked data-filter-verdict=\"{name}\" \
             id=\"filter-verdict-{name}\"> <span class=\"verdict verdict-{name}\">{name}</span></label></th>\
             <td class=\"count\" id=\"count-verdict-{name}\" data-count=\"{n}\">{n}</td></tr>"
        );
    }
    let _ = write!(
        out,
        "<tr><th>targets</th><td class=\"count\" id=\"count-targets\" data-count=\"{targets}\">{targets}</td></tr>\n\
         </tbody></table></div>\n"
    );

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
    out.push_str(
        "<div><h2>Findings by code</h2><table><thead><tr><th>code</th><th>rule</th>\
         <th>severity</th><th class=\"count\">findings</th><th class=\"count\">records</th></tr></thead><tbody>\n",
    );
    // FindingCode's order is SPEC §2's.
    for (code, (n, records)) in &by_code {
        let rule = wire_name(&code.rule());
        let severity = wire_name(&code.severity());
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
        out.push_str("<tr><td colspan=\"5\" class=\"none\">no findings</td></tr>\n");
    }
    let _ = write!(
        out,
        "<tr><th>all</th><td></td><td></td>\
         <td class=\"count\" id=\"count-findings\" data-count=\"{findings}\">{findings}</td><td></td></tr>\n\
         </tbody></table></div>"
    );
}

/// Findings of one record that say the same thing, merged: one entry per
/// code, messages and evidence (screenshots aside), listing its targets.
struct Merged<'r> {
    first: &'r Finding,
    evidence: Evidence,
    targets: Vec<Option<&'r str>>,
}

/// One record's row.
fn row(index: usize, report: &RecordReport, page: &Page<'_>, out: &mut String) {
    let verdict = wire_name(&report.verdict);
    let mut codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    codes.dedup();
    codes.sort_unstable();
    codes.dedup();
    let id = match &report.id {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => escape(s),
        Some(other) => escape(&other.to_string()),
    };
    let _ = write!(
        out,
        "<tr class=\"record\" id=\"record-{index}\" data-verdict=\"{verdict}\" data-codes=\"{}\">\
         <td class=\"domain\">{}</td><td>{id}</td><td>{}</td>\
         <td><span class=\"verdict verdict-{verdict}\">{verdict}</span></td><td>",
        codes.join(" "),
        escape(&report.domain),
        report.line,
    );
    if report.findings.is_empty() {
        out.push_str("<span class=\"none\">no findings</span>");
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
            finding(m, out);
        }
        out.push_str("</section>");
    }
    screenshots(index, report, page, out);
    targets_table(&report.targets, out);
    out.push_str("</td></tr>\n");
}

/// One (merged) finding: code, severity, both messages, targets, evidence.
fn finding(m: &Merged<'_>, out: &mut String) {
    let f = m.first;
    let code = f.code.as_str();
    let severity = wire_name(&f.severity);
    let _ = write!(
        out,
        "<div class=\"finding severity-{severity}\" data-code=\"{code}\" data-count=\"{}\">\
         <div><span class=\"code\">{code}</span> · {severity}</div>\
         <p class=\"msg-zh\" lang=\"zh-CN\">{}</p><p class=\"msg-en\" lang=\"en\">{}</p>\
         <div class=\"targets-of\">on: ",
        m.targets.len(),
        escape(&f.message_zh),
        escape(&f.message),
    );
    let labels: Vec<String> = m
        .targets
        .iter()
        .map(|t| t.map_or_else(|| "<span class=\"none\">the record</span>".to_owned(), link))
        .collect();
    out.push_str(&labels.join(", "));
    out.push_str("</div>");
    evidence(&m.evidence, out);
    out.push_str("</div>");
}

/// The evidence fields present, as a definition list.
fn evidence(e: &Evidence, out: &mut String) {
    let mut items: Vec<(&str, String)> = Vec::new();
    let text = |v: &Option<String>| v.as_deref().map(|s| format!("<code>{}</code>", escape(s)));
    if let Some(v) = text(&e.text) {
        items.push(("text", v));
    }
    match &e.href {
        Some(Some(href)) => items.push(("href", link(href))),
        Some(None) => items.push(("href", "<span class=\"none\">not linked</span>".to_owned())),
        None => {}
    }
    for (name, value) in [
        ("number", &e.number),
        ("expected", &e.expected),
        ("domain", &e.domain),
        ("address", &e.address),
        ("keyword", &e.keyword),
        ("reason", &e.reason),
    ] {
        if let Some(v) = text(value) {
            items.push((name, v));
        }
    }
    if let Some(url) = &e.final_url {
        items.push(("final URL", link(url)));
    }
    if items.is_empty() {
        return;
    }
    out.push_str("<dl class=\"evidence\">");
    for (name, value) in items {
        let _ = write!(out, "<dt>{name}</dt><dd>{value}</dd>");
    }
    out.push_str("</dl>");
}

/// The screenshots of the record's targets (from `evidence.screenshot`),
/// each once: inlined as a `data:` PNG when the file is there, else linked.
fn screenshots(index: usize, report: &RecordReport, page: &Page<'_>, out: &mut String) {
    let mut shots: Vec<(&str, &str)> = Vec::new();
    for f in &report.findings {
        if let Some(path) = f.evidence.screenshot.as_deref() {
            let target = f.target.as_deref().unwrap_or_default();
            if !shots.iter().any(|(_, p)| *p == path) {
                shots.push((target, path));
            }
        }
    }
    if shots.is_empty() {
        return;
    }
    out.push_str("<div class=\"shots\">");
    for (n, (target, path)) in shots.iter().enumerate() {
        let caption = escape(target);
        let _ = write!(out, "<figure id=\"shot-{index}-{n}\">");
        match load_png(path, page.evidence_base) {
            Ok(bytes) => {
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                let _ = write!(
                    out,
                    "<img alt=\"bottom of the page: {caption}\" src=\"data:image/png;base64,{data}\">"
                );
            }
            Err(why) => {
                let shown = escape(path);
                match file_url(path, page.evidence_base) {
                    Some(url) => {
                        let _ = write!(out, "<a href=\"{}\">{shown}</a> ", escape(&url));
                    }
                    None => {
                        let _ = write!(out, "<code>{shown}</code> ");
                    }
                }
                let _ = write!(out, "<span class=\"none\">({})</span>", escape(&why));
            }
        }
        let _ = write!(out, "<figcaption>{caption}</figcaption></figure>");
    }
    out.push_str("</div>");
}

/// Where a screenshot path points: as written (absolute, or relative to the
/// working directory); else relative to `base` (the NDJSON's folder); else,
/// for results copied off the machine that scanned (`kubectl cp`), the same
/// file name in `base` or in `base/evidence`.
fn locate(path: &str, base: Option<&Path>) -> Option<PathBuf> {
    let path = Path::new(path);
    if path.is_file() {
        return Some(path.to_owned());
    }
    let base = base?;
    let mut candidates = Vec::new();
    if path.is_relative() {
        candidates.push(base.join(path));
    }
    if let Some(name) = path.file_name() {
        candidates.push(base.join(name));
        candidates.push(base.join("evidence").join(name));
    }
    candidates.into_iter().find(|c| c.is_file())
}

/// A screenshot's bytes, when it is a PNG file small enough to inline.
fn load_png(path: &str, base: Option<&Path>) -> Result<Vec<u8>, String> {
    let found = locate(path, base).ok_or_else(|| "file not found".to_owned())?;
    let size = std::fs::metadata(&found).map_err(|e| e.to_string())?.len();
    if size > MAX_INLINE_BYTES {
        return Err(format!("{size} bytes, too large to inline"));
    }
    let bytes = std::fs::read(&found).map_err(|e| e.to_string())?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err("not a PNG file".to_owned());
    }
    Ok(bytes)
}

/// A `file:` URL for a screenshot path that names a file (never for a
/// string that is itself a URL with a scheme).
fn file_url(path: &str, base: Option<&Path>) -> Option<String> {
    if path.contains("://") || path.starts_with("javascript:") || path.starts_with("data:") {
        return None;
    }
    let found = locate(path, base).unwrap_or_else(|| PathBuf::from(path));
    let absolute = std::path::absolute(found).ok()?;
    url::Url::from_file_path(absolute).ok().map(String::from)
}

/// A target's error, and the two facts beyond SPEC that explain a line:
/// why https failed (`--scheme auto`) and whose render it shares.
fn target_notes(t: &TargetReport) -> String {
    let mut notes: Vec<String> = t.error.as_deref().map(escape).into_iter().collect();
    if let Some(why) = &t.https_error {
        notes.push(format!("https failed: {}", escape(why)));
    }
    if let Some(url) = &t.shared_render {
        notes.push(format!("shared render of {}", link(url)));
    }
    notes.join("<br>")
}

/// The record's targets, folded away: what each one showed.
fn targets_table(targets: &[TargetReport], out: &mut String) {
    if targets.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<details class=\"targets\"><summary>{} targets</summary><table><thead><tr>\
         <th>target</th><th>status</th><th>final URL</th><th>title</th><th>ICP numbers</th>\
         <th>公安 numbers</th><th>error / notes</th><th>ms</th></tr></thead><tbody>",
        targets.len()
    );
    for t in targets {
        let label = format!("{}#{}", t.url, t.device);
        let status = t.status.map(|s| s.to_string()).unwrap_or_default();
        let final_url = t.final_url.as_deref().map(link).unwrap_or_default();
        let title = t.title.as_deref().map(escape).unwrap_or_default();
        let error = target_notes(t);
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
    fn screenshots_copied_next_to_the_ndjson_are_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("evidence")).unwrap();
        let copied = dir.path().join("evidence/3-a.test-desktop.png");
        std::fs::write(&copied, b"png").unwrap();
        let found = locate("/out/evidence/3-a.test-desktop.png", Some(dir.path()));
        assert_eq!(found, Some(copied));
        assert_eq!(
            locate("/out/evidence/4-b.test-desktop.png", Some(dir.path())),
            None
        );
        assert_eq!(locate("/out/evidence/3-a.test-desktop.png", None), None);
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
        let notes = target_notes(&target);
        assert!(
            notes.contains("https failed: TLS failure (&lt;cert&gt;)"),
            "{notes}"
        );
        assert!(notes.contains("shared render of <a"), "{notes}");
        assert!(notes.contains("http://www.a.cn/"), "{notes}");
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
