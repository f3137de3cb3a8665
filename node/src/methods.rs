//! The chain's JSON-RPC methods (`docs/rpc.md`, "Methods"), registered on the
//! protocol layer of [`crate::rpc`], and the HTTP router with `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use supervm_client::views::{
    AccountView, BlockView, ChainInfo, ContractView, EventsPage, HealthView, ReceiptView,
    SimulateResult, SubmitResult, TxView,
};

use crate::chain::Chain;
use crate::queries;
use crate::{Error, Result};

/// Params of `tx.submit`.
#[derive(Debug, Deserialize)]
pub struct SubmitParams {
    /// Hex of the signed transaction.
    pub tx: String,
    /// Wait until committed.
    #[serde(default)]
    pub wait: bool,
    /// How long to wait, ms (default and at most [`MAX_WAIT_MS`]).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// Params of `tx.submit_batch`.
#[derive(Debug, Deserialize)]
pub struct SubmitBatchParams {
    /// Hex of each signed transaction.
    pub txs: Vec<String>,
}

/// Params naming a hash.
#[derive(Debug, Deserialize)]
pub struct HashParams {
    /// The hash (hex).
    pub hash: String,
}

/// Params of `block.get`.
#[derive(Debug, Deserialize)]
pub struct BlockParams {
    /// Height.
    #[serde(default)]
    pub height: Option<u64>,
    /// Or hash.
    #[serde(default)]
    pub hash: Option<String>,
}

/// Params of `account.get`.
#[derive(Debug, Deserialize)]
pub struct AccountParams {
    /// Address.
    pub address: String,
    /// Read the state right after this block (default: the latest); above the latest,
    /// or below the oldest the node keeps, is -32030 `state_not_retained`.
    #[serde(default)]
    pub height: Option<u64>,
}

/// Params of `contract.get`.
#[derive(Debug, Deserialize)]
pub struct ContractParams {
    /// Address.
    pub address: String,
    /// Read the state right after this block (default: the latest); above the latest,
    /// or below the oldest the node keeps, is -32030 `state_not_retained`.
    #[serde(default)]
    pub height: Option<u64>,
}

/// Params of `code.get`.
#[derive(Debug, Deserialize)]
pub struct CodeParams {
    /// Code hash (hex, 32 bytes).
    pub hash: String,
}

/// Params of `storage.get`.
#[derive(Debug, Deserialize)]
pub struct StorageParams {
    /// Contract.
    pub contract: String,
    /// The contract's key (hex).
    pub key: String,
    /// Read the state right after this block (default: the latest); above the latest,
    /// or below the oldest the node keeps, is -32030 `state_not_retained`.
    #[serde(default)]
    pub height: Option<u64>,
}

/// Params of `tx.simulate`.
#[derive(Debug, Deserialize)]
pub struct SimulateParams {
    /// Caller.
    pub sender: String,
    /// Contract.
    pub contract: String,
    /// Function.
    pub function: String,
    /// Encoded arguments (hex).
    #[serde(default)]
    pub args: String,
    /// Gas limit.
    #[serde(default)]
    pub gas_limit: Option<u64>,
    /// Read the state right after this block (default: the latest); above the latest,
    /// or below the oldest the node keeps, is -32030 `state_not_retained`.
    #[serde(default)]
    pub height: Option<u64>,
}

/// Params of `events.query`.
#[derive(Debug, Deserialize, Default)]
pub struct EventsParams {
    /// Contract.
    #[serde(default)]
    pub contract: Option<String>,
    /// Topic per position (hex or null).
    #[serde(default)]
    pub topics: Vec<Option<String>>,
    /// Lowest height.
    #[serde(default)]
    pub from_height: Option<u64>,
    /// Highest height.
    #[serde(default)]
    pub to_height: Option<u64>,
    /// Cursor of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Empty params.
#[derive(Debug, Deserialize, Default)]
pub struct NoParams {}

/// `tx.submit_batch`: signature checks in batches on rayon's threads, then admission in order.
pub fn submit_batch(chain: &Chain, p: SubmitBatchParams) -> Result<Value> {
    if p.txs.len() > 10_000 {
        return Err(Error::InvalidParam {
            param: "txs",
            reason: format!("{} transactions; at most 10000 per batch", p.txs.len()),
        });
    }
    let raws: Vec<std::result::Result<Vec<u8>, Error>> = p
        .txs
        .iter()
        .map(|h| supervm_client::views::from_hex(h).map_err(Error::Malformed))
        .collect();
    let (ok_idx, ok_raw): (Vec<usize>, Vec<Vec<u8>>) = raws
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|b| (i, b.clone())))
        .unzip();
    let checked = queries::check_many(chain, ok_raw);
    let mut results: Vec<Value> = raws
        .into_iter()
        .map(|r| match r {
            Ok(_) => Value::Null,
            Err(e) => json!({ "error": error_json(e) }),
        })
        .collect();
    for (i, c) in ok_idx.into_iter().zip(checked) {
        results[i] = match c.and_then(|(tx, hash, raw)| chain.admit(tx, hash, raw).map(|()| hash)) {
            Ok(hash) => json!({ "hash": supervm_client::views::to_hex(&hash) }),
            Err(e) => json!({ "error": error_json(e) }),
        };
    }
    Ok(json!({ "results": results }))
}

