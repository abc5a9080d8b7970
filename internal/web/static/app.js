// The page's shell: the session (log in when the server has tokens), and
// a router over the URL's fragment — #/ (submit and tasks),
// #/tasks/ID (a task's viewer), #/system. Each page module has show()
// and hide() and keeps no timer or stream while hidden.

import { request, get, explain } from './api.js';
import * as tasks from './tasks.js';
import * as viewer from './viewer.js';
import * as system from './system.js';

const $ = (id) => document.getElementById(id);
const pages = ['login-page', 'tasks-page', 'viewer-page', 'system-page'];
let session = null; // {auth_required, subject}
let current = null;

function only(id) {
  for (const p of pages) $(p).hidden = p !== id;
  $('loading').hidden = true;
}

function stopCurrent() {
  if (current) current.hide();
  current = null;
}

function route() {
  stopCurrent();
  if (session.auth_required && !session.subject) {
    only('login-page');
    document.title = 'Log in — Lector';
    $('login-token').focus();
    return;
  }
  const hash = location.hash || '#/';
  let m;
  $('nav-tasks').removeAttribute('aria-current');
  $('nav-system').removeAttribute('aria-current');
  if ((m = hash.match(/^#\/tasks\/([^/]+)$/))) {
    only('viewer-page');
    current = viewer;
    viewer.show(decodeURIComponent(m[1]));
  } else if (hash === '#/system') {
    only('system-page');
    $('nav-system').setAttribute('aria-current', 'page');
    current = system;
    system.show();
  } else {
    only('tasks-page');
    $('nav-tasks').setAttribute('aria-current', 'page');
    current = tasks;
    tasks.show();
  }
}

function showSession() {
  const who = $('who');
  who.hidden = !session.subject;
  who.replaceChildren(...(session.subject ? [Object.assign(document.createElement('span'), { className: 'who-label', textContent: 'Signed in as ' }), session.subject] : []));
  $('logout').hidden = !session.subject;
}

async function loadSession() {
  session = await get('/ui/session');
  showSession();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('login-error');
  err.hidden = true;
  try {
    session = await request('POST', '/ui/login', { token: $('login-token').value });
    $('login-token').value = '';
    showSession();
    route();
  } catch (ex) {
    err.textContent = ex.code === 'unauthorized' ? 'That token is not valid on this server.' : explain(ex);
    err.hidden = false;
  }
});

$('logout').addEventListener('click', async () => {
  try { await request('POST', '/ui/logout'); } catch { /* the cookie is cleared anyway */ }
  await loadSession();
  route();
});

// A 401 from any call: the session ended (expired, server restarted).
// The page shows the login at once; the server is asked which session it
// knows only after.
window.addEventListener('lector-unauthorized', async () => {
  if (!session || !session.auth_required || !session.subject) return;
  session = { ...session, subject: '' };
  showSession();
  route();
  try { await loadSession(); } catch { /* the login page is shown already */ }
  if (session.subject) route(); // another tab logged in meanwhile
});

window.addEventListener('hashchange', route);

(async () => {
  try {
    await loadSession();
  } catch (ex) {
    $('loading').textContent = explain(ex);
    return;
  }
  route();
})();
