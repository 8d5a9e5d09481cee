//! The scan pipeline: records → targets → renders → judgement → lines.
//!
//! This is the one place with concurrency: `buffer_unordered` bounds the
//! records in flight, and so the pages open at once (a record renders its
//! targets one after another in one page, and a second one only when the
//! [`PageLimit`] lends it), and the single loop at the end owns judging and
//! writing, so output lines never interleave.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::browser::same_url;
use crate::browser::{BrowserError, BrowserPool, RenderError, RenderOptions, Rendered, Tab};
use crate::config::ScanConfig;
use crate::error::Error;
use crate::exit::{ExitStatus, ExitTally};
use crate::guard;
use crate::input::shard::Shard;
use crate::input::{read_records, InputError, InputSource, Record, RecordResult};
use crate::judge::{Judge, JudgedRecord, RecordOutcome, ScanIndex};
use crate::output::evidence;
use crate::output::resume::DoneSet;
use crate::output::summary::{Summary, SummaryOptions};
use crate::output::{NdjsonWriter, RecordReport};
use crate::page::{PageSnapshot, TargetFailure, Unreachable};
use crate::pages::{PageLimit, PagePermit};
use crate::rules::{registrable_domain, TargetOutcome};
use crate::starvation::Starvation;
use crate::targets::{expand, Device, Target};
use crate::throttle::Throttle;

/// How often a crawler failure is retried on a (possibly new) browser.
const CRAWLER_RETRIES: u32 = 2;

/// Shared, read-only state of one scan.
struct Ctx {
    config: ScanConfig,
    pool: BrowserPool,
    /// `--rate` and the per-site cap.
    throttle: Throttle,
    /// `--concurrency` pages: one a record, a second one when spare.
    pages: Arc<PageLimit>,
    /// Whether the worker was starved of CPU during a render.
    starvation: Starvation,
    /// One starved render's retry at a time, so that it has the machine's
    /// room the first attempt lacked.
    retry_room: tokio::sync::Semaphore,
}

/// Run a whole scan; the exit status says what `--fail-on` makes of it.
///
/// # Errors
///
/// [`Error`] when the scan cannot run: the input, the output or
/// `--summary FILE` cannot be opened or written, or no browser starts.
pub async fn run(config: ScanConfig) -> Result<ExitStatus, Error> {
    // Open the input first: an unreadable file must fail before a browser starts.
    let records = read_records(&config.input, config.input_format)?;
    let (done, mut writer) = open_output(&config)?;
    // The pre-read runs beside the first renders: a million-line input
    // starts scanning at once; judging waits for it (see `judge`).
    let mut index_task = Some(spawn_index(&config, &done));
    let mut tally = start_summary(&config, None)?;
    let mut exit = ExitTally::new(config.fail_on);
    let pool = launch_pool(&config).await?;
    tracing::info!(
        browsers = config.browsers,
        concurrency = config.concurrency,
        chrome = %config.chrome.executable.display(),
        "scan started"
    );
    let concurrency = config.concurrency;
    let ctx = Arc::new(Ctx {
        throttle: Throttle::new(config.rate),
        pages: Arc::new(PageLimit::new(concurrency)),
        starvation: Starvation::start(),
        retry_room: tokio::sync::Semaphore::new(1),
        config,
        pool,
    });

    let (reader, mut rx) = spawn_reader(records, ctx.config.shard, done, concurrency * 2);
    // On the first SIGTERM/SIGINT no new record starts; in-flight ones get
    // `--grace` to finish. A second signal exits at once.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(watch_signals(stop_tx));
    let mut stopping = stop_rx.clone();
    let items =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).take_until(Box::pin(async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }));
    let mut finished = told_at_end(items, Arc::clone(&ctx.pages))
        .map(|item| {
            let ctx = Arc::clone(&ctx);
            async move {
                match item {
                    Ok(record) => {
                        let page = ctx.pages.take().await;
                        Ok(scan_record(&ctx, record, page).await)
                    }
                    Err(invalid) => Err(invalid),
                }
            }
        })
        .buffer_unordered(concurrency);

    let mut judge = None;
    let mut write_failed = None;
    let mut interrupted = false;
    let stop_seen = stop_rx.clone();
    let mut grace_over = std::pin::pin!(grace_after_stop(stop_rx, ctx.config.grace));
    loop {
        let item = tokio::select! {
            item = finished.next() => item,
            () = &mut grace_over => {
                tracing::warn!("grace period over; unfinished records are left for --resume");
                interrupted = true;
                break;
            }
        };
        let Some(item) = item else { break };
        let judge = match &mut judge {
            Some(judge) => judge,
            None => judge.insert(ready_judge(&mut index_task, &mut tally).await),
        };
        let judged = judge_item(judge, item);
        if let Err(e) = write_all(&mut writer, judged, (&mut tally, &mut exit), &ctx.config) {
            write_failed = Some(e);
            break;
        }
    }
    if let (None, Some(judge)) = (&write_failed, &mut judge) {
        let rest = judge.finish();
        if let Err(e) = write_all(&mut writer, rest, (&mut tally, &mut exit), &ctx.config) {
            write_failed = Some(e);
        }
    }
    drop(finished);
    reader.abort();
    if let Ok(ctx) = Arc::try_unwrap(ctx) {
        ctx.pool.close().await;
    } else {
        tracing::warn!("browser pool still shared at exit; browsers are killed on drop");
    }
    let interrupted = interrupted || *stop_seen.borrow();
    let status = exit.status();
    tally.finish(interrupted)?;
    if interrupted {
        tracing::warn!("scan interrupted; run again with --resume to finish it");
        return Ok(ExitStatus::Interrupted);
    }
    match write_failed {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(status),
        Some(source) => Err(Error::Output {
            path: writer.name().to_owned(),
            source,
        }),
        None => Ok(status),
    }
}

