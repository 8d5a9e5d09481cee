//! Reading a page's facts: extract.js in an isolated world of the top
//! document and of every frame a visitor sees (placed in the top page, at
//! most [`MAX_FRAMES`]), and why a reading failed.

use chromiumoxide::cdp::browser_protocol::dom::{GetFrameOwnerParams, ResolveNodeParams};
use chromiumoxide::cdp::browser_protocol::page::{
    CreateIsolatedWorldParams, FrameId, FrameTree, GetFrameTreeParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    CallFunctionOnParams, EvaluateParams, ExecutionContextId, TimeDelta,
};
use chromiumoxide::Page;
use serde::Deserialize;
use tokio::time::Instant;

use super::cdp::{command, evaluate, CommandError, EvalError};
use super::BrowserError;
use crate::page::{PageLink, TextBlock};

/// The in-page extraction function (see extract.js), called on a frame's
/// owner element to place the frame.
const EXTRACT_FN: &str = include_str!("extract.js");
/// The extraction of a whole document, evaluated in an isolated world.
///
/// It waits for the document to be parsed first (1 s at most): a page that
/// navigated again at the end of the settle budget (a refresh loop) would
/// otherwise be read half-parsed, its footer not yet there.
const EXTRACT_JS: &str = concat!(
    "new Promise((parsed) => { if (document.readyState !== 'loading') { parsed(); return; } \
     document.addEventListener('DOMContentLoaded', () => parsed(), { once: true }); \
     setTimeout(parsed, 1000); }).then(() => (",
    include_str!("extract.js"),
    ").call(null))"
);
/// Name of the isolated world extract.js runs in.
const WORLD_NAME: &str = "beian-audit";

/// The facts extract.js returns.
#[derive(Debug, Deserialize)]
pub(super) struct Extracted {
    pub(super) title: String,
    /// The visible `h1`/`h2` texts, frames' after the page's own.
    #[serde(default)]
    pub(super) headings: Vec<String>,
    pub(super) url: String,
    pub(super) empty: bool,
    #[serde(default)]
    pub(super) status: Option<u16>,
    pub(super) blocks: Vec<TextBlock>,
    pub(super) links: Vec<PageLink>,
}

/// Where a frame's owner element sits in its parent document (extract.js
/// called on it).
#[derive(Debug, Deserialize)]
struct Placement {
    width: f64,
    height: f64,
    visible: bool,
    in_footer: bool,
    view_width: f64,
    view_height: f64,
}

impl Placement {
    /// A frame that fills its parent's window (a frameset's one frame, a
    /// full-window iframe): its own document decides what is at the bottom.
    fn fills_window(&self) -> bool {
        self.width >= self.view_width * 0.9 && self.height >= self.view_height * 0.9
    }
}

pub(super) enum ExtractError {
    /// The page never answered: its main thread is stuck.
    Hung,
    /// The world vanished (a navigation); worth one more try.
    Retry(String),
    /// Our own failure.
    Failed(BrowserError),
}

/// Frames read at most, and how deep: the footer's widget or a 隐性转发
/// frameset are one or two; ads and trackers beyond these add nothing.
const MAX_FRAMES: usize = 16;
/// Frames looked at (placed) at most, seen or not: hundreds of hidden
/// tracking frames must not eat the extraction's time.
const MAX_PLACED_FRAMES: usize = 64;
const MAX_FRAME_DEPTH: usize = 3;

