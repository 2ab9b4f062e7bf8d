'use strict';
// The clearing bank's console: participants' settlement accounts, the open cycle's net
// positions moving live with the chain's events, FX rates, closed cycles, and closing the
// cycle. Chain amounts arrive as decimal strings of minor units (128-bit, possibly negative):
// they are formatted as strings and compared as BigInt, never parsed as floats.

const SVG = 'http://www.w3.org/2000/svg';
const MAX_EVENTS = 50;


let loggedIn = false;
let names = new Map();   // SS58 account → participant name, for net positions and events
let openCycle = null;
let overviewTimer = null, events = null, eventsRetry = null, refetch = null;

// ---- formatting ----



const isNeg = (s) => /^-\d*[1-9]/.test(String(s));
const shortId = (s) => (s && s.length > 14 ? s.slice(0, 8) + '…' + s.slice(-4) : s || '');
const who = (account) => names.get(account) || shortId(account);
const time = (ms) => (ms == null ? '—' : new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
const clock = (ms) => new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

// ---- API ----

async function api(method, path, json) {
	// X-Console on every call: the service refuses a state change without it, which a page of
	// another origin cannot send (CSRF).
	const headers = { Accept: 'application/json', 'X-Console': '1' };
	if (json !== undefined) headers['Content-Type'] = 'application/json';
	let res, text;
	try {
		res = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), credentials: 'same-origin', cache: 'no-store' });
		text = await res.text();
	} catch (_) {
		throw new Failure('NetworkError', 'The console service could not be reached.');
	}
	let data = null;
	try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON: described below */ }
	if (res.ok) return data;
	const code = data && typeof data.code === 'string' ? data.code : 'HTTP' + res.status;
	const message = data && typeof data.message === 'string' ? data.message : res.statusText || 'The request failed.';
	if (res.status === 401 && path !== '/api/session') showLogin('Log in again: the session has ended.');
	throw new Failure(code, message, res.status);
}

function report(e) { if (loggedIn) showError('error', e); }

// ---- session ----

function showLogin(message) {
	loggedIn = false;
	clearInterval(overviewTimer);
	clearTimeout(eventsRetry);
	if (events) events.close();
	events = null;
	$('app-screen').hidden = true;
	$('login-screen').hidden = false;
	$('login-error').textContent = message || '';
	$('login-error').hidden = !message;
	$('console-password').focus();
}

function enterApp() {
	loggedIn = true;
	$('login-screen').hidden = true;
	$('app-screen').hidden = false;
	$('error').hidden = true;
	$('postings').replaceChildren();
	seen.clear();
	clearInterval(overviewTimer);
	overviewTimer = setInterval(loadOverview, 5000);
	openEvents();
}

$('console-login-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	$('login-error').hidden = true;
	const password = $('console-password').value;
	if (!password) { showError('login-error', new Failure('InvalidField', 'Enter the password.')); return; }
	$('console-login').disabled = true;
	try {
		await api('POST', '/api/session', { password });
		$('console-password').value = '';
		enterApp();
		loadOverview();
	} catch (e) {
		showError('login-error', e);
	} finally {
		$('console-login').disabled = false;
	}
});

$('console-logout').addEventListener('click', async () => {
	try { await api('DELETE', '/api/session'); } catch (_) { /* logged out here anyway */ }
	showLogin('');
});

// ---- overview ----

let loading = false, again = false;

async function loadOverview() {
	if (loading) { again = true; return; } // one at a time; the latest wish runs after
	loading = true;
	try {
		render(await api('GET', '/api/overview'));
		if ($('error').dataset.source === 'overview') $('error').hidden = true;
	} catch (e) {
		report(e);
		$('error').dataset.source = 'overview';
	} finally {
		loading = false;
		if (again) { again = false; loadOverview(); }
	}
}

// Events come in bursts (a block's worth): one overview after the burst is enough.
function scheduleOverview() {
	clearTimeout(refetch);
	refetch = setTimeout(loadOverview, 400);
}

function render(o) {
	names = new Map(o.participants.map((p) => [p.account, p.name]));
	names.set(o.clearingBank, 'Clearing bank');
	$('finalized').textContent = o.finalized ? '#' + o.finalized.number : '—';
	$('finalized').dataset.number = o.finalized ? String(o.finalized.number) : '';
	$('finalized').title = o.finalized ? o.finalized.hash : '';
	$('chain-time').textContent = o.chainTime ? time(o.chainTime) : '—';
	$('clearing-bank').textContent = shortId(o.clearingBank);
	$('clearing-bank').title = o.clearingBank;
	$('clearing-bank').dataset.account = o.clearingBank;
	renderParticipants(o.participants);
	renderOpenCycle(o.openCycle);
	renderCycles(o.closedCycles || []);
	renderFx(o.rates || []);
}

