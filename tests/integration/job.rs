//! The Kubernetes Indexed Job, played on one machine: N workers run the
//! container's own arguments and environment, read from
//! `scripts/k8s/indexed-job.yaml` (so the test breaks when the manifest
//! drifts), one output file per index; one index is killed (`SIGKILL`)
//! half-way and retried as the Job would retry it; the merged files hold
//! every record exactly once and no Chromium is left.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beian_audit::output::summary::SummaryReport;
use beian_audit::rules::Verdict;
use pretty_assertions::assert_eq;

use crate::common::{
    drain, input_lines, line_counts, parse, records, sigkill, FixtureFarm, Sandbox, Watchdog,
};

/// The manifest the test plays.
const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/k8s/indexed-job.yaml");

/// Completions (= shards) of the simulated Job: fewer than the manifest's
/// 8, for a 2-core CI machine; `BEIAN_AUDIT_SHARDS` is set to match.
const SHARDS: usize = 3;

/// The index killed and retried: its shard of `farm.csv` is the largest
/// (13 records) and has no slow site, so it is surely mid-scan after its
/// first line.
const KILLED: usize = 1;

/// The `- item` lines of the block that follows the line `key:` (the first
/// such key in the file), unquoted, comments and blank lines skipped. A
/// tiny reader for this one manifest's shape, not a YAML parser.
fn yaml_list(yaml: &str, key: &str) -> Vec<String> {
    let mut lines = yaml.lines();
    let indent = lines
        .by_ref()
        .find_map(|l| (l.trim() == format!("{key}:")).then(|| l.len() - l.trim_start().len()))
        .unwrap_or_else(|| panic!("{MANIFEST} has no `{key}:`"));
    let mut items = Vec::new();
    for line in lines {
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if line.len() - line.trim_start().len() <= indent && !text.starts_with("- ") {
            break;
        }
        if let Some(item) = text.strip_prefix("- ") {
            items.push(item.trim_matches('"').to_owned());
        } else if let Some(last) = items.last_mut() {
            // A mapping item's further keys (`value: "8"`) join its line.
            last.push('\n');
            last.push_str(text);
        }
    }
    items
}

/// The worker container's `env`: name → literal `value` (`None` for a
/// `valueFrom`).
fn yaml_env(yaml: &str) -> BTreeMap<String, Option<String>> {
    yaml_list(yaml, "env")
        .iter()
        .map(|item| {
            let mut name = None;
            let mut value = None;
            for field in item.lines() {
                if let Some(n) = field.strip_prefix("name:") {
                    name = Some(n.trim().to_owned());
                }
                if let Some(v) = field.strip_prefix("value:") {
                    value = Some(v.trim().trim_matches('"').to_owned());
                }
            }
            (name.expect("an env item has a name"), value)
        })
        .collect()
}

/// The pod's filesystem, mapped into the test's directories.
struct Pod<'s> {
    /// `/in` (the records' `ConfigMap`).
    input: PathBuf,
    /// `/out` (the shared PVC).
    out: PathBuf,
    /// Its `/tmp` and the scan's tag.
    sandbox: &'s Sandbox,
}

impl Pod<'_> {
    /// A path of the pod (`/in/…`, `/out/…`, `/tmp`) on this machine.
    fn map(&self, path: &str) -> String {
        let mapped = [
            ("/in", &self.input),
            ("/out", &self.out),
            ("/tmp", &self.sandbox.path("tmp")),
        ]
        .into_iter()
        .find_map(|(mount, here)| {
            let rest = path.strip_prefix(mount)?;
            (rest.is_empty() || rest.starts_with('/')).then(|| format!("{}{rest}", here.display()))
        });
        mapped.unwrap_or_else(|| path.to_owned())
    }
}

