//! Determinism: one seeded block of mixed transactions over the token, counter, escrow and
//! hotkey contracts, executed many times on fresh VMs (cold module cache) and on one shared
//! VM (warm cache), must give identical receipts and state.
//!
//! `SUPERVM_SEED` overrides the seed (decimal or `0x` hex); `SUPERVM_DETERMINISM_RUNS` the
//! number of runs (default 100, half cold, half warm).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_abi::{Address, Encode};
use supervm_contracts::{COUNTER, ESCROW, HOTKEY, TOKEN};
use supervm_vm::{
    BlockEnv, CodeSource, InMemoryState, Outcome, Payload, Receipt, Transaction, Vm, VmConfig,
    contract_address,
};

const DEFAULT_SEED: u64 = 0x5eed_5afe_c0de;
const DEFAULT_RUNS: usize = 100;
const ACCOUNTS: usize = 20;
/// Random transactions after the set-up ones.
const RANDOM_TXS: usize = 400;
const GAS: u64 = 50_000_000;

fn account(i: usize) -> Address {
    let mut a = [0u8; 32];
    a[0] = 0xAC;
    a[1..9].copy_from_slice(&(i as u64).to_le_bytes());
    Address(a)
}

fn salt(n: u8) -> [u8; 32] {
    [n; 32]
}

fn deploy(sender: Address, code: &[u8], n: u8, init_args: Vec<u8>) -> (Transaction, Address) {
    let tx = Transaction {
        sender,
        gas_limit: GAS,
        payload: Payload::Deploy {
            code: CodeSource::Wasm(code.to_vec()),
            salt: salt(n),
            init_args,
        },
    };
    (tx, contract_address(&sender, &salt(n)))
}

fn call(sender: Address, contract: Address, function: &str, args: Vec<u8>) -> Transaction {
    Transaction {
        sender,
        gas_limit: GAS,
        payload: Payload::Call {
            contract,
            function: function.into(),
            args,
        },
    }
}

/// What kinds of transactions the block holds, for a sanity check of its mix.
#[derive(Default, Debug)]
struct Mix {
    success: usize,
    revert: usize,
    trap: usize,
    out_of_gas: usize,
    invalid: usize,
}

