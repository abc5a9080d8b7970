// Submit and follow: the upload form (drop or pick files; pipeline, model,
// priority, formats) and the caller's tasks, newest first, a page at a
// time, kept live by the server-sent events of GET /v1/events.

import { request, get, explain, formatBytes, streamFailed } from './api.js';

const $ = (id) => document.getElementById(id);
const pageSize = 20;
let catalog = null;
let stream = null;
let cursors = ['']; // cursor of each page seen; the last is the current page's
let next = '';
let rows = new Map(); // id → task on the current page
let formatsTouched = false;
let maxInputBytes = 0; // the server's limit, when known (GET /v1/system)
let ticker = null;
const isFinal = (t) => ['succeeded', 'failed', 'canceled'].includes(t.status);

export const statusWords = {
  queued: 'queued', running: 'running', succeeded: 'succeeded', failed: 'failed', canceled: 'canceled',
};

export function ms(v) {
  if (v == null) return '';
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(1)} s`;
  return `${Math.floor(v / 60000)} min ${Math.round((v % 60000) / 1000)} s`;
}

// taskTime is how long a task ran, or for a running one how long it has
// been running (kept current by a ticker while the list is shown).
export function taskTime(t, now = Date.now()) {
  if (t.resources && t.resources.run_ms != null && t.status !== 'queued' && t.status !== 'running') return ms(t.resources.run_ms);
  if (t.started_at && t.finished_at) return ms(new Date(t.finished_at) - new Date(t.started_at));
  if (t.status === 'running' && t.started_at) return `${elapsed(now - new Date(t.started_at))} so far`;
  return '';
}

// elapsed is a running time as m:ss.
function elapsed(v) {
  const s = Math.max(0, Math.floor(v / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// taskDevice is where the task runs or ran when the API says (its
// resources), else the device asked for; "auto" is not a place.
export function taskDevice(t) {
  if (t.resources && t.resources.device) return t.resources.device;
  if (t.device && t.device !== 'auto') return t.device;
  return isFinal(t) ? '' : 'any';
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
export { el };

function row(t) {
  const final = ['succeeded', 'failed', 'canceled'].includes(t.status);
  const name = t.filename || t.id;
  const status = el('span', { class: `status ${t.status}`, text: t.status + (t.cancel_requested && !final ? ' (canceling)' : '') });
  const statusCell = el('td', {}, status);
  if (t.error && t.status !== 'succeeded') statusCell.append(el('div', { class: 'small', text: t.error.message }));
  const total = t.pages.total || 0;
  const pagesCell = el('td', {},
    el('progress', { max: String(Math.max(total, 1)), value: String(t.pages.done), 'aria-label': `${name}: ${t.pages.done} of ${total} pages` }),
    el('span', { class: 'pages', text: ` ${t.pages.done}/${total}` }));
  const dev = taskDevice(t);
  const devCell = el('td', { text: dev });
  if (dev === 'any') devCell.title = 'the server places it; the device is shown once it has run';
  if (t.resources && t.resources.fallback) devCell.append(' ', el('span', { class: 'badge', text: 'fallback', title: 'ran here because the device meant for it did not admit it' }));
  const action = final
    ? el('button', { type: 'button', class: 'delete', text: 'Delete', 'aria-label': `Delete ${name}`, onclick: () => act(t, 'delete') })
    : el('button', { type: 'button', class: 'cancel', text: 'Cancel', 'aria-label': `Cancel ${name}`, onclick: () => act(t, 'cancel') });
  if (t.cancel_requested && !final) action.disabled = true;
  const tr = el('tr', { 'data-id': t.id, 'data-status': t.status },
    el('td', {}, el('a', { href: `#/tasks/${encodeURIComponent(t.id)}`, text: name })),
    statusCell, pagesCell,
    el('td', { text: t.model }),
    devCell,
    el('td', { class: 'time', text: taskTime(t) }),
    el('td', {}, el('time', { datetime: t.created_at, text: new Date(t.created_at).toLocaleString() })),
    el('td', {}, action));
  return tr;
}

