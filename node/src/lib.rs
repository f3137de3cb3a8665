//! The SuperVM node: signed transactions, a bounded mempool, a block pipeline that
//! executes on the parallel scheduler and commits through batched 2PC, JSON-RPC 2.0
//! over HTTP with Prometheus metrics, and the `supervm` command-line tool.
//!
//! `docs/rpc.md` documents the methods; `docs/design.md` (section "The node") the
//! pipeline and the fee model.

pub mod abi_json;
pub mod accounts;
pub mod allocator;
pub mod block;
pub mod chain;
pub mod config;
mod error;
pub mod genesis;
pub mod logging;
pub mod mempool;
pub mod methods;
pub mod metrics;
pub mod node;
pub mod pending_file;
pub mod producer;
pub mod queries;
pub mod rpc;

pub use chain::Chain;
pub use config::NodeConfig;
pub use error::{Error, Result};
pub use node::RunningNode;