fn build_block(seed: u64) -> Vec<Transaction> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let admin = account(0);
    let users: Vec<Address> = (1..=ACCOUNTS).map(account).collect();
    let mut txs = Vec::new();

    let token_args = |name: &str, supply: u128| {
        (name.to_string(), name[..1].to_string(), 6u8, admin, supply).encode()
    };
    let (t, token) = deploy(admin, TOKEN, 1, token_args("Alpha", 1 << 40));
    txs.push(t);
    let (t, token2) = deploy(admin, TOKEN, 2, token_args("Beta", 1 << 40));
    txs.push(t);
    let (t, counter) = deploy(admin, COUNTER, 3, vec![]);
    txs.push(t);
    let (t, hotkey) = deploy(admin, HOTKEY, 4, vec![]);
    txs.push(t);
    let (t, escrow) = deploy(admin, ESCROW, 5, vec![]);
    txs.push(t);
    let tokens = [token, token2];

    // Fund most accounts (the last two stay empty, so their transfers fail).
    for (i, u) in users.iter().enumerate().take(ACCOUNTS - 2) {
        for t in tokens {
            let amount = 1_000 + rng.gen_range(0..10_000u128) + i as u128;
            txs.push(call(admin, t, "transfer", (*u, amount).encode()));
        }
    }

    let mut offers_made = 0u64;
    for _ in 0..RANDOM_TXS {
        let who = users[rng.gen_range(0..ACCOUNTS)];
        let other = users[rng.gen_range(0..ACCOUNTS)];
        let tk = tokens[rng.gen_range(0..2)];
        let mut tx = match rng.gen_range(0..100) {
            // Transfers, some beyond the balance.
            0..=29 => {
                let amount = if rng.gen_bool(0.15) {
                    1 << 50
                } else {
                    rng.gen_range(0..2_000u128)
                };
                call(who, tk, "transfer", (other, amount).encode())
            }
            30..=36 => call(
                who,
                tk,
                "approve",
                (other, rng.gen_range(0..5_000u128)).encode(),
            ),
            37..=41 => {
                let from = users[rng.gen_range(0..ACCOUNTS)];
                call(
                    who,
                    tk,
                    "transfer_from",
                    (from, other, rng.gen_range(0..3_000u128)).encode(),
                )
            }
            42..=46 => call(who, tk, "balance", (other,).encode()),
            47..=52 => call(who, counter, "add", (rng.gen_range(0..1_000u64),).encode()),
            53..=54 => call(who, counter, "increment", vec![]),
            55 => call(who, counter, "add_then_revert", (7u64,).encode()),
            56 => call(who, counter, "add_then_panic", (7u64,).encode()),
            57 => call(who, counter, "add", (u64::MAX,).encode()),
            58..=63 => call(
                who,
                hotkey,
                "bump",
                (rng.gen_range(0..8u32), rng.gen_range(1..10u64)).encode(),
            ),
            64..=65 => call(who, hotkey, "bump_hot", (1u64,).encode()),
            66..=68 => {
                let keys: Vec<u32> = (0..rng.gen_range(0..6))
                    .map(|_| rng.gen_range(0..16))
                    .collect();
                call(who, hotkey, "bump_many", (keys, 1u64).encode())
            }
            69 => call(who, hotkey, "read", (rng.gen_range(0..8u32),).encode()),
            70..=74 => {
                let amount = if rng.gen_bool(0.6) {
                    1 << 40
                } else {
                    rng.gen_range(0..4_000u128)
                };
                call(who, tk, "approve", (escrow, amount).encode())
            }
            75..=81 => {
                // Usually approve the escrow first, so that most offers open.
                if rng.gen_bool(0.7) {
                    txs.push(call(who, tk, "approve", (escrow, 1u128 << 40).encode()));
                }
                offers_made += 1;
                let want = tokens[rng.gen_range(0..2)];
                let args = (
                    tk,
                    rng.gen_range(1..1_500u128),
                    want,
                    rng.gen_range(1..1_500u128),
                );
                call(who, escrow, "create_offer", args.encode())
            }
            82..=87 => {
                if rng.gen_bool(0.6) {
                    for t in tokens {
                        txs.push(call(who, t, "approve", (escrow, 1u128 << 40).encode()));
                    }
                }
                call(
                    who,
                    escrow,
                    "accept",
                    (rng.gen_range(0..offers_made + 2),).encode(),
                )
            }
            88..=89 => call(
                who,
                escrow,
                "cancel",
                (rng.gen_range(0..offers_made + 2),).encode(),
            ),
            90..=92 => {
                if rng.gen_bool(0.5) {
                    txs.push(call(who, tk, "approve", (escrow, 1u128 << 40).encode()));
                }
                let ids: Vec<u64> = (0..rng.gen_range(1..5))
                    .map(|_| rng.gen_range(0..offers_made + 2))
                    .collect();
                call(who, escrow, "try_accept_many", (ids,).encode())
            }
            93 => call(
                who,
                escrow,
                "offer",
                (rng.gen_range(0..offers_made + 2),).encode(),
            ),
            94 => call(who, tk, "mint", (other, 5u128).encode()),
            95 => call(
                admin,
                tk,
                "mint",
                (other, rng.gen_range(0..1_000u128)).encode(),
            ),
            96 => call(who, tk, "transfer", vec![1, 2, 3]),
            97 => call(who, tk, "no_such_function", vec![]),
            98 => call(who, escrow, "__init", vec![]),
            _ => call(who, account(99), "transfer", (other, 1u128).encode()),
        };
        // A few run out of gas.
        if rng.gen_bool(0.04) {
            tx.gas_limit = rng.gen_range(2_000..60_000);
        }
        txs.push(tx);
    }
    txs
}

