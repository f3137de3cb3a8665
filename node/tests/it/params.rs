//! The node's methods answer bad parameters with -32602 naming the parameter, take
//! `null` for an optional parameter as "not given", and show no block, transaction or
//! event ahead of the committed state.

use serde_json::{Value, json};
use supervm_client::keys::address_of;
use supervm_client::views::to_hex;

use crate::support::{dev_keys, start, transfer};

async fn call(url: &str, method: &str, params: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn invalid_param(r: &Value, param: &str) {
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(r["error"]["data"]["param"], param, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_and_visibility() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let url = format!("http://{}", node.addr);
    let keys = dev_keys(dir.path());
    let alice = address_of(&keys[0]);

    // A second node on the same data directory is refused, saying why.
    let second = supervm_node::node::start(crate::support::dev_config(dir.path()), None).await;
    let Err(err) = second else {
        panic!("a second node started on the same directory");
    };
    let err = err.to_string();
    assert!(
        err.contains("is in use by another process or node"),
        "{err}"
    );
    // Bytes that are not a transaction: -32010, the decoder's complaint said once.
    let short = call(&url, "tx.submit", json!(["0x01"])).await;
    assert_eq!(short["error"]["code"], -32010, "{short}");
    let text = short.to_string();
    assert_eq!(text.matches("malformed transaction").count(), 1, "{short}");
    // Bad hex or a wrong length is -32602 naming the parameter, not "malformed transaction".
    invalid_param(&call(&url, "tx.get", json!({"hash": "zz"})).await, "hash");
    invalid_param(&call(&url, "tx.receipt", json!(["00ff"])).await, "hash");
    invalid_param(&call(&url, "account.get", json!(["xyz"])).await, "address");
    let storage = call(&url, "storage.get", json!([to_hex(&alice.0), "0g"])).await;
    invalid_param(&storage, "key");
    // (no contract stores a key over 256 bytes)
    let long = "ab".repeat(257);
    let storage = call(&url, "storage.get", json!([to_hex(&alice.0), long])).await;
    invalid_param(&storage, "key");
    invalid_param(&call(&url, "block.get", json!({})).await, "height");
    let events = call(&url, "events.query", json!({"cursor": "1:2"})).await;
    invalid_param(&events, "cursor");
    let events = call(&url, "events.query", json!({"topics": ["nothex"]})).await;
    invalid_param(&events, "topics");
    // (an event has at most 4 topics)
    let five = json!({"topics": [null, null, null, null, null]});
    invalid_param(&call(&url, "events.query", five).await, "topics");
    for limit in [0, 1001] {
        let events = call(&url, "events.query", json!({"limit": limit})).await;
        invalid_param(&events, "limit");
    }
    let backwards = json!({"from_height": 9, "to_height": 3});
    invalid_param(&call(&url, "events.query", backwards).await, "from_height");
    let too_many = vec!["00"; 10_001];
    let batch = call(&url, "tx.submit_batch", json!({"txs": too_many})).await;
    invalid_param(&batch, "txs");

    // A transfer whose fee plus amount passes u128::MAX can never be paid: -32602, and
    // nothing admitted (the saturated sum used to pass for an account holding u128::MAX).
    let huge = transfer(&keys[0], 0, address_of(&keys[1]), u128::MAX);
    let sub = call(&url, "tx.submit", json!([to_hex(&huge.encode())])).await;
    invalid_param(&sub, "tx");
    assert!(
        sub["error"]["data"]["reason"]
            .as_str()
            .is_some_and(|m| m.contains("exceeds u128::MAX")),
        "{sub}"
    );

    // null skips an optional parameter, by position and by name.
    let acc = call(&url, "account.get", json!([to_hex(&alice.0), null])).await;
    assert_eq!(acc["result"]["nonce"], 0, "{acc}");
    let tx = transfer(&keys[0], 0, address_of(&keys[1]), 5);
    let sub = call(
        &url,
        "tx.submit",
        json!({"tx": to_hex(&tx.encode()), "wait": true, "timeout_ms": null}),
    )
    .await;
    assert_eq!(sub["result"]["status"], "committed", "{sub}");
    // The pending nonce counts transactions in the mempool; a read at a height has none.
    let acc = call(&url, "account.get", json!([to_hex(&alice.0)])).await;
    assert_eq!(acc["result"]["nonce"], 1, "{acc}");
    assert_eq!(acc["result"]["pending_nonce"], 1, "{acc}");
    // (a producer already waiting for transactions must see the hold first)
    crate::support::hold(&node).await;
    let tx = transfer(&keys[0], 1, address_of(&keys[1]), 5);
    let sub = call(&url, "tx.submit", json!([to_hex(&tx.encode())])).await;
    assert_eq!(sub["result"]["status"], "pending", "{sub}");
    // tx.get of a pending transaction says what it is: sender, nonce, encoding.
    let got = call(&url, "tx.get", json!([sub["result"]["hash"]])).await;
    assert_eq!(got["result"]["status"], "pending", "{got}");
    assert_eq!(got["result"]["sender"], to_hex(&alice.0), "{got}");
    assert_eq!(got["result"]["nonce"], 1, "{got}");
    assert_eq!(got["result"]["raw"], to_hex(&tx.encode()), "{got}");
    let acc = call(&url, "account.get", json!([to_hex(&alice.0)])).await;
    assert_eq!(acc["result"]["nonce"], 1, "{acc}");
    assert_eq!(acc["result"]["pending_nonce"], 2, "{acc}");
    let h = acc["result"]["height"].clone();
    let at = call(&url, "account.get", json!([to_hex(&alice.0), h])).await;
    assert!(at["result"].get("pending_nonce").is_none(), "{at}");
    node.chain.mempool.set_hold(false);
    let page = call(
        &url,
        "events.query",
        json!([null, null, null, null, null, null]),
    )
    .await;
    assert!(page["result"]["events"].is_array(), "{page}");

    // Nothing above the head: the block after the latest is null, and an events range
    // reaching past the head ends at it. (First let the released transaction commit, so
    // no block lands between reading the head and asking past it.)
    crate::support::wait_mempool_empty(&node).await;
    let latest = call(&url, "chain.info", json!([])).await["result"]["latest_height"]
        .as_u64()
        .unwrap();
    let next = call(&url, "block.get", json!({"height": latest + 1})).await;
    assert_eq!(next["result"], Value::Null, "{next}");
    let at = call(&url, "block.get", json!({"height": latest})).await;
    assert_eq!(at["result"]["height"], latest, "{at}");
    // A range up to the latest block is done there; one reaching past it is not: its
    // cursor stands after the latest block's events, and resumes from there.
    let to_latest = json!({"to_height": latest, "limit": 1000});
    let page = call(&url, "events.query", to_latest).await;
    assert!(page["result"].get("next_cursor").is_none(), "{page}");
    let past = json!({"to_height": latest + 100, "limit": 1000});
    let page = call(&url, "events.query", past).await;
    let end = format!("{latest}:4294967295:4294967295");
    assert_eq!(page["result"]["next_cursor"], end.as_str(), "{page}");
    let resumed = json!({"to_height": latest + 100, "cursor": end});
    let page = call(&url, "events.query", resumed).await;
    assert_eq!(page["result"]["events"], json!([]), "{page}");
    assert_eq!(page["result"]["next_cursor"], end.as_str(), "{page}");
    // A cursor already past the latest block stays where it is.
    let ahead = format!("{}:0:0", latest + 5);
    let page = call(
        &url,
        "events.query",
        json!({"to_height": latest + 100, "cursor": ahead}),
    )
    .await;
    assert_eq!(page["result"]["next_cursor"], ahead.as_str(), "{page}");
    node.stop().await;
}

/// A simulation whose deadline has passed fails at its first state read (so one whose
/// request timed out stops instead of running on for its whole gas, minutes of
/// uncached reads holding one of the few slots); one within its deadline runs as
/// before. (`queries::simulate` is called directly with the deadline the RPC handler
/// passes it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::disallowed_methods)] // deadlines are wall-clock instants
async fn a_simulation_past_its_deadline_stops() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let chain = node.chain.clone();
    let zero = format!("0x{}", "00".repeat(32));
    let contract = format!("0x{}", "ab".repeat(32));
    let slot = chain.simulation_slot().await;
    let now = std::time::Instant::now();
    let run = |deadline| {
        supervm_node::queries::simulate(
            &chain, &slot, &zero, &contract, "f", "0x", None, None, deadline,
        )
    };
    let e = run(Some(now)).expect_err("past its deadline").to_string();
    assert!(e.contains("past its request's deadline"), "{e}");
    let later = now + std::time::Duration::from_secs(60);
    let r = run(Some(later)).expect("within its deadline");
    assert_eq!(r.outcome, "invalid", "no contract there");
    drop(slot);
    drop(chain);
    node.stop().await;
}

/// At most `MAX_SIMULATIONS` simulations hold VM instances at once; the next waits for
/// one to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulations_are_bounded() {
    use std::time::Duration;
    use supervm_node::chain::MAX_SIMULATIONS;
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let chain = node.chain.clone();
    let mut held = Vec::new();
    for _ in 0..MAX_SIMULATIONS {
        held.push(chain.simulation_slot().await);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let next = {
        let (chain, tx) = (chain.clone(), tx.clone());
        tokio::spawn(async move {
            let _slot = chain.simulation_slot().await;
            tx.send("extra").unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send("released").unwrap();
    drop(held);
    let mut order = Vec::new();
    for _ in 0..2 {
        order.push(
            tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(
        order,
        vec!["released", "extra"],
        "the extra simulation waited"
    );
    next.await.unwrap();
    node.stop().await;
}

/// Simulations waiting for a slot wait as tasks: a batch of 1,000 of them, more than
/// tokio's blocking pool has threads, leaves the cheap queries answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_simulations_do_not_starve_other_queries() {
    use std::time::Duration;
    use supervm_node::chain::MAX_SIMULATIONS;
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let url = format!("http://{}", node.addr);
    let keys = dev_keys(dir.path());
    let alice = to_hex(&address_of(&keys[0]).0);
    let mut held = Vec::new();
    for _ in 0..MAX_SIMULATIONS {
        held.push(node.chain.simulation_slot().await);
    }
    let batch: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"jsonrpc": "2.0", "id": i, "method": "tx.simulate",
                "params": {"sender": alice, "contract": to_hex(&[9u8; 32]), "function": "f"}})
        })
        .collect();
    let simulations = {
        let url = url.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(&url)
                .json(&batch)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    for method in ["account.get", "block.latest"] {
        let params = if method == "account.get" {
            json!({ "address": alice })
        } else {
            json!({})
        };
        let r = tokio::time::timeout(Duration::from_secs(5), call(&url, method, params))
            .await
            .unwrap_or_else(|_| panic!("{method} waited behind the queued simulations"));
        assert!(r.get("result").is_some(), "{r}");
    }
    drop(held);
    let answers = tokio::time::timeout(Duration::from_secs(25), simulations)
        .await
        .expect("the simulations run once slots are free")
        .unwrap();
    let answers = answers.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 1000);
    assert!(
        answers.iter().all(|a| a.get("result").is_some()),
        "{}",
        answers[0]
    );
    node.stop().await;
}

/// A simulation that holds commits back (here: at a past height) may ask for at most
/// `max_locked_simulation_gas`, which is also its limit when it names none; asking for
/// more is -32602 naming `gas_limit`, before anything runs (as is more than a
/// transaction's maximum at any height). At the latest height (which
/// holds nothing back) the same call runs with what it asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulations_that_hold_commits_back_are_capped() {
    use supervm_abi::Encode;
    use supervm_client::{Client, DeployCode, TxPayload};
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node =
        crate::support::start_with(dir.path(), |c| c.max_locked_simulation_gas = 10_000).await;
    let url = format!("http://{}", node.addr);
    let c = Client::new(&url);
    let keys = dev_keys(dir.path());
    let (a, b) = (address_of(&keys[0]), address_of(&keys[1]));
    let salt = [3u8; 32];
    let init = ("T".to_string(), "T".to_string(), 0u8, a, 1_000u128).encode();
    let deploy = crate::support::sign(
        &keys[0],
        0,
        TxPayload::Deploy {
            code: DeployCode::Wasm(supervm_contracts::TOKEN.to_vec()),
            salt,
            init_args: init,
        },
    );
    let r = c.submit(&deploy, true).await.unwrap();
    assert_eq!(r.receipt.unwrap().outcome, "success");
    let past = c.chain_info().await.unwrap().latest_height.unwrap();
    let r = c.submit(&transfer(&keys[0], 1, b, 5), true).await.unwrap();
    assert_eq!(r.status, "committed");
    let token = to_hex(&supervm_vm::contract_address(&a, &salt).0);
    let simulate = |function: &str, args: Vec<u8>, gas: Option<u64>, height: Option<u64>| {
        json!({"sender": to_hex(&a.0), "contract": token, "function": function,
               "args": to_hex(&args), "gas_limit": gas, "height": height})
    };
    let (balance, pay) = ((a,).encode(), (b, 1u128).encode());
    // At a past height: `balance` (about 4,000 gas) runs under the cap, `transfer`
    // (about 12,000) runs out of it, and asking for more than the cap is refused.
    let r = call(
        &url,
        "tx.simulate",
        simulate("balance", balance, None, Some(past)),
    )
    .await;
    assert_eq!(r["result"]["outcome"], "success", "{r}");
    let r = call(
        &url,
        "tx.simulate",
        simulate("transfer", pay.clone(), None, Some(past)),
    )
    .await;
    assert_eq!(r["result"]["outcome"], "out_of_gas", "{r}");
    assert_eq!(r["result"]["gas_used"], 10_000, "{r}");
    let asks = Some(100_000);
    let r = call(
        &url,
        "tx.simulate",
        simulate("transfer", pay.clone(), asks, Some(past)),
    )
    .await;
    invalid_param(&r, "gas_limit");
    // At the latest height, more than a transaction's maximum is refused too (never
    // lowered: a contract can see its gas).
    let over = Some(supervm_node::config::MAX_GAS_LIMIT + 1);
    let r = call(&url, "tx.simulate", simulate("balance", vec![], over, None)).await;
    invalid_param(&r, "gas_limit");
    // At the latest height it runs with what it asks for, and answers with the token's
    // Transfer event and its access list: both balances, read and written.
    let r = call(&url, "tx.simulate", simulate("transfer", pay, asks, None)).await;
    assert_eq!(r["result"]["outcome"], "success", "{r}");
    let events = r["result"]["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{r}");
    assert_eq!(events[0]["contract"], token.as_str(), "{r}");
    let token_addr = supervm_vm::contract_address(&a, &salt);
    let balance_of = |who: &supervm_vm::Address| {
        to_hex(&supervm_vm::state::storage_key(
            &token_addr,
            &[b"B".as_slice(), &who.0].concat(),
        ))
    };
    let list = |k: &str| -> Vec<String> {
        r["result"]["access_list"][k]
            .as_array()
            .expect("access list")
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let (reads, writes) = (list("reads"), list("writes"));
    for who in [&a, &b] {
        assert!(reads.contains(&balance_of(who)), "{who:?} read: {r}");
        assert!(writes.contains(&balance_of(who)), "{who:?} written: {r}");
    }
    node.stop().await;
}

/// A node keeping 2 past blocks (`--history-blocks 2`) answers reads at the latest
/// height and the 2 below it, and a read at an older height is -32030
/// `state_not_retained` naming the readable range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_below_a_bounded_history_are_refused() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = crate::support::start_with(dir.path(), |c| c.history_blocks = Some(2)).await;
    let url = format!("http://{}", node.addr);
    let keys = dev_keys(dir.path());
    let alice = address_of(&keys[0]);
    // One committed transfer per block, five blocks past genesis at least.
    for nonce in 0..5 {
        let tx = transfer(&keys[0], nonce, address_of(&keys[1]), 5);
        let sub = call(
            &url,
            "tx.submit",
            json!({"tx": to_hex(&tx.encode()), "wait": true}),
        )
        .await;
        assert_eq!(sub["result"]["status"], "committed", "{sub}");
    }
    crate::support::hold(&node).await;
    let latest = call(&url, "chain.info", json!([])).await["result"]["latest_height"]
        .as_u64()
        .unwrap();
    assert!(latest >= 5, "{latest}");
    for h in latest - 2..=latest {
        let at = call(&url, "account.get", json!([to_hex(&alice.0), h])).await;
        assert_eq!(at["result"]["height"], h, "{at}");
    }
    let info = call(&url, "chain.info", json!([])).await;
    assert_eq!(
        info["result"]["oldest_readable_height"],
        latest - 2,
        "{info}"
    );
    for h in [0, latest - 3] {
        let at = call(&url, "account.get", json!([to_hex(&alice.0), h])).await;
        assert_eq!(at["error"]["code"], -32030, "{at}");
        assert_eq!(at["error"]["data"]["oldest"], latest - 2, "{at}");
        assert_eq!(at["error"]["data"]["latest"], latest, "{at}");
    }
    // The CLI: a height the node no longer keeps exits 4 (gone for good: the node's
    // refusal), one not reached yet 3 (not on chain yet), a kept one 0.
    // (on a blocking thread: the node answering it runs on this test's runtime)
    let cli = |height: u64| {
        let (alice, url) = (to_hex(&alice.0), url.clone());
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_supervm"))
                .args(["account", &alice, "--height", &height.to_string()])
                .args(["--rpc", &url])
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let (code, err) = cli(0).await.unwrap();
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("readable heights are"), "{err}");
    let (code, err) = cli(latest + 100).await.unwrap();
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(cli(latest).await.unwrap().0, Some(0));
    node.chain.mempool.set_hold(false);
    node.stop().await;
}

