// A task's viewer: its facts, downloads of every format made, each page's
// image with the recognised words' boxes drawn over it (hover or focus a
// word for its text and confidence) beside the page's text, and for the
// structure pipeline the rendered HTML (or Markdown) with its tables and
// figures.

import { get, request, explain, formatBytes, streamFailed } from './api.js';
import { el, ms } from './tasks.js';

const $ = (id) => document.getElementById(id);
const svgNS = 'http://www.w3.org/2000/svg';
let stream = null;
let shown = null; // the task id on screen

const nearScreen = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    const img = e.target.querySelector('image[data-href]');
    if (img) {
      img.setAttribute('href', img.dataset.href);
      delete img.dataset.href;
    }
    nearScreen.unobserve(e.target);
  }
}, { rootMargin: '400px' });

function svg(tag, attrs = {}) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function meta(t) {
  const parts = [`${t.status}`, `${t.pipeline} · ${t.model}`, `${t.pages.done}/${t.pages.total} pages`, formatBytes(t.input_bytes)];
  const r = t.resources;
  if (r) {
    parts.push(`on ${r.device}${r.fallback ? ' (fallback)' : ''}`);
    if (r.run_ms != null) parts.push(`ran ${ms(r.run_ms)}`);
    if (r.estimated_bytes) parts.push(`memory estimated ${formatBytes(r.estimated_bytes)}, peak ${formatBytes(r.peak_bytes)}`);
  }
  if (t.error && t.status !== 'succeeded') parts.push(t.error.message);
  return parts.join(' · ');
}

function downloads(t) {
  const base = (t.filename || t.id).replace(/\.[^.]+$/, '');
  const ext = { hocr: 'hocr.html', pdf: 'ocr.pdf' }; // the searchable PDF is not the input
  // A searchable PDF that could not be written is no link: its reason instead.
  const pdfError = t.resources && t.resources.pdf_error;
  const links = t.status === 'succeeded' && !t.results_deleted_at
    ? t.formats.map((f) => f === 'pdf' && pdfError
      ? el('span', { class: 'pending', 'data-format': f, title: pdfError.code, text: `no PDF: ${pdfError.message}` })
      : el('a', { class: 'button', href: `/v1/tasks/${encodeURIComponent(t.id)}/result?format=${f}`, download: `${base}.${ext[f] || f}`, 'data-format': f, text: f }))
    : [];
  if (links.length) {
    $('downloads').replaceChildren(el('span', { text: 'Download: ' }), ...links);
    return;
  }
  if (['succeeded', 'failed', 'canceled'].includes(t.status)) {
    $('downloads').replaceChildren();
    return;
  }
  // Not finished: say when the results come, and offer to cancel.
  const cancel = el('button', { type: 'button', class: 'cancel', text: t.cancel_requested ? 'Canceling…' : 'Cancel', 'aria-label': `Cancel ${t.filename || t.id}`,
    onclick: async () => {
      cancel.disabled = true;
      try {
        const out = await request('DELETE', `/v1/tasks/${encodeURIComponent(t.id)}`);
        if (out && shown === t.id) update(out);
      } catch (ex) {
        cancel.disabled = false;
        $('viewer-error').textContent = explain(ex);
        $('viewer-error').hidden = false;
      }
    } });
  if (t.cancel_requested) cancel.disabled = true;
  $('downloads').replaceChildren(el('span', { class: 'pending', text: `The results appear here when the task finishes (${t.status === 'queued' ? 'it is queued' : 'it is running'}).` }), cancel);
}

// words returns the page's lines of words in reading order; a recognised
// table's rows are lines and its non-empty cells words (the cell's text
// and box; the table's confidence).
export function words(page) {
  const out = [];
  for (const b of page.blocks || []) {
    if (b.table) {
      const rows = new Map();
      for (const c of b.table.cells || []) {
        if (!c.text || !c.text.trim()) continue;
        if (!rows.has(c.row)) rows.set(c.row, []);
        rows.get(c.row).push({ text: c.text, box: c.box, confidence: b.confidence, col: c.col });
      }
      for (const r of [...rows.keys()].sort((x, y) => x - y)) out.push(rows.get(r).sort((x, y) => x.col - y.col));
      continue;
    }
    for (const p of b.paragraphs || []) for (const l of p.lines || []) {
      const line = [];
      for (const w of l.words || []) line.push(w);
      out.push(line);
    }
  }
  return out;
}

