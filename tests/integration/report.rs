//! `beian-audit report`: the HTML page opened in a real headless Chromium.
//! Hostile strings from "sites" (a title that is a script, a `javascript:`
//! href, markup in a domain) must stay text; the counts shown must be the
//! input's; the filters (our one script, admitted by its CSP hash) must hide
//! rows.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use beian_audit::output::{LinkReport, RecordReport, TargetReport};
use beian_audit::rules::{Evidence, Finding, FindingCode, Verdict};
use beian_audit::targets::Device;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;
use pretty_assertions::assert_eq;
use serde::Deserialize;

/// The headless shell Debian ships (`scripts/install-deps.sh`).
const HEADLESS_SHELL: &str = "/usr/lib/chromium/chromium-headless-shell";
/// A title that would set `window.__pwned` if it ever became markup.
const HOSTILE_TITLE: &str = "<script>window.__pwned=1</script>";
/// A smallest valid PNG (1×1, opaque white).
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xff, 0xff, 0x3f,
    0x00, 0x05, 0xfe, 0x02, 0xfe, 0xdc, 0xcc, 0x59, 0xe7, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

fn target(host: &str, device: Device, title: &str, href: Option<&str>) -> TargetReport {
    TargetReport {
        final_url: Some(format!("http://{host}/")),
        status: Some(200),
        addresses: vec!["127.0.0.1".to_owned()],
        title: Some(title.to_owned()),
        icp_numbers: vec!["京ICP备12345678号-1".to_owned()],
        links: vec![LinkReport {
            text: "京ICP备12345678号-1".to_owned(),
            href: href.map(str::to_owned),
            visible: true,
            in_footer: true,
            frame: None,
        }],
        settled: Some(true),
        elapsed_ms: 120,
        ..TargetReport::blank(format!("http://{host}/"), host.to_owned(), device)
    }
}

fn record(
    line: u64,
    domain: &str,
    findings: Vec<Finding>,
    targets: Vec<TargetReport>,
) -> RecordReport {
    RecordReport {
        domain: domain.to_owned(),
        id: Some(serde_json::json!(format!("id-{line}"))),
        line,
        verdict: Verdict::of(&findings),
        findings,
        targets,
        elapsed_ms: 500,
    }
}

/// The finding-target label of `host` on `device`.
fn on(host: &str, device: Device) -> String {
    format!("http://{host}/#{device}")
}

/// Five records: hostile strings, a pass, a crawler error, a screenshot that
/// exists and one that does not.
fn reports(shot: &Path) -> Vec<RecordReport> {
    let hostile = "evil.test";
    let wrong_link = |device| {
        Finding::new(
            FindingCode::IcpLinkWrongUrl,
            Some(on(hostile, device)),
            Evidence {
                text: Some("京ICP备12345678号-1".to_owned()),
                href: Some(Some("javascript:alert(1)".to_owned())),
                keyword: Some("other".to_owned()),
                reason: Some("not the MIIT homepage".to_owned()),
                screenshot: Some(shot.display().to_string()),
                ..Evidence::default()
            },
        )
    };
    let mismatch = |device| {
        Finding::new(
            FindingCode::TitleMismatch,
            Some(on(hostile, device)),
            Evidence {
                text: Some(HOSTILE_TITLE.to_owned()),
                expected: Some("清风文化".to_owned()),
                ..Evidence::default()
            },
        )
    };
    let mut all = vec![record(
        2,
        hostile,
        vec![
            wrong_link(Device::Desktop),
            wrong_link(Device::Mobile),
            mismatch(Device::Desktop),
        ],
        vec![
            target(
                hostile,
                Device::Desktop,
                HOSTILE_TITLE,
                Some("javascript:alert(1)"),
            ),
            target(
                hostile,
                Device::Mobile,
                HOSTILE_TITLE,
                Some(" JAVASCRIPT:alert(2)"),
            ),
        ],
    )];
    all.extend(plain_records());
    all
}

/// A pass, a crawler error, markup in a domain with a missing screenshot,
/// a warning only.
fn plain_records() -> Vec<RecordReport> {
    vec![
        record(
            3,
            "ok.test",
            Vec::new(),
            vec![target("ok.test", Device::Desktop, "清风文化", None)],
        ),
        record(
            4,
            "broken.test",
            vec![Finding::new(
                FindingCode::CrawlerError,
                Some(on("broken.test", Device::Mobile)),
                Evidence {
                    reason: Some("Chromium went away".to_owned()),
                    ..Evidence::default()
                },
            )],
            Vec::new(),
        ),
        record(
            5,
            "<img src=x onerror=\"window.__pwned=2\">.test",
            vec![
                Finding::new(
                    FindingCode::IcpNumberMissing,
                    Some(on("markup.test", Device::Desktop)),
                    Evidence {
                        screenshot: Some("/nonexistent/5-markup.test-desktop.png".to_owned()),
                        ..Evidence::default()
                    },
                ),
                Finding::new(
                    FindingCode::NameRestrictedKeyword,
                    None,
                    Evidence {
                        text: Some("中国<b>论坛</b>".to_owned()),
                        keyword: Some("论坛".to_owned()),
                        ..Evidence::default()
                    },
                ),
            ],
            Vec::new(),
        ),
        record(
            6,
            "warn.test",
            vec![Finding::new(
                FindingCode::RedirectedOffsite,
                Some(on("warn.test", Device::Desktop)),
                Evidence {
                    domain: Some("elsewhere.test".to_owned()),
                    final_url: Some("https://elsewhere.test/landing".to_owned()),
                    ..Evidence::default()
                },
            )],
            Vec::new(),
        ),
    ]
}

