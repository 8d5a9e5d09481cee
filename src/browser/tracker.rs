//! What a page's `DevTools` events say about its main frame.
//!
//! One pump task per render feeds every event the render listens to into a
//! [`Tracker`] behind a `watch` channel: the main document's requests,
//! redirect hops, status and failure, its commit and load, the requests in
//! flight that hold settling back, a renderer crash. It also answers
//! JavaScript dialogs. `render` reads the tracker; nothing here waits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::fetch::{
    ContinueRequestParams, EventRequestPaused, FailRequestParams,
};
use chromiumoxide::cdp::browser_protocol::inspector::EventTargetCrashed;
use chromiumoxide::cdp::browser_protocol::network::{
    ErrorReason, EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent,
    EventResponseReceived, ResourceType, Response,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameNavigated, EventJavascriptDialogOpening, EventLifecycleEvent, FrameId,
    HandleJavaScriptDialogParams,
};
use chromiumoxide::Page;
use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::cdp::timed;
use super::{BrowserError, RenderError};
use crate::fault::{classify, http_status, DocumentOutcome};
use crate::page::{same_url, PageSnapshot, Unreachable};

/// No main-frame request for this long after the last one ended: network quiet.
const NETWORK_QUIET: Duration = Duration::from_millis(300);
/// A request in flight longer than this is a long poll or a stream; it no
/// longer holds the settle wait.
const LONG_REQUEST: Duration = Duration::from_secs(3);
/// Redirect hops reported at most (a refresh loop makes hundreds).
const MAX_REDIRECTS: usize = 32;

// ---------------------------------------------------------------------------
// Events

/// The CDP events a render listens to, merged into one stream.
#[derive(Debug)]
pub(super) enum PageEvent {
    Request(Arc<EventRequestWillBeSent>),
    Response(Arc<EventResponseReceived>),
    Finished(Arc<EventLoadingFinished>),
    Failed(Arc<EventLoadingFailed>),
    Navigated(Arc<EventFrameNavigated>),
    Lifecycle(Arc<EventLifecycleEvent>),
    Dialog(Arc<EventJavascriptDialogOpening>),
    /// A request `Fetch.enable` paused: one of the resource types a render
    /// never loads, or the document of a page to join (see
    /// `guard_view::pause_requests`).
    Paused(Arc<EventRequestPaused>),
    Crashed,
}

pub(super) async fn subscribe(
    page: &Page,
    end: Instant,
) -> Result<BoxStream<'static, PageEvent>, RenderError> {
    let failed =
        |e: &dyn std::fmt::Display| RenderError::from(BrowserError::protocol("event listener", e));
    macro_rules! listen {
        ($event:ty, $map:expr) => {
            match timed(page.event_listener::<$event>(), end).await {
                Some(Ok(stream)) => stream.map($map).boxed(),
                Some(Err(e)) => return Err(failed(&e)),
                None => return Err(failed(&"timed out")),
            }
        };
    }
    let streams = vec![
        listen!(EventRequestWillBeSent, PageEvent::Request),
        listen!(EventResponseReceived, PageEvent::Response),
        listen!(EventLoadingFinished, PageEvent::Finished),
        listen!(EventLoadingFailed, PageEvent::Failed),
        listen!(EventFrameNavigated, PageEvent::Navigated),
        listen!(EventLifecycleEvent, PageEvent::Lifecycle),
        listen!(EventJavascriptDialogOpening, PageEvent::Dialog),
        listen!(EventRequestPaused, PageEvent::Paused),
        listen!(EventTargetCrashed, |_| PageEvent::Crashed),
    ];
    Ok(futures::stream::select_all(streams).boxed())
}