/// A finished record judged (or held for its group), or a row that could
/// not be read.
fn judge_item(judge: &mut Judge, item: Result<RecordOutcome, InputError>) -> Vec<JudgedRecord> {
    match item {
        Ok(done) => judge.accept(done),
        Err(invalid) => {
            tracing::warn!(line = invalid.line, reason = %invalid.reason, "input row skipped");
            vec![JudgedRecord::invalid(invalid)]
        }
    }
}

/// `items`, telling `pages` when they end (no record is left to start).
fn told_at_end<S: futures::Stream + Unpin>(
    mut items: S,
    pages: Arc<PageLimit>,
) -> impl futures::Stream<Item = S::Item> {
    futures::stream::poll_fn(move |cx| {
        let next = items.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            pages.input_ended();
        }
        next
    })
}

/// Read the records this process scans on a blocking thread; the bounded
/// channel is the back-pressure that keeps a huge input from being read ahead.
fn spawn_reader(
    records: Box<dyn Iterator<Item = RecordResult> + Send>,
    shard: Shard,
    done: DoneSet,
    capacity: usize,
) -> (tokio::task::JoinHandle<()>, mpsc::Receiver<RecordResult>) {
    let (tx, rx) = mpsc::channel::<RecordResult>(capacity);
    let reader = tokio::task::spawn_blocking(move || {
        let wanted = records.filter(|item| shard.contains(item) && !done.contains(line_of(item)));
        for item in wanted {
            if tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    (reader, rx)
}

/// The records `--resume` finds done in `--output`, and the writer (which
/// appends when resuming).
fn open_output(config: &ScanConfig) -> Result<(DoneSet, NdjsonWriter), Error> {
    let Some(path) = &config.output else {
        return Ok((DoneSet::default(), NdjsonWriter::stdout()));
    };
    let failed = |source| Error::Output {
        path: path.display().to_string(),
        source,
    };
    let done = if config.resume {
        DoneSet::load(path).map_err(failed)?
    } else {
        DoneSet::default()
    };
    if !done.is_empty() {
        tracing::info!(
            records = done.len(),
            "resuming: records already in the output are skipped"
        );
    }
    let writer = NdjsonWriter::file(path, config.resume).map_err(failed)?;
    Ok((done, writer))
}

/// Write judged records (screenshots attached with `--evidence`) and count
/// them, for the summary and for the exit status.
fn write_all(
    writer: &mut NdjsonWriter,
    judged: Vec<JudgedRecord>,
    (tally, exit): (&mut Summary, &mut ExitTally),
    config: &ScanConfig,
) -> std::io::Result<()> {
    for judged in judged {
        let mut report = RecordReport::of(&judged);
        if let Some(dir) = &config.evidence {
            evidence::attach(dir, &mut report);
        }
        writer.write(&report)?;
        tally.add(&report);
        exit.add(&report.findings);
    }
    Ok(())
}

/// The tally, progress display and `--summary` file of this scan.
fn start_summary(config: &ScanConfig, total: Option<u64>) -> Result<Summary, Error> {
    let options = SummaryOptions {
        progress: config.progress,
        json_logs: config.json_logs,
        total,
    };
    Summary::new(options, config.summary.as_deref()).map_err(|source| Error::Output {
        path: config
            .summary
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        source,
    })
}

/// Resolves `grace` after the first stop signal.
async fn grace_after_stop(mut stop: tokio::sync::watch::Receiver<bool>, grace: Duration) {
    let _ = stop.wait_for(|stop| *stop).await;
    tokio::time::sleep(grace).await;
}

/// The pre-read of the input (see [`build_index`]), with the record total.
type IndexTask = tokio::task::JoinHandle<Result<(ScanIndex, Option<u64>), Error>>;

/// Start the pre-read on a blocking thread.
fn spawn_index(config: &ScanConfig, done: &DoneSet) -> IndexTask {
    let (config, done) = (config.clone(), done.clone());
    tokio::task::spawn_blocking(move || build_index(&config, &done))
}

/// The judge, once the pre-read index is ready; also tells the progress
/// display how many records to expect.
async fn ready_judge(index_task: &mut Option<IndexTask>, tally: &mut Summary) -> Judge {
    let built = match index_task.take() {
        Some(task) => task.await,
        None => Ok(Ok((ScanIndex::default(), None))),
    };
    match built {
        Ok(Ok((index, total))) => {
            tally.set_total(total);
            Judge::new(index)
        }
        // The file was readable a moment ago; without the index only the
        // cross-record rules lose what other records would have told them.
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot pre-read the input; judging records alone");
            Judge::new(ScanIndex::default())
        }
        Err(e) => {
            tracing::warn!(error = %e, "input pre-read failed; judging records alone");
            Judge::new(ScanIndex::default())
        }
    }
}

/// Read the input once ahead of the scan to learn every filed domain and
/// subject (see `judge`). Standard input cannot be read twice: then the
/// cross-record rules know only the records seen so far. Also counts the
/// lines this run will write (for progress), when the input is a file.
fn build_index(config: &ScanConfig, done: &DoneSet) -> Result<(ScanIndex, Option<u64>), Error> {
    let mut index = ScanIndex::default();
    let mut total = None;
    if let InputSource::File(_) = &config.input {
        let mut count = 0;
        for item in read_records(&config.input, config.input_format)? {
            let scanned = config.shard.contains(&item) && !done.contains(line_of(&item));
            count += u64::from(scanned);
            if let Ok(record) = item {
                index.add(&record, scanned);
            }
        }
        total = Some(count);
    }
    Ok((index, total))
}

/// The input line of a stream item.
fn line_of(item: &RecordResult) -> u64 {
    match item {
        Ok(record) => record.line,
        Err(invalid) => invalid.line,
    }
}

/// Flip `stop` on the first SIGTERM or SIGINT; exit at once on the second.
async fn watch_signals(stop: tokio::sync::watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for signals; SIGTERM will stop the scan at once");
        return;
    };
    for round in 0..2 {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        if round == 0 {
            tracing::warn!(
                "signal received: finishing in-flight records (a second signal exits at once)"
            );
            let _ = stop.send(true);
        }
    }
    tracing::warn!("second signal: exiting now");
    // Chromium children die with us (PR_SET_PDEATHSIG in browser::launch).
    std::process::exit(ExitStatus::Interrupted as i32);
}

/// Render every target of `record` on the page `page` grants, one after
/// another in one browser tab (see [`Tab`]: opening a page is half the cost
/// of a visit): the desktop targets, then the phone ones — or, when the
/// [`PageLimit`] lends a page before the desktop ones are done, the phone
/// ones in a tab of their own at the same time. A tab is closed, and its
/// page given back, as soon as its last render is done.
async fn scan_record(ctx: &Ctx, record: Record, page: PagePermit) -> RecordOutcome {
    let started = Instant::now();
    let targets = expand(&record);
    let mut hosts: Vec<&str> = targets.iter().map(|t| t.host.as_str()).collect();
    hosts.dedup();
    let checks = join_all(
        hosts
            .iter()
            .map(|host| guard::check(host, &ctx.config.chrome.resolve, ctx.config.allow_private)),
    )
    .await;
    let refused: Vec<Option<TargetFailure>> = targets
        .iter()
        .map(|target| {
            hosts
                .iter()
                .position(|h| *h == target.host)
                .and_then(|i| checks[i].clone().err())
        })
        .collect();
    let plan = Plan {
        ctx,
        line: record.line,
        targets: &targets,
        refused: &refused,
    };
    let [desktop, phone] = lanes(&targets);
    // Boxed: a record's future holds two lanes' renders.
    let mut own = Box::pin(async {
        let mut tab = ctx.pool.tab();
        let outcomes = plan.render(&mut tab, &desktop).await;
        (tab, outcomes)
    });
    let mut outcomes = tokio::select! {
        biased;
        (mut tab, mut outcomes) = &mut own => {
            outcomes.extend(plan.render(&mut tab, &phone).await);
            tab.close().await;
            outcomes
        }
        lent = ctx.pages.spare() => {
            let own = async {
                let (tab, outcomes) = own.await;
                tab.close().await;
                drop(page);
                outcomes
            };
            let apart = Box::pin(async {
                let mut tab = ctx.pool.tab();
                let outcomes = plan.render(&mut tab, &phone).await;
                tab.close().await;
                drop(lent);
                outcomes
            });
            let (mut outcomes, apart) = tokio::join!(own, apart);
            outcomes.extend(apart);
            outcomes
        }
    };
    outcomes.sort_by_key(|(i, _)| *i);
    RecordOutcome {
        record,
        outcomes: outcomes.into_iter().map(|(_, o)| o).collect(),
        started,
    }
}

/// One render of a lane: a target's index, and the index of the target
/// whose page it may share.
type Step = (usize, Option<usize>);

/// The order a record's `targets` render in, desktop lane then phone lane.
/// An apex whose `www.` sibling is a target too renders right after it:
/// when the apex redirects to the page `www.` landed on (the common `a.cn`
/// → `www.a.cn`), its render stops at that redirect and shares `www.`'s
/// page instead of rendering it a second time.
fn lanes(targets: &[Target]) -> [Vec<Step>; 2] {
    let sibling: Vec<Option<usize>> = targets
        .iter()
        .map(|apex| {
            targets
                .iter()
                .position(|t| t.device == apex.device && t.host == format!("www.{}", apex.host))
        })
        .collect();
    // Shares are one deep: a `www.` host that shares another's page (an
    // extra host `www.www.a.cn`) lends its own to nobody.
    let leader: Vec<Option<usize>> = sibling
        .iter()
        .map(|s| s.filter(|&l| sibling[l].is_none()))
        .collect();
    Device::ALL.map(|device| {
        (0..targets.len())
            .filter(|&i| targets[i].device == device && leader[i].is_none())
            .flat_map(|i| {
                let follower = leader.iter().position(|l| *l == Some(i));
                std::iter::once((i, None)).chain(follower.map(|f| (f, Some(i))))
            })
            .collect()
    })
}

/// What the renders of one record's lanes share (see [`scan_record`]).
#[derive(Clone, Copy)]
struct Plan<'a> {
    ctx: &'a Ctx,
    line: u64,
    targets: &'a [Target],
    /// Per target: the guard's refusal of its host, if it was refused.
    refused: &'a [Option<TargetFailure>],
}

