//! Running the real `beian-audit scan` against a farm (the `Scan`
//! builder) and reading what it wrote through the contract types.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use beian_audit::output::RecordReport;
use pretty_assertions::assert_eq;

use super::farm::{records, FixtureFarm};

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

/// The input lines of a record file's records (CSV: after the header).
pub(crate) fn input_lines(csv: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(records(csv)).expect("record file");
    (2..=text.lines().count() as u64).collect()
}

/// Every line of `text` parsed as a `RecordReport` (timings kept).
pub(crate) fn parse(text: &str) -> Vec<RecordReport> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// How often each input line occurs in `reports`.
pub(crate) fn line_counts(reports: &[RecordReport]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for r in reports {
        *counts.entry(r.line).or_default() += 1;
    }
    counts
}
