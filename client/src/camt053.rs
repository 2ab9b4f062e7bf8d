//! A participant's cycle statement in the shape of an ISO 20022 camt.053 (bank-to-customer
//! statement): one `Stmt` per currency, one `Ntry` per posting or refund, amounts in major
//! units with the currency's own number of decimals, and the cycle's net position as the
//! balance. Element names and order follow camt.053.001.08; Clearline's own values (the
//! entry's leaf hash, the posting id, the cycle digest) go in the reference fields banks
//! reconcile on.

use crate::error::{Error, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use clearline_runtime::AccountId;
use pallet_clearing_bank_rpc::{ParticipantJson, StatementJson};
use pallet_fx_rate::CurrencyCode;
use quick_xml::{events::BytesText, Writer};
use std::{collections::BTreeMap, io};

pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";

/// `minor` minor units as a decimal with `decimals` places, without its sign.
pub fn major_units(minor: i128, decimals: u8) -> String {
	let digits = minor.unsigned_abs().to_string();
	let decimals = decimals as usize;
	if decimals == 0 {
		return digits;
	}
	let padded = format!("{digits:0>width$}", width = decimals + 1);
	let (whole, fraction) = padded.split_at(padded.len() - decimals);
	format!("{whole}.{fraction}")
}

fn iso_time(ms: u64) -> String {
	DateTime::<Utc>::from_timestamp_millis(ms as i64)
		.unwrap_or_default()
		.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn credit_or_debit(amount: i128) -> &'static str {
	if amount < 0 {
		"DBIT"
	} else {
		"CRDT"
	}
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
	w.create_element(name).write_text_content(BytesText::new(value))?;
	Ok(())
}

fn amount(w: &mut W, currency: CurrencyCode, value: i128, decimals: u8) -> io::Result<()> {
	w.create_element("Amt")
		.with_attribute(("Ccy", currency.as_str()))
		.write_text_content(BytesText::new(&major_units(value, decimals)))?;
	Ok(())
}

/// Every currency the statement has an entry or a net position in, in order.
pub fn currencies(statement: &StatementJson<AccountId>) -> Vec<CurrencyCode> {
	let mut currencies: Vec<CurrencyCode> = statement.entries.iter().map(|e| e.currency).collect();
	currencies.extend(statement.net_positions.iter().map(|(c, _)| *c));
	currencies.sort();
	currencies.dedup();
	currencies
}

/// The statement as XML. `decimals` gives each currency's minor units (as registered in the
/// FX-rate pallet); `created_at` is the report's creation time in ms since the epoch.
pub fn statement_xml(
	statement: &StatementJson<AccountId>,
	participant: &ParticipantJson<AccountId>,
	decimals: &BTreeMap<CurrencyCode, u8>,
	created_at: u64,
) -> Result<String> {
	let places = |c: &CurrencyCode| {
		decimals.get(c).copied().ok_or_else(|| {
			Error::NotFound(format!(
				"the number of decimals of {} (an unregistered currency)",
				c.as_str()
			))
		})
	};
	let currencies = currencies(statement);
	for c in &currencies {
		places(c)?;
	}
	let message_id = format!("CL-{}-{}", statement.cycle, participant.code);
	let created = iso_time(created_at);
	let status = format!("{:?}", statement.cycle_status).to_lowercase();

	let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
	let write = |w: &mut W| -> io::Result<()> {
		w.create_element("Document").with_attribute(("xmlns", NAMESPACE)).write_inner_content(
			|w| {
				w.create_element("BkToCstmrStmt").write_inner_content(|w| {
					w.create_element("GrpHdr").write_inner_content(|w| {
						text(w, "MsgId", &message_id)?;
						text(w, "CreDtTm", &created)
					})?;
					for currency in &currencies {
						let dp = places(currency).unwrap_or(2);
						let entries: Vec<_> =
							statement.entries.iter().filter(|e| e.currency == *currency).collect();
						let net = statement
							.net_positions
							.iter()
							.find(|(c, _)| c == currency)
							.map(|(_, n)| n.0)
							.unwrap_or(0);
						w.create_element("Stmt").write_inner_content(|w| {
							text(w, "Id", &format!("{message_id}-{}", currency.as_str()))?;
							text(w, "ElctrncSeqNb", &statement.cycle.to_string())?;
							text(w, "CreDtTm", &created)?;
							w.create_element("Acct").write_inner_content(|w| {
								w.create_element("Id").write_inner_content(|w| {
									w.create_element("Othr").write_inner_content(|w| {
										text(w, "Id", &participant.code)
									})?;
									Ok(())
								})?;
								text(w, "Ccy", currency.as_str())?;
								w.create_element("Ownr")
									.write_inner_content(|w| text(w, "Nm", &participant.name))?;
								Ok(())
							})?;
							w.create_element("Bal").write_inner_content(|w| {
								w.create_element("Tp").write_inner_content(|w| {
									w.create_element("CdOrPrtry")
										.write_inner_content(|w| text(w, "Prtry", "NETPOSITION"))?;
									Ok(())
								})?;
								amount(w, *currency, net, dp)?;
								text(w, "CdtDbtInd", credit_or_debit(net))?;
								w.create_element("Dt")
									.write_inner_content(|w| text(w, "DtTm", &created))?;
								Ok(())
							})?;
							w.create_element("TxsSummry").write_inner_content(|w| {
								w.create_element("TtlNtries").write_inner_content(|w| {
									text(w, "NbOfNtries", &entries.len().to_string())
								})?;
								Ok(())
							})?;
							for e in &entries {
								w.create_element("Ntry").write_inner_content(|w| {
									text(w, "NtryRef", &e.cycle_index.to_string())?;
									amount(w, e.currency, e.amount.0, dp)?;
									text(w, "CdtDbtInd", credit_or_debit(e.amount.0))?;
									w.create_element("Sts")
										.write_inner_content(|w| text(w, "Cd", "BOOK"))?;
									w.create_element("BookgDt").write_inner_content(|w| {
										text(w, "DtTm", &iso_time(e.booked_at))
									})?;
									text(w, "AcctSvcrRef", &e.leaf)?;
									w.create_element("BkTxCd").write_inner_content(|w| {
										w.create_element("Prtry").write_inner_content(|w| {
											text(w, "Cd", &e.kind.to_uppercase())?;
											text(w, "Issr", "CLEARLINE")
										})?;
										Ok(())
									})?;
									w.create_element("NtryDtls").write_inner_content(|w| {
										w.create_element("TxDtls").write_inner_content(|w| {
											w.create_element("Refs").write_inner_content(|w| {
												text(w, "AcctSvcrRef", &e.posting_id.to_string())?;
												if let Some(refund) = &e.refund_id {
													text(w, "InstrId", refund)?;
												}
												text(w, "EndToEndId", &e.acquirer_order_id)?;
												text(w, "TxId", &e.issuer_order_id)
											})?;
											text(
												w,
												"AddtlTxInf",
												&format!(
													"rate {} counterparty {}",
													e.rate_id, e.counterparty
												),
											)
										})?;
										Ok(())
									})?;
									Ok(())
								})?;
							}
							text(
								w,
								"AddtlStmtInf",
								&format!(
									"cycle {} {status}; {} entries; digest {}",
									statement.cycle, statement.entries_total, statement.digest
								),
							)
						})?;
					}
					Ok(())
				})?;
				Ok(())
			},
		)?;
		Ok(())
	};
	write(&mut w).map_err(|e| Error::input("statement", e))?;
	let body = String::from_utf8(w.into_inner()).map_err(|e| Error::input("statement", e))?;
	Ok(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn minor_units_become_major_without_floats() {
		assert_eq!(major_units(9213, 2), "92.13");
		assert_eq!(major_units(-5, 2), "0.05");
		assert_eq!(major_units(100, 0), "100");
		assert_eq!(major_units(1, 3), "0.001");
		assert_eq!(major_units(i128::MIN, 2), "1701411834604692317316873037158841057.28");
	}
}
