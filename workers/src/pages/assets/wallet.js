'use strict';
// The Clearline wallet app: an HKD wallet that pays mainland shops in CNY, on the issuer's
// JSON API (same origin). Money is integer minor units throughout; nothing here does
// floating-point arithmetic on amounts.

const FINAL = new Set(['SUCCESS', 'FAILED', 'REJECTED']);
const KIND = { DEBIT: 'Payment', REFUND: 'Refund', REVERSAL: 'Reversal', TOPUP: 'Top-up' };
const STATUS = {
	RECEIVED: 'Processing', AWAITING_PAYER: 'Waiting for your confirmation', DEBITED: 'Settling',
	SUCCESS: 'Paid', FAILED: 'Failed, money returned', REJECTED: 'Not paid', UNKNOWN: 'Being checked',
};
const KEY = { token: 'clearline.wallet.token', wallet: 'clearline.wallet.id' };


let session = null;     // {token, walletId}; also in sessionStorage so a reload stays logged in
let pausedUntil = 0;    // after a 429 the background polls wait this long, or they never recover

// ---- money ----




function checkPin(pin) {
	if (!/^\d{6}$/.test(pin)) throw new Failure('InvalidPin', 'The PIN is 6 digits.');
	return pin;
}


// Whether the same confirmation may be sent again under the same key: the first try may have
// been taken (network cut, server busy), and the key makes the second one its replay.
const retryable = (e) => e.status === 0 || e.status === 409 || e.status >= 500;

const tone = (status) => (status === 'SUCCESS' ? 'tone-ok' : FINAL.has(status) ? 'tone-bad' : 'tone-wait');
const when = (ms) => new Date(ms).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

// ---- API ----

// A payer's own action refused for the rate limit is sent again after the wait the service
// names (the limit is counted before anything is done, so nothing happened); background polls
// just skip a turn.
async function api(method, path, opts = {}) {
	for (let tries = 0; ; tries++) {
		try {
			return await call(method, path, opts);
		} catch (e) {
			if (e.status !== 429 || opts.background || tries >= 2 || !session) throw e;
			await new Promise((r) => setTimeout(r, Math.min(10000, Math.max(1000, pausedUntil - Date.now()))));
		}
	}
}

async function call(method, path, { json, body, contentType, pin } = {}) {
	const headers = { Accept: 'application/json' };
	if (session) headers.Authorization = 'Bearer ' + session.token;
	if (pin) headers['X-Wallet-Pin'] = pin;
	if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
	else if (contentType) headers['Content-Type'] = contentType;
	let res, text;
	try {
		res = await fetch(path, { method, headers, body, cache: 'no-store' });
		text = await res.text();
	} catch (_) {
		throw new Failure('NetworkError', 'The wallet service could not be reached; check the connection and try again.');
	}
	let data = null;
	try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON: described below */ }
	if (res.ok) return data;
	const code = data && typeof data.code === 'string' ? data.code : 'HTTP' + res.status;
	const message = data && typeof data.message === 'string' ? data.message : res.statusText || 'The request failed.';
	if (res.status === 429) pausedUntil = Date.now() + 1000 * (Number(res.headers.get('Retry-After')) || 5);
	if (res.status === 401 && (code === 'SessionInvalid' || code === 'SessionRequired')) {
		endSession('Your session has ended; log in again.');
	}
	throw new Failure(code, message, res.status);
}

const walletPath = (rest) => '/v1/wallets/' + encodeURIComponent(session.walletId) + rest;


// Background refreshes clear only their own errors, so a user's error stays until read.
function report(e, background = false) {
	if (!session || (background && e.status === 429)) return;
	showError('error', e);
	$('error').dataset.source = background ? 'background' : 'action';
}
function clearError(background = false) {
	if (!background || $('error').dataset.source === 'background') $('error').hidden = true;
}
function notice(text) { $('notice').textContent = text; $('notice').hidden = !text; }

// ---- session ----

