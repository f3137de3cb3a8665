//! End to end against a real `supervm node --dev` process on loopback: deploy the
//! token, transfer (token and native), read receipts, blocks and events; stop with
//! Ctrl-C and restart, then kill -9 and restart, then SIGTERM and restart; state and
//! history must be intact.

use serde_json::json;
use supervm_abi::Encode;
use supervm_client::keys::address_of;
use supervm_client::views::{from_hex, to_hex};
use supervm_client::{Client, TxPayload};
use supervm_vm::{Address, contract_address};

use crate::support::{NodeProcess, deploy_token, dev_keys, sign, transfer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_transfer_query_restart() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path()).await;
    let c = Client::new(&node.url);
    let keys = dev_keys(dir.path());
    let (alice, bob) = (&keys[0], &keys[1]);
    let (a, b) = (address_of(alice), address_of(bob));
    let info = c.chain_info().await.unwrap();
    assert_eq!(info.chain_id, 1337);

    // Deploy the token; alice gets the supply.
    let salt = [9u8; 32];
    let deploy = deploy_token(alice, 0, salt);
    let r = c.submit(&deploy, true).await.unwrap();
    assert_eq!(r.status, "committed", "{r:?}");
    let rec = r.receipt.unwrap();
    assert_eq!(rec.outcome, "success", "{rec:?}");
    let token = contract_address(&a, &salt);
    assert_eq!(rec.contract, Some(to_hex(&token.0)));

    // Token transfer alice -> bob.
    let t = sign(
        alice,
        1,
        TxPayload::Call {
            contract: token,
            function: "transfer".into(),
            args: (b, 250u128).encode(),
        },
    );
    let r = c.submit(&t, true).await.unwrap();
    let rec = r.receipt.clone().unwrap();
    assert_eq!(rec.outcome, "success", "{rec:?}");
    assert_eq!(rec.events.len(), 1);
    assert_eq!(from_hex(&rec.events[0].topics[0]).unwrap(), b"Transfer");
    let fee: u128 = rec.fee.parse().unwrap();
    assert_eq!(fee, u128::from(rec.gas_used));
    // A failing transfer (bob has 250) is a committed revert that still pays gas.
    let fail = sign(
        bob,
        0,
        TxPayload::Call {
            contract: token,
            function: "transfer".into(),
            args: (a, 1000u128).encode(),
        },
    );
    let rf = c.submit(&fail, true).await.unwrap().receipt.unwrap();
    assert_eq!(rf.outcome, "revert");
    assert_eq!(rf.revert_contract, Some(to_hex(&token.0)), "{rf:?}");
    // Native transfer bob -> a fresh account.
    let carol = Address([0xca; 32]);
    let n = transfer(bob, 1, carol, 777);
    assert_eq!(
        c.submit(&n, true).await.unwrap().receipt.unwrap().outcome,
        "success"
    );

    let balance = |who: Address| {
        let c = &c;
        async move {
            let s = c
                .simulate(&who, &token, "balance", &who.encode())
                .await
                .unwrap();
            u128::from_le_bytes(from_hex(&s.return_data).unwrap().try_into().unwrap())
        }
    };
    assert_eq!(balance(b).await, 250);
    assert_eq!(balance(a).await, 1_000_000 - 250);
    let before_acc_a = c.account(&a).await.unwrap();
    assert_eq!(before_acc_a.nonce, 2);
    assert_eq!(c.account(&carol).await.unwrap().balance, "777");
    let tx_view = c.tx(&t.hash()).await.unwrap();
    assert_eq!(tx_view.status, "committed");
    let block = c.block(Some(rec.block_height)).await.unwrap().unwrap();
    assert!(block.tx_hashes.contains(&to_hex(&t.hash())));
    let events = c
        .events(json!({"contract": to_hex(&token.0), "topics": [to_hex(b"Transfer")]}))
        .await
        .unwrap();
    assert!(!events.events.is_empty());
    let contract = c.contract(&token).await.unwrap().unwrap();
    assert_eq!(contract.interface.as_ref().unwrap()["name"], "Token");
    let latest = c.block(None).await.unwrap().unwrap();
    // Prometheus metrics count what committed.
    let metrics = reqwest::get(format!("{}/metrics", node.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |m: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(m)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{m} missing"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{m}: {e}"))
    };
    assert!(
        value("supervm_committed_transactions_total") >= 4.0,
        "{metrics}"
    );
    // Blocks were built, commits timed, and the rate over the last 10 s counts them.
    assert!(
        value("supervm_block_time_seconds_count") >= 1.0,
        "{metrics}"
    );
    assert!(
        value("supervm_commit_latency_seconds_count") >= 1.0,
        "{metrics}"
    );
    assert!(value("supervm_transactions_per_second") > 0.0, "{metrics}");
    assert!(value("supervm_committed_blocks_total") >= 1.0, "{metrics}");
    assert_eq!(value("supervm_mempool_transactions"), 0.0, "{metrics}");
    // The scheduler's counters are there (their values depend on scheduling).
    for m in [
        "supervm_reexecutions_total",
        "supervm_sequential_chunk_transactions_total",
        "supervm_occ_transactions_total",
    ] {
        value(m);
    }

    // Clean stop and restart: state and history intact.
    node.interrupt();
    let node = NodeProcess::start(dir.path()).await;
    let c = Client::new(&node.url);
    assert_eq!(c.block(None).await.unwrap().unwrap(), latest);
    assert_eq!(c.tx(&t.hash()).await.unwrap().receipt, Some(rec.clone()));
    let events_after = c
        .events(json!({"contract": to_hex(&token.0), "topics": [to_hex(b"Transfer")]}))
        .await
        .unwrap();
    assert_eq!(
        events_after.events, events.events,
        "events after the restart"
    );
    assert_eq!(c.account(&a).await.unwrap(), before_acc_a);
    assert_eq!(c.account(&carol).await.unwrap().balance, "777");
    let s = c
        .simulate(&b, &token, "balance", &b.encode())
        .await
        .unwrap();
    assert_eq!(
        u128::from_le_bytes(from_hex(&s.return_data).unwrap().try_into().unwrap()),
        250
    );
    // The same transaction again is refused as already committed.
    let err = c.submit(&t, false).await.unwrap_err();
    assert!(
        matches!(err, supervm_client::Error::Rpc { code: -32022, .. }),
        "{err}"
    );

    // More work, then kill -9: every acknowledged (waited-for) transaction survives.
    let mut acked = Vec::new();
    for i in 0..5u64 {
        let x = transfer(alice, 2 + i, carol, 1);
        assert_eq!(c.submit(&x, true).await.unwrap().status, "committed");
        acked.push(x.hash());
    }
    node.kill();
    let node = NodeProcess::start(dir.path()).await;
    let c = Client::new(&node.url);
    for h in &acked {
        assert_eq!(c.tx(h).await.unwrap().status, "committed");
    }
    assert_eq!(c.account(&carol).await.unwrap().balance, "782");
    // SIGTERM stops cleanly too (exit status 0), and the node restarts where it stopped.
    node.terminate();
    let node = NodeProcess::start(dir.path()).await;
    let c = Client::new(&node.url);
    assert_eq!(c.account(&carol).await.unwrap().balance, "782");
    node.interrupt();
}

