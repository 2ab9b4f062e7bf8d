'use strict';
// The merchant's till: charge a customer's payment code, show a QR code for one sale, print
// the shop's fixed code, and see, refund, cancel or close today's orders. Amounts are integer
// fen (CNY minor units); typed amounts are split as strings, never read as floats.

const FINAL = new Set(['SUCCESS', 'FAILED', 'CLOSED']);
const TOKEN = 'clearline.till.token';
const KIND = { customer_presented: 'Customer code', dynamic_qr: 'QR (this sale)', static_qr: 'Shop code', in_app: 'In-app' };
const STATE = {
	AWAITING_PAYMENT: 'Waiting for payment', DEBIT_REQUESTED: 'Asking the wallet', USERPAYING: 'Customer confirming',
	POSTING: 'Settling', SUCCESS: 'Paid', FAILED: 'Failed', UNKNOWN: 'Being checked', CLOSED: 'Closed',
	REFUND: 'Refunded', PARTIAL_REFUND: 'Partly refunded',
};


let token = sessionStorage.getItem(TOKEN);

// ---- money ----


const cny = (minor) => money('CNY', minor);

// The form the amount field takes: "12.34", no thousands separators.
function plain(minor) {
	const s = String(minor).padStart(3, '0');
	return s.slice(0, -2) + '.' + s.slice(-2);
}



// One key per press of a button; a press retried after an answer that may not have been the
// server's last word (no answer, busy, server error) keeps its key, so nothing happens twice.
const attempts = new Map();
function requestIdFor(action, key) {
	const a = attempts.get(action);
	if (a && a.key === key && a.retry) return a.requestId;
	const fresh = { key, requestId: newRequestId(), retry: false };
	attempts.set(action, fresh);
	return fresh.requestId;
}
function settled(action, e) {
	const a = attempts.get(action);
	if (a) a.retry = !!e && (e.status === 0 || e.status === 409 || e.status >= 500);
}

const tone = (s) => (s === 'SUCCESS' ? 'tone-ok' : s === 'FAILED' || s === 'CLOSED' ? 'tone-bad' : s === 'REFUND' || s === 'PARTIAL_REFUND' ? '' : 'tone-wait');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- API ----

async function api(method, path, json) {
	const headers = { Accept: 'application/json' };
	if (token) headers.Authorization = 'Bearer ' + token;
	if (json !== undefined) headers['Content-Type'] = 'application/json';
	let res, text;
	try {
		res = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), cache: 'no-store' });
		text = await res.text();
	} catch (_) {
		throw new Failure('NetworkError', 'The till service could not be reached; check the connection and try again.');
	}
	let data = null;
	try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON: described below */ }
	if (res.ok) return data;
	const code = data && typeof data.code === 'string' ? data.code : 'HTTP' + res.status;
	const message = data && typeof data.message === 'string' ? data.message : res.statusText || 'The request failed.';
	if (res.status === 401 && token) endSession('Your session has ended; log in again.');
	throw new Failure(code, message, res.status);
}

function report(e) { if (token) { showError('error', e); $('notice').hidden = true; } }
function notice(text) { $('error').hidden = true; $('notice').textContent = text; $('notice').hidden = false; }

// ---- session ----

let refreshTimer = null;

async function enterApp() {
	$('login-screen').hidden = true;
	$('app-screen').hidden = false;
	$('error').hidden = $('notice').hidden = true;
	try {
		const m = await api('GET', '/till/v1/merchant');
		$('merchant-name').textContent = m.name;
		$('merchant-info').textContent = `${m.city} · ${m.merchantId}`;
		$('static-name').textContent = m.name;
		$('static-city').textContent = m.city;
		if (m.staticQr) $('static-qr-svg').innerHTML = stripXml(m.staticQr.qrSvg); // the service's own SVG
	} catch (e) { report(e); }
	if (!token) return; // the stored session had ended: the login screen is up
	refreshOrders();
	clearInterval(refreshTimer);
	refreshTimer = setInterval(refreshOrders, 3000);
	$('amount').focus();
}

function endSession(message) {
	clearInterval(refreshTimer);
	token = null;
	follows.charge++; follows.panel++;
	sessionStorage.removeItem(TOKEN);
	$('app-screen').hidden = true;
	$('order-panel').hidden = true;
	$('login-screen').hidden = false;
	$('orders').tBodies[0].replaceChildren();
	$('till-password').value = '';
	$('login-error').textContent = message;
	$('login-error').hidden = !message;
}

$('till-login-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	$('login-error').hidden = true;
	const merchantId = $('till-merchant').value.trim(), password = $('till-password').value;
	if (!merchantId || !password) { showError('login-error', new Failure('InvalidField', 'Enter the merchant ID and the password.')); return; }
	$('till-login').disabled = true;
	try {
		const s = await api('POST', '/till/v1/sessions', { merchantId, password });
		token = s.token;
		sessionStorage.setItem(TOKEN, token);
		$('till-password').value = '';
		enterApp();
	} catch (e) {
		showError('login-error', e);
	} finally {
		$('till-login').disabled = false;
	}
});

