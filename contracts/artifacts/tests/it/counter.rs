//! `contracts/counter`: increments, events, overflow, and writes discarded by reverts and traps.

use supervm_abi::{Address, Encode};
use supervm_contracts::COUNTER;
use supervm_testkit::TestEnv;
use supervm_vm::state::storage_key;
use supervm_vm::{Interface, Outcome};

use crate::util::{
    call_fails, data, error_code, event_name, expect_bad_input, expect_revert, interface,
    is_invalid, topic,
};

struct Fx {
    env: TestEnv,
    iface: Interface,
    counter: Address,
    alice: Address,
    bob: Address,
}

fn setup() -> Fx {
    let mut env = TestEnv::new();
    let (alice, bob) = (env.account("alice"), env.account("bob"));
    env.set_sender(alice);
    let counter = env.deploy(COUNTER, ());
    Fx {
        env,
        iface: interface(COUNTER),
        counter,
        alice,
        bob,
    }
}

fn get(f: &mut Fx) -> u64 {
    f.env.call(&f.counter, "get", ()).value()
}

/// Checks an `Incremented { by, value }` event of the counter.
fn assert_incremented(f: &Fx, e: &supervm_vm::Event, by: Address, value: u64) {
    assert_eq!(e.contract, f.counter);
    assert_eq!(event_name(e), "Incremented");
    assert_eq!(e.topics.len(), 2);
    assert_eq!(topic::<Address>(e, 1), by);
    assert_eq!(data::<u64>(e), value);
}

#[test]
fn interface_and_error_enum() {
    let i = interface(COUNTER);
    assert_eq!(i.name, "Counter");
    let names: Vec<&str> = i.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "add",
            "add_many",
            "add_then_panic",
            "add_then_revert",
            "get",
            "increment"
        ]
    );
    assert_eq!(i.function("add").unwrap().args[0].ty, "u64");
    assert_eq!(i.function("add").unwrap().returns, "u64");
    assert_eq!(
        i.function("add").unwrap().error.as_deref(),
        Some("CounterError")
    );
    assert_eq!(
        i.function("increment").unwrap().error,
        None,
        "increment reverts by hand"
    );
    assert_eq!(error_code(&i, "add", "Overflow"), 1);
    assert_eq!(error_code(&i, "add_then_revert", "Deliberate"), 2);
    assert_eq!(i.events.len(), 1);
    assert_eq!(i.events[0].name, "Incremented");
    assert!(
        !supervm_vm::validate::validate(COUNTER, &Default::default())
            .unwrap()
            .has_constructor
    );
}

#[test]
fn starts_at_zero_and_increments() {
    let mut f = setup();
    assert_eq!(get(&mut f), 0);
    for i in 1..=3u64 {
        let r = f.env.call(&f.counter, "increment", ());
        assert_eq!(r.value::<u64>(), i);
        assert_eq!(r.events().len(), 1);
        assert_incremented(&f, &r.events()[0], f.alice, i);
        let key = storage_key(&f.counter, b"count");
        assert_eq!(r.receipt.write_set.get(&key), Some(&Some(i.encode())));
    }
    assert_eq!(get(&mut f), 3);
}

#[test]
fn add_returns_the_new_value_and_names_the_caller() {
    let mut f = setup();
    f.env.set_sender(f.bob);
    let r = f.env.call(&f.counter, "add", (40u64,));
    assert_eq!(r.value::<u64>(), 40);
    assert_incremented(&f, &r.events()[0], f.bob, 40);
    let r = f.env.call(&f.counter, "add", (0u64,));
    assert_eq!(r.value::<u64>(), 40, "adding zero succeeds and still emits");
    assert_eq!(r.events().len(), 1);
    assert_eq!(get(&mut f), 40);
}

#[test]
fn overflow_reverts_with_code_1() {
    let mut f = setup();
    assert_eq!(
        f.env
            .call(&f.counter, "add", (u64::MAX - 1,))
            .value::<u64>(),
        u64::MAX - 1
    );
    expect_revert(&mut f.env, &f.iface, &f.counter, "add", (2u64,), "Overflow");
    assert_eq!(
        f.env.call(&f.counter, "increment", ()).value::<u64>(),
        u64::MAX
    );
    // `increment` returns no Result but reverts with the same code by hand.
    let r = call_fails(&mut f.env, &f.counter, "increment", ());
    assert_eq!(
        r.revert_code(),
        Some(error_code(&f.iface, "add", "Overflow"))
    );
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.counter,
        "add_then_revert",
        (1u64,),
        "Overflow",
    );
    assert_eq!(get(&mut f), u64::MAX);
}

/// Twelve arguments, the most an entry point takes, encoded as one tuple by the
/// harness and decoded by the contract.
#[test]
fn add_many_takes_twelve_arguments() {
    let mut f = setup();
    let args = (
        1u64, 2u64, 3u64, 4u64, 5u64, 6u64, 7u64, 8u64, 9u64, 10u64, 11u64, 12u64,
    );
    let r = f.env.call(&f.counter, "add_many", args);
    assert_eq!(r.value::<u64>(), 78);
    assert_eq!(get(&mut f), 78);
    assert_eq!(
        interface(COUNTER).function("add_many").unwrap().args.len(),
        12
    );
}

#[test]
fn add_then_revert_discards_its_write() {
    let mut f = setup();
    f.env.call(&f.counter, "add", (5u64,));
    let r = expect_revert(
        &mut f.env,
        &f.iface,
        &f.counter,
        "add_then_revert",
        (10u64,),
        "Deliberate",
    );
    assert!(r.receipt.return_data.is_empty());
    assert_eq!(get(&mut f), 5);
}

#[test]
fn add_then_panic_traps_and_discards_its_write() {
    let mut f = setup();
    f.env.call(&f.counter, "add", (5u64,));
    let r = call_fails(&mut f.env, &f.counter, "add_then_panic", (10u64,));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{:?}",
        r.outcome()
    );
    assert!(r.receipt.return_data.is_empty());
    assert_eq!(get(&mut f), 5);
    // At u64::MAX the add wraps (`wrapping_add`, no overflow check to trap on) and the
    // call still traps, its write discarded. (An overflow trap and the panic are the same
    // `unreachable` trap: the outcome cannot say which ran.)
    let r = call_fails(&mut f.env, &f.counter, "add_then_panic", (u64::MAX,));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{:?}",
        r.outcome()
    );
    assert_eq!(get(&mut f), 5);
}

#[test]
fn bad_input_and_no_constructor() {
    let mut f = setup();
    expect_bad_input(&mut f.env, &f.counter, "increment", &[1]);
    expect_bad_input(&mut f.env, &f.counter, "add", &[1, 2, 3]);
    expect_bad_input(&mut f.env, &f.counter, "get", &7u64.encode());
    // Constructor arguments for a contract without a constructor.
    let before = f.env.state().state_hash();
    let r = f.env.try_deploy(COUNTER, (1u64,));
    assert!(is_invalid(&r, "has no constructor"), "{:?}", r.outcome());
    assert_eq!(f.env.state().state_hash(), before);
}