impl Plan<'_> {
    /// Render `lane` one target after another in `tab`.
    async fn render(self, tab: &mut Tab<'_>, lane: &[Step]) -> Vec<(usize, TargetOutcome)> {
        let mut landings: Vec<Option<Landing>> = self.targets.iter().map(|_| None).collect();
        let mut outcomes = Vec::with_capacity(lane.len());
        for &(i, leader) in lane {
            let join = leader.and_then(|l| landings[l].as_ref());
            let (outcome, landing) = render_target(
                self.ctx,
                tab,
                self.line,
                self.targets[i].clone(),
                self.refused[i].clone(),
                join,
            )
            .await;
            landings[i] = landing;
            outcomes.push((i, outcome));
        }
        outcomes
    }
}

/// A rendered page another target of the same device may share (see
/// [`scan_record`]).
struct Landing {
    /// The target URL that was rendered.
    from: String,
    page: PageSnapshot,
    screenshot: Option<Vec<u8>>,
}

/// Render one target: scheme fallback, crawler retries, and the guard's
/// verdict. With `join`, a navigation that reaches `join`'s page shares it.
/// Returns the outcome, and the page it rendered for others to share.
async fn render_target(
    ctx: &Ctx,
    tab: &mut Tab<'_>,
    line: u64,
    target: Target,
    refused: Option<TargetFailure>,
    join: Option<&Landing>,
) -> (TargetOutcome, Option<Landing>) {
    let schemes = ctx.config.scheme.schemes();
    if let Some(failure) = refused {
        let url = target.url(schemes[0]);
        let outcome = TargetOutcome::new(target, url, Err(failure), Duration::ZERO);
        return (outcome, None);
    }
    let _site = ctx.throttle.site(&registrable_domain(&target.host)).await;
    let start = Instant::now();
    let mut last = None;
    let mut https_error = None;
    for (i, scheme) in schemes.iter().enumerate() {
        let url = target.url(scheme);
        let rendered = match join {
            // The page to share is this very URL (www. redirected here).
            Some(join) if same_url(&url, &join.page.final_url) => Ok((
                PageSnapshot {
                    joined: true,
                    final_url: url.clone(),
                    ..PageSnapshot::default()
                },
                None,
            )),
            _ => render_with_retries(ctx, tab, &target, &url, join).await,
        };
        let mut landing = None;
        let mut shared_render = None;
        let (result, partial) = match rendered {
            Ok((page, _)) if page.joined => {
                let join = join.expect("only a render with a page to join joins");
                shared_render = Some(join.from.clone());
                save_evidence(ctx, line, &target, join.screenshot.as_deref()).await;
                (Ok(shared_page(page, &join.page)), None)
            }
            Ok((page, screenshot)) => {
                save_evidence(ctx, line, &target, screenshot.as_deref()).await;
                // An error page arrived: the site is unreachable (SPEC §2), but
                // its URL, status and address are facts worth reporting.
                if let Some(status) = page.status.filter(|s| *s >= 400) {
                    (
                        Err(TargetFailure::Unreachable(Unreachable::HttpStatus {
                            status,
                        })),
                        Some(page),
                    )
                } else {
                    landing = Some(Landing {
                        from: url.clone(),
                        page: page.clone(),
                        screenshot,
                    });
                    (Ok(page), None)
                }
            }
            Err(failure) => (Err(failure), None),
        };
        let is_last = i + 1 == schemes.len();
        if let Err(TargetFailure::Unreachable(why)) = &result {
            if !is_last && falls_back(why) {
                tracing::debug!(%url, %why, "https failed; trying http");
                https_error = Some(why.clone());
                continue;
            }
        }
        last = Some((
            TargetOutcome {
                partial,
                https_error: https_error.take(),
                shared_render,
                ..TargetOutcome::new(target.clone(), url, result, start.elapsed())
            },
            landing,
        ));
        break;
    }
    // The last scheme never `continue`s.
    last.expect("schemes are never empty")
}

