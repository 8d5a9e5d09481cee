//! `beian_audit::browser` against a real Chromium, no mocks: every test
//! starts the tests' loopback HTTP server (`common::server`) and a pool
//! the way the scan starts one (behind a network guard whose `--resolve *`
//! sends every host to the server), then renders `http://site.test/…` in
//! tabs, as the scan does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beian_audit::browser::{
    BrowserPool, ChromeConfig, RecyclePolicy, RenderError, RenderOptions, ResolveRule, Tab,
};
use beian_audit::guard::{Policy, Proxy, ProxyConfig};
use beian_audit::page::{PageSnapshot, TextSegment, Unreachable};
use beian_audit::targets::{Device, Target};

use crate::common::{chromium_children, serve, Route, Server};

const BUDGET: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Pool and assertion helpers.

fn chrome() -> PathBuf {
    let explicit = std::env::var_os("CHROME").map(PathBuf::from);
    ChromeConfig::locate(explicit.as_deref()).expect("a Chromium to test with")
}

/// A one-browser pool started the way the scan starts one: behind a
/// network guard that applies `resolve` and refuses internal addresses;
/// and the guard's address.
async fn launch(resolve: Vec<ResolveRule>) -> (BrowserPool, SocketAddr) {
    let policy = Policy {
        resolve: resolve.clone(),
        allow_private: false,
    };
    let guard = Proxy::start(ProxyConfig::new(policy))
        .await
        .expect("the network guard starts");
    let guard_addr = guard.addr();
    let config = ChromeConfig {
        executable: chrome(),
        // Chromium sends client hints (Sec-CH-UA-*) to secure origins only.
        extra_args: vec!["--unsafely-treat-insecure-origin-as-secure=http://site.test".to_owned()],
        resolve,
        page_memory: None,
    };
    let pool = BrowserPool::launch(config, 1, guard, RecyclePolicy::default())
        .await
        .expect("pool launches");
    (pool, guard_addr)
}

async fn pool_with(resolve: Vec<ResolveRule>) -> BrowserPool {
    launch(resolve).await.0
}

/// Every host sent to `server`.
fn to(server: &Server) -> Vec<ResolveRule> {
    vec![ResolveRule {
        host: "*".to_owned(),
        addr: server.addr,
    }]
}

async fn pool_for(server: &Server) -> BrowserPool {
    pool_with(to(server)).await
}

/// Render `url` as `target` in a tab of its own, as one target of a record
/// whose other targets are not rendered.
async fn render_in_tab(
    pool: &BrowserPool,
    target: &Target,
    url: &str,
    budget: Duration,
) -> Result<PageSnapshot, RenderError> {
    let mut tab = Tab::new(pool);
    let rendered = tab
        .render(target, url, budget, RenderOptions::default())
        .await;
    tab.close().await;
    rendered.map(|r| r.snapshot)
}

fn target(device: Device) -> Target {
    Target {
        host: "site.test".to_owned(),
        device,
    }
}

async fn render(
    pool: &BrowserPool,
    device: Device,
    path: &str,
) -> Result<PageSnapshot, RenderError> {
    let url = format!("http://site.test{path}");
    render_in_tab(pool, &target(device), &url, BUDGET).await
}

async fn render_ok(pool: &BrowserPool, device: Device, path: &str) -> PageSnapshot {
    match render(pool, device, path).await {
        Ok(snapshot) => snapshot,
        Err(e) => panic!("render of {path} failed: {e:?}"),
    }
}

/// The one segment whose text contains `needle`.
fn segment<'a>(snapshot: &'a PageSnapshot, needle: &str) -> &'a TextSegment {
    let found: Vec<&TextSegment> = snapshot
        .blocks
        .iter()
        .flat_map(|b| &b.segments)
        .filter(|s| s.text.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "segments with {needle:?} in {:#?}",
        snapshot.blocks
    );
    found[0]
}

fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("a Uid line");
    line.split_whitespace()
        .nth(2)
        .and_then(|uid| uid.parse().ok())
        .expect("an effective uid")
}

fn doc(body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>测试</title></head><body>{body}</body></html>"
    )
}

