//! `PageLimit`: the pages a scan has open at once, and when a record may
//! open a second one.
//!
//! A record renders its targets one after another in one page, because
//! opening a page costs about half a visit (see [`crate::browser::Tab`]).
//! Each record in flight holds one page. That makes a record take the *sum*
//! of its renders, so one hanging site keeps the end of a short list
//! waiting four `--timeout`s. Once no record is left to start (a short list,
//! the last records of a long one, a stop), the pages that finished records
//! leave are lent to records still running: their phone targets render in
//! a page of their own beside the desktop ones. That doubles a record's
//! pages only when the scan has pages to spare, and never opens more than
//! the level allows.
//!
//! The level (how many pages at once) moves while the scan runs, between
//! one and `--concurrency` (see `level`): raising it hands out more
//! permits; lowering it takes back free ones at once and the rest as
//! their records give them back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// The scan's page budget; shared by its records.
pub struct PageLimit {
    pages: Arc<Semaphore>,
    /// Whether no record will start any more.
    input_ended: watch::Sender<bool>,
    /// The pages allowed at once now.
    level: AtomicUsize,
    /// Pages still out to take back when the level was lowered below the
    /// pages in use: each is forgotten instead of given back.
    owed: Arc<AtomicUsize>,
    /// Records waiting for their own page.
    waiting: AtomicUsize,
}

/// One page of the budget, given back when dropped.
#[must_use = "the page is given back as soon as the permit is dropped"]
pub struct PagePermit {
    permit: Option<OwnedSemaphorePermit>,
    owed: Arc<AtomicUsize>,
}

impl Drop for PagePermit {
    fn drop(&mut self) {
        let repaid = self
            .owed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |owed| {
                owed.checked_sub(1)
            })
            .is_ok();
        if let (true, Some(permit)) = (repaid, self.permit.take()) {
            permit.forget();
        }
    }
}

impl PageLimit {
    /// At most `level` pages at once (until [`PageLimit::set_level`]).
    #[must_use]
    pub fn new(level: usize) -> PageLimit {
        PageLimit {
            pages: Arc::new(Semaphore::new(level)),
            input_ended: watch::Sender::new(false),
            level: AtomicUsize::new(level),
            owed: Arc::new(AtomicUsize::new(0)),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A record's own page. A record waits for one only if pages were lent
    /// while it was being started, or the level is below the records in
    /// flight.
    pub async fn take(&self) -> PagePermit {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let permit = self.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit
    }

    /// A page of the budget, when one is free.
    async fn acquire(&self) -> PagePermit {
        let permit = Arc::clone(&self.pages).acquire_owned().await;
        PagePermit {
            // The semaphore is never closed, so acquiring cannot fail.
            permit: Some(
                permit.unwrap_or_else(|_| unreachable!("the page budget is never closed")),
            ),
            owed: Arc::clone(&self.owed),
        }
    }

    /// Say that no record will start any more: from now on the pages
    /// records give back may be lent.
    pub fn input_ended(&self) {
        self.input_ended.send_replace(true);
    }

    /// A second page for a record in flight, once no record is left to
    /// start and a page is free, first come first served (forever if that
    /// never happens: callers race it against their own work).
    pub async fn spare(&self) -> PagePermit {
        let mut ended = self.input_ended.subscribe();
        // The sender lives in `self`: waiting cannot fail here.
        let _ = ended.wait_for(|ended| *ended).await;
        // Not counted as waiting: a record that would take a spare page
        // has one of its own already.
        self.acquire().await
    }

    /// The pages allowed at once now.
    pub fn level(&self) -> usize {
        self.level.load(Ordering::Acquire)
    }

    /// Allow `level` pages at once (at least one). Called by one task only.
    pub(super) fn set_level(&self, level: usize) {
        let level = level.max(1);
        let old = self.level.swap(level, Ordering::AcqRel);
        if level > old {
            let more = level - old;
            // Pages still owed are simply not taken back any more.
            let owed = self
                .owed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |owed| {
                    Some(owed - owed.min(more))
                })
                .unwrap_or(0);
            self.pages.add_permits(more - owed.min(more));
        } else if level < old {
            let fewer = old - level;
            let taken = self.pages.forget_permits(fewer);
            self.owed.fetch_add(fewer - taken, Ordering::AcqRel);
        }
    }

    /// Pages held now, and records waiting for one.
    pub(super) fn usage(&self) -> (usize, usize) {
        let allowed = self.level() + self.owed.load(Ordering::Acquire);
        let free = self.pages.available_permits();
        (
            allowed.saturating_sub(free),
            self.waiting.load(Ordering::Acquire),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::poll;
    use std::time::Duration;

    /// `budget`'s pages not held.
    fn free(budget: &PageLimit) -> usize {
        budget.pages.available_permits()
    }

    #[tokio::test]
    async fn nothing_is_lent_while_records_may_start() {
        let budget = PageLimit::new(4);
        let _record = budget.take().await;
        assert!(poll!(std::pin::pin!(budget.spare())).is_pending());
        assert_eq!(free(&budget), 3, "a pending wait holds nothing");
    }

    #[tokio::test]
    async fn free_pages_are_lent_once_the_input_ended_up_to_the_limit() {
        let budget = PageLimit::new(3);
        let _record = budget.take().await;
        budget.input_ended();
        let first = budget.spare().await;
        let _second = budget.spare().await;
        assert_eq!(free(&budget), 0);
        assert!(poll!(std::pin::pin!(budget.spare())).is_pending());
        drop(first);
        assert_eq!(free(&budget), 1, "a dropped permit gives its page back");
    }

    /// `spare` started on a task of its own, once it is waiting: only a
    /// wake-up can finish it.
    async fn waiting(budget: &Arc<PageLimit>) -> tokio::task::JoinHandle<PagePermit> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let budget = Arc::clone(budget);
            async move {
                let mut spare = std::pin::pin!(budget.spare());
                assert!(poll!(&mut spare).is_pending(), "lent at once");
                tx.send(()).expect("the test waits");
                spare.await
            }
        });
        rx.await.expect("the task reached its wait");
        task
    }

