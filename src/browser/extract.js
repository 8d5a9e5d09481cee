// extract.js — the facts of one rendered document, read once settling is over.
//
// extract.rs evaluates this function in an ISOLATED world
// (Page.createIsolatedWorld): it shares the page's DOM but none of its
// JavaScript globals, so a site that replaces Array.prototype.map,
// JSON.stringify or Element.prototype.getBoundingClientRect cannot disturb it.
// It runs once in every frame a visitor sees (the top document, iframes,
// frames of a frameset); extract.rs places each frame's facts in the top
// page with `placement` below.
//
// Called with `this` an Element (Runtime.callFunctionOn on a frame's owner
// element), it returns that element's placement in its own document:
//   { width, height, visible, in_footer, view_width, view_height }
// Otherwise it reads the whole document and returns extract.rs's `Extracted`:
//   { title, url, empty, status,
//     blocks: [{ segments: [{ text, href, visible, in_footer }] }],
//     links:  [{ text, href, visible, in_footer }] }
//
// It reports facts and recognises nothing: no ICP pattern lives here. Text
// is grouped into runs a visitor reads as one text: the inline content of
// one block, side by side on one line. Only runs whose NFKC-normalised text
// holds at least MIN_DIGITS digits are returned (every ICP and 公安 number
// has more), and styles and geometry are computed only for those.
//
// Every string returned is well-formed UTF-16: a lone surrogate (from the
// page, or from a cut inside a pair) would make the reply unparsable and
// lose the whole render.
function () {
  'use strict';

  // Caps, so a hostile page cannot blow up the worker's memory or time.
  const MAX_BLOCKS = 500; // blocks returned (the first HEAD_BLOCKS and the last rest)
  const HEAD_BLOCKS = 100;
  const MAX_SEGMENTS = 200; // per block; a longer run is split into several blocks
  const MAX_TEXT = 2000; // characters per segment or link text
  const MAX_TITLE = 10000;
  // Headings read per document, and characters per heading.
  const MAX_HEADINGS = 50;
  const MAX_HEADING = 500;
  const MAX_LINKS = 200;
  const MAX_LINK_TEXT = 500; // characters of a link's text or href
  const MAX_NODES = 200000; // nodes walked
  const MAX_SHADOW_DEPTH = 4;
  const MAX_RECTS = 20; // rects examined per text node
  const MIN_DIGITS = 6;
  const MIN_SIZE = 2; // px: anything narrower or lower after clipping is not seen
  // Characters of block text one document may return in all (links have
  // their own caps, MAX_LINKS × MAX_LINK_TEXT, and always come back): what
  // the worker holds of a page is bounded whatever the page (a footer never
  // needs more than a few hundred). Blocks a visitor sees at the bottom
  // come first, then other visible ones, then hidden ones.
  const MAX_TOTAL_TEXT = 200000;

  // Subtrees that are never displayed text.
  const SKIP = new Set(['script', 'style', 'template', 'noscript', 'head', 'title']);

  const doc = this && this.nodeType === 1 ? this.ownerDocument : document;
  const win = doc.defaultView || window;
  const root = doc.documentElement;
  const body = doc.body;
  const scrollX = win.scrollX;
  const scrollY = win.scrollY;
  const viewWidth = win.innerWidth;
  const viewHeight = win.innerHeight;
  const docWidth = Math.max(root ? root.scrollWidth : 0, body ? body.scrollWidth : 0);
  const docHeight = Math.max(root ? root.scrollHeight : 0, body ? body.scrollHeight : 0);

  // Well-formed, and cut on a character boundary: never inside a pair.
  const wellFormed = (s) => (typeof s.toWellFormed === 'function'
    ? s.toWellFormed()
    : s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
  const clip = (s, n) => {
    if (s.length <= n) return wellFormed(s);
    const code = s.charCodeAt(n - 1);
    const end = code >= 0xd800 && code <= 0xdbff ? n - 1 : n;
    return wellFormed(s.slice(0, end));
  };

  const styleCache = new Map();
  const style = (el) => {
    let cs = styleCache.get(el);
    if (cs === undefined) {
      cs = win.getComputedStyle(el);
      styleCache.set(el, cs);
    }
    return cs;
  };

  // Parent element, crossing out of a shadow root (open, or closed: settle.js
  // lets this world see those) to its host.
  const up = (node) => {
    if (node.parentElement) return node.parentElement;
    const p = node.parentNode;
    return p && p.nodeType === 11 && p.host ? p.host : null;
  };
  // Whether the layout puts an element's content on the line of its
  // parent's: only `display: inline` (and `contents`, which has no box).
  // Flex and grid items are blockified by the browser, table cells and
  // inline-blocks are boxes of their own: each is a separate text, so
  // `<span>京ICP备…号-1</span><span>400-800-8888</span>` in a flex row
  // never reads as `…号-1400-800-8888`.
  const inlineCache = new Map();
  const isInline = (el) => {
    let v = inlineCache.get(el);
    if (v === undefined) {
      const d = style(el).display;
      v = d === 'inline' || d === 'contents' || d === 'ruby' || d === 'ruby-text';
      inlineCache.set(el, v);
    }
    return v;
  };
  const blockOf = (el) => {
    let b = el;
    while (b && isInline(b) && up(b)) b = up(b);
    return b;
  };

  // ---- Visibility and position facts. ----

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
      const cs = style(a);
      if (cs.backgroundClip === 'text' || cs.webkitBackgroundClip === 'text') return true;
    }
    return false;
  };

  // display:none / visibility:hidden / opacity:0 up the tree, or text drawn
  // in a colour with zero alpha.
  const visibleCache = new Map();
  const styleVisible = (el) => {
    let ok = visibleCache.get(el);
    if (ok !== undefined) return ok;
    ok = typeof el.checkVisibility === 'function'
      ? el.checkVisibility({ opacityProperty: true, visibilityProperty: true })
      : true;
    if (ok) {
      const cs = style(el);
      const fill = cs.webkitTextFillColor || cs.color;
      const stroked = parseFloat(cs.webkitTextStrokeWidth) > 0 && alpha(cs.webkitTextStrokeColor) > 0;
      if (alpha(fill) === 0 && !stroked && !backgroundClipsText(el)) ok = false;
    }
    visibleCache.set(el, ok);
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
      const cs = style(a);
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
  const footerCache = new Map();
  const footerish = (el) => {
    if (!el) return false;
    let f = footerCache.get(el);
    if (f !== undefined) return f;
    const names = ((el.id || '') + ' ' + (el.getAttribute('class') || '') + ' ' + (el.getAttribute('role') || '')).toLowerCase();
    f = el.localName === 'footer' || names.includes('footer') || names.includes('contentinfo') || footerish(up(el));
    footerCache.set(el, f);
    return f;
  };

  // The height "the bottom" is measured against: the document's, or on a
  // page shorter than the viewport the bottom of its content (the root's
  // scroll height is never less than the viewport's, so a short page's
  // last line would otherwise sit in its top half).
  let contentHeight = docHeight;
  if (body && docHeight <= viewHeight + 1) {
    const range = doc.createRange();
    range.selectNodeContents(body);
    const bottom = range.getBoundingClientRect().bottom + scrollY;
    if (bottom > 0) contentHeight = Math.min(docHeight, bottom);
  }
  // A fixed box (a bar pinned to the window) stays where the window shows
  // it, whatever the scroll: it is at the bottom when it is in the bottom
  // quarter of the window. Everything else by its place in the page (the
  // page is scrolled to its bottom by now, see reveal.js).
  const fixedCache = new Map();
  const isFixed = (el) => {
    if (!el) return false;
    let f = fixedCache.get(el);
    if (f === undefined) {
      f = style(el).position === 'fixed' || isFixed(up(el));
      fixedCache.set(el, f);
    }
    return f;
  };
  const atBottomOf = (el, top) => (isFixed(el)
    ? top >= viewHeight * 0.75
    : contentHeight > 0 && top + scrollY >= contentHeight * 0.75);

  const hrefOf = (node) => {
    for (let a = node.nodeType === 1 ? node : up(node); a; a = up(a)) {
      if (a.localName === 'a') {
        const h = a.getAttribute('href');
        return h === null ? null : clip(h.trim(), MAX_TEXT);
      }
    }
    return null;
  };

  // ---- A frame's owner element: where its frame sits in this document. ----
  if (this && this.nodeType === 1) {
    const el = this;
    const r = el.getBoundingClientRect();
    const seen = styleVisible(el) ? seenRect(el, el.getClientRects()) : null;
    return {
      width: el.clientWidth,
      height: el.clientHeight,
      visible: seen !== null && el.clientWidth >= MIN_SIZE && el.clientHeight >= MIN_SIZE,
      in_footer: footerish(el) || atBottomOf(el, r.top),
      view_width: viewWidth,
      view_height: viewHeight,
    };
  }

  // ---- 1. Walk the text in document order, grouped into runs. ----
  // A run is a maximal sequence of text (and <br>) whose block container is
  // the same; `<div>A<p>B</p>C</div>` gives three runs: A, B, C. Text that
  // CSS generates (`::before`/`::after` content) takes its place in the
  // walk as a piece of its element.
  const runs = [];
  let current = null;
  let visited = 0;
  let hasText = false;

  const push = (piece, block) => {
    if (!current || current.block !== block || current.parts.length >= MAX_SEGMENTS) {
      current = { block, parts: [] };
      runs.push(current);
    }
    current.parts.push(piece);
  };

  // The text of a `content` value: its strings and attr() values; counters,
  // quotes and images say nothing a filing number needs.
  const contentText = (content, el) => {
    if (!content || content === 'none' || content === 'normal') return '';
    let out = '';
    const re = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|attr\(\s*([\w-]+)\s*\)/g;
    for (let m = re.exec(content); m; m = re.exec(content)) {
      if (m[3]) out += el.getAttribute(m[3]) || '';
      else out += (m[1] !== undefined ? m[1] : m[2]).replace(/\\([0-9a-fA-F]{1,6})\s?|\\(.)/g,
        (_, hex, ch) => (hex ? String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff)) : ch));
    }
    return out;
  };
  // Elements that never have generated boxes (replaced and void ones,
  // and anything outside HTML, such as SVG): their pseudo-elements need no
  // style lookup, which on a big page is most of what the lookups cost.
  const NO_PSEUDO = new Set([
    'img', 'input', 'iframe', 'frame', 'video', 'audio', 'canvas', 'embed', 'object',
    'br', 'hr', 'wbr', 'meta', 'link', 'source', 'track', 'area', 'col', 'param',
    'select', 'textarea', 'option', 'picture',
  ]);
  const HTML_NS = 'http://www.w3.org/1999/xhtml';
  // A `::before`/`::after` box of `el` as a piece, or null. Its own
  // hiding counts too (`visibility`, `opacity`, a transparent colour, no
  // font size), beside its element's.
  // Where generated text is looked for: in a footer, and on elements with
  // no text of their own (an empty link or badge: where sites put it).
  // Elsewhere the two style lookups an element would cost are most of the
  // extraction's work on a big page, and text there is no footer's.
  const mayGenerate = (el) => {
    if (footerish(el)) return true;
    if (el.childElementCount > 0) return false;
    const first = el.firstChild;
    return !first || (first.nodeType === 3 && !first.data.trim() && !first.nextSibling);
  };
  const pseudo = (el, which) => {
    if (el.namespaceURI !== HTML_NS || NO_PSEUDO.has(el.localName) || !mayGenerate(el)) return null;
    const cs = win.getComputedStyle(el, which);
    const text = contentText(cs.content, el);
    if (!text || cs.display === 'none') return null;
    const hidden = cs.visibility !== 'visible' || parseFloat(cs.opacity) === 0 ||
      alpha(cs.webkitTextFillColor || cs.color) === 0 || parseFloat(cs.fontSize) === 0;
    const inline = cs.display === 'inline' || cs.display === 'contents';
    return { pseudo: true, el, text, hidden, inline };
  };

  const walk = (start, depth) => {
    const walker = doc.createTreeWalker(start, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        n.nodeType === 1 && SKIP.has(n.localName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    // Elements whose ::after is still due: it comes after their last
    // descendant, i.e. before the next node outside them.
    const open = [];
    const closeUntil = (n) => {
      while (open.length && !open[open.length - 1].contains(n)) {
        const el = open.pop();
        const p = pseudo(el, '::after');
        if (p) addPseudo(p, el);
      }
    };
    for (let n = walker.nextNode(); n && visited < MAX_NODES; n = walker.nextNode()) {
      visited += 1;
      closeUntil(n);
      if (n.nodeType === 3) {
        const parent = up(n);
        if (!parent || !n.data) continue;
        if (!hasText && n.data.trim()) hasText = true;
        push(n, blockOf(parent));
      } else if (n.localName === 'br') {
        const block = blockOf(up(n) || n);
        if (current && current.block === block) push(n, block);
      } else {
        const before = pseudo(n, '::before');
        if (before) addPseudo(before, n);
        open.push(n);
        if (n.shadowRoot && depth < MAX_SHADOW_DEPTH) walk(n.shadowRoot, depth + 1);
      }
    }
    while (open.length) {
      const el = open.pop();
      const p = pseudo(el, '::after');
      if (p) addPseudo(p, el);
    }
  };
  // Generated text belongs to its element's block when it is inline, else
  // it is a block of its own.
  const addPseudo = (p, el) => {
    if (!hasText && p.text.trim()) hasText = true;
    push(p, p.inline ? blockOf(el) : p);
  };
  const start = body || root;
  if (start) walk(start, 0);

  // ---- 2. Keep only runs that could carry a filing number. ----
  const textOf = (n) => (n.pseudo ? clip(n.text, MAX_TEXT) : n.nodeType === 3 ? clip(n.data, MAX_TEXT) : '\n');
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

  const textFacts = (t) => {
    const el = up(t);
    const rects = textRects(t);
    const seen = styleVisible(el) ? seenRect(el, rects) : null;
    const firstTop = seen ? seen.top : (rects.length ? rects[0].top : el.getBoundingClientRect().top);
    return {
      href: hrefOf(t),
      visible: seen !== null,
      in_footer: footerish(el) || atBottomOf(el, firstTop),
    };
  };
  // Generated text is seen where its element's boxes are.
  const pseudoFacts = (p) => {
    const el = p.el;
    const seen = !p.hidden && styleVisible(el) ? seenRect(el, el.getClientRects()) : null;
    return {
      href: hrefOf(el),
      visible: seen !== null,
      in_footer: footerish(el) || atBottomOf(el, el.getBoundingClientRect().top),
    };
  };

  // ---- 3. Blocks: segments, adjacent ones with equal facts merged. ----
  const blocks = [];
  for (const run of candidates) {
    const segments = [];
    for (const node of run.parts) {
      const text = textOf(node);
      const last = segments[segments.length - 1];
      // A <br> or white space carries no number: it takes its neighbour's facts.
      const facts = (node.pseudo ? !text.trim() : (node.nodeType !== 3 || !text.trim())) && last
        ? { href: last.href, visible: last.visible, in_footer: last.in_footer }
        : node.pseudo
          ? pseudoFacts(node)
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
  // The total budget, spent in order of what matters for a verdict.
  const rank = (b) => (b.segments.some((g) => g.visible && g.in_footer) ? 0
    : b.segments.some((g) => g.visible) ? 1 : 2);
  const sizeOf = (b) => b.segments.reduce((n, g) => n + g.text.length + (g.href ? g.href.length : 0), 0);
  let spent = 0;
  const kept = new Set();
  for (const level of [0, 1, 2]) {
    for (const b of blocks) {
      if (rank(b) !== level) continue;
      const size = sizeOf(b);
      if (spent + size > MAX_TOTAL_TEXT) continue;
      spent += size;
      kept.add(b);
    }
  }
  const keptBlocks = blocks.filter((b) => kept.has(b));

  // ---- 4. Links to filing authorities (or anything like them). ----
  const linkVisible = (a) => {
    const tw = doc.createTreeWalker(a, NodeFilter.SHOW_TEXT);
    let sawText = false;
    for (let t = tw.nextNode(), i = 0; t && i < 100; t = tw.nextNode(), i += 1) {
      if (!t.data.trim()) continue;
      sawText = true;
      const el = up(t);
      if (styleVisible(el) && seenRect(el, textRects(t))) return true;
    }
    // Text the link's CSS generates.
    for (const which of ['::before', '::after']) {
      const p = pseudo(a, which);
      if (p && p.text.trim()) {
        sawText = true;
        if (pseudoFacts(p).visible) return true;
      }
    }
    if (sawText) return false;
    // An image link (the 公安 badge): its element boxes must be seen.
    const boxes = [a, ...a.querySelectorAll('img,svg,picture,canvas')];
    return boxes.some((el) => styleVisible(el) && seenRect(el, el.getClientRects()) !== null);
  };
  const linkText = (a) => {
    const before = pseudo(a, '::before');
    const after = pseudo(a, '::after');
    return (before ? before.text : '') + (a.innerText || a.textContent || '') + (after ? after.text : '');
  };

  const links = [];
  const anchors = [];
  const collectAnchors = (scope, depth) => {
    for (const a of scope.querySelectorAll('a[href]')) anchors.push(a);
    if (depth >= MAX_SHADOW_DEPTH) return;
    for (const el of scope.querySelectorAll('*')) {
      if (el.shadowRoot) collectAnchors(el.shadowRoot, depth + 1);
    }
  };
  collectAnchors(doc, 0);
  for (const a of anchors) {
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
    const link = {
      text: clip(linkText(a).replace(/\s+/g, ' ').trim(), MAX_LINK_TEXT),
      href: clip(attr.trim(), MAX_LINK_TEXT),
      visible: linkVisible(a),
      in_footer: footerish(a) || atBottomOf(a, rect.top),
    };
    links.push(link);
  }

  // ---- 5. Whether anything arrived at all. ----
  const media = start !== null && start.querySelector(
    'img,svg,canvas,video,iframe,frame,object,embed,picture,input') !== null;
  const nav = win.performance.getEntriesByType('navigation')[0];

  // The h1/h2 headings a visitor sees (what the page says it is about, for
  // the pre-approval topics): their text as shown, the first few only.
  const headings = [];
  for (const h of doc.querySelectorAll('h1, h2')) {
    if (headings.length >= MAX_HEADINGS) break;
    const text = (h.innerText || '').replace(/\s+/g, ' ').trim();
    if (text && styleVisible(h) && seenRect(h, h.getClientRects())) {
      headings.push(clip(text, MAX_HEADING));
    }
  }

  return {
    title: clip(String(doc.title), MAX_TITLE),
    headings,
    url: wellFormed(doc.location ? doc.location.href : ''),
    empty: !hasText && !media,
    status: nav && nav.responseStatus ? nav.responseStatus : null,
    blocks: keptBlocks,
    links,
  };
}
