//! Integration tests of the node: JSON-RPC conformance, end to end against a real
//! process, the client library's typed methods, replay and signature rejection, query
//! latency under load, a halted block pipeline and its recovery.

mod cli;
mod client;
mod conformance;
mod e2e;
mod halt;
mod load;
mod params;
mod replay;
mod schemas;
mod support;