/// Index `index`'s container: the manifest's args (`$(JOB_COMPLETION_INDEX)`
/// expanded as Kubernetes does) and env, plus what only the fixture farm
/// needs (its address, plain http, a small page budget for 2 cores).
fn worker(
    pod: &Pod<'_>,
    farm: &FixtureFarm,
    args: &[String],
    env: &BTreeMap<String, Option<String>>,
    index: usize,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beian-audit"));
    pod.sandbox.confine(&mut command);
    for (name, value) in env {
        let value = match name.as_str() {
            "JOB_COMPLETION_INDEX" => index.to_string(),
            "BEIAN_AUDIT_SHARDS" => SHARDS.to_string(),
            _ => pod.map(value.as_deref().expect("a literal env value")),
        };
        command.env(name, value);
    }
    command
        .args(
            args.iter()
                .map(|a| pod.map(&a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string()))),
        )
        .arg("--resolve")
        .arg(format!("*=127.0.0.1:{}", farm.port()))
        .args(["--scheme", "http", "--browsers", "1", "--concurrency", "2"])
        .args(["--timeout", "10"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Wait until the file `path` holds at least `lines` newlines: woken by
/// inotify on its directory (no sleeping), failing when `child` ends
/// first or `limit` passes.
#[expect(
    unsafe_code,
    reason = "inotify: wake when another process writes the file"
)]
fn await_lines(path: &Path, lines: usize, child: &mut Child, limit: Duration) {
    // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
    let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
    assert!(raw >= 0, "inotify_init1 failed");
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let dir = CString::new(path.parent().expect("a directory").as_os_str().as_bytes())
        .expect("no NUL in the path");
    // SAFETY: a valid inotify fd and a NUL-terminated path.
    let watch = unsafe {
        libc::inotify_add_watch(
            fd.as_raw_fd(),
            dir.as_ptr(),
            libc::IN_CREATE | libc::IN_MODIFY | libc::IN_CLOSE_WRITE,
        )
    };
    assert!(watch >= 0, "inotify_add_watch on {}", dir.to_string_lossy());
    let end = Instant::now() + limit;
    loop {
        // Read after the watch is set: no write can slip between the two.
        if whole_lines(path).len() >= lines {
            return;
        }
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the worker ended before writing {lines} lines to {}",
            path.display()
        );
        let left = end
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("{} got no {lines} lines in {limit:?}", path.display()));
        // Wake at least once a second to notice a worker that died quietly.
        let ms = i32::try_from(left.as_millis().min(1000)).unwrap_or(1000);
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let mut events = [0u8; 4096];
        // SAFETY: one valid pollfd; then reads into our own buffer from our
        // non-blocking fd until it is drained.
        unsafe {
            libc::poll(&raw mut poll, 1, ms);
            while libc::read(fd.as_raw_fd(), events.as_mut_ptr().cast(), events.len()) > 0 {}
        }
    }
}

/// The whole lines of a file (a torn last line left out).
fn whole_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = text.rfind('\n').map_or("", |end| &text[..=end]);
    whole.lines().map(str::to_owned).collect()
}

/// The worker container's args and env, checked for what this test
/// relies on, so that a drifted manifest fails here.
fn container() -> (Vec<String>, BTreeMap<String, Option<String>>) {
    let yaml = std::fs::read_to_string(MANIFEST).expect("read the manifest");
    let args = yaml_list(&yaml, "args");
    let env = yaml_env(&yaml);
    assert_eq!(args.first().map(String::as_str), Some("scan"), "{args:?}");
    let output = args
        .iter()
        .position(|a| a == "--output" || a == "-o")
        .and_then(|i| args.get(i + 1))
        .expect("the Job passes --output");
    assert_eq!(output, "/out/shard-$(JOB_COMPLETION_INDEX).ndjson");
    assert!(args.iter().any(|a| a == "--resume"), "{args:?}");
    assert_eq!(env.get("JOB_COMPLETION_INDEX"), Some(&None), "{env:?}");
    assert!(
        matches!(env.get("BEIAN_AUDIT_SHARDS"), Some(Some(_))),
        "{env:?}"
    );
    (args, env)
}

