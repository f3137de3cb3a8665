//! The command-line interface (clap). Contract arguments are given by name as JSON and
//! encoded with the interface the SDK embeds in the wasm; results and events are
//! decoded the same way.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use supervm_node::config::DEFAULT_PORT;

mod build;
mod calls;
mod contract;
mod ctx;
mod exit;
mod keys_cmd;
mod node_cmd;
mod query;
mod send;
#[cfg(test)]
mod tests;
mod text;

use ctx::{Ctx, home};
pub use exit::exit_status;

/// The heading of the client flags in `--help` (they are global, so `supervm node`'s
/// help lists them too: it refuses them).
const CLIENT_OPTIONS: &str = "Client options (not for `supervm node`)";

/// SuperVM: node and command-line tool.
#[derive(Parser, Debug)]
#[command(name = "supervm", version, about, after_help = exit::EXIT_HELP)]
pub struct Cli {
    /// Node JSON-RPC URL.
    #[arg(long, global = true, help_heading = CLIENT_OPTIONS, env = "SUPERVM_RPC", default_value_t = format!("http://127.0.0.1:{DEFAULT_PORT}"))]
    rpc: String,
    /// Print JSON instead of text.
    #[arg(long, global = true, help_heading = CLIENT_OPTIONS)]
    json: bool,
    /// Key file (default ~/.supervm/keys.json; then ~/.supervm/dev/dev-keys.json and the
    /// well-known dev keys dev0..dev7 are searched).
    #[arg(long, global = true, help_heading = CLIENT_OPTIONS, env = "SUPERVM_KEYS")]
    keys: Option<PathBuf>,
    /// Sign only for this chain id: a node reporting another is refused (without it, the
    /// CLI signs for the chain id the node reports).
    #[arg(long, global = true, help_heading = CLIENT_OPTIONS, env = "SUPERVM_EXPECT_CHAIN_ID")]
    expect_chain_id: Option<u64>,
    /// Sign only at this gas price or lower: a node asking more is refused (without it,
    /// the CLI pays the gas price the node reports).
    #[arg(long, global = true, help_heading = CLIENT_OPTIONS, env = "SUPERVM_MAX_GAS_PRICE")]
    max_gas_price: Option<u64>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start a node.
    Node(NodeArgs),
    /// Manage keys.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Build, deploy, invoke and simulate contracts.
    Contract {
        #[command(subcommand)]
        cmd: ContractCmd,
    },
    /// Send native balance.
    Transfer {
        /// Sender key name or address.
        #[arg(long)]
        from: String,
        /// Recipient (key name or address).
        to: String,
        /// Amount.
        amount: u128,
    },
    /// Transaction status and receipt. Exits non-zero unless it committed with outcome
    /// success (pending, dropped, unknown, or a failed outcome).
    Tx {
        /// Transaction hash.
        hash: String,
    },
    /// A block by height or hash (latest when none is given). Exits non-zero when there is no such block.
    Block {
        /// Height, or block hash (0x and 64 hex digits).
        id: Option<String>,
    },
    /// Events, filtered.
    Events(query::EventsArgs),
    /// An account's nonce and balance, latest or after block `--height`.
    Account {
        /// Key name or address.
        address: String,
        /// Read the state right after this block.
        #[arg(long)]
        height: Option<u64>,
    },
    /// A contract's raw storage value (hex), latest or after block `--height`.
    Storage {
        /// Contract address.
        contract: String,
        /// The contract's own storage key (hex).
        key: String,
        /// Read the state right after this block.
        #[arg(long)]
        height: Option<u64>,
    },
}

#[derive(clap::Args, Debug)]
struct NodeArgs {
    /// Development chain: chain id 1337, prefunded dev accounts, fixed gas price.
    #[arg(long)]
    dev: bool,
    /// Data directory (default ~/.supervm/dev with --dev).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Listen address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// State shards (fixed when the data directory is created: a restart gives the
    /// same number; default 2).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    shards: Option<u32>,
    /// Execution threads (1 to 32).
    #[arg(long)]
    threads: Option<usize>,
    /// Milliseconds the execution threads stay awake after a block, at most as long as
    /// the block took (default: supervm_parallel::DEFAULT_LINGER; 0: they sleep at once,
    /// saving CPU on a quiet node).
    #[arg(long)]
    worker_linger_ms: Option<u64>,
    /// fsync (default: each commit batch is on disk before it is acknowledged),
    /// no-fsync (a power loss or OS crash may lose the last batches; a process crash
    /// loses nothing) or no-wal (--dev only: a crash of any kind loses the whole store).
    #[arg(long)]
    durability: Option<String>,
    /// Keep state readable at the last N blocks below the latest only (reads at older
    /// heights are refused and their undo records dropped as RocksDB compacts); default:
    /// every height (archival).
    #[arg(long)]
    history_blocks: Option<u64>,
    /// Genesis file (non-dev chains): {"accounts":[{"address":"0x..","balance":"1"}]},
    /// each account once.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Chain id (non-dev chains).
    #[arg(long)]
    chain_id: Option<u64>,
    /// The lowest gas price admitted (default 1; the CLI signs at the price the node
    /// reports). A node setting, not part of the chain: it may change between starts.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    min_gas_price: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// Create a key.
    New {
        /// Its name.
        name: String,
    },
    /// List keys (addresses only).
    List,
}

