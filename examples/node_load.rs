//! End-to-end load on a node over JSON-RPC: pre-signed token transfers (real wasm
//! `transfer` calls) submitted in `tx.submit_batch` requests, counted only once
//! committed durably with a `success` receipt (checked by hash after the timed phase).
//! Prints, from the same run, this machine's ed25519 verification rate (all cores; in
//! batches as the node verifies, the ceiling, JSON `ed25519_verify_per_s`, and one by
//! one, `ed25519_verify_one_by_one_per_s`), then measures submit-to-commit latency at
//! half the measured rate.
//!
//! ```text
//! cargo run --release --example node_load -- [--rpc URL --keys FILE] [--txs N]
//!     [--senders S] [--batch B] [--workers W] [--latency-secs T] [--json]
//! ```
//!
//! Without `--rpc` it starts its own `--dev` node (fsync durability) in a temporary
//! directory. With `--rpc`, `--keys` must name a key file with a funded account (a dev
//! node's `dev-keys.json`).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use supervm_abi::Encode;
use supervm_benches::arg;
use supervm_client::keys::{self, address_of};
use supervm_client::views::to_hex;
use supervm_client::{Client, DeployCode, SignedTx, TxBody, TxPayload};
use supervm_vm::{Address, contract_address};

struct Ctx {
    chain_id: u64,
}

fn body(ctx: &Ctx, key: &SigningKey, nonce: u64, gas: u64, payload: TxPayload) -> SignedTx {
    TxBody {
        chain_id: ctx.chain_id,
        sender: address_of(key),
        nonce,
        gas_limit: gas,
        gas_price: 1,
        expiry_height: u64::MAX,
        payload,
    }
    .sign(key)
}

async fn submit_batch(c: &Client, txs: &[SignedTx]) -> Vec<Result<String, String>> {
    let hex: Vec<String> = txs.iter().map(|t| to_hex(&t.encode())).collect();
    let r: serde_json::Value = c
        .call("tx.submit_batch", json!({ "txs": hex }))
        .await
        .expect("submit_batch");
    r["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| match x.get("error") {
            Some(e) => Err(e.to_string()),
            None => Ok(x["hash"].as_str().unwrap_or_default().to_string()),
        })
        .collect()
}

/// A refusal to retry later: the mempool, or the sender's share of it, is full.
fn is_full(e: &str) -> bool {
    e.contains("mempool_full") || e.contains("sender_pending_limit")
}