/// The facts of the page: the top document's, and those of every frame a
/// visitor sees, placed in the top page (each text and link names the
/// frame it came from). A frame that cannot be read is left out (logged):
/// the top document decides whether the render succeeded.
pub(super) async fn extract_page(
    page: &Page,
    main_frame: &FrameId,
    world: Option<ExecutionContextId>,
    end: Instant,
) -> Result<Extracted, ExtractError> {
    let (mut top, top_context) = extract(page, main_frame, world, end).await?;
    let tree = match command(page, GetFrameTreeParams::default(), end).await {
        Ok(reply) => reply.frame_tree,
        Err(e) => {
            tracing::debug!(error = ?e, "no frame tree; reading the top document only");
            return Ok(top);
        }
    };
    // (frame tree node, its parent's isolated world, whether its texts are
    // at the bottom whatever its own document says, depth)
    let mut queue: Vec<(FrameTree, ExecutionContextId, Option<bool>, usize)> = tree
        .child_frames
        .unwrap_or_default()
        .into_iter()
        .map(|child| (child, top_context, None, 1))
        .collect();
    let mut read = 0;
    let mut placed = 0;
    while let Some((node, parent_context, footer_override, depth)) = queue.pop() {
        if read >= MAX_FRAMES || placed >= MAX_PLACED_FRAMES || Instant::now() >= end {
            break;
        }
        placed += 1;
        let frame_id = node.frame.id.clone();
        let frame_url = node.frame.url.clone();
        let Some(placement) = place_frame(page, &frame_id, parent_context, end).await else {
            continue;
        };
        if !placement.visible {
            continue;
        }
        // In a frame that fills the window, the frame's own document says
        // what is at its bottom; in a smaller one, where the frame sits does.
        let in_footer = if placement.fills_window() {
            footer_override
        } else {
            Some(footer_override.unwrap_or(placement.in_footer))
        };
        read += 1;
        let Ok((facts, context)) = extract(page, &frame_id, None, end).await else {
            tracing::debug!(frame = %frame_url, "frame not read");
            continue;
        };
        for mut block in facts.blocks {
            block.frame = Some(frame_url.clone());
            for segment in &mut block.segments {
                if let Some(footer) = in_footer {
                    segment.in_footer = footer;
                }
            }
            top.blocks.push(block);
        }
        for mut link in facts.links {
            link.frame = Some(frame_url.clone());
            if let Some(footer) = in_footer {
                link.in_footer = footer;
            }
            top.links.push(link);
        }
        top.headings.extend(facts.headings);
        top.empty &= facts.empty;
        if depth < MAX_FRAME_DEPTH {
            for child in node.child_frames.unwrap_or_default() {
                queue.push((child, context, in_footer, depth + 1));
            }
        }
    }
    Ok(top)
}

/// Where `frame`'s owner element sits in its parent document (whose
/// isolated world is `parent_context`), or `None` when it cannot be told.
async fn place_frame(
    page: &Page,
    frame: &FrameId,
    parent_context: ExecutionContextId,
    end: Instant,
) -> Option<Placement> {
    let owner = command(page, GetFrameOwnerParams::new(frame.clone()), end)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "frame owner unknown"))
        .ok()?;
    let resolve = ResolveNodeParams {
        backend_node_id: Some(owner.backend_node_id),
        execution_context_id: Some(parent_context),
        ..ResolveNodeParams::default()
    };
    let object = command(page, resolve, end)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "frame owner not resolved"))
        .ok()?
        .object
        .object_id?;
    let mut call = CallFunctionOnParams::new(EXTRACT_FN);
    call.object_id = Some(object);
    call.return_by_value = Some(true);
    call.silent = Some(true);
    let reply = command(page, call, end)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "frame owner not placed"))
        .ok()?;
    if reply.exception_details.is_some() {
        return None;
    }
    serde_json::from_value(reply.result.value?).ok()
}

/// A fresh isolated world in `frame` (see extract.js).
pub(super) async fn isolated_world(
    page: &Page,
    frame: &FrameId,
    end: Instant,
) -> Result<ExecutionContextId, ExtractError> {
    let mut world = CreateIsolatedWorldParams::new(frame.clone());
    world.world_name = Some(WORLD_NAME.to_owned());
    match command(page, world, end).await {
        Ok(reply) => Ok(reply.execution_context_id),
        Err(CommandError::Timeout) => Err(ExtractError::Hung),
        Err(CommandError::Cdp(e)) => Err(ExtractError::Retry(e)),
    }
}

/// One document's facts (extract.js in an isolated world of `frame`:
/// `world`, or a new one), and that world.
async fn extract(
    page: &Page,
    frame: &FrameId,
    world: Option<ExecutionContextId>,
    end: Instant,
) -> Result<(Extracted, ExecutionContextId), ExtractError> {
    let context = match world {
        Some(context) => context,
        None => isolated_world(page, frame, end).await?,
    };
    let mut params = EvaluateParams::new(EXTRACT_JS);
    params.context_id = Some(context);
    params.await_promise = Some(true);
    let left = end.saturating_duration_since(Instant::now());
    params.timeout = Some(TimeDelta::new(left.as_secs_f64() * 1000.0));
    let value = match evaluate(page, params, end).await {
        Ok(value) => value,
        Err(EvalError::Timeout) => return Err(ExtractError::Hung),
        // Runtime.evaluate's own `timeout` stopped extract.js: the page
        // left it no time (a renderer pegged by the site's scripts).
        Err(EvalError::Exception(e)) if e.contains("terminated") => return Err(ExtractError::Hung),
        Err(EvalError::Cdp(e)) if e.contains("context") => return Err(ExtractError::Retry(e)),
        Err(EvalError::Cdp(e) | EvalError::Exception(e)) => {
            return Err(ExtractError::Failed(BrowserError::protocol(
                "extract.js",
                e,
            )))
        }
    };
    let facts = serde_json::from_value(value)
        .map_err(|e| ExtractError::Failed(BrowserError::protocol("extract.js result", e)))?;
    Ok((facts, context))
}