#[derive(Subcommand, Debug)]
enum ContractCmd {
    /// Build a contract crate to wasm (wasm32v1-none).
    Build {
        /// Crate directory.
        path: PathBuf,
    },
    /// Upload a wasm file's code once, to deploy it later by its hash (`deploy
    /// --code-hash`): many contracts can share it.
    Upload {
        /// The .wasm file.
        wasm: PathBuf,
        /// Uploader key.
        #[arg(long)]
        from: String,
        /// Gas limit.
        #[arg(long, default_value_t = 500_000_000)]
        gas: u64,
    },
    /// Deploy a wasm file, or code uploaded before (`--code-hash`).
    Deploy {
        /// The .wasm file (or give --code-hash).
        wasm: Option<PathBuf>,
        /// The blake3 hash of uploaded code (hex), instead of a .wasm file; `--init`
        /// is then the constructor's encoded arguments in hex (no interface at hand).
        #[arg(long, conflicts_with = "wasm")]
        code_hash: Option<String>,
        /// Deployer key.
        #[arg(long)]
        from: String,
        /// Constructor arguments: JSON by name when the code embeds an interface, else
        /// hex of the encoded arguments (always hex with --code-hash); `@FILE` reads them
        /// from a file (`@-` from standard input).
        #[arg(long)]
        init: Option<String>,
        /// Address salt (hex, 32 bytes; default: the code's hash).
        #[arg(long)]
        salt: Option<String>,
        /// Gas limit.
        #[arg(long, default_value_t = 500_000_000)]
        gas: u64,
    },
    /// Call a contract in a transaction and wait for its receipt.
    Invoke {
        /// Contract address.
        address: String,
        /// Function.
        function: String,
        /// Arguments as JSON (by name), or `0x`-hex of the codec-encoded argument tuple
        /// (for types the interface cannot describe by name); `@FILE` reads either from
        /// a file (`@-` from standard input).
        #[arg(long)]
        args: Option<String>,
        /// Sender key.
        #[arg(long)]
        from: String,
        /// Gas limit.
        #[arg(long, default_value_t = 10_000_000)]
        gas: u64,
    },
    /// Run a call without a transaction, on the latest state or after block `--height`.
    Simulate {
        /// Contract address.
        address: String,
        /// Function.
        function: String,
        /// Arguments as JSON (by name), or `0x`-hex of the codec-encoded argument tuple
        /// (for types the interface cannot describe by name); `@FILE` reads either from
        /// a file (`@-` from standard input).
        #[arg(long)]
        args: Option<String>,
        /// Caller (key name or address; default zero).
        #[arg(long)]
        from: Option<String>,
        /// Gas limit (default: the node's, 100,000,000).
        #[arg(long)]
        gas: Option<u64>,
        /// Run on the state right after this block (as the block after it would).
        #[arg(long)]
        height: Option<u64>,
    },
}

/// An error and its causes on one line, each cause once: errors whose message already
/// includes their source's (the store's and the node's do) would otherwise repeat it,
/// as `{:#}` prints every cause after the message.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

/// The client flags (global, so they go anywhere on a client command's line) that
/// `supervm node` has no use for.
const CLIENT_FLAGS: [&str; 5] = ["rpc", "json", "keys", "expect_chain_id", "max_gas_price"];

/// Parses the command line; a client flag given to `supervm node` on its command line
/// is refused (the node would ignore it: `--rpc` for `--listen`, say), while the same
/// settings from the environment are left alone.
pub fn parse() -> std::result::Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
    let mut cmd = Cli::command();
    let m = cmd.clone().try_get_matches()?;
    if let Some(("node", sub)) = m.subcommand() {
        for id in CLIENT_FLAGS {
            if sub.value_source(id) == Some(ValueSource::CommandLine) {
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{} is a client flag; `supervm node` does not use it (the node \
                         serves on --listen)",
                        id.replace('_', "-")
                    ),
                ));
            }
        }
    }
    Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
}

impl Cli {
    /// Whether this is `supervm node` (whose failures all exit 1: the [`Exit`] statuses
    /// are the client commands').
    pub fn is_node(&self) -> bool {
        matches!(self.cmd, Cmd::Node(_))
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        rpc: cli.rpc,
        json: cli.json,
        keys_named: cli.keys.is_some(),
        keys: cli
            .keys
            .unwrap_or_else(|| home().join(".supervm").join("keys.json")),
        expect_chain_id: cli.expect_chain_id,
        max_gas_price: cli.max_gas_price,
    };
    // (`tx.simulate` and the queries execute calls on the runtime's blocking threads)
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(supervm_vm::EXECUTION_STACK)
        .build()?;
    match cli.cmd {
        Cmd::Node(a) => rt.block_on(node_cmd::node(a)),
        Cmd::Keys { cmd } => keys_cmd::keys_cmd(&ctx, cmd),
        Cmd::Contract { cmd } => rt.block_on(contract::contract_cmd(&ctx, cmd)),
        Cmd::Transfer { from, to, amount } => rt.block_on(send::transfer(&ctx, &from, &to, amount)),
        Cmd::Tx { hash } => rt.block_on(query::tx(&ctx, &hash)),
        Cmd::Block { id } => rt.block_on(query::block(&ctx, id.as_deref())),
        Cmd::Events(a) => rt.block_on(query::events(&ctx, a)),
        Cmd::Account { address, height } => rt.block_on(query::account(&ctx, &address, height)),
        Cmd::Storage {
            contract,
            key,
            height,
        } => rt.block_on(query::storage(&ctx, &contract, &key, height)),
    }
}
