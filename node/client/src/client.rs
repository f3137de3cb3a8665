//! An async JSON-RPC client for the node (what a wallet embeds; the CLI and the
//! benchmarks use it too). Method names and shapes are in `docs/rpc.md`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use supervm_abi::Address;

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

/// A transport error with every cause in its chain: reqwest's own message leaves the
/// cause out ("error sending request for url (...)" for a refused connection, a
/// timeout and a bad host alike).
fn transport(e: reqwest::Error) -> Error {
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    Error::Transport(msg)
}

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

    /// Refuses a URL this client cannot reach: it speaks plain HTTP only (built without
    /// TLS), and reqwest's own error would not say so.
    fn check_url(&self) -> Result<()> {
        if self
            .url
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            return Ok(());
        }
        Err(Error::Transport(format!(
            "cannot reach {}: only http:// URLs are supported (this client has no TLS; put a \
             TLS-terminating proxy in front of a remote node)",
            self.url
        )))
    }

    /// Posts a JSON-RPC request body (a call or a batch) to the node.
    async fn post(&self, body: &Value) -> Result<reqwest::Response> {
        self.check_url()?;
        self.http
            .post(&self.url)
            .json(body)
            .send()
            .await
            .map_err(transport)
    }

    /// Calls `method` with by-name `params` and decodes the result.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let resp = self.post(&body).await?;
        let status = resp.status();
        let text = resp.text().await.map_err(transport)?;
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
        let body: Value = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": m, "params": p}))
            .collect();
        let resp = self.post(&body).await?;
        let v: Value = resp.json().await.map_err(transport)?;
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

    /// `tx.submit_batch`: submits signed transactions in one call (at most 10,000); the
    /// node verifies their signatures on all cores, then admits them in order. One entry
    /// per transaction, in order: its hash, or the error `tx.submit` would have answered
    /// for it, as the same [`Error::Rpc`] (e.g. code -32014 for a wrong chain id).
    pub async fn submit_batch(&self, txs: &[SignedTx]) -> Result<Vec<Result<[u8; 32]>>> {
        let raw: Vec<String> = txs.iter().map(|t| to_hex(&t.encode())).collect();
        let r: SubmitBatchResult = self.call("tx.submit_batch", json!({ "txs": raw })).await?;
        if r.results.len() != txs.len() {
            return Err(Error::Transport(format!(
                "unexpected result shape: {} results for {} transactions",
                r.results.len(),
                txs.len()
            )));
        }
        Ok(r.results.into_iter().map(batch_item).collect())
    }

    /// `tx.get`.
    pub async fn tx(&self, hash: &[u8; 32]) -> Result<TxView> {
        self.call("tx.get", json!({"hash": to_hex(hash)})).await
    }

    /// `tx.receipt`: the receipt of a committed transaction; `None` while it is pending,
    /// or when it was dropped or is unknown.
    pub async fn receipt(&self, hash: &[u8; 32]) -> Result<Option<ReceiptView>> {
        self.call("tx.receipt", json!({"hash": to_hex(hash)})).await
    }

    /// `tx.simulate` of a call on the latest state, with the node's default gas limit.
    pub async fn simulate(
        &self,
        sender: &supervm_abi::Address,
        contract: &supervm_abi::Address,
        function: &str,
        args: &[u8],
    ) -> Result<SimulateResult> {
        let call = (sender, contract, function, args);
        self.simulate_with(call, None, None).await
    }

    /// `tx.simulate` of a call `(sender, contract, function, args)` with a gas limit
    /// (`None`: the node's default) on the state right after block `height` (`None`:
    /// the latest; above the latest block or below the oldest the node keeps,
    /// [`Error::Rpc`] -32030).
    pub async fn simulate_with(
        &self,
        call: (&supervm_abi::Address, &supervm_abi::Address, &str, &[u8]),
        gas_limit: Option<u64>,
        height: Option<u64>,
    ) -> Result<SimulateResult> {
        let (sender, contract, function, args) = call;
        let mut params = json!({"sender": to_hex(&sender.0), "contract": to_hex(&contract.0), "function": function, "args": to_hex(args)});
        if let Some(g) = gas_limit {
            params["gas_limit"] = json!(g);
        }
        if let Some(h) = height {
            params["height"] = json!(h);
        }
        self.call("tx.simulate", params).await
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

    /// `account.get` at a height: the account in the state right after block `height`
    /// (without `pending_nonce`); above the latest block or below the oldest the node
    /// keeps, [`Error::Rpc`] -32030.
    pub async fn account_at(&self, address: &Address, height: u64) -> Result<AccountView> {
        self.call(
            "account.get",
            json!({"address": to_hex(&address.0), "height": height}),
        )
        .await
    }

    /// `storage.get`: the raw value `contract` stored under its own `key` (`None`: no
    /// value), in the latest state, or with `height` the state right after that block
    /// (above the latest block or below the oldest the node keeps, [`Error::Rpc`] -32030).
    pub async fn storage(
        &self,
        contract: &Address,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<Option<Vec<u8>>> {
        let value: Option<String> = self
            .call(
                "storage.get",
                json!({"contract": to_hex(&contract.0), "key": to_hex(key), "height": height}),
            )
            .await?;
        value
            .map(|v| from_hex(&v).map_err(|e| Error::Transport(format!("unexpected value: {e}"))))
            .transpose()
    }

    /// `chain.health`: whether the block pipeline runs, the latest height and the
    /// mempool's size.
    pub async fn health(&self) -> Result<HealthView> {
        self.call("chain.health", json!({})).await
    }

    /// `contract.get`.
    pub async fn contract(&self, address: &supervm_abi::Address) -> Result<Option<ContractView>> {
        self.call("contract.get", json!({"address": to_hex(&address.0)}))
            .await
    }

    /// `code.get`: the code stored under `hash` (`None` if none is).
    pub async fn code(&self, hash: &[u8; 32]) -> Result<Option<CodeView>> {
        self.call("code.get", json!({"hash": to_hex(hash)})).await
    }

    /// `contract.get` at a height: the contract as it stood right after that block
    /// (`None` if it was not deployed yet).
    pub async fn contract_at(
        &self,
        address: &Address,
        height: u64,
    ) -> Result<Option<ContractView>> {
        self.call(
            "contract.get",
            json!({"address": to_hex(&address.0), "height": height}),
        )
        .await
    }

    /// `events.query` with params given as JSON (see [`EventFilter`] for a typed filter).
    pub async fn events(&self, filter: Value) -> Result<EventsPage> {
        self.call("events.query", filter).await
    }

    /// `events.query`: one page of the events `filter` selects, in chain order; while
    /// the page has a `next_cursor`, set it as the filter's `cursor` for the next one.
    pub async fn events_filtered(&self, filter: &EventFilter) -> Result<EventsPage> {
        self.events(filter.to_params()).await
    }
}

/// Which events `events.query` returns ([`Client::events_filtered`]). The node reads the
/// index of the contract or, without one, of the first topic (the event's name, for
/// events of the SDK); the other topic positions are filtered while scanning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this contract.
    pub contract: Option<Address>,
    /// Per position, the topic required there (`None`: any value). The SDK's events
    /// have their name first, then the encoding of each `#[topic]` field.
    pub topics: Vec<Option<Vec<u8>>>,
    /// Lowest block height (default 0).
    pub from_height: Option<u64>,
    /// Highest block height (default: the latest when the call is served). Above the
    /// latest, the last page's cursor stands after the latest block, to continue from
    /// as blocks come.
    pub to_height: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (the node's default 100; 1 to 1,000, else the node refuses the call).
    pub limit: Option<usize>,
}

impl EventFilter {
    /// The by-name params of `events.query`: byte strings as `0x` hex, a topic position
    /// that takes any value as `null`; fields that are not set are left out.
    pub fn to_params(&self) -> Value {
        let mut p = serde_json::Map::new();
        if let Some(c) = &self.contract {
            p.insert("contract".into(), json!(to_hex(&c.0)));
        }
        if !self.topics.is_empty() {
            let topics: Vec<Value> = self
                .topics
                .iter()
                .map(|t| t.as_deref().map_or(Value::Null, |t| json!(to_hex(t))))
                .collect();
            p.insert("topics".into(), Value::Array(topics));
        }
        if let Some(h) = self.from_height {
            p.insert("from_height".into(), json!(h));
        }
        if let Some(h) = self.to_height {
            p.insert("to_height".into(), json!(h));
        }
        if let Some(c) = &self.cursor {
            p.insert("cursor".into(), json!(c));
        }
        if let Some(l) = self.limit {
            p.insert("limit".into(), json!(l));
        }
        Value::Object(p)
    }
}

/// One entry of `tx.submit_batch`'s answer: the hash, or the node's error.
fn batch_item(item: SubmitBatchItem) -> Result<[u8; 32]> {
    match item {
        SubmitBatchItem { error: Some(e), .. } => Err(e.into()),
        SubmitBatchItem { hash: Some(h), .. } => {
            from_hex32(&h).map_err(|e| Error::Transport(format!("unexpected hash: {e}")))
        }
        _ => Err(Error::Transport(
            "unexpected result shape: a batch entry with neither hash nor error".into(),
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A transport error says why: a refused connection names the refusal (reqwest's
    /// message alone was the same for every cause), and an https URL is refused up
    /// front with the reason (this client has no TLS).
    #[tokio::test]
    async fn transport_errors_name_their_cause() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let c = Client::new(&format!("http://{addr}"));
        let e = c.chain_info().await.unwrap_err().to_string();
        assert!(e.to_lowercase().contains("refused"), "{e}");
        let e = Client::new("https://node.example")
            .chain_info()
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("only http:// URLs are supported"), "{e}");
    }

    #[test]
    fn event_filter_params() {
        assert_eq!(EventFilter::default().to_params(), json!({}));
        let f = EventFilter {
            contract: Some(Address([0xab; 32])),
            topics: vec![Some(b"Transfer".to_vec()), None, Some(vec![1, 2])],
            from_height: Some(3),
            to_height: Some(9),
            cursor: Some("4:0:1".into()),
            limit: Some(10),
        };
        assert_eq!(
            f.to_params(),
            json!({
                "contract": format!("0x{}", "ab".repeat(32)),
                "topics": ["0x5472616e73666572", null, "0x0102"],
                "from_height": 3,
                "to_height": 9,
                "cursor": "4:0:1",
                "limit": 10
            })
        );
    }

    #[test]
    fn batch_entries() {
        let ok: SubmitBatchItem =
            serde_json::from_value(json!({"hash": format!("0x{}", "11".repeat(32))})).unwrap();
        assert_eq!(batch_item(ok).unwrap(), [0x11; 32]);
        let err: SubmitBatchItem = serde_json::from_value(json!({"error": {
            "code": -32014, "message": "wrong chain id",
            "data": {"reason": "wrong_chain_id", "expected": 1337, "got": 1}
        }}))
        .unwrap();
        match batch_item(err) {
            Err(Error::Rpc {
                code: -32014,
                message,
                data: Some(d),
            }) => {
                assert_eq!(message, "wrong chain id");
                assert_eq!(d["reason"], "wrong_chain_id");
            }
            other => panic!("{other:?}"),
        }
        let neither: SubmitBatchItem = serde_json::from_value(json!({})).unwrap();
        assert!(matches!(batch_item(neither), Err(Error::Transport(_))));
    }
}