/// Feed events into the tracker; answer dialogs so alert/confirm/
/// beforeunload never stall the page.
pub(super) async fn pump(
    page: Page,
    mut events: BoxStream<'static, PageEvent>,
    tx: Arc<watch::Sender<Tracker>>,
) {
    while let Some(first) = events.next().await {
        // Each event type has its own channel, so their order is lost;
        // applying everything already queued as one batch keeps a response
        // and the failure right after it together.
        let mut batch = vec![first];
        while batch.len() < 512 {
            match events.next().now_or_never() {
                Some(Some(event)) => batch.push(event),
                _ => break,
            }
        }
        for event in &batch {
            match event {
                PageEvent::Dialog(dialog) => {
                    tracing::debug!(kind = ?dialog.r#type, "answering a JavaScript dialog");
                    let page = page.clone();
                    tokio::spawn(async move {
                        let answer = page.execute(HandleJavaScriptDialogParams::new(true));
                        let _ = tokio::time::timeout(Duration::from_secs(5), answer).await;
                    });
                }
                // Fire and forget: the page cannot wait on a reply it never
                // sees, and a lost one only leaves an image unloaded. A paused
                // document is the page to join: the render stops there.
                PageEvent::Paused(paused) => {
                    let id = paused.request_id.clone();
                    let page = page.clone();
                    let answer = if paused.resource_type != ResourceType::Document {
                        Err(FailRequestParams::new(id, ErrorReason::BlockedByClient))
                    } else if tx.borrow().is_main(Some(&paused.frame_id)) {
                        Err(FailRequestParams::new(id, ErrorReason::Aborted))
                    } else {
                        // A frame showing that page is not the page itself.
                        Ok(ContinueRequestParams::new(id))
                    };
                    tokio::spawn(async move {
                        let wait = Duration::from_secs(5);
                        let _ = match answer {
                            Err(fail) => tokio::time::timeout(wait, page.execute(fail))
                                .await
                                .map(drop),
                            Ok(go) => tokio::time::timeout(wait, page.execute(go)).await.map(drop),
                        };
                    });
                }
                _ => {}
            }
        }
        let batch = starts_first(batch, PageEvent::request);
        let now = Instant::now();
        tx.send_modify(|t| {
            for event in &batch {
                t.apply(event, now);
            }
        });
    }
}

/// Where an event stands in its request's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `requestWillBeSent` (a redirect hop's too).
    Start,
    /// What Chromium sends only after the start: the response, the end
    /// (`loadingFinished`, `loadingFailed`), and for a document the
    /// commit (`frameNavigated`, whose loader id is its request's id).
    After,
}

impl PageEvent {
    /// The request this event is about, and where it stands in its life.
    fn request(&self) -> Option<(&str, Phase)> {
        match self {
            PageEvent::Request(ev) => Some((ev.request_id.as_ref(), Phase::Start)),
            PageEvent::Response(ev) => Some((ev.request_id.as_ref(), Phase::After)),
            PageEvent::Finished(ev) => Some((ev.request_id.as_ref(), Phase::After)),
            PageEvent::Failed(ev) => Some((ev.request_id.as_ref(), Phase::After)),
            PageEvent::Navigated(ev) => Some((ev.frame.loader_id.as_ref(), Phase::After)),
            _ => None,
        }
    }
}

/// `batch` with each request's start moved before the first event that
/// Chromium sends only after it (see [`Phase::After`]) where it came
/// later, and nothing else moved.
///
/// Each event type arrives on a channel of its own and the pump merges
/// them as they are ready, so a request served from the memory cache, whose
/// `requestWillBeSent` and `loadingFinished` Chromium sends back to back,
/// can come out end first. Its start then counted as in flight until
/// [`LONG_REQUEST`] and held the page's settling 3 s (a stylesheet of a
/// reused page, about twice a run of the 40-site benchmark), and a
/// document's response or commit before its start was lost or taken for
/// the last render's. Chromium sends a request's start first, and an event
/// sent before one already taken is already queued, so the start is in the
/// same batch.
fn starts_first<T>(batch: Vec<T>, request: impl Fn(&T) -> Option<(&str, Phase)>) -> Vec<T> {
    let mut late_starts: HashMap<String, Vec<usize>> = HashMap::new();
    {
        let mut ended: HashSet<&str> = HashSet::new();
        for (i, event) in batch.iter().enumerate() {
            match request(event) {
                Some((id, Phase::After)) => {
                    ended.insert(id);
                }
                Some((id, Phase::Start)) if ended.contains(id) => {
                    late_starts.entry(id.to_owned()).or_default().push(i);
                }
                _ => {}
            }
        }
    }
    if late_starts.is_empty() {
        return batch;
    }
    let mut slots: Vec<Option<T>> = batch.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(slots.len());
    for i in 0..slots.len() {
        let Some(event) = slots[i].take() else {
            continue;
        };
        let starts = match request(&event) {
            Some((id, Phase::After)) => late_starts.remove(id).unwrap_or_default(),
            _ => Vec::new(),
        };
        ordered.extend(starts.into_iter().filter_map(|j| slots[j].take()));
        ordered.push(event);
    }
    ordered
}