function startSession(s) {
	session = s;
	sessionStorage.setItem(KEY.token, s.token);
	sessionStorage.setItem(KEY.wallet, s.walletId);
	$('login-screen').hidden = true;
	$('app-screen').hidden = false;
	$('wallet-id').textContent = s.walletId;
	lastBalance = null;
	clearError(); notice('');
	show('home');
}

function endSession(message) {
	leave();
	session = null;
	sessionStorage.removeItem(KEY.token);
	sessionStorage.removeItem(KEY.wallet);
	$('app-screen').hidden = true;
	$('login-screen').hidden = false;
	$('login-pin').value = '';
	$('history').replaceChildren();
	$('pending').querySelector('.pending-list').replaceChildren();
	$('login-error').hidden = !message;
	if (message) $('login-error').textContent = message;
}

$('login').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	$('login-error').hidden = true;
	const button = $('login-submit');
	try {
		const walletId = $('login-wallet').value.trim();
		if (!walletId) throw new Failure('InvalidField', 'Enter your wallet ID.');
		const pin = checkPin($('login-pin').value);
		button.disabled = true;
		const answer = await api('POST', '/v1/sessions', { json: { walletId, pin } });
		$('login-pin').value = '';
		startSession({ token: answer.token, walletId: answer.walletId });
	} catch (e) {
		showError('login-error', e);
	} finally {
		button.disabled = false;
	}
});

// The page forgets the session at once; the service is told after, and if it is not reached
// the token simply expires.
$('logout').addEventListener('click', () => {
	const token = session && session.token;
	endSession('');
	if (token) fetch('/v1/sessions/current', { method: 'DELETE', headers: { Authorization: 'Bearer ' + token } }).catch(() => {});
});

// ---- screens ----

function show(name) {
	leave();
	for (const v of ['home', 'pay', 'scan']) {
		$(v + '-view').hidden = v !== name;
		$('tab-' + v).setAttribute('aria-selected', String(v === name));
	}
	if (name === 'home') { lastBalance = null; refreshHome(); homeTimer = setInterval(refreshHome, 3000); }
	if (name === 'pay') resetPay();
	if (name === 'scan') resetScan();
}

// Whatever the screen held (timers, the camera, the PIN) goes when the payer leaves it.
function leave() {
	clearInterval(homeTimer); homeTimer = null;
	stopPay();
	stopCamera();
}

for (const v of ['home', 'pay', 'scan']) $('tab-' + v).addEventListener('click', () => { clearError(); notice(''); show(v); });

async function refreshWallet(background = false) {
	const w = await api('GET', walletPath(''), { background });
	$('holder').textContent = w.holder;
	$('balance').textContent = money(w.currency || 'HKD', w.balance);
	$('balance').dataset.minor = String(w.balance);
	$('wallet-status').hidden = w.status !== 'LOCKED';
	$('wallet-status').textContent = w.lockedUntil ? 'Locked until ' + when(w.lockedUntil) : 'Locked';
	return w;
}

// ---- home: balance, pending confirmations, history ----

let homeTimer = null, homeBusy = false, lastBalance = null, homeRounds = 0;
const BG = { background: true };

async function refreshHome() {
	if (!session || homeBusy || Date.now() < pausedUntil) return;
	homeBusy = true;
	try {
		const [w, pending] = await Promise.all([refreshWallet(true), api('GET', walletPath('/pending'), BG)]);
		renderPending(pending);
		// Every history line moves the balance: the list is fetched again when it did (and
		// now and then, for a payment and its refund between two looks).
		if (w.balance !== lastBalance || ++homeRounds % 10 === 0) {
			renderHistory(await api('GET', walletPath('/history?limit=50'), BG));
			lastBalance = w.balance;
		}
		clearError(true);
	} catch (e) {
		report(e, true);
	} finally {
		homeBusy = false;
	}
}

