//! `contracts/hotkey`: `bump`, `bump_hot`, `bump_many`, `read`, the key layout and overflow.

use supervm_abi::{Address, Encode};
use supervm_contracts::HOTKEY;
use supervm_testkit::TestEnv;
use supervm_vm::Outcome;
use supervm_vm::state::storage_key;

use crate::util::{call_fails, expect_bad_input, interface};

fn setup() -> (TestEnv, Address) {
    let mut env = TestEnv::new();
    let alice = env.account("alice");
    env.set_sender(alice);
    let hk = env.deploy(HOTKEY, ());
    (env, hk)
}

fn read(env: &mut TestEnv, hk: &Address, key: u32) -> u64 {
    env.call(hk, "read", (key,)).value()
}

fn counter_key(hk: &Address, key: u32) -> Vec<u8> {
    storage_key(hk, &[&b"k"[..], &key.to_le_bytes()].concat())
}

#[test]
fn interface_lists_the_four_functions() {
    let i = interface(HOTKEY);
    assert_eq!(i.name, "Hotkey");
    let sigs: Vec<(String, Vec<String>, String)> = i
        .functions
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.args.iter().map(|a| a.ty.clone()).collect(),
                f.returns.clone(),
            )
        })
        .collect();
    let s = |n: &str, a: &[&str], r: &str| {
        (
            n.to_string(),
            a.iter().map(|x| x.to_string()).collect(),
            r.to_string(),
        )
    };
    assert_eq!(
        sigs,
        vec![
            s("bump", &["u32", "u64"], "u64"),
            s("bump_hot", &["u64"], "u64"),
            s("bump_many", &["Vec<u32>", "u64"], "()"),
            s("read", &["u32"], "u64"),
        ]
    );
    assert!(i.events.is_empty() && i.errors.is_empty());
}

#[test]
fn bump_adds_and_stores_under_the_documented_key() {
    let (mut env, hk) = setup();
    assert_eq!(read(&mut env, &hk, 7), 0);
    let r = env.call(&hk, "bump", (7u32, 5u64));
    assert_eq!(r.value::<u64>(), 5);
    assert!(r.events().is_empty());
    assert_eq!(r.receipt.write_set.len(), 1);
    assert_eq!(
        r.receipt.write_set.get(&counter_key(&hk, 7)),
        Some(&Some(5u64.encode()))
    );
    assert_eq!(env.call(&hk, "bump", (7u32, 3u64)).value::<u64>(), 8);
    assert_eq!(read(&mut env, &hk, 7), 8);
    assert_eq!(read(&mut env, &hk, 8), 0, "keys are independent");
    assert_eq!(env.call(&hk, "bump", (u32::MAX, 0u64)).value::<u64>(), 0);
    assert_eq!(read(&mut env, &hk, u32::MAX), 0);
}

#[test]
fn bump_hot_is_key_zero() {
    let (mut env, hk) = setup();
    assert_eq!(env.call(&hk, "bump_hot", (2u64,)).value::<u64>(), 2);
    assert_eq!(env.call(&hk, "bump", (0u32, 3u64)).value::<u64>(), 5);
    assert_eq!(env.call(&hk, "bump_hot", (1u64,)).value::<u64>(), 6);
    assert_eq!(read(&mut env, &hk, 0), 6);
}

#[test]
fn bump_many_bumps_each_listed_key() {
    let (mut env, hk) = setup();
    let r = env.call(&hk, "bump_many", (vec![1u32, 2, 1, 9], 10u64));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert!(r.receipt.return_data.is_empty(), "bump_many returns ()");
    assert_eq!(r.receipt.write_set.len(), 3);
    assert_eq!(
        read(&mut env, &hk, 1),
        20,
        "a key listed twice is bumped twice"
    );
    assert_eq!(read(&mut env, &hk, 2), 10);
    assert_eq!(read(&mut env, &hk, 9), 10);
    let r = env.call(&hk, "bump_many", (Vec::<u32>::new(), 10u64));
    assert!(r.is_success() && r.receipt.write_set.is_empty());
}

#[test]
fn overflow_traps_and_changes_nothing() {
    let (mut env, hk) = setup();
    env.call(&hk, "bump", (3u32, 1u64));
    let r = call_fails(&mut env, &hk, "bump", (3u32, u64::MAX));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{:?}",
        r.outcome()
    );
    // bump_many is atomic: the earlier keys' bumps are discarded with the overflowing one.
    let r = call_fails(&mut env, &hk, "bump_many", (vec![4u32, 5, 3], u64::MAX));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{:?}",
        r.outcome()
    );
    assert_eq!(read(&mut env, &hk, 3), 1);
    assert_eq!(read(&mut env, &hk, 4), 0);
}

#[test]
fn bad_input_reverts() {
    let (mut env, hk) = setup();
    expect_bad_input(&mut env, &hk, "bump", &7u32.encode());
    expect_bad_input(&mut env, &hk, "read", &[]);
    // A declared list length longer than the input.
    expect_bad_input(&mut env, &hk, "bump_many", &[5, 0, 0, 0, 1, 0, 0, 0]);
}