/// The page a joined render reports: the shared one, reached through the
/// joined render's own redirect hops.
fn shared_page(joined: PageSnapshot, shared: &PageSnapshot) -> PageSnapshot {
    let mut page = shared.clone();
    page.redirects = joined.redirects;
    // Stopped before the redirect's target was even requested: the last
    // URL it asked for is a hop too.
    if !joined.final_url.is_empty() && !same_url(&joined.final_url, &shared.final_url) {
        page.redirects.push(joined.final_url);
    }
    page.redirects.extend(shared.redirects.iter().cloned());
    let mut addresses = joined.addresses;
    for address in &shared.addresses {
        if !addresses.contains(address) {
            addresses.push(address.clone());
        }
    }
    page.addresses = addresses;
    page
}

/// `--evidence`: keep the picture of the page this target reports.
async fn save_evidence(ctx: &Ctx, line: u64, target: &Target, png: Option<&[u8]>) {
    if let Some(dir) = &ctx.config.evidence {
        evidence::save(dir, line, target, png).await;
    }
}

/// Whether an https failure should be retried over http (`--scheme auto`):
/// a site that does not speak https at all, not one that is simply gone.
fn falls_back(why: &Unreachable) -> bool {
    matches!(
        why,
        Unreachable::Refused { .. }
            | Unreachable::Reset { .. }
            | Unreachable::Tls { .. }
            | Unreachable::Timeout { .. }
            | Unreachable::Other { .. }
    )
}

