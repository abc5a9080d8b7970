// The runtime, visible: each device's memory against the warning and
// critical lines and its level, its lanes and queue; the loaded model
// instances with references, memory and a live keep-alive countdown (with
// pin and unload); the pipelines' semaphores; and each finished task's
// estimated against actual memory. Polled once a second while shown.

import { get, request, explain, formatBytes } from './api.js';
import { el } from './tasks.js';

const $ = (id) => document.getElementById(id);
const pollMs = 1000;
let timer = null;
let ticker = null;
let instances = [];
// operator: whether this caller may pin and unload (the server's --operators).
let operator = true;
let busy = false;
let polls = 0;

function device(d, th) {
  const used = d.memory.used_bytes, total = d.memory.total_bytes || 1;
  const frac = used / total;
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const bar = el('div', { class: 'membar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(used), 'aria-label': `${d.id} memory used` });
  const fill = el('div', { class: `fill ${d.level}` });
  fill.style.width = pct(Math.min(frac, 1));
  const res = el('div', { class: 'reserved', title: 'reserved by admitted tasks' });
  res.style.left = pct(Math.min(frac, 1));
  res.style.width = pct(Math.min(d.reserved_bytes / total, Math.max(0, 1 - frac)));
  const warn = el('div', { class: 'mark warning', title: `warning at ${pct(th.warning)}` });
  warn.style.left = pct(th.warning);
  const crit = el('div', { class: 'mark critical', title: `critical at ${pct(th.critical)}` });
  crit.style.left = pct(th.critical);
  bar.append(fill, res, warn, crit);
  const s = d.service || {};
  return el('article', { class: 'device', 'data-device': d.id },
    el('h3', {}, d.id, d.name && d.name !== d.id ? ' ' : '', d.name && d.name !== d.id ? el('small', { text: d.name }) : null),
    el('p', {}, el('span', { class: `level ${d.level}`, text: d.level }),
      ` ${formatBytes(used)} of ${formatBytes(d.memory.total_bytes)} used (${pct(frac)}); warning at ${pct(th.warning)}, critical at ${pct(th.critical)}`),
    bar,
    el('p', { class: 'small', text: `reserved ${formatBytes(d.reserved_bytes)}${d.cgroup ? ` · cgroup ${d.cgroup}` : ''}` }),
    el('p', { class: 'lanes', text: `lanes: ${s.busy || 0} busy, ${s.free || 0} free of ${s.lanes || 0} · queue: ${s.queued || 0}` }));
}

// nodes shows which node answered and, on a cluster (PostgreSQL), every
// node as of its last heartbeat.
function nodes(sys) {
  $('node').textContent = sys.node ? `Devices and models of node ${sys.node}.` : '';
  if (sys.cluster_error) $('node').textContent += ` The cluster's view is missing: ${sys.cluster_error}`;
  const list = sys.nodes || [];
  $('cluster').hidden = list.length < 2;
  $('node-rows').replaceChildren(...list.map((n) => {
    const v = n.system || {};
    const devs = (v.devices || []).map((d) => `${d.id} ${d.level} ${Math.round(100 * d.memory.used_bytes / (d.memory.total_bytes || 1))}%`).join(', ');
    const ago = Math.max(0, Math.round((Date.now() - new Date(n.heartbeat_at)) / 1000));
    return el('tr', { 'data-node': n.id },
      el('td', { text: n.id + (n.id === sys.node ? ' (this one)' : '') }), el('td', { text: n.addr || n.host || '' }),
      el('td', {}, el('span', { class: `status ${n.state === 'live' ? 'succeeded' : 'failed'}`, text: n.state })),
      el('td', { text: `${ago} s ago` }), el('td', { text: devs }), el('td', { text: String((v.loaded || []).length) }));
  }));
}

// secondsLeft is an instance's keep-alive left in seconds, or null.
function secondsLeft(inst) {
  if (inst.pinned || !inst.expires_at) return null;
  return Math.max(0, (new Date(inst.expires_at) - Date.now()) / 1000);
}

// countdown is the keep-alive left as m:ss.
function countdown(inst) {
  if (inst.pinned) return 'pinned';
  const left = secondsLeft(inst);
  if (left == null) return inst.refs > 0 ? 'in use' : '';
  const s = Math.ceil(left);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function setCountdown(cell, inst) {
  cell.textContent = countdown(inst);
  const left = secondsLeft(inst);
  if (left == null) delete cell.dataset.seconds;
  else cell.dataset.seconds = left.toFixed(1);
}

// estimateError says how far the estimate was from the peak, in words:
// r.estimate_error is (estimated − peak) / peak.
function estimateError(e) {
  const pct = Math.round(Math.abs(e) * 100);
  if (pct === 0) return 'exact';
  return `${e > 0 ? '+' : '−'}${pct} % ${e > 0 ? 'over' : 'under'}`;
}

// memoryText is an instance's measured memory against its estimate.
function memoryText(inst) {
  return `${formatBytes(inst.measured_cpu_bytes)}${inst.measured_gpu_bytes ? ` + GPU ${formatBytes(inst.measured_gpu_bytes)}` : ''} / ${formatBytes(inst.estimated_bytes)}`;
}

// shownInstances is what instanceRows last drew: the rows are rebuilt only
// when it changes, so a button keeps its focus (and a pointer its target)
// across the page's once-a-second reading of the system view.
let shownInstances = '';

function instanceRows() {
  const shown = JSON.stringify([operator, instances.map((i) => [i.model, i.device, i.state, i.refs, i.pinned, i.expires_at])]);
  if (shown === shownInstances) { // the same rows: only the memory figures move
    const cells = $('instance-rows').querySelectorAll('td.memory');
    instances.forEach((inst, i) => { if (cells[i]) cells[i].textContent = memoryText(inst); });
    return;
  }
  shownInstances = shown;
  $('instance-rows').replaceChildren(...instances.map((inst) => {
    const name = `${inst.model} on ${inst.device}`;
    const pin = el('button', { type: 'button', class: 'pin', text: inst.pinned ? 'Unpin' : 'Pin', 'aria-label': `${inst.pinned ? 'Unpin' : 'Pin'} ${name}`,
      // Unpinning gives the instance the server's keep-alive again.
      onclick: () => op(`/v1/models/${encodeURIComponent(inst.model)}/load`, inst.pinned ? { device: inst.device } : { device: inst.device, keep_alive: '-1s' }) });
    const unload = el('button', { type: 'button', class: 'unload', text: 'Unload', 'aria-label': `Unload ${name}`,
      onclick: () => op(`/v1/models/${encodeURIComponent(inst.model)}/unload?device=${encodeURIComponent(inst.device)}`) });
    return el('tr', { 'data-model': inst.model, 'data-device': inst.device },
      el('td', { text: inst.model }), el('td', { text: inst.device }), el('td', { text: inst.state }),
      el('td', { text: String(inst.refs) }),
      el('td', { class: 'memory', text: memoryText(inst) }),
      (() => { const c = el('td', { class: 'countdown' }); setCountdown(c, inst); return c; })(),
      operator ? el('td', {}, pin, ' ', unload) : el('td', { text: '—', title: 'Only operators pin and unload models' }));
  }));
  $('no-instances').hidden = instances.length > 0;
  $('instances').hidden = instances.length === 0;
}

function tickCountdowns() {
  const cells = document.querySelectorAll('#instance-rows td.countdown');
  instances.forEach((inst, i) => { if (cells[i]) setCountdown(cells[i], inst); });
}

async function op(path, body) {
  try {
    await request('POST', path, body);
    poll();
  } catch (ex) {
    $('system-error').textContent = explain(ex);
    $('system-error').hidden = false;
  }
}

function estimates(list) {
  const done = list.tasks.filter((t) => t.resources && t.resources.estimated_bytes);
  $('estimate-rows').replaceChildren(...done.map((t) => {
      const r = t.resources;
      return el('tr', {},
        el('td', {}, el('a', { href: `#/tasks/${encodeURIComponent(t.id)}`, text: t.filename || t.id })),
        el('td', { text: t.model }), el('td', { text: r.device }),
        el('td', { text: formatBytes(r.estimated_bytes) }), el('td', { text: formatBytes(r.peak_bytes) }),
        el('td', { text: estimateError(r.estimate_error), title: 'the estimate against the measured peak: + over, − under' }));
    }));
  $('estimates').hidden = done.length === 0;
  $('no-estimates').hidden = done.length > 0;
}

async function poll() {
  if (busy) return;
  busy = true;
  try {
    // The loaded instances come with the system view; the finished tasks'
    // estimates change only when a task ends: read every tenth poll.
    const wantList = polls++ % 10 === 0;
    const [sys, list] = await Promise.all([get('/v1/system'), wantList ? get('/v1/tasks?limit=20') : null]);
    if (!timer) return; // hidden meanwhile
    $('system-error').hidden = true;
    $('devices').replaceChildren(...sys.devices.map((d) => device(d, sys.thresholds)));
    nodes(sys);
    instances = sys.loaded || [];
    operator = sys.operator !== false;
    instanceRows();
    $('semaphores').replaceChildren(...(sys.semaphores || []).map((s) => el('p', { class: 'semaphore', 'data-pipeline': s.pipeline,
      text: `${s.pipeline}: ${s.in_use} of ${s.limit} in use, ${s.waiting} waiting (peak ${s.peak})` })));
    if (!(sys.semaphores || []).length) $('semaphores').textContent = 'No pipeline is capped.';
    if (list) estimates(list);
  } catch (ex) {
    if (!timer) return;
    // What is shown is no longer known to be true: say so, and never
    // "No model is loaded" for a server that did not answer.
    $('system-error').textContent = `${explain(ex)} What follows is as of the last answer.`;
    $('system-error').hidden = false;
    $('no-instances').hidden = true;
  } finally {
    busy = false;
  }
}

export function show() {
  polls = 0;
  document.title = 'System — Lector';
  timer = setInterval(poll, pollMs);
  ticker = setInterval(tickCountdowns, 100);
  poll();
}

export function hide() {
  clearInterval(timer);
  clearInterval(ticker);
  timer = ticker = null;
}