// ---------------------------------------------------------------------------
// The tracker: what the events said about the main frame.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NavState {
    Pending,
    Committed,
    /// Failed, but the facts that name the failure may still be on the way.
    ErrorPage,
    Failed,
    Crashed,
}

/// One main-frame document request and its HTTP redirect hops.
#[derive(Debug, Default)]
pub(super) struct DocRequest {
    id: String,
    pub(super) url: String,
    /// `(url, address)` of every hop that answered with a redirect.
    hops: Vec<(String, Option<String>)>,
    status: Option<u16>,
    address: Option<String>,
    download: bool,
    error: Option<String>,
    finished: bool,
    /// Its size: as its `Content-Length` declares, then as received (as
    /// sent, compressed or not) once finished.
    bytes: Option<u64>,
}

#[derive(Debug)]
struct Commit {
    loader: String,
    error_page: bool,
}

#[derive(Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts from independent events, not states of one machine"
)]
pub(super) struct Tracker {
    main_frame: String,
    /// The main frame's request for the page to join was paused.
    pub(super) join_paused: bool,
    pub(super) docs: Vec<DocRequest>,
    committed: Option<Commit>,
    loads: HashSet<String>,
    loaded_at: Option<Instant>,
    in_flight: HashMap<String, Instant>,
    /// Requests whose end came before their start (a batch boundary fell
    /// between them, see [`starts_first`]): their start is not in flight.
    ended_unstarted: HashSet<String>,
    last_network_end: Option<Instant>,
    nav_error: Option<String>,
    nav_download: bool,
    pub(super) crashed: bool,
    /// On a page rendered before, the URL this render navigates to, until
    /// its document request is seen: the main frame's requests and commits
    /// before that belong to the last render's document (a late timer or
    /// refresh of it) and are not this render's.
    awaiting: Option<String>,
    /// The latest commit passed over while awaiting; taken as this
    /// render's if `Page.navigate` answers first (its request's event was
    /// lost).
    passed_over: Option<Commit>,
    /// chromiumoxide answered this render's `Page.navigate`. It answers
    /// only once its own watch of the navigation is over, and holds the
    /// page's next `Page.navigate` back until then (or 30 s): a page whose
    /// navigation it still watches cannot take another render in time.
    pub(super) navigate_replied: bool,
}

impl Tracker {
    /// A tracker for a render whose navigation goes to `url`, on a page
    /// that showed an earlier render's document when `reused`.
    pub(super) fn new(main_frame: String, url: &str, reused: bool) -> Self {
        Tracker {
            awaiting: reused.then(|| url.to_owned()),
            passed_over: None,
            navigate_replied: false,
            main_frame,
            join_paused: false,
            docs: Vec::new(),
            committed: None,
            loads: HashSet::new(),
            loaded_at: None,
            in_flight: HashMap::new(),
            ended_unstarted: HashSet::new(),
            last_network_end: None,
            nav_error: None,
            nav_download: false,
            crashed: false,
        }
    }

    fn is_main(&self, frame: Option<&FrameId>) -> bool {
        frame.is_some_and(|f| f.as_ref() == self.main_frame)
    }

    fn doc_mut(&mut self, id: &str) -> Option<&mut DocRequest> {
        self.docs.iter_mut().rev().find(|d| d.id == id)
    }