/// `supervm node --dev` prints each prefunded dev account's name, address and secret key
/// (the same as its key file holds) before it says where it listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_node_prints_its_dev_keys() {
    use std::io::BufRead;
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supervm"))
        .args(["node", "--dev", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let printed = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for l in std::io::BufReader::new(stderr).lines() {
            let l = l.unwrap();
            let done = l.contains("JSON-RPC on");
            lines.push(l);
            if done {
                break;
            }
        }
        lines
    });
    let printed = tokio::time::timeout(std::time::Duration::from_secs(60), printed).await;
    let _ = child.kill();
    let _ = child.wait();
    let printed = printed
        .expect("the node says where it listens within 60 s")
        .unwrap();
    let keys = supervm_client::keys::load(&dir.path().join("dev-keys.json")).unwrap();
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(
            printed
                .iter()
                .any(|l| l.contains(&k.name) && l.contains(&k.address) && l.contains(&k.secret)),
            "{} not printed: {printed:?}",
            k.name
        );
    }
}

/// A dev chain in a store format this build does not read (here: no format marker, as
/// in stores made before formats were recorded) is moved aside, not deleted, and a new
/// dev chain starts; a node that is not a dev node refuses it, naming both formats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_chain_of_another_store_format_is_moved_aside() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    crate::support::start(dir.path()).await.stop().await;
    {
        let coord = rocksdb::DB::open_cf(
            &rocksdb::Options::default(),
            dir.path().join("store").join("coord"),
            supervm_store::layout::COORD_CFS,
        )
        .unwrap();
        coord.delete(supervm_store::layout::META_FORMAT).unwrap();
    }
    let mut config = crate::support::dev_config(dir.path());
    config.dev = false;
    let err = supervm_node::node::start(config, Some(vec![]))
        .await
        .expect_err("another format is refused");
    assert!(err.to_string().contains("format 1"), "{err}");
    assert!(!dir.path().join("store.format-1").exists());
    let node = crate::support::start(dir.path()).await;
    assert!(dir.path().join("store.format-1").join("coord").exists());
    assert_eq!(
        node.chain.store.head().blocks,
        1,
        "a new dev chain: its genesis"
    );
    node.stop().await;
}