function renderHistory(lines) {
	const list = $('history');
	if (!lines.length) { list.replaceChildren(el('li', 'muted small', 'No activity yet.')); return; }
	list.replaceChildren(...lines.map((l) => {
		const li = el('li', 'history-line');
		li.dataset.kind = l.kind;
		li.dataset.reference = l.reference;
		if (l.issuerOrderId) li.dataset.orderId = l.issuerOrderId;
		li.append(el('span', 'line-kind', KIND[l.kind] || l.kind));
		li.append(el('span', 'line-hkd amount' + (l.amount > 0 ? ' credit' : ''), money('HKD', l.amount, true)));
		li.append(el('span', 'line-merchant', l.merchantName || (l.kind === 'TOPUP' ? 'Wallet top-up' : '')));
		li.append(el('span', 'line-cny amount', l.merchantAmount != null ? money('CNY', l.merchantAmount) : ''));
		const t = el('time', 'line-time', when(l.at));
		t.dateTime = new Date(l.at).toISOString();
		li.append(t);
		return li;
	}));
}

// Items are kept, not redrawn, so that a PIN being typed survives the 3-second refresh.
function renderPending(orders) {
	const list = $('pending').querySelector('.pending-list');
	const ids = new Set(orders.map((o) => o.issuerOrderId));
	for (const item of [...list.children]) if (!ids.has(item.dataset.orderId)) item.remove();
	for (const o of orders) {
		if (list.querySelector(`li[data-order-id="${CSS.escape(o.issuerOrderId)}"]`)) continue;
		const li = el('li', 'pending-item');
		li.dataset.orderId = o.issuerOrderId;
		li.append(el('div', 'big amount', money(o.currency || 'CNY', o.amount)));
		li.append(el('div', null, o.merchantName));
		if (o.confirmBy) li.append(el('div', 'muted small', 'Confirm by ' + new Date(o.confirmBy).toLocaleTimeString()));
		const pin = el('input', 'pending-pin');
		Object.assign(pin, { type: 'password', inputMode: 'numeric', maxLength: 6, autocomplete: 'off', placeholder: 'PIN' });
		pin.setAttribute('aria-label', 'PIN');
		const yes = el('button', 'confirm-pending', 'Confirm');
		const no = el('button', 'decline-pending danger', 'Decline');
		for (const b of [yes, no]) { b.type = 'button'; b.dataset.orderId = o.issuerOrderId; }
		const row = el('div', 'actions'); row.append(yes, no);
		li.append(pin, row);
		list.append(li);
	}
	$('pending').hidden = orders.length === 0;
}

$('pending').addEventListener('click', async (ev) => {
	const button = ev.target.closest('button.confirm-pending, button.decline-pending');
	if (!button) return;
	const id = button.dataset.orderId;
	const item = button.closest('.pending-item');
	const confirming = button.classList.contains('confirm-pending');
	clearError();
	try {
		const pin = confirming ? checkPin(item.querySelector('.pending-pin').value) : undefined;
		item.querySelectorAll('button').forEach((b) => { b.disabled = true; });
		const order = await api('POST', walletPath(`/pending/${encodeURIComponent(id)}/${confirming ? 'confirm' : 'decline'}`), { pin });
		await follow(order, (o) => notice(`${o.merchantName}: ${STATUS[o.status] || o.status}`));
	} catch (e) {
		report(e);
	} finally {
		item.querySelectorAll('button').forEach((b) => { b.disabled = false; });
		item.querySelector('.pending-pin').value = '';
		lastBalance = null;
		refreshHome();
	}
});

// Polls a payment every second until it is final, telling `update` each state.
async function follow(order, update) {
	const me = session;
	update(order);
	while (!FINAL.has(order.status)) {
		await new Promise((r) => setTimeout(r, Math.max(1000, pausedUntil - Date.now())));
		if (session !== me) return order;
		try { order = await api('GET', walletPath('/payments/' + encodeURIComponent(order.issuerOrderId)), BG); }
		catch (e) { if (e.status === 429 || e.status === 0) continue; throw e; }
		update(order);
	}
	return order;
}