    fn apply(&mut self, event: &PageEvent, now: Instant) {
        match event {
            PageEvent::Request(ev) => self.on_request(ev, now),
            PageEvent::Response(ev) => {
                if ev.r#type == ResourceType::Document && self.is_main(ev.frame_id.as_ref()) {
                    if let Some(doc) = self.doc_mut(ev.request_id.as_ref()) {
                        record_response(doc, &ev.response);
                    }
                }
            }
            PageEvent::Finished(ev) => {
                self.request_ended(ev.request_id.as_ref(), now);
                if let Some(doc) = self.doc_mut(ev.request_id.as_ref()) {
                    doc.finished = true;
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "a byte count Chromium reports as a double"
                    )]
                    {
                        doc.bytes = Some(ev.encoded_data_length.max(0.0) as u64);
                    }
                }
            }
            PageEvent::Failed(ev) => {
                self.request_ended(ev.request_id.as_ref(), now);
                if let Some(doc) = self.doc_mut(ev.request_id.as_ref()) {
                    doc.error = Some(ev.error_text.clone());
                }
            }
            PageEvent::Navigated(ev) => {
                let frame = &ev.frame;
                if frame.parent_id.is_none() && frame.id.as_ref() == self.main_frame {
                    let error_page =
                        frame.unreachable_url.is_some() || frame.url.starts_with("chrome-error://");
                    let commit = Commit {
                        loader: frame.loader_id.as_ref().to_owned(),
                        error_page,
                    };
                    let unreachable = frame.unreachable_url.as_deref();
                    if let Some(commit) = self.admit_commit(&frame.url, unreachable, commit) {
                        tracing::debug!(url = %frame.url, error_page, "main frame committed");
                        self.take_commit(commit, now);
                    }
                }
            }
            PageEvent::Lifecycle(ev) => {
                if ev.name == "load" && ev.frame_id.as_ref() == self.main_frame {
                    self.loads.insert(ev.loader_id.as_ref().to_owned());
                    self.note_load(now);
                }
            }
            PageEvent::Crashed => self.crashed = true,
            PageEvent::Paused(paused) => {
                if paused.resource_type == ResourceType::Document
                    && self.is_main(Some(&paused.frame_id))
                {
                    self.join_paused = true;
                }
            }
            PageEvent::Dialog(_) => {}
        }
    }

    fn on_request(&mut self, ev: &EventRequestWillBeSent, now: Instant) {
        if !self.is_main(ev.frame_id.as_ref()) {
            return;
        }
        let kind = ev.r#type.as_ref();
        if !self.admits_request(kind == Some(&ResourceType::Document), &ev.request.url) {
            return;
        }
        let id = ev.request_id.as_ref();
        if matches!(
            kind,
            Some(
                ResourceType::Document
                    | ResourceType::Stylesheet
                    | ResourceType::Script
                    | ResourceType::Xhr
                    | ResourceType::Fetch
            )
        ) {
            // A redirect hop is a start too: a request that ended stays ended.
            if !self.ended_unstarted.contains(id) {
                self.in_flight.entry(id.to_owned()).or_insert(now);
            }
        }
        if kind != Some(&ResourceType::Document) {
            return;
        }
        if let Some(redirect) = &ev.redirect_response {
            if let Some(doc) = self.doc_mut(id) {
                let address = redirect.remote_ip_address.clone().filter(|a| !a.is_empty());
                doc.hops.push((redirect.url.clone(), address));
                doc.url.clone_from(&ev.request.url);
                return;
            }
        }
        if self.doc_mut(id).is_none() {
            self.docs.push(DocRequest {
                id: id.to_owned(),
                url: ev.request.url.clone(),
                ..DocRequest::default()
            });
        }
    }

    fn request_ended(&mut self, id: &str, now: Instant) {
        if self.in_flight.remove(id).is_some() {
            self.last_network_end = Some(now);
        } else {
            self.ended_unstarted.insert(id.to_owned());
        }
    }

    fn note_load(&mut self, now: Instant) {
        if self.loaded_at.is_none() && self.loaded() {
            self.loaded_at = Some(now);
        }
    }

    pub(super) fn on_navigate_reply(&mut self, error: Option<String>, download: Option<bool>) {
        self.navigate_replied = true;
        self.nav_error = error.filter(|e| !e.is_empty());
        self.nav_download = download.unwrap_or(false);
        // The navigation is over and its request was never seen: the last
        // commit passed over was its own.
        if self.awaiting.take().is_some() {
            if let Some(commit) = self.passed_over.take() {
                self.take_commit(commit, Instant::now());
            }
        }
    }

    /// The main frame now shows `commit`'s document.
    fn take_commit(&mut self, commit: Commit, now: Instant) {
        self.committed = Some(commit);
        self.loaded_at = None;
        self.note_load(now);
    }

    /// Whether a main-frame request counts for this render (see
    /// `awaiting`): the document request for the awaited URL ends the wait.
    fn admits_request(&mut self, document: bool, url: &str) -> bool {
        let Some(awaited) = &self.awaiting else {
            return true;
        };
        if document && same_url(url, awaited) {
            self.awaiting = None;
            return true;
        }
        false
    }

    /// `commit`, when it is this render's: any once the wait is over, else
    /// only one of the awaited URL (or its error page); others are kept
    /// aside in `passed_over`.
    fn admit_commit(
        &mut self,
        url: &str,
        unreachable: Option<&str>,
        commit: Commit,
    ) -> Option<Commit> {
        let Some(awaited) = &self.awaiting else {
            return Some(commit);
        };
        if same_url(url, awaited) || unreachable.is_some_and(|u| same_url(u, awaited)) {
            self.awaiting = None;
            return Some(commit);
        }
        self.passed_over = Some(commit);
        None
    }

    /// Whether the committed document's load event fired.
    pub(super) fn loaded(&self) -> bool {
        self.committed
            .as_ref()
            .is_some_and(|c| self.loads.contains(&c.loader))
    }

    /// The size of the committed document, declared or received.
    pub(super) fn document_bytes(&self) -> Option<u64> {
        self.committed.as_ref()?;
        self.current_doc().and_then(|d| d.bytes)
    }

    /// The document request the main frame shows (or is about to).
    fn current_doc(&self) -> Option<&DocRequest> {
        self.committed
            .as_ref()
            .and_then(|c| self.docs.iter().rev().find(|d| d.id == c.loader))
            .or_else(|| self.docs.last())
    }

    pub(super) fn navigation_state(&self) -> NavState {
        if self.crashed {
            return NavState::Crashed;
        }
        let latest = self.docs.last();
        let latest_committed = match (&self.committed, latest) {
            (Some(c), Some(d)) => !c.error_page && c.loader == d.id,
            (Some(c), None) => !c.error_page,
            (None, _) => false,
        };
        if latest_committed {
            return NavState::Committed;
        }
        if let Some(doc) = latest {
            // An abort is a download only if the response says so, and its
            // event may still be on the way.
            if doc.error.as_deref() == Some("net::ERR_ABORTED") && doc.status.is_none() {
                return NavState::ErrorPage;
            }
            if doc.error.is_some() || (doc.finished && matches!(doc.status, Some(204 | 205))) {
                return NavState::Failed;
            }
        }
        if self.committed.as_ref().is_some_and(|c| c.error_page) {
            return NavState::ErrorPage;
        }
        if self.nav_error.is_some() && self.committed.is_none() {
            return NavState::Failed;
        }
        if self.committed.is_some() && latest.is_none_or(|d| d.status.is_some()) {
            // A commit whose document request we never saw (its event did not
            // parse, or it came from cache): trust the commit.
            return NavState::Committed;
        }
        NavState::Pending
    }

    /// Why the navigation failed, from the best facts at hand.
    pub(super) fn failure(&self, budget_secs: u64) -> Unreachable {
        let doc = self.docs.last();
        let outcome = DocumentOutcome {
            error: doc
                .and_then(|d| d.error.as_deref())
                .or(self.nav_error.as_deref()),
            status: doc.and_then(|d| d.status),
            download: self.nav_download || doc.is_some_and(|d| d.download),
        };
        classify(outcome, budget_secs).unwrap_or_else(|| Unreachable::Other {
            detail: "navigation failed".to_owned(),
        })
    }

    /// An HTTP error status of the committed document.
    pub(super) fn status_failure(&self) -> Option<Unreachable> {
        http_status(self.current_doc()?.status)
    }

    pub(super) fn network_quiet(&self, now: Instant) -> bool {
        let busy = self
            .in_flight
            .values()
            .any(|started| now.saturating_duration_since(*started) < LONG_REQUEST);
        if busy {
            return false;
        }
        match (self.last_network_end, self.loaded_at) {
            (None, _) => true,
            // Requests that ended before load are covered by load itself.
            (Some(end), Some(load)) if end <= load => true,
            (Some(end), _) => now.saturating_duration_since(end) >= NETWORK_QUIET,
        }
    }

    /// The snapshot of a render that reached `join_at` (see
    /// `RenderJob::join_at`): its redirect facts, marked joined.
    pub(super) fn joined(&self, join_at: Option<&str>) -> Option<PageSnapshot> {
        let join_at = join_at?;
        let reached = self.join_paused
            || self
                .docs
                .last()
                .is_some_and(|doc| same_url(&doc.url, join_at));
        reached.then(|| PageSnapshot {
            joined: true,
            ..self.snapshot()
        })
    }

    /// The network facts of the snapshot: status, addresses, redirects.
    pub(super) fn snapshot(&self) -> PageSnapshot {
        let current = self.current_doc();
        let mut redirects = Vec::new();
        let mut addresses: Vec<String> = Vec::new();
        let mut add = |a: &Option<String>| {
            if let Some(a) = a {
                if !addresses.contains(a) {
                    addresses.push(a.clone());
                }
            }
        };
        for doc in &self.docs {
            let is_current = current.is_some_and(|c| std::ptr::eq(c, doc));
            if !is_current && doc.status.is_none() {
                continue;
            }
            for (url, address) in &doc.hops {
                redirects.push(url.clone());
                add(address);
            }
            add(&doc.address);
            if is_current {
                break;
            }
            redirects.push(doc.url.clone());
        }
        if redirects.len() > MAX_REDIRECTS {
            // A refresh loop: the first hops and the last ones tell the story.
            redirects.drain(MAX_REDIRECTS / 2..redirects.len() - MAX_REDIRECTS / 2);
        }
        PageSnapshot {
            final_url: current.map(|d| d.url.clone()).unwrap_or_default(),
            status: current.and_then(|d| d.status),
            addresses,
            redirects,
            ..PageSnapshot::default()
        }
    }
}

