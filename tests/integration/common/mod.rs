//! Shared machinery of the integration tests: the fixture farm (a real
//! HTTP server playing `fixtures/sites`), the `Scan` builder that runs the
//! real `beian-audit` binary against it, and assertions that read the
//! output through the contract types of `beian_audit::output`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use beian_audit::output::RecordReport;
use beian_audit::rules::{FindingCode, Severity, Verdict};
use beian_audit::targets::Device;
use pretty_assertions::assert_eq;
use serde::Deserialize;

/// The fixture sites served by every farm.
pub(crate) const SITES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sites");

/// A record file of `fixtures/records`.
pub(crate) fn records(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/records")
        .join(name)
}

/// The `fixture-farm` binary. It belongs to the tools package (`tools/`),
/// so cargo gives these tests no `CARGO_BIN_EXE_` for it; it is built into
/// the same directory as `beian-audit` whenever the workspace's tests are
/// (`cargo test` at the root, `scripts/test.sh`: the tools' own test needs
/// it, and cargo builds every test's binaries before it runs any test).
///
/// # Panics
///
/// When it has not been built.
pub(crate) fn farm_bin() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_beian-audit"))
        .parent()
        .expect("the binaries' directory");
    let bin = dir.join("fixture-farm");
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo build -p beian-audit-tools` (or the whole \
         workspace's tests, `cargo test`)",
        bin.display()
    );
    bin
}

/// A running `fixture-farm` on 127.0.0.1, killed on drop.
pub(crate) struct FixtureFarm {
    /// The server process.
    child: Child,
    /// Held open: the farm runs with `--exit-on-eof`, so if this test
    /// process dies without dropping us, the farm exits too.
    _stdin: ChildStdin,
    /// The port it listens on.
    port: u16,
    /// Its `--log` file, inside `_dir`.
    log: PathBuf,
    /// Removed on drop.
    _dir: tempfile::TempDir,
}

/// One line of the farm's request log.
#[derive(Debug, Clone, Deserialize)]
#[expect(dead_code, reason = "read through Debug in failure messages")]
pub(crate) struct FarmRequest {
    /// Milliseconds since the farm started.
    pub(crate) t_ms: u64,
    /// `http`, or `https` for a request inside a TLS connection.
    pub(crate) scheme: String,
    /// The request method.
    pub(crate) method: String,
    /// The `Host` header, normalised.
    pub(crate) host: String,
    /// The decoded path.
    pub(crate) path: String,
    /// The status answered; `None` for a hanging route.
    pub(crate) status: Option<u16>,
    /// The `User-Agent` header.
    pub(crate) ua: Option<String>,
    /// The `Sec-CH-UA-Mobile` header.
    pub(crate) sec_ch_ua_mobile: Option<String>,
}

impl FixtureFarm {
    /// Start a farm over `fixtures/sites` on a free port.
    ///
    /// # Panics
    ///
    /// When the farm cannot start or does not announce its port.
    pub(crate) fn start() -> FixtureFarm {
        let dir = tempfile::tempdir().expect("temp dir for the farm log");
        let log = dir.path().join("requests.ndjson");
        let mut child = Command::new(farm_bin())
            .arg("--root")
            .arg(SITES)
            .arg("--log")
            .arg(&log)
            .arg("--exit-on-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fixture-farm");
        let stdin = child.stdin.take().expect("farm stdin");
        let stdout = child.stdout.take().expect("farm stdout");
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim_end()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|port| port.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fixture-farm did not announce its port: {read:?}, first line {line:?}");
        };
        FixtureFarm {
            child,
            _stdin: stdin,
            port,
            log,
            _dir: dir,
        }
    }

    /// The port the farm listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Every request the farm has logged so far, in order.
    pub(crate) fn requests(&self) -> Vec<FarmRequest> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("bad farm log line {line:?}: {e}"))
            })
            .collect()
    }
}

impl Drop for FixtureFarm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the scan reads its records.
enum Input {
    /// A file path, given as the positional argument.
    File(PathBuf),
    /// Text written to stdin (positional `-`).
    Stdin(String),
}

/// A `beian-audit scan` run against a farm.
pub(crate) struct Scan {
    /// `--resolve` rules.
    resolve: Vec<String>,
    /// `--scheme`.
    scheme: &'static str,
    /// The records.
    input: Input,
    /// Extra arguments, after the defaults.
    args: Vec<OsString>,
    /// Extra environment variables.
    env: Vec<(OsString, OsString)>,
    /// `--concurrency`.
    concurrency: u32,
    /// `--timeout` (seconds).
    timeout: u32,
    /// How long the whole run may take before the test gives up on it.
    deadline: Duration,
}

/// What a finished scan printed and returned.
#[derive(Debug)]
pub(crate) struct ScanOutput {
    /// The exit code (`None` when killed by a signal).
    pub(crate) status: Option<i32>,
    /// Everything written to stdout.
    pub(crate) stdout: String,
    /// Everything written to stderr.
    pub(crate) stderr: String,
}

impl Scan {
    /// A scan with every host sent to `farm`: `scan --resolve '*=127.0.0.1:PORT'
    /// --scheme http --browsers 1 --concurrency 2 --timeout 15`, reading an
    /// empty stdin until an input is given.
    pub(crate) fn new(farm: &FixtureFarm) -> Scan {
        Scan {
            resolve: vec![format!("*=127.0.0.1:{}", farm.port())],
            scheme: "http",
            input: Input::Stdin(String::new()),
            args: Vec::new(),
            env: Vec::new(),
            concurrency: 2,
            timeout: 15,
            deadline: Duration::from_secs(300),
        }
    }

    /// Send only these hosts to `farm` (instead of `*`): every other host
    /// resolves through the system.
    pub(crate) fn resolve_only(mut self, farm: &FixtureFarm, hosts: &[&str]) -> Scan {
        self.resolve = hosts
            .iter()
            .map(|host| format!("{host}=127.0.0.1:{}", farm.port()))
            .collect();
        self
    }

    /// `--scheme auto|https|http` instead of `http`.
    pub(crate) fn scheme(mut self, scheme: &'static str) -> Scan {
        self.scheme = scheme;
        self
    }

    /// Read the records from `path`.
    pub(crate) fn input_file(mut self, path: impl AsRef<Path>) -> Scan {
        self.input = Input::File(path.as_ref().to_owned());
        self
    }

    /// Feed `text` on stdin (input `-`).
    pub(crate) fn stdin(mut self, text: &str) -> Scan {
        self.input = Input::Stdin(text.to_owned());
        self
    }

    /// Add one argument after the defaults.
    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Scan {
        self.args.push(arg.into());
        self
    }

    /// Set an environment variable of the scan (`RUST_LOG`, say).
    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Scan {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `--timeout SECS` (default 15).
    pub(crate) fn timeout(mut self, secs: u32) -> Scan {
        self.timeout = secs;
        self
    }

    /// `--concurrency N` (default 2).
    pub(crate) fn concurrency(mut self, n: u32) -> Scan {
        self.concurrency = n;
        self
    }

    /// How long the run may take before it is stopped and the test fails.
    pub(crate) fn deadline(mut self, deadline: Duration) -> Scan {
        self.deadline = deadline;
        self
    }

    /// Run the scan to its end.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started or outlives the deadline.
    pub(crate) fn run(self) -> ScanOutput {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_beian-audit"));
        command.arg("scan");
        match &self.input {
            Input::File(path) => command.arg(path),
            Input::Stdin(_) => command.arg("-"),
        };
        for rule in &self.resolve {
            command.arg("--resolve").arg(rule);
        }
        command
            .args(["--scheme", self.scheme, "--browsers", "1"])
            .arg("--concurrency")
            .arg(self.concurrency.to_string())
            .arg("--timeout")
            .arg(self.timeout.to_string())
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut child = command.spawn().expect("spawn beian-audit");
            let mut stdin = child.stdin.take().expect("scan stdin");
            let text = match self.input {
                Input::Stdin(text) => text,
                Input::File(_) => String::new(),
            };
            let feed = async move {
                // A scan that fails early may not read its stdin.
                let _ = stdin.write_all(text.as_bytes()).await;
            };
            let mut stdout = child.stdout.take().expect("scan stdout");
            let mut stderr = child.stderr.take().expect("scan stderr");
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let run = async {
                let ((), out_read, err_read, status) = tokio::join!(
                    feed,
                    stdout.read_to_end(&mut out),
                    stderr.read_to_end(&mut err),
                    child.wait()
                );
                out_read.expect("read scan stdout");
                err_read.expect("read scan stderr");
                status.expect("wait for beian-audit")
            };
            let Ok(status) = tokio::time::timeout(self.deadline, run).await else {
                stop(&mut child).await;
                panic!(
                    "beian-audit scan did not finish within {:?}; stderr so far:\n{}",
                    self.deadline,
                    String::from_utf8_lossy(&err)
                );
            };
            ScanOutput {
                status: status.code(),
                stdout: String::from_utf8(out).expect("stdout is UTF-8"),
                stderr: String::from_utf8_lossy(&err).into_owned(),
            }
        })
    }
}