function describeOrder(o) {
	const parts = [money(o.currency || 'CNY', o.amount)];
	if (o.debitAmount != null) parts.push(money(o.debitCurrency || 'HKD', o.debitAmount) + ' debited');
	const detail = o.merchantName + ': ' + parts.join(' · ') + (o.reason && o.status !== 'SUCCESS' ? ' (' + o.reason + ')' : '');
	return [STATUS[o.status] || o.status, detail];
}

function showStatus(box, o) {
	const [headline, detail] = describeOrder(o);
	box.dataset.status = o.status;
	box.dataset.orderId = o.issuerOrderId;
	box.className = 'status-box ' + tone(o.status);
	box.replaceChildren(el('span', 'headline', headline), el('span', 'detail', detail));
	box.hidden = false;
}

// ---- pay: a one-time code for the cashier to scan ----

// The PIN lives here only while the Pay screen is open: each new code needs it.
const pay = { pin: null, code: null, expiresAt: 0, order: null, timer: null, busy: false };

function resetPay() {
	$('pay-start').hidden = false;
	$('pay-code').hidden = true;
	$('pay-result').hidden = true;
	$('pay-awaiting').hidden = true;
	$('pay-pin').value = '';
}

function stopPay() {
	clearInterval(pay.timer);
	Object.assign(pay, { pin: null, code: null, expiresAt: 0, order: null, timer: null });
	$('code-qr').replaceChildren();
	$('code-digits').textContent = '';
	$('code-digits').dataset.code = '';
	$('pay-pin').value = '';
}

async function newCode(background = false) {
	const c = await api('POST', walletPath('/payment-codes'), { pin: pay.pin, background });
	if (!pay.pin) return; // the payer left while it was being made
	Object.assign(pay, { code: c.code, expiresAt: c.expiresAt, order: null });
	$('code-qr').innerHTML = stripXml(c.qrSvg); // the service's own SVG, trusted
	$('code-digits').textContent = c.code.replace(/(\d{4})(?=\d)/g, '$1 ');
	$('code-digits').dataset.code = c.code;
	$('pay-start').hidden = true;
	$('pay-code').hidden = false;
	countdown();
}

function countdown() {
	$('code-countdown').textContent = String(Math.max(0, Math.ceil((pay.expiresAt - Date.now()) / 1000)));
}

$('pay-show').addEventListener('click', async () => {
	clearError();
	try {
		pay.pin = checkPin($('pay-pin').value);
		$('pay-pin').value = '';
		$('pay-show').disabled = true;
		await newCode();
		if (pay.pin) pay.timer = setInterval(payTick, 1000);
	} catch (e) {
		stopPay();
		report(e);
	} finally {
		$('pay-show').disabled = false;
	}
});

// Each second: look for the payment the code made; a code that paid (to a final result) or
// expired unused is replaced, so the screen always shows a code that can be used.
async function payTick() {
	if (!pay.pin) return;
	countdown();
	if (pay.busy || Date.now() < pausedUntil) return;
	pay.busy = true;
	try {
		if (!pay.order || !FINAL.has(pay.order.status)) {
			try {
				pay.order = await api('GET', walletPath('/payments?code=' + encodeURIComponent(pay.code)), BG);
				showStatus($('pay-result'), pay.order);
				$('pay-awaiting').hidden = pay.order.status !== 'AWAITING_PAYER';
			} catch (e) {
				if (e.code !== 'UnknownOrder') throw e;
			}
		}
		const used = pay.order && FINAL.has(pay.order.status);
		if (used || (!pay.order && Date.now() >= pay.expiresAt)) {
			await newCode(true);
		}
		clearError(true);
	} catch (e) {
		report(e, true);
		// A refused PIN or a locked wallet makes no more codes: back to the PIN.
		if (e.status >= 400 && e.status < 500 && ![404, 409, 429].includes(e.status)) { stopPay(); resetPay(); }
	} finally {
		pay.busy = false;
	}
}

