//! `ChromeConfig`: which Chromium to start and with which flags, and the
//! start of one Chromium process (our own spawn, not chromiumoxide's
//! launcher).
//!
//! We spawn Chromium ourselves because chromiumoxide 0.9's launcher prefixes
//! `--` to every argument (`.arg("--no-sandbox")` reaches Chrome as
//! `----no-sandbox` and is silently ignored, upstream #306) and shares one
//! default profile directory between instances.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::process;
use super::BrowserError;

/// How long a starting Chromium may take to print its `DevTools` address.
pub(crate) const LAUNCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Executable names searched on `PATH`, best first. The headless shell is
/// the lightest build and renders with the same Blink.
const EXECUTABLE_NAMES: &[&str] = &[
    "chromium-headless-shell",
    "chromium",
    "chromium-browser",
    "google-chrome-stable",
    "google-chrome",
    "chrome",
    "headless_shell",
];

/// Where distributions keep the real binaries behind their wrapper scripts.
const REAL_BINARY_DIRS: &[&str] = &["/usr/lib/chromium", "/usr/lib/chromium-browser"];

/// The flags every Chromium of the pool starts with, before the per-run
/// ones (profile, proxy, sandbox, `--disable-features`, `--chrome-arg`).
/// Public so that the benchmark's floor starts Chromium the same way.
pub const BASE_FLAGS: &[&str] = &[
    "--headless",
    "--remote-debugging-port=0",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    // Pages render concurrently in background tabs; throttled timers
    // would hold back the settle wait for a footer injected by setTimeout.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--disable-ipc-flooding-protection",
    "--disable-hang-monitor",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--force-color-profile=srgb",
    "--mute-audio",
    "--hide-scrollbars",
    // Every frame of a page in the page's own renderer (see
    // DISABLED_FEATURES): extraction reads cross-site iframes too.
    "--disable-site-isolation-trials",
];

/// Features every instance runs without (one `--disable-features` flag:
/// Chromium honours only the last one given, so `extra_args` are merged in).
pub const DISABLED_FEATURES: &[&str] = &[
    // Auto-upgrading http:// navigations to https:// would visit a different
    // URL than the target's and wait for a fallback.
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    // Background chatter to Google services the worker cannot reach.
    "Translate",
    "OptimizationHints",
    "OptimizationGuideModelDownloading",
    "MediaRouter",
    "DialMediaRouteProvider",
    "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater",
    "InterestFeedContentSuggestions",
    "PrivacySandboxSettings4",
    // Re-requests a document when the server asks for client hints via the
    // ACCEPT_CH frame; the device emulation already sends them.
    "AcceptCHFrame",
    // Site isolation puts a cross-site iframe in a renderer (and a DevTools
    // target) of its own, out of reach of the page's session; a visitor
    // sees its text all the same (a footer widget, a 隐性转发 frameset),
    // so extraction must read it. One renderer a page also costs less
    // memory; the guard, not the renderer, keeps sites from the network.
    "IsolateOrigins",
    "site-per-process",
];

/// `--resolve` rules are the network guard's: it applies them to every
/// connection, so Chromium gets no `--host-resolver-rules` of its own.
pub use crate::guard::ResolveRule;

/// Flags that would let Chromium reach the network some other way than
/// through the guard; dropped from `--chrome-arg`.
const GUARD_FLAGS: &[&str] = &[
    "--proxy-server",
    "--proxy-bypass-list",
    "--no-proxy-server",
    "--proxy-auto-detect",
    "--proxy-pac-url",
    "--host-resolver-rules",
    "--force-webrtc-ip-handling-policy",
];

/// Everything needed to start one Chromium process of the pool.
#[derive(Debug, Clone)]
pub struct ChromeConfig {
    /// The real browser binary (not a wrapper script).
    pub executable: PathBuf,
    /// Extra flags from `--chrome-arg`, passed as given.
    pub extra_args: Vec<String>,
    /// Host mappings from `--resolve` (applied by the network guard, not
    /// by Chromium).
    pub resolve: Vec<ResolveRule>,
    /// What one page's renderer may hold, in bytes (`--page-memory`); V8's
    /// heap limit is half as much again (see `args`).
    pub page_memory: Option<u64>,
}

