//! The client's error type.

/// What went wrong on the client side or came back from the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The signature's scalar is not reduced (a second encoding of a valid signature).
    #[error("non-canonical signature (S is not below the group order)")]
    NonCanonicalSignature,
    /// The sender is not a usable ed25519 key: not a point, a non-canonical encoding,
    /// or a point of small order (for which anyone can forge signatures).
    #[error("sender is not a usable ed25519 key: {0}")]
    BadSenderKey(&'static str),
    /// The signature does not verify under the sender's key.
    #[error("signature does not verify for the sender")]
    BadSignature,
    /// The node answered with a JSON-RPC error.
    #[error("rpc error {code}: {message}{}", data.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rpc {
        /// JSON-RPC error code.
        code: i64,
        /// Message.
        message: String,
        /// Structured data.
        data: Option<serde_json::Value>,
    },
    /// The node could not be reached or answered something that is not JSON-RPC.
    #[error("transport: {0}")]
    Transport(String),
    /// A key file problem.
    #[error("keys: {0}")]
    Keys(String),
}

impl From<crate::views::RpcErrorView> for Error {
    /// An error object the node reported inside a result (one per transaction of
    /// `tx.submit_batch`), as the [`Error::Rpc`] a call answered with it would give.
    fn from(e: crate::views::RpcErrorView) -> Self {
        Error::Rpc {
            code: e.code,
            message: e.message,
            data: e.data,
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
