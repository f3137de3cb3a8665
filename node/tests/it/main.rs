//! Integration tests of the node: JSON-RPC conformance, end to end against a real
//! process, replay and signature rejection, query latency under load.

mod cli;
mod conformance;
mod e2e;
mod load;
mod params;
mod replay;
mod support;