function renderParticipants(participants) {
	const currencies = [];
	for (const p of participants) for (const a of p.accounts) if (!currencies.includes(a.currency)) currencies.push(a.currency);
	const head = el('tr');
	for (const h of ['Name', 'Code', 'Role', 'Status']) head.append(el('th', null, h));
	for (const c of currencies) for (const h of ['balance', 'debit limit', 'available']) head.append(el('th', 'num', `${c} ${h}`));
	$('participants').tHead.replaceChildren(head);
	const rows = participants.map((p) => {
		const tr = el('tr');
		tr.dataset.account = p.account;
		tr.title = p.account;
		tr.append(el('td', null, p.name), el('td', 'mono', p.code), el('td', null, p.role));
		const status = el('td');
		status.append(el('span', 'badge ' + (p.status === 'active' ? 'tone-ok' : 'tone-bad'), p.status));
		tr.append(status);
		for (const c of currencies) {
			const a = p.accounts.find((x) => x.currency === c);
			for (const [cls, key] of [['balance', 'balance'], ['debit-limit', 'debitLimit'], ['available', 'available']]) {
				const td = el('td', `num amount ${cls}`, a ? money(c, a[key]) : '—');
				td.dataset.currency = c;
				if (a) { td.dataset.value = a[key]; if (isNeg(a[key])) td.classList.add('neg'); }
				tr.append(td);
			}
		}
		return tr;
	});
	if (!rows.length) rows.push(emptyRow(4 + currencies.length * 3, 'No participants registered.'));
	$('participants').tBodies[0].replaceChildren(...rows);
}

function emptyRow(span, text) {
	const tr = el('tr'), td = el('td', 'empty', text);
	td.colSpan = span;
	tr.append(td);
	return tr;
}

function renderOpenCycle(c) {
	openCycle = c;
	const h = $('open-cycle');
	h.textContent = c ? `Open cycle ${c.cycle} · ${c.entries} ${c.entries === 1 ? 'entry' : 'entries'}` : 'No open cycle';
	h.dataset.cycle = c ? String(c.cycle) : '';
	h.dataset.entries = c ? String(c.entries) : '';
	const positions = c ? [...c.netPositions] : [];
	positions.sort((a, b) => who(a.participant).localeCompare(who(b.participant)) || a.currency.localeCompare(b.currency));
	const rows = positions.map((n) => {
		const tr = el('tr');
		tr.dataset.participant = n.participant;
		tr.dataset.currency = n.currency;
		const name = el('td', null, who(n.participant));
		name.title = n.participant;
		const net = el('td', 'num amount net' + (isNeg(n.net) ? ' neg' : ''), money(n.currency, n.net, true));
		net.dataset.net = n.net;
		tr.append(name, el('td', null, n.currency), net);
		return tr;
	});
	if (!rows.length) rows.push(emptyRow(3, 'No postings in this cycle yet.'));
	$('net-positions').tBodies[0].replaceChildren(...rows);
}

function renderCycles(cycles) {
	const rows = cycles.map((c) => {
		const tr = el('tr');
		tr.dataset.cycle = String(c.cycle);
		tr.dataset.status = c.status;
		const digest = el('td', 'mono', shortId(c.digest));
		digest.title = c.digest;
		const settlement = el('td');
		settlement.append(c.settlementRef ? el('span', 'mono', c.settlementRef) : el('span', 'badge tone-wait', 'unsettled'));
		tr.append(el('td', 'num', String(c.cycle)), el('td', null, time(c.closedAt)), el('td', 'num', String(c.entries)), digest, settlement, el('td', null, time(c.settledAt)));
		return tr;
	});
	if (!rows.length) rows.push(emptyRow(6, 'No cycle closed yet.'));
	$('cycles').tBodies[0].replaceChildren(...rows);
}

// ---- FX chart: one line chart per pair, mid over publication time ----

function svg(tag, attrs, text) {
	const e = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
	if (text != null) e.textContent = text;
	return e;
}

function renderFx(rates) {
	const charts = rates.filter((r) => r.points && r.points.length).map(chart);
	if (!charts.length) {
		const empty = svg('svg', { viewBox: '0 0 560 60', role: 'img', class: 'fx-pair' });
		empty.append(svg('text', { x: 10, y: 34 }, 'No FX rate published yet.'));
		charts.push(empty);
	}
	$('fx-chart').replaceChildren(...charts);
}

