//! Under a bounded load of signed transfers over loopback, cheap queries keep
//! answering: p99 of `chain.info` and `account.get` under 50 ms, over at least 100
//! samples. (A responsiveness bound with a wide
//! margin, not a speed goal: the load is fixed and small, and the bound is what a
//! wallet needs.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use supervm_client::Client;
use supervm_client::keys::address_of;
use supervm_vm::Address;

use crate::support::{dev_keys, start, transfer};

#[allow(clippy::disallowed_methods)] // measures query latency
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheap_queries_stay_fast_under_transfer_load() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let url = format!("http://{}", node.addr);
    let keys = dev_keys(dir.path());
    let loader = {
        let client = Arc::new(Client::new(&url));
        let keys = keys.clone();
        tokio::spawn(async move {
            // 4 senders × 375 transfers, in batches of 20 every 10 ms (≈ 2,000 tx/s offered).
            let mut nonces = [0u64; 4];
            let mut sent = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while sent < 1_500 {
                tick.tick().await;
                let mut txs = Vec::new();
                for _ in 0..20 {
                    let i = sent % 4;
                    txs.push(supervm_client::views::to_hex(
                        &transfer(&keys[i], nonces[i], Address([i as u8 + 1; 32]), 1).encode(),
                    ));
                    nonces[i] += 1;
                    sent += 1;
                }
                let r: serde_json::Value = client
                    .call("tx.submit_batch", serde_json::json!({ "txs": txs }))
                    .await
                    .unwrap();
                assert!(
                    r["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|x| x.get("hash").is_some()),
                    "{r}"
                );
            }
            nonces
        })
    };
    let c = Client::new(&url);
    let mut lat = Vec::new();
    let someone = address_of(&keys[0]);
    while !loader.is_finished() {
        let t = Instant::now();
        if lat.len() % 2 == 0 {
            c.chain_info().await.unwrap();
        } else {
            c.account(&someone).await.unwrap();
        }
        lat.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let nonces = loader.await.unwrap();
    // Everything submitted commits.
    for (i, n) in nonces.iter().enumerate() {
        let who = address_of(&keys[i]);
        let mut ok = false;
        for _ in 0..400 {
            if c.account(&who).await.unwrap().nonce == *n {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ok, "sender {i} did not reach nonce {n}");
    }
    lat.sort();
    let p99 = lat[(lat.len() - 1) * 99 / 100];
    println!(
        "chain.info and account.get under load: {} samples, p50 {:?}, p99 {:?}",
        lat.len(),
        lat[lat.len() / 2],
        p99
    );
    assert!(lat.len() >= 100, "too few samples: {}", lat.len());
    assert!(p99 < Duration::from_millis(50), "p99 {p99:?}");
    node.stop().await;
}