/// A data directory keeps the chain it began with: a restart with other genesis
/// accounts is refused (not silently ignored), and `--dev` on a non-dev chain's
/// directory is refused before any dev key is written or shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_chains_genesis() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let non_dev = |c: &mut supervm_node::config::NodeConfig| {
        c.dev = false;
        c.chain_id = 42;
    };
    let alice = Address([7; 32]);
    let bob = Address([8; 32]);
    let mut config = crate::support::dev_config(dir.path());
    non_dev(&mut config);
    let genesis = vec![(alice, 1_000), (bob, 2_000)];
    let node = supervm_node::node::start(config.clone(), Some(genesis.clone()))
        .await
        .expect("a new chain starts");
    assert!(node.stop().await.unsaved.is_none());
    // (the same accounts in another order: the same genesis)
    let reordered = vec![(bob, 2_000), (alice, 1_000)];
    let node = supervm_node::node::start(config.clone(), Some(reordered))
        .await
        .expect("the same genesis restarts");
    node.stop().await;
    for other in [vec![(alice, 7)], vec![(alice, 1_000), (bob, 2_001)], vec![]] {
        let e = supervm_node::node::start(config.clone(), Some(other.clone()))
            .await
            .err()
            .unwrap_or_else(|| panic!("{other:?} was accepted"));
        assert!(e.to_string().contains("other genesis accounts"), "{e}");
    }
    // (a restart may omit the genesis)
    let node = supervm_node::node::start(config.clone(), None)
        .await
        .expect("a restart without the genesis");
    node.stop().await;
    let mut dev = crate::support::dev_config(dir.path());
    dev.dev = true;
    let e = supervm_node::node::start(dev, None).await.err().unwrap();
    assert!(
        e.to_string().contains("holds chain 42, not chain 1337"),
        "{e}"
    );
    assert!(!dir.path().join("dev-keys.json").exists());
    // A new chain needs its genesis.
    let fresh = tempfile::tempdir().unwrap();
    let mut config = crate::support::dev_config(fresh.path());
    non_dev(&mut config);
    let e = supervm_node::node::start(config, None).await.err().unwrap();
    assert!(e.to_string().contains("give --genesis"), "{e}");
}

