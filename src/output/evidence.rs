//! `--evidence DIR`: a PNG of the bottom of each failing target's page.
//!
//! Whether a target fails is known only once its record is judged, and the
//! screenshot must be taken while the page is open; so with `--evidence`
//! every rendered target is captured ([`save`], right after its render) and
//! when the record's line is written ([`attach`]) the pictures of failing
//! targets are referenced from their findings' `evidence.screenshot` and
//! the others deleted. A target fails when it has an `error` finding about
//! what its page showed (not `site-unreachable`, `address-refused` or
//! `crawler-error`: those targets have no page to picture).
//!
//! Files are named `<line>-<host>-<device>.png` (input line, ASCII host,
//! `desktop`/`mobile`); `evidence.screenshot` holds the absolute path (DIR is
//! made absolute when the scan starts).

use std::io;
use std::path::{Path, PathBuf};

use super::RecordReport;
use crate::rules::{FindingCode, Severity};
use crate::targets::{Device, Target};

/// The file of one target's screenshot in `dir`.
#[must_use]
pub fn path(dir: &Path, line: u64, host: &str, device: Device) -> PathBuf {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{line}-{host}-{device}.png"))
}

/// Store the screenshot of `target` (of the record on input `line`), or,
/// when there is none, remove an older run's file so that a stale picture
/// is never attached. Failures are logged: evidence never stops a scan.
pub async fn save(dir: &Path, line: u64, target: &Target, png: Option<&[u8]>) {
    let file = path(dir, line, &target.host, target.device);
    let result = match png {
        Some(png) => write_atomically(&file, png).await,
        None => match tokio::fs::remove_file(&file).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(e) = result {
        tracing::warn!(file = %file.display(), error = %e, "cannot save evidence screenshot");
    }
}

/// Write to a temp name, then rename: a reader never sees half a PNG.
async fn write_atomically(file: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = file.with_extension("png.tmp");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, file).await
}

/// Whether a finding says the target's page shows something wrong (and so
/// deserves a picture).
fn pictured(code: FindingCode) -> bool {
    code.severity() == Severity::Error
        && !matches!(
            code,
            FindingCode::SiteUnreachable | FindingCode::AddressRefused | FindingCode::CrawlerError
        )
}

/// Reference the screenshots of `report`'s failing targets from their
/// findings and delete the screenshots of the targets that do not fail.
pub fn attach(dir: &Path, report: &mut RecordReport) {
    for target in &report.targets {
        let label = format!("{}#{}", target.url, target.device);
        let file = path(dir, report.line, &target.host, target.device);
        let fails = report
            .findings
            .iter()
            .any(|f| f.target.as_deref() == Some(label.as_str()) && pictured(f.code));
        if !fails {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    tracing::debug!(file = %file.display(), error = %e, "cannot remove an unneeded screenshot");
                }
                _ => {}
            }
            continue;
        }
        if !file.is_file() {
            continue;
        }
        let shown = file.display().to_string();
        for finding in &mut report.findings {
            if finding.target.as_deref() == Some(label.as_str()) {
                finding.evidence.screenshot = Some(shown.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::TargetReport;
    use crate::rules::{Evidence, Finding, Verdict};

    fn target(host: &str, device: Device) -> TargetReport {
        TargetReport {
            settled: Some(true),
            ..TargetReport::blank(format!("http://{host}/"), host.to_owned(), device)
        }
    }

    fn finding(code: FindingCode, host: &str, device: Device) -> Finding {
        Finding::new(
            code,
            Some(format!("http://{host}/#{device}")),
            Evidence::default(),
        )
    }

    #[test]
    fn names_files_by_line_host_and_device() {
        let p = path(
            Path::new("/ev"),
            7,
            "www.xn--fsqu00a.xn--fiqs8s",
            Device::Mobile,
        );
        assert_eq!(p, Path::new("/ev/7-www.xn--fsqu00a.xn--fiqs8s-mobile.png"));
        let odd = path(Path::new("/ev"), 1, "../a/b", Device::Desktop);
        assert_eq!(odd, Path::new("/ev/1-.._a_b-desktop.png"));
    }

    #[tokio::test]
    async fn failing_targets_keep_their_picture_the_others_lose_it() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = ["a.test", "www.a.test"];
        for host in hosts {
            for device in Device::ALL {
                let t = Target {
                    host: host.to_owned(),
                    device,
                };
                save(dir.path(), 3, &t, Some(b"\x89PNG")).await;
            }
        }
        let mut report = RecordReport {
            domain: "a.test".to_owned(),
            id: None,
            line: 3,
            verdict: Verdict::Fail,
            findings: vec![
                finding(FindingCode::IcpNotLinked, "a.test", Device::Desktop),
                finding(FindingCode::IcpNotInFooter, "a.test", Device::Desktop),
                finding(FindingCode::IcpNotInFooter, "a.test", Device::Mobile),
                finding(FindingCode::SiteUnreachable, "www.a.test", Device::Desktop),
                finding(FindingCode::CrawlerError, "www.a.test", Device::Mobile),
            ],
            targets: hosts
                .iter()
                .flat_map(|h| Device::ALL.map(|d| target(h, d)))
                .collect(),
            elapsed_ms: 0,
        };
        attach(dir.path(), &mut report);
        let kept = path(dir.path(), 3, "a.test", Device::Desktop);
        let shots: Vec<Option<&str>> = report
            .findings
            .iter()
            .map(|f| f.evidence.screenshot.as_deref())
            .collect();
        let want = kept.to_str();
        assert_eq!(shots, vec![want, want, None, None, None]);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec!["3-a.test-desktop.png"]);
    }

    #[tokio::test]
    async fn a_missing_screenshot_removes_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target {
            host: "a.test".to_owned(),
            device: Device::Desktop,
        };
        save(dir.path(), 2, &t, Some(b"old")).await;
        save(dir.path(), 2, &t, None).await;
        assert!(!path(dir.path(), 2, "a.test", Device::Desktop).exists());
    }
}
