//! The command-line interface (clap). Contract arguments are given by name as JSON and
//! encoded with the interface the SDK embeds in the wasm; results and events are
//! decoded the same way.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use supervm_client::keys::{self, KeyEntry};
use supervm_client::views::{from_hex, from_hex32, to_hex};
use supervm_client::{Client, DeployCode, EventFilter, TxBody, TxPayload};
use supervm_node::abi_json;
use supervm_node::config::{DEFAULT_PORT, NodeConfig};
use supervm_store::Durability;
use supervm_vm::Address;
use supervm_vm::interface::Interface;

/// SuperVM: node and command-line tool.
#[derive(Parser, Debug)]
#[command(name = "supervm", version, about)]
pub struct Cli {
    /// Node JSON-RPC URL.
    #[arg(long, global = true, env = "SUPERVM_RPC", default_value_t = format!("http://127.0.0.1:{DEFAULT_PORT}"))]
    rpc: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Key file (default ~/.supervm/keys.json; dev keys of ~/.supervm/dev are also searched).
    #[arg(long, global = true, env = "SUPERVM_KEYS")]
    keys: Option<PathBuf>,
    /// Sign only for this chain id: a node reporting another is refused (without it, the
    /// CLI signs for the chain id the node reports).
    #[arg(long, global = true, env = "SUPERVM_EXPECT_CHAIN_ID")]
    expect_chain_id: Option<u64>,
    /// Sign only at this gas price or lower: a node asking more is refused (without it,
    /// the CLI pays the gas price the node reports).
    #[arg(long, global = true, env = "SUPERVM_MAX_GAS_PRICE")]
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
    Events {
        /// Contract address.
        #[arg(long)]
        contract: Option<String>,
        /// Required topic, per position in order (repeat the flag: the first is the event
        /// name, then each topic field): the name as text; a field as TYPE:VALUE, encoded
        /// as the contract encodes it (`u64:5`, `String:USDC`, `Address:alice`), or as
        /// 0x-hex of the encoded bytes; `_` or `any` takes any value in its position.
        #[arg(long)]
        topic: Vec<String>,
        /// Lowest height.
        #[arg(long)]
        from: Option<u64>,
        /// Highest height.
        #[arg(long)]
        to: Option<u64>,
        /// Page size, 1 to 1000.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Cursor from a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// An account's nonce and balance.
    Account {
        /// Key name or address.
        address: String,
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
    /// State shards (fixed when the data directory is created).
    #[arg(long)]
    shards: Option<u32>,
    /// Execution threads (1 to 32).
    #[arg(long)]
    threads: Option<usize>,
    /// Milliseconds the execution threads stay awake after a block, at most as long as
    /// the block took (default: supervm_parallel::DEFAULT_LINGER; 0: they sleep at once,
    /// saving CPU on a quiet node).
    #[arg(long)]
    worker_linger_ms: Option<u64>,
    /// fsync (default), no-fsync or no-wal.
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
        /// hex of the encoded arguments (always hex with --code-hash).
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
        /// Arguments as JSON (by name).
        #[arg(long)]
        args: Option<String>,
        /// Sender key.
        #[arg(long)]
        from: String,
        /// Gas limit.
        #[arg(long, default_value_t = 10_000_000)]
        gas: u64,
    },
    /// Run a call on the latest state without a transaction.
    Simulate {
        /// Contract address.
        address: String,
        /// Function.
        function: String,
        /// Arguments as JSON (by name).
        #[arg(long)]
        args: Option<String>,
        /// Caller (key name or address; default zero).
        #[arg(long)]
        from: Option<String>,
    },
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn default_dev_dir() -> PathBuf {
    home().join(".supervm").join("dev")
}

/// The dev keys a dev node in the default directory wrote, searched after the key file.
fn dev_keys_file() -> PathBuf {
    default_dev_dir().join("dev-keys.json")
}

struct Ctx {
    rpc: String,
    json: bool,
    keys: PathBuf,
    /// Whether the key file was named (`--keys`, `SUPERVM_KEYS`): then it must exist.
    keys_named: bool,
    expect_chain_id: Option<u64>,
    max_gas_price: Option<u64>,
}

impl Ctx {
    fn all_keys(&self) -> Result<Vec<KeyEntry>> {
        // (a mistyped --keys must not quietly sign with the dev keys instead)
        if self.keys_named && !self.keys.exists() {
            bail!(
                "key file {} does not exist (`supervm keys new NAME` with the same --keys \
                 creates it)",
                self.keys.display()
            );
        }
        let mut k = keys::load(&self.keys)?;
        k.extend(keys::load(&dev_keys_file())?);
        Ok(k)
    }

    fn key(&self, name: &str) -> Result<KeyEntry> {
        let all = self.all_keys()?;
        // (the key file and the dev keys may each hold a key of that name, when one of
        // them was written after the other: neither may silently win)
        if names_of(&all).get(name) == Some(&None) {
            let named: Vec<&str> = all
                .iter()
                .filter(|e| e.name == name)
                .map(|e| e.address.as_str())
                .collect();
            bail!(
                "key name {name} is ambiguous: keys {} share it (key files: {} and {}); give \
                 the address instead",
                named.join(", "),
                self.keys.display(),
                dev_keys_file().display()
            );
        }
        Ok(keys::find(&all, name)
            .with_context(|| {
                format!(
                    "key files: {} and {}",
                    self.keys.display(),
                    dev_keys_file().display()
                )
            })?
            .clone())
    }

    /// Every key's address by name ([`names_of`]), for `Address` arguments given by
    /// key name.
    fn key_names(&self) -> Result<BTreeMap<String, Option<[u8; 32]>>> {
        Ok(names_of(&self.all_keys()?))
    }

    fn address(&self, s: &str) -> Result<Address> {
        match from_hex32(s) {
            Ok(a) => return Ok(Address(a)),
            // (a mistyped address is not a key name: say what is wrong with it)
            Err(e) if s.starts_with("0x") => bail!("address {s}: {e}"),
            Err(_) => {}
        }
        Ok(self.key(s)?.address()?)
    }

    /// Refuses to sign for a chain id or at a gas price the user ruled out
    /// (`--expect-chain-id`, `--max-gas-price`): a wrong or hostile node must not pick
    /// the chain a signature is valid on, nor the fee.
    fn check_node_terms(&self, chain_id: u64, gas_price: u64) -> Result<()> {
        if let Some(expected) = self.expect_chain_id
            && chain_id != expected
        {
            bail!(
                "the node at {} is on chain {chain_id}, not {expected} (--expect-chain-id): nothing signed",
                self.rpc
            );
        }
        if let Some(max) = self.max_gas_price
            && gas_price > max
        {
            bail!(
                "the node at {} asks gas price {gas_price}, over --max-gas-price {max}: nothing signed",
                self.rpc
            );
        }
        Ok(())
    }

    fn print(&self, v: &Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            println!("{}", text());
        }
    }
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

/// Every key's address by name; a name two keys share maps to `None` (ambiguous:
/// refused wherever it is used).
fn names_of(keys: &[KeyEntry]) -> BTreeMap<String, Option<[u8; 32]>> {
    let mut names: BTreeMap<String, Option<[u8; 32]>> = BTreeMap::new();
    for e in keys {
        let a = from_hex32(&e.address).ok();
        names
            .entry(e.name.clone())
            .and_modify(|b| {
                if *b != a {
                    *b = None;
                }
            })
            .or_insert(a);
    }
    names
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
        Cmd::Node(a) => rt.block_on(node(a)),
        Cmd::Keys { cmd } => keys_cmd(&ctx, cmd),
        Cmd::Contract { cmd } => rt.block_on(contract_cmd(&ctx, cmd)),
        Cmd::Transfer { from, to, amount } => rt.block_on(transfer(&ctx, &from, &to, amount)),
        Cmd::Tx { hash } => rt.block_on(async {
            let c = Client::new(&ctx.rpc);
            let t = c.tx(&from_hex32(&hash).map_err(|e| anyhow!(e))?).await?;
            let v = serde_json::to_value(&t)?;
            ctx.print(&v, || {
                let mut s = format!("{} {}", t.hash, t.status);
                if let Some(r) = &t.receipt {
                    s += &format!("\n{}", receipt_text(r));
                }
                s
            });
            // (printed either way; the exit status says whether it committed and succeeded)
            committed_ok(&supervm_client::views::SubmitResult {
                hash: t.hash.clone(),
                status: t.status.clone(),
                receipt: t.receipt.clone(),
            })
        }),
        Cmd::Block { id } => rt.block_on(async {
            let c = Client::new(&ctx.rpc);
            let b = match id.as_deref() {
                None => c.block(None).await?,
                Some(h) if h.starts_with("0x") => c.block_by_hash(h).await?,
                Some(h) => {
                    c.block(Some(h.parse().map_err(|_| {
                        anyhow!("block: {h} is neither a height nor a 0x-hex block hash")
                    })?))
                    .await?
                }
            };
            // (as `tx` does for an unknown hash: a script can tell a missing block; for
            // people the error says it, once)
            let Some(b) = b else {
                if ctx.json {
                    ctx.print(&Value::Null, String::new);
                }
                bail!("no such block");
            };
            let v = serde_json::to_value(&b)?;
            ctx.print(&v, || {
                format!(
                    "block {} {}\n  parent {}\n  state root {}\n  {} transactions, gas {}, time {}",
                    b.height,
                    b.hash,
                    b.parent_hash,
                    b.state_root,
                    b.tx_count,
                    b.gas_used,
                    b.timestamp_ms
                )
            });
            Ok(())
        }),
        Cmd::Events {
            contract,
            topic,
            from,
            to,
            limit,
            cursor,
        } => rt.block_on(async {
            let filter = EventFilter {
                contract: contract.map(|c| ctx.address(&c)).transpose()?,
                topics: topic
                    .iter()
                    .map(|t| topic_filter(&ctx, t))
                    .collect::<Result<Vec<_>>>()?,
                from_height: from,
                to_height: to,
                cursor,
                limit: Some(limit),
            };
            let page = Client::new(&ctx.rpc).events_filtered(&filter).await?;
            let v = serde_json::to_value(&page)?;
            ctx.print(&v, || {
                let mut s: Vec<String> = page
                    .events
                    .iter()
                    .map(|e| {
                        format!(
                            "{}:{}:{} {} {}",
                            e.block_height,
                            e.tx_index,
                            e.event_index,
                            e.contract,
                            topic_text(&e.topics)
                        )
                    })
                    .collect();
                if let Some(c) = &page.next_cursor {
                    s.push(format!("(more: --cursor {c})"));
                }
                if s.is_empty() {
                    s.push("no events match".into());
                }
                s.join("\n")
            });
            Ok(())
        }),
        Cmd::Account { address } => rt.block_on(async {
            let a = ctx.address(&address)?;
            let acc = Client::new(&ctx.rpc).account(&a).await?;
            let v = serde_json::to_value(&acc)?;
            ctx.print(&v, || {
                format!(
                    "{}\n  nonce {}\n  balance {}",
                    acc.address, acc.nonce, acc.balance
                )
            });
            Ok(())
        }),
        Cmd::Storage {
            contract,
            key,
            height,
        } => rt.block_on(async {
            let a = ctx.address(&contract)?;
            let k = from_hex(&key).map_err(|e| anyhow!("storage key: {e}"))?;
            let value = Client::new(&ctx.rpc).storage(&a, &k, height).await?;
            let hex = value.as_deref().map(to_hex);
            let v = serde_json::to_value(&hex)?;
            ctx.print(&v, || hex.unwrap_or_else(|| "not found".into()));
            Ok(())
        }),
    }
}

/// One `--topic` of `supervm events`: `_` or `any` takes any value, `0x…` is hex,
/// `TYPE:VALUE` is VALUE encoded as the contract's topic field of that type is (`u64:5`,
/// `String:USDC`, `Address:alice` or `Address:0x…`, `bool:true`), other text stands for
/// its bytes (an event name: the first topic is the name as it is).
fn topic_filter(ctx: &Ctx, t: &str) -> Result<Option<Vec<u8>>> {
    match t {
        "_" | "any" => Ok(None),
        _ if t.starts_with("0x") => from_hex(t)
            .map(Some)
            .map_err(|e| anyhow!("--topic {t}: {e}")),
        _ => match t.split_once(':') {
            Some((ty, value)) => {
                let v = match ty {
                    // (integers as text: all of a u128 parses, where JSON numbers lose it)
                    "String" | "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32"
                    | "i64" | "i128" => Value::String(value.into()),
                    "Address" => Value::String(to_hex(&ctx.address(value)?.0)),
                    _ => {
                        serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()))
                    }
                };
                let mut out = Vec::new();
                abi_json::encode_value(abi_json::Types::NONE, ty, &v, &mut out)
                    .map_err(|e| anyhow!("--topic {t}: {e} (give other bytes as 0x-hex)"))?;
                Ok(Some(out))
            }
            None => Ok(Some(t.as_bytes().to_vec())),
        },
    }
}