/// Stop a scan that overran: SIGTERM (so it can close its Chromium), then
/// SIGKILL if it is still there after its grace.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

impl ScanOutput {
    /// Every stdout line parsed as a `RecordReport`, with the timings
    /// (`elapsed_ms`, which differ run to run) set to 0.
    ///
    /// # Panics
    ///
    /// When any stdout line is not one: stdout carries JSON lines only.
    pub(crate) fn reports(&self) -> Vec<RecordReport> {
        assert!(
            self.stdout.is_empty() || self.stdout.ends_with('\n'),
            "stdout does not end with a newline:\n{}",
            self.stdout
        );
        self.stdout
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let mut report: RecordReport = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "stdout line {} is not a record report ({e}): {line:?}\nstderr:\n{}",
                        i + 1,
                        self.stderr
                    )
                });
                report.elapsed_ms = 0;
                for target in &mut report.targets {
                    target.elapsed_ms = 0;
                }
                report
            })
            .collect()
    }

    /// Assert the exit code, showing stderr when it differs.
    pub(crate) fn assert_status(&self, expected: i32) {
        assert_eq!(
            self.status,
            Some(expected),
            "exit status; stderr:\n{}",
            self.stderr
        );
    }
}

/// The one report for `domain`.
///
/// # Panics
///
/// When there is none, or more than one.
pub(crate) fn report<'r>(reports: &'r [RecordReport], domain: &str) -> &'r RecordReport {
    let mut found = reports.iter().filter(|r| r.domain == domain);
    let report = found
        .next()
        .unwrap_or_else(|| panic!("no report for {domain}"));
    assert!(found.next().is_none(), "several reports for {domain}");
    report
}

