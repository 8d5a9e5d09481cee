//! `bench-floor`: the benchmark's floor, the least a crawler must do to see
//! the same pages. It drives Chromium the way `beian-audit`'s pool does
//! (our own spawn with the same flags, a chromiumoxide connection to the
//! `DevTools` address it prints) and loads each URL as a plain visitor:
//! open a page, navigate, wait for the load event, read the title, close
//! the page. No browser contexts, no device emulation, no settle wait, no
//! extraction; what `scan` spends beyond this is its own overhead.
//!
//! ```text
//! bench-floor --urls FILE [--concurrency N] [--browsers N] [--chrome PATH]
//!             [--resolve HOST=ADDR:PORT]... [--timeout SECS]
//! ```
//!
//! `FILE` holds one URL a line. At the end one JSON line goes to stdout:
//! `{"pages", "loaded", "failed", "titled", "concurrency", "browsers",
//! "launch_s", "pages_s", "pages_per_s", "mean_ms": {"open", "load",
//! "title", "close"}}` (the mean time of each step of a loaded page);
//! failures are listed on stderr.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use beian_audit::browser::launch::{BASE_FLAGS, DISABLED_FEATURES};
use beian_audit::browser::process::{is_root, kill_group};
use beian_audit::browser::{BrowserVersion, ChromeConfig, DeviceProfile};
use beian_audit::targets::Device;
use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetTouchEmulationEnabledParams, SetUserAgentOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::target::{CloseTargetParams, CreateTargetParams};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::Browser;
use clap::Parser;
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a starting Chromium may take to print its `DevTools` address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Load pages as a plain visitor, as fast as Chromium allows.
#[derive(Debug, Parser)]
#[command(name = "bench-floor", about)]
struct Args {
    /// The pages to load, one URL a line.
    #[arg(long, value_name = "FILE")]
    urls: PathBuf,
    /// Pages loading at once, across all browsers.
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,
    /// Chromium processes.
    #[arg(long, value_name = "N", default_value_t = 1)]
    browsers: usize,
    /// The browser to drive [default: as `beian-audit` finds it].
    #[arg(long, value_name = "PATH", env = "CHROME")]
    chrome: Option<PathBuf>,
    /// Send connections for HOST (`*` for all) to ADDR:PORT (repeatable).
    #[arg(long, value_name = "HOST=ADDR:PORT")]
    resolve: Vec<String>,
    /// The budget of one page load.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Emulate the device as `scan` does (viewport, pixel ratio, touch, user
    /// agent): even lines as desktop, odd lines as the phone. The generator's
    /// urls.txt lists every host twice in a row, desktop then phone.
    #[arg(long)]
    emulate: bool,
    /// While a page loads, evaluate a trivial expression in it every MS
    /// milliseconds (what `scan`'s settle probes cost, without their wait).
    #[arg(long, value_name = "MS")]
    poll_ms: Option<u64>,
}

/// One started, connected Chromium.
struct Instance {
    /// The `DevTools` connection.
    browser: Browser,
    /// What it reports about itself (for `--emulate`).
    version: BrowserVersion,
    /// The browser process (leader of its process group).
    child: Child,
    /// The profile, removed on drop.
    _profile: tempfile::TempDir,
}

/// How one page load ended.
enum Outcome {
    /// Loaded; whether it had a title, and how long each step took.
    Loaded { titled: bool, steps: Steps },
    /// Did not load, and why.
    Failed(String),
}

/// How long the steps of one visit took.
#[derive(Debug, Default, Clone, Copy)]
struct Steps {
    /// `Target.createTarget` (about:blank) until the page is attached, and
    /// the device emulation with `--emulate`.
    open: Duration,
    /// `Page.navigate` until the load event.
    load: Duration,
    /// Reading `document.title`.
    title: Duration,
    /// `Target.closeTarget`.
    close: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(line) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(2),
            }
        }
        Err(err) => {
            let _ = writeln!(std::io::stderr().lock(), "bench-floor: error: {err}");
            ExitCode::from(2)
        }
    }
}

