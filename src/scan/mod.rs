//! The scan: records → targets → visits → judgement → lines.
//!
//! - this module, the run loop: the input read ahead on a thread,
//!   `buffer_unordered` bounding the records in flight (and so the pages
//!   open at once), and the single loop at the end that owns judging and
//!   writing, so output lines never interleave; signals and `--grace`;
//! - [`pages`]: the pages open at once, and when a record may open a second;
//! - `level`: how many pages that is, adapted while the scan runs;
//! - `record`: one record's targets, pre-checked by the guard and visited
//!   in lanes (desktop, phone) in one tab or two;
//! - `visit`: one target, end to end (guard verdict, per-site cap, scheme
//!   fallback, an error status, a shared render, evidence);
//! - `retry`: every retry of a render, and nothing else.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

mod level;
pub mod pages;
mod record;
mod retry;
mod visit;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::browser::{BrowserError, BrowserPool};
use crate::config::ScanConfig;
use crate::error::Error;
use crate::exit::{ExitStatus, ExitTally};
use crate::guard;
use crate::input::shard::Shard;
use crate::input::{read_records, InputError, InputSource, RecordResult};
use crate::judge::{Judge, JudgedRecord, RecordOutcome, ScanIndex};
use crate::output::evidence;
use crate::output::resume::DoneSet;
use crate::output::summary::{Summary, SummaryOptions};
use crate::output::{NdjsonWriter, RecordReport};
use crate::starvation::Starvation;
use crate::throttle::Throttle;
use pages::PageLimit;
use record::scan_record;

/// Shared, read-only state of one scan.
struct Ctx {
    config: ScanConfig,
    pool: BrowserPool,
    /// `--rate` and the per-site cap.
    throttle: Throttle,
    /// The pages open at once (at most `--concurrency`): one a record, a
    /// second one when spare.
    pages: Arc<PageLimit>,
    /// Targets done so far, for the page level.
    finished: Arc<AtomicU64>,
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
    let concurrency = config.concurrency;
    let start = level::start_level(config.cpus, concurrency);
    tracing::info!(
        browsers = config.browsers,
        concurrency,
        pages = start,
        chrome = %config.chrome.executable.display(),
        "scan started"
    );
    let ctx = Arc::new(Ctx {
        throttle: Throttle::new(config.rate),
        pages: Arc::new(PageLimit::new(start)),
        finished: Arc::new(AtomicU64::new(0)),
        starvation: Starvation::start(),
        retry_room: tokio::sync::Semaphore::new(1),
        config,
        pool,
    });
    let leveller = start_leveller(&ctx, start, &tally).await;
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
                        Ok(Box::pin(scan_record(&ctx, record, page)).await)
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
            None => judge.insert(ready_judge(&mut index_task, &mut tally, &ctx.config).await),
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
    shut_down(ctx, [reader, leveller]).await;
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

/// Stop the scan's helper `tasks` and close its browsers.
async fn shut_down(ctx: Arc<Ctx>, tasks: [tokio::task::JoinHandle<()>; 2]) {
    for task in tasks {
        task.abort();
    }
    if let Ok(ctx) = Arc::try_unwrap(ctx) {
        ctx.pool.close().await;
    } else {
        tracing::warn!("browser pool still shared at exit; browsers are killed on drop");
    }
}

/// Start adapting the page level from `start` (see `level`), the
/// browsers' memory at rest being the base a page's cost is measured over.
async fn start_leveller(
    ctx: &Arc<Ctx>,
    start: usize,
    tally: &Summary,
) -> tokio::task::JoinHandle<()> {
    let base_memory = tokio::task::spawn_blocking(crate::load::memory)
        .await
        .ok()
        .flatten()
        .map(|m| m.used);
    tokio::spawn(level::run(
        Arc::clone(&ctx.pages),
        level::Controller::new(start, ctx.config.concurrency, base_memory),
        Arc::clone(&ctx.finished),
        ctx.starvation.clone(),
        tally.pages_shown(),
    ))
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
async fn ready_judge(
    index_task: &mut Option<IndexTask>,
    tally: &mut Summary,
    config: &ScanConfig,
) -> Judge {
    let index = match index_task.take() {
        Some(task) => task.await,
        None => Ok(Ok((ScanIndex::default(), None))),
    };
    let index = match index {
        Ok(Ok((index, total))) => {
            tally.set_total(total);
            index
        }
        // The file was readable a moment ago; without the index only the
        // cross-record rules lose what other records would have told them.
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot pre-read the input; judging records alone");
            ScanIndex::default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "input pre-read failed; judging records alone");
            ScanIndex::default()
        }
    };
    Judge::new(index).with_provider_ranges(config.provider_ranges.clone())
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
    Ok(BrowserPool::launch(
        config.chrome.clone(),
        config.browsers,
        proxy,
        config.recycle,
    )
    .await?)
}