function chart({ pair, points }) {
	const W = 560, H = 230, L = 70, R = 16, T = 34, B = 40;
	const name = `${pair.base}/${pair.quote}`;
	const scale = points[points.length - 1].rateScale;
	const last = points[points.length - 1];
	const out = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'fx-pair', 'data-pair': name, 'aria-label': `${name} mid rate` });
	out.append(svg('text', { x: L, y: 18, class: 'title', 'data-latest': rate4(last.mid, scale) },
		`${name} · 1 ${pair.base} = ${rate4(last.mid, scale)} ${pair.quote} (mid, ${points.length} published)`));
	// The axis bounds are BigInt; only the pixel positions are Numbers.
	let lo = points.reduce((m, p) => (BigInt(p.mid) < m ? BigInt(p.mid) : m), BigInt(points[0].mid));
	let hi = points.reduce((m, p) => (BigInt(p.mid) > m ? BigInt(p.mid) : m), BigInt(points[0].mid));
	if (lo === hi) { const pad = hi / 1000n || 1n; lo -= pad; hi += pad; }
	const t0 = points[0].publishedAt, t1 = Math.max(last.publishedAt, t0 + 1);
	const x = (t) => (points.length === 1 ? (L + W - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
	const y = (mid) => T + (1 - Number(BigInt(mid) - lo) / Number(hi - lo)) * (H - T - B);
	for (const v of [lo, (lo + hi) / 2n, hi]) {
		out.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid-line' }));
		out.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, rate4(v, scale)));
	}
	out.append(svg('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }));
	out.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis' }));
	out.append(svg('text', { x: L, y: H - B + 16, 'text-anchor': 'start' }, clock(t0)));
	if (points.length > 1) out.append(svg('text', { x: W - R, y: H - B + 16, 'text-anchor': 'end' }, clock(last.publishedAt)));
	out.append(svg('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle' }, 'published at'));
	out.append(svg('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(T + H - B) / 2})` }, `${pair.quote} per ${pair.base}`));
	out.append(svg('polyline', { class: 'line', points: points.map((p) => `${x(p.publishedAt).toFixed(1)},${y(p.mid).toFixed(1)}`).join(' ') }));
	for (const p of points) {
		const dot = svg('circle', { cx: x(p.publishedAt), cy: y(p.mid), r: 3, class: 'dot', 'data-rate-id': p.rateId });
		dot.append(svg('title', {}, `${rate4(p.mid, p.rateScale)} ${pair.quote} per ${pair.base} · rate ${p.rateId} · ${time(p.publishedAt)}`));
		out.append(dot);
	}
	return out;
}

// ---- live events ----

function live(on, text) {
	$('events-dot').classList.toggle('on', on);
	$('events-status').textContent = text || (on ? 'live' : 'reconnecting');
}

function openEvents() {
	if (events || !loggedIn) return;
	events = new EventSource('/api/events');
	events.onopen = () => live(true);
	// The console names its events `clearing`; unnamed ones are taken too.
	const take = (m) => {
		let ev;
		try { ev = JSON.parse(m.data); } catch (_) { return; }
		if (addEvent(ev)) scheduleOverview();
	};
	events.addEventListener('clearing', take);
	events.onmessage = take;
	events.onerror = () => {
		live(false);
		// The browser reconnects by itself unless the answer was an error (such as 401):
		// then the overview tells whether to log in again, and the stream is opened anew.
		if (events && events.readyState === EventSource.CLOSED) {
			events = null;
			eventsRetry = setTimeout(() => { loadOverview(); openEvents(); }, 5000);
		}
	};
}

function summary(name, f) {
	const amount = (c, a) => money(c || '', a);
	switch (name.replace(/^ClearingBank\./, '')) {
		case 'PaymentPosted':
			return `${f.acquirerOrderId} · ${who(f.issuer)} → ${who(f.acquirer)} · ${amount(f.debitCurrency, f.debitAmount)} → ${amount(f.creditCurrency, f.creditAmount)} · cycle ${f.cycle}`;
		case 'PaymentRefunded':
			return `refund ${f.refundId}${f.acquirerOrderId ? ' of ' + f.acquirerOrderId : ''} · ${who(f.acquirer)} · ${amount(f.creditCurrency, f.creditAmount)} back (payer ${amount(f.debitCurrency, f.debitAmount)}) · cycle ${f.cycle}`;
		case 'PaymentRefused':
			return `${f.acquirerOrderId} · ${who(f.acquirer)} · ${f.error}`;
		case 'AccountFunded': case 'AccountWithdrawn':
			return `${who(f.who)} · ${amount(f.currency, f.amount)} · ${f.reference} · balance ${amount(f.currency, f.balance)}`;
		case 'DebitLimitSet':
			return `${who(f.who)} · ${amount(f.currency, f.limit)}`;
		case 'CycleClosed':
			return `cycle ${f.cycle} · ${f.entries} entries · digest ${shortId(f.digest)} · next ${f.next}`;
		case 'CycleSettled':
			return `cycle ${f.cycle} · ${f.reference}`;
		case 'FxRate.RatePublished':
			// Rates are published scaled by 10^9 (the pallet's rate scale).
			return `${f.pair} · mid ${rate4(f.mid, '1000000000')} · spread ${f.spreadPpm} ppm · ${f.feeder ? 'feeder ' + who(f.feeder) : 'admin'} · rate ${f.rateId}`;
		case 'FxRate.EffectiveRateChanged':
			return `${f.pair} · ${f.rateId == null ? 'no effective rate' : 'effective rate ' + f.rateId}`;
		default:
			if (f && typeof f.detail === 'string') return f.detail.length > 240 ? f.detail.slice(0, 240) + '…' : f.detail;
			return Object.entries(f || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? who(v) : JSON.stringify(v)}`).join(' · ');
	}
}

// Each (re)connection is sent the latest events again first: those already shown are skipped.
const seen = new Set();

function addEvent(ev) {
	const key = [ev.block, ev.extrinsic, ev.index, ev.event].join(':');
	if (seen.has(key)) return false;
	seen.add(key);
	if (seen.size > 500) seen.delete(seen.values().next().value);
	const f = ev.fields || {};
	const li = el('li', 'posting-event fresh');
	li.dataset.event = ev.event;
	li.dataset.block = String(ev.block);
	const orderId = f.acquirerOrderId || f.issuerOrderId;
	if (orderId) li.dataset.orderId = orderId;
	if (f.refundId) li.dataset.refundId = f.refundId;
	const block = el('span', 'ev-block', '#' + ev.block);
	block.title = ev.blockHash || '';
	li.append(block, el('span', 'ev-name', String(ev.event).replace(/^ClearingBank\./, '')), el('span', 'ev-detail', summary(String(ev.event), f)));
	const list = $('postings');
	list.prepend(li);
	while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
	return true;
}

// ---- closing the cycle: an inline two-step confirmation ----

// The cycle the operator is asked about: the close names it, so that a cycle someone else
// closed meanwhile is not followed by a close of the next one.
let closing = null;

function askClose(asking) {
	closing = asking && openCycle ? openCycle.cycle : null;
	$('close-cycle').hidden = asking;
	for (const id of ['close-cycle-question', 'close-cycle-confirm', 'close-cycle-cancel']) $(id).hidden = !asking;
	$('close-cycle-question').textContent = openCycle ? `Close cycle ${openCycle.cycle} (${openCycle.entries} entries) now?` : 'Close the open cycle now?';
	$('close-cycle-confirm').disabled = asking && closing == null;
}

function closeResult(toneClass, status, text) {
	const box = $('close-result');
	box.className = 'status-box ' + toneClass;
	box.dataset.status = status;
	box.textContent = text;
	box.hidden = false;
}

$('close-cycle').addEventListener('click', () => askClose(true));
$('close-cycle-cancel').addEventListener('click', () => askClose(false));
$('close-cycle-confirm').addEventListener('click', async () => {
	const buttons = ['close-cycle-confirm', 'close-cycle-cancel'].map($);
	buttons.forEach((b) => { b.disabled = true; });
	closeResult('tone-wait', 'closing', 'Closing the cycle… waiting for the block to be finalized.');
	try {
		const r = await api('POST', '/api/cycles/close', { cycle: closing });
		const entries = r.entries != null ? ` with ${r.entries} ${r.entries === 1 ? 'entry' : 'entries'}` : '';
		closeResult('tone-ok', 'closed', `Cycle ${r.closedCycle} closed${entries} in block #${r.block} (${shortId(r.blockHash)}).`);
		$('close-result').dataset.cycle = String(r.closedCycle);
		$('error').hidden = true;
	} catch (e) {
		closeResult('tone-bad', 'failed', `Not closed: ${e.code}: ${e.message}`);
		$('close-result').dataset.code = e.code;
		report(e);
	} finally {
		buttons.forEach((b) => { b.disabled = false; });
		askClose(false);
		loadOverview();
	}
});

// ---- start: the cookie may still hold a session ----

(async function start() {
	try {
		const o = await api('GET', '/api/overview');
		enterApp();
		render(o);
	} catch (e) {
		if (e.status === 401) return; // api() showed the login screen
		enterApp(); // logged in, or the service is down: the page says which and keeps trying
		report(e);
		$('error').dataset.source = 'overview';
	}
})();
