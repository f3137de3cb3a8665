//! The node's error type. Admission errors each have their own JSON-RPC code
//! (`docs/rpc.md`); infrastructure errors map to -32603.

/// A node failure or a rejected request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transaction bytes do not decode.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// A request parameter is not valid (JSON-RPC -32602).
    #[error("invalid parameter {param}: {reason}")]
    InvalidParam {
        /// The parameter's name.
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The encoded transaction is larger than the limit.
    #[error("transaction is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The signature does not verify for the sender.
    #[error("signature does not verify for the sender")]
    BadSignature,
    /// The sender is not a usable ed25519 key.
    #[error("sender is not a usable ed25519 key: {0}")]
    BadSenderKey(&'static str),
    /// The signature's S is not reduced.
    #[error("non-canonical signature (S is not below the group order)")]
    NonCanonicalSignature,
    /// Signed for another chain.
    #[error("transaction is for chain {got}, this is chain {expected}")]
    WrongChain {
        /// This chain.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce was already used by a committed transaction.
    #[error("stale nonce {got}: the account's next nonce is {expected}")]
    StaleNonce {
        /// Next usable nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Another pending transaction of the sender has this nonce.
    #[error("duplicate nonce {nonce}: another pending transaction of this sender has it")]
    DuplicateNonce {
        /// The nonce.
        nonce: u64,
    },
    /// The nonce skips ahead.
    #[error("nonce gap: expected {expected}, got {got}")]
    NonceGap {
        /// Next usable nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The gas limit is outside the accepted range.
    #[error("gas limit {got} is outside {min}..={max}")]
    GasLimit {
        /// The transaction's.
        got: u64,
        /// Lowest accepted.
        min: u64,
        /// Highest accepted.
        max: u64,
    },
    /// The gas price is below the node's.
    #[error("gas price {got} is below the minimum {min}")]
    GasPrice {
        /// The transaction's.
        got: u64,
        /// The node's minimum.
        min: u64,
    },
    /// The sender cannot pay the most the transaction may cost.
    #[error(
        "insufficient balance: needs {needed} (gas limit × price, plus amount and pending transactions), has {available}"
    )]
    InsufficientBalance {
        /// Needed.
        needed: u128,
        /// Available.
        available: u128,
    },
    /// The same transaction is already pending.
    #[error("transaction already known (pending)")]
    AlreadyKnown,
    /// The same transaction is already in a block.
    #[error("transaction already committed at height {height}")]
    AlreadyCommitted {
        /// Its block.
        height: u64,
    },
    /// The expiry height has passed.
    #[error("transaction expired at height {expiry}; the next block is {next}")]
    Expired {
        /// Its expiry height.
        expiry: u64,
        /// The next block height.
        next: u64,
    },
    /// The mempool is full.
    #[error("mempool is full ({capacity} transactions or {max_bytes} bytes); retry later")]
    MempoolFull {
        /// Its capacity in transactions.
        capacity: usize,
        /// Its capacity in encoded bytes.
        max_bytes: usize,
    },
    /// The sender has as many pending transactions as one sender may.
    #[error("the sender already has {limit} pending transactions; retry once some commit")]
    SenderPendingLimit {
        /// Most pending transactions per sender.
        limit: usize,
    },
    /// The gas limit does not cover the transaction's intrinsic gas (base, plus per
    /// byte of code and arguments), so it could only run out of gas.
    #[error("gas limit {limit} is below the transaction's intrinsic gas {needed}")]
    IntrinsicGas {
        /// The intrinsic gas.
        needed: u64,
        /// The transaction's gas limit.
        limit: u64,
    },
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
    /// The block pipeline halted (a failed commit, e.g. an I/O error or a full disk, or a
    /// failed block build): the node accepts no transactions until restarted, which
    /// recovers. After a failed commit the store refuses reads too.
    #[error("block pipeline halted: {0}")]
    Halted(String),
    /// The VM would refuse the transaction before running any contract code, whatever
    /// the state (arguments over its size limit, a reserved function name): refused at
    /// admission instead of included as `invalid` and charged.
    #[error("the VM would not run this transaction: {0}")]
    Unexecutable(String),
    /// State was asked for at a height above the latest committed block, or below the
    /// oldest one the node keeps (`--history-blocks`).
    #[error("no state at height {asked}: readable heights are {oldest} to {latest}")]
    StateNotRetained {
        /// Asked height.
        asked: u64,
        /// Latest height.
        latest: u64,
        /// Oldest readable height (0 on an archival node).
        oldest: u64,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] supervm_store::Error),
    /// The VM failed (infrastructure, not a contract outcome).
    #[error("vm: {0}")]
    Vm(#[from] supervm_vm::Error),
    /// Another infrastructure failure.
    #[error("{0}")]
    Other(String),
}

/// The node's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<supervm_vm::StateError> for Error {
    fn from(e: supervm_vm::StateError) -> Self {
        Error::Other(e.to_string())
    }
}

impl Error {
    /// The JSON-RPC error code of this error (`docs/rpc.md`).
    pub fn code(&self) -> i64 {
        match self {
            Error::Malformed(_) => -32010,
            Error::InvalidParam { .. } => -32602,
            Error::TooLarge { .. } => -32011,
            Error::BadSignature => -32012,
            Error::NonCanonicalSignature => -32013,
            Error::WrongChain { .. } => -32014,
            Error::StaleNonce { .. } => -32015,
            Error::DuplicateNonce { .. } => -32016,
            Error::NonceGap { .. } => -32017,
            Error::GasLimit { .. } => -32018,
            Error::GasPrice { .. } => -32019,
            Error::InsufficientBalance { .. } => -32020,
            Error::AlreadyKnown => -32021,
            Error::AlreadyCommitted { .. } => -32022,
            Error::Expired { .. } => -32023,
            Error::MempoolFull { .. } => -32024,
            Error::ShuttingDown => -32025,
            Error::BadSenderKey(_) => -32026,
            Error::IntrinsicGas { .. } => -32027,
            Error::SenderPendingLimit { .. } => -32028,
            Error::Halted(_) => -32029,
            Error::StateNotRetained { .. } => -32030,
            Error::Unexecutable(_) => -32031,
            Error::Store(_) | Error::Vm(_) | Error::Other(_) => -32603,
        }
    }

    /// A short machine-readable name of the error (the `data.reason` of RPC errors).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::InvalidParam { .. } => "invalid_params",
            Error::TooLarge { .. } => "too_large",
            Error::BadSignature => "bad_signature",
            Error::NonCanonicalSignature => "non_canonical_signature",
            Error::WrongChain { .. } => "wrong_chain_id",
            Error::StaleNonce { .. } => "stale_nonce",
            Error::DuplicateNonce { .. } => "duplicate_nonce",
            Error::NonceGap { .. } => "nonce_gap",
            Error::GasLimit { .. } => "gas_limit",
            Error::GasPrice { .. } => "gas_price",
            Error::InsufficientBalance { .. } => "insufficient_balance",
            Error::AlreadyKnown => "already_known",
            Error::AlreadyCommitted { .. } => "already_committed",
            Error::Expired { .. } => "expired",
            Error::MempoolFull { .. } => "mempool_full",
            Error::ShuttingDown => "shutting_down",
            Error::BadSenderKey(_) => "bad_sender_key",
            Error::IntrinsicGas { .. } => "intrinsic_gas",
            Error::SenderPendingLimit { .. } => "sender_pending_limit",
            Error::Halted(_) => "halted",
            Error::StateNotRetained { .. } => "state_not_retained",
            Error::Unexecutable(_) => "unexecutable",
            Error::Store(_) => "store",
            Error::Vm(_) => "vm",
            Error::Other(_) => "internal",
        }
    }
}
