// extract.js — the facts of one rendered page, read once settling is over.
//
// render.rs evaluates this file in an ISOLATED world (Page.createIsolatedWorld)
// with returnByValue: it shares the page's DOM but none of its JavaScript
// globals, so a site that replaces Array.prototype.map, JSON.stringify or
// Element.prototype.getBoundingClientRect cannot disturb it.
//
// It reports facts and recognises nothing: no ICP pattern lives here. Text
// is grouped into blocks; only blocks whose NFKC-normalised text holds at
// least MIN_DIGITS digits are returned (every ICP and 公安 number has more),
// and styles and geometry are computed only for those.
//
// The value returned matches render.rs's `Extracted`:
//   { title, url, empty, status,
//     blocks: [{ segments: [{ text, href, visible, in_footer }] }],
//     links:  [{ text, href, visible, in_footer }] }
(() => {
  'use strict';

  // Caps, so a hostile page cannot blow up the worker's memory or time.
  const MAX_BLOCKS = 500; // blocks returned (the first HEAD_BLOCKS and the last rest)
  const HEAD_BLOCKS = 100;
  const MAX_SEGMENTS = 200; // per block; a longer run is split into several blocks
  const MAX_TEXT = 2000; // characters per segment or link text
  const MAX_TITLE = 10000;
  const MAX_LINKS = 200;
  const MAX_NODES = 200000; // nodes walked
  const MAX_SHADOW_DEPTH = 4;
  const MAX_RECTS = 20; // rects examined per text node
  const MIN_DIGITS = 6;
  const MIN_SIZE = 2; // px: anything narrower or lower after clipping is not seen

  // Subtrees that are never displayed text.
  const SKIP = new Set(['script', 'style', 'template', 'noscript', 'head', 'title']);
  // Inline elements: their text belongs to the enclosing block, so a number
  // split over <span>s comes back whole in one block.
  const INLINE = new Set([
    'a', 'span', 'b', 'i', 'em', 'strong', 'small', 'font', 'u', 's', 'label', 'abbr',
    'code', 'sub', 'sup', 'bdi', 'bdo', 'mark', 'q', 'cite', 'time', 'big', 'tt',
    'strike', 'del', 'ins', 'dfn', 'kbd', 'var', 'samp', 'nobr', 'data', 'wbr',
  ]);

  const doc = document;
  const root = doc.documentElement;
  const scrollX = window.scrollX;
  const scrollY = window.scrollY;
  const body = doc.body;
  const docWidth = Math.max(root ? root.scrollWidth : 0, body ? body.scrollWidth : 0);
  const docHeight = Math.max(root ? root.scrollHeight : 0, body ? body.scrollHeight : 0);

  const clip = (s, n) => (s.length > n ? s.slice(0, n) : s);
  const isInline = (el) => INLINE.has(el.localName) || el.localName.includes('-');
  // Parent element, crossing out of an open shadow root to its host.
  const up = (node) => {
    if (node.parentElement) return node.parentElement;
    const p = node.parentNode;
    return p && p.nodeType === 11 && p.host ? p.host : null;
  };
  const blockOf = (el) => {
    let b = el;
    while (b && isInline(b) && up(b)) b = up(b);
    return b;
  };

  // ---- 1. Walk the text in document order, grouped into block runs. ----
  // A run is a maximal sequence of text (and <br>) whose block container is
  // the same; `<div>A<p>B</p>C</div>` gives three runs: A, B, C.
  const runs = [];
  let current = null;
  let visited = 0;
  let hasText = false;

  const push = (node, block) => {
    if (!current || current.block !== block || current.parts.length >= MAX_SEGMENTS) {
      current = { block, parts: [] };
      runs.push(current);
    }
    current.parts.push(node);
  };

  const walk = (start, depth) => {
    const walker = doc.createTreeWalker(start, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        n.nodeType === 1 && SKIP.has(n.localName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    for (let n = walker.nextNode(); n && visited < MAX_NODES; n = walker.nextNode()) {
      visited += 1;
      if (n.nodeType === 3) {
        const parent = up(n);
        if (!parent || !n.data) continue;
        if (!hasText && n.data.trim()) hasText = true;
        push(n, blockOf(parent));
      } else if (n.localName === 'br') {
        const block = blockOf(up(n) || n);
        if (current && current.block === block) push(n, block);
      } else if (n.shadowRoot && depth < MAX_SHADOW_DEPTH) {
        walk(n.shadowRoot, depth + 1);
      }
    }
  };
  const start = body || root;
  if (start) walk(start, 0);

  // ---- 2. Keep only runs that could carry a filing number. ----
  const textOf = (n) => (n.nodeType === 3 ? clip(n.data, MAX_TEXT) : '\n');
  const digitCount = (s) => {
    const m = s.normalize('NFKC').match(/[0-9]/g);
    return m ? m.length : 0;
  };
  let candidates = runs.filter((r) => digitCount(r.parts.map(textOf).join('')) >= MIN_DIGITS);
  if (candidates.length > MAX_BLOCKS) {
    candidates = candidates
      .slice(0, HEAD_BLOCKS)
      .concat(candidates.slice(candidates.length - (MAX_BLOCKS - HEAD_BLOCKS)));
  }

  // ---- 3. Visibility and position facts. ----
  const styleCache = new Map();
  const footerCache = new Map();

  // Alpha of a computed colour: rgb(), rgba(), or any `… / a)` form.
  const alpha = (c) => {
    if (!c) return 1;
    if (c === 'transparent') return 0;
    let m = /\/\s*([\d.]+)(%?)\s*\)$/.exec(c);
    if (m) return parseFloat(m[1]) / (m[2] ? 100 : 1);
    m = /^rgba\([^,]+,[^,]+,[^,]+,\s*([\d.]+)\s*\)$/.exec(c);
    return m ? parseFloat(m[1]) : 1;
  };

  // `background-clip: text` paints the text with a background: a transparent
  // fill is then the gradient-text trick, not hiding.
  const backgroundClipsText = (el) => {
    for (let a = el, i = 0; a && i < 8; a = up(a), i += 1) {
      const cs = getComputedStyle(a);
      if (cs.backgroundClip === 'text' || cs.webkitBackgroundClip === 'text') return true;
    }
    return false;
  };

  // display:none / visibility:hidden / opacity:0 up the tree, or text drawn
  // in a colour with zero alpha.
  const styleVisible = (el) => {
    let ok = styleCache.get(el);
    if (ok !== undefined) return ok;
    ok = typeof el.checkVisibility === 'function'
      ? el.checkVisibility({ opacityProperty: true, visibilityProperty: true })
      : true;
    if (ok) {
      const cs = getComputedStyle(el);
      const fill = cs.webkitTextFillColor || cs.color;
      const stroked = parseFloat(cs.webkitTextStrokeWidth) > 0 && alpha(cs.webkitTextStrokeColor) > 0;
      if (alpha(fill) === 0 && !stroked && !backgroundClipsText(el)) ok = false;
    }
    styleCache.set(el, ok);
    return ok;
  };

  // clip-path shapes that leave nothing: inset(50%+), circle(0), ellipse(0 0).
  const clipPathEmpty = (cp) =>
    /^inset\(\s*(5\d|[6-9]\d|100)(\.\d+)?%/.test(cp) ||
    /^circle\(\s*0(px|%)?[\s)]/.test(cp) ||
    /^ellipse\(\s*0(px|%)?\s+0(px|%)?[\s)]/.test(cp);

  // `clip: rect(t, r, b, l)` of an absolutely positioned box, in viewport px.
  const clipRectOf = (cs, box) => {
    const m = /^rect\(([^)]*)\)$/.exec(cs.clip || '');
    if (!m) return null;
    const v = m[1].split(/[\s,]+/).filter(Boolean);
    if (v.length !== 4) return null;
    const px = (s, dflt) => (s === 'auto' ? dflt : parseFloat(s));
    return {
      top: box.top + px(v[0], 0),
      right: box.left + px(v[1], box.width),
      bottom: box.top + px(v[2], box.height),
      left: box.left + px(v[3], 0),
    };
  };

  // The part of `r` (viewport px) that no ancestor clips away, or null.
  // The root and body are skipped: their overflow belongs to the viewport,
  // and content below the fold is reachable by scrolling.
  const clipByAncestors = (el, r) => {
    let { left, top, right, bottom } = r;
    for (let a = el; a && a !== root && a !== body; a = up(a)) {
      const cs = getComputedStyle(a);
      if (cs.clipPath && cs.clipPath !== 'none' && clipPathEmpty(cs.clipPath)) return null;
      const hidesX = cs.overflowX === 'hidden' || cs.overflowX === 'clip';
      const hidesY = cs.overflowY === 'hidden' || cs.overflowY === 'clip';
      const positioned = cs.position === 'absolute' || cs.position === 'fixed';
      if (hidesX || hidesY || (positioned && cs.clip && cs.clip !== 'auto')) {
        const b = a.getBoundingClientRect();
        if (hidesX) { left = Math.max(left, b.left); right = Math.min(right, b.right); }
        if (hidesY) { top = Math.max(top, b.top); bottom = Math.min(bottom, b.bottom); }
        if (positioned) {
          const c = clipRectOf(cs, b);
          if (c) {
            left = Math.max(left, c.left); right = Math.min(right, c.right);
            top = Math.max(top, c.top); bottom = Math.min(bottom, c.bottom);
          }
        }
        if (right - left < MIN_SIZE || bottom - top < MIN_SIZE) return null;
      }
      // A fixed box escapes its ancestors' overflow.
      if (cs.position === 'fixed') break;
    }
    return { left, top, right, bottom };
  };

  // Entirely left of / above the document, or beyond its scroll size.
  const inDocument = (r) =>
    r.right + scrollX > 0 && r.bottom + scrollY > 0 &&
    r.left + scrollX < docWidth && r.top + scrollY < docHeight;

  // The first rect of `rects` a visitor can see, or null.
  const seenRect = (el, rects) => {
    const n = Math.min(rects.length, MAX_RECTS);
    for (let i = 0; i < n; i += 1) {
      const r = rects[i];
      if (r.width <= 0 || r.height <= 0) continue;
      const c = clipByAncestors(el, r);
      if (c && inDocument(c)) return c;
    }
    return null;
  };

  const textRects = (t) => {
    const range = doc.createRange();
    range.selectNodeContents(t);
    return range.getClientRects();
  };

  // Inside <footer>, or an element whose id, class or role names a footer.
  const footerish = (el) => {
    if (!el) return false;
    let f = footerCache.get(el);
    if (f !== undefined) return f;
    const names = ((el.id || '') + ' ' + (el.getAttribute('class') || '') + ' ' + (el.getAttribute('role') || '')).toLowerCase();
    f = el.localName === 'footer' || names.includes('footer') || names.includes('contentinfo') || footerish(up(el));
    footerCache.set(el, f);
    return f;
  };
  const atBottom = (top) => docHeight > 0 && top + scrollY >= docHeight * 0.75;

  const hrefOf = (node) => {
    for (let a = node.nodeType === 1 ? node : up(node); a; a = up(a)) {
      if (a.localName === 'a') {
        const h = a.getAttribute('href');
        return h === null ? null : clip(h.trim(), MAX_TEXT);
      }
    }
    return null;
  };

  const textFacts = (t) => {
    const el = up(t);
    const rects = textRects(t);
    const seen = styleVisible(el) ? seenRect(el, rects) : null;
    const firstTop = seen ? seen.top : (rects.length ? rects[0].top : el.getBoundingClientRect().top);
    return {
      href: hrefOf(t),
      visible: seen !== null,
      in_footer: footerish(el) || atBottom(firstTop),
    };
  };

  // ---- 4. Blocks: segments, adjacent ones with equal facts merged. ----
  const blocks = [];
  for (const run of candidates) {
    const segments = [];
    for (const node of run.parts) {
      const text = textOf(node);
      const last = segments[segments.length - 1];
      // A <br> or white space carries no number: it takes its neighbour's facts.
      const facts = (node.nodeType !== 3 || !text.trim()) && last
        ? { href: last.href, visible: last.visible, in_footer: last.in_footer }
        : node.nodeType === 3
          ? textFacts(node)
          : { href: hrefOf(node), visible: false, in_footer: footerish(up(node)) };
      if (last && last.href === facts.href && last.visible === facts.visible &&
          last.in_footer === facts.in_footer && last.text.length + text.length <= MAX_TEXT) {
        last.text += text;
      } else {
        segments.push({ text, href: facts.href, visible: facts.visible, in_footer: facts.in_footer });
      }
    }
    blocks.push({ segments });
  }

  // ---- 5. Links to filing authorities (or anything like them). ----
  const linkVisible = (a) => {
    const tw = doc.createTreeWalker(a, NodeFilter.SHOW_TEXT);
    let sawText = false;
    for (let t = tw.nextNode(), i = 0; t && i < 100; t = tw.nextNode(), i += 1) {
      if (!t.data.trim()) continue;
      sawText = true;
      const el = up(t);
      if (styleVisible(el) && seenRect(el, textRects(t))) return true;
    }
    if (sawText) return false;
    // An image link (the 公安 badge): its element boxes must be seen.
    const boxes = [a, ...a.querySelectorAll('img,svg,picture,canvas')];
    return boxes.some((el) => styleVisible(el) && seenRect(el, el.getClientRects()) !== null);
  };

  const links = [];
  for (const a of doc.querySelectorAll('a[href]')) {
    if (links.length >= MAX_LINKS) break;
    const attr = a.getAttribute('href') || '';
    let resolved = attr;
    try {
      resolved = new URL(attr.trim(), doc.baseURI).href;
    } catch (_) {
      // Not a URL: match on the attribute as written.
    }
    if (!/beian|miit|mps\.gov/.test(resolved.toLowerCase())) continue;
    const rect = a.getBoundingClientRect();
    links.push({
      text: clip((a.innerText || a.textContent || '').replace(/\s+/g, ' ').trim(), MAX_TEXT),
      href: clip(attr.trim(), MAX_TEXT),
      visible: linkVisible(a),
      in_footer: footerish(a) || atBottom(rect.top),
    });
  }

  // ---- 6. Whether anything arrived at all. ----
  const media = start !== null && start.querySelector(
    'img,svg,canvas,video,iframe,frame,object,embed,picture,input') !== null;
  const nav = performance.getEntriesByType('navigation')[0];

  return {
    title: clip(String(doc.title), MAX_TITLE),
    url: location.href,
    empty: !hasText && !media,
    status: nav && nav.responseStatus ? nav.responseStatus : null,
    blocks,
    links,
  };
})()