async function act(t, what) {
  const msgs = $('submit-messages');
  const name = t.filename || t.id;
  // Deleting loses the results: asked first. Canceling is not.
  if (what === 'delete' && !window.confirm(`Delete ${name} and its results?`)) return;
  try {
    const out = await request('DELETE', `/v1/tasks/${encodeURIComponent(t.id)}`);
    if (out === null) {
      // Focus goes to the next row's action (else the previous row's,
      // else the list's heading), not to the page's top.
      const trs = [...$('task-rows').children];
      const i = trs.findIndex((r) => r.dataset.id === t.id);
      const nextId = (trs[i + 1] || trs[i - 1] || {}).dataset?.id;
      remove(t.id);
      const target = nextId && $('task-rows').querySelector(`tr[data-id="${CSS.escape(nextId)}"] button`);
      if (target) target.focus();
      else { $('list-title').tabIndex = -1; $('list-title').focus(); }
    } else upsert(out);
  } catch (ex) {
    msgs.replaceChildren(el('li', { class: 'error', text: `${what === 'delete' ? 'Deleting' : 'Canceling'} ${t.filename || t.id}: ${explain(ex)}` }));
  }
}

function render() {
  const body = $('task-rows');
  const list = [...rows.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1));
  body.replaceChildren(...list.map(row));
  $('no-tasks').hidden = list.length > 0;
  $('task-table').hidden = list.length === 0;
  $('newer').disabled = cursors.length <= 1;
  $('older').disabled = !next;
}


// fresher picks between two readings of a task that may arrive out of
// order (a list fetched while events flow): an ended task never goes back
// to running, and pages done never go down.
function fresher(old, t) {
  if (!old) return t;
  if (isFinal(old) && !isFinal(t)) return old;
  if (!isFinal(t) && old.status === t.status && old.pages.done > t.pages.done) return old;
  return t;
}

function upsert(t) {
  if (rows.has(t.id)) rows.set(t.id, fresher(rows.get(t.id), t));
  else if (cursors.length === 1) {
    // New (or not yet listed) on the first page: newest first, so it
    // belongs at the top; the page keeps its size.
    rows.set(t.id, t);
    if (rows.size > pageSize) {
      loadPage(); // the page's last task moves to the next page
      return;
    }
  } else return; // on a later page: not shown here
  render();
}

function remove(id) {
  if (rows.delete(id)) render();
}

