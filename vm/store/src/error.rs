//! The store's error type. Every variant says what happened and, where it matters,
//! what the operator can do about it.

/// A failure of the durable store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RocksDB reported an error (I/O, disk full, corruption it detected).
    #[error("rocksdb ({what}): {source}")]
    Rocks {
        /// What the store was doing.
        what: String,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },
    /// A commit failed part-way earlier (I/O error or injected fault); the store refuses
    /// all further writes until it is reopened, which recovers a consistent state.
    #[error(
        "store refuses writes: an earlier commit of batch {batch} failed ({reason}); reopen the store to recover"
    )]
    Poisoned {
        /// The batch whose commit failed.
        batch: u64,
        /// Why.
        reason: String,
    },
    /// A fault injected by a test fail-point (a simulated crash or I/O error).
    #[error("injected fault at {0:?}")]
    Injected(crate::FailPoint),
    /// The data on disk is inconsistent in a way recovery cannot repair (lost or
    /// corrupted durable records). The open is refused; recovery may already have
    /// finished or rolled back in-doubt batches on the shards it checked before (each
    /// step idempotent, so the next open redoes nothing twice).
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The store was created with a different configuration.
    #[error("store at {path} has {found} shards; opened with {expected}")]
    ShardCountMismatch {
        /// Directory.
        path: String,
        /// Shards on disk.
        found: u32,
        /// Shards requested.
        expected: u32,
    },
    /// The store was written in another on-disk format (`docs/design.md`, "Durable
    /// storage"); stores are not converted (but for format 3, see
    /// [`FORMAT_UPGRADED`](crate::layout::FORMAT_UPGRADED)).
    #[error(
        "store at {path} is in format {found}; this build reads format {expected} (open it with the build that wrote it, or start from an empty directory)"
    )]
    FormatMismatch {
        /// Directory.
        path: String,
        /// Format on disk (1: written before formats were recorded).
        found: u32,
        /// The format this build reads and writes.
        expected: u32,
    },
    /// The store was last used with the write-ahead log off and was not closed cleanly,
    /// so its shards may disagree; it cannot be opened.
    #[error(
        "store at {0} was written without a write-ahead log (durability no-wal) and not closed cleanly: its state is lost; move the directory aside (or delete it) and start a new chain"
    )]
    UncleanNoWalShutdown(String),
    /// Reading state failed (the store refuses reads after a failed commit, or RocksDB
    /// failed).
    #[error("state read failed: {0}")]
    Read(String),
    /// A batch that does not follow the committed head.
    #[error("bad commit batch: {0}")]
    BadBatch(String),
    /// A configuration value out of range.
    #[error("bad store configuration: {0}")]
    Config(String),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait RocksExt<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> RocksExt<T> for std::result::Result<T, rocksdb::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Rocks {
            what: what(),
            source,
        })
    }
}

impl From<Error> for supervm_vm::StateError {
    fn from(e: Error) -> Self {
        supervm_vm::StateError::Backend(e.to_string())
    }
}