// pageView draws one page: the page image (the server sends it in the
// result's frame, already turned as the engine turned it upright), a box
// per word, and the text beside.
function pageView(t, page) {
  const W = page.width, H = page.height;
  const fig = el('figure', { class: 'page', 'data-page': String(page.number) });
  const box = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Page ${page.number} with ${page.blocks ? 'its words outlined' : 'no words'}` });
  // The image is fetched when the page nears the screen (a PDF page is
  // rendered by the server for it).
  const img = svg('image', { x: 0, y: 0, width: W, height: H, preserveAspectRatio: 'none' });
  img.dataset.href = `/v1/tasks/${encodeURIComponent(t.id)}/pages/${page.number}`;
  nearScreen.observe(fig);
  img.addEventListener('load', () => { fig.dataset.loaded = 'true'; });
  img.addEventListener('error', () => { fig.dataset.loaded = 'error'; });
  box.append(img);
  const hint = 'Hover over a word, or focus the text and use the arrow keys, to see its text and confidence.';
  const info = el('p', { class: 'word-info', 'aria-live': 'polite', text: hint });
  // One tab stop for the page's words: the arrow keys move between them.
  const text = el('div', { class: 'page-text', tabindex: '0', role: 'group', 'aria-label': `Text of page ${page.number}; arrow keys move between words` });
  const pairs = [];
  const say = (w, on) => {
    info.textContent = on ? `“${w.text}” — confidence ${Math.round(w.confidence)}%` : hint;
  };
  for (const line of words(page)) {
    const lineEl = el('div', { class: 'line' });
    for (const w of line) {
      const b = w.box;
      const r = svg('rect', { x: b.x0, y: b.y0, width: Math.max(1, b.x1 - b.x0), height: Math.max(1, b.y1 - b.y0), class: 'word', 'data-text': w.text, 'data-confidence': String(w.confidence) });
      const title = svg('title');
      title.textContent = `${w.text} (${Math.round(w.confidence)}%)`;
      r.append(title);
      box.append(r);
      const span = el('span', { class: 'w', text: w.text, 'data-text': w.text });
      lineEl.append(span, ' ');
      pairs.push([r, span, w]);
    }
    text.append(lineEl);
  }
  let cursor = -1;
  const light = (i, on) => {
    if (i < 0 || i >= pairs.length) return;
    const [r, span, w] = pairs[i];
    r.classList.toggle('hot', on);
    span.classList.toggle('hot', on);
    say(w, on);
  };
  pairs.forEach(([r, span], i) => {
    r.addEventListener('mouseenter', () => light(i, true)); r.addEventListener('mouseleave', () => light(i, false));
    span.addEventListener('mouseenter', () => light(i, true)); span.addEventListener('mouseleave', () => light(i, false));
  });
  text.addEventListener('keydown', (e) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: -Infinity, End: Infinity }[e.key];
    if (step === undefined || !pairs.length) return;
    e.preventDefault();
    light(cursor, false);
    cursor = Math.max(0, Math.min(pairs.length - 1, cursor < 0 && step > 0 && step !== Infinity ? 0 : cursor + step));
    light(cursor, true);
    pairs[cursor][1].scrollIntoView({ block: 'nearest' });
  });
  text.addEventListener('blur', () => { light(cursor, false); cursor = -1; });
  fig.append(el('div', { class: 'page-image' }, box), el('div', { class: 'page-side' }, el('h2', { text: `Page ${page.number}` }), info, text));
  return fig;
}

async function showResult(t) {
  const pagesEl = $('pages');
  const rendered = $('rendered');
  const tabs = $('tabs');
  pagesEl.replaceChildren();
  rendered.replaceChildren();
  tabs.replaceChildren();
  rendered.hidden = true;
  if (t.status !== 'succeeded' || t.results_deleted_at || !t.formats.includes('json')) return;
  const doc = await get(`/v1/tasks/${encodeURIComponent(t.id)}/result?format=json`);
  if (shown !== t.id) return;
  pagesEl.replaceChildren(...doc.pages.map((p) => pageView(t, p)));
  const doc2 = t.formats.includes('html') ? 'html' : t.formats.includes('md') ? 'md' : '';
  if (t.pipeline !== 'structure' || !doc2) return;
  // The structure pipeline's document: tables and figures as rendered.
  const pick = (which) => {
    for (const b of tabs.children) b.setAttribute('aria-selected', String(b.dataset.view === which));
    pagesEl.hidden = which !== 'pages';
    rendered.hidden = which !== 'document';
  };
  tabs.append(
    el('button', { type: 'button', role: 'tab', 'data-view': 'pages', 'aria-selected': 'true', text: 'Pages and words', onclick: () => pick('pages') }),
    el('button', { type: 'button', role: 'tab', 'data-view': 'document', 'aria-selected': 'false', text: `Document (${doc2})`, onclick: () => pick('document') }));
  if (doc2 === 'html') {
    // Served by the API under the task, so its figures' bare names resolve
    // to the task's assets; sandboxed: no script of it runs. The page's
    // own stylesheet for documents (allowed by the CSP: same origin) gives
    // its tables borders; the downloaded HTML stays as it is.
    const frame = el('iframe', { src: `/v1/tasks/${encodeURIComponent(t.id)}/result?format=html`, sandbox: 'allow-same-origin', title: 'The document as HTML' });
    frame.addEventListener('load', () => {
      const d = frame.contentDocument;
      if (!d || !d.head || d.querySelector('link[data-lector]')) return;
      d.head.append(Object.assign(d.createElement('link'), { rel: 'stylesheet', href: '/ui/document.css' }));
      d.head.lastChild.dataset.lector = '';
    });
    rendered.append(frame);
  } else {
    const md = await get(`/v1/tasks/${encodeURIComponent(t.id)}/result?format=md`);
    rendered.append(markdown(md, `/v1/tasks/${encodeURIComponent(t.id)}/`));
  }
}

// safeTable rebuilds a table with spans (render.Markdown writes its HTML)
// from its table elements, spans and text only: any other element or
// attribute is dropped, no markup is inserted as HTML.
function safeTable(src) {
  const parsed = new DOMParser().parseFromString(src, 'text/html').querySelector('table');
  const keep = new Set(['TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD']);
  const copy = (n) => {
    const e = document.createElement(n.tagName.toLowerCase());
    for (const a of ['rowspan', 'colspan']) if (n.hasAttribute(a) && /^\d+$/.test(n.getAttribute(a))) e.setAttribute(a, n.getAttribute(a));
    for (const k of n.childNodes) {
      if (k.nodeType === Node.TEXT_NODE) e.append(k.textContent);
      else if (k.nodeType === Node.ELEMENT_NODE && k.tagName !== 'SCRIPT' && k.tagName !== 'STYLE') e.append(keep.has(k.tagName) ? copy(k) : k.textContent);
    }
    return e;
  };
  return parsed ? copy(parsed) : el('p', { text: src });
}

// markdown renders the Markdown Lector writes (render.Markdown: "#"/"##"
// headings, paragraphs, "- " list items, pipe tables, "---" page rules,
// "![Figure](NAME)" figures, a table with spans as its HTML) as elements,
// every text as text (a table's HTML is parsed only to copy its table
// elements, spans and text: safeTable). base is the URL the figures' names resolve
// against.
export function markdown(md, base) {
  const out = el('div', { class: 'markdown-doc' });
  const blocks = md.replace(/\r/g, '').split(/\n{2,}/);
  // Backslash escapes (CommonMark §2.4: any ASCII punctuation), as the
  // renderer writes them before text that would read as markup.
  const unesc = (t) => t.replace(/\\([!-\/:-@[-`{-~])/g, '$1');
  const cells = (line) => line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/).map((c) => unesc(c.trim()));
  for (const raw of blocks) {
    const b = raw.trim();
    if (!b) continue;
    const lines = b.split('\n');
    if (b === '---') out.append(el('hr'));
    else if (lines.length >= 2 && lines.every((l) => l.trim().startsWith('|')) && /^\|?\s*:?-{3,}/.test(lines[1].trim())) {
      const table = el('table');
      table.append(el('thead', {}, el('tr', {}, ...cells(lines[0]).map((c) => el('th', { text: c })))));
      table.append(el('tbody', {}, ...lines.slice(2).map((l) => el('tr', {}, ...cells(l).map((c) => el('td', { text: c }))))));
      out.append(table);
    } else if (/^<table[\s>]/.test(b)) out.append(safeTable(b));
    else if (/^# /.test(b)) out.append(el('h1', { text: unesc(b.slice(2)) }));
    else if (/^## /.test(b)) out.append(el('h2', { text: unesc(b.slice(3)) }));
    else if (lines.every((l) => l.startsWith('- '))) out.append(el('ul', {}, ...lines.map((l) => el('li', { text: unesc(l.slice(2)) }))));
    else if (/^!\[[^\]]*\]\(([\w.-]+)\)$/.test(b)) out.append(el('figure', {}, el('img', { src: base + b.match(/\(([\w.-]+)\)$/)[1], alt: '' })));
    else out.append(el('p', { text: unesc(b) }));
  }
  return out;
}