fn record_response(doc: &mut DocRequest, response: &Response) {
    doc.status = u16::try_from(response.status).ok();
    doc.address = response.remote_ip_address.clone().filter(|a| !a.is_empty());
    doc.url.clone_from(&response.url);
    let header = |name: &str| {
        response.headers.inner().as_object().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str().map(str::to_ascii_lowercase))
        })
    };
    let attachment =
        header("content-disposition").is_some_and(|v| v.trim_start().starts_with("attachment"));
    let mime = response.mime_type.to_ascii_lowercase();
    let displayable = mime.is_empty()
        || mime.starts_with("text/")
        || mime.starts_with("image/")
        || mime.contains("html")
        || mime.contains("xml")
        || mime.contains("json")
        || mime == "application/pdf";
    doc.download = attachment || !displayable;
    // The size the server declares, until the bytes received replace it:
    // a renderer busy parsing a huge document reports its end only when it
    // has read it all.
    doc.bytes = header("content-length").and_then(|v| v.trim().parse().ok());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker_with_doc(status: Option<u16>, error: Option<&str>) -> Tracker {
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", false);
        t.docs.push(DocRequest {
            id: "L1".to_owned(),
            url: "http://a.test/".to_owned(),
            status,
            error: error.map(str::to_owned),
            ..DocRequest::default()
        });
        t
    }

    fn commit(loader: &str) -> Commit {
        Commit {
            loader: loader.to_owned(),
            error_page: false,
        }
    }

    #[test]
    fn a_reused_page_ignores_the_last_documents_navigation_until_its_own_starts() {
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", true);
        // The last render's page (www.) refreshes itself, and its scripts fetch.
        assert!(!t.admits_request(true, "http://www.a.test/"));
        assert!(!t.admits_request(false, "http://a.test/api"));
        assert!(t
            .admit_commit("http://www.a.test/", None, commit("OLD"))
            .is_none());
        // This render's navigation.
        assert!(t.admits_request(true, "HTTP://A.test/"));
        assert!(t.admits_request(false, "http://www.a.test/x.js"));
        assert!(t
            .admit_commit("http://www.a.test/", None, commit("NEW"))
            .is_some());
    }

    #[test]
    fn a_reused_page_takes_a_commit_of_its_url_or_its_error_page() {
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", true);
        assert!(t
            .admit_commit("http://a.test/", None, commit("A"))
            .is_some());
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", true);
        let error_page = t.admit_commit(
            "chrome-error://chromewebdata/",
            Some("http://a.test/"),
            commit("E"),
        );
        assert!(error_page.is_some());
    }

    #[test]
    fn a_reused_page_whose_request_event_was_lost_takes_the_last_commit_at_the_reply() {
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", true);
        assert!(t
            .admit_commit("http://www.a.test/landing", None, commit("L"))
            .is_none());
        assert!(t.committed.is_none());
        t.on_navigate_reply(None, None);
        assert_eq!(t.committed.as_ref().map(|c| c.loader.as_str()), Some("L"));
    }

    #[test]
    fn a_fresh_page_takes_every_request_and_commit() {
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", false);
        assert!(t.admits_request(true, "http://b.test/"));
        assert!(t
            .admit_commit("http://b.test/", None, commit("B"))
            .is_some());
    }

    #[test]
    fn a_failed_document_is_a_failed_navigation() {
        let t = tracker_with_doc(None, Some("net::ERR_CONNECTION_REFUSED"));
        assert_eq!(t.navigation_state(), NavState::Failed);
        assert!(matches!(t.failure(30), Unreachable::Refused { .. }));
    }

    #[test]
    fn a_commit_of_the_latest_document_is_committed() {
        let mut t = tracker_with_doc(Some(200), None);
        assert_eq!(t.navigation_state(), NavState::Pending);
        t.committed = Some(Commit {
            loader: "L1".to_owned(),
            error_page: false,
        });
        assert_eq!(t.navigation_state(), NavState::Committed);
        assert!(t.status_failure().is_none());
    }

    #[test]
    fn client_redirects_and_hops_make_the_redirect_chain() {
        let mut t = tracker_with_doc(Some(200), None);
        t.docs[0]
            .hops
            .push(("http://a.test/old".to_owned(), Some("10.0.0.1".to_owned())));
        t.docs[0].address = Some("10.0.0.2".to_owned());
        t.docs.push(DocRequest {
            id: "L2".to_owned(),
            url: "http://b.test/".to_owned(),
            status: Some(200),
            address: Some("10.0.0.3".to_owned()),
            ..DocRequest::default()
        });
        t.committed = Some(Commit {
            loader: "L2".to_owned(),
            error_page: false,
        });
        let s = t.snapshot();
        assert_eq!(s.redirects, vec!["http://a.test/old", "http://a.test/"]);
        assert_eq!(s.final_url, "http://b.test/");
        assert_eq!(s.addresses, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    }

    #[test]
    fn a_redirect_loop_keeps_its_first_and_last_hops() {
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", false);
        for i in 0..100 {
            t.docs.push(DocRequest {
                id: format!("L{i}"),
                url: format!("http://a.test/{i}"),
                status: Some(200),
                ..DocRequest::default()
            });
        }
        t.committed = Some(Commit {
            loader: "L99".to_owned(),
            error_page: false,
        });
        let s = t.snapshot();
        assert_eq!(s.redirects.len(), MAX_REDIRECTS);
        assert_eq!(s.redirects[0], "http://a.test/0");
        assert_eq!(s.redirects[MAX_REDIRECTS - 1], "http://a.test/98");
        assert_eq!(s.final_url, "http://a.test/99");
    }

    /// A batch as events named `a`, `b`…: `Some((request, phase))` for a
    /// request's event, `None` for any other.
    type Named = (char, Option<(&'static str, Phase)>);

    const START_1: Option<(&str, Phase)> = Some(("1", Phase::Start));
    const AFTER_1: Option<(&str, Phase)> = Some(("1", Phase::After));
    const START_2: Option<(&str, Phase)> = Some(("2", Phase::Start));
    const AFTER_2: Option<(&str, Phase)> = Some(("2", Phase::After));

    #[rstest::rstest]
    #[case::in_order_unchanged(&[('a', START_1), ('b', AFTER_1)], "ab")]
    #[case::end_before_start(&[('a', AFTER_1), ('b', START_1)], "ba")]
    #[case::others_stay_put(
        &[('a', None), ('b', AFTER_1), ('c', None), ('d', START_1), ('e', None)],
        "adbce"
    )]
    #[case::a_redirect_hop_keeps_its_order(
        &[('a', AFTER_1), ('b', START_1), ('c', START_1)],
        "bca"
    )]
    #[case::before_the_first_of_its_response_and_end(
        &[('a', AFTER_1), ('b', AFTER_1), ('c', START_1)],
        "cab"
    )]
    #[case::each_request_its_own(
        &[('a', AFTER_2), ('b', AFTER_1), ('c', START_1), ('d', START_2)],
        "dacb"
    )]
    #[case::a_start_already_first_stays(&[('a', START_2), ('b', AFTER_1), ('c', AFTER_2)], "abc")]
    fn a_requests_start_comes_before_its_response_and_end(
        #[case] batch: &[Named],
        #[case] order: &str,
    ) {
        let ordered = starts_first(batch.to_vec(), |(_, request)| *request);
        let names: String = ordered.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, order);
    }

    /// Chromium's `requestWillBeSent` for a stylesheet of the main frame
    /// (`F`), a redirect hop of it when `redirected`.
    fn stylesheet_request(id: &str, redirected: bool) -> EventRequestWillBeSent {
        let mut event = serde_json::json!({
            "requestId": id,
            "loaderId": "L1",
            "documentURL": "http://a.test/",
            "request": {
                "url": "http://a.test/site.css",
                "method": "GET",
                "headers": {},
                "initialPriority": "VeryHigh",
                "referrerPolicy": "strict-origin-when-cross-origin"
            },
            "timestamp": 1.0,
            "wallTime": 1.0,
            "initiator": { "type": "parser" },
            "redirectHasExtraInfo": false,
            "type": "Stylesheet",
            "frameId": "F"
        });
        if redirected {
            event["redirectResponse"] = serde_json::json!({
                "url": "http://a.test/old.css",
                "status": 301,
                "statusText": "Moved Permanently",
                "headers": {},
                "mimeType": "text/html",
                "charset": "",
                "connectionReused": false,
                "connectionId": 1.0,
                "encodedDataLength": 0.0,
                "securityState": "neutral"
            });
        }
        serde_json::from_value(event).expect("a valid requestWillBeSent")
    }

    #[test]
    fn a_request_is_in_flight_from_its_start_to_its_end() {
        let now = Instant::now();
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", false);
        t.on_request(&stylesheet_request("css", false), now);
        assert!(!t.network_quiet(now + NETWORK_QUIET));
        t.request_ended("css", now);
        assert!(t.network_quiet(now + NETWORK_QUIET));
    }

    #[test]
    fn a_request_whose_end_came_before_its_start_is_not_in_flight() {
        let now = Instant::now();
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", false);
        t.request_ended("css", now);
        // Its start, then a redirect hop of it, arrive later.
        t.on_request(&stylesheet_request("css", false), now);
        t.on_request(&stylesheet_request("css", true), now);
        assert!(t.network_quiet(now + NETWORK_QUIET));
    }

    #[test]
    fn network_quiet_ignores_requests_ended_before_load_and_long_polls() {
        let now = Instant::now();
        let mut t = Tracker::new("F".to_owned(), "http://a.test/", false);
        t.last_network_end = Some(now);
        t.loaded_at = Some(now + Duration::from_millis(1));
        assert!(t.network_quiet(now + Duration::from_millis(2)));
        t.loaded_at = Some(now - Duration::from_millis(1));
        assert!(!t.network_quiet(now + Duration::from_millis(2)));
        assert!(t.network_quiet(now + NETWORK_QUIET));
        t.in_flight.insert("r".to_owned(), now);
        assert!(!t.network_quiet(now + Duration::from_millis(500)));
        assert!(t.network_quiet(now + LONG_REQUEST + NETWORK_QUIET));
    }
}