    async fn woken(task: tokio::task::JoinHandle<PagePermit>) -> PagePermit {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the waiting record was never woken")
            .expect("the waiting task")
    }

    #[tokio::test]
    async fn a_waiting_record_gets_the_page_another_gives_back() {
        let budget = Arc::new(PageLimit::new(2));
        let a = budget.take().await;
        let _b = budget.take().await;
        budget.input_ended();
        let task = waiting(&budget).await;
        drop(a);
        let _lent = woken(task).await;
        assert_eq!(free(&budget), 0);
    }

    #[tokio::test]
    async fn the_end_of_input_wakes_a_waiting_record() {
        let budget = Arc::new(PageLimit::new(2));
        let _a = budget.take().await;
        let task = waiting(&budget).await;
        budget.input_ended();
        let _lent = woken(task).await;
        assert_eq!(free(&budget), 0);
    }

    #[tokio::test]
    async fn a_record_started_late_waits_for_a_page_lent_meanwhile() {
        let budget = PageLimit::new(1);
        budget.input_ended();
        let lent = budget.spare().await;
        let mut take = std::pin::pin!(budget.take());
        assert!(poll!(&mut take).is_pending(), "never over the limit");
        drop(lent);
        assert!(poll!(&mut take).is_ready());
    }

    #[tokio::test]
    async fn a_lower_level_takes_back_free_pages_at_once_and_held_ones_as_they_return() {
        let budget = PageLimit::new(4);
        let a = budget.take().await;
        let b = budget.take().await;
        let _c = budget.take().await;
        budget.set_level(1);
        assert_eq!(free(&budget), 0, "the one free page is taken back");
        assert_eq!(budget.usage().0, 3, "three pages still held");
        drop(a);
        drop(b);
        assert_eq!(free(&budget), 0, "returned pages were owed");
        assert_eq!(budget.usage().0, 1);
        let mut take = std::pin::pin!(budget.take());
        assert!(poll!(&mut take).is_pending(), "at the new level");
        assert_eq!(budget.usage().1, 1, "one record waits");
    }

    #[tokio::test]
    async fn a_higher_level_first_forgives_pages_owed() {
        let budget = PageLimit::new(3);
        let a = budget.take().await;
        let b = budget.take().await;
        let _c = budget.take().await;
        budget.set_level(1);
        budget.set_level(2);
        drop(a);
        assert_eq!(free(&budget), 0, "one page was still owed");
        drop(b);
        assert_eq!(free(&budget), 1, "the level of two holds one page more");
        budget.set_level(5);
        assert_eq!(free(&budget), 4);
        assert_eq!(budget.usage(), (1, 0));
    }

    #[tokio::test]
    async fn the_level_is_never_below_one() {
        let budget = PageLimit::new(2);
        budget.set_level(0);
        assert_eq!(budget.level(), 1);
        let _a = budget.take().await;
    }
}