/// Waits until `who` has used `nonce` nonces; panics, saying where it stands, once
/// `start` is `WAIT_LIMIT` behind (a transaction dropped at block building would
/// otherwise stall the run for ever).
async fn wait_nonce(c: &Client, who: &Address, nonce: u64, start: Instant) {
    loop {
        let now = c.account(who).await.expect("account").nonce;
        if now >= nonce {
            return;
        }
        assert!(
            start.elapsed() < WAIT_LIMIT,
            "sender {} stands at nonce {now} of {nonce} after {} s: a transaction was dropped or the node stalled",
            to_hex(&who.0),
            WAIT_LIMIT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How long the run waits for all submitted transactions to commit.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// The outcomes of `hashes`' receipts (`tx.receipt` in JSON-RPC batches of 1,000):
/// how many succeeded, and the first other outcome seen.
async fn count_successes(c: &Client, hashes: &[String]) -> (usize, Option<String>) {
    let (mut ok, mut other) = (0, None);
    for chunk in hashes.chunks(1000) {
        let calls: Vec<(&str, serde_json::Value)> = chunk
            .iter()
            .map(|h| ("tx.receipt", json!({ "hash": h })))
            .collect();
        for r in c.batch(&calls).await.expect("tx.receipt batch") {
            let r = r.expect("tx.receipt");
            match r["outcome"].as_str() {
                Some("success") => ok += 1,
                o => {
                    other.get_or_insert_with(|| format!("{o:?}: {r}"));
                }
            }
        }
    }
    (ok, other)
}

fn main() {
    supervm_node::allocator::configure();
    // The node's warnings (slow blocks and commits) on stderr; RUST_LOG for more.
    supervm_node::logging::init("warn");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run());
}

#[allow(clippy::disallowed_methods)] // a benchmark times things
async fn run() {
    let args: Vec<String> = std::env::args().collect();
    let json_out = args.iter().any(|a| a == "--json");
    let txs_n = arg(&args, "--txs", 20_000);
    let senders_n = arg(&args, "--senders", 200).max(2);
    let batch = arg(&args, "--batch", 500).max(1);
    let workers = arg(&args, "--workers", 4).max(1);
    let latency_secs = arg(&args, "--latency-secs", 5) as u64;
    if latency_secs == 0 {
        eprintln!("--latency-secs must be at least 1 (the latency phase is part of the report)");
        std::process::exit(2);
    }
    let flag = |n: &str| {
        args.iter()
            .position(|a| a == n)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (own, url, funder) = match flag("--rpc") {
        Some(url) => {
            let keys_file = flag("--keys").expect("--rpc needs --keys FILE with a funded key");
            let k = keys::load(std::path::Path::new(&keys_file)).expect("keys");
            (None, url, k[0].signing_key().expect("key"))
        }
        None => {
            let mut config = supervm_node::NodeConfig::dev(dir.path().to_path_buf());
            config.listen = "127.0.0.1:0".parse().expect("addr");
            let node = supervm_node::node::start(config, None)
                .await
                .expect("start node");
            let url = format!("http://{}", node.addr);
            let k = keys::load(&dir.path().join("dev-keys.json")).expect("dev keys");
            (Some(node), url, k[0].signing_key().expect("key"))
        }
    };
    let client = Arc::new(Client::new(&url));
    let info = client.chain_info().await.expect("chain info");
    let ctx = Ctx {
        chain_id: info.chain_id,
    };
    let funder_addr = address_of(&funder);
    let mut funder_nonce = client.account(&funder_addr).await.expect("account").nonce;

    // Setup: deploy a token, create and fund the senders (native balance for fees and tokens).
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let salt: [u8; 32] = rng.r#gen();
    let init = (
        "Load".to_string(),
        "LD".to_string(),
        6u8,
        funder_addr,
        u128::MAX / 4,
    )
        .encode();
    let deploy = body(
        &ctx,
        &funder,
        funder_nonce,
        500_000_000,
        TxPayload::Deploy {
            code: DeployCode::Wasm(supervm_contracts::TOKEN.to_vec()),
            salt,
            init_args: init,
        },
    );
    funder_nonce += 1;
    let r = client.submit(&deploy, true).await.expect("deploy");
    assert_eq!(
        r.receipt.as_ref().map(|x| x.outcome.as_str()),
        Some("success"),
        "deploy: {r:?}"
    );
    let token = contract_address(&funder_addr, &salt);
    let senders: Vec<SigningKey> = (0..senders_n)
        .map(|_| SigningKey::from_bytes(&rng.r#gen()))
        .collect();
    let mut setup = Vec::new();
    for s in &senders {
        setup.push(body(
            &ctx,
            &funder,
            funder_nonce,
            10_000,
            TxPayload::Transfer {
                to: address_of(s),
                amount: 1_000_000_000_000,
            },
        ));
        funder_nonce += 1;
        setup.push(body(
            &ctx,
            &funder,
            funder_nonce,
            10_000_000,
            TxPayload::Call {
                contract: token,
                function: "transfer".into(),
                args: (address_of(s), 1_000_000_000u128).encode(),
            },
        ));
        funder_nonce += 1;
    }
    // (chunk by chunk: one sender may have only so many pending transactions)
    for chunk in setup.chunks(batch.min(500)) {
        for r in submit_batch(&client, chunk).await {
            r.expect("setup transaction admitted");
        }
        wait_nonce(
            &client,
            &funder_addr,
            chunk.last().expect("chunk").body.nonce + 1,
            Instant::now(),
        )
        .await;
    }

    // Pre-sign the load: token transfers from the senders to random senders.
    let per = txs_n.div_ceil(senders_n);
    let mut by_sender: Vec<Vec<SignedTx>> = senders
        .iter()
        .map(|s| {
            (0..per as u64)
                .map(|n| {
                    let to = address_of(&senders[rng.gen_range(0..senders_n)]);
                    body(
                        &ctx,
                        s,
                        n,
                        1_000_000,
                        TxPayload::Call {
                            contract: token,
                            function: "transfer".into(),
                            args: (to, 1u128).encode(),
                        },
                    )
                })
                .collect()
        })
        .collect();
    let all: Vec<&SignedTx> = by_sender.iter().flatten().collect();
    // The ceiling: ed25519 verification on all cores, same run, sender keys
    // decompressed once (the node caches them): one by one, and in batches as the node
    // verifies a `tx.submit_batch` request (each thread's share as one batch).
    let vkeys: HashMap<[u8; 32], supervm_client::tx::SenderKey> = senders
        .iter()
        .map(|s| {
            let a = address_of(s);
            (a.0, supervm_client::tx::sender_key(&a).expect("usable key"))
        })
        .collect();
    let hashes: Vec<[u8; 32]> = all.iter().map(|tx| tx.hash()).collect();
    let hash_hex: Vec<String> = hashes.iter().map(|h| to_hex(h)).collect();
    let t = Instant::now();
    {
        use rayon::prelude::*;
        all.par_iter().zip(&hashes).for_each(|(tx, h)| {
            tx.verify_with_key(h, &vkeys[&tx.body.sender.0])
                .expect("valid signature")
        });
    }
    let verify_per_s = all.len() as f64 / t.elapsed().as_secs_f64();
    let share = supervm_node::chain::verify_batch_size(batch);
    let t = Instant::now();
    {
        use rayon::prelude::*;
        let items: Vec<_> = all
            .iter()
            .zip(&hashes)
            .map(|(tx, h)| (*tx, h, &vkeys[&tx.body.sender.0]))
            .collect();
        items.par_chunks(share).for_each(|c| {
            let ok = supervm_client::tx::verify_batch(c);
            assert!(ok.iter().all(Result::is_ok), "valid signatures");
        });
    }
    let batch_verify_per_s = all.len() as f64 / t.elapsed().as_secs_f64();
    // And one by one with the key decompressed (and the transaction encoded and hashed)
    // every time, as `Transaction::verify` does.
    let t = Instant::now();
    {
        use rayon::prelude::*;
        all.par_iter()
            .for_each(|tx| tx.verify().expect("valid signature"));
    }
    let verify_uncached_per_s = all.len() as f64 / t.elapsed().as_secs_f64();

    // Throughput: W workers, each owning a subset of senders, submit in nonce order.
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let mine: Vec<Vec<SignedTx>> = (0..senders_n)
            .filter(|i| i % workers == w)
            .map(|i| std::mem::take(&mut by_sender[i]))
            .collect();
        let c = client.clone();
        handles.push(tokio::spawn(async move {
            // Interleave senders so each batch spreads over many of them.
            let mut flat = Vec::new();
            for n in 0..per {
                for s in &mine {
                    if let Some(t) = s.get(n) {
                        flat.push(t.clone());
                    }
                }
            }
            let mut rejected = 0usize;
            for chunk in flat.chunks(batch) {
                loop {
                    let res = submit_batch(&c, chunk).await;
                    let full = res
                        .iter()
                        .any(|r| r.as_ref().err().is_some_and(|e| is_full(e)));
                    rejected += res
                        .iter()
                        .filter(|r| {
                            r.as_ref()
                                .err()
                                .is_some_and(|e| !e.contains("already") && !is_full(e))
                        })
                        .count();
                    if !full {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            rejected
        }));
    }
    let mut rejected = 0;
    for h in handles {
        rejected += h.await.expect("worker");
    }
    // (one deadline for all: every submission has been answered by now)
    let waiting = Instant::now();
    for s in &senders {
        wait_nonce(&client, &address_of(s), per as u64, waiting).await;
    }
    let secs = start.elapsed().as_secs_f64();
    // Untimed: count the transfers whose receipts say `success` (a used nonce also
    // covers a reverted or failed call, which does not count).
    let (committed, failed_example) = count_successes(&client, &hash_hex).await;
    let failed = senders_n * per - committed;
    if let Some(f) = &failed_example {
        eprintln!("{failed} transfers committed without success, not counted; the first: {f}");
    }
    let tx_per_s = committed as f64 / secs;

    // Latency at half the measured rate: small batches every 10 ms; commit time observed
    // by polling the latest block.
    let rate = (tx_per_s / 2.0).max(10.0);
    let per_tick = ((rate / 100.0).ceil() as usize).max(1);
    let mut nonces: Vec<u64> = vec![per as u64; senders_n];
    let sent: Arc<parking_lot::Mutex<HashMap<String, Instant>>> = Default::default();
    let done: Arc<parking_lot::Mutex<Vec<f64>>> = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (c, sent, done, stop) = (client.clone(), sent.clone(), done.clone(), stop.clone());
        tokio::spawn(async move {
            let mut next = c
                .block(None)
                .await
                .expect("block")
                .map_or(0, |b| b.height + 1);
            loop {
                while let Some(b) = c.block(Some(next)).await.expect("block") {
                    let now = Instant::now();
                    let mut s = sent.lock();
                    for h in &b.tx_hashes {
                        if let Some(t0) = s.remove(h) {
                            done.lock().push((now - t0).as_secs_f64() * 1e3);
                        }
                    }
                    next += 1;
                }
                if stop.load(std::sync::atomic::Ordering::Relaxed) && sent.lock().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let lat_start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut k = 0usize;
    let mut lat_sent = 0usize;
    while lat_start.elapsed() < Duration::from_secs(latency_secs) {
        tick.tick().await;
        let mut txs = Vec::with_capacity(per_tick);
        for _ in 0..per_tick {
            let i = k % senders_n;
            k += 1;
            let to = address_of(&senders[(i + 1) % senders_n]);
            txs.push(body(
                &ctx,
                &senders[i],
                nonces[i],
                1_000_000,
                TxPayload::Call {
                    contract: token,
                    function: "transfer".into(),
                    args: (to, 1u128).encode(),
                },
            ));
            nonces[i] += 1;
        }
        let now = Instant::now();
        {
            let mut s = sent.lock();
            for t in &txs {
                s.insert(to_hex(&t.hash()), now);
            }
        }
        for r in submit_batch(&client, &txs).await {
            r.expect("latency-phase transaction admitted");
        }
        lat_sent += txs.len();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(60), poller)
        .await
        .expect("all latency-phase transactions commit")
        .expect("poller");
    let mut lat = done.lock().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let (p50, p99) = (pct(0.5), pct(0.99));
    let report = json!({
        "committed": committed, "seconds": secs, "tx_per_s": tx_per_s,
        "failed": failed,
        "ed25519_verify_per_s": batch_verify_per_s,
        "ed25519_batch_verify_per_s": batch_verify_per_s,
        "ed25519_verify_one_by_one_per_s": verify_per_s,
        "ed25519_batch_size": share,
        "ed25519_verify_uncached_per_s": verify_uncached_per_s, "p50_ms": p50, "p99_ms": p99,
        "latency_rate_tx_per_s": per_tick as f64 * 100.0, "latency_txs": lat_sent,
        "rejected": rejected, "senders": senders_n, "batch": batch, "workers": workers,
        "own_node": own.is_some(),
        "durability": if own.is_some() { "fsync" } else { "the external node's" },
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
    });
    if !json_out {
        println!(
            "{committed} token transfers from {senders_n} senders, batches of {batch}, {workers} workers"
        );
        println!("  committed end to end:   {tx_per_s:>10.0} tx/s ({secs:.2} s)");
        println!(
            "  ed25519 batch verify:   {batch_verify_per_s:>10.0} sig/s (the ceiling: all cores, same run, batches of {share} as the node verifies)"
        );
        println!(
            "  ed25519 verify:         {verify_per_s:>10.0} sig/s (one by one, all cores, keys decompressed once; {verify_uncached_per_s:.0} decompressing, encoding and hashing every time)"
        );
        println!(
            "  latency at {:.0} tx/s: p50 {p50:.1} ms, p99 {p99:.1} ms ({lat_sent} txs)",
            per_tick as f64 * 100.0
        );
    }
    println!("{report}");
    if let Some(n) = own {
        n.stop().await;
    }
}