async function load(id) {
  const err = $('viewer-error');
  err.hidden = true;
  let t;
  try {
    t = await get(`/v1/tasks/${encodeURIComponent(id)}`);
  } catch (ex) {
    if (shown !== id) return;
    $('viewer-title').textContent = 'Task';
    $('viewer-meta').textContent = '';
    $('downloads').replaceChildren();
    $('pages').replaceChildren();
    $('tabs').replaceChildren();
    err.textContent = explain(ex);
    err.hidden = false;
    return;
  }
  if (shown !== id) return;
  update(t);
  if (!['succeeded', 'failed', 'canceled'].includes(t.status)) follow(id);
  else {
    try { await showResult(t); } catch (ex) { err.textContent = explain(ex); err.hidden = false; }
  }
}

function update(t) {
  $('viewer-title').textContent = t.filename || t.id;
  document.title = `${t.filename || t.id} — Lector`;
  $('viewer-meta').textContent = meta(t);
  $('viewer-page').dataset.status = t.status;
  downloads(t);
}

function follow(id) {
  const es = new EventSource(`/v1/tasks/${encodeURIComponent(id)}/events`);
  stream = es;
  es.onerror = () => streamFailed(es, () => { if (shown === id) load(id); }, () => stream === es);
  stream.addEventListener('status', (e) => {
    const t = JSON.parse(e.data);
    update(t);
    if (['succeeded', 'failed', 'canceled'].includes(t.status)) {
      stream.close();
      stream = null;
      showResult(t).catch((ex) => { $('viewer-error').textContent = explain(ex); $('viewer-error').hidden = false; });
    }
  });
  stream.addEventListener('progress', (e) => {
    const p = JSON.parse(e.data);
    const m = $('viewer-meta').textContent.replace(/\d+\/\d+ pages/, `${p.done}/${p.total} pages`);
    $('viewer-meta').textContent = m;
  });
}

export function show(id) {
  shown = id;
  document.title = 'Task — Lector';
  $('viewer-title').textContent = 'Task';
  $('viewer-meta').textContent = '';
  $('downloads').replaceChildren();
  $('pages').replaceChildren();
  $('pages').hidden = false;
  $('tabs').replaceChildren();
  $('rendered').hidden = true;
  delete $('viewer-page').dataset.status;
  load(id);
}

export function hide() {
  shown = null;
  nearScreen.disconnect();
  if (stream) stream.close();
  stream = null;
}