// The till forgets the session at once; the service is told after, and if it is not reached
// the token simply expires.
$('till-logout').addEventListener('click', () => {
	const old = token;
	endSession('');
	if (old) fetch('/till/v1/sessions/current', { method: 'DELETE', headers: { Authorization: 'Bearer ' + old } }).catch(() => {});
});

// ---- a sale ----

function sale() {
	const amount = parseAmount($('amount').value);
	const description = $('description').value.trim();
	return description ? { amount, description } : { amount };
}

// Each follow has a number; starting another (or logging out) makes the old one stop.
const follows = { charge: 0, panel: 0 };

async function follow(kind, order, show) {
	const me = ++follows[kind];
	show(order);
	while (!FINAL.has(order.status)) {
		await sleep(1000);
		if (follows[kind] !== me) return;
		try { order = await api('GET', '/till/v1/orders/' + encodeURIComponent(order.orderId)); }
		catch (e) { if (e.status === 0 || e.status === 429 || e.status >= 500) continue; report(e); return; }
		if (follows[kind] !== me) return;
		show(order);
	}
	refreshOrders();
}

function showState(box, o, headline) {
	box.dataset.status = o.status;
	box.dataset.orderId = o.orderId;
	box.className = 'status-box ' + tone(o.status);
	const detail = cny(o.amount) + (o.reason && o.status !== 'SUCCESS' ? ' · ' + o.reason : '') + ' · ' + o.orderId;
	box.replaceChildren(el('span', 'headline', headline || STATE[o.status] || o.status), el('span', 'detail', detail));
	box.hidden = false;
}

let charging = false;

async function charge() {
	if (charging) return; // a scanner's second Enter is not a second sale
	try {
		const body = sale();
		const authCode = $('auth-code').value.replace(/\s+/g, '');
		if (!/^\d+$/.test(authCode)) throw new Failure('InvalidAuthCode', "Scan the customer's payment code (digits only).");
		charging = true;
		$('charge').disabled = true;
		const box = $('charge-state');
		box.className = 'status-box tone-wait';
		box.dataset.status = '';
		box.dataset.orderId = '';
		box.replaceChildren(el('span', 'headline', 'Charging…'), el('span', 'detail', cny(body.amount)));
		box.hidden = false;
		const requestId = requestIdFor('charge', JSON.stringify([authCode, body]));
		let order;
		try {
			order = await api('POST', '/till/v1/charges', { requestId, authCode, ...body });
			settled('charge');
		} catch (e) {
			settled('charge', e);
			box.hidden = true;
			throw e;
		}
		$('auth-code').value = '';
		$('error').hidden = true;
		follow('charge', order, (o) => showState(box, o));
	} catch (e) {
		report(e);
	} finally {
		charging = false;
		$('charge').disabled = false;
		$('auth-code').focus();
	}
}

$('charge').addEventListener('click', charge);
$('auth-code').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); charge(); } });

// ---- a QR code for one sale ----

let panelOrder = null;

function showPanel(o) {
	panelOrder = o;
	const paid = o.status === 'SUCCESS';
	showState($('order-state'), o, paid ? 'Paid' : null);
	$('order-close').hidden = o.status !== 'AWAITING_PAYMENT';
	if (FINAL.has(o.status)) $('order-qr').classList.add('used');
}

$('show-qr').addEventListener('click', async () => {
	const button = $('show-qr');
	try {
		const body = sale();
		button.disabled = true;
		const requestId = requestIdFor('qr', JSON.stringify(body));
		let order;
		try { order = await api('POST', '/till/v1/orders', { requestId, ...body }); settled('qr'); }
		catch (e) { settled('qr', e); throw e; }
		$('error').hidden = true;
		$('order-amount').textContent = cny(order.amount);
		$('order-qr').innerHTML = stripXml(order.qrSvg); // the service's own SVG
		$('order-qr').classList.remove('used');
		$('order-qr').dataset.codeUrl = order.codeUrl || '';
		$('order-panel').hidden = false;
		follow('panel', order, showPanel);
		refreshOrders();
	} catch (e) {
		report(e);
	} finally {
		button.disabled = false;
	}
});

$('order-close').addEventListener('click', async () => {
	if (!panelOrder) return;
	try {
		const o = await api('POST', `/till/v1/orders/${encodeURIComponent(panelOrder.orderId)}/close`, {});
		follow('panel', o, showPanel);
	} catch (e) { report(e); showPanelError(e); }
});

// The panel covers the page, so its errors are shown on it too.
function showPanelError(e) {
	const box = $('order-state');
	box.append(el('span', 'detail tone-bad', `${e.code}: ${e.message}`));
}

$('order-done').addEventListener('click', () => {
	follows.panel++;
	panelOrder = null;
	$('order-panel').hidden = true;
	$('order-qr').replaceChildren();
	refreshOrders();
	$('amount').focus();
});

// ---- the shop's fixed code ----

$('print-static').addEventListener('click', () => window.print());

// ---- today's orders ----

let refreshing = false;