/// The finding-target label SPEC §4 gives a host on a device, for `http`.
pub(crate) fn label(host: &str, device: Device) -> String {
    format!("http://{host}/#{device}")
}

/// Which of a record's targets an expected finding is on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum On {
    /// The record itself (`target: null`).
    Record,
    /// All four targets: apex and `www.`, desktop and mobile.
    All,
    /// Both hosts on the phone.
    Mobile,
}

/// The (code, target) pairs `expected` stands for on `domain`'s record,
/// sorted.
pub(crate) fn expand(
    domain: &str,
    expected: &[(FindingCode, On)],
) -> Vec<(FindingCode, Option<String>)> {
    let www = format!("www.{domain}");
    let mut pairs = Vec::new();
    for &(code, on) in expected {
        let devices: &[Device] = match on {
            On::Record => {
                pairs.push((code, None));
                continue;
            }
            On::All => &Device::ALL,
            On::Mobile => &[Device::Mobile],
        };
        for host in [domain, www.as_str()] {
            for &device in devices {
                pairs.push((code, Some(label(host, device))));
            }
        }
    }
    pairs.sort();
    pairs
}

/// The (code, target) pairs of a report's findings, sorted.
pub(crate) fn findings(report: &RecordReport) -> Vec<(FindingCode, Option<String>)> {
    let mut pairs: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.code, f.target.clone()))
        .collect();
    pairs.sort();
    pairs
}

/// Assert that `report` has exactly the findings `expected` (as a multiset
/// of code and target), and the verdict they imply.
pub(crate) fn assert_findings(report: &RecordReport, expected: &[(FindingCode, On)]) {
    let want = expand(&report.domain, expected);
    assert_eq!(
        findings(report),
        want,
        "findings of {} (left: got, right: expected); targets:\n{}",
        report.domain,
        describe_targets(report)
    );
    let errors = want
        .iter()
        .filter(|(code, _)| code.severity() == Severity::Error)
        .count();
    let verdict = if errors == 0 {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    assert_eq!(report.verdict, verdict, "verdict of {}", report.domain);
}

/// One line per target with the facts that explain findings.
pub(crate) fn describe_targets(report: &RecordReport) -> String {
    let mut text = String::new();
    for t in &report.targets {
        let _ = writeln!(
            text,
            "  {}#{} status={:?} final={:?} title={:?} icp={:?} gongan={:?} error={:?} links={:?}",
            t.url,
            t.device,
            t.status,
            t.final_url,
            t.title,
            t.icp_numbers,
            t.gongan_numbers,
            t.error,
            t.links
        );
    }
    text
}
