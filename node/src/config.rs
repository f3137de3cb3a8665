//! Node configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use supervm_store::{BatchPolicy, Durability};

use crate::mempool::{BlockLimits, MempoolLimits};

/// Chain id of `--dev` chains.
pub const DEV_CHAIN_ID: u64 = 1337;
/// Default JSON-RPC port.
pub const DEFAULT_PORT: u16 = 8645;
/// Gas charged for a native transfer.
pub const NATIVE_TRANSFER_GAS: u64 = 2_000;
/// Lowest accepted gas limit.
pub const MIN_GAS_LIMIT: u64 = NATIVE_TRANSFER_GAS;
/// Highest accepted gas limit.
pub const MAX_GAS_LIMIT: u64 = supervm_abi::MAX_TX_GAS_LIMIT;
/// Default most gas per block, counted as the sum of the transactions' gas limits:
/// five transactions at the highest gas limit. 50,000,000 gas is tens of
/// milliseconds of computation here, so a block executes in a few seconds at worst.
pub const MAX_BLOCK_GAS: u64 = 5 * MAX_GAS_LIMIT;

/// Everything a node needs to start.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Data directory (store, dev keys).
    pub data_dir: PathBuf,
    /// Where JSON-RPC listens.
    pub listen: SocketAddr,
    /// Chain id.
    pub chain_id: u64,
    /// Dev mode: prefunded dev accounts, fixed gas price.
    pub dev: bool,
    /// Number of dev accounts to create on first start.
    pub dev_accounts: usize,
    /// Native balance of each dev account at genesis.
    pub dev_balance: u128,
    /// Minimum (dev: fixed) gas price.
    pub gas_price: u64,
    /// Most transactions, encoded bytes and summed gas limits per block (a
    /// transaction over a limit on its own gets a block of its own).
    pub block: BlockLimits,
    /// How long the producer waits for a first transaction before checking again.
    pub block_wait: Duration,
    /// Most transactions and bytes in the mempool (queued + in flight), in all and
    /// per sender.
    pub mempool: MempoolLimits,
    /// Largest accepted encoded transaction.
    pub max_tx_bytes: usize,
    /// Execution threads of the parallel scheduler.
    pub threads: usize,
    /// How long at most the execution threads stay awake after a block, waiting for
    /// the next (never longer than the block took; zero: they sleep at once; see
    /// `supervm_parallel::DEFAULT_LINGER`).
    pub worker_linger: Duration,
    /// State shards (fixed when the store is created).
    pub shards: u32,
    /// Commit durability.
    pub durability: Durability,
    /// How many blocks below the latest stay readable at past heights
    /// (`supervm_store::StoreConfig::history_blocks`; `None`: every height).
    pub history_blocks: Option<u64>,
    /// Commit batching (in blocks).
    pub batch: BatchPolicy,
    /// RPC connection limits (header-read timeout, open connections).
    pub rpc_connections: crate::rpc::ConnLimits,
    /// Most gas a simulation may ask for while it holds commits back (and its limit when
    /// it names none): one at a past height,
    /// or one that four tries could not finish between two commits. 50,000,000 gas is
    /// tens of milliseconds of computation here (more for a call reading much
    /// uncached state).
    pub max_locked_simulation_gas: u64,
    /// A fault hook handed to the store (fail-points of its commit and recovery), for
    /// tests of what the node does when a commit fails. `None` outside tests.
    pub store_fail: Option<StoreFailHook>,
}

/// [`NodeConfig::store_fail`]: the store's [`supervm_store::FailHook`], printable.
#[derive(Clone)]
pub struct StoreFailHook(pub supervm_store::FailHook);

impl std::fmt::Debug for StoreFailHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreFailHook")
    }
}

impl NodeConfig {
    /// The `--dev` defaults for a data directory.
    pub fn dev(data_dir: PathBuf) -> Self {
        NodeConfig {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            chain_id: DEV_CHAIN_ID,
            dev: true,
            dev_accounts: 8,
            dev_balance: 1_000_000_000_000_000_000_000_000,
            gas_price: 1,
            block: BlockLimits {
                txs: 4096,
                bytes: 8 << 20,
                gas: MAX_BLOCK_GAS,
            },
            block_wait: Duration::from_millis(100),
            mempool: MempoolLimits {
                capacity: 200_000,
                max_bytes: 256 << 20,
                per_sender: 1024,
            },
            max_tx_bytes: 600 * 1024,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            worker_linger: supervm_parallel::DEFAULT_LINGER,
            shards: 2,
            durability: Durability::Fsync,
            history_blocks: None,
            batch: BatchPolicy {
                min: 1,
                max: 64,
                target: Duration::from_millis(50),
            },
            rpc_connections: crate::rpc::ConnLimits::default(),
            max_locked_simulation_gas: 50_000_000,
            store_fail: None,
        }
    }
}