/// Start the browsers behind the network guard: `--resolve` and
/// `--allow-private` apply to every connection of every page.
async fn launch_pool(config: &ScanConfig) -> Result<BrowserPool, Error> {
    let policy = guard::Policy {
        resolve: config.chrome.resolve.clone(),
        allow_private: config.allow_private,
    };
    let proxy = guard::Proxy::start(guard::ProxyConfig::new(policy))
        .await
        .map_err(|e| BrowserError::Launch {
            path: config.chrome.executable.display().to_string(),
            reason: format!("cannot start the network guard on 127.0.0.1: {e}"),
        })?;
    Ok(BrowserPool::launch_behind(
        config.chrome.clone(),
        config.browsers,
        proxy,
        config.recycle,
    )
    .await?)
}

/// Render, retrying crawler failures (ours, not the site's) with backoff,
/// and a render the worker's starvation spoiled (see [`crate::starvation`])
/// once with a fresh budget. With `--evidence`, the page's bottom is
/// captured too.
async fn render_with_retries(
    ctx: &Ctx,
    tab: &mut Tab<'_>,
    target: &Target,
    url: &str,
    join: Option<&Landing>,
) -> Result<(PageSnapshot, Option<Vec<u8>>), TargetFailure> {
    let mut attempt = 0;
    let options = RenderOptions {
        screenshot_bottom: ctx.config.evidence.is_some(),
        navigate_gate: ctx.throttle.rate_limiter(),
        join_at: join.map(|j| j.page.final_url.clone()),
    };
    let budget = ctx.config.timeout;
    loop {
        let before = ctx.starvation.mark();
        let result = tab.render_with(target, url, budget, options.clone()).await;
        let starved = spoiled_by_load(&result)
            .then(|| ctx.starvation.since(before))
            .flatten();
        if let Some(why) = starved {
            // A retry when the machine has room: one at a time, and not
            // after waiting longer than a budget for the turn. The first
            // attempt's page (when it read one) is kept in case the retry
            // does no better.
            let room = tokio::time::timeout(budget, ctx.retry_room.acquire()).await;
            let Ok(Ok(_permit)) = room else {
                return settle_starved(result, Some(why), None);
            };
            tracing::info!(%url, %why, "render spoiled by the worker's starvation; retrying with a fresh budget");
            let before = ctx.starvation.mark();
            let retried = tab.render_with(target, url, budget, options.clone()).await;
            let again = spoiled_by_load(&retried)
                .then(|| ctx.starvation.since(before))
                .flatten();
            return settle_starved(retried, again, Some((result.ok(), why)));
        }
        match result {
            Ok(rendered) => return Ok((rendered.snapshot, rendered.screenshot)),
            Err(RenderError::Site(why)) => return Err(TargetFailure::Unreachable(why)),
            Err(RenderError::Refused { host, address }) => {
                return Err(TargetFailure::AddressRefused { host, address });
            }
            Err(RenderError::Crawler(e)) if attempt < CRAWLER_RETRIES => {
                attempt += 1;
                tracing::warn!(%url, error = %e, attempt, "crawler error; retrying");
                tokio::time::sleep(Duration::from_millis(250 * 4u64.pow(attempt - 1))).await;
            }
            Err(RenderError::Crawler(e)) => {
                return Err(TargetFailure::Crawler {
                    reason: e.to_string(),
                });
            }
        }
    }
}

