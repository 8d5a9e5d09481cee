// settle.js — installed with Page.addScriptToEvaluateOnNewDocument in the
// page's MAIN world, so it runs before any of the site's scripts.
//
// It lets render.rs tell when a page has stopped changing without a fixed
// sleep: it counts the page's pending SHORT one-shot timers (a footer
// injected by `setTimeout(f, 1500)` after load must be waited for) and
// remembers when the DOM last changed after parsing. A short
// `<meta http-equiv=refresh>` counts as a pending timer too: it navigates
// after load plus its delay, and the page it leads to is the one judged.
// render.rs waits in the page for all this to turn quiet with
// `globalThis.__beianAuditSettleWait(ms)`.
//
// What it deliberately ignores, so a busy page cannot keep us waiting:
// setInterval and requestAnimationFrame (a clock redrawing 20 times a
// second), timers longer than MAX_DELAY_MS, string timers, and timers
// scheduled from timer callbacks nested deeper than MAX_DEPTH (a
// `setTimeout(tick, 50)` loop).
//
// Every built-in it needs is captured here, before the site can replace it.
(() => {
  'use strict';
  const KEY = '__beianAuditSettleWait';
  if (Object.prototype.hasOwnProperty.call(globalThis, KEY)) return;

  const MAX_DELAY_MS = 2500;
  const MAX_DEPTH = 3;

  const g = globalThis;
  const apply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const perfNow = Performance.prototype.now;
  const perf = globalThis.performance;
  const now = () => apply(perfNow, perf, []);
  const origSetTimeout = globalThis.setTimeout;
  const origClearTimeout = globalThis.clearTimeout;
  const origClearInterval = globalThis.clearInterval;
  const Observer = globalThis.MutationObserver;
  const readyStateGetter = Object.getOwnPropertyDescriptor(Document.prototype, 'readyState').get;
  const doc = document;
  const loc = location;

  // Pending counted timers by id; a prototype-less object cannot be
  // disturbed by a site patching Map or Object.prototype.
  const pending = Object.create(null);
  let count = 0;
  let depth = 0;
  let lastMutation = -1;

  const forget = (id) => {
    if (pending[id] === true) {
      delete pending[id];
      count -= 1;
    }
  };

  function setTimeout(handler, delay, ...args) {
    const ms = Number(delay) || 0;
    if (typeof handler !== 'function' || ms > MAX_DELAY_MS || depth >= MAX_DEPTH) {
      return apply(origSetTimeout, g, [handler, delay, ...args]);
    }
    const myDepth = depth + 1;
    let id;
    const wrapped = function () {
      forget(id);
      const saved = depth;
      depth = myDepth;
      try {
        return apply(handler, this, args);
      } finally {
        depth = saved;
      }
    };
    id = apply(origSetTimeout, g, [wrapped, delay]);
    pending[id] = true;
    count += 1;
    return id;
  }

  function clearTimeout(id) {
    forget(id);
    return apply(origClearTimeout, g, [id]);
  }

  // Timeout and interval ids share one space: clearInterval can cancel a timeout.
  function clearInterval(id) {
    forget(id);
    return apply(origClearInterval, g, [id]);
  }

  globalThis.setTimeout = setTimeout;
  globalThis.clearTimeout = clearTimeout;
  globalThis.clearInterval = clearInterval;

  const readyState = () => apply(readyStateGetter, doc, []);

  // Declarative refresh starts its delay once the document has loaded
  // (HTML "shared declarative refresh steps").
  const querySelector = Document.prototype.querySelector;
  const getAttribute = Element.prototype.getAttribute;
  const exec = RegExp.prototype.exec;
  const toNumber = Number;
  const REFRESH_GRACE_MS = 500;
  let loadedAt = -1;
  apply(EventTarget.prototype.addEventListener, g, ['load', () => { loadedAt = now(); }, true]);
  // The refresh's delay in ms (-1: none counted), looked up again only
  // after the DOM changed: a query of the whole document on every check
  // would steal the main thread from a 20 MB page still being parsed.
  let refreshMs = -1;
  let refreshLookedUp = false;
  let refreshSeenAt = -1;
  const refreshDelay = () => {
    if (refreshLookedUp && refreshSeenAt === lastMutation && readyState() !== 'loading') {
      return refreshMs;
    }
    refreshLookedUp = true;
    refreshSeenAt = lastMutation;
    refreshMs = -1;
    const meta = apply(querySelector, doc, ['meta[http-equiv="refresh" i]']);
    if (!meta) return refreshMs;
    const m = apply(exec, /^\s*(\d+(?:\.\d*)?)/, [apply(getAttribute, meta, ['content']) || '']);
    if (!m) return refreshMs;
    const ms = toNumber(m[1]) * 1000;
    if (ms <= MAX_DELAY_MS) refreshMs = ms;
    return refreshMs;
  };
  const pendingRefresh = () => {
    const ms = refreshDelay();
    if (ms < 0) return 0;
    return loadedAt < 0 || now() - loadedAt < ms + REFRESH_GRACE_MS ? 1 : 0;
  };

  // Mutations while the parser runs are the page arriving, not scripts
  // changing it; load already covers them.
  new Observer(() => {
    if (readyState() !== 'loading') lastMutation = now();
  }).observe(doc, { subtree: true, childList: true, characterData: true, attributes: true });

  const probe = () => ({
    injected: true,
    // location.href is unforgeable: no page can redefine it.
    href: loc.href,
    ready: readyState(),
    timers: count + pendingRefresh(),
    sinceMutation: lastMutation < 0 ? -1 : now() - lastMutation,
  });

  // Quiet, as the page can tell: loaded, no counted timer pending, and the
  // DOM unchanged for DOM_QUIET_MS — or, once timers are quiet, a DOM that
  // keeps changing (an animated clock) waited for DOM_MAX_WAIT_MS at most.
  // The network is render.rs's to judge (it sees every request).
  const DOM_QUIET_MS = 200;
  const DOM_MAX_WAIT_MS = 1000;
  const CHECK_MS = 50;
  const Promise_ = Promise;
  // Resolves with a probe once the page is quiet, or after `maxMs` with
  // the page as it is: one round trip instead of polling over CDP. Checks
  // itself with the original setTimeout, so it counts as none of the
  // page's timers.
  const waitQuiet = (maxMs) => new Promise_((resolve) => {
    const start = now();
    let quietSince = -1;
    const check = () => {
      const t = now();
      // Nothing to count while the document is still arriving.
      const p = readyState() === 'complete' ? probe() : null;
      if (p !== null && p.timers < 1) {
        if (quietSince < 0) quietSince = t;
        if (p.sinceMutation < 0 || p.sinceMutation >= DOM_QUIET_MS || t - quietSince >= DOM_MAX_WAIT_MS) {
          p.quiet = true;
          resolve(p);
          return;
        }
      } else {
        quietSince = -1;
      }
      if (t - start >= maxMs) {
        const last = p || probe();
        last.quiet = false;
        resolve(last);
        return;
      }
      apply(origSetTimeout, g, [check, CHECK_MS]);
    };
    check();
  });

  // Non-configurable and non-writable: the site cannot remove or fake it.
  defineProperty(globalThis, KEY, {
    value: waitQuiet,
    enumerable: false,
    configurable: false,
    writable: false,
  });
})();
