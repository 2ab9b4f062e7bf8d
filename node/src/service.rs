//! Assembles the node: client, database, transaction pool, networking, RPC and consensus.
//!
//! Two ways to author and finalize blocks (see [`Sealing`]):
//! - `aura`: Aura slots and GRANDPA finality, for any chain with several validators;
//! - `manual-seal`: the dev chain's single node seals a block at the start of every slot and
//!   finalizes it at once. Its blocks carry the same Aura slot digest, so the runtime checks
//!   them exactly as it checks Aura blocks; only the author's signature and the GRANDPA vote
//!   are skipped, which a one-node chain has no use for.

use crate::cli::Sealing;
use clearline_runtime::{apis::RuntimeApi, opaque::Block};
use futures::{FutureExt, Stream, StreamExt};
use sc_client_api::{Backend, BlockBackend, HeaderBackend};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_consensus_manual_seal::{
	consensus::aura::AuraConsensusDataProvider, EngineCommand, ManualSealParams,
};
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_consensus_aura::{
	sr25519::{
		AuthorityId as AuraId, AuthorityPair as AuraPair, AuthoritySignature as AuraSignature,
	},
	SlotDuration,
};
use sp_runtime::traits::Block as BlockT;
use std::{
	sync::Arc,
	time::{Duration, SystemTime, UNIX_EPOCH},
};

/// The host functions the runtime may call. A runtime built with `runtime-benchmarks` imports the
/// benchmarking ones as well, so a node built with the feature provides them: one binary then
/// serves `benchmark pallet` and runs the chain the benchmarks measure.
#[cfg(not(feature = "runtime-benchmarks"))]
type HostFunctions = sp_io::SubstrateHostFunctions;
#[cfg(feature = "runtime-benchmarks")]
type HostFunctions =
	(sp_io::SubstrateHostFunctions, frame_benchmarking::benchmarking::HostFunctions);

pub(crate) type FullClient =
	sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<HostFunctions>>;
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
type GrandpaBlockImport =
	sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;
type GrandpaLink = sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>;

/// GRANDPA writes a justification at least every this many blocks (and at authority changes),
/// so that a syncing node can prove finality without replaying every vote.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// How long GRANDPA waits for gossip before moving on in a round. Shorter than the upstream
/// 333 ms default because our one-second blocks want finality within a couple of seconds.
const GRANDPA_GOSSIP_DURATION: Duration = Duration::from_millis(250);

pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
	(Option<(GrandpaBlockImport, GrandpaLink)>, Option<Telemetry>),
>;

/// The parts of the node that the sub-commands (import, export, revert …) need as well.
pub fn new_partial(config: &Configuration, sealing: Sealing) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
	// GRANDPA's justifications prove finality to nodes that warp-sync; keep the blocks that
	// carry them when bodies are pruned.
	let pruning_filters: Vec<Arc<dyn sc_client_db::PruningFilter>> = match sealing {
		Sealing::Aura => vec![Arc::new(sc_consensus_grandpa::GrandpaPruningFilter)],
		Sealing::ManualSeal => vec![],
	};
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			pruning_filters,
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (import_queue, grandpa) = match sealing {
		Sealing::ManualSeal => {
			let queue = sc_consensus_manual_seal::import_queue(
				Box::new(client.clone()),
				&task_manager.spawn_essential_handle(),
				config.prometheus_registry(),
			);
			(queue, None)
		}
		Sealing::Aura => {
			let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
				client.clone(),
				GRANDPA_JUSTIFICATION_PERIOD,
				&client,
				select_chain.clone(),
				telemetry.as_ref().map(|x| x.handle()),
			)?;
			let cidp_client = client.clone();
			let queue = sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(
				ImportQueueParams {
					block_import: grandpa_block_import.clone(),
					justification_import: Some(Box::new(grandpa_block_import.clone())),
					client: client.clone(),
					create_inherent_data_providers: move |parent_hash, _| {
						let cidp_client = cidp_client.clone();
						async move {
							let slot_duration = sc_consensus_aura::standalone::slot_duration_at::<
								AuraId,
								_,
								_,
							>(&*cidp_client, parent_hash)?;
							let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
							let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
								*timestamp,
								slot_duration,
							);
							Ok((slot, timestamp))
						}
					},
					spawner: &task_manager.spawn_essential_handle(),
					registry: config.prometheus_registry(),
					check_for_equivocation: Default::default(),
					telemetry: telemetry.as_ref().map(|x| x.handle()),
					compatibility_mode: Default::default(),
				},
			)?;
			(queue, Some((grandpa_block_import, grandpa_link)))
		}
	};

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (grandpa, telemetry),
	})
}

