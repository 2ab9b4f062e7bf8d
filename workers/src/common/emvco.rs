//! Merchant-presented QR payloads in the EMVCo format: `ID LEN VALUE` fields, the merchant
//! account template under `26`, and a CRC-16/CCITT-FALSE over everything up to and including
//! `6304` as the last field.

use crc::{Crc, CRC_16_IBM_3740};

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out) is catalogued as
/// CRC-16/IBM-3740.
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// What a merchant-presented code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantQr {
	/// Dynamic (`12`, one order, amount fixed) or static (`11`, the payer types the amount).
	pub dynamic: bool,
	/// Globally unique id of the payment scheme in the account template (`26/00`).
	pub scheme: String,
	/// The acquirer's participant code (`26/01`).
	pub acquirer: String,
	/// Our merchant id (`26/02`).
	pub merchant_id: String,
	/// ISO 18245 merchant category code (`52`).
	pub mcc: String,
	/// ISO 4217 numeric currency (`53`): 156 for CNY.
	pub currency: u16,
	/// Minor units (`54`, written in major units with the currency's decimals); absent when
	/// static.
	pub amount: Option<u128>,
	/// ISO 3166 alpha-2 (`58`).
	pub country: String,
	/// `59`, at most 25 characters.
	pub name: String,
	/// `60`, at most 15 characters.
	pub city: String,
	/// Bill number (`62/01`): the acquirer's order id of a dynamic code.
	pub bill_number: Option<String>,
	/// Store label (`62/03`).
	pub store: Option<String>,
}

/// Why a payload is not one we can pay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
	#[error("malformed field at offset {0}")]
	Malformed(usize),
	#[error("the checksum does not match")]
	BadChecksum,
	#[error("field {0} is missing")]
	Missing(&'static str),
	#[error("field {0} is invalid")]
	Invalid(&'static str),
	#[error("the code belongs to another scheme")]
	ForeignScheme,
}

/// Decimal places of an ISO 4217 numeric currency.
fn decimals(currency: u16) -> u32 {
	match currency {
		392 | 410 => 0,
		_ => 2,
	}
}

fn field(out: &mut String, id: &str, value: &str) {
	out.push_str(id);
	out.push_str(&format!("{:02}", value.len()));
	out.push_str(value);
}

/// Writes `minor` in major units: `1234` with 2 decimals is `12.34`.
pub fn format_amount(minor: u128, decimals: u32) -> String {
	if decimals == 0 {
		return minor.to_string();
	}
	let unit = 10u128.pow(decimals);
	format!("{}.{:0width$}", minor / unit, minor % unit, width = decimals as usize)
}

/// Reads an amount in major units into minor units, refusing more decimals than the currency
/// has.
pub fn parse_amount(text: &str, decimals: u32) -> Option<u128> {
	let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
	if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
		return None;
	}
	if frac.len() > decimals as usize || !frac.bytes().all(|b| b.is_ascii_digit()) {
		return None;
	}
	let frac_value: u128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
	let scale = 10u128.pow(decimals - frac.len() as u32);
	whole.parse::<u128>().ok()?.checked_mul(10u128.pow(decimals))?.checked_add(frac_value * scale)
}

impl MerchantQr {
	/// The payload, CRC included.
	pub fn encode(&self) -> String {
		let mut account = String::new();
		field(&mut account, "00", &self.scheme);
		field(&mut account, "01", &self.acquirer);
		field(&mut account, "02", &self.merchant_id);
		let mut out = String::new();
		field(&mut out, "00", "01");
		field(&mut out, "01", if self.dynamic { "12" } else { "11" });
		field(&mut out, "26", &account);
		field(&mut out, "52", &self.mcc);
		field(&mut out, "53", &format!("{:03}", self.currency));
		if let Some(amount) = self.amount {
			field(&mut out, "54", &format_amount(amount, decimals(self.currency)));
		}
		field(&mut out, "58", &self.country);
		field(&mut out, "59", &self.name);
		field(&mut out, "60", &self.city);
		let mut extra = String::new();
		if let Some(bill) = &self.bill_number {
			field(&mut extra, "01", bill);
		}
		if let Some(store) = &self.store {
			field(&mut extra, "03", store);
		}
		if !extra.is_empty() {
			field(&mut out, "62", &extra);
		}
		out.push_str("6304");
		let crc = CRC16.checksum(out.as_bytes());
		out.push_str(&format!("{crc:04X}"));
		out
	}

