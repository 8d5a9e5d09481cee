//! The fixture farm (`tools/`'s `fixture-farm`, a process of its own
//! playing `fixtures/sites` by `Host`), the record files, and the one
//! shared scan of `fixtures/records/farm.csv` that several test files read.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use beian_audit::output::RecordReport;
use serde::Deserialize;

use super::scan::Scan;

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
        FixtureFarm::start_at(Path::new(SITES))
    }

    /// Start a farm over the sites in `root` (one folder, or symbolic link
    /// to one, per host). The farm reads its files on every request, so a
    /// test can change what a site serves between two scans.
    ///
    /// # Panics
    ///
    /// When the farm cannot start or does not announce its port.
    pub(crate) fn start_at(root: &Path) -> FixtureFarm {
        let dir = tempfile::tempdir().expect("temp dir for the farm log");
        let log = dir.path().join("requests.ndjson");
        let mut child = Command::new(farm_bin())
            .arg("--root")
            .arg(root)
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

/// The shared scan of farm.csv: its reports, exit status and the farm's log.
pub(crate) struct FarmScan {
    /// One per record.
    pub(crate) reports: Vec<RecordReport>,
    /// The scan's exit code.
    pub(crate) status: Option<i32>,
    /// The scan's stderr, for failure messages.
    pub(crate) stderr: String,
    /// Every request the farm saw during the scan.
    pub(crate) requests: Vec<FarmRequest>,
}

/// Scan farm.csv once for every test of this module; a failed scan fails
/// each of them with the same message instead of being retried.
pub(crate) fn farm_scan() -> &'static FarmScan {
    static SCAN: OnceLock<Result<FarmScan, String>> = OnceLock::new();
    let scan = SCAN.get_or_init(|| {
        std::panic::catch_unwind(|| {
            let farm = FixtureFarm::start();
            let output = Scan::new(&farm)
                .input_file(records("farm.csv"))
                .concurrency(4)
                .deadline(Duration::from_secs(900))
                .run();
            FarmScan {
                reports: output.reports(),
                status: output.status,
                stderr: output.stderr,
                requests: farm.requests(),
            }
        })
        .map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "the farm scan panicked".to_owned())
        })
    });
    match scan {
        Ok(scan) => scan,
        Err(message) => panic!("the shared scan of farm.csv failed: {message}"),
    }
}
