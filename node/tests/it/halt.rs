//! A commit that fails halts the block pipeline: `chain.health` says why, `GET /health`
//! answers 503, submissions are refused with the reason; after a restart the node
//! recovers and the transaction of the failed batch is included exactly once, whether
//! the store had decided that batch (the failure came while applying it) or took its
//! decision back (a shard never prepared it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use supervm_client::keys::address_of;
use supervm_client::views::HealthView;
use supervm_client::{Client, Error};
use supervm_node::config::StoreFailHook;
use supervm_store::{FailAction, FailPoint};
use supervm_vm::Address;

use crate::support::{dev_keys, start, start_with, transfer};

/// Runs the scenario with `action` (an I/O error, or a panic in the commit) injected at
/// `at` once armed; `decided`: whether recovery finds the failed batch decided (its
/// decision and every prepare durable: it finishes it) rather than taking it back (a
/// failed prepare: the decision, written beside the prepares, does not count).
#[allow(clippy::disallowed_methods)] // wall-clock time, as blocks are stamped with it
async fn halt_and_recover(at: FailPoint, action: FailAction, decided: bool) {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let armed = Arc::new(AtomicBool::new(false));
    let hook = {
        let armed = armed.clone();
        StoreFailHook(Arc::new(move |p| {
            if p == at && armed.swap(false, Ordering::SeqCst) {
                action
            } else {
                FailAction::Continue
            }
        }))
    };
    let node = start_with(dir.path(), |c| c.store_fail = Some(hook)).await;
    let url = format!("http://{}", node.addr);
    let c = Client::new(&url);
    let keys = dev_keys(dir.path());
    let alice = &keys[0];
    let a = address_of(alice);
    let carol = Address([0xc0; 32]);

    // Healthy: one transfer commits, /health answers 200.
    let r = c.submit(&transfer(alice, 0, carol, 5), true).await.unwrap();
    assert_eq!(r.status, "committed", "{r:?}");
    let http = reqwest::Client::new();
    let get = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert!(c.health().await.unwrap().ok);

    // The next commit fails: the pipeline halts.
    armed.store(true, Ordering::SeqCst);
    let failed = transfer(alice, 1, carol, 7);
    // A submission waiting for its commit is told the pipeline halted, at once.
    match c.submit(&failed, true).await {
        Err(Error::Rpc { code, message, .. }) => assert_eq!(code, -32029, "{message}"),
        other => panic!("a waiting submission answered {other:?}"),
    }
    let mut health = c.health().await.unwrap();
    for _ in 0..500 {
        if !health.ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        health = c.health().await.unwrap();
    }
    assert!(
        !armed.load(Ordering::SeqCst),
        "the fault at {at:?} was never reached"
    );
    assert!(!health.ok, "{health:?}");
    let why = health.halted.clone().expect("a halted pipeline says why");
    assert!(why.contains("injected"), "{why}");
    let get = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(get.status(), 503);
    let body: HealthView = get.json().await.unwrap();
    assert_eq!(body, health);
    // (and for monitoring: a halt is not an idle chain)
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("\nsupervm_halted 1\n"), "{metrics}");
    assert!(
        metrics.contains("supervm_build_info{version=\""),
        "{metrics}"
    );
    // Submissions are refused with the reason, not queued behind a dead pipeline.
    match c.submit(&transfer(alice, 2, carol, 9), false).await {
        Err(Error::Rpc {
            code,
            message,
            data,
        }) => {
            assert_eq!(code, -32029, "{message}");
            let data = data.expect("error data");
            assert_eq!(data["reason"], "halted", "{data}");
            assert_eq!(data["detail"], why.as_str(), "{data}");
        }
        other => panic!("a submission to a halted node answered {other:?}"),
    }
    // The store refuses reads after a failed commit: state queries fail until restarted.
    assert!(
        c.account(&a).await.is_err(),
        "a poisoned store answered a state read"
    );
    node.stop().await;
    // (blocks made after this instant are stamped at or after it)
    std::thread::sleep(Duration::from_millis(5));
    let restart_ms = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .unwrap()
        .as_millis() as u64;

    // Restart without the fault: recovery settles the failed batch, and its transaction
    // is included exactly once (saved as pending at the stop; refused as committed if
    // the batch stood, committed again if it was taken back).
    let node = start(dir.path()).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let mut nonce = 0;
    for _ in 0..500 {
        nonce = c.account(&a).await.unwrap().nonce;
        if nonce >= 2 && node.chain.mempool.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(nonce, 2, "alice's nonce after the restart");
    assert!(c.health().await.unwrap().ok);
    let rec = c
        .receipt(&failed.hash())
        .await
        .unwrap()
        .expect("the failed batch's transaction is committed");
    assert_eq!(rec.outcome, "success");
    // A decided batch stands as it was made before the halt; an undecided one was
    // taken back, and its transaction committed again in a block made after the
    // restart (the end states agree otherwise: the stop saved it either way).
    let block = c
        .block(Some(rec.block_height))
        .await
        .unwrap()
        .expect("its block");
    assert_eq!(
        block.timestamp_ms < restart_ms,
        decided,
        "the failed batch's block (at {}, restart at {restart_ms}) was {} by recovery",
        block.timestamp_ms,
        if decided { "taken back" } else { "kept" }
    );
    let carol_balance = c.account(&carol).await.unwrap().balance;
    assert_eq!(carol_balance, "12", "carol got 5 and 7, each once");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_apply_halts_and_the_decided_batch_survives_the_restart() {
    halt_and_recover(FailPoint::ApplyShard(0), FailAction::IoError, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_prepare_halts_and_the_undecided_batch_commits_after_the_restart() {
    halt_and_recover(FailPoint::PrepareShard(1), FailAction::IoError, false).await;
}

/// A panic in the committer (here the store's own, in the middle of a commit) halts the
/// pipeline as a failed commit does, instead of leaving a node that answers as healthy
/// while nothing commits; the restart recovers the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_commit_halts_and_the_restart_recovers() {
    halt_and_recover(FailPoint::ApplyShard(1), FailAction::Panic, true).await;
}