	/// Reads a payload, checking its CRC, and that it is of `scheme`.
	pub fn decode(payload: &str, scheme: &str) -> Result<Self, QrError> {
		let payload = payload.trim();
		if !payload.is_ascii() || payload.len() < 8 {
			return Err(QrError::Malformed(0));
		}
		let (body, crc) = payload.split_at(payload.len() - 4);
		if !body.ends_with("6304") {
			return Err(QrError::Missing("63"));
		}
		let expected = u16::from_str_radix(crc, 16).map_err(|_| QrError::BadChecksum)?;
		if CRC16.checksum(body.as_bytes()) != expected {
			return Err(QrError::BadChecksum);
		}
		let fields = parse_fields(&body[..body.len() - 4])?;
		let get = |id: &'static str| {
			fields.iter().find(|(k, _)| *k == id).map(|(_, v)| *v).ok_or(QrError::Missing(id))
		};
		if get("00")? != "01" {
			return Err(QrError::Invalid("00"));
		}
		let dynamic = match get("01")? {
			"12" => true,
			"11" => false,
			_ => return Err(QrError::Invalid("01")),
		};
		let account = parse_fields(get("26")?)?;
		let sub = |id: &'static str| {
			account
				.iter()
				.find(|(k, _)| *k == id)
				.map(|(_, v)| v.to_string())
				.ok_or(QrError::Missing(id))
		};
		if sub("00")? != scheme {
			return Err(QrError::ForeignScheme);
		}
		let currency: u16 = get("53")?.parse().map_err(|_| QrError::Invalid("53"))?;
		let amount = match fields.iter().find(|(k, _)| *k == "54") {
			Some((_, text)) => {
				Some(parse_amount(text, decimals(currency)).ok_or(QrError::Invalid("54"))?)
			}
			None => None,
		};
		if dynamic != amount.is_some() {
			return Err(QrError::Invalid("54"));
		}
		let extra = match fields.iter().find(|(k, _)| *k == "62") {
			Some((_, v)) => parse_fields(v)?,
			None => Vec::new(),
		};
		let extra_field =
			|id: &str| extra.iter().find(|(k, _)| *k == id).map(|(_, v)| v.to_string());
		Ok(MerchantQr {
			dynamic,
			scheme: scheme.to_string(),
			acquirer: sub("01")?,
			merchant_id: sub("02")?,
			mcc: get("52")?.to_string(),
			currency,
			amount,
			country: get("58")?.to_string(),
			name: get("59")?.to_string(),
			city: get("60")?.to_string(),
			bill_number: extra_field("01"),
			store: extra_field("03"),
		})
	}
}

fn parse_fields(mut text: &str) -> Result<Vec<(&str, &str)>, QrError> {
	let mut out = Vec::new();
	let total = text.len();
	while !text.is_empty() {
		let offset = total - text.len();
		if text.len() < 4 {
			return Err(QrError::Malformed(offset));
		}
		let id = &text[..2];
		let len: usize = text[2..4].parse().map_err(|_| QrError::Malformed(offset))?;
		if text.len() < 4 + len || !id.bytes().all(|b| b.is_ascii_digit()) {
			return Err(QrError::Malformed(offset));
		}
		out.push((id, &text[4..4 + len]));
		text = &text[4 + len..];
	}
	Ok(out)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn shop(dynamic: bool) -> MerchantQr {
		MerchantQr {
			dynamic,
			scheme: "CN.CLEARLINE".into(),
			acquirer: "DEVACQCN".into(),
			merchant_id: "M000001".into(),
			mcc: "5812".into(),
			currency: 156,
			amount: dynamic.then_some(12_345),
			country: "CN".into(),
			name: "Lucky Noodles".into(),
			city: "Shenzhen".into(),
			bill_number: dynamic.then(|| "ACQ20261122000001".into()),
			store: Some("Futian".into()),
		}
	}

	#[test]
	fn the_checksum_is_crc16_ccitt_false() {
		// The catalogue's check value for "123456789".
		assert_eq!(CRC16.checksum(b"123456789"), 0x29B1);
	}

	#[test]
	fn payloads_round_trip_and_tampering_is_caught() {
		for dynamic in [true, false] {
			let qr = shop(dynamic);
			let payload = qr.encode();
			assert!(payload.starts_with(if dynamic { "000201010212" } else { "000201010211" }));
			assert_eq!(&payload[payload.len() - 8..payload.len() - 4], "6304");
			assert_eq!(MerchantQr::decode(&payload, "CN.CLEARLINE").unwrap(), qr);
			assert_eq!(MerchantQr::decode(&payload, "OTHER"), Err(QrError::ForeignScheme));
			let tampered = payload.replacen("Lucky", "Lucky", 1).replacen("5812", "5813", 1);
			assert_eq!(MerchantQr::decode(&tampered, "CN.CLEARLINE"), Err(QrError::BadChecksum));
		}
		assert!(shop(true).encode().contains("5406123.45"));
		let static_payload = shop(false).encode();
		let fields = parse_fields(&static_payload[..static_payload.len() - 8]).unwrap();
		assert!(fields.iter().all(|(id, _)| *id != "54"), "a static code carries no amount");
	}

	#[test]
	fn amounts_are_exact() {
		assert_eq!(format_amount(5, 2), "0.05");
		assert_eq!(parse_amount("0.05", 2), Some(5));
		assert_eq!(parse_amount("12.3", 2), Some(1230));
		assert_eq!(parse_amount("12", 2), Some(1200));
		assert_eq!(parse_amount("1.234", 2), None);
		assert_eq!(parse_amount("-1", 2), None);
		assert_eq!(parse_amount(".5", 2), None);
	}
}
