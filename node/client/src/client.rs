//! An async JSON-RPC client for the node (what a wallet embeds; the CLI and the
//! benchmarks use it too). Method names and shapes are in `docs/rpc.md`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::tx::SignedTx;
use crate::views::*;
use crate::{Error, Result};

/// A connection to one node.
#[derive(Debug)]
pub struct Client {
    url: String,
    http: reqwest::Client,
    next_id: AtomicU64,
}

/// How long a call may take before the client gives up with a transport error: the
/// node answers every request within its 30 s deadline (a waiting `tx.submit` within
/// 25 s), so this only ends calls to a node that stopped answering.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

impl Client {
    /// A client for the node at `url` (e.g. `http://127.0.0.1:8645`); connecting gives
    /// up after 10 s and a call after [`REQUEST_TIMEOUT`].
    pub fn new(url: &str) -> Self {
        Self::with_timeout(url, REQUEST_TIMEOUT)
    }

    /// A client whose calls give up after `timeout`.
    pub fn with_timeout(url: &str, timeout: std::time::Duration) -> Self {
        Client {
            url: url.trim_end_matches('/').to_string() + "/",
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with by-name `params` and decodes the result.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let resp = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|_| {
            Error::Transport(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ))
        })?;
        parse_response(v)
    }

    /// Sends several calls in one JSON-RPC batch; results in request order.
    pub async fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Result<Value>>> {
        let first = self
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": m, "params": p}))
            .collect();
        let resp = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let v: Value = resp
            .json()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let Value::Array(items) = v else {
            return Err(parse_response::<Value>(v)
                .err()
                .unwrap_or_else(|| Error::Transport("expected a batch response".into())));
        };
        let mut out: Vec<Option<Result<Value>>> = (0..calls.len()).map(|_| None).collect();
        for item in items {
            let id = item.get("id").and_then(Value::as_u64);
            if let Some(i) = id
                .and_then(|id| id.checked_sub(first))
                .filter(|i| (*i as usize) < calls.len())
            {
                out[i as usize] = Some(parse_response(item));
            }
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Transport("missing response in batch".into()))))
            .collect())
    }

    /// `chain.info`.
    pub async fn chain_info(&self) -> Result<ChainInfo> {
        self.call("chain.info", json!({})).await
    }

    /// `tx.submit`: submits a signed transaction; with `wait`, returns once it is committed.
    pub async fn submit(&self, tx: &SignedTx, wait: bool) -> Result<SubmitResult> {
        self.call(
            "tx.submit",
            json!({"tx": to_hex(&tx.encode()), "wait": wait}),
        )
        .await
    }

    /// `tx.get`.
    pub async fn tx(&self, hash: &[u8; 32]) -> Result<TxView> {
        self.call("tx.get", json!({"hash": to_hex(hash)})).await
    }

    /// `tx.simulate` of a call.
    pub async fn simulate(
        &self,
        sender: &supervm_abi::Address,
        contract: &supervm_abi::Address,
        function: &str,
        args: &[u8],
    ) -> Result<SimulateResult> {
        self.call(
            "tx.simulate",
            json!({"sender": to_hex(&sender.0), "contract": to_hex(&contract.0), "function": function, "args": to_hex(args)}),
        )
        .await
    }

    /// `block.get` by height (`None`: latest).
    pub async fn block(&self, height: Option<u64>) -> Result<Option<BlockView>> {
        match height {
            Some(h) => self.call("block.get", json!({"height": h})).await,
            None => self.call("block.latest", json!({})).await,
        }
    }

    /// `block.get` by hash (`0x` and 64 hex digits).
    pub async fn block_by_hash(&self, hash: &str) -> Result<Option<BlockView>> {
        self.call("block.get", json!({ "hash": hash })).await
    }

    /// `account.get`.
    pub async fn account(&self, address: &supervm_abi::Address) -> Result<AccountView> {
        self.call("account.get", json!({"address": to_hex(&address.0)}))
            .await
    }

    /// `contract.get`.
    pub async fn contract(&self, address: &supervm_abi::Address) -> Result<Option<ContractView>> {
        self.call("contract.get", json!({"address": to_hex(&address.0)}))
            .await
    }

    /// `events.query`.
    pub async fn events(&self, filter: Value) -> Result<EventsPage> {
        self.call("events.query", filter).await
    }
}

fn parse_response<T: DeserializeOwned>(v: Value) -> Result<T> {
    if let Some(e) = v.get("error") {
        return Err(Error::Rpc {
            code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            data: e.get("data").cloned(),
        });
    }
    let r = v
        .get("result")
        .cloned()
        .ok_or_else(|| Error::Transport(format!("not a JSON-RPC response: {v}")))?;
    serde_json::from_value(r).map_err(|e| Error::Transport(format!("unexpected result shape: {e}")))
}