/// A dev chain whose dev key file went missing or was changed is refused (its keys
/// are not made anew and shown as if funded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_chain_keeps_its_dev_keys() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    crate::support::start(dir.path()).await.stop().await;
    let keys = dir.path().join("dev-keys.json");
    let saved = std::fs::read(&keys).unwrap();
    std::fs::remove_file(&keys).unwrap();
    let config = crate::support::dev_config(dir.path());
    let e = supervm_node::node::start(config.clone(), None)
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("keys") && e.to_string().contains("missing"),
        "{e}"
    );
    assert!(!keys.exists(), "the keys were made anew");
    std::fs::write(&keys, &saved).unwrap();
    let mut fewer = supervm_client::keys::load(&keys).unwrap();
    fewer.pop();
    std::fs::write(&keys, serde_json::to_vec(&fewer).unwrap()).unwrap();
    let e = supervm_node::node::start(config.clone(), None)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("no longer holds the keys"), "{e}");
    std::fs::write(&keys, &saved).unwrap();
    supervm_node::node::start(config, None)
        .await
        .expect("restored, it starts")
        .stop()
        .await;
}

/// A stop answers the `tx.submit` calls waiting for queued transactions at once:
/// `pending` (the transaction is saved for the next start, where it commits), not a
/// connection cut off after the server's grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_answers_waiting_submissions() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = crate::support::start(dir.path()).await;
    let (tx, waiting) = a_waiting_submission(&node, dir.path()).await;
    assert!(node.stop().await.unsaved.is_none());
    let answer = waiting
        .await
        .unwrap()
        .expect("an answer, not a cut connection");
    assert_eq!(answer.status, "pending", "{answer:?}");
    assert_eq!(answer.hash, to_hex(&tx.hash()));
    // It commits after the restart.
    let node = crate::support::start(dir.path()).await;
    crate::support::wait_mempool_empty(&node).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let t = c.tx(&tx.hash()).await.unwrap();
    assert_eq!(t.status, "committed", "{t:?}");
    node.stop().await;
}

/// A stop that cannot save the queued transactions (here the file's place is taken by
/// a directory) says how many were lost, and the submissions waiting for them are told
/// so, not `pending`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_cannot_save_says_so() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = crate::support::start(dir.path()).await;
    let (_, waiting) = a_waiting_submission(&node, dir.path()).await;
    let blocker = dir.path().join("mempool-pending.bin");
    std::fs::create_dir_all(blocker.join("taken")).unwrap();
    let stopped = node.stop().await;
    assert_eq!(
        stopped.unsaved.as_ref().map(|u| u.0),
        Some(1),
        "{stopped:?}"
    );
    match waiting.await.unwrap() {
        Err(supervm_client::Error::Rpc {
            code: -32603, data, ..
        }) => {
            let why = data.map(|d| d.to_string()).unwrap_or_default();
            assert!(why.contains("could not save"), "{why}");
        }
        other => panic!("the waiter was not told: {other:?}"),
    }
    assert!(
        !dir.path().join("mempool-pending.tmp").exists(),
        "a temporary file was left"
    );
}

/// With blocks held, a transfer submitted with `wait` by a task, once it is queued (so
/// that a stop finds its submission waiting).
async fn a_waiting_submission(
    node: &supervm_node::node::RunningNode,
    dir: &std::path::Path,
) -> (
    supervm_client::SignedTx,
    tokio::task::JoinHandle<supervm_client::Result<supervm_client::views::SubmitResult>>,
) {
    let keys = dev_keys(dir);
    let url = format!("http://{}", node.addr);
    crate::support::hold(node).await;
    let tx = transfer(&keys[0], 0, Address([9; 32]), 5);
    let waiting = {
        let tx = tx.clone();
        tokio::spawn(async move { Client::new(&url).submit(&tx, true).await })
    };
    while node.chain.mempool.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    (tx, waiting)
}
