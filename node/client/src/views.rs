//! The JSON shapes of the node's RPC results (`docs/rpc.md`). Byte strings are
//! `0x`-prefixed lowercase hex; `u128` amounts are decimal strings (JSON numbers lose
//! precision past 2^53).

use serde::{Deserialize, Serialize};

/// `chain.info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChainInfo {
    /// Chain id.
    pub chain_id: u64,
    /// Node software version.
    pub version: String,
    /// Height of the latest committed block (`None` before the first).
    pub latest_height: Option<u64>,
    /// The oldest height reads at a past height are served for (0 on an archival node;
    /// a node started with `--history-blocks N` keeps N below the latest).
    #[serde(default)]
    pub oldest_readable_height: u64,
    /// Gas price the node requires (dev mode: fixed).
    pub gas_price: u64,
    /// State shards.
    pub shards: u32,
}

/// An account's native state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccountView {
    /// Address (the ed25519 public key).
    pub address: String,
    /// Next nonce, as committed.
    pub nonce: u64,
    /// Native balance (decimal).
    pub balance: String,
    /// Height of the block the answer reflects.
    pub height: Option<u64>,
    /// The nonce the sender's next transaction needs, counting its transactions pending
    /// in the node's mempool (the one to sign with); absent when the read named a height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_nonce: Option<u64>,
}

/// An event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventView {
    /// Emitting contract.
    pub contract: String,
    /// Topics (hex).
    pub topics: Vec<String>,
    /// Data (hex, codec-encoded).
    pub data: String,
    /// Block height.
    pub block_height: u64,
    /// Transaction index in the block.
    pub tx_index: u32,
    /// Event index in the transaction.
    pub event_index: u32,
}

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReceiptView {
    /// Transaction hash.
    pub tx_hash: String,
    /// Block height.
    pub block_height: u64,
    /// Index in the block.
    pub index: u32,
    /// `success`, `revert`, `out_of_gas`, `trap` or `invalid`.
    pub outcome: String,
    /// Revert code (`revert` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_code: Option<u32>,
    /// The contract that reverted (`revert` only; hex): the called contract or one it
    /// called, whose interface names the code. Absent from receipts stored before
    /// receipts named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_contract: Option<String>,
    /// Trap or invalid reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Gas used.
    pub gas_used: u64,
    /// Fee paid (decimal): gas used × gas price.
    pub fee: String,
    /// Return data, or revert data (hex).
    pub return_data: String,
    /// Events (empty unless success).
    pub events: Vec<EventView>,
    /// A deploy's new contract address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// An upload's or deploy's code hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<String>,
}

/// A transaction as the node reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TxView {
    /// Hash.
    pub hash: String,
    /// `pending`, `committed`, `dropped: <reason>` or `unknown`.
    pub status: String,
    /// The signed transaction (hex of its encoding), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// Receipt once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

/// `tx.submit`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SubmitResult {
    /// Transaction hash.
    pub hash: String,
    /// `pending`, or when waited for `committed` or `dropped: <reason>` (`pending` if the
    /// wait ran out).
    pub status: String,
    /// The receipt, when waited for and committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

/// A block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BlockView {
    /// Height.
    pub height: u64,
    /// Hash.
    pub hash: String,
    /// Parent hash.
    pub parent_hash: String,
    /// State root after the block.
    pub state_root: String,
    /// Producer timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Number of transactions.
    pub tx_count: u32,
    /// Gas used by all its transactions.
    pub gas_used: u64,
    /// Transaction hashes in order.
    pub tx_hashes: Vec<String>,
}

/// Storage keys a simulated call read and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccessList {
    /// State keys read (hex).
    pub reads: Vec<String>,
    /// State keys written (hex).
    pub writes: Vec<String>,
}

/// `tx.simulate`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SimulateResult {
    /// `success`, `revert`, `out_of_gas`, `trap` or `invalid`.
    pub outcome: String,
    /// Revert code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_code: Option<u32>,
    /// The contract that reverted (hex): the called contract or one it called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_contract: Option<String>,
    /// Trap or invalid reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Gas used.
    pub gas_used: u64,
    /// Return data (hex).
    pub return_data: String,
    /// Events it would emit.
    pub events: Vec<EventView>,
    /// What it read and wrote.
    pub access_list: AccessList,
    /// Height of the state it ran on.
    pub height: Option<u64>,
    /// The contracts' `debug_log` lines, in order (kept whatever the outcome; not part of
    /// any receipt a block stores).
    #[serde(default)]
    pub logs: Vec<String>,
}

