//! One target's visit, end to end: the guard's verdict, the per-site cap,
//! the scheme fallback of `--scheme auto`, the render (its retries are
//! `retry`'s), what an error status makes of the page, a shared render
//! (an apex that redirects to the page its `www.` landed on), and the
//! `--evidence` picture.

use std::time::{Duration, Instant};

use super::{retry, Ctx};
use crate::browser::Tab;
use crate::fault;
use crate::output::evidence;
use crate::page::{same_url, PageSnapshot, TargetFailure, Unreachable};
use crate::rules::{registrable_domain, TargetOutcome};
use crate::targets::Target;

/// A rendered page another target of the same device may share (see
/// `record::lanes`).
pub(super) struct Landing {
    /// The target URL that was rendered.
    from: String,
    /// What it showed.
    page: PageSnapshot,
    /// Its `--evidence` picture, when taken.
    screenshot: Option<Vec<u8>>,
}

/// One target's visit, with everything it needs.
pub(super) struct Visit<'a> {
    /// The scan.
    pub(super) ctx: &'a Ctx,
    /// The record's input line (names its `--evidence` files).
    pub(super) line: u64,
    /// The host and device.
    pub(super) target: Target,
    /// The guard's refusal of the host, when the pre-check refused it: the
    /// visit ends there.
    pub(super) refused: Option<TargetFailure>,
    /// The page another target of the same device landed on, which this
    /// one may share (an apex redirecting to its `www.`).
    pub(super) join: Option<&'a Landing>,
}

impl Visit<'_> {
    /// Visit the target in `tab`: the guard's verdict, the per-site cap,
    /// the scheme fallback, the render (with its retries, see `retry`),
    /// what an error status means, the evidence. Returns the outcome, and
    /// the page it rendered for others to share.
    pub(super) async fn run(self, tab: &mut Tab<'_>) -> (TargetOutcome, Option<Landing>) {
        let Visit {
            ctx,
            line,
            target,
            refused,
            join,
        } = self;
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
                _ => {
                    let join_at = join.map(|j| j.page.final_url.as_str());
                    retry::render(ctx, tab, &target, &url, join_at).await
                }
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
                    if let Some(why) = fault::http_status(page.status) {
                        (Err(TargetFailure::Unreachable(why)), Some(page))
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