/// The pool's own flags, so the floor's Chromium is the scan's; `--resolve`
/// becomes host-resolver rules (the floor has no network guard).
fn chrome_flags(resolve: &[String]) -> Vec<String> {
    let mut flags: Vec<String> = BASE_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    flags.push(format!(
        "--disable-features={}",
        DISABLED_FEATURES.join(",")
    ));
    if is_root() {
        flags.push("--no-sandbox".to_owned());
    }
    if !resolve.is_empty() {
        let rules: Vec<String> = resolve
            .iter()
            .map(|r| format!("MAP {}", r.replacen('=', " ", 1)))
            .collect();
        flags.push(format!("--host-resolver-rules={}", rules.join(", ")));
    }
    flags
}

/// Launch, load every URL, close; the summary line.
async fn run(args: &Args) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.urls)
        .map_err(|e| format!("cannot read --urls {}: {e}", args.urls.display()))?;
    let urls: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let executable = ChromeConfig::locate(args.chrome.as_deref()).map_err(|e| e.to_string())?;
    let flags = chrome_flags(&args.resolve);

    let started = Instant::now();
    let browsers = args.browsers.max(1);
    let mut instances = Vec::with_capacity(browsers);
    for _ in 0..browsers {
        instances.push(launch(&executable, &flags).await?);
    }
    let launch_s = started.elapsed().as_secs_f64();

    let pages_started = Instant::now();
    let budget = Duration::from_secs(args.timeout.max(1));
    let instances_ref = &instances;
    let outcomes: Vec<(String, Outcome)> = futures::stream::iter(urls.iter().enumerate())
        .map(|(i, url)| async move {
            let instance = &instances_ref[i % instances_ref.len()];
            let device = if i % 2 == 0 {
                Device::Desktop
            } else {
                Device::Mobile
            };
            let profile = args
                .emulate
                .then(|| DeviceProfile::for_device(device, &instance.version));
            let poll = args.poll_ms.map(Duration::from_millis);
            let outcome = visit(&instance.browser, url, profile.as_ref(), poll, budget).await;
            (url.clone(), outcome)
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let pages_s = pages_started.elapsed().as_secs_f64();

    for mut instance in instances {
        if let Some(pid) = instance.child.id() {
            kill_group(pid);
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), instance.child.wait()).await;
    }

    let mut loaded = 0usize;
    let mut titled = 0usize;
    let mut total = Steps::default();
    let mut stderr = std::io::stderr().lock();
    for (url, outcome) in &outcomes {
        match outcome {
            Outcome::Loaded { titled: t, steps } => {
                loaded += 1;
                titled += usize::from(*t);
                total.open += steps.open;
                total.load += steps.load;
                total.title += steps.title;
                total.close += steps.close;
            }
            Outcome::Failed(why) => {
                let _ = writeln!(stderr, "bench-floor: {url}: {why}");
            }
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "page counts are small")]
    let pages_per_s = outcomes.len() as f64 / pages_s.max(1e-9);
    let mean_ms = |d: Duration| {
        let n = u32::try_from(loaded.max(1)).unwrap_or(u32::MAX);
        (d / n).as_secs_f64() * 1000.0
    };
    let summary = serde_json::json!({
        "pages": outcomes.len(),
        "loaded": loaded,
        "failed": outcomes.len() - loaded,
        "titled": titled,
        "concurrency": args.concurrency,
        "browsers": browsers,
        "launch_s": launch_s,
        "pages_s": pages_s,
        "pages_per_s": pages_per_s,
        "mean_ms": {
            "open": mean_ms(total.open),
            "load": mean_ms(total.load),
            "title": mean_ms(total.title),
            "close": mean_ms(total.close),
        },
    });
    Ok(format!("{summary}\n"))
}

