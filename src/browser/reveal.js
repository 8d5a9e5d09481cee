// reveal.js — what an inspector does before reading the footer: scroll to
// the bottom of the homepage and wait for it to stop moving.
//
// settle.rs evaluates this function in extract.js's isolated world, so the
// site's scripts can neither see nor disturb its timers and frames; the
// scrolling itself is the page's, and fires its scroll listeners and
// IntersectionObservers as a visitor's would (WOW.js, AOS, lazy footers).
//
// what = 'scroll': scroll down a viewport at a time, letting the page paint
//   once between steps so its scroll handlers run, and twice at the bottom
//   so IntersectionObserver callbacks have run too, until the bottom (which
//   may move as content loads) or `maxMs`; past MAX_STEPS (a portal page
//   tens of screens long) it jumps to the bottom, MAX_JUMPS times at most
//   (an endless feed grows as it is scrolled). Returns the steps, or 0
//   when the page did not scroll — then, in the same call, it also waits
//   for animations as 'animations' does (one round trip for the common
//   page that fits its window).
// what = 'animations': wait until the running CSS animations and
//   transitions (document.getAnimations()) that end within MAX_ANIMATION_MS
//   have finished, or `maxMs`. Endless ones (a spinner, a marquee) are not
//   waited for. Returns how many were waited for.
function (what, maxMs) {
  'use strict';
  const MAX_STEPS = 12;
  // Jumps to the bottom after the steps: a page that grows as it is
  // scrolled (an endless feed) is followed this far and no further.
  const MAX_JUMPS = 3;
  const MAX_ANIMATION_MS = 10000;
  const start = performance.now();
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // A painted frame, or 100 ms when the page paints none.
  const frame = () => Promise.race([
    new Promise((resolve) => requestAnimationFrame(() => resolve())),
    pause(100),
  ]);
  const left = () => maxMs - (performance.now() - start);

  const animations = () => {
    const running = document.getAnimations().filter((a) => {
      if (a.playState !== 'running' && a.playState !== 'pending') return false;
      const timing = a.effect && a.effect.getComputedTiming();
      if (!timing || !Number.isFinite(timing.endTime)) return false;
      const now = Number(a.currentTime) || 0;
      return timing.endTime - now <= MAX_ANIMATION_MS;
    });
    if (running.length === 0) return Promise.resolve(0);
    const done = Promise.all(running.map((a) => a.finished.catch(() => null)));
    return Promise.race([done, pause(Math.max(0, left()))]).then(() => running.length);
  };

  if (what !== 'scroll') return animations();
  const scroller = document.scrollingElement || document.documentElement;
  if (!scroller) return animations();
  return (async () => {
    let steps = 0;
    while (left() > 0 && steps < MAX_STEPS + MAX_JUMPS) {
      const bottom = scroller.scrollHeight - window.innerHeight;
      const from = window.scrollY;
      if (from >= bottom - 1) break;
      // Instant, whatever the page's `scroll-behavior: smooth` says: a
      // smooth scroll would be cut short by the next step.
      const to = steps < MAX_STEPS ? Math.min(bottom, from + window.innerHeight * 0.9) : bottom;
      window.scrollTo({ top: to, behavior: 'instant' });
      steps += 1;
      await frame();
      // A page that will not scroll (a modal locks it) stops here.
      if (window.scrollY <= from) break;
    }
    if (steps === 0) {
      await animations();
      return 0;
    }
    await frame();
    return steps;
  })();
}