async function answerCodePayment(confirm) {
	const o = pay.order;
	if (!o) return;
	clearError();
	$('pay-confirm').disabled = $('pay-decline').disabled = true;
	try {
		const action = confirm ? 'confirm' : 'decline';
		pay.order = await api('POST', walletPath(`/pending/${encodeURIComponent(o.issuerOrderId)}/${action}`), { pin: confirm ? pay.pin : undefined });
		showStatus($('pay-result'), pay.order);
		$('pay-awaiting').hidden = true;
	} catch (e) {
		report(e);
	} finally {
		$('pay-confirm').disabled = $('pay-decline').disabled = false;
	}
}
$('pay-confirm').addEventListener('click', () => answerCodePayment(true));
$('pay-decline').addEventListener('click', () => answerCodePayment(false));
$('pay-stop').addEventListener('click', () => show('home'));

// ---- scan: a shop's QR code, by camera, picture or pasted text ----

const scan = { answer: null, payload: null, attempt: null, stream: null, timer: null, quoteSeq: 0, quoteTimer: null };

function resetScan() {
	stopCamera();
	Object.assign(scan, { answer: null, payload: null, attempt: null });
	$('scan-start').hidden = false;
	$('preview').hidden = true;
	$('scan-done').hidden = true;
	$('scan-payload').value = '';
	$('confirm-pin').value = '';
	$('scan-camera').hidden = !('BarcodeDetector' in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

async function lookUp(payload) {
	clearError();
	try {
		showPreview(await api('POST', walletPath('/scan'), { json: { payload } }), payload);
	} catch (e) { report(e); }
}

function showPreview(answer, payload) {
	Object.assign(scan, { answer, payload, attempt: null });
	$('preview-merchant').textContent = answer.merchantName + (answer.city ? ', ' + answer.city : '');
	$('preview-description').textContent = answer.description || '';
	$('preview-description').hidden = !answer.description;
	$('preview-hkd').textContent = '';
	const box = $('preview-amount');
	if (answer.amount != null) {
		box.textContent = money(answer.currency || 'CNY', answer.amount);
		if (answer.quote) showQuote(answer.quote); else quote(answer.amount);
	} else {
		// A shop's static code has no amount: the payer types what the cashier asks.
		const input = el('input');
		Object.assign(input, { id: 'preview-amount-input', inputMode: 'decimal', autocomplete: 'off', placeholder: '0.00' });
		const label = el('label', null, 'Amount in CNY');
		label.htmlFor = 'preview-amount-input';
		box.replaceChildren(label, input);
		input.addEventListener('input', () => { clearTimeout(scan.quoteTimer); scan.quoteTimer = setTimeout(typedAmount, 400); });
		input.addEventListener('change', typedAmount);
		$('preview-hkd').textContent = 'Enter the amount to see what it costs in HKD.';
	}
	$('scan-start').hidden = true;
	$('scan-done').hidden = true;
	$('preview').hidden = false;
}

function showQuote(q) {
	const rate = rate4(q.appliedRate, q.rateScale);
	$('preview-hkd').textContent = `${money(q.debitCurrency || 'HKD', q.debitAmount)} at 1 HKD = ${rate} CNY`;
	$('preview-hkd').dataset.debitAmount = String(q.debitAmount);
}

async function quote(amount) {
	const seq = ++scan.quoteSeq; // answers to older amounts are dropped
	$('preview-hkd').dataset.debitAmount = '';
	try {
		const q = await api('GET', walletPath('/quote?amount=' + amount));
		if (seq === scan.quoteSeq) showQuote(q);
	} catch (e) {
		if (seq === scan.quoteSeq) { $('preview-hkd').textContent = ''; report(e); }
	}
}

function typedAmount() {
	clearTimeout(scan.quoteTimer);
	const input = $('preview-amount-input');
	if (!input) return;
	try {
		const amount = parseAmount(input.value);
		clearError();
		quote(amount);
	} catch (e) {
		scan.quoteSeq++;
		$('preview-hkd').textContent = input.value.trim() ? e.message : 'Enter the amount to see what it costs in HKD.';
	}
}

$('scan-payload-submit').addEventListener('click', () => {
	const payload = $('scan-payload').value.trim();
	if (!payload) { report(new Failure('InvalidQrCode', 'Paste the text of the code first.')); return; }
	lookUp(payload);
});

$('scan-file').addEventListener('change', async () => {
	const file = $('scan-file').files[0];
	$('scan-file').value = ''; // the same picture can be chosen again
	if (!file) return;
	clearError();
	try {
		// The service reads at most 4 MiB; a bigger picture would only be cut off on the way.
		if (file.size > 4 * 1024 * 1024) throw new Failure('ImageTooLarge', 'The picture is larger than 4 MiB; crop it or take a smaller one.');
		const answer = await api('POST', walletPath('/scan-image'), { body: file, contentType: file.type || 'application/octet-stream' });
		showPreview(answer, answer.payload);
	} catch (e) { report(e); }
});

$('scan-camera').addEventListener('click', async () => {
	clearError();
	try {
		scan.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
	} catch (e) {
		report(new Failure('CameraUnavailable', 'The camera could not be opened: ' + (e.message || e.name)));
		return;
	}
	const video = $('scan-video');
	video.srcObject = scan.stream;
	video.hidden = false;
	$('scan-camera-stop').hidden = false;
	$('scan-camera').hidden = true;
	await video.play().catch(() => {});
	const detector = new BarcodeDetector({ formats: ['qr_code'] });
	let busy = false;
	scan.timer = setInterval(async () => {
		if (busy || video.readyState < 2) return;
		busy = true;
		try {
			const [found] = await detector.detect(video);
			if (found && found.rawValue) { stopCamera(); await lookUp(found.rawValue); }
		} catch (_) { /* a frame that could not be read; the next one may */ }
		busy = false;
	}, 250);
});

function stopCamera() {
	clearInterval(scan.timer);
	scan.timer = null;
	if (scan.stream) scan.stream.getTracks().forEach((t) => t.stop());
	scan.stream = null;
	$('scan-video').srcObject = null;
	$('scan-video').hidden = true;
	$('scan-camera-stop').hidden = true;
	$('scan-camera').hidden = !('BarcodeDetector' in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}
$('scan-camera-stop').addEventListener('click', stopCamera);

$('confirm-pay').addEventListener('click', async () => {
	if (!scan.answer) return;
	clearError();
	const button = $('confirm-pay');
	try {
		const amount = scan.answer.amount != null ? scan.answer.amount : parseAmount($('preview-amount-input').value);
		const pin = checkPin($('confirm-pin').value);
		const key = scan.payload + '|' + amount;
		if (!scan.attempt || scan.attempt.key !== key || !scan.attempt.retry) scan.attempt = { key, requestId: newRequestId(), retry: false };
		button.disabled = true;
		let order;
		try {
			order = await api('POST', walletPath('/payments'), { pin, json: { requestId: scan.attempt.requestId, payload: scan.payload, amount } });
		} catch (e) {
			scan.attempt.retry = retryable(e);
			throw e;
		}
		scan.attempt = null;
		$('confirm-pin').value = '';
		$('preview').hidden = true;
		$('scan-done').hidden = false;
		await follow(order, (o) => showStatus($('scan-result'), o));
		refreshWallet().catch(() => {});
	} catch (e) {
		report(e);
	} finally {
		button.disabled = false;
	}
});

$('confirm-cancel').addEventListener('click', () => { clearError(); resetScan(); });
$('scan-again').addEventListener('click', () => { clearError(); resetScan(); });

// ---- start ----

(function start() {
	const token = sessionStorage.getItem(KEY.token), walletId = sessionStorage.getItem(KEY.wallet);
	if (token && walletId) startSession({ token, walletId });
	else endSession('');
})();
