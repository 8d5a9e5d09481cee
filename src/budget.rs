//! `PageBudget`: the pages a scan has open at once (`--concurrency`), and
//! when a record may open a second one.
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
//! `--concurrency` pages.

use std::sync::Arc;

use tokio::sync::watch;

/// The scan's page budget; shared by its records.
pub struct PageBudget {
    limit: usize,
    state: watch::Sender<State>,
}

#[derive(Clone, Copy, Debug, Default)]
struct State {
    /// Pages held: one a record in flight, plus the ones lent.
    held: usize,
    /// No record is left to start.
    input_ended: bool,
}

/// One page of the budget, given back when dropped.
#[must_use = "the page is given back as soon as the permit is dropped"]
pub struct PagePermit {
    budget: Arc<PageBudget>,
}

impl PageBudget {
    /// At most `limit` pages at once.
    pub fn new(limit: usize) -> Arc<PageBudget> {
        Arc::new(PageBudget {
            limit,
            state: watch::Sender::new(State::default()),
        })
    }

    /// A record's own page. Always granted: the caller bounds the records
    /// in flight to the limit, and nothing is lent while records may start.
    pub fn take(self: &Arc<Self>) -> PagePermit {
        self.state.send_modify(|s| s.held += 1);
        PagePermit {
            budget: Arc::clone(self),
        }
    }

    /// Say that no record will start any more: from now on the pages
    /// records give back may be lent.
    pub fn input_ended(&self) {
        self.state.send_modify(|s| s.input_ended = true);
    }

    /// A second page for a record in flight: waits until no record is left
    /// to start and a page is free (forever if neither comes; callers race
    /// it against their own work).
    pub async fn spare(self: &Arc<Self>) -> PagePermit {
        let mut changes = self.state.subscribe();
        loop {
            changes.borrow_and_update();
            let lent = self.state.send_if_modified(|s| {
                let free = s.input_ended && s.held < self.limit;
                if free {
                    s.held += 1;
                }
                free
            });
            if lent {
                return PagePermit {
                    budget: Arc::clone(self),
                };
            }
            // The sender lives in `self`: `changed` cannot fail here.
            let _ = changes.changed().await;
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.state.borrow().held
    }
}

impl Drop for PagePermit {
    fn drop(&mut self) {
        self.budget.state.send_modify(|s| s.held -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::poll;
    use std::task::Poll;
    use std::time::Duration;

    /// Whether `spare` grants a page within a short wait.
    async fn lends(budget: &Arc<PageBudget>) -> Option<PagePermit> {
        tokio::time::timeout(Duration::from_millis(50), budget.spare())
            .await
            .ok()
    }

    #[tokio::test]
    async fn nothing_is_lent_while_records_may_start() {
        let budget = PageBudget::new(4);
        let _record = budget.take();
        assert!(lends(&budget).await.is_none(), "3 pages free, input open");
        assert_eq!(budget.held(), 1, "a refused wait holds nothing");
    }

    #[tokio::test]
    async fn free_pages_are_lent_once_the_input_ended_up_to_the_limit() {
        let budget = PageBudget::new(3);
        let _a = budget.take();
        budget.input_ended();
        let first = lends(&budget).await.expect("2 pages free");
        let _second = lends(&budget).await.expect("1 page free");
        assert!(lends(&budget).await.is_none(), "all 3 held");
        assert_eq!(budget.held(), 3);
        drop(first);
        assert_eq!(budget.held(), 2, "a dropped permit gives its page back");
        assert!(lends(&budget).await.is_some(), "the page given back");
    }

    #[tokio::test]
    async fn a_waiting_record_gets_the_page_another_gives_back() {
        let budget = PageBudget::new(2);
        let a = budget.take();
        let _b = budget.take();
        budget.input_ended();
        let mut waiting = std::pin::pin!(budget.spare());
        assert!(poll!(&mut waiting).is_pending(), "both pages held");
        drop(a);
        let Poll::Ready(lent) = poll!(&mut waiting) else {
            panic!("not woken when a page came back")
        };
        assert_eq!(budget.held(), 2);
        drop(lent);
        assert_eq!(budget.held(), 1);
    }

    #[tokio::test]
    async fn the_end_of_input_wakes_a_waiting_record() {
        let budget = PageBudget::new(2);
        let _a = budget.take();
        let mut waiting = std::pin::pin!(budget.spare());
        assert!(poll!(&mut waiting).is_pending(), "input still open");
        budget.input_ended();
        let Poll::Ready(_lent) = poll!(&mut waiting) else {
            panic!("not woken by the end of input")
        };
        assert_eq!(budget.held(), 2);
    }
}