/// One entry's error in `tx.submit_batch`: the same object `tx.submit` answers with (an
/// internal failure as -32603 "Internal error" with `data.reason`, a bad parameter as
/// -32602 naming it).
fn error_json(e: Error) -> Value {
    serde_json::to_value(rpc_err(e)).expect("an RPC error serializes")
}

/// The structured `data` of an error.
pub fn error_data(e: &Error) -> Value {
    let mut d = json!({ "reason": e.kind() });
    let extra = match e {
        Error::WrongChain { expected, got } => json!({"expected": expected, "got": got}),
        Error::StaleNonce { expected, got } | Error::NonceGap { expected, got } => {
            json!({"expected": expected, "got": got})
        }
        Error::DuplicateNonce { nonce } => json!({"nonce": nonce}),
        Error::GasLimit { got, min, max } => json!({"got": got, "min": min, "max": max}),
        Error::GasPrice { got, min } => json!({"got": got, "min": min}),
        Error::InsufficientBalance { needed, available } => {
            json!({"needed": needed.to_string(), "available": available.to_string()})
        }
        Error::AlreadyCommitted { height } => json!({"height": height}),
        Error::Expired { expiry, next } => json!({"expiry_height": expiry, "next_height": next}),
        Error::MempoolFull {
            capacity,
            max_bytes,
        } => json!({"capacity": capacity, "max_bytes": max_bytes}),
        Error::SenderPendingLimit { limit } => json!({"limit": limit}),
        Error::IntrinsicGas { needed, limit } => json!({"needed": needed, "limit": limit}),
        Error::TooLarge { size, limit } => json!({"size": size, "limit": limit}),
        Error::StateNotRetained {
            asked,
            latest,
            oldest,
        } => json!({"asked": asked, "latest": latest, "oldest": oldest}),
        Error::BadSenderKey(why) => json!({"key": why}),
        Error::Halted(why) => json!({"detail": why}),
        _ => json!({}),
    };
    if let (Some(d), Value::Object(x)) = (d.as_object_mut(), extra) {
        d.extend(x);
    }
    d
}

/// `chain.health` (and `GET /health`), as the client library reads it.
pub fn health(chain: &Chain) -> supervm_client::views::HealthView {
    let halted = chain.halted.lock().clone();
    supervm_client::views::HealthView {
        ok: halted.is_none(),
        latest_height: chain.latest_height(),
        mempool: chain.mempool.len() as u64,
        halted,
    }
}

/// The longest `tx.submit` waits: under the node's 30 s request deadline
/// ([`RpcLimits::request_timeout`]), so that a wait that runs out answers "pending"
/// with the hash instead of the request timing out without it.
pub const MAX_WAIT_MS: u64 = 25_000;

/// How long `tx.submit` waits.
pub fn wait_timeout(p: &SubmitParams) -> Duration {
    Duration::from_millis(p.timeout_ms.unwrap_or(MAX_WAIT_MS).min(MAX_WAIT_MS))
}

/// Shared handle the method closures capture.
pub type ChainRef = Arc<Chain>;

use crate::rpc::{MethodSpec, ParamSpec, Registry, RpcError, RpcLimits};

fn rpc_err(e: Error) -> RpcError {
    if let Error::InvalidParam { param, reason } = &e {
        return RpcError::invalid_params(Some(param), reason);
    }
    let code = e.code();
    if code == -32603 {
        RpcError::internal(e.to_string())
    } else {
        RpcError::application(code, e.to_string(), Some(error_data(&e)))
    }
}

fn s(desc: &str) -> Value {
    json!({"type": "string", "description": desc})
}

