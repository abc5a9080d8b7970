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
let busy = false;

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
    el('h3', {}, `${d.id} `, el('small', { text: d.name || '' })),
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

function countdown(inst) {
  if (inst.pinned) return 'pinned';
  if (!inst.expires_at) return inst.refs > 0 ? 'in use' : '';
  const left = Math.max(0, (new Date(inst.expires_at) - Date.now()) / 1000);
  return `${left.toFixed(1)} s`;
}

function instanceRows() {
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
      el('td', { text: `${formatBytes(inst.measured_cpu_bytes)}${inst.measured_gpu_bytes ? ` + GPU ${formatBytes(inst.measured_gpu_bytes)}` : ''} / ${formatBytes(inst.estimated_bytes)}` }),
      el('td', { class: 'countdown', text: countdown(inst) }),
      el('td', {}, pin, ' ', unload));
  }));
  $('no-instances').hidden = instances.length > 0;
}

function tickCountdowns() {
  const cells = document.querySelectorAll('#instance-rows td.countdown');
  instances.forEach((inst, i) => { if (cells[i]) cells[i].textContent = countdown(inst); });
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

async function poll() {
  if (busy) return;
  busy = true;
  try {
    const [sys, models, list] = await Promise.all([get('/v1/system'), get('/v1/models'), get('/v1/tasks?limit=20')]);
    if (!timer) return; // hidden meanwhile
    $('system-error').hidden = true;
    $('devices').replaceChildren(...sys.devices.map((d) => device(d, sys.thresholds)));
    nodes(sys);
    instances = models.loaded;
    instanceRows();
    $('semaphores').replaceChildren(...(sys.semaphores || []).map((s) => el('p', { class: 'semaphore', 'data-pipeline': s.pipeline,
      text: `${s.pipeline}: ${s.in_use} of ${s.limit} in use, ${s.waiting} waiting (peak ${s.peak})` })));
    if (!(sys.semaphores || []).length) $('semaphores').textContent = 'No pipeline is capped.';
    const done = list.tasks.filter((t) => t.resources && t.resources.estimated_bytes);
    $('estimate-rows').replaceChildren(...done.map((t) => {
      const r = t.resources;
      return el('tr', {},
        el('td', {}, el('a', { href: `#/tasks/${encodeURIComponent(t.id)}`, text: t.filename || t.id })),
        el('td', { text: t.model }), el('td', { text: r.device }),
        el('td', { text: formatBytes(r.estimated_bytes) }), el('td', { text: formatBytes(r.peak_bytes) }),
        el('td', { text: `${(r.estimate_error * 100).toFixed(0)}%` }));
    }));
  } catch (ex) {
    $('system-error').textContent = explain(ex);
    $('system-error').hidden = false;
  } finally {
    busy = false;
  }
}

export function show() {
  timer = setInterval(poll, pollMs);
  ticker = setInterval(tickCountdowns, 100);
  poll();
}

export function hide() {
  clearInterval(timer);
  clearInterval(ticker);
  timer = ticker = null;
}
