//! One record: its targets' guard pre-check (each host once, at once),
//! and their visits in lanes, desktop then phone, in one browser tab, or
//! in two when the scan has a page to spare (see [`super::pages`]).

use std::time::Instant;

use futures::future::join_all;

use super::pages::PagePermit;
use super::visit::{Landing, Visit};
use super::Ctx;
use crate::browser::Tab;
use crate::fault;
use crate::guard;
use crate::input::Record;
use crate::judge::RecordOutcome;
use crate::page::TargetFailure;
use crate::rules::TargetOutcome;
use crate::targets::{expand, Device, Target};

/// Render every target of `record` on the page `page` grants, one after
/// another in one browser tab (see [`Tab`]: opening a page is half the cost
/// of a visit): the desktop targets, then the phone ones — or, when the
/// [`PageLimit`] lends a page before the desktop ones are done, the phone
/// ones in a tab of their own at the same time. A tab is closed, and its
/// page given back, as soon as its last render is done.
pub(super) async fn scan_record(ctx: &Ctx, record: Record, page: PagePermit) -> RecordOutcome {
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
            let i = hosts.iter().position(|h| *h == target.host)?;
            let denial = checks[i].clone().err()?;
            Some(fault::denied(&target.host, denial))
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
        let mut tab = Tab::new(&ctx.pool);
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
                let mut tab = Tab::new(&ctx.pool);
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
            let visit = Visit {
                ctx: self.ctx,
                line: self.line,
                target: self.targets[i].clone(),
                refused: self.refused[i].clone(),
                join,
            };
            let (outcome, landing) = visit.run(tab).await;
            self.ctx
                .finished
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            landings[i] = landing;
            outcomes.push((i, outcome));
        }
        outcomes
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