/// Queries that run on the blocking pool take a slot first, as tasks: while every slot
/// is taken a query waits without queueing work on the pool, and it answers once one is
/// free. (A request given up on while it waits therefore leaves nothing behind.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_queries_wait_for_a_slot() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = crate::support::start(dir.path()).await;
    let url = format!("http://{}", node.addr);
    let slots = node.chain.blocking_queries.clone();
    let all = slots
        .clone()
        .acquire_many_owned(supervm_node::chain::MAX_BLOCKING_QUERIES as u32)
        .await
        .unwrap();
    let query = tokio::spawn({
        let url = url.clone();
        async move { call(&url, "block.get", json!({"height": 0})).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!query.is_finished(), "a query ran with every slot taken");
    drop(all);
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), query)
        .await
        .expect("answered once a slot was free")
        .unwrap();
    assert_eq!(r["result"]["height"], 0, "{r}");
    // `tx.submit` has slots of its own: it waits only while they are all taken.
    let keys = dev_keys(dir.path());
    let tx = transfer(&keys[0], 0, address_of(&keys[1]), 1);
    let all = node
        .chain
        .admissions
        .clone()
        .acquire_many_owned(supervm_node::chain::MAX_BLOCKING_QUERIES as u32)
        .await
        .unwrap();
    let submit = tokio::spawn({
        let url = url.clone();
        let raw = to_hex(&tx.encode());
        async move { call(&url, "tx.submit", json!({"tx": raw})).await }
    });
    // (a query meanwhile is not held up by the submissions' slots)
    let q = call(&url, "block.get", json!({"height": 0})).await;
    assert_eq!(q["result"]["height"], 0, "{q}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !submit.is_finished(),
        "a submission ran with every slot taken"
    );
    drop(all);
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), submit)
        .await
        .expect("answered once a slot was free")
        .unwrap();
    assert_eq!(r["result"]["hash"], to_hex(&tx.hash()), "{r}");
    node.stop().await;
}