/// A deployed contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ContractView {
    /// Address.
    pub address: String,
    /// Code hash.
    pub code_hash: String,
    /// Deployer.
    pub deployer: String,
    /// The interface the SDK embedded in the code (functions, events, errors), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<serde_json::Value>,
}

/// Stored code (`code.get`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CodeView {
    /// Code hash (blake3 of the wasm).
    pub code_hash: String,
    /// Size of the wasm in bytes.
    pub size: u64,
}

/// `chain.health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HealthView {
    /// Whether the block pipeline runs (`false` once a commit failed; a restart recovers).
    pub ok: bool,
    /// Height of the latest committed block (`None` before the first).
    pub latest_height: Option<u64>,
    /// Transactions in the mempool (queued and in blocks not yet committed).
    pub mempool: u64,
    /// Why the block pipeline halted, once it has.
    #[serde(default)]
    pub halted: Option<String>,
}

/// A JSON-RPC error object `{code, message, data}`, as `tx.submit_batch` reports one
/// per refused transaction (the error `tx.submit` would have answered).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RpcErrorView {
    /// JSON-RPC error code (the application errors of `docs/rpc.md`).
    pub code: i64,
    /// Message.
    pub message: String,
    /// Structured data: `{"reason": ..., ...details}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// One transaction's entry in `tx.submit_batch`'s answer: its hash if it was admitted,
/// else the error that refused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SubmitBatchItem {
    /// Transaction hash (admitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcErrorView>,
}

/// `tx.submit_batch`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SubmitBatchResult {
    /// One entry per submitted transaction, in order.
    pub results: Vec<SubmitBatchItem>,
}

/// A page of events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventsPage {
    /// Events in chain order.
    pub events: Vec<EventView>,
    /// Pass as `cursor` to get the next page; absent at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `0x`-prefixed lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// Parses hex with or without `0x`.
pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.trim() != s {
        return Err("bad hex: spaces around it".into());
    }
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let skipped = s.len() - digits.len();
    hex::decode(digits).map_err(|e| match e {
        // (positions count from the start of the text given, prefix included)
        hex::FromHexError::InvalidHexCharacter { c, index } => {
            format!(
                "bad hex: {c:?} at position {} is not a hex digit",
                index + skipped
            )
        }
        hex::FromHexError::OddLength => {
            format!("bad hex: an odd number of digits ({})", digits.len())
        }
        other => format!("bad hex: {other}"),
    })
}

/// Parses 32 bytes of hex.
pub fn from_hex32(s: &str) -> Result<[u8; 32], String> {
    let v = from_hex(s)?;
    v.as_slice()
        .try_into()
        .map_err(|_| format!("expected 32 bytes of hex, got {}", v.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hex errors say what is wrong in the user's terms, positions counted from the
    /// start of the text given; `0x` and `0X` prefixes are both taken.
    #[test]
    fn hex_errors_name_the_problem() {
        assert_eq!(from_hex("0xab").unwrap(), [0xab]);
        assert_eq!(from_hex("0XAB").unwrap(), [0xab]);
        assert_eq!(from_hex("ab").unwrap(), [0xab]);
        assert_eq!(
            from_hex("0xaz").unwrap_err(),
            "bad hex: 'z' at position 3 is not a hex digit"
        );
        assert_eq!(
            from_hex("az").unwrap_err(),
            "bad hex: 'z' at position 1 is not a hex digit"
        );
        assert_eq!(
            from_hex("0xabc").unwrap_err(),
            "bad hex: an odd number of digits (3)"
        );
        assert_eq!(from_hex(" 0xab").unwrap_err(), "bad hex: spaces around it");
        assert_eq!(
            from_hex32("0xab").unwrap_err(),
            "expected 32 bytes of hex, got 1"
        );
    }
}
