// settle.js — installed by render.rs with
// Page.addScriptToEvaluateOnNewDocument in the page's MAIN world, so it
// runs before any of the site's scripts.
//
// It lets settle.rs tell when a page has stopped changing without a fixed
// sleep: it counts the page's pending SHORT one-shot timers (a footer
// injected by `setTimeout(f, 1500)` after load must be waited for) and
// remembers when the DOM last changed after parsing. A short
// `<meta http-equiv=refresh>` counts as a pending timer too: it navigates
// after load plus its delay, and the page it leads to is the one judged.
// settle.rs waits in the page for all this to turn quiet with
// `globalThis.__beianAuditSettleWait(ms)`.
//
// It also counts the page's own fetch() and XMLHttpRequest calls until the
// page has had a turn with their answer (a client-rendered app replaces its
// `加载中…` placeholder only then), and a refresh to another URL however
// late, as long as the wait has time for it.
//
// Quiet windows are measured in page progress, not wall-clock time: a check
// that runs late (the renderer got no CPU: a throttled pod, a busy machine)
// is credited with at most CHECK_CREDIT_MS, so a starved page is never
// called quiet merely because time passed while nothing could happen.
//
// Closed shadow roots: attachShadow is asked for an open root, and the
// page's own `shadowRoot` getter still answers null for a root the page
// asked to be closed. extract.js, in its isolated world, uses the native
// getter and so reads what a visitor sees inside them.
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

  // Whether the page reacts to scrolling: a 'scroll' listener anywhere, an
  // IntersectionObserver, an `onscroll` handler. Only such a page is
  // scrolled before it is read (reveal.js): scrolling and painting a page
  // that ignores it costs CPU and shows nothing new.
  let scrollAware = false;
  const construct = Reflect.construct;
  const addEventListener_ = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (type === 'scroll') scrollAware = true;
    return apply(addEventListener_, this, [type, ...rest]);
  };
  if (typeof IntersectionObserver === 'function') {
    globalThis.IntersectionObserver = new Proxy(IntersectionObserver, {
      construct(target, args, newTarget) {
        scrollAware = true;
        return construct(target, args, newTarget);
      },
    });
  }

  // The page's requests, pending until a task after they settle: by then
  // the page's own callbacks (microtasks) have run and changed the DOM.
  // A request older than MAX_REQUEST_MS (a long poll) stops counting.
  const MAX_REQUEST_MS = 3000;
  let requests = 0;
  const requestStarts = Object.create(null);
  let nextRequest = 0;
  const begin = () => {
    nextRequest += 1;
    requestStarts[nextRequest] = now();
    requests += 1;
    return nextRequest;
  };
  const end = (id) => {
    apply(origSetTimeout, g, [() => {
      if (requestStarts[id] !== undefined) {
        delete requestStarts[id];
        requests -= 1;
      }
    }, 0]);
  };
  const liveRequests = () => {
    if (requests < 1) return 0;
    let live = 0;
    const t = now();
    for (const id in requestStarts) {
      if (t - requestStarts[id] < MAX_REQUEST_MS) live += 1;
    }
    return live;
  };
  const origFetch = globalThis.fetch;
  const then = Promise.prototype.then;
  if (typeof origFetch === 'function') {
    globalThis.fetch = function fetch(...args) {
      const id = begin();
      let p;
      try {
        p = apply(origFetch, this, args);
      } catch (e) {
        end(id);
        throw e;
      }
      apply(then, p, [() => end(id), () => end(id)]);
      return p;
    };
  }
  // Reading a response's body is a request of its own, as far as the page
  // is concerned: the data arrive when it resolves.
  if (typeof Response === 'function') {
    for (const name of ['json', 'text', 'arrayBuffer', 'blob', 'formData']) {
      const orig = Response.prototype[name];
      if (typeof orig !== 'function') continue;
      Response.prototype[name] = function (...args) {
        const id = begin();
        let p;
        try {
          p = apply(orig, this, args);
        } catch (e) {
          end(id);
          throw e;
        }
        apply(then, p, [() => end(id), () => end(id)]);
        return p;
      };
    }
  }
  if (typeof XMLHttpRequest === 'function') {
    const send = XMLHttpRequest.prototype.send;
    const addListener = EventTarget.prototype.addEventListener;
    XMLHttpRequest.prototype.send = function (...args) {
      const id = begin();
      apply(addListener, this, ['loadend', () => end(id), { once: true }]);
      try {
        return apply(send, this, args);
      } catch (e) {
        end(id);
        throw e;
      }
    };
  }

  // Closed shadow roots, open to extract.js's world (see the top).
  const attachShadow = Element.prototype.attachShadow;
  const shadowRootGetter = Object.getOwnPropertyDescriptor(Element.prototype, 'shadowRoot');
  if (typeof attachShadow === 'function' && shadowRootGetter && shadowRootGetter.get) {
    const closed = new WeakSet();
    const addClosed = WeakSet.prototype.add;
    const hasClosed = WeakSet.prototype.has;
    const getRoot = shadowRootGetter.get;
    Element.prototype.attachShadow = function (init) {
      if (init && init.mode === 'closed') {
        const root = apply(attachShadow, this, [Object.assign({}, init, { mode: 'open' })]);
        apply(addClosed, closed, [root]);
        return root;
      }
      return apply(attachShadow, this, [init]);
    };
    defineProperty(Element.prototype, 'shadowRoot', {
      configurable: true,
      enumerable: shadowRootGetter.enumerable,
      get() {
        const root = apply(getRoot, this, []);
        return root && apply(hasClosed, closed, [root]) ? null : root;
      },
    });
  }

  const readyState = () => apply(readyStateGetter, doc, []);

  // Declarative refresh starts its delay once the document has loaded
  // (HTML "shared declarative refresh steps").
  const querySelector = Document.prototype.querySelector;
  const getAttribute = Element.prototype.getAttribute;
  const exec = RegExp.prototype.exec;
  const toNumber = Number;
  const URL_ = URL;
  const REFRESH_GRACE_MS = 500;
  let loadedAt = -1;
  apply(EventTarget.prototype.addEventListener, g, ['load', () => { loadedAt = now(); }, true]);
  // The refresh's delay in ms (-1: none counted), looked up again only
  // after the DOM changed: a query of the whole document on every check
  // would steal the main thread from a 20 MB page still being parsed.
  let refreshMs = -1;
  // Whether the refresh leads to another URL: only such a refresh is waited
  // for past MAX_DELAY_MS (a page reloading itself every minute shows the
  // same page).
  let refreshElsewhere = false;
  let refreshLookedUp = false;
  let refreshSeenAt = -1;
  const refreshDelay = () => {
    if (refreshLookedUp && refreshSeenAt === lastMutation && readyState() !== 'loading') {
      return refreshMs;
    }
    refreshLookedUp = true;
    refreshSeenAt = lastMutation;
    refreshMs = -1;
    refreshElsewhere = false;
    const meta = apply(querySelector, doc, ['meta[http-equiv="refresh" i]']);
    if (!meta) return refreshMs;
    const content = apply(getAttribute, meta, ['content']) || '';
    const m = apply(exec, /^\s*(\d+(?:\.\d*)?)\s*(?:[;,]\s*(?:url\s*=\s*)?['"]?([^'"]*))?/i, [content]);
    if (!m) return refreshMs;
    refreshMs = toNumber(m[1]) * 1000;
    if (m[2]) {
      try {
        const to = new URL_(m[2].trim(), loc.href);
        const here = new URL_(loc.href);
        to.hash = '';
        here.hash = '';
        refreshElsewhere = to.href !== here.href;
      } catch (_) {
        refreshElsewhere = false;
      }
    }
    return refreshMs;
  };
  // A refresh still due: within MAX_DELAY_MS, or to another URL within
  // `horizon` ms (what is left of the wait).
  const pendingRefresh = (horizon) => {
    const ms = refreshDelay();
    if (ms < 0) return 0;
    if (!refreshElsewhere && ms > MAX_DELAY_MS) return 0;
    // What is left of its delay (all of it until the load starts it).
    const left = loadedAt < 0 ? ms : ms - (now() - loadedAt);
    if (refreshElsewhere && left > Math.max(MAX_DELAY_MS, horizon)) return 0;
    return left + REFRESH_GRACE_MS > 0 ? 1 : 0;
  };

  // Mutations while the parser runs are the page arriving, not scripts
  // changing it; load already covers them.
  new Observer(() => {
    if (readyState() !== 'loading') lastMutation = now();
  }).observe(doc, { subtree: true, childList: true, characterData: true, attributes: true });

  const probe = (horizon) => ({
    injected: true,
    // location.href is unforgeable: no page can redefine it.
    href: loc.href,
    ready: readyState(),
    timers: count + pendingRefresh(horizon),
    requests: liveRequests(),
    sinceMutation: lastMutation < 0 ? -1 : now() - lastMutation,
    scrollAware: scrollAware || g.onscroll != null || doc.onscroll != null,
  });

  // Quiet, as the page can tell: loaded, no counted timer or request
  // pending, and the DOM unchanged for DOM_QUIET_MS of credited time — or,
  // once timers are quiet, a DOM that keeps changing (an animated clock)
  // waited for DOM_MAX_WAIT_MS of credited time at most. The network is
  // settle.rs's to judge too (from tracker.rs, which sees every request).
  const DOM_QUIET_MS = 200;
  const DOM_MAX_WAIT_MS = 1000;
  const CHECK_MS = 50;
  // A check is credited with at most this much of the time since the last
  // one: the rest the page could not use (see the top).
  const CHECK_CREDIT_MS = 2 * CHECK_MS;
  const Promise_ = Promise;
  // Resolves with a probe once the page is quiet, or after `maxMs` with
  // the page as it is: one round trip instead of polling over CDP. Checks
  // itself with the original setTimeout, so it counts as none of the
  // page's timers. The probe also says how late the checks ran (`lagMs`,
  // the largest gap beyond CHECK_MS): a starved renderer shows there.
  const waitQuiet = (maxMs) => new Promise_((resolve) => {
    const start = now();
    let last = start;
    let lag = 0;
    let quiet = -1; // credited quiet time, -1 while not quiet
    // Credited time the DOM has been unchanged; what passed before this
    // wait counts up to the window (the network settled meanwhile).
    let domQuiet = lastMutation < 0 ? 0 : Math.min(now() - lastMutation, DOM_QUIET_MS);
    let lastSeenMutation = lastMutation;
    const check = () => {
      const t = now();
      const credit = Math.min(t - last, CHECK_CREDIT_MS);
      lag = Math.max(lag, t - last - CHECK_MS);
      last = t;
      const horizon = maxMs - (t - start);
      // Nothing to count while the document is still arriving.
      const p = readyState() === 'complete' ? probe(horizon) : null;
      if (lastMutation !== lastSeenMutation) {
        lastSeenMutation = lastMutation;
        domQuiet = 0;
      } else {
        domQuiet += credit;
      }
      if (p !== null && p.timers < 1 && p.requests < 1) {
        quiet = quiet < 0 ? 0 : quiet + credit;
        if (p.sinceMutation < 0 || domQuiet >= DOM_QUIET_MS || quiet >= DOM_MAX_WAIT_MS) {
          p.quiet = true;
          p.lagMs = lag;
          resolve(p);
          return;
        }
      } else {
        quiet = -1;
      }
      if (t - start >= maxMs) {
        const out = p || probe(0);
        out.quiet = false;
        out.lagMs = lag;
        resolve(out);
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