/// Wall-clock time, only to report how long the runs took (never part of a result).
#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

fn run(vm: &Vm, txs: &[Transaction]) -> (Vec<Receipt>, [u8; 32]) {
    let mut state = InMemoryState::new();
    let block = BlockEnv {
        height: 10,
        timestamp_ms: 1_700_000_000_000,
        chain_id: 7,
    };
    let receipts = vm
        .execute_block(&mut state, &block, txs)
        .expect("in-memory execution");
    (receipts, state.state_hash())
}

fn check(label: &str, reference: &(Vec<Receipt>, [u8; 32]), got: &(Vec<Receipt>, [u8; 32])) {
    assert_eq!(got.0.len(), reference.0.len(), "{label}: receipt count");
    for (i, (a, b)) in reference.0.iter().zip(&got.0).enumerate() {
        assert_eq!(
            a.hash(),
            b.hash(),
            "{label}: receipt hash of tx {i} differs: {a:?}\nvs\n{b:?}"
        );
    }
    assert!(
        got.0 == reference.0,
        "{label}: receipts differ (outside the hashed fields)"
    );
    assert_eq!(got.1, reference.1, "{label}: state hash differs");
}

#[test]
fn same_block_same_receipts_cold_and_warm() {
    let seed = supervm_vm::env_number("SUPERVM_SEED").unwrap_or(DEFAULT_SEED);
    let runs = supervm_vm::env_number("SUPERVM_DETERMINISM_RUNS")
        .map_or(DEFAULT_RUNS, |n| n as usize)
        .max(2);
    eprintln!("determinism: seed {seed:#x} (override with SUPERVM_SEED), {runs} runs");
    let txs = build_block(seed);
    let start = now();

    let reference = run(&Vm::new(VmConfig::default()).expect("VM"), &txs);
    let mut mix = Mix::default();
    for r in &reference.0 {
        match r.outcome {
            Outcome::Success => mix.success += 1,
            Outcome::Revert { .. } => mix.revert += 1,
            Outcome::Trap { .. } => mix.trap += 1,
            Outcome::OutOfGas => mix.out_of_gas += 1,
            Outcome::Invalid { .. } => mix.invalid += 1,
        }
    }
    eprintln!("determinism: {} txs, {mix:?}", txs.len());
    assert!(
        reference.0[..5].iter().all(|r| r.outcome.is_success()),
        "deploys succeed"
    );
    assert!(
        mix.success > 150
            && mix.revert > 20
            && mix.trap > 0
            && mix.out_of_gas > 0
            && mix.invalid > 0,
        "the block should mix every outcome: {mix:?}"
    );
    let accepted = reference
        .0
        .iter()
        .flat_map(|r| &r.events)
        .filter(|e| e.topics[0] == b"OfferAccepted")
        .count();
    let created = reference
        .0
        .iter()
        .flat_map(|r| &r.events)
        .filter(|e| e.topics[0] == b"OfferCreated")
        .count();
    eprintln!("determinism: {created} offers created, {accepted} accepted");
    assert!(accepted > 0, "some escrow offer is accepted");

    // Cold: a fresh VM (empty module cache) per run; the reference counts as one.
    let cold = runs / 2;
    for i in 1..cold {
        let got = run(&Vm::new(VmConfig::default()).expect("VM"), &txs);
        check(&format!("cold run {i}"), &reference, &got);
    }
    // Warm: one VM shared by every run.
    let vm = Vm::new(VmConfig::default()).expect("VM");
    for i in 0..runs - cold {
        let got = run(&vm, &txs);
        check(&format!("warm run {i}"), &reference, &got);
    }
    eprintln!("determinism: {runs} runs in {:.1?}", start.elapsed());
}
