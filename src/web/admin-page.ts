import { ADMIN_BASE_PATH } from './admin-common.js';

/**
 * The operator page at /admin/consent: static HTML and one script (the CSP allows no inline
 * script). It only calls the page's own JSON API; every value is set as text, never as HTML.
 * A contact is addressed by `#contact=<id>` (or `#event=<id>` from an apply job): the fragment
 * never reaches a server, and it is an id, not an email or phone. Paths are absolute, so the
 * page works with or without the trailing slash.
 */

export const ADMIN_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>consent-sync: dead letters, paused ESPs, contacts</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
.paused { color: #a00; font-weight: bold; }
.muted { color: #777; }
pre { background: #f6f6f6; padding: .5em; overflow: auto; max-height: 30em; }
</style>
</head>
<body>
<h1>consent-sync operations</h1>
<p><a href="/admin/queues">Bull Board</a> · <a href="#" id="refresh">refresh</a></p>
<p id="message" role="status"></p>
<h2>ESPs</h2>
<table id="esps"><thead><tr><th>ESP</th><th>state</th><th>why</th><th>how to resume</th><th>dead letters</th><th></th></tr></thead><tbody></tbody></table>
<h2>Dead letters</h2>
<p class="muted">Pushes an ESP refused permanently. Fix the cause at the ESP (or in the contact's data), then requeue: the push goes through the outbox like any change.</p>
<p><button type="button" id="requeue-all">Requeue all</button></p>
<table id="dead-letters"><thead><tr><th>ESP</th><th>contact</th><th>since</th><th>version</th><th>reason</th><th></th></tr></thead><tbody></tbody></table>
<h2>Find a contact</h2>
<form id="search">
<label>externalId <input name="externalId" autocomplete="off"></label>
<label>email <input name="email" type="email" autocomplete="off"></label>
<label>business unit <input name="businessUnit" autocomplete="off"></label>
<label>phone <input name="phone" autocomplete="off"></label>
<button type="submit">Find</button>
</form>
<section id="contact" hidden>
<h2>Contact <span id="contact-id"></span></h2>
<h3>Sync per ESP</h3>
<table id="sync"><thead><tr><th>ESP</th><th>status</th><th>outcome</th><th>reason</th><th>version</th></tr></thead><tbody></tbody></table>
<h3>Jobs</h3>
<table id="jobs"><thead><tr><th>queue</th><th>job</th><th>state</th><th>lane</th><th>added</th></tr></thead><tbody></tbody></table>
<h3>View</h3>
<pre id="view"></pre>
</section>
<script src="${ADMIN_BASE_PATH}/app.js"></script>
</body>
</html>
`;

export const ADMIN_PAGE_SCRIPT = `'use strict';
const api = (path, body) =>
  fetch('${ADMIN_BASE_PATH}/api/' + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-by': 'consent-sync-admin' }, body: JSON.stringify(body) })
    .then(async (res) => ({ ok: res.ok, status: res.status, body: await res.json().catch(() => ({})) }));
const $ = (id) => document.getElementById(id);
const say = (text) => { $('message').textContent = text; };
function cell(row, value) { const td = row.insertCell(); td.textContent = value === undefined || value === null ? '' : String(value); return td; }
function link(td, text, href) { const a = document.createElement('a'); a.textContent = text; a.href = href; td.replaceChildren(a); }
function button(td, text, onClick) { const b = document.createElement('button'); b.type = 'button'; b.textContent = text; b.addEventListener('click', onClick); td.replaceChildren(b); }
function problem(r) { return r.body.message + (r.body.problems ? ': ' + r.body.problems.map((p) => p.field + ' ' + p.rule).join('; ') : ''); }

async function loadStatus() {
  const r = await api('status');
  const body = $('esps').tBodies[0];
  body.replaceChildren();
  for (const s of r.body.esps || []) {
    const row = body.insertRow();
    cell(row, s.esp);
    const state = cell(row, s.paused ? 'PAUSED' + (s.pausedAt ? ' since ' + s.pausedAt : '') : 'running');
    if (s.paused) state.className = 'paused';
    cell(row, s.reason || (s.paused ? 'no reason recorded (paused outside consent-sync?)' : ''));
    cell(row, s.resume || '');
    cell(row, s.deadLetters);
    const action = cell(row, '');
    if (s.paused) button(action, 'Resume', async () => {
      const res = await api('esps/' + encodeURIComponent(s.esp) + '/resume', {});
      say(res.ok ? s.esp + ' resumed' : problem(res));
      refresh();
    });
  }
}

async function loadDeadLetters() {
  const r = await api('dead-letters');
  const body = $('dead-letters').tBodies[0];
  body.replaceChildren();
  for (const d of r.body.deadLetters || []) {
    const row = body.insertRow();
    cell(row, d.esp);
    link(cell(row, ''), d.contactId, '#contact=' + encodeURIComponent(d.contactId));
    cell(row, d.at);
    cell(row, d.version);
    cell(row, d.reason);
    button(cell(row, ''), 'Requeue', async () => {
      const res = await api('dead-letters/requeue', { esp: d.esp, contactId: d.contactId });
      say(res.ok ? res.body.total + ' requeued' : problem(res));
      refresh();
    });
  }
}

async function showContact(contactId) {
  const r = await api('contacts/' + encodeURIComponent(contactId));
  if (!r.ok) { say(problem(r)); return; }
  $('contact').hidden = false;
  $('contact-id').textContent = contactId;
  const sync = $('sync').tBodies[0];
  sync.replaceChildren();
  for (const [esp, s] of Object.entries(r.body.contact.sync || {})) {
    const row = sync.insertRow();
    cell(row, esp); cell(row, s.status); cell(row, s.outcome); cell(row, s.reason); cell(row, s.version);
  }
  const jobs = $('jobs').tBodies[0];
  jobs.replaceChildren();
  for (const j of r.body.jobs || []) {
    const row = jobs.insertRow();
    cell(row, j.queue);
    link(cell(row, ''), j.jobId, j.boardPath);
    cell(row, j.state); cell(row, j.lane); cell(row, j.addedAt);
  }
  $('view').textContent = JSON.stringify(r.body.contact, null, 2);
}

async function route() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('contact')) return showContact(hash.get('contact'));
  if (hash.get('event')) {
    const r = await api('events/' + encodeURIComponent(hash.get('event')));
    if (!r.ok) return say(problem(r));
    if (!r.body.contactId) return say('event ' + r.body.eventId + ' is ' + r.body.status + ' and not yet applied to a contact');
    location.hash = 'contact=' + encodeURIComponent(r.body.contactId);
  }
}

function refresh() { loadStatus(); loadDeadLetters(); }

$('refresh').addEventListener('click', (e) => { e.preventDefault(); refresh(); route(); });
$('requeue-all').addEventListener('click', async () => {
  const res = await api('dead-letters/requeue', { all: true });
  say(res.ok ? res.body.total + ' requeued' : problem(res));
  refresh();
});
$('search').addEventListener('submit', async (e) => {
  e.preventDefault();
  const identity = {};
  for (const [k, v] of new FormData(e.target).entries()) if (String(v).trim() !== '') identity[k] = String(v).trim();
  const r = await api('contacts/search', identity);
  if (!r.ok) return say(problem(r));
  say('');
  location.hash = 'contact=' + encodeURIComponent(r.body.contactId);
});
window.addEventListener('hashchange', route);
refresh();
route();
`;
