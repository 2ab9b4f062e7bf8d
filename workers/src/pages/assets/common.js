'use strict';
// What the three pages share: element helpers, the error every API answer can be, and money,
// which is integer minor units throughout; nothing here does floating-point arithmetic on
// amounts. Loaded before each page's own script.

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
// The services' SVG QR images come with an XML declaration, which inline SVG must not have.
const stripXml = (svg) => String(svg).replace(/^\s*<\?xml[^>]*\?>\s*/, '');

class Failure extends Error {
	constructor(code, message, status = 0) { super(message); this.code = code; this.status = status; }
}

// "HKD 1,234.56" from an integer (a number or a decimal string, as the chain's amounts are) of
// minor units; the sign in front, so that an amount reads the same whether in or out.
function money(currency, minor, signed = false) {
	let s = String(minor);
	if (!/^-?\d+$/.test(s)) return (currency + ' ?').trim();
	const neg = s[0] === '-';
	s = (neg ? s.slice(1) : s).replace(/^0+(?=\d)/, '').padStart(3, '0');
	const nonzero = /[1-9]/.test(s);
	const sign = neg && nonzero ? '-' : signed && nonzero ? '+' : '';
	return sign + (currency ? currency + ' ' : '') + s.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + s.slice(-2);
}

// A typed "12.34" as 1234 minor units, by splitting the string: floats would turn 0.29 into 28.
function parseAmount(text) {
	const t = String(text).trim();
	if (t === '') throw new Failure('InvalidAmount', 'Enter an amount.');
	if (t.startsWith('-')) throw new Failure('InvalidAmount', 'The amount cannot be negative.');
	const [whole, frac = '', extra] = t.split('.');
	if (extra !== undefined || !/^\d+$/.test(whole) || !/^\d*$/.test(frac) || (t.includes('.') && frac === '')) {
		throw new Failure('InvalidAmount', 'Use digits and at most one decimal point, e.g. 12.34.');
	}
	if (frac.length > 2) throw new Failure('InvalidAmount', 'At most 2 decimal places.');
	const minor = BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0'));
	if (minor <= 0n) throw new Failure('InvalidAmount', 'The amount must be more than zero.');
	if (minor >= 1000000000000000n) throw new Failure('InvalidAmount', 'The amount is too large.');
	return Number(minor);
}

// A rate scaled by `scale` as an exact 4-decimal string, rounded half up, with BigInt.
function rate4(value, scale) {
	try {
		const r = (BigInt(value) * 20000n / BigInt(scale) + 1n) / 2n;
		return (r / 10000n).toString() + '.' + (r % 10000n).toString().padStart(4, '0');
	} catch (_) { return '?'; }
}

// A fresh idempotency key; crypto.randomUUID needs a secure context, getRandomValues does not.
function newRequestId() {
	if (crypto.randomUUID) return crypto.randomUUID();
	return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// An error in the box `target`: its code (kept in data-code) and its message.
function showError(target, e) {
	const box = $(target);
	const code = e instanceof Failure ? e.code : 'Error';
	box.replaceChildren(el('span', 'code', code), ': ', el('span', 'message', e.message || String(e)));
	box.dataset.code = code;
	box.hidden = false;
}
