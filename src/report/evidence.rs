//! The evidence of the report's findings, as the HTML page shows it: the
//! fields a finding's evidence holds (its text, href, number…) as a
//! definition list, its fix (`code.fix` beside a `button.copy-fix`), and
//! the screenshots of a record's targets (`evidence.screenshot`), inlined
//! as `data:` PNGs when the files are found, else linked. Every string goes
//! through [`escape`], every URL through [`link`], as on the rest of the
//! page (`html`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::output::RecordReport;
use crate::report::html::{escape, link, Page};
use crate::report::labels::Labels;
use crate::rules::Evidence;

/// Screenshots larger than this are linked, not inlined.
const MAX_INLINE_BYTES: u64 = 4 << 20;

/// The evidence fields present, as a definition list, and the fix beside
/// its copy button.
pub(super) fn evidence(e: &Evidence, l: &Labels, out: &mut String) {
    let mut items: Vec<(&str, String)> = Vec::new();
    let text = |v: &Option<String>| v.as_deref().map(|s| format!("<code>{}</code>", escape(s)));
    if let Some(v) = text(&e.text) {
        items.push((l.evidence_text, v));
    }
    match &e.href {
        Some(Some(href)) => items.push((l.evidence_href, link(href))),
        Some(None) => items.push((
            l.evidence_href,
            format!("<span class=\"none\">{}</span>", escape(l.not_linked)),
        )),
        None => {}
    }
    for (name, value) in [
        (l.evidence_number, &e.number),
        (l.evidence_expected, &e.expected),
        (l.evidence_domain, &e.domain),
        (l.evidence_address, &e.address),
        (l.evidence_keyword, &e.keyword),
        (l.evidence_reason, &e.reason),
    ] {
        if let Some(v) = text(value) {
            items.push((name, v));
        }
    }
    if let Some(url) = &e.final_url {
        items.push((l.evidence_final_url, link(url)));
    }
    if !items.is_empty() {
        out.push_str("<dl class=\"evidence\">");
        for (name, value) in items {
            let _ = write!(out, "<dt>{}</dt><dd>{value}</dd>", escape(name));
        }
        out.push_str("</dl>");
    }
    if let Some(fix) = &e.fix {
        let copy = escape(l.copy);
        let _ = write!(
            out,
            "<div class=\"fix\"><div class=\"fix-label\">{}</div><code class=\"fix\">{}</code> \
             <button type=\"button\" class=\"copy-fix\" data-label=\"{copy}\">{copy}</button></div>",
            escape(l.evidence_fix),
            escape(fix)
        );
    }
}

/// The screenshots of the record's targets (from `evidence.screenshot`),
/// each once: inlined as a `data:` PNG when the file is there, else linked.
pub(super) fn screenshots(index: usize, report: &RecordReport, page: &Page<'_>, out: &mut String) {
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
    let alt = escape(page.lang.labels().shot_alt);
    for (n, (target, path)) in shots.iter().enumerate() {
        let caption = escape(target);
        let _ = write!(out, "<figure id=\"shot-{index}-{n}\">");
        match load_png(path, page.evidence_base) {
            Ok(bytes) => {
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                let _ = write!(
                    out,
                    "<img alt=\"{alt}{caption}\" src=\"data:image/png;base64,{data}\">"
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