/// What the page shows, read in the browser.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    pwned: String,
    records: u64,
    findings: u64,
    targets: u64,
    verdicts: BTreeMap<String, u64>,
    codes: BTreeMap<String, u64>,
    bad_links: Vec<String>,
    web_links: u64,
    scripts: u64,
    rows: u64,
    #[serde(rename = "shown")]
    visible_rows: u64,
    image_width: u64,
    styled: bool,
    skipped: u64,
}

/// What the filters did.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Filtered {
    /// After "none": the lines of the rows still shown, and `#count-shown`.
    none_rows: Vec<u64>,
    none_shown: u64,
    /// After ticking only `icp-link-wrong-url`.
    one_code_rows: Vec<u64>,
    /// After "all", then unticking the `pass` verdict.
    no_pass_rows: Vec<u64>,
    /// Findings of unticked codes are hidden inside a shown row.
    hidden_findings: u64,
}

const READ_PAGE: &str = r#"(() => {
  const count = (id) => Number(document.getElementById(id).getAttribute("data-count"));
  const verdicts = {};
  for (const v of ["pass", "fail", "error"]) { verdicts[v] = count("count-verdict-" + v); }
  const codes = {};
  for (const el of document.querySelectorAll("[id^=count-code-]")) {
    codes[el.id.slice("count-code-".length)] = Number(el.getAttribute("data-count"));
  }
  const links = Array.from(document.querySelectorAll("a[href]"));
  const img = document.querySelector(".shots img");
  const skipped = document.getElementById("count-skipped");
  return {
    pwned: typeof window.__pwned,
    records: count("count-records"),
    findings: count("count-findings"),
    targets: count("count-targets"),
    verdicts, codes,
    badLinks: links.filter((a) => !["http:", "https:", "file:"].includes(a.protocol)).map((a) => a.outerHTML),
    webLinks: links.filter((a) => a.protocol === "http:" || a.protocol === "https:").length,
    scripts: document.scripts.length,
    rows: document.querySelectorAll("tr.record").length,
    shown: count("count-shown"),
    imageWidth: img ? img.naturalWidth : 0,
    styled: getComputedStyle(document.body).marginLeft !== "8px",
    skipped: skipped ? Number(skipped.getAttribute("data-count")) : 0,
  };
})()"#;