/// Builds and starts a full node.
pub fn new_full<N: sc_network::NetworkBackend<Block, <Block as BlockT>::Hash>>(
	config: Configuration,
	sealing: Sealing,
) -> Result<TaskManager, ServiceError> {
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (grandpa, mut telemetry),
	} = new_partial(&config, sealing)?;

	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as BlockT>::Hash,
		N,
	>::new(&config.network, config.prometheus_registry().cloned());
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	// GRANDPA's gossip protocol and warp sync exist only where GRANDPA runs.
	let mut grandpa_network = None;
	let mut warp_sync_config = None;
	if let Some((_, link)) = &grandpa {
		let protocol_name = sc_consensus_grandpa::protocol_standard_name(
			&client.block_hash(0).ok().flatten().expect("Genesis block exists; qed"),
			&config.chain_spec,
		);
		let (protocol_config, notification_service) =
			sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
				protocol_name.clone(),
				metrics.clone(),
				net_config.peer_store_handle(),
			);
		net_config.add_notification_protocol(protocol_config);
		warp_sync_config = Some(WarpSyncConfig::WithProvider(Arc::new(
			sc_consensus_grandpa::warp_proof::NetworkProvider::new(
				backend.clone(),
				link.shared_authority_set().clone(),
				Vec::default(),
			),
		)));
		grandpa_network = Some((protocol_name, notification_service));
	}

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			gap_sync_body_policy: None,
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config,
			block_relay: None,
			metrics,
		})?;

	if config.offchain_worker.enabled {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: true,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();

	let rpc_extensions_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		Box::new(move |_| {
			let deps = crate::rpc::FullDeps { client: client.clone(), pool: pool.clone() };
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: Arc::new(network.clone()),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder: rpc_extensions_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	let proposer_factory = sc_basic_authorship::ProposerFactory::new(
		task_manager.spawn_handle(),
		client.clone(),
		transaction_pool.clone(),
		prometheus_registry.as_ref(),
		telemetry.as_ref().map(|x| x.handle()),
	);
	let slot_duration = sc_consensus_aura::slot_duration::<AuraId, _, _>(&*client)?;

	match (sealing, grandpa) {
		(Sealing::ManualSeal, _) => {
			let cidp_client = client.clone();
			let sealing_task = sc_consensus_manual_seal::run_manual_seal(ManualSealParams {
				block_import: client.clone(),
				env: proposer_factory,
				client: client.clone(),
				pool: transaction_pool,
				commands_stream: slot_ticks(client.clone(), slot_duration),
				select_chain,
				consensus_data_provider: Some(Box::new(
					AuraConsensusDataProvider::<Block>::new_with_slot_duration(slot_duration),
				)),
				create_inherent_data_providers: move |parent_hash, ()| {
					let client = cidp_client.clone();
					async move {
						let parent_slot = parent_slot(&*client, parent_hash)?;
						let timestamp =
							next_block_timestamp(now_millis(), parent_slot, slot_duration);
						Ok(sp_timestamp::InherentDataProvider::new(timestamp.into()))
					}
				},
			});
			task_manager.spawn_essential_handle().spawn_blocking(
				"manual-seal",
				Some("block-authoring"),
				sealing_task,
			);
		}
		(Sealing::Aura, Some((block_import, grandpa_link))) => {
			if role.is_authority() {
				let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(
					StartAuraParams {
						slot_duration,
						client: client.clone(),
						select_chain,
						block_import,
						proposer_factory,
						create_inherent_data_providers: move |_, ()| async move {
							let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
							let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
								*timestamp,
								slot_duration,
							);
							Ok((slot, timestamp))
						},
						force_authoring,
						backoff_authoring_blocks: Option::<()>::None,
						keystore: keystore_container.keystore(),
						sync_oracle: sync_service.clone(),
						justification_sync_link: sync_service.clone(),
						block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
						max_block_proposal_slot_portion: None,
						telemetry: telemetry.as_ref().map(|x| x.handle()),
						compatibility_mode: Default::default(),
					},
				)?;
				// Authoring is essential: if it fails, the node stops rather than idling.
				task_manager.spawn_essential_handle().spawn_blocking(
					"aura",
					Some("block-authoring"),
					aura,
				);
			}

			if enable_grandpa {
				let (protocol_name, notification_service) =
					grandpa_network.expect("set up above whenever GRANDPA parts exist; qed");
				// A node that does not vote needs no keys for GRANDPA.
				let keystore =
					if role.is_authority() { Some(keystore_container.keystore()) } else { None };
				let grandpa_params = sc_consensus_grandpa::GrandpaParams {
					config: sc_consensus_grandpa::Config {
						gossip_duration: GRANDPA_GOSSIP_DURATION,
						justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
						name: Some(name),
						observer_enabled: false,
						keystore,
						local_role: role,
						telemetry: telemetry.as_ref().map(|x| x.handle()),
						protocol_name,
					},
					link: grandpa_link,
					network,
					sync: Arc::new(sync_service),
					notification_service,
					// Votes go to the best block. The upstream default stays two blocks (and a
					// quarter of the unfinalized chain) behind it, to spare votes on a tip that may
					// yet be reorganised; with one-second Aura slots that was two to three seconds
					// of every payment's wait for finality (README "Throughput and latency"), and
					// voting rules never touch GRANDPA's safety, only which block a round targets.
					voting_rule: sc_consensus_grandpa::VotingRulesBuilder::new().build(),
					prometheus_registry,
					shared_voter_state: SharedVoterState::empty(),
					telemetry: telemetry.as_ref().map(|x| x.handle()),
					offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
				};
				task_manager.spawn_essential_handle().spawn_blocking(
					"grandpa-voter",
					None,
					sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
				);
			}
		}
		(Sealing::Aura, None) => unreachable!("new_partial builds GRANDPA parts for Aura; qed"),
	}

	Ok(task_manager)
}

fn now_millis() -> u64 {
	SystemTime::now()
		.duration_since(UNIX_EPOCH)
		.expect("the system clock is after 1970; qed")
		.as_millis() as u64
}

/// The Aura slot recorded in a block's header (0 for genesis, which has none).
fn parent_slot(
	client: &FullClient,
	hash: <Block as BlockT>::Hash,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
	let header =
		client.header(hash)?.ok_or_else(|| format!("header of parent block {hash} not found"))?;
	Ok(*sc_consensus_aura::find_pre_digest::<Block, AuraSignature>(&header)
		.map_err(|e| format!("parent block {hash} has no Aura slot: {e}"))?)
}

/// The timestamp of the next manually sealed block: the wall clock, unless that falls in the
/// parent's slot or before it, in which case the start of the slot after the parent's. The
/// runtime requires every block to be in a later slot than its parent.
pub(crate) fn next_block_timestamp(now: u64, parent_slot: u64, slot: SlotDuration) -> u64 {
	let slot_ms = slot.as_millis();
	now.max((parent_slot + 1) * slot_ms)
}

/// One seal-and-finalize command at the start of every slot in which the best block is not
/// already sealed.
fn slot_ticks(
	client: Arc<FullClient>,
	slot: SlotDuration,
) -> impl Stream<Item = EngineCommand<<Block as BlockT>::Hash>> + Unpin {
	let slot_ms = slot.as_millis();
	futures::stream::unfold(client, move |client| async move {
		loop {
			let now = now_millis();
			tokio::time::sleep(Duration::from_millis(slot_ms - now % slot_ms)).await;
			let current_slot = now_millis() / slot_ms;
			let best = client.info().best_hash;
			let best_slot = parent_slot(&client, best).unwrap_or(0);
			if current_slot > best_slot {
				let command = EngineCommand::SealNewBlock {
					create_empty: true,
					finalize: true,
					parent_hash: None,
					sender: None,
				};
				return Some((command, client));
			}
		}
	})
	.boxed()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn next_block_timestamp_moves_past_the_parent_slot() {
		let slot = SlotDuration::from_millis(1000);
		// Wall clock in a later slot: use it as it is.
		assert_eq!(next_block_timestamp(5_500, 3, slot), 5_500);
		// Wall clock still in the parent's slot: start of the next slot.
		assert_eq!(next_block_timestamp(3_999, 3, slot), 4_000);
		// Wall clock behind the parent (clock stepped back): still the next slot.
		assert_eq!(next_block_timestamp(1_000, 3, slot), 4_000);
		// Genesis parent (slot 0).
		assert_eq!(next_block_timestamp(1_700_000_000_123, 0, slot), 1_700_000_000_123);
	}
}