async function loadPage() {
  const cursor = cursors[cursors.length - 1];
  try {
    const list = await get(`/v1/tasks?limit=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const prev = rows;
    rows = new Map(list.tasks.map((t) => [t.id, fresher(prev.get(t.id), t)]));
    if (cursors.length === 1) {
      // Tasks an event announced after the list was read stay on top.
      const newest = list.tasks.length ? list.tasks[0].created_at : '';
      for (const t of prev.values()) if (!rows.has(t.id) && t.created_at > newest) rows.set(t.id, t);
    }
    next = list.next || '';
    render();
    // For measuring the first load (docs/BENCHMARKS.md): the list is on screen.
    if (!performance.getEntriesByName('lector-list').length) performance.mark('lector-list');
  } catch (ex) {
    $('submit-messages').replaceChildren(el('li', { class: 'error', text: explain(ex) }));
  }
}

function openStream() {
  stream = new EventSource('/v1/events');
  stream.addEventListener('ready', () => { $('live').classList.add('on'); loadPage(); });
  stream.addEventListener('task', (e) => upsert(JSON.parse(e.data)));
  stream.addEventListener('deleted', (e) => remove(JSON.parse(e.data).id));
  stream.addEventListener('reset', () => loadPage()); // changes may have been missed
  const es = stream;
  es.onerror = () => {
    $('live').classList.remove('on'); // EventSource reconnects by itself after a network error
    streamFailed(es, openStream, () => stream === es);
  };
}

function fillModels() {
  const pipeline = $('pipeline').value;
  const sel = $('model');
  const models = (catalog || []).filter((m) => (pipeline === 'structure') === m.name.startsWith('structure:'));
  const opts = [];
  if (pipeline !== 'structure') opts.push(el('option', { value: '', text: 'server default (tesseract:eng)' }));
  for (const m of models) opts.push(el('option', { value: m.name, text: m.description ? `${m.name} — ${m.description}` : m.name }));
  sel.replaceChildren(...opts);
  if (pipeline === 'structure') sel.value = models.some((m) => m.name === 'structure:default') ? 'structure:default' : (models[0] || {}).name || '';
  modelChanged();
}

// defaultFormats mirrors the server's choice when a submission names no
// formats (service.DefaultFormats): json, txt, md and hocr for ocr; json,
// txt, md and html for structure; a searchable PDF too for a PDF input —
// each only when the model makes it (the catalog's formats).
export function defaultFormats(pipeline, makes, anyPDF) {
  const want = pipeline === 'structure' ? ['json', 'txt', 'md', 'html'] : ['json', 'txt', 'md', 'hocr'];
  if (anyPDF) want.push('pdf');
  return want.filter((f) => f === 'json' || makes.includes(f));
}

const isPDF = (f) => f.type === 'application/pdf' || /\.pdf$/i.test(f.name);

// showFormats ticks exactly the formats a submission will ask for: the
// defaults for the pipeline, model and chosen files until the user ticks
// a box, and what the model cannot make never.
function showFormats() {
  const m = (catalog || []).find((x) => x.name === $('model').value);
  const makes = m ? m.formats : ['json', 'txt', 'md', 'html', 'hocr', 'pdf'];
  const files = dropped || [...$('files').files];
  const want = defaultFormats($('pipeline').value, makes, files.some(isPDF));
  for (const box of document.querySelectorAll('#formats input')) {
    const ok = makes.includes(box.value);
    box.disabled = box.value === 'json' || !ok;
    if (!ok) box.checked = false;
    else if (!formatsTouched || box.value === 'json') box.checked = want.includes(box.value);
  }
}

function modelChanged() {
  formatsTouched = false; // another model's defaults
  showFormats();
}

function chosen() {
  const files = [...$('files').files];
  $('chosen').replaceChildren(...files.map((f) => el('li', { text: `${f.name} (${formatBytes(f.size)})` })));
  return files;
}

let dropped = null;

async function submit(e) {
  e.preventDefault();
  const files = dropped || [...$('files').files];
  const msgs = $('submit-messages');
  if (!files.length) {
    msgs.replaceChildren(el('li', { class: 'error', text: 'Choose or drop at least one image or PDF first.' }));
    return;
  }
  msgs.replaceChildren();
  $('submit-button').disabled = true;
  const formats = [...document.querySelectorAll('#formats input:checked')].map((b) => b.value);
  for (const f of files) {
    if (maxInputBytes && f.size > maxInputBytes) {
      // Not sent: the server would refuse it after the whole upload.
      msgs.append(el('li', { class: 'error', text: `${f.name}: This file is too large for this server (${formatBytes(f.size)}; the limit is ${formatBytes(maxInputBytes)}).` }));
      continue;
    }
    const fd = new FormData();
    fd.append('pipeline', $('pipeline').value);
    if ($('model').value) fd.append('model', $('model').value);
    fd.append('priority', $('priority').value);
    fd.append('formats', formats.join(',')); // exactly what the form shows
    fd.append('file', f, f.name);
    try {
      const t = await request('POST', '/v1/tasks', fd);
      upsert(t);
      msgs.append(el('li', { class: 'ok', text: `${f.name}: queued.` }));
    } catch (ex) {
      msgs.append(el('li', { class: 'error', text: `${f.name}: ${explain(ex)}` }));
    }
  }
  $('submit-button').disabled = false;
  dropped = null;
  $('files').value = '';
  $('chosen').replaceChildren();
  showFormats();
}

let wired = false;
function wire() {
  if (wired) return;
  wired = true;
  $('submit-form').addEventListener('submit', submit);
  $('files').addEventListener('change', () => { dropped = null; chosen(); showFormats(); });
  $('pipeline').addEventListener('change', fillModels);
  $('model').addEventListener('change', modelChanged);
  for (const box of document.querySelectorAll('#formats input')) box.addEventListener('change', () => { formatsTouched = true; });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    dropped = [...e.dataTransfer.files];
    $('chosen').replaceChildren(...dropped.map((f) => el('li', { text: `${f.name} (${formatBytes(f.size)})` })));
    showFormats();
  });
  $('older').addEventListener('click', () => { if (next) { cursors.push(next); loadPage(); } });
  $('newer').addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); loadPage(); } });
}

export async function show() {
  wire();
  document.title = 'Tasks — Lector';
  if (!catalog) {
    try {
      const [models, sys] = await Promise.all([get('/v1/models'), get('/v1/system')]);
      catalog = models.catalog;
      maxInputBytes = sys.max_input_bytes || 0;
    } catch (ex) {
      catalog = [];
      $('submit-messages').replaceChildren(el('li', { class: 'error', text: explain(ex) }));
    }
    fillModels();
  }
  openStream();
  // A running task's time counts up.
  ticker = setInterval(() => {
    for (const tr of $('task-rows').querySelectorAll('tr[data-status="running"]')) {
      const t = rows.get(tr.dataset.id);
      const cell = tr.querySelector('td.time');
      if (t && cell) cell.textContent = taskTime(t);
    }
  }, 1000);
}

export function hide() {
  clearInterval(ticker);
  ticker = null;
  if (stream) stream.close();
  stream = null;
  // Nothing of this session stays on the page (the next may be another
  // subject's).
  rows = new Map();
  cursors = [''];
  next = '';
  render();
  $('live').classList.remove('on');
}