/// The outcome of a target the worker's starvation touched: `result` (the
/// retry's, or the only attempt's), `starved` why it was starved too (if it
/// was), and the first attempt's page when it read one. A page read is
/// never thrown away for a failure; a failure the starvation made is ours
/// (`crawler-error`). (No scheme fallback is lost: a page script that never
/// answered ran on a page that arrived.)
fn settle_starved(
    result: Result<Rendered, RenderError>,
    starved: Option<String>,
    first: Option<(Option<Rendered>, String)>,
) -> Result<(PageSnapshot, Option<Vec<u8>>), TargetFailure> {
    let (first_page, first_why) = first.map_or((None, None), |(p, w)| (p, Some(w)));
    // An unsettled page names every starvation seen; a failure is ours only
    // when its own attempt was starved (a retry that had the room and still
    // hung is the site's).
    let note = starved.clone().or(first_why);
    let noted = |rendered: Rendered| {
        let mut snapshot = rendered.snapshot;
        if let (Some(unsettled), Some(why)) = (&snapshot.unsettled, &note) {
            snapshot.unsettled = Some(format!("{unsettled}; {why}"));
        }
        (snapshot, rendered.screenshot)
    };
    match result {
        Ok(rendered) => Ok(noted(rendered)),
        Err(e) => match (first_page, starved) {
            (Some(page), _) => Ok(noted(page)),
            (None, Some(why)) => Err(TargetFailure::Crawler {
                reason: format!("{e}, but {why}: not the site's fault"),
            }),
            (None, None) => match e {
                RenderError::Site(why) => Err(TargetFailure::Unreachable(why)),
                RenderError::Refused { host, address } => {
                    Err(TargetFailure::AddressRefused { host, address })
                }
                RenderError::Crawler(e) => Err(TargetFailure::Crawler {
                    reason: e.to_string(),
                }),
            },
        },
    }
}

