//! JSON-RPC 2.0 over HTTP.
//!
//! Register methods in a [`Registry`] with a [`MethodSpec`] each (the same specs make the
//! OpenRPC document of the built-in `rpc.discover`), then serve them with [`router`]:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use serde_json::json;
//! use supervm_node::metrics::Metrics;
//! use supervm_node::rpc::{MethodSpec, ParamSpec, Registry, RpcError, RpcLimits, router};
//!
//! #[derive(serde::Deserialize)]
//! struct Echo { text: String }
//!
//! let mut registry = Registry::new("SuperVM node", env!("CARGO_PKG_VERSION"));
//! registry.register(
//!     MethodSpec::new("demo_echo", "Returns its argument.")
//!         .param(ParamSpec::required("text", "Any text.", json!({"type": "string"})))
//!         .result("text", json!({"type": "string"})),
//!     |p: Echo| async move { Ok::<_, RpcError>(p.text) },
//! )?;
//! let metrics = Metrics::new();
//! let app = router(registry, RpcLimits::default(), &metrics)?.merge(metrics.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8545").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The wire contract (limits, statuses, error codes) is in `docs/rpc.md`.

mod dispatch;
pub mod listen;
pub mod openrpc;
pub mod protocol;
pub mod registry;
pub mod server;

pub use dispatch::{BATCH_WINDOW, request_deadline, timed_out_error};
pub use listen::{ConnLimits, serve};
pub use protocol::{Id, Params, Request, Response, RpcError, codes};
pub use registry::{
    ErrorSpec, Handler, HandlerFuture, Method, MethodSpec, ParamSpec, Registry, RegistryError,
    ResultSpec,
};
pub use server::{RpcLimits, router};
