//! Durable SuperVM state: sharded RocksDB with batched two-phase commit.
//!
//! - **Shards**: state keys are partitioned by [`layout::shard_of`] over S RocksDB
//!   instances, each with its own write-ahead log. A coordinator instance holds the
//!   decision log and the history (blocks, transactions, events).
//! - **Batched 2PC**: a [`CommitBatch`] (one or more blocks) is prepared durably on every
//!   shard while the coordinator durably writes its decision with its history, all in one
//!   round of parallel writes (the batch is decided once all are durable), then applied.
//!   [`Store::open`] finishes or rolls back an in-doubt batch and checks that all shards
//!   agree. [`FailPoint`]s let tests crash or fail the protocol at every step.
//! - **State root**: a lattice hash ([`LtHash`]) updated per block in time proportional
//!   to the keys changed; stored with each block and checked on open.
//! - **Reads**: committed state through a cache that falls through to RocksDB
//!   ([`Store`] is a [`StateView`](supervm_vm::StateView)); [`Staging`] layers blocks
//!   that are executed but not yet committed on top, so execution and commit overlap.
//!
//! ```
//! use std::sync::Arc;
//! use supervm_store::{BlockRecord, Staging, Store, StoreConfig};
//! use supervm_vm::{StateView, WriteSet};
//! let dir = tempfile::tempdir().unwrap();
//! let (store, _) = Store::open(dir.path(), StoreConfig::default()).unwrap();
//! let store = Arc::new(store);
//! let mut staging = Staging::new(store.clone());
//! let mut writes = WriteSet::new();
//! writes.insert(b"key".to_vec(), Some(b"value".to_vec()));
//! let root = staging
//!     .stage_block(&writes, |root| BlockRecord {
//!         height: 0, hash: [1; 32], state_root: root, header: vec![], txs: vec![], events: vec![],
//!     })
//!     .unwrap();
//! store.commit(staging.seal().unwrap()).unwrap();
//! assert_eq!(store.get(b"key").unwrap(), Some(b"value".to_vec()));
//! assert_eq!(store.state_root(), root);
//! assert_eq!(store.block_by_height(0).unwrap().unwrap().state_root, root);
//! ```
//!
//! The byte layout, the protocol's states and the recovery procedure are in
//! `docs/design.md` ("Durable storage").

mod batcher;
mod config;
mod db;
mod error;
mod history;
mod keystream;
pub mod layout;
mod lthash;
mod reads;
mod staging;
mod store;
mod two_phase;

pub use batcher::{AdaptiveBatcher, BatchPolicy};
pub use config::{
    Durability, FailAction, FailHook, FailPoint, MIN_OPEN_FILES_PER_INSTANCE, StoreConfig,
};
pub use error::{Error, Result};
pub use history::{
    EventFilter, EventPos, MAX_EVENTS_SCANNED, MAX_PAGE_BYTES, StoredBlock, StoredTx,
};
pub use layout::{Head, StoredEvent};
pub use lthash::LtHash;
pub use reads::{HistoricSnapshot, Snapshot};
pub use staging::{BlockRecord, CommitBatch, Staging, StagingView, TxEntry};
pub use store::{Recovery, Store};
pub use two_phase::{COMPACTION_FLOOR_STEP, CommitInfo};