impl ChromeConfig {
    /// Find the browser to drive: `explicit` (from `--chrome` or `$CHROME`)
    /// when given, else the first of `chromium-headless-shell`, `chromium`,
    /// `google-chrome`, … on `PATH`.
    ///
    /// A distribution's wrapper script found on `PATH` (Debian's
    /// `/usr/bin/chromium`) is replaced by the real binary it starts
    /// (`/usr/lib/chromium/chromium`): a wrapper that does not `exec` would
    /// leave us holding the wrong process id.
    ///
    /// # Errors
    ///
    /// [`BrowserError::Launch`] when `explicit` is not an executable file, or
    /// when none is given and no known Chromium is on `PATH`.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, BrowserError> {
        if let Some(path) = explicit {
            return if is_executable(path) {
                Ok(real_binary(path))
            } else {
                Err(BrowserError::Launch {
                    path: path.display().to_string(),
                    reason: "not an executable file; pass --chrome PATH to a Chromium binary"
                        .to_owned(),
                })
            };
        }
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path_var).collect();
        for name in EXECUTABLE_NAMES {
            for dir in &dirs {
                let candidate = dir.join(name);
                if is_executable(&candidate) {
                    return Ok(real_binary(&candidate));
                }
            }
            for dir in REAL_BINARY_DIRS {
                let candidate = Path::new(dir).join(name);
                if is_executable(&candidate) {
                    return Ok(candidate);
                }
            }
        }
        Err(BrowserError::Launch {
            path: "chromium".to_owned(),
            reason: "cannot find a Chromium executable; install `chromium` or pass --chrome PATH"
                .to_owned(),
        })
    }

    /// Every command-line argument for one instance using `profile` as its
    /// user data directory and the network guard at `proxy` as its only
    /// way out.
    pub(crate) fn args(&self, profile: &Path, proxy: SocketAddr, as_root: bool) -> Vec<String> {
        let mut disabled: Vec<String> = DISABLED_FEATURES.iter().map(|f| (*f).to_owned()).collect();
        let mut extra = Vec::new();
        for arg in &self.extra_args {
            if let Some(list) = arg.strip_prefix("--disable-features=") {
                disabled.extend(list.split(',').filter(|f| !f.is_empty()).map(str::to_owned));
            } else if GUARD_FLAGS
                .iter()
                .any(|f| arg.split('=').next() == Some(*f))
            {
                tracing::warn!(%arg, "--chrome-arg ignored: the network guard owns how Chromium reaches the network");
            } else {
                extra.push(arg.clone());
            }
        }
        let mut args: Vec<String> = BASE_FLAGS.iter().map(|a| (*a).to_owned()).collect();
        if as_root {
            // Chromium refuses to start as root with its sandbox on.
            args.push("--no-sandbox".to_owned());
        }
        args.push(format!("--disable-features={}", disabled.join(",")));
        args.push(format!("--user-data-dir={}", profile.display()));
        // Every connection goes through the guard, loopback included (Chromium
        // bypasses proxies for localhost unless told `<-loopback>`); WebRTC may
        // not send UDP around it. QUIC is off above: it would not be proxied.
        args.push(format!("--proxy-server=http://{proxy}"));
        args.push("--proxy-bypass-list=<-loopback>".to_owned());
        args.push("--force-webrtc-ip-handling-policy=disable_non_proxied_udp".to_owned());
        // Chromium resolves no name itself: the guard resolves every host it
        // connects to. What would otherwise make it look a name up on the
        // worker's network (a page's WebRTC candidate `x.local`, sent as a
        // multicast DNS query around the guard; a STUN server's name) fails
        // at once. The proxy is an address, never looked up.
        args.push(format!(
            "--host-resolver-rules=MAP * 255.255.255.255, EXCLUDE {}",
            proxy.ip()
        ));
        if let Some(bytes) = self.page_memory {
            // The pool's watch stops a renderer past the limit within half a
            // second; V8's heap limit, half as much again, is the backstop
            // for a script that allocates faster than that (V8 running out
            // crashes the renderer as any crash does, so the watch is what
            // can say why). A `--js-flags` of `--chrome-arg` comes later and
            // wins.
            let mib = (bytes >> 20).max(16);
            args.push(format!("--js-flags=--max-old-space-size={}", mib + mib / 2));
        }
        args.extend(extra);
        args.push("about:blank".to_owned());
        args
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The binary a wrapper script stands for, when we know where it lives;
/// otherwise `path` itself (symlinks resolved).
fn real_binary(path: &Path) -> PathBuf {
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    if !is_script(&resolved) {
        return resolved;
    }
    if let Some(name) = resolved.file_name() {
        for dir in REAL_BINARY_DIRS {
            let candidate = Path::new(dir).join(name);
            if is_executable(&candidate) && !is_script(&candidate) {
                return candidate;
            }
        }
    }
    tracing::warn!(path = %resolved.display(), "Chromium executable is a script; its process id may not be the browser's");
    resolved
}

/// Profile directories are `$TMPDIR/beian-audit-chrome-XXXXXX`.
const PROFILE_PREFIX: &str = "beian-audit-chrome-";
/// Inside a profile: the worker that owns it (see [`owner_tag`]).
const OWNER_FILE: &str = "beian-audit.pid";

/// `<pid namespace> <pid>`: a process id means something only inside its
/// namespace, and containers may share a temporary directory.
fn owner_tag(pid: u32) -> String {
    let namespace = std::fs::read_link("/proc/self/ns/pid").unwrap_or_default();
    format!("{} {pid}", namespace.display())
}

/// Remove profiles left behind by workers that were killed (SIGKILL leaves
/// no chance to clean up; `PR_SET_PDEATHSIG` only takes Chromium with it).
/// A profile stays when its owner still runs, lives in another pid
/// namespace, or is not named.
fn sweep_stale_profiles() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let own_namespace = owner_tag(0);
    let own_namespace = own_namespace.trim_end_matches(" 0");
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(PROFILE_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        let Ok(tag) = std::fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        let Some((namespace, pid)) = tag.trim().rsplit_once(' ') else {
            continue;
        };
        let Ok(owner) = pid.parse::<u32>() else {
            continue;
        };
        let dead = namespace == own_namespace
            && !own_namespace.is_empty()
            && owner != std::process::id()
            && !Path::new(&format!("/proc/{owner}")).exists();
        if dead {
            tracing::debug!(path = %path.display(), owner, "removing a dead worker's Chromium profile");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"#!")
}

/// One started Chromium process: its `DevTools` address and profile.
///
/// Dropping it SIGKILLs the process group and removes the profile.
#[derive(Debug)]
pub(crate) struct ChromeProcess {
    /// The browser process (group leader of its helpers).
    pub child: Child,
    /// Its process id.
    pub pid: u32,
    /// `ws://127.0.0.1:<port>/devtools/browser/<id>`.
    pub ws_url: String,
    /// Drains stderr into the log so Chromium never blocks on a full pipe.
    stderr_task: JoinHandle<()>,
    /// The user data directory, removed when dropped (after the kill).
    profile: Option<tempfile::TempDir>,
}

impl ChromeProcess {
    /// Start Chromium with `config` and wait (at most `timeout`) for its
    /// `DevTools` address.
    pub(crate) async fn spawn(
        config: &ChromeConfig,
        proxy: SocketAddr,
        timeout: Duration,
    ) -> Result<Self, BrowserError> {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_stale_profiles);
        let launch_err = |reason: String| BrowserError::Launch {
            path: config.executable.display().to_string(),
            reason,
        };
        let profile = tempfile::Builder::new()
            .prefix(PROFILE_PREFIX)
            .tempdir()
            .map_err(|e| launch_err(format!("cannot create a profile directory: {e}")))?;
        // Marks the profile as ours while this worker lives (see sweep_stale_profiles).
        let _ = std::fs::write(
            profile.path().join(OWNER_FILE),
            owner_tag(std::process::id()),
        );
        let args = config.args(profile.path(), proxy, process::is_root());
        let mut command = Command::new(&config.executable);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Chromium keeps its certificate store (NSS,
            // `~/.local/share/pki/nssdb`) under HOME, created when it first
            // verifies a certificate: keep it in the profile, removed with it.
            .env("HOME", profile.path())
            .kill_on_drop(true)
            // Its own process group, so close() can kill every helper at once.
            .process_group(0);
        process::set_parent_death_signal(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| launch_err(format!("cannot execute: {e}")))?;
        let pid = child.id().unwrap_or_default();
        let Some(stderr) = child.stderr.take() else {
            return Err(launch_err("no stderr pipe".to_owned()));
        };
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        let ws_url = loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Ok(Some(line)) = line else {
                        let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                        return Err(launch_err(format!("exited before DevTools was ready ({status:?}): {}", seen.join(" | "))));
                    };
                    if let Some(url) = line.split("listening on ").nth(1).filter(|u| u.starts_with("ws://")) {
                        break url.trim().to_owned();
                    }
                    if seen.len() < 20 {
                        seen.push(line);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    process::kill_group(pid);
                    return Err(launch_err(format!("no DevTools address within {timeout:?}: {}", seen.join(" | "))));
                }
            }
        };
        let stderr_task = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::trace!(target: "beian_audit::chromium", pid, "{line}");
            }
        });
        tracing::debug!(pid, %ws_url, executable = %config.executable.display(), "Chromium started");
        Ok(ChromeProcess {
            child,
            pid,
            ws_url,
            stderr_task,
            profile: Some(profile),
        })
    }

    /// SIGKILL the whole process group, reap the browser (bounded) and
    /// remove the profile.
    pub(crate) async fn kill(mut self) {
        process::kill_group(self.pid);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        self.remove_profile();
    }

    /// Wait up to `grace` for the browser to exit by itself, then kill it.
    pub(crate) async fn wait_or_kill(mut self, grace: Duration) {
        let _ = tokio::time::timeout(grace, self.child.wait()).await;
        self.kill().await;
    }

    fn remove_profile(&mut self) {
        if let Some(profile) = self.profile.take() {
            let path = profile.path().to_owned();
            if profile.close().is_err() {
                // A helper may still be writing after the kill; try once more.
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
}

impl Drop for ChromeProcess {
    fn drop(&mut self) {
        if self.profile.is_some() {
            process::kill_group(self.pid);
        }
        self.stderr_task.abort();
        self.remove_profile();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[&str], resolve: Vec<ResolveRule>) -> ChromeConfig {
        ChromeConfig {
            executable: PathBuf::from("/usr/lib/chromium/chromium"),
            extra_args: extra.iter().map(|a| (*a).to_owned()).collect(),
            resolve,
            page_memory: None,
        }
    }

    const PROXY: &str = "127.0.0.1:4321";

    #[test]
    fn every_instance_goes_through_the_guard_and_nothing_else() {
        let resolve = vec![ResolveRule {
            host: "*".to_owned(),
            addr: "10.0.0.1:443".parse().unwrap(),
        }];
        let cfg = config(
            &[
                "--proxy-server=direct://",
                "--host-resolver-rules=MAP * 1.2.3.4",
                "--no-proxy-server",
            ],
            resolve,
        );
        let args = cfg.args(Path::new("/tmp/p"), PROXY.parse().unwrap(), false);
        for flag in [
            "--proxy-server=http://127.0.0.1:4321",
            "--proxy-bypass-list=<-loopback>",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--host-resolver-rules=MAP * 255.255.255.255, EXCLUDE 127.0.0.1",
            "--disable-quic",
        ] {
            assert_eq!(
                args.iter().filter(|a| *a == flag).count(),
                1,
                "{flag} in {args:?}"
            );
        }
        for prefix in [
            "--proxy-server=",
            "--host-resolver-rules",
            "--no-proxy-server",
        ] {
            assert_eq!(
                args.iter().filter(|a| a.starts_with(prefix)).count(),
                usize::from(prefix == "--proxy-server=" || prefix == "--host-resolver-rules"),
                "{prefix} in {args:?}"
            );
        }
    }

    #[test]
    fn args_merge_disabled_features_and_keep_extras() {
        let cfg = config(&["--disable-features=Foo", "--lang=zh-CN"], vec![]);
        let args = cfg.args(Path::new("/tmp/p"), PROXY.parse().unwrap(), true);
        let disable: Vec<&String> = args
            .iter()
            .filter(|a| a.starts_with("--disable-features="))
            .collect();
        assert_eq!(disable.len(), 1, "{args:?}");
        assert!(disable[0].contains("HttpsUpgrades") && disable[0].ends_with(",Foo"));
        assert!(args.contains(&"--no-sandbox".to_owned()));
        assert!(args.contains(&"--user-data-dir=/tmp/p".to_owned()));
        assert!(args.contains(&"--lang=zh-CN".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some("about:blank"));
        assert!(!cfg
            .args(Path::new("/tmp/p"), PROXY.parse().unwrap(), false)
            .contains(&"--no-sandbox".to_owned()));
    }

    #[test]
    fn locate_rejects_a_missing_explicit_path() {
        let err = ChromeConfig::locate(Some(Path::new("/nonexistent/chrome"))).unwrap_err();
        assert!(matches!(err, BrowserError::Launch { .. }), "{err}");
    }
}
