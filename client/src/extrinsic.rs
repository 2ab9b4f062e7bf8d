//! Signed extrinsics, built from the runtime's own call and extension types so that the
//! client can never disagree with the chain about the format.

use crate::{
	error::{Error, Result},
	rpc::NodeRpc,
};
use clearline_runtime::{
	Address, Nonce, Runtime, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic,
};
use codec::Encode;
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::{generic::Era, AccountId32, MultiSignature};

/// What every signature commits to about the chain: a transaction signed for one chain or
/// runtime version is refused by any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainContext {
	pub genesis_hash: H256,
	pub spec_version: u32,
	pub transaction_version: u32,
}

impl ChainContext {
	/// Reads the context from the node.
	pub async fn fetch(rpc: &NodeRpc) -> Result<Self> {
		let version = rpc.runtime_version().await?;
		Ok(Self {
			genesis_hash: rpc.genesis_hash().await?,
			spec_version: version.spec_version,
			transaction_version: version.transaction_version,
		})
	}
}

/// How long a transaction stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mortality {
	/// Valid for `period` blocks (rounded up to a power of two) from block `number` (`hash`).
	Mortal { period: u64, number: u32, hash: H256 },
	/// Valid until included. Only for tools; services use mortal transactions so that "not
	/// included by the end of its life" is a final answer.
	Immortal,
}

/// An sr25519 key that signs transactions.
#[derive(Clone)]
pub struct Signer {
	pair: sr25519::Pair,
}

impl Signer {
	/// From a secret URI: a mnemonic or hex seed with optional derivation (`//Alice`,
	/// `"<mnemonic>//issuer"`).
	pub fn from_uri(uri: &str) -> Result<Self> {
		let pair = sr25519::Pair::from_string(uri, None)
			.map_err(|e| Error::InvalidKey(format!("{e:?}")))?;
		Ok(Self { pair })
	}

	pub fn account_id(&self) -> AccountId32 {
		self.pair.public().into()
	}

	/// The issuer's signature over a payment instruction for the chain of `ctx`: what an
	/// acquirer submits with the instruction (see `pallet_clearing_bank::post_payment`).
	/// Signs an arbitrary message (an HTTP request between parties, say). Callers put a
	/// domain of their own in front, so that no such signature is ever an extrinsic's or an
	/// instruction's.
	pub fn sign_message(&self, message: &[u8]) -> sr25519::Signature {
		self.pair.sign(message)
	}

	pub fn sign_instruction(
		&self,
		ctx: &ChainContext,
		instruction: &pallet_clearing_bank::PaymentInstruction<AccountId32>,
	) -> MultiSignature {
		let payload =
			pallet_clearing_bank::instruction_signing_payload(&ctx.genesis_hash, instruction);
		MultiSignature::Sr25519(self.pair.sign(&payload))
	}

	/// Signs `call` with `nonce`; `tip` is paid to the block author on top of the fee.
	pub fn sign(
		&self,
		ctx: &ChainContext,
		call: RuntimeCall,
		nonce: Nonce,
		mortality: Mortality,
		tip: u128,
	) -> UncheckedExtrinsic {
		let (era, era_hash) = match mortality {
			Mortality::Mortal { period, number, hash } => {
				(Era::mortal(period, number.into()), hash)
			}
			Mortality::Immortal => (Era::Immortal, ctx.genesis_hash),
		};
		let extension: TxExtension = (
			frame_system::CheckNonZeroSender::<Runtime>::new(),
			pallet_clearing_bank::CheckAuthorizedSigner::<Runtime>::new(),
			frame_system::CheckSpecVersion::<Runtime>::new(),
			frame_system::CheckTxVersion::<Runtime>::new(),
			frame_system::CheckGenesis::<Runtime>::new(),
			frame_system::CheckEra::<Runtime>::from(era),
			frame_system::CheckNonce::<Runtime>::from(nonce),
			frame_system::CheckWeight::<Runtime>::new(),
			pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(tip),
			frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
			frame_system::WeightReclaim::<Runtime>::new(),
		);
		let payload =
			SignedPayload::from_raw(call.clone(), extension.clone(), implicit(ctx, era_hash));
		let signature = payload.using_encoded(|bytes| self.pair.sign(bytes));
		UncheckedExtrinsic::new_signed(
			call,
			Address::Id(self.account_id()),
			MultiSignature::Sr25519(signature),
			extension,
		)
	}
}

/// What the transaction extensions add to the signed payload without putting it in the
/// extrinsic: the chain's versions and genesis, and the mortality checkpoint's hash.
fn implicit(
	ctx: &ChainContext,
	era_hash: H256,
) -> <TxExtension as sp_runtime::traits::TransactionExtension<RuntimeCall>>::Implicit {
	(
		(),
		(),
		ctx.spec_version,
		ctx.transaction_version,
		ctx.genesis_hash,
		era_hash,
		(),
		(),
		(),
		None,
		(),
	)
}

impl std::fmt::Debug for Signer {
	// Never print key material, only the public account.
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(f, "Signer({})", self.account_id())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Decode;
	use sp_runtime::generic::Preamble;

	fn ctx() -> ChainContext {
		ChainContext {
			genesis_hash: H256::repeat_byte(7),
			spec_version: clearline_runtime::VERSION.spec_version,
			transaction_version: clearline_runtime::VERSION.transaction_version,
		}
	}

	#[test]
	fn signature_covers_call_extensions_and_chain_context() {
		let alice = Signer::from_uri("//Alice").unwrap();
		let call = RuntimeCall::System(frame_system::Call::remark { remark: b"hi".to_vec() });
		let mortality = Mortality::Mortal { period: 64, number: 10, hash: H256::repeat_byte(9) };
		let xt = alice.sign(&ctx(), call.clone(), 5, mortality, 0);

		let encoded = xt.encode();
		let decoded = UncheckedExtrinsic::decode(&mut &encoded[..]).unwrap();
		let Preamble::Signed(address, MultiSignature::Sr25519(sig), ext) = decoded.preamble else {
			panic!("not a signed sr25519 extrinsic");
		};
		assert_eq!(address, Address::Id(alice.account_id()));
		assert_eq!(ext.6, frame_system::CheckNonce::<Runtime>::from(5));

		let payload_for = |genesis: H256, era_hash: H256| {
			let chain = ChainContext { genesis_hash: genesis, ..ctx() };
			SignedPayload::from_raw(call.clone(), ext.clone(), implicit(&chain, era_hash)).encode()
		};
		let public = sr25519::Public::from(alice.pair.public());
		let ok = payload_for(ctx().genesis_hash, H256::repeat_byte(9));
		assert!(sr25519::Pair::verify(&sig, &ok, &public));
		// Another chain, or another mortality checkpoint, does not verify.
		assert!(!sr25519::Pair::verify(
			&sig,
			&payload_for(H256::repeat_byte(8), H256::repeat_byte(9)),
			&public
		));
		assert!(!sr25519::Pair::verify(
			&sig,
			&payload_for(ctx().genesis_hash, H256::repeat_byte(1)),
			&public
		));
	}

	#[test]
	fn debug_output_shows_the_account_not_the_key() {
		let alice = Signer::from_uri("//Alice").unwrap();
		assert_eq!(format!("{alice:?}"), format!("Signer({})", alice.account_id()));
	}

	#[test]
	fn bad_uri_is_a_named_error() {
		assert!(matches!(Signer::from_uri("not a key"), Err(Error::InvalidKey(_))));
	}
}