#[test]
fn indexed_job_with_a_killed_and_retried_index_covers_every_record_once() {
    let (args, env) = container();
    let farm = FixtureFarm::start();
    let sandbox = Sandbox::new();
    let pod = Pod {
        input: sandbox.path("in"),
        out: sandbox.path("out"),
        sandbox: &sandbox,
    };
    for dir in [&pod.input, &pod.out] {
        std::fs::create_dir(dir).expect("pod volume");
    }
    std::fs::copy(records("farm.csv"), pod.input.join("records.csv")).expect("records");
    let shard_file = |i: usize| pod.out.join(format!("shard-{i}.ndjson"));

    // The Job starts every index at once (parallelism >= completions here).
    let mut pods: Vec<_> = (0..SHARDS)
        .map(|i| {
            let mut child = worker(&pod, &farm, &args, &env, i)
                .spawn()
                .expect("spawn a worker");
            let stderr = drain(&mut child);
            let watchdog = Watchdog::arm(child.id(), Duration::from_secs(300));
            (child, stderr, watchdog)
        })
        .collect();

    // Kill one index once it has written a record, as a node loss would.
    let killed = &mut pods[KILLED].0;
    await_lines(&shard_file(KILLED), 1, killed, Duration::from_secs(120));
    sigkill(killed.id());
    let status = killed.wait().expect("wait for the killed worker");
    assert_eq!(status.code(), None, "killed by a signal");
    let kept = whole_lines(&shard_file(KILLED));
    assert!(!kept.is_empty(), "the killed index wrote a record first");

    // The Job retries the index: the same container, the same command.
    let mut retry = worker(&pod, &farm, &args, &env, KILLED)
        .spawn()
        .expect("spawn the retry");
    let retry_stderr = drain(&mut retry);
    let mut retry_watchdog = Watchdog::arm(retry.id(), Duration::from_secs(300));
    let status = retry.wait().expect("wait for the retry");
    retry_watchdog.disarm();
    let stderr = retry_stderr.join().expect("stderr thread");
    assert_eq!(status.code(), Some(0), "--fail-on never; stderr:\n{stderr}");
    for line in stderr.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object()),
            "--log-format json: a stderr line is not a JSON object: {line:?}"
        );
    }
    for (i, (mut child, stderr, mut watchdog)) in pods.into_iter().enumerate() {
        if i == KILLED {
            continue;
        }
        let status = child.wait().expect("wait for a worker");
        watchdog.disarm();
        let stderr = stderr.join().expect("stderr thread");
        assert_eq!(status.code(), Some(0), "index {i}; stderr:\n{stderr}");
    }

    // The retry continued the killed index's file: its whole lines first,
    // unchanged, and none of their records again.
    let retried = whole_lines(&shard_file(KILLED));
    assert_eq!(
        retried[..kept.len()],
        kept[..],
        "the retry kept the first lines"
    );
    assert!(
        retried.len() > kept.len(),
        "the kill came after the index's last record: nothing was retried"
    );

    let merged = gather(&pod.out);
    // Each index's summary counts what its (last) run wrote.
    let summarised: u64 = (0..SHARDS)
        .map(|i| {
            let path = pod.out.join(format!("shard-{i}.summary.json"));
            let text = std::fs::read_to_string(&path).expect("every index wrote its summary");
            let summary: SummaryReport = serde_json::from_str(&text).expect("a summary");
            assert!(!summary.interrupted, "shard {i}");
            summary.records
        })
        .sum();
    assert_eq!(
        summarised,
        (merged - kept.len()) as u64,
        "the summaries count every record but the killed run's"
    );

    let left = sandbox.await_no_processes(Duration::from_secs(10));
    assert!(left.is_empty(), "processes outlived the Job: {left:?}");
}

/// Gather the shard files in `out` as the README says (concatenate them)
/// and check that they hold every record of the input exactly once, none a
/// `crawler-error`; returns how many records there are.
fn gather(out: &Path) -> usize {
    let mut merged = Vec::new();
    for i in 0..SHARDS {
        let text = std::fs::read_to_string(out.join(format!("shard-{i}.ndjson")))
            .expect("every index wrote its file");
        assert!(text.ends_with('\n'), "shard {i} ends with a whole line");
        let reports = parse(&text);
        assert!(!reports.is_empty(), "shard {i} is empty");
        merged.extend(reports);
    }
    let counts = line_counts(&merged);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        input_lines("farm.csv"),
        "every record is in some shard file"
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "a record is in two places: {counts:?}"
    );
    for report in &merged {
        assert_ne!(
            report.verdict,
            Verdict::Error,
            "{}: a crawler-error",
            report.domain
        );
    }

    merged.len()
}