/// Open a page, navigate (chromiumoxide waits for the load event), read the
/// title, close the page.
async fn visit(
    browser: &Browser,
    url: &str,
    profile: Option<&DeviceProfile>,
    poll: Option<Duration>,
    budget: Duration,
) -> Outcome {
    let mut steps = Steps::default();
    let mut clock = Instant::now();
    let mut lap = || {
        let now = Instant::now();
        let took = now - clock;
        clock = now;
        took
    };
    let page = match browser
        .new_page(CreateTargetParams::new("about:blank"))
        .await
    {
        Ok(page) => page,
        Err(e) => return Outcome::Failed(format!("new page: {e}")),
    };
    if let Some(profile) = profile {
        if let Err(e) = emulate(&page, profile).await {
            return Outcome::Failed(format!("emulation: {e}"));
        }
    }
    steps.open = lap();
    let load = async {
        let Some(every) = poll else {
            return page.goto(url).await.map(|_| ());
        };
        let goto = page.goto(url);
        tokio::pin!(goto);
        loop {
            tokio::select! {
                done = &mut goto => return done.map(|_| ()),
                () = tokio::time::sleep(every) => {
                    let _ = page.evaluate("document.readyState").await;
                }
            }
        }
    };
    let titled = match tokio::time::timeout(budget, load).await {
        Err(_) => Err("timed out".to_owned()),
        Ok(Err(e)) => Err(format!("navigate: {e}")),
        Ok(Ok(())) => {
            steps.load = lap();
            let title = page.get_title().await;
            steps.title = lap();
            title
                .map(|t| t.is_some_and(|t| !t.is_empty()))
                .map_err(|e| format!("title: {e}"))
        }
    };
    // As the pool does: close the target, not Page.close (no beforeunload).
    let _ = browser
        .execute(CloseTargetParams::new(page.target_id().clone()))
        .await;
    steps.close = lap();
    match titled {
        Ok(titled) => Outcome::Loaded { titled, steps },
        Err(why) => Outcome::Failed(why),
    }
}

/// The device emulation `scan` applies before navigating (the same
/// metrics, touch and user agent; without the client-hints metadata).
async fn emulate(page: &chromiumoxide::Page, profile: &DeviceProfile) -> Result<(), String> {
    let mut metrics = SetDeviceMetricsOverrideParams::new(
        i64::from(profile.width),
        i64::from(profile.height),
        profile.device_scale_factor,
        profile.mobile,
    );
    metrics.screen_width = Some(i64::from(profile.width));
    metrics.screen_height = Some(i64::from(profile.height));
    let mut touch = SetTouchEmulationEnabledParams::new(profile.touch);
    if profile.touch {
        touch.max_touch_points = Some(5);
    }
    let mut agent = SetUserAgentOverrideParams::new(profile.user_agent.clone());
    agent.platform = Some(profile.platform.clone());
    page.execute(metrics).await.map_err(|e| e.to_string())?;
    page.execute(touch).await.map_err(|e| e.to_string())?;
    page.execute(agent).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Start one Chromium, wait for its `DevTools` address, connect.
async fn launch(executable: &std::path::Path, flags: &[String]) -> Result<Instance, String> {
    let profile = tempfile::Builder::new()
        .prefix("bench-floor-chrome-")
        .tempdir()
        .map_err(|e| format!("cannot create a profile directory: {e}"))?;
    let mut child = Command::new(executable)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot execute {}: {e}", executable.display()))?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let mut lines = BufReader::new(stderr).lines();
    let ws_url = tokio::time::timeout(LAUNCH_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line
                .split("listening on ")
                .nth(1)
                .filter(|u| u.starts_with("ws://"))
            {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("Chromium printed no DevTools address")?;
    // Keep draining stderr so Chromium never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let config = HandlerConfig {
        ignore_https_errors: false,
        viewport: None,
        ..HandlerConfig::default()
    };
    let (browser, mut handler) = Browser::connect_with_config(ws_url, config)
        .await
        .map_err(|e| format!("cannot connect to DevTools: {e}"))?;
    tokio::spawn(async move { while handler.next().await.is_some() {} });
    let version = browser
        .version()
        .await
        .map_err(|e| format!("Browser.getVersion failed: {e}"))?;
    Ok(Instance {
        version: BrowserVersion::parse(&version.product, &version.user_agent),
        browser,
        child,
        _profile: profile,
    })
}