fn hexs() -> Value {
    json!({"type": "string", "pattern": "^(0[xX])?[0-9a-fA-F]*$"})
}

fn int() -> Value {
    json!({"type": "integer", "minimum": 0})
}

/// The JSON Schema of a result type (the `supervm_client::views` type the method
/// answers with), every subschema inlined: in an OpenRPC document a `$ref` would resolve
/// against the document, not the schema.
fn schema<T: schemars::JsonSchema>() -> Value {
    // (for what the node sends: a member it always sends is required, even an `Option`)
    let mut s = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(o) = s.as_object_mut() {
        o.remove("$schema");
    }
    s
}

/// Every application error code, for the OpenRPC document.
fn with_errors(mut spec: MethodSpec, codes: &[(i64, &str)]) -> MethodSpec {
    for (c, m) in codes {
        spec = spec.error(*c, *m);
    }
    spec
}

const SUBMIT_ERRORS: [(i64, &str); 21] = [
    (-32010, "malformed transaction"),
    (-32011, "transaction too large"),
    (-32012, "signature does not verify"),
    (-32013, "non-canonical signature"),
    (-32014, "wrong chain id"),
    (-32015, "stale nonce"),
    (-32016, "duplicate nonce"),
    (-32017, "nonce gap"),
    (-32018, "gas limit out of range"),
    (-32019, "gas price too low"),
    (-32020, "insufficient balance"),
    (-32021, "already known (pending)"),
    (-32022, "already committed"),
    (-32023, "expired"),
    (-32024, "mempool full"),
    (-32025, "node shutting down"),
    (-32026, "sender is not a usable ed25519 key"),
    (-32027, "gas limit below the intrinsic gas"),
    (-32028, "sender has too many pending transactions"),
    (-32029, "block pipeline halted"),
    (-32031, "the VM would not run this transaction"),
];

/// Registers a method whose handler is a plain function of the chain and its params.
fn add<P, R>(
    r: &mut Registry,
    chain: &Arc<Chain>,
    spec: MethodSpec,
    f: fn(&Chain, P) -> Result<R>,
) -> Result<()>
where
    P: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
{
    register_fn(r, chain, spec, f, Runs::Here)
}

/// [`add`] for handlers that do heavy work or read the store (signature checks,
/// contract execution, history scans, disk reads): they run on tokio's blocking pool,
/// not on the threads serving requests, so a slow query never stalls the cheap ones.
fn add_blocking<P, R>(
    r: &mut Registry,
    chain: &Arc<Chain>,
    spec: MethodSpec,
    f: fn(&Chain, P) -> Result<R>,
) -> Result<()>
where
    P: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
{
    register_fn(r, chain, spec, f, Runs::Query)
}

/// Where a plain-function handler runs.
#[derive(Clone, Copy, PartialEq)]
enum Runs {
    /// On the thread serving the request (cheap handlers).
    Here,
    /// On the blocking pool, in one of [`Chain::blocking_queries`]' slots.
    Query,
    /// On the blocking pool, in one of [`Chain::admissions`]' slots (submissions).
    Admission,
}

fn register_fn<P, R>(
    r: &mut Registry,
    chain: &Arc<Chain>,
    spec: MethodSpec,
    f: fn(&Chain, P) -> Result<R>,
    runs: Runs,
) -> Result<()>
where
    P: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
{
    let c = chain.clone();
    r.register(spec, move |p: P| {
        let c = c.clone();
        async move {
            let slots = match runs {
                Runs::Here => return f(&c, p).map_err(rpc_err),
                Runs::Query => &c.blocking_queries,
                Runs::Admission => &c.admissions,
            };
            let slots = slots.clone();
            crate::chain::in_slot(&slots, move || f(&c, p))
                .await
                .map_err(RpcError::internal)?
                .map_err(rpc_err)
        }
    })
    .map_err(|x| Error::Other(x.to_string()))
}