const FILTER: &str = r#"(() => {
  const shownLines = () => Array.from(document.querySelectorAll("tr.record"))
    .filter((row) => !row.hidden).map((row) => Number(row.cells[2].textContent));
  document.getElementById("codes-none").click();
  const noneRows = shownLines();
  const noneShown = Number(document.getElementById("count-shown").getAttribute("data-count"));
  document.getElementById("filter-code-icp-link-wrong-url").click();
  const oneCodeRows = shownLines();
  const hiddenFindings = document.querySelectorAll("tr.record:not([hidden]) .finding[hidden]").length;
  document.getElementById("codes-all").click();
  document.getElementById("filter-verdict-pass").click();
  const noPassRows = shownLines();
  return { noneRows, noneShown, oneCodeRows, noPassRows, hiddenFindings };
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_page_escapes_site_strings_counts_the_input_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("2-evil.test-desktop.png");
    std::fs::write(&shot, PNG_1X1).unwrap();
    let input = reports(&shot);
    let mut ndjson = String::new();
    for (i, report) in input.iter().enumerate() {
        ndjson.push_str(&serde_json::to_string(report).unwrap());
        ndjson.push('\n');
        if i == 1 {
            ndjson.push_str("{\"torn line of a killed scan\n\n");
        }
    }
    let ndjson_path = dir.path().join("scan.ndjson");
    std::fs::write(&ndjson_path, ndjson).unwrap();
    let html_path = dir.path().join("report.html");

    let run = Command::new(env!("CARGO_BIN_EXE_beian-audit"))
        .arg("report")
        .arg(&ndjson_path)
        .arg("-o")
        .arg(&html_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(run.stdout.is_empty(), "report -o writes nothing to stdout");
    assert!(
        stderr.contains("skipped 1 line"),
        "stderr says a line was skipped:\n{stderr}"
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !html.contains(HOSTILE_TITLE),
        "the hostile title is escaped"
    );
    assert!(html.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
    assert!(html.contains("Content-Security-Policy"));

    // What the input holds, counted here.
    let mut verdicts: BTreeMap<String, u64> = ["pass", "fail", "error"]
        .iter()
        .map(|v| ((*v).to_owned(), 0))
        .collect();
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    for report in &input {
        *verdicts
            .entry(
                serde_json::to_value(report.verdict)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .or_default() += 1;
        for finding in &report.findings {
            *codes.entry(finding.code.as_str().to_owned()).or_default() += 1;
        }
    }

    let (shown, filtered) = open_in_chromium(&html_path).await;

    assert_eq!(shown.pwned, "undefined", "no site string ran as script");
    assert_eq!(
        shown.bad_links,
        Vec::<String>::new(),
        "no javascript: (or other) links"
    );
    // Finding targets (2 + 1 + 1 + 1 + 1), target tables (2 × 2 + 1 × 2), one
    // evidence final URL: every http(s) URL, and nothing else, is a link.
    assert_eq!(shown.web_links, 6 + 6 + 1);
    assert_eq!(shown.scripts, 1, "the page's only script is ours");
    assert!(shown.styled, "the inline style is admitted by its hash");
    assert_eq!(
        shown.image_width, 1,
        "the screenshot is inlined as a data: PNG"
    );
    assert_eq!(shown.records, input.len() as u64);
    assert_eq!(shown.rows, input.len() as u64);
    assert_eq!(
        shown.visible_rows,
        input.len() as u64,
        "every row shown at first"
    );
    assert_eq!(shown.skipped, 1);
    assert_eq!(
        shown.findings,
        input.iter().map(|r| r.findings.len() as u64).sum::<u64>()
    );
    assert_eq!(
        shown.targets,
        input.iter().map(|r| r.targets.len() as u64).sum::<u64>()
    );
    assert_eq!(shown.verdicts, verdicts);
    assert_eq!(shown.codes, codes);
    assert_eq!(
        filtered,
        Filtered {
            none_rows: vec![3],
            none_shown: 1,
            one_code_rows: vec![2, 3],
            no_pass_rows: vec![2, 4, 5],
            hidden_findings: 1,
        },
        "filters: no code ⇒ only the record without findings; one code ⇒ its records; \
         unticking pass hides the passes (warn.test has only a warning: it passes)"
    );
}

/// Open the page in the headless shell; read it, then work its filters.
async fn open_in_chromium(html_path: &Path) -> (Shown, Filtered) {
    let profile = tempfile::tempdir().expect("profile dir");
    // Flags without leading dashes: chromiumoxide adds them (upstream #306).
    let config = BrowserConfig::builder()
        .chrome_executable(HEADLESS_SHELL)
        .no_sandbox()
        .user_data_dir(profile.path())
        .args([
            "disable-background-networking",
            "disable-component-update",
            "no-first-run",
            "disable-sync",
            "disable-dev-shm-usage",
        ])
        .build()
        .expect("browser config");
    let (mut browser, mut handler) = Browser::launch(config).await.expect("launch Chromium");
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let url = url::Url::from_file_path(html_path).expect("file URL");
    let page = browser
        .new_page(url.as_str())
        .await
        .expect("open the report");
    page.wait_for_navigation().await.expect("load the report");
    let read = page.evaluate(READ_PAGE).await.expect("read the page");
    let shown: Shown = read.into_value().expect("page facts");
    let worked = page.evaluate(FILTER).await.expect("work the filters");
    let filtered: Filtered = worked.into_value().expect("filter facts");
    let _ = browser.close().await;
    let _ = browser.wait().await;
    events.abort();
    (shown, filtered)
}

/// The report of a real scan of a site whose title is a `<script>`: the
/// title reaches the report through the browser, and the page runs none of
/// it. See: #6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_of_a_scanned_script_title_runs_no_script() {
    let farm = crate::common::FixtureFarm::start();
    // The Scan builder blocks on its own runtime: run it off this one.
    let scan = tokio::task::spawn_blocking(move || {
        crate::common::Scan::new(&farm)
        .stdin("domain,service_name,icp_number\ntitle-script.test,脚本站,京ICP备18099999号-1\nicp-wrong-link.test,松果科技,京ICP备20081234号-1\nicp-ok.test,清风文化,京ICP备18012345号-1\n")
        .arg("--input-format")
        .arg("csv")
        .run()
    })
    .await
    .unwrap();
    let reports = scan.reports();
    let scripted = crate::common::report(&reports, "title-script.test");
    assert!(
        scripted
            .targets
            .iter()
            .all(|t| t.title.as_deref() == Some(HOSTILE_TITLE)),
        "the scan read the title as text: {:?}",
        scripted
            .targets
            .iter()
            .map(|t| &t.title)
            .collect::<Vec<_>>()
    );
    let dir = tempfile::tempdir().unwrap();
    let ndjson_path = dir.path().join("scan.ndjson");
    std::fs::write(&ndjson_path, &scan.stdout).unwrap();
    let html_path = dir.path().join("report.html");
    let run = Command::new(env!("CARGO_BIN_EXE_beian-audit"))
        .arg("report")
        .arg(&ndjson_path)
        .arg("-o")
        .arg(&html_path)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (shown, _) = open_in_chromium(&html_path).await;
    assert_eq!(shown.pwned, "undefined", "no site script ran in the report");
    assert_eq!(shown.records, 3);
}