fn topic_text(topics: &[String]) -> String {
    topics
        .iter()
        .map(|t| {
            let b = from_hex(t).unwrap_or_default();
            match std::str::from_utf8(&b) {
                Ok(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()) => s.to_string(),
                _ => t.clone(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn node(a: NodeArgs) -> Result<()> {
    supervm_node::logging::init("info");
    let data_dir = a.data_dir.clone().unwrap_or_else(|| {
        if a.dev {
            default_dev_dir()
        } else {
            home().join(".supervm").join("node")
        }
    });
    let mut config = NodeConfig::dev(data_dir);
    config.dev = a.dev;
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if let Some(s) = a.shards {
        config.shards = s;
    }
    if let Some(t) = a.threads {
        let max = supervm_parallel::MAX_THREADS;
        if !(1..=max).contains(&t) {
            bail!("--threads: 1 to {max}, got {t}");
        }
        config.threads = t;
    }
    if let Some(ms) = a.worker_linger_ms {
        config.worker_linger = std::time::Duration::from_millis(ms);
    }
    if let Some(d) = &a.durability {
        config.durability = Durability::parse(d)
            .ok_or_else(|| anyhow!("--durability: fsync, no-fsync or no-wal"))?;
    }
    config.history_blocks = a.history_blocks;
    let genesis = if a.dev {
        // (a dev chain has its own id and funds its dev keys: these would be ignored)
        if a.genesis.is_some() || a.chain_id.is_some() {
            bail!("--genesis and --chain-id are for non-dev chains; a --dev chain has its own");
        }
        None
    } else {
        let g = a.genesis.as_ref().ok_or_else(|| {
            anyhow!("a non-dev node needs --genesis FILE and --chain-id N (or use --dev)")
        })?;
        config.chain_id = a
            .chain_id
            .ok_or_else(|| anyhow!("--chain-id is required with --genesis"))?;
        Some(supervm_node::genesis::read_genesis_file(g)?)
    };
    let running = supervm_node::node::start(config, genesis).await?;
    // Ctrl-C, or SIGTERM from a service manager (systemd, docker stop): both stop
    // cleanly, saving the mempool.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    eprintln!("stopping: committing what is in flight ...");
    running.stop().await;
    eprintln!("stopped cleanly");
    Ok(())
}

fn keys_cmd(ctx: &Ctx, cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::New { name } => {
            // A name must be usable wherever a key is named, and name one key only: the
            // CLI takes 0x-hex as an address, and a name already among the dev keys
            // would be shadowed by (or shadow) this one.
            if name.trim().is_empty() || name.trim() != name {
                bail!("key name {name:?}: give a non-empty name without surrounding spaces");
            }
            if name.starts_with("0x") || from_hex32(&name).is_ok() {
                bail!("key name {name}: it would be read as an address; choose another");
            }
            let dev_file = dev_keys_file();
            if dev_file != ctx.keys && keys::load(&dev_file)?.iter().any(|e| e.name == name) {
                bail!(
                    "a key named {name} exists among the dev keys ({}); choose another name",
                    dev_file.display()
                );
            }
            let e = keys::update(&ctx.keys, |k| {
                if k.iter().any(|e| e.name == name) {
                    return Err(supervm_client::Error::Keys(format!(
                        "a key named {name} exists in {}",
                        ctx.keys.display()
                    )));
                }
                let e = KeyEntry::generate(&name);
                k.push(e.clone());
                Ok(e)
            })?;
            ctx.print(
                &json!({"name": e.name, "address": e.address, "file": ctx.keys}),
                || {
                    format!(
                        "{} {}\n(saved in {})",
                        e.name,
                        e.address,
                        ctx.keys.display()
                    )
                },
            );
        }
        KeysCmd::List => {
            let k = ctx.all_keys()?;
            let v: Vec<Value> = k
                .iter()
                .map(|e| json!({"name": e.name, "address": e.address}))
                .collect();
            ctx.print(&Value::Array(v), || {
                k.iter()
                    .map(|e| format!("{:<12} {}", e.name, e.address))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

async fn sign_and_send(
    ctx: &Ctx,
    c: &Client,
    from: &str,
    gas: u64,
    payload: TxPayload,
) -> Result<supervm_client::views::SubmitResult> {
    let key = ctx.key(from)?;
    let sk = key.signing_key()?;
    let sender = keys::address_of(&sk);
    let info = c.chain_info().await?;
    ctx.check_node_terms(info.chain_id, info.gas_price)?;
    let acc = c.account(&sender).await?;
    let tx = TxBody {
        chain_id: info.chain_id,
        sender,
        // (counting the sender's pending transactions: two sends in a row both go in)
        nonce: acc.pending_nonce.unwrap_or(acc.nonce),
        gas_limit: gas,
        gas_price: info.gas_price,
        expiry_height: info.latest_height.unwrap_or(0) + 1_000,
        payload,
    }
    .sign(&sk);
    c.submit(&tx, true)
        .await
        .map_err(|e| submit_error(e, &to_hex(&tx.hash())))
}

/// A failed `tx.submit`. Unless the node refused the transaction outright, it may have
/// been admitted before the failure (the pipeline halted while the submission waited,
/// an internal error in the wait, a lost connection or a timeout) and may still commit:
/// the error names its hash, so the user checks before sending it again (a new send
/// takes the next nonce, and both would commit).
fn submit_error(e: supervm_client::Error, hash: &str) -> anyhow::Error {
    use supervm_client::Error as E;
    let refused = match &e {
        // (-32029: halted, perhaps while waiting; -32603: internal error, perhaps in the
        // wait; -32001: timed out, perhaps after the admission; -32006: the call ran)
        E::Rpc { code, .. } => ![-32029, -32603, -32001, -32006].contains(code),
        E::Malformed(_)
        | E::NonCanonicalSignature
        | E::BadSenderKey(_)
        | E::BadSignature
        | E::Keys(_) => true,
        E::Transport(_) => false,
    };
    if refused {
        anyhow!(e)
    } else {
        anyhow!(
            "{e}\ntransaction {hash} may have been accepted and may still commit: check with \
             `supervm tx {hash}` before sending it again"
        )
    }
}

/// A .wasm file's code, checked as the node will check it, and the interface the SDK
/// embedded in it (if any).
fn read_wasm(wasm: &std::path::Path) -> Result<(Vec<u8>, Option<Interface>)> {
    let code = std::fs::read(wasm).with_context(|| format!("read {}", wasm.display()))?;
    let info = supervm_vm::validate::validate(&code, &supervm_vm::Limits::default())
        .map_err(|e| anyhow!("{}: {e}", wasm.display()))?;
    let iface = info
        .interface
        .as_deref()
        .map(Interface::parse)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    Ok((code, iface))
}

/// Prints a submitted code transaction and what it made (`value`, e.g. the contract
/// address: JSON member `key`, and `label` for people), then [`committed_ok`].
fn print_submitted(
    ctx: &Ctx,
    r: &supervm_client::views::SubmitResult,
    key: &str,
    label: &str,
    value: String,
) -> Result<()> {
    let v = serde_json::to_value(r)?;
    ctx.print(&json!({ key: value, "submit": v }), || {
        let failed = r.receipt.as_ref().is_some_and(|x| x.outcome != "success");
        // (a deploy that failed deployed nothing at its address: another contract may
        // stand there, the reason says)
        let not_created = if failed && key == "address" {
            " (nothing deployed by this transaction)"
        } else {
            ""
        };
        format!(
            "{} {}\n{label} {value}{not_created}{}",
            r.hash,
            r.status,
            r.receipt
                .as_ref()
                .map(|x| format!(
                    "\noutcome {}{} gas {}",
                    x.outcome,
                    outcome_detail(x),
                    x.gas_used
                ))
                .unwrap_or_default()
        )
    });
    committed_ok(r)
}

/// After the result is printed: an error (so a non-zero exit status for scripts) unless
/// the transaction committed with outcome success.
fn committed_ok(r: &supervm_client::views::SubmitResult) -> Result<()> {
    match &r.receipt {
        Some(x) if x.outcome == "success" => Ok(()),
        Some(x) => bail!(
            "transaction {} committed with outcome {}",
            r.hash,
            x.outcome
        ),
        None if r.status == "pending" => bail!(
            "transaction {} is not committed yet; check with `supervm tx {}`",
            r.hash,
            r.hash
        ),
        None => bail!("transaction {} {}", r.hash, r.status),
    }
}

/// What a failed receipt says beyond its outcome, for people: a revert's code (named when
/// it is one of the SDK's reserved codes) and the contract that reverted, or a trap's or
/// an invalid transaction's reason (empty on success).
fn outcome_detail(x: &supervm_client::views::ReceiptView) -> String {
    let mut s = String::new();
    if let Some(code) = x.revert_code {
        s += &format!(" (code {code}");
        if let Some(name) = reserved_code_name(code) {
            s += &format!(" {name}");
        }
        if let Some(c) = &x.revert_contract {
            s += &format!(" in contract {c}");
        }
        s += ")";
    }
    if let Some(reason) = &x.reason {
        s += &format!(": {reason}");
    }
    s
}

/// A receipt for people (`--json` prints it whole).
fn receipt_text(x: &supervm_client::views::ReceiptView) -> String {
    let mut s = format!(
        "block {} index {}
outcome {}",
        x.block_height, x.index, x.outcome
    );
    s += &outcome_detail(x);
    s += &format!(
        "
gas {} fee {}",
        x.gas_used, x.fee
    );
    if let Some(c) = &x.contract {
        s += &format!(
            "
contract {c}"
        );
    }
    if x.return_data != "0x" && !x.return_data.is_empty() {
        s += &format!(
            "
return {}",
            x.return_data
        );
    }
    for e in &x.events {
        s += &format!(
            "
event {} topics [{}] data {}",
            e.contract,
            e.topics.join(", "),
            e.data
        );
    }
    s
}

async fn transfer(ctx: &Ctx, from: &str, to: &str, amount: u128) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    let to = ctx.address(to)?;
    // Native balance sent to a contract or to the zero address can never move again (no
    // host function spends a contract's native balance, and no key signs for zero).
    if to == Address([0; 32]) {
        bail!("refusing to send to the zero address: nothing could ever spend it");
    }
    if c.contract(&to).await?.is_some() {
        bail!(
            "refusing to send native balance to contract {}: contracts cannot spend it",
            to_hex(&to.0)
        );
    }
    // Nor to an address no key can sign for (the node refuses transactions from it).
    if let Err(e) = supervm_client::tx::sender_key(&to) {
        let why = match e {
            supervm_client::Error::BadSenderKey(w) => w.to_string(),
            other => other.to_string(),
        };
        bail!(
            "refusing to send to {}: it is not an account key ({why}), so nothing could \
             ever spend the balance",
            to_hex(&to.0)
        );
    }
    // (a native transfer uses exactly this much: a larger limit only reserved more of
    // the balance, so an account could not be emptied)
    let gas = supervm_node::config::NATIVE_TRANSFER_GAS;
    let r = sign_and_send(ctx, &c, from, gas, TxPayload::Transfer { to, amount }).await?;
    let v = serde_json::to_value(&r)?;
    ctx.print(&v, || format!("{} {}", r.hash, r.status));
    committed_ok(&r)
}

/// A revert's error name (`None` unless the call reverted with `code`), and the
/// reverting contract (hex) when it is not the called one. The called function's error type names the code when the called contract
/// reverted (or the node did not say which did), else by any error type of its
/// interface; another contract's code is named by that contract's interface (see
/// [`Interface::error_name_any`]); the SDK's reserved codes by their names. `?` when
/// nothing names it.
async fn revert_error(
    c: &Client,
    called: (&Interface, &Address, &str),
    code: Option<u32>,
    reverter: Option<&str>,
) -> (Option<String>, Option<String>) {
    let Some(code) = code else {
        return (None, None);
    };
    let (i, address, function) = called;
    let other = reverter
        .and_then(|r| from_hex32(r).ok())
        .map(Address)
        .filter(|a| a != address);
    if let Some(reserved) = reserved_code_name(code) {
        return (Some(reserved.to_string()), other.map(|a| to_hex(&a.0)));
    }
    let Some(other) = other else {
        let name = i
            .error_name(function, code)
            .or_else(|| i.error_name_any(code));
        return (Some(name.unwrap_or("?").to_string()), None);
    };
    let name = match interface_of(c, &other).await {
        Ok(oi) => oi.error_name_any(code).unwrap_or("?").to_string(),
        Err(_) => "?".to_string(),
    };
    (Some(name), Some(to_hex(&other.0)))
}

/// The `error` line of a failed call for people: the error's name, and the contract
/// that reverted when it is not the called one (empty when the call did not revert).
fn error_line(error: &Option<String>, reverted_in: &Option<String>) -> String {
    match (error, reverted_in) {
        (None, _) => String::new(),
        (Some(e), None) => format!("\nerror {e}"),
        (Some(e), Some(c)) => format!("\nerror {e} (reverted in contract {c})"),
    }
}

/// The `reason` line of a trapped or invalid call for people (empty for other outcomes):
/// a trap's reason names the contract whose frame trapped.
fn reason_line(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map_or_else(String::new, |r| format!("\nreason {r}"))
}

/// The SDK's reserved revert codes by name (see `supervm_abi::BAD_INPUT`).
fn reserved_code_name(code: u32) -> Option<&'static str> {
    match code {
        supervm_abi::BAD_INPUT => Some("BAD_INPUT (the arguments did not decode)"),
        supervm_abi::BAD_RESULT => Some("BAD_RESULT (a called contract's result did not decode)"),
        supervm_abi::BAD_STORAGE => Some("BAD_STORAGE (a stored value did not decode)"),
        _ => None,
    }
}

async fn interface_of(c: &Client, address: &Address) -> Result<Interface> {
    let view = c
        .contract(address)
        .await?
        .ok_or_else(|| anyhow!("no contract at {}", to_hex(&address.0)))?;
    let i = view.interface.ok_or_else(|| {
        anyhow!(
            "the contract's code embeds no interface, which the CLI needs to encode arguments by \
             name (contracts built with the SDK's #[contract] embed one); call it through the \
             client library or JSON-RPC with codec-encoded arguments instead"
        )
    })?;
    Ok(serde_json::from_value(i)?)
}

fn encode_call(
    ctx: &Ctx,
    i: &Interface,
    function: &str,
    args: Option<&str>,
) -> Result<(Vec<u8>, String)> {
    // (a constructor runs only at deploy: a call of it is invalid on chain)
    let f = i
        .function(function)
        .filter(|f| !f.constructor)
        .ok_or_else(|| {
            anyhow!(
                "{} has no {}function {function}; it has: {}",
                i.name,
                if i.function(function).is_some() {
                    "callable "
                } else {
                    ""
                },
                i.functions
                    .iter()
                    .filter(|f| !f.constructor)
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let args: Value = match args {
        None => json!({}),
        Some(s) => abi_json::parse_strict(s).context("--args must be JSON")?,
    };
    let names = ctx.key_names()?;
    let bytes = abi_json::encode_args(abi_json::Types::of(i).with_names(&names), f, &args)
        .map_err(|e| anyhow!("{function}: {e}"))?;
    Ok((bytes, f.returns.clone()))
}

fn decoded_events(
    i: Option<&Interface>,
    events: &[supervm_client::views::EventView],
) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let name = e
                .topics
                .first()
                .and_then(|t| String::from_utf8(from_hex(t).ok()?).ok());
            let def = i.and_then(|i| i.events.iter().find(|d| Some(&d.name) == name.as_ref()));
            let types = i.map_or(abi_json::Types::NONE, abi_json::Types::of);
            let data = def
                .and_then(|d| abi_json::decode_fields(types, &d.data, &from_hex(&e.data).ok()?).ok())
                .unwrap_or_else(|| json!(e.data));
            let topics: Vec<Value> = match def {
                Some(d) => d
                    .topics
                    .iter()
                    .zip(e.topics.iter().skip(1))
                    .map(|(f, t)| {
                        let b = from_hex(t).unwrap_or_default();
                        json!({ &f.name: abi_json::decode_all(types, &f.ty, &b).unwrap_or(json!(t)) })
                    })
                    .collect(),
                None => e.topics.iter().map(|t| json!(t)).collect(),
            };
            json!({"contract": e.contract, "event": name, "topics": topics, "data": data})
        })
        .collect()
}

async fn contract_cmd(ctx: &Ctx, cmd: ContractCmd) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    match cmd {
        ContractCmd::Build { path } => build(ctx, &path),
        ContractCmd::Upload { wasm, from, gas } => {
            let code = read_wasm(&wasm)?.0;
            let hash = supervm_vm::code_hash(&code);
            ctx.key(&from)?;
            // (code is stored once by hash: uploading it again would only be charged)
            if let Some(stored) = c.code(&hash).await? {
                ctx.print(
                    &json!({"code_hash": to_hex(&hash), "already_stored": true, "submit": null}),
                    || {
                        format!(
                            "code hash {} is already stored ({} bytes): nothing was sent \
                             (deploy it with --code-hash)",
                            to_hex(&hash),
                            stored.size
                        )
                    },
                );
                return Ok(());
            }
            let r = sign_and_send(ctx, &c, &from, gas, TxPayload::Upload { code }).await?;
            print_submitted(ctx, &r, "code_hash", "code hash", to_hex(&hash))
        }
        ContractCmd::Deploy {
            wasm,
            code_hash,
            from,
            init,
            salt,
            gas,
        } => {
            let (code, iface) = match (&wasm, &code_hash) {
                (Some(w), None) => {
                    let (code, iface) = read_wasm(w)?;
                    (DeployCode::Wasm(code), iface)
                }
                (None, Some(h)) => (
                    DeployCode::Hash(from_hex32(h).map_err(|e| anyhow!("--code-hash: {e}"))?),
                    None,
                ),
                _ => bail!("give the contract's .wasm file or --code-hash"),
            };
            let init_args = match (&iface, &init) {
                (Some(i), Some(s)) => {
                    let ctor = i.functions.iter().find(|f| f.constructor).ok_or_else(|| {
                        anyhow!("--init given but the contract has no constructor")
                    })?;
                    abi_json::encode_args(
                        abi_json::Types::of(i).with_names(&ctx.key_names()?),
                        ctor,
                        &abi_json::parse_strict(s).context("--init must be JSON")?,
                    )
                    .map_err(|e| anyhow!("constructor: {e}"))?
                }
                (None, Some(s)) => from_hex(s).map_err(|e| anyhow!("--init: {e}"))?,
                // No --init: a constructor that takes arguments is told so here, before
                // a deploy that could only fail on chain (and cost gas).
                (Some(i), None) => match i.functions.iter().find(|f| f.constructor) {
                    Some(ctor) => abi_json::encode_args(abi_json::Types::of(i), ctor, &json!({}))
                        .map_err(|e| {
                        anyhow!("constructor (give its arguments with --init): {e}")
                    })?,
                    None => vec![],
                },
                (None, None) => vec![],
            };
            let hash = match &code {
                DeployCode::Wasm(w) => supervm_vm::code_hash(w),
                DeployCode::Hash(h) => *h,
            };
            let explicit_salt = salt.is_some();
            let salt = match salt {
                Some(s) => from_hex32(&s).map_err(|e| anyhow!("--salt: {e}"))?,
                // (the code's hash: the same address from the file or from its hash)
                None => hash,
            };
            let sender = ctx.key(&from)?.address()?;
            let addr = supervm_vm::contract_address(&sender, &salt);
            // (a deploy to a taken address can only fail on chain, after paying for it)
            if c.contract(&addr).await?.is_some() {
                bail!(
                    "a contract already exists at {} (the address follows from the deploying \
                     key and the salt{}): give another --salt to deploy a new instance; \
                     nothing was sent",
                    to_hex(&addr.0),
                    if explicit_salt {
                        ""
                    } else {
                        ", by default the code's hash"
                    }
                );
            }
            // Code already stored deploys by its hash: the same contract, without paying
            // to send and store the code again. Code asked for by a hash nothing stored
            // could only fail on chain.
            let stored = c.code(&hash).await?.is_some();
            let code = match code {
                DeployCode::Hash(_) if !stored => bail!(
                    "no code with hash {} is stored (upload it first: `supervm contract \
                     upload FILE`); nothing was sent",
                    to_hex(&hash)
                ),
                DeployCode::Wasm(_) if stored => {
                    if !ctx.json {
                        eprintln!("(this code is already stored: deploying it by its hash)");
                    }
                    DeployCode::Hash(hash)
                }
                code => code,
            };
            let r = sign_and_send(
                ctx,
                &c,
                &from,
                gas,
                TxPayload::Deploy {
                    code,
                    salt,
                    init_args,
                },
            )
            .await?;
            print_submitted(ctx, &r, "address", "contract address", to_hex(&addr.0))
        }
        ContractCmd::Invoke {
            address,
            function,
            args,
            from,
            gas,
        } => {
            let a = ctx.address(&address)?;
            let i = interface_of(&c, &a).await?;
            let (bytes, returns) = encode_call(ctx, &i, &function, args.as_deref())?;
            let r = sign_and_send(
                ctx,
                &c,
                &from,
                gas,
                TxPayload::Call {
                    contract: a,
                    function: function.clone(),
                    args: bytes,
                },
            )
            .await?;
            let rec = r.receipt.clone();
            let result = rec.as_ref().and_then(|x| {
                if x.outcome == "success" {
                    abi_json::decode_all(
                        abi_json::Types::of(&i),
                        &returns,
                        &from_hex(&x.return_data).ok()?,
                    )
                    .ok()
                } else {
                    None
                }
            });
            let code = rec.as_ref().and_then(|x| x.revert_code);
            let reverter = rec.as_ref().and_then(|x| x.revert_contract.as_deref());
            let called = (&i, &a, function.as_str());
            let (error, reverted_in) = revert_error(&c, called, code, reverter).await;
            let events = rec
                .as_ref()
                .map(|x| decoded_events(Some(&i), &x.events))
                .unwrap_or_default();
            let reason = rec.as_ref().and_then(|x| x.reason.clone());
            let v = json!({"hash": r.hash, "status": r.status, "outcome": rec.as_ref().map(|x| &x.outcome), "gas_used": rec.as_ref().map(|x| x.gas_used), "fee": rec.as_ref().map(|x| &x.fee), "block_height": rec.as_ref().map(|x| x.block_height), "index": rec.as_ref().map(|x| x.index), "return_data": rec.as_ref().map(|x| &x.return_data), "result": result, "error": error, "reverted_in": reverted_in, "reason": reason, "events": events});
            ctx.print(&v, || {
                let mut s = format!("{} {}", r.hash, r.status);
                if let Some(x) = &rec {
                    s += &format!("\noutcome {} gas {} fee {}", x.outcome, x.gas_used, x.fee);
                    if let Some(res) = &result {
                        s += &format!("\nresult {res}");
                    }
                    s += &error_line(&error, &reverted_in);
                    s += &reason_line(&reason);
                    for e in &events {
                        s += &format!("\nevent {e}");
                    }
                }
                s
            });
            committed_ok(&r)
        }
        ContractCmd::Simulate {
            address,
            function,
            args,
            from,
        } => {
            let a = ctx.address(&address)?;
            let sender = from
                .map(|f| ctx.address(&f))
                .transpose()?
                .unwrap_or(Address([0; 32]));
            let i = interface_of(&c, &a).await?;
            let (bytes, returns) = encode_call(ctx, &i, &function, args.as_deref())?;
            let r = c.simulate(&sender, &a, &function, &bytes).await?;
            let result = (r.outcome == "success")
                .then(|| {
                    abi_json::decode_all(
                        abi_json::Types::of(&i),
                        &returns,
                        &from_hex(&r.return_data).ok()?,
                    )
                    .ok()
                })
                .flatten();
            let called = (&i, &a, function.as_str());
            let reverter = r.revert_contract.as_deref();
            let (error, reverted_in) = revert_error(&c, called, r.revert_code, reverter).await;
            let events = decoded_events(Some(&i), &r.events);
            let v = json!({"outcome": r.outcome, "gas_used": r.gas_used, "return_data": r.return_data, "result": result, "error": error, "reverted_in": reverted_in, "reason": r.reason, "events": events, "logs": r.logs, "access_list": r.access_list, "height": r.height});
            ctx.print(&v, || {
                let mut s = format!("outcome {} gas {}", r.outcome, r.gas_used);
                if let Some(res) = &result {
                    s += &format!("\nresult {res}");
                }
                s += &error_line(&error, &reverted_in);
                s += &reason_line(&r.reason);
                for e in &events {
                    s += &format!("\nevent {e}");
                }
                for l in &r.logs {
                    s += &format!("\nlog {l}");
                }
                s += &format!(
                    "\nreads {} keys, writes {} keys",
                    r.access_list.reads.len(),
                    r.access_list.writes.len()
                );
                s
            });
            // (as `invoke` does: a script can use a simulation as a dry-run guard)
            if r.outcome != "success" {
                bail!("the simulated call ended with outcome {}", r.outcome);
            }
            Ok(())
        }
    }
}

/// Contracts are built with integer overflow checks on (a `+` that overflows traps; the
/// variable overrides a crate's or workspace's `[profile.release]`, though not a
/// per-package profile override), unless the user set
/// `CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS` themselves: a release build wraps silently
/// by default, and a balance or counter that wraps is a bug no test of the happy path
/// sees.
fn overflow_checks_on(cmd: &mut std::process::Command) {
    const VAR: &str = "CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS";
    if std::env::var_os(VAR).is_none() {
        cmd.env(VAR, "true");
    }
}

/// Builds a contract crate to wasm32v1-none: with rustup's target if installed, else
/// with Debian's rustc-web and -Zbuild-std (see scripts/setup.sh).
fn build(ctx: &Ctx, path: &Path) -> Result<()> {
    let manifest = path.join("Cargo.toml");
    if !manifest.exists() {
        bail!("{} has no Cargo.toml", path.display());
    }
    let target = "wasm32v1-none";
    let target_dir = path.join("target");
    let rustup_has = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        })
        .unwrap_or(false);
    let mut cmd = std::process::Command::new("cargo");
    cmd.args(["build", "--release", "--target", target, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C link-arg=-zstack-size=16384");
    overflow_checks_on(&mut cmd);
    if !rustup_has {
        if !Path::new("/usr/bin/rustc").exists() {
            bail!(
                "no {target} target: run `rustup target add {target}` or `apt-get install rustc-web rust-web-src lld-22`"
            );
        }
        cmd.env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("-Zbuild-std=core,alloc");
    }
    let status = cmd.status().context("run cargo")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let dir = target_dir.join(target).join("release");
    let mut built = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "wasm") {
            // (validated as a deploy would be; a malformed interface is an error here too)
            let (code, iface) = read_wasm(&p)?;
            let name = iface.map(|i| i.name);
            built.push(json!({"wasm": p, "bytes": code.len(), "code_hash": to_hex(&supervm_vm::code_hash(&code)), "contract": name}));
        }
    }
    let v = Value::Array(built.clone());
    ctx.print(&v, || {
        built
            .iter()
            .map(|b| {
                format!(
                    "{} ({} bytes, code hash {})",
                    b["wasm"].as_str().unwrap_or(""),
                    b["bytes"],
                    b["code_hash"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Each cause of an error is printed once, whether or not the message above it
    /// already includes it.
    #[test]
    fn error_text_names_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("store: {0}")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("LOCK: Resource temporarily unavailable")]
        struct Inner;
        let e = anyhow::Error::new(Outer(Inner)).context("opening /tmp/x");
        assert_eq!(
            super::error_text(&e),
            "opening /tmp/x: store: LOCK: Resource temporarily unavailable"
        );
        assert_eq!(super::error_text(&anyhow::anyhow!("plain")), "plain");
    }

    use super::*;

    /// `contract build` asks cargo for overflow checks (unless the user chose).
    #[test]
    fn contract_builds_check_overflow() {
        let mut cmd = std::process::Command::new("cargo");
        overflow_checks_on(&mut cmd);
        let set: Vec<_> = cmd.get_envs().collect();
        let want = std::env::var_os("CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS");
        if want.is_none() {
            assert_eq!(
                set,
                [(
                    std::ffi::OsStr::new("CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS"),
                    Some(std::ffi::OsStr::new("true"))
                )]
            );
        } else {
            assert!(set.is_empty(), "the user's choice stands");
        }
    }

    /// A submission the node refused says only why; one that may have been admitted
    /// (halted or failed while waiting, or the connection lost) names the hash to check
    /// before sending again.
    #[test]
    fn a_submit_that_may_have_been_admitted_names_the_hash() {
        let rpc = |code| supervm_client::Error::Rpc {
            code,
            message: "m".into(),
            data: None,
        };
        let hint = |e| submit_error(e, "0xabc").to_string();
        for maybe in [
            rpc(-32029),
            rpc(-32603),
            rpc(-32001),
            rpc(-32006),
            supervm_client::Error::Transport("reset".into()),
        ] {
            let m = hint(maybe);
            assert!(
                m.contains("may still commit") && m.contains("supervm tx 0xabc"),
                "{m}"
            );
        }
        for refused in [
            rpc(-32016),
            rpc(-32602),
            supervm_client::Error::BadSignature,
        ] {
            let m = hint(refused);
            assert!(!m.contains("may still commit"), "{m}");
        }
    }

    fn test_ctx() -> Ctx {
        Ctx {
            rpc: "http://node".into(),
            json: false,
            keys: std::env::temp_dir().join("supervm-no-such-keys.json"),
            keys_named: false,
            expect_chain_id: None,
            max_gas_price: None,
        }
    }

    /// Without the flags the CLI takes the node's chain id and gas price; with them, a
    /// node on another chain or asking more is refused before anything is signed.
    #[test]
    fn the_node_cannot_pick_the_chain_or_the_fee_against_the_flags() {
        let mut ctx = test_ctx();
        assert!(ctx.check_node_terms(1337, 1_000_000).is_ok());
        ctx.expect_chain_id = Some(7);
        ctx.max_gas_price = Some(10);
        assert!(ctx.check_node_terms(7, 10).is_ok());
        assert!(ctx.check_node_terms(7, 9).is_ok());
        let e = ctx.check_node_terms(1337, 1).unwrap_err().to_string();
        assert!(
            e.contains("chain 1337, not 7") && e.contains("nothing signed"),
            "{e}"
        );
        let e = ctx.check_node_terms(7, 11).unwrap_err().to_string();
        assert!(e.contains("gas price 11, over --max-gas-price 10"), "{e}");
    }

    /// `--topic TYPE:VALUE` encodes VALUE as the SDK encodes a topic field of that type
    /// (a `String` field is length-prefixed, so its text alone never matched).
    #[test]
    fn typed_topic_filters_encode_like_the_sdk() {
        use supervm_abi::Encode;
        let ctx = test_ctx();
        let f = |t: &str| topic_filter(&ctx, t).unwrap();
        assert_eq!(f("String:USDC"), Some("USDC".to_string().encode()));
        assert_eq!(f("String:5"), Some("5".to_string().encode()));
        assert_eq!(f("u64:5"), Some(5u64.encode()));
        assert_eq!(
            f("u128:340282366920938463463374607431768211455"),
            Some(u128::MAX.encode())
        );
        assert_eq!(f("bool:true"), Some(true.encode()));
        let a = format!("0x{}", "ab".repeat(32));
        assert_eq!(f(&format!("Address:{a}")), Some(vec![0xab; 32]));
        assert_eq!(
            f("Transfer"),
            Some(b"Transfer".to_vec()),
            "an event name as it is"
        );
        assert_eq!(f("0x0102"), Some(vec![1, 2]));
        assert_eq!(f("_"), None);
        assert!(topic_filter(&ctx, "u8:300").is_err());
        assert!(topic_filter(&ctx, "Nope:1").is_err());
    }
}