/// The node's HTTP router: JSON-RPC on `POST /`, `GET /metrics`, `GET /health` (200,
/// or 503 once the block pipeline halted).
pub fn router(chain: Arc<Chain>) -> Result<axum::Router> {
    let mut r = Registry::new("SuperVM node", env!("CARGO_PKG_VERSION"));
    add(
        &mut r,
        &chain,
        MethodSpec::new(
            "chain.info",
            "Chain id, software version, latest height, gas price, shards.",
        )
        .result("info", schema::<ChainInfo>()),
        |c, _: NoParams| Ok(queries::chain_info(c)),
    )?;
    add(
        &mut r,
        &chain,
        MethodSpec::new(
            "chain.health",
            "Whether the block pipeline runs (ok, and why it halted if it did); latest height; mempool size.",
        )
        .result("health", schema::<HealthView>()),
        |c, _: NoParams| Ok(health(c)),
    )?;
    let c = chain.clone();
    r.register(
        with_errors(
            MethodSpec::new("tx.submit", "Submits a signed transaction; with wait, answers once it is committed (or dropped, or the timeout passes).")
                .param(ParamSpec::required("tx", "Hex of the signed transaction encoding.", hexs()))
                .param(ParamSpec::optional("wait", "Wait until committed.", json!({"type": "boolean"})))
                .param(ParamSpec::optional("timeout_ms", "How long to wait (default and max 25000, under the 30 s request deadline).", int()))
                .result("submitted", schema::<SubmitResult>()),
            &SUBMIT_ERRORS,
        ),
        move |p: SubmitParams| {
            let c = c.clone();
            async move {
                let t = wait_timeout(&p);
                queries::submit(&c, &p.tx, p.wait, t).await.map_err(rpc_err)
            }
        },
    )
    .map_err(|x| Error::Other(x.to_string()))?;
    register_fn(
        &mut r,
        &chain,
        MethodSpec::new("tx.submit_batch", "Submits up to 10000 signed transactions: signatures batch-verified on all cores, then admitted in order; one {hash} or {error} per transaction.")
            .param(ParamSpec::required("txs", "Hex of each signed transaction.", json!({"type": "array", "items": hexs()})))
            .result("results", schema::<supervm_client::views::SubmitBatchResult>()),
        submit_batch,
        Runs::Admission,
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new(
            "tx.get",
            "A transaction's status (committed, pending, dropped, unknown) and receipt.",
        )
        .param(ParamSpec::required("hash", "Transaction hash.", hexs()))
        .result("transaction", schema::<TxView>()),
        |c, p: HashParams| queries::tx_get(c, &queries::hex32(&p.hash, "hash")?),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new(
            "tx.receipt",
            "The receipt of a committed transaction, or null.",
        )
        .param(ParamSpec::required("hash", "Transaction hash.", hexs()))
        .result("receipt", schema::<Option<ReceiptView>>()),
        |c, p: HashParams| queries::receipt(c, &queries::hex32(&p.hash, "hash")?),
    )?;
    let c = chain.clone();
    r.register(
        MethodSpec::new("tx.simulate", "Runs a contract call on committed state (latest, or after block `height`) without committing: return value, gas, events, the access list (keys read and written), and the contracts' debug_log lines.")
            .param(ParamSpec::required("sender", "Caller address.", hexs()))
            .param(ParamSpec::required("contract", "Contract address.", hexs()))
            .param(ParamSpec::required("function", "Entry point.", s("function name")))
            .param(ParamSpec::optional("args", "Codec-encoded arguments (hex).", hexs()))
            .param(ParamSpec::optional("gas_limit", "Gas limit (default 100000000).", int()))
            .param(ParamSpec::optional("height", "Run on the state after this block.", int()))
            .result("simulation", schema::<SimulateResult>())
            .error(-32030, "no state at that height"),
        // The slot is awaited here, as a task: simulations waiting for one never tie up
        // the blocking pool the cheap queries run on.
        move |p: SimulateParams| {
            let c = c.clone();
            async move {
                let slot = c.simulation_slot().await;
                let deadline = crate::rpc::request_deadline().map(tokio::time::Instant::into_std);
                let r = tokio::task::spawn_blocking(move || {
                    queries::simulate(&c, &slot, &p.sender, &p.contract, &p.function, &p.args, p.gas_limit, p.height, deadline)
                })
                .await
                .map_err(|e| RpcError::internal(crate::chain::joined_error(e)))?;
                // (a simulation stopped by its deadline is the request timing out, whichever
                // of the two the dispatcher sees first)
                if r.is_err() && let Some(e) = crate::rpc::timed_out_error() {
                    return Err(e);
                }
                r.map_err(rpc_err)
            }
        },
    )
    .map_err(|x| Error::Other(x.to_string()))?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new("block.get", "A block by height or by hash, or null.")
            .param(ParamSpec::optional("height", "Block height.", int()))
            .param(ParamSpec::optional("hash", "Block hash.", hexs()))
            .result("block", schema::<Option<BlockView>>()),
        |c, p: BlockParams| queries::block_get(c, p.height, p.hash.as_deref()),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new("block.latest", "The latest committed block, or null.")
            .result("block", schema::<Option<BlockView>>()),
        |c, _: NoParams| queries::block_latest(c),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new(
            "account.get",
            "An account's nonce and native balance (latest, or after block `height`).",
        )
        .param(ParamSpec::required("address", "Account address.", hexs()))
        .param(ParamSpec::optional(
            "height",
            "Read the state after this block.",
            int(),
        ))
        .result("account", schema::<AccountView>())
        .error(-32030, "no state at that height"),
        |c, p: AccountParams| queries::account_get(c, &p.address, p.height),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new(
            "contract.get",
            "A contract's code hash, deployer and embedded interface, or null (latest, or after block `height`).",
        )
        .param(ParamSpec::required("address", "Contract address.", hexs()))
        .param(ParamSpec::optional(
            "height",
            "Read the state after this block.",
            int(),
        ))
        .result("contract", schema::<Option<ContractView>>())
        .error(-32030, "no state at that height"),
        |c, p: ContractParams| queries::contract_get(c, &p.address, p.height),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new(
            "code.get",
            "Whether code is stored under a hash (uploaded or deployed): {code_hash, size}, or null (latest committed state).",
        )
        .param(ParamSpec::required("hash", "Code hash (blake3 of the wasm).", hexs()))
        .result("code", schema::<Option<supervm_client::views::CodeView>>()),
        |c, p: CodeParams| queries::code_get(c, &p.hash),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new(
            "storage.get",
            "A contract's raw storage value (hex), or null (latest, or after block `height`).",
        )
        .param(ParamSpec::required("contract", "Contract address.", hexs()))
        .param(ParamSpec::required(
            "key",
            "The contract's storage key (hex).",
            hexs(),
        ))
        .param(ParamSpec::optional(
            "height",
            "Read the state after this block.",
            int(),
        ))
        .result("value", json!({"type": ["string", "null"]}))
        .error(-32030, "no state at that height"),
        |c, p: StorageParams| queries::storage_get(c, &p.contract, &p.key, p.height),
    )?;
    add_blocking(
        &mut r,
        &chain,
        MethodSpec::new("events.query", "Events filtered by contract, topics and block range, in chain order, with cursor paging.")
            .param(ParamSpec::optional("contract", "Contract address.", hexs()))
            .param(ParamSpec::optional("topics", "Per position, the topic required there (hex) or null; at most 4 positions.", json!({"type": "array", "maxItems": supervm_abi::limits::MAX_TOPICS, "items": {"type": ["string", "null"]}})))
            .param(ParamSpec::optional("from_height", "Lowest height (at most to_height).", int()))
            .param(ParamSpec::optional("to_height", "Highest height (default: the latest). Above the latest, the last page's cursor stands after the latest block.", int()))
            .param(ParamSpec::optional("cursor", "next_cursor of the previous page.", s("height:tx:event")))
            .param(ParamSpec::optional("limit", "Page size, 1 to 1000 (default 100).", json!({"type": "integer", "minimum": 1, "maximum": queries::EVENTS_PAGE_MAX})))
            .result("page", schema::<EventsPage>()),
        |c, p: EventsParams| {
            queries::events_query(c, p.contract.as_deref(), &p.topics, p.from_height, p.to_height, p.cursor.as_deref(), p.limit)
        },
    )?;
    // Bodies are buffered before parsing: bound the total (256 × 4 MiB).
    let limits = RpcLimits {
        max_batch: 1000,
        max_concurrent: 256,
        ..RpcLimits::default()
    };
    let app =
        crate::rpc::router(r, limits, &chain.metrics).map_err(|x| Error::Other(x.to_string()))?;
    let hc = chain.clone();
    let mc = chain.clone();
    Ok(app
        .route(
            "/metrics",
            // The gauges that change without a commit are brought up to date first.
            axum::routing::get(move || {
                mc.refresh_gauges();
                let body = mc.metrics.render();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            crate::metrics::CONTENT_TYPE,
                        )],
                        body,
                    )
                }
            }),
        )
        .route(
            "/health",
            // 503 once the block pipeline halted, so load balancers and probes notice.
            axum::routing::get(move || {
                let v = health(&hc);
                let status = if v.ok {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                };
                async move { (status, axum::Json(v)) }
            }),
        ))
}