/// Whether a render ended the way a starved worker makes renders end: a
/// page script that never answered, or a page still changing when its
/// budget ran out. (A document that never arrived is the network's, not
/// the CPU's: a timeout before the commit is the site's.)
fn spoiled_by_load(result: &Result<Rendered, RenderError>) -> bool {
    match result {
        Ok(rendered) => rendered.snapshot.unsettled.is_some(),
        Err(RenderError::Site(why)) => {
            matches!(
                why,
                Unreachable::ScriptHung | Unreachable::StillLoading { .. }
            )
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Targets as `expand` makes them: each host on desktop, then on the phone.
    fn targets(hosts: &[&str]) -> Vec<Target> {
        hosts
            .iter()
            .flat_map(|host| {
                Device::ALL.map(|device| Target {
                    host: (*host).to_owned(),
                    device,
                })
            })
            .collect()
    }

    /// A lane as `host:shared host` strings (`host` alone: renders its own page).
    fn named(targets: &[Target], lane: &[Step]) -> Vec<String> {
        lane.iter()
            .map(|&(i, leader)| match leader {
                Some(l) => format!("{}:{}", targets[i].host, targets[l].host),
                None => targets[i].host.clone(),
            })
            .collect()
    }

    /// A rendered page titled `title`, unsettled when `unsettled` says why.
    fn rendered(title: &str, unsettled: Option<&str>) -> Rendered {
        Rendered {
            snapshot: PageSnapshot {
                title: title.to_owned(),
                unsettled: unsettled.map(str::to_owned),
                ..PageSnapshot::default()
            },
            screenshot: None,
        }
    }

    fn hung() -> Result<Rendered, RenderError> {
        Err(RenderError::Site(Unreachable::ScriptHung))
    }

    /// What a starved target reports, as `title: unsettled` or the failure.
    fn outcome(result: Result<(PageSnapshot, Option<Vec<u8>>), TargetFailure>) -> String {
        match result {
            Ok((page, _)) => format!("{}: {}", page.title, page.unsettled.unwrap_or_default()),
            Err(TargetFailure::Unreachable(why)) => format!("site: {why}"),
            Err(TargetFailure::Crawler { reason }) => format!("ours: {reason}"),
            Err(other) => format!("{other}"),
        }
    }

    #[rstest]
    // The retry read the page: its page, noting the first attempt's starvation.
    #[case::retry_reads(
        Ok(rendered("retry", Some("busy"))), None, Some((None, "starved 1")),
        "retry: busy; starved 1"
    )]
    // The retry, alone, hung too without being starved: the site's.
    #[case::retry_hangs_unstarved(hung(), None, Some((None, "starved 1")), "site: a page script never yields")]
    // Starved again and hung: ours.
    #[case::retry_hangs_starved(
        hung(), Some("starved 2"), Some((None, "starved 1")),
        "ours: a page script never yields, but starved 2: not the site's fault"
    )]
    // The first attempt read a page: never thrown away for a failed retry.
    #[case::first_page_kept(
        hung(), Some("starved 2"), Some((Some(rendered("first", Some("busy"))), "starved 1")),
        "first: busy; starved 2"
    )]
    // No room for a retry: the only attempt, starved, is ours.
    #[case::no_room(
        hung(),
        Some("starved 1"),
        None,
        "ours: a page script never yields, but starved 1: not the site's fault"
    )]
    fn a_starved_target_is_never_the_sites_fault(
        #[case] result: Result<Rendered, RenderError>,
        #[case] starved: Option<&str>,
        #[case] first: Option<(Option<Rendered>, &str)>,
        #[case] expected: &str,
    ) {
        let first = first.map(|(page, why)| (page, why.to_owned()));
        let got = settle_starved(result, starved.map(str::to_owned), first);
        assert_eq!(outcome(got), expected);
    }

    #[rstest]
    #[case::apex_after_its_www(&["a.cn", "www.a.cn"], &["www.a.cn", "a.cn:www.a.cn"])]
    #[case::extra_host_after(
        &["a.cn", "www.a.cn", "m.a.cn"],
        &["www.a.cn", "a.cn:www.a.cn", "m.a.cn"]
    )]
    #[case::extra_www_host_of_an_extra_host(
        &["a.cn", "www.a.cn", "shop.a.cn", "www.shop.a.cn"],
        &["www.a.cn", "a.cn:www.a.cn", "www.shop.a.cn", "shop.a.cn:www.shop.a.cn"]
    )]
    // www.a.cn shares www.www.a.cn's page, so a.cn cannot share www.a.cn's:
    // it renders its own, and no target is left out.
    #[case::shares_are_one_deep(
        &["a.cn", "www.a.cn", "www.www.a.cn"],
        &["a.cn", "www.www.a.cn", "www.a.cn:www.www.a.cn"]
    )]
    fn lanes_render_every_target_once_each_www_before_its_apex(
        #[case] hosts: &[&str],
        #[case] lane: &[&str],
    ) {
        let targets = targets(hosts);
        let [desktop, phone] = lanes(&targets);
        assert_eq!(named(&targets, &desktop), lane);
        assert_eq!(named(&targets, &phone), lane);
        assert!(desktop
            .iter()
            .all(|&(i, _)| targets[i].device == Device::Desktop));
        assert!(phone
            .iter()
            .all(|&(i, _)| targets[i].device == Device::Mobile));
    }
}