// ---------------------------------------------------------------------------
// Tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_reach_chromium_and_close_cleans_up() {
    let server = serve(&[]).await;
    let (pool, guard) = launch(to(&server)).await;
    // The one Chromium of ours whose only way out is this pool's guard.
    let through_guard = format!("--proxy-server=http://{guard}");
    let pids: Vec<u32> = chromium_children(std::process::id())
        .into_iter()
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&through_guard)
        })
        .collect();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pids[0])).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    assert_eq!(std::fs::canonicalize(&args[0]).unwrap(), chrome());
    for flag in [
        "--headless",
        "--remote-debugging-port=0",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
        "--mute-audio",
        "--hide-scrollbars",
    ] {
        assert!(has(flag), "{flag} missing from {args:?}");
    }
    assert_eq!(has("--no-sandbox"), effective_uid() == 0, "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("----")), "{args:?}");
    // `--resolve` is the network guard's: Chromium only knows its proxy,
    // and resolves no name itself.
    assert!(
        args.iter()
            .any(|a| a.starts_with("--proxy-server=http://127.0.0.1:")),
        "{args:?}"
    );
    assert_eq!(
        args.iter()
            .filter(|a| a.starts_with("--host-resolver-rules"))
            .collect::<Vec<_>>(),
        ["--host-resolver-rules=MAP * 255.255.255.255, EXCLUDE 127.0.0.1"],
        "{args:?}"
    );
    assert!(
        has("--unsafely-treat-insecure-origin-as-secure=http://site.test"),
        "--chrome-arg missing from {args:?}"
    );
    let features: Vec<&String> = args
        .iter()
        .filter(|a| a.starts_with("--disable-features="))
        .collect();
    assert_eq!(features.len(), 1, "{args:?}");
    assert!(features[0].contains("HttpsUpgrades"), "{args:?}");
    let profile = args
        .iter()
        .find_map(|a| a.strip_prefix("--user-data-dir="))
        .map(PathBuf::from)
        .expect("a profile directory");
    assert!(profile.is_dir());

    pool.close().await;
    assert!(!profile.exists(), "profile {profile:?} left behind");
    let gone = match std::fs::read_to_string(format!("/proc/{}/stat", pids[0])) {
        Err(_) => true,
        // A zombie awaiting its reaper is dead too.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z')),
    };
    assert!(gone, "Chromium {} outlived close()", pids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_and_mobile_are_emulated_before_navigation() {
    let page = doc("<p id=out></p><script>
           document.title = [innerWidth, navigator.maxTouchPoints, devicePixelRatio,
             matchMedia('(pointer: coarse)').matches, navigator.userAgent].join('|');
         </script>");
    let server = serve(&[("/", Route::html(&page))]).await;
    let pool = pool_for(&server).await;

    let desktop = render_ok(&pool, Device::Desktop, "/?desktop").await;
    let mobile = render_ok(&pool, Device::Mobile, "/?mobile").await;
    pool.close().await;

    let fields = |s: &PageSnapshot| s.title.split('|').map(str::to_owned).collect::<Vec<_>>();
    let d = fields(&desktop);
    assert_eq!(
        &d[..4],
        ["1366", "0", "1", "false"],
        "desktop saw {:?}",
        desktop.title
    );
    assert!(
        !d[4].contains("Headless") && !d[4].contains("Mobile"),
        "{}",
        d[4]
    );
    let m = fields(&mobile);
    assert_eq!(m[0], "390", "mobile saw {:?}", mobile.title);
    assert!(
        m[1].parse::<u32>().unwrap() >= 1,
        "mobile saw {:?}",
        mobile.title
    );
    assert_eq!(&m[2..4], ["3", "true"], "mobile saw {:?}", mobile.title);

    // Plain http, never upgraded to https, and no background chatter: the
    // server (every host maps to it) saw exactly the two navigations.
    let lines: Vec<String> = server.seen("").into_iter().map(|s| s.line).collect();
    assert_eq!(
        lines,
        ["GET /?desktop HTTP/1.1", "GET /?mobile HTTP/1.1"],
        "the server saw {lines:?}"
    );
    let desktop_req = &server.seen("/?desktop")[0];
    let mobile_req = &server.seen("/?mobile")[0];
    assert_eq!(
        desktop_req
            .headers
            .get("sec-ch-ua-mobile")
            .map(String::as_str),
        Some("?0")
    );
    assert_eq!(
        mobile_req
            .headers
            .get("sec-ch-ua-mobile")
            .map(String::as_str),
        Some("?1")
    );
    let ua = &mobile_req.headers["user-agent"];
    assert!(
        ua.contains("Android") && ua.contains("Mobile") && !ua.contains("Headless"),
        "{ua}"
    );
    let ua = &desktop_req.headers["user-agent"];
    assert!(!ua.contains("Headless") && !ua.contains("Mobile"), "{ua}");
    assert_eq!(desktop.status, Some(200));
    assert_eq!(desktop.addresses, vec!["127.0.0.1".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_split_over_spans_is_one_block() {
    let page = doc(
        "<main><p>正文 2024</p></main>
         <footer><p>备案号：<a href=' https://beian.miit.gov.cn/ '><span>京ICP备</span><span>12345678号</span>-1</a></p></footer>",
    );
    let server = serve(&[("/", Route::html(&page))]).await;
    let pool = pool_for(&server).await;
    let snapshot = render_ok(&pool, Device::Desktop, "/").await;
    pool.close().await;

    let block = snapshot
        .blocks
        .iter()
        .find(|b| b.text().contains("京ICP备12345678号-1"))
        .unwrap_or_else(|| panic!("no block holds the number: {:#?}", snapshot.blocks));
    assert!(block.text().starts_with("备案号："), "{:?}", block.text());
    let linked = segment(&snapshot, "京ICP备");
    assert_eq!(linked.href.as_deref(), Some("https://beian.miit.gov.cn/"));
    assert!(linked.visible && linked.in_footer, "{linked:?}");
    // The "正文 2024" block has too few digits to be reported.
    assert!(!snapshot.blocks.iter().any(|b| b.text().contains("正文")));
    assert_eq!(snapshot.links.len(), 1, "{:?}", snapshot.links);
    assert_eq!(snapshot.links[0].text, "京ICP备12345678号-1");
    assert_eq!(snapshot.links[0].href, "https://beian.miit.gov.cn/");
    assert!(snapshot.links[0].visible && snapshot.links[0].in_footer);
    assert_eq!(snapshot.title, "测试");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_text_is_reported_invisible() {
    let page = doc(
        "<div style='display:none'><p>号 100001</p></div>
         <p style='visibility:hidden'>号 100002</p>
         <div style='opacity:0'><div><p>号 100003</p></div></div>
         <p style='color:transparent'>号 100004</p>
         <p style='font-size:0'>号 100005</p>
         <div style='width:0;height:0;overflow:hidden'><p>号 100006</p></div>
         <p style='position:absolute;left:-9999px'>号 100007</p>
         <p style='position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)'>号 100008</p>
         <p>号 100009</p>
         <a href='http://beian.miit.gov.cn' style='display:none'>隐藏的链接</a>
         <footer><p>京ICP备12345678号-1</p></footer>",
    );
    let server = serve(&[("/", Route::html(&page))]).await;
    let pool = pool_for(&server).await;
    let snapshot = render_ok(&pool, Device::Desktop, "/").await;
    pool.close().await;

    for hidden in [
        "100001", "100002", "100003", "100004", "100005", "100006", "100007", "100008",
    ] {
        assert!(
            !segment(&snapshot, hidden).visible,
            "{hidden} reported visible"
        );
    }
    let plain = segment(&snapshot, "100009");
    assert!(plain.visible, "{plain:?}");
    let footer = segment(&snapshot, "京ICP备12345678号-1");
    assert!(footer.visible && footer.in_footer, "{footer:?}");
    assert_eq!(footer.href, None);
    assert_eq!(snapshot.links.len(), 1);
    assert!(!snapshot.links[0].visible, "{:?}", snapshot.links);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_footer_injected_after_load_is_waited_for_and_a_static_page_is_not() {
    let late = doc("<main>内容</main><script>
           addEventListener('load', () => setTimeout(() => {
             const f = document.createElement('footer');
             f.textContent = '京ICP备20210123号-3';
             document.body.appendChild(f);
           }, 1500));
           setInterval(() => { document.title = '钟 ' + Date.now(); }, 50);
         </script>");
    let fixed = doc("<footer>京ICP备12345678号-1</footer>");
    let server = serve(&[
        ("/late", Route::html(&late)),
        ("/static", Route::html(&fixed)),
    ])
    .await;
    let pool = pool_for(&server).await;

    let started = Instant::now();
    let snapshot = render_ok(&pool, Device::Desktop, "/late").await;
    let late_took = started.elapsed();
    let footer = segment(&snapshot, "京ICP备20210123号-3");
    assert!(footer.visible && footer.in_footer, "{footer:?}");
    assert!(
        late_took < Duration::from_secs(6),
        "a 1.5 s timer page took {late_took:?}"
    );

    // The browser is warm. The fastest of three renders bounds what a static
    // page pays (a fixed sleep would show in every one) while riding out a
    // busy test machine.
    let mut static_took = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let snapshot = render_ok(&pool, Device::Desktop, "/static").await;
        static_took = static_took.min(started.elapsed());
        assert!(segment(&snapshot, "京ICP备12345678号-1").in_footer);
    }
    pool.close().await;
    assert!(
        static_took < Duration::from_millis(1200),
        "a static page took {static_took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_classified_and_redirects_followed() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let server = serve(&[
        (
            "/missing",
            Route::html(&doc("<p>没有 404404404</p>")).status(404),
        ),
        ("/empty", Route::html("")),
        (
            "/file",
            Route::html("PK\u{3}\u{4}zipzipzip")
                .header("Content-Type", "application/zip")
                .header("Content-Disposition", "attachment; filename=site.zip"),
        ),
        (
            "/moved",
            Route::html("").status(302).header("Location", "/final"),
        ),
        (
            "/refresh",
            Route::html(&doc("<meta http-equiv=refresh content='1; url=/final'><p>跳转中</p>")),
        ),
        (
            "/scripted",
            Route::html(&doc(
                "<script>addEventListener('load', () => setTimeout(() => location.href = '/final', 300));</script>",
            )),
        ),
        (
            "/final",
            Route::html(&doc("<footer>京ICP备12345678号-1</footer>")),
        ),
    ])
    .await;
    let pool = pool_with(vec![
        ResolveRule {
            host: "refused.test".to_owned(),
            addr: closed_addr,
        },
        ResolveRule {
            host: "*".to_owned(),
            addr: server.addr,
        },
    ])
    .await;

    // An error page comes back as a page with its status: the scan judges
    // it unreachable (SPEC §2) and still reports its URL and address.
    let missing = render(&pool, Device::Desktop, "/missing").await;
    let missing = missing.expect("an error page is returned as a page");
    assert_eq!(missing.status, Some(404));
    assert!(
        missing.final_url.ends_with("/missing"),
        "{}",
        missing.final_url
    );
    let refused = render_in_tab(
        &pool,
        &target(Device::Desktop),
        "http://refused.test/",
        BUDGET,
    )
    .await;
    assert!(
        matches!(&refused, Err(RenderError::Site(Unreachable::Refused { detail })) if detail.contains("ERR_CONNECTION_REFUSED")),
        "{refused:?}"
    );
    let empty = render(&pool, Device::Desktop, "/empty").await;
    assert!(
        matches!(empty, Err(RenderError::Site(Unreachable::EmptyDocument))),
        "{empty:?}"
    );
    let download = render(&pool, Device::Desktop, "/file").await;
    assert!(
        matches!(download, Err(RenderError::Site(Unreachable::Download))),
        "{download:?}"
    );
    let moved = render_ok(&pool, Device::Mobile, "/moved").await;
    assert_eq!(moved.final_url, "http://site.test/final");
    assert_eq!(moved.redirects, vec!["http://site.test/moved".to_owned()]);
    assert_eq!(moved.status, Some(200));
    // Client-side redirects after load are followed too: the page they lead
    // to is the one judged (SPEC's A 跳转 B).
    for path in ["/refresh", "/scripted"] {
        let landed = render_ok(&pool, Device::Desktop, path).await;
        assert_eq!(landed.final_url, "http://site.test/final", "{path}");
        assert_eq!(landed.redirects, vec![format!("http://site.test{path}")]);
        assert!(segment(&landed, "京ICP备12345678号-1").visible, "{path}");
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogs_and_hostile_globals_do_not_stop_extraction() {
    let alerting = doc(
        "<script>alert('欢迎'); confirm('确定?'); document.title = 'after dialogs';
           addEventListener('beforeunload', (e) => { e.preventDefault(); e.returnValue = ''; });</script>
         <footer>京ICP备12345678号-1</footer>",
    );
    let hostile = doc("<script>
           Array.prototype.map = function () { throw new Error('map'); };
           Array.prototype.filter = null;
           JSON.stringify = function () { throw new Error('stringify'); };
           String.prototype.normalize = function () { return ''; };
           Element.prototype.getBoundingClientRect = function () { throw new Error('rect'); };
           window.getComputedStyle = null;
         </script>
         <footer>京ICP备12345678号-1</footer>");
    let plain = "ICP备案 京ICP备12345678号-1\n";
    let server = serve(&[
        ("/alert", Route::html(&alerting)),
        ("/hostile", Route::html(&hostile)),
        (
            "/plain",
            Route::html(plain).header("Content-Type", "text/plain; charset=utf-8"),
        ),
    ])
    .await;
    let pool = pool_for(&server).await;

    let snapshot = render_ok(&pool, Device::Desktop, "/alert").await;
    assert_eq!(snapshot.title, "after dialogs");
    assert!(segment(&snapshot, "京ICP备12345678号-1").visible);

    let snapshot = render_ok(&pool, Device::Mobile, "/hostile").await;
    let footer = segment(&snapshot, "京ICP备12345678号-1");
    assert!(footer.visible && footer.in_footer, "{footer:?}");

    let snapshot = render_ok(&pool, Device::Desktop, "/plain").await;
    pool.close().await;
    assert!(
        segment(&snapshot, "京ICP备12345678号-1").visible,
        "{snapshot:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_never_finish_are_judged_at_the_end_of_their_budget() {
    let never_loads = doc("<img src='/never.png'><footer>京ICP备12345678号-1</footer>");
    let spins = doc("<footer>京ICP备12345678号-1</footer><script>while (true) {}</script>");
    let server = serve(&[
        ("/slow", Route::html(&never_loads)),
        ("/never.png", Route::hang()),
        ("/spin", Route::html(&spins)),
        ("/hang", Route::hang()),
    ])
    .await;
    let pool = pool_for(&server).await;
    let budget = Duration::from_secs(3);

    let started = Instant::now();
    let never = render_in_tab(
        &pool,
        &target(Device::Desktop),
        "http://site.test/hang",
        budget,
    )
    .await;
    // The message states the time actually spent waiting for the document:
    // the budget less what it keeps for extraction (0.75 s of 3 s).
    let spent = started.elapsed();
    assert!(
        matches!(
            never,
            Err(RenderError::Site(Unreachable::Timeout { seconds }))
                if seconds == (spent + Duration::from_millis(500)).as_secs()
                    || seconds + 1 == (spent + Duration::from_millis(500)).as_secs()
        ),
        "{never:?} after {spent:?}"
    );
    assert!(
        started.elapsed() < budget + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let snapshot = render_in_tab(
        &pool,
        &target(Device::Desktop),
        "http://site.test/slow",
        budget,
    )
    .await
    .expect("a page whose load never fires is still judged");
    assert!(segment(&snapshot, "京ICP备12345678号-1").visible);
    assert!(
        started.elapsed() < budget + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let spun = render_in_tab(
        &pool,
        &target(Device::Desktop),
        "http://site.test/spin",
        budget,
    )
    .await;
    assert!(
        matches!(spun, Err(RenderError::Site(Unreachable::ScriptHung))),
        "{spun:?}"
    );
    assert!(
        started.elapsed() < budget + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // The browser survived the hung renderer.
    let again = render_in_tab(
        &pool,
        &target(Device::Mobile),
        "http://site.test/slow",
        budget,
    )
    .await;
    pool.close().await;
    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_tab_does_not_take_its_last_pages_own_navigation_for_the_next_render() {
    // `/` moves itself on to `/moved` 3 s after loading, past the 2.5 s of
    // timers a render waits for: after its render, while the tab's next
    // render waits 5 s for its turn at the rate gate (listening already).
    let server = serve(&[
        (
            "/",
            Route::html(
                "<!doctype html><meta charset=utf-8><title>首页</title><p>首页\
                 <script>setTimeout(() => { location.href = '/moved'; }, 3000);</script>",
            ),
        ),
        (
            "/other",
            Route::html("<!doctype html><meta charset=utf-8><title>其他页</title><p>其他"),
        ),
        (
            "/moved",
            Route::html("<!doctype html><meta charset=utf-8><title>活动页</title><p>活动"),
        ),
    ])
    .await;
    let pool = pool_for(&server).await;
    let mut tab = Tab::new(&pool);
    let desktop = target(Device::Desktop);
    let first = tab
        .render(
            &desktop,
            "http://site.test/",
            BUDGET,
            RenderOptions::default(),
        )
        .await
        .expect("the first render");
    assert_eq!(first.snapshot.title, "首页");

    let period = Duration::from_secs(5);
    let gate = governor::RateLimiter::direct(
        governor::Quota::with_period(period).expect("a non-zero period"),
    );
    assert!(gate.check().is_ok(), "the gate's one token, taken");
    let options = RenderOptions {
        navigate_gate: Some(Arc::new(gate)),
        ..RenderOptions::default()
    };
    let second = tab
        .render(&desktop, "http://site.test/other", BUDGET, options)
        .await;
    tab.close().await;
    pool.close().await;
    assert!(
        !server.seen("/moved").is_empty(),
        "the first page never moved on: the case did not arise"
    );
    let second = second.expect("the second render");
    assert_eq!(second.snapshot.final_url, "http://site.test/other");
    assert_eq!(second.snapshot.title, "其他页");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_whose_last_navigation_is_still_watched_never_holds_the_next_render_back() {
    // A lazy iframe far to the right, where no vertical scroll brings it:
    // it never loads, so chromiumoxide's watch of the first navigation
    // (main frame and every frame loaded) never ends, and it would hold
    // the tab's next Page.navigate back for 30 s — longer than the budget:
    // the second page would never be requested (issue: a render that
    // never starts).
    let server = serve(&[
        (
            "/",
            Route::html(
                "<!doctype html><meta charset=utf-8><title>首页</title>\
                 <body style='overflow-x:hidden'><p>首页</p>\
                 <iframe loading=lazy src='/frame' \
                 style='position:absolute;left:20000px;top:0;width:300px;height:150px'>\
                 </iframe></body>",
            ),
        ),
        ("/frame", Route::html("<p>frame")),
        (
            "/other",
            Route::html("<!doctype html><meta charset=utf-8><title>其他页</title><p>其他"),
        ),
    ])
    .await;
    let pool = pool_for(&server).await;
    let mut tab = Tab::new(&pool);
    let desktop = target(Device::Desktop);
    let mut seconds = Vec::new();
    // Repeated: the same tab, page after page; each must reach the server.
    for round in 0..3 {
        let first = tab
            .render(
                &desktop,
                "http://site.test/",
                BUDGET,
                RenderOptions::default(),
            )
            .await
            .expect("the first render");
        assert_eq!(first.snapshot.title, "首页");
        let second = tab
            .render(
                &desktop,
                "http://site.test/other",
                BUDGET,
                RenderOptions::default(),
            )
            .await;
        seconds.push((round, second.map(|r| r.snapshot.title)));
    }
    tab.close().await;
    pool.close().await;
    assert!(
        server.seen("/frame").is_empty(),
        "the lazy frame loaded: the case did not arise"
    );
    assert_eq!(
        server.seen("/other").len(),
        3,
        "every second render reached the server"
    );
    for (round, title) in seconds {
        assert_eq!(
            title.expect("the second render").as_str(),
            "其他页",
            "round {round}"
        );
    }
}
