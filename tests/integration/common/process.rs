//! Scans as processes the tests watch: a sandbox whose every process is
//! tagged (so `/proc` names exactly the scan's processes, whatever other
//! Chromium runs on the machine), a watchdog, and running a child to its
//! end. Shared by the tests that kill browsers and workers.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::farm::FixtureFarm;

/// A scan's private directories and its environment tag.
pub(crate) struct Sandbox {
    /// Holds `tmp/`, `home/`, `cwd/`; removed on drop.
    dir: tempfile::TempDir,
    /// `BEIAN_FAULT_TAG=<this>` marks the scan's processes.
    tag: String,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["tmp", "home", "cwd"] {
            std::fs::create_dir(dir.path().join(sub)).expect("sandbox dir");
        }
        let tag = format!("{}", dir.path().display());
        Sandbox { dir, tag }
    }

    pub(crate) fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// `beian-audit scan INPUT --scheme SCHEME` against `farm`, confined to
    /// the sandbox.
    pub(crate) fn command(&self, farm: &FixtureFarm, input: &Path, scheme: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_beian-audit"));
        self.confine(&mut command)
            .arg("scan")
            .arg(input)
            .arg("--resolve")
            .arg(format!("*=127.0.0.1:{}", farm.port()))
            .args(["--scheme", scheme, "--no-progress"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Give `command` the sandbox's `TMPDIR`, `HOME`, working directory and
    /// tag.
    pub(crate) fn confine<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("TMPDIR", self.path("tmp"))
            .env("HOME", self.path("home"))
            .env("BEIAN_FAULT_TAG", &self.tag)
            .current_dir(self.path("cwd"))
    }

    /// The live processes (other than zombies) carrying this sandbox's tag.
    pub(crate) fn processes(&self) -> Vec<u32> {
        let needle = format!("BEIAN_FAULT_TAG={}\0", self.tag);
        let mut pids = Vec::new();
        for (pid, dir) in every_process() {
            let Ok(environ) = std::fs::read(dir.join("environ")) else {
                continue;
            };
            let tagged = environ
                .windows(needle.len())
                .any(|w| w == needle.as_bytes());
            if tagged && state(pid).is_some_and(|s| s != 'Z' && s != 'X') {
                pids.push(pid);
            }
        }
        pids
    }

    /// The most memory (RSS) any one of the sandbox's renderers held, looked
    /// at every 50 ms until `done` says so: a lower bound of the true peak,
    /// so a bound it breaks was broken.
    pub(crate) fn peak_renderer_memory(&self, done: &mpsc::Receiver<()>) -> u64 {
        let mut peak = 0;
        while let Err(mpsc::RecvTimeoutError::Timeout) =
            done.recv_timeout(Duration::from_millis(50))
        {
            for pid in self.processes() {
                let renderer = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    c.split(|&b| b == 0 || b == b' ')
                        .any(|a| a == b"--type=renderer")
                });
                let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
                        line.split_whitespace().nth(1)?.parse::<u64>().ok()
                    });
                if let (true, Some(kib)) = (renderer, rss) {
                    peak = peak.max(kib * 1024);
                }
            }
        }
        peak
    }

    /// Wait (by pidfd, no polling) until every tagged process has exited,
    /// at most `limit`; returns those still alive.
    pub(crate) fn await_no_processes(&self, limit: Duration) -> Vec<u32> {
        let end = Instant::now() + limit;
        for pid in self.processes() {
            await_exit(pid, end.saturating_duration_since(Instant::now()));
        }
        self.processes()
    }

    /// Every file anywhere under the sandbox's `home/` and `cwd/`, and
    /// every file named like the hostile download under `tmp/`.
    pub(crate) fn stray_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for sub in ["home", "cwd"] {
            walk(&self.path(sub), &mut |p| found.push(p.to_owned()));
        }
        walk(&self.path("tmp"), &mut |p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.contains("hostile-download") || name.ends_with(".crdownload") {
                found.push(p.to_owned());
            }
        });
        found
    }
}

/// Call `f` on every file under `dir` (recursively).
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, f),
            Ok(_) => f(&path),
            Err(_) => {}
        }
    }
}

/// A process's state letter and parent pid, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ppid …`: comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let letter = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((letter, parent))
}

/// Every process's id and `/proc` directory.
fn every_process() -> impl Iterator<Item = (u32, PathBuf)> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((pid, entry.path()))
        })
}

fn state(pid: u32) -> Option<char> {
    stat(pid).map(|(s, _)| s)
}

/// The live children of `parent` whose command line names a Chromium.
pub(crate) fn chromium_children(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for (pid, dir) in every_process() {
        let Some((letter, parent_pid)) = stat(pid) else {
            continue;
        };
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if parent_pid == parent && letter != 'Z' && cmdline.contains("--user-data-dir=") {
            pids.push(pid);
        }
    }
    pids
}

/// Wait until `pid` exits or `limit` passes, by polling a pidfd.
#[expect(
    unsafe_code,
    reason = "pidfd_open and poll: waiting for a process that is not our child"
)]
fn await_exit(pid: u32, limit: Duration) {
    let Ok(raw) = i32::try_from(pid) else { return };
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
    let Ok(fd) = i32::try_from(fd) else { return };
    if fd < 0 {
        return; // already gone
    }
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd; fd is ours and closed right after.
    unsafe {
        libc::poll(&raw mut poll, 1, ms);
        libc::close(fd);
    }
}

pub(crate) fn sigkill(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// Kills the child if the test gives up on it; `disarm` when it ended.
pub(crate) struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    pub(crate) fn arm(pid: u32, deadline: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(deadline) {
                // The scan overran its deadline.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        Watchdog(Some(tx))
    }

    pub(crate) fn disarm(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Drain stderr on a thread (so a chatty scan never blocks on it).
pub(crate) fn drain(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    })
}

/// How a child run to its end went.
pub(crate) struct Finished {
    pub(crate) status: std::process::ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Read `child`'s stdout and stderr to their end and wait for it, killing
/// it if it outlives `deadline`.
pub(crate) fn run_to_end(mut child: Child, deadline: Duration) -> Finished {
    let mut watchdog = Watchdog::arm(child.id(), deadline);
    let stderr = drain(&mut child);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    let status = child.wait().expect("wait");
    watchdog.disarm();
    Finished {
        status,
        stdout,
        stderr: stderr.join().expect("stderr thread"),
    }
}