async function refreshOrders() {
	if (!token || refreshing) return;
	refreshing = true;
	try {
		const midnight = new Date();
		midnight.setHours(0, 0, 0, 0);
		renderOrders(await api('GET', '/till/v1/orders?since=' + midnight.getTime()));
	} catch (e) {
		if (e.status !== 0 && e.status !== 429) report(e);
	} finally {
		refreshing = false;
	}
}

const rowKey = (o) => [o.status, o.tradeState, o.refundedAmount, o.cancelRequested].join('|');

// Rows are updated in place and only when their order changed, so that a refund amount
// being typed is not wiped by the 3-second refresh.
function renderOrders(orders) {
	const body = $('orders').tBodies[0];
	const keep = new Set(orders.map((o) => o.orderId));
	for (const tr of [...body.rows]) if (!keep.has(tr.dataset.orderId)) tr.remove();
	if (!orders.length) {
		const tr = body.insertRow();
		const td = tr.insertCell(); td.colSpan = 6; td.className = 'empty'; td.textContent = 'No orders yet today.';
		return;
	}
	orders.forEach((o, i) => {
		let tr = [...body.rows].find((r) => r.dataset.orderId === o.orderId);
		if (!tr || tr.dataset.rowKey !== rowKey(o)) {
			const fresh = orderRow(o);
			const typed = tr && tr.querySelector('.refund-amount[data-edited]');
			const input = fresh.querySelector('.refund-amount');
			if (typed && input) { input.value = typed.value; input.dataset.edited = '1'; }
			if (tr) tr.replaceWith(fresh);
			tr = fresh;
		}
		if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
	});
}

function orderRow(o) {
	const tr = document.createElement('tr');
	Object.assign(tr.dataset, { orderId: o.orderId, status: o.status, tradeState: o.tradeState || o.status, scenario: o.scenario, rowKey: rowKey(o) });
	const cell = (text, cls) => { const td = tr.insertCell(); if (cls) td.className = cls; if (text != null) td.textContent = text; return td; };
	const time = new Date(o.createdAt);
	cell(time.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }), 'amount').title = o.orderId;
	cell(KIND[o.scenario] || o.scenario);
	cell(cny(o.amount), 'num amount');
	const state = o.tradeState || o.status;
	const badge = el('span', 'badge ' + tone(state), STATE[state] || state);
	if (o.reason) badge.title = o.reason;
	cell().append(badge);
	cell(o.refundedAmount > 0 ? cny(o.refundedAmount) : '—', 'num amount');
	const actions = cell(null, 'actions-cell');
	const button = (cls, text, extra = '') => {
		const b = el('button', `${cls} small ${extra}`, text);
		b.type = 'button';
		b.dataset.orderId = o.orderId;
		actions.append(b);
	};
	const remaining = o.amount - (o.refundedAmount || 0);
	if (o.status === 'SUCCESS' && remaining > 0) {
		const input = el('input', 'refund-amount');
		Object.assign(input, { type: 'text', inputMode: 'decimal', value: plain(remaining), autocomplete: 'off' });
		input.setAttribute('aria-label', 'Refund amount (CNY)');
		input.dataset.orderId = o.orderId;
		actions.append(input);
		button('refund', 'Refund', 'secondary');
	}
	// Cancelling a customer-code sale stops it if not yet settled and refunds it if settled.
	if (o.scenario === 'customer_presented' && (!FINAL.has(o.status) || (o.status === 'SUCCESS' && remaining > 0))) {
		button('cancel', 'Cancel', 'danger');
	}
	if (o.status === 'AWAITING_PAYMENT') button('close', 'Close', 'danger');
	return tr;
}

$('orders').addEventListener('input', (ev) => {
	if (ev.target.classList.contains('refund-amount')) ev.target.dataset.edited = '1';
});

$('orders').addEventListener('click', async (ev) => {
	const b = ev.target.closest('button');
	if (!b || !b.dataset.orderId) return;
	const id = b.dataset.orderId, path = '/till/v1/orders/' + encodeURIComponent(id);
	b.disabled = true;
	try {
		if (b.classList.contains('refund')) {
			const amount = parseAmount(b.closest('tr').querySelector('.refund-amount').value);
			const requestId = requestIdFor('refund', JSON.stringify([id, amount]));
			let r;
			try { r = await api('POST', path + '/refunds', { requestId, amount }); settled('refund'); }
			catch (e) { settled('refund', e); throw e; }
			delete b.closest('tr').querySelector('.refund-amount').dataset.edited; // prefill what now remains
			notice(`Refund ${r.refundId} of ${cny(r.amount)} for ${id}: ${r.status}${r.failure ? ' (' + r.failure + ')' : ''}`);
		} else if (b.classList.contains('cancel')) {
			const r = await api('POST', path + '/cancel', {});
			notice(`Order ${id}: ${r.result}` + (r.refund ? ` (refund ${r.refund.refundId} ${r.refund.status})` : ''));
		} else if (b.classList.contains('close')) {
			const o = await api('POST', path + '/close', {});
			notice(`Order ${id}: ${STATE[o.status] || o.status}`);
		}
	} catch (e) {
		report(e);
	} finally {
		b.disabled = false;
		refreshOrders();
	}
});

// ---- start ----

if (token) enterApp(); else endSession('');
