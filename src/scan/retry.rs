//! Retries, all of them and only here, around one render of one URL:
//!
//! - a renderer crash: once, with what the crash left of the target's
//!   budget (at least [`MIN_RETRY_BUDGET`]);
//! - a crawler failure (ours, not the site's): up to [`CRAWLER_RETRIES`]
//!   times with backoff, on a browser the pool may have replaced meanwhile;
//! - a render the worker's own starvation spoiled (see
//!   [`crate::starvation`]): once, with a fresh budget, when the machine
//!   has room.
//!
//! The https → http fallback of `--scheme auto` is not a retry: it opens
//! another URL, and `visit` decides it.

use std::time::Duration;

use tokio::time::Instant;

use super::Ctx;
use crate::browser::{RenderError, RenderOptions, Rendered, Tab};
use crate::page::{PageSnapshot, TargetFailure, Unreachable};
use crate::targets::Target;

/// How often a crawler failure is retried on a (possibly new) browser.
const CRAWLER_RETRIES: u32 = 2;
/// A renderer crash is retried once when at least this much budget is left.
const MIN_RETRY_BUDGET: Duration = Duration::from_secs(1);

/// Render `url` as `target` in `tab`, with every retry (see the module
/// doc); with `join_at`, a navigation that reaches that URL stops there
/// (see [`RenderOptions::join_at`]). With `--evidence`, the page's bottom
/// is captured too.
pub(super) async fn render(
    ctx: &Ctx,
    tab: &mut Tab<'_>,
    target: &Target,
    url: &str,
    join_at: Option<&str>,
) -> Result<(PageSnapshot, Option<Vec<u8>>), TargetFailure> {
    let mut attempt = 0;
    let options = RenderOptions {
        screenshot_bottom: ctx.config.evidence.is_some(),
        navigate_gate: ctx.throttle.rate_limiter(),
        join_at: join_at.map(str::to_owned),
    };
    let budget = ctx.config.timeout;
    loop {
        let before = ctx.starvation.mark();
        let result = render_once(tab, target, url, budget, &options).await;
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
            let retried = render_once(tab, target, url, budget, &options).await;
            let again = spoiled_by_load(&retried)
                .then(|| ctx.starvation.since(before))
                .flatten();
            return settle_starved(retried, again, Some((result.ok(), why)));
        }
        match result {
            Ok(rendered) => return Ok((rendered.snapshot, rendered.screenshot)),
            Err(RenderError::Crawler(e)) if attempt < CRAWLER_RETRIES => {
                attempt += 1;
                tracing::warn!(%url, error = %e, attempt, "crawler error; retrying");
                tokio::time::sleep(Duration::from_millis(250 * 4u64.pow(attempt - 1))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// One render within `budget`, and once more with what is left of it when
/// the renderer crashed (and at least [`MIN_RETRY_BUDGET`] is). The retry
/// had only what the crash left: if that ran out too, the crash is why
/// (SPEC §2), not the clock.
async fn render_once(
    tab: &mut Tab<'_>,
    target: &Target,
    url: &str,
    budget: Duration,
    options: &RenderOptions,
) -> Result<Rendered, RenderError> {
    let end = Instant::now() + budget;
    let first = tab.render(target, url, budget, options.clone()).await;
    let left = end.saturating_duration_since(Instant::now());
    match first {
        Err(RenderError::Site(Unreachable::RendererCrashed)) if left >= MIN_RETRY_BUDGET => {
            tracing::debug!(url, "renderer crashed; retrying once");
            match tab.render(target, url, left, options.clone()).await {
                Err(RenderError::Site(
                    Unreachable::Timeout { .. }
                    | Unreachable::ScriptHung
                    | Unreachable::StillLoading { .. },
                )) => Err(RenderError::Site(Unreachable::RendererCrashed)),
                other => other,
            }
        }
        other => other,
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
            (None, None) => Err(e.into()),
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
}
