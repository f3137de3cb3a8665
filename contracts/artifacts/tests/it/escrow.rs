//! `contracts/escrow`: offers over two tokens, cross-contract calls, and partial rollback in
//! `try_accept_many`.

use supervm_abi::{Address, Encode};
use supervm_contracts::{COUNTER, ESCROW};
use supervm_testkit::TestEnv;
use supervm_vm::Interface;

use crate::util::{
    allowance, assert_transfer, balance, call_fails, data, deploy_token, error_code, event_name,
    expect_bad_input, expect_revert, interface, topic,
};

type Offer = (Address, Address, u128, Address, u128);

/// The escrow's error enum as `contracts/escrow/src/lib.rs` declares it.
const ESCROW_ERRORS: [(&str, u32); 3] =
    [("NoSuchOffer", 1), ("NotMaker", 2), ("TransferFailed", 3)];

struct Fx {
    env: TestEnv,
    iface: Interface,
    escrow: Address,
    /// Alice's token (she holds 1000).
    a: Address,
    /// Bob's token (he holds 100).
    b: Address,
    alice: Address,
    bob: Address,
    carol: Address,
}

fn setup() -> Fx {
    let mut env = TestEnv::new();
    let (alice, bob, carol) = (
        env.account("alice"),
        env.account("bob"),
        env.account("carol"),
    );
    let a = deploy_token(&mut env, alice, 1000);
    let b = deploy_token(&mut env, bob, 100);
    env.set_sender(carol);
    let escrow = env.deploy(ESCROW, ());
    Fx {
        env,
        iface: interface(ESCROW),
        escrow,
        a,
        b,
        alice,
        bob,
        carol,
    }
}

impl Fx {
    fn approve(&mut self, who: Address, token: Address, amount: u128) {
        self.env.set_sender(who);
        let r = self.env.call(&token, "approve", (self.escrow, amount));
        assert!(r.is_success(), "{:?}", r.outcome());
    }

    /// Alice offers `give` of A for `want` of B; returns the id.
    fn offer_a_for_b(&mut self, give: u128, want: u128) -> u64 {
        self.approve(self.alice, self.a, give);
        self.env.set_sender(self.alice);
        let r = self
            .env
            .call(&self.escrow, "create_offer", (self.a, give, self.b, want));
        r.value()
    }

    fn offer(&mut self, id: u64) -> Option<Offer> {
        self.env.call(&self.escrow, "offer", (id,)).value()
    }

    fn bal(&mut self, token: Address, who: Address) -> u128 {
        balance(&mut self.env, &token, who)
    }
}

#[test]
fn interface_and_error_enum() {
    let i = interface(ESCROW);
    assert_eq!(i.name, "Escrow");
    let names: Vec<&str> = i.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "accept",
            "cancel",
            "create_offer",
            "init",
            "offer",
            "try_accept_many"
        ]
    );
    let args: Vec<&str> = i
        .function("create_offer")
        .unwrap()
        .args
        .iter()
        .map(|a| a.ty.as_str())
        .collect();
    assert_eq!(args, ["Address", "u128", "Address", "u128"]);
    assert_eq!(i.function("create_offer").unwrap().returns, "u64");
    assert_eq!(
        i.function("try_accept_many").unwrap().args[0].ty,
        "Vec<u64>"
    );
    assert_eq!(i.function("try_accept_many").unwrap().returns, "Vec<bool>");
    assert_eq!(
        i.function("offer").unwrap().returns,
        "Option<(Address,Address,u128,Address,u128)>"
    );
    let events: Vec<&str> = i.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["OfferAccepted", "OfferCancelled", "OfferCreated"]);
    for (name, code) in ESCROW_ERRORS {
        assert_eq!(error_code(&i, "accept", name), code);
    }
}

#[test]
fn create_offer_pulls_the_give_tokens() {
    let mut f = setup();
    f.approve(f.alice, f.a, 300);
    f.env.set_sender(f.alice);
    let r = f
        .env
        .call(&f.escrow, "create_offer", (f.a, 200u128, f.b, 50u128));
    assert_eq!(r.value::<u64>(), 0, "ids start at 0");
    // The token's Transfer (emitted inside the nested call), then OfferCreated.
    let ev = r.events();
    assert_eq!(ev.len(), 2);
    assert_transfer(&ev[0], &f.a, f.alice, f.escrow, 200);
    assert_eq!(ev[1].contract, f.escrow);
    assert_eq!(event_name(&ev[1]), "OfferCreated");
    assert_eq!(topic::<u64>(&ev[1], 1), 0);
    assert_eq!(data::<Address>(&ev[1]), f.alice);

    assert_eq!(f.bal(f.a, f.alice), 800);
    assert_eq!(f.bal(f.a, f.escrow), 200);
    assert_eq!(
        allowance(&mut f.env, &f.a, f.alice, f.escrow),
        100,
        "the pull spends the escrow's allowance"
    );
    assert_eq!(f.offer(0), Some((f.alice, f.a, 200, f.b, 50)));
    assert_eq!(f.offer(1), None);

    f.env.set_sender(f.alice);
    let r = f
        .env
        .call(&f.escrow, "create_offer", (f.a, 100u128, f.b, 1u128));
    assert_eq!(r.value::<u64>(), 1, "ids increase");
}

#[test]
fn create_offer_without_approval_or_balance_fails_cleanly() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "create_offer",
        (f.a, 1u128, f.b, 1u128),
        "TransferFailed",
    );
    // Approved, but more than the balance: the token reverts inside try_call.
    f.approve(f.bob, f.b, 1000);
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "create_offer",
        (f.b, 101u128, f.a, 1u128),
        "TransferFailed",
    );
    assert_eq!(allowance(&mut f.env, &f.b, f.bob, f.escrow), 1000);
    // The give "token" is not a token, or not a contract at all.
    f.env.set_sender(f.carol);
    let counter = f.env.deploy(COUNTER, ());
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "create_offer",
        (counter, 1u128, f.a, 1u128),
        "TransferFailed",
    );
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "create_offer",
        (Address([9; 32]), 1u128, f.a, 1u128),
        "TransferFailed",
    );
    // No offer was created: the next one still gets id 0.
    assert_eq!(f.offer_a_for_b(10, 1), 0);
}

#[test]
fn accept_pays_both_sides_and_closes_the_offer() {
    let mut f = setup();
    let id = f.offer_a_for_b(200, 50);
    f.approve(f.bob, f.b, 50);
    f.env.set_sender(f.bob);
    let r = f.env.call(&f.escrow, "accept", (id,));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert!(r.receipt.return_data.is_empty());
    let ev = r.events();
    assert_eq!(ev.len(), 3);
    assert_transfer(&ev[0], &f.b, f.bob, f.alice, 50);
    assert_transfer(&ev[1], &f.a, f.escrow, f.bob, 200);
    assert_eq!(ev[2].contract, f.escrow);
    assert_eq!(event_name(&ev[2]), "OfferAccepted");
    assert_eq!(topic::<u64>(&ev[2], 1), id);
    assert_eq!(data::<Address>(&ev[2]), f.bob);

    assert_eq!(f.bal(f.a, f.bob), 200);
    assert_eq!(f.bal(f.a, f.escrow), 0);
    assert_eq!(f.bal(f.a, f.alice), 800);
    assert_eq!(f.bal(f.b, f.alice), 50);
    assert_eq!(f.bal(f.b, f.bob), 50);
    assert_eq!(f.offer(id), None);
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "accept",
        (id,),
        "NoSuchOffer",
    );
}

#[test]
fn accept_failures_change_nothing() {
    let mut f = setup();
    let id = f.offer_a_for_b(200, 50);
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "accept",
        (id + 1,),
        "NoSuchOffer",
    );
    // No approval.
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "accept",
        (id,),
        "TransferFailed",
    );
    // Approval but no balance (carol holds no B).
    f.approve(f.carol, f.b, 50);
    f.env.set_sender(f.carol);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "accept",
        (id,),
        "TransferFailed",
    );
    assert_eq!(allowance(&mut f.env, &f.b, f.carol, f.escrow), 50);
    assert_eq!(f.offer(id), Some((f.alice, f.a, 200, f.b, 50)));
    assert_eq!(f.bal(f.a, f.escrow), 200);
}

#[test]
fn accept_of_an_offer_wanting_a_non_token_fails() {
    let mut f = setup();
    f.approve(f.alice, f.a, 10);
    f.env.set_sender(f.alice);
    let nowhere = Address([7; 32]);
    let id: u64 = f
        .env
        .call(&f.escrow, "create_offer", (f.a, 10u128, nowhere, 1u128))
        .value();
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "accept",
        (id,),
        "TransferFailed",
    );
    // The maker can still get the tokens back.
    f.env.set_sender(f.alice);
    assert!(f.env.call(&f.escrow, "cancel", (id,)).is_success());
    assert_eq!(f.bal(f.a, f.alice), 1000);
}

#[test]
fn cancel_is_maker_only_and_returns_the_tokens() {
    let mut f = setup();
    let id = f.offer_a_for_b(300, 10);
    f.env.set_sender(f.bob);
    expect_revert(&mut f.env, &f.iface, &f.escrow, "cancel", (id,), "NotMaker");
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "cancel",
        (id + 5,),
        "NoSuchOffer",
    );
    f.env.set_sender(f.alice);
    let r = f.env.call(&f.escrow, "cancel", (id,));
    assert!(r.is_success(), "{:?}", r.outcome());
    let ev = r.events();
    assert_eq!(ev.len(), 2);
    assert_transfer(&ev[0], &f.a, f.escrow, f.alice, 300);
    assert_eq!(ev[1].contract, f.escrow);
    assert_eq!(event_name(&ev[1]), "OfferCancelled");
    assert_eq!(ev[1].topics.len(), 2);
    assert_eq!(topic::<u64>(&ev[1], 1), id);
    assert!(ev[1].data.is_empty(), "OfferCancelled has no data fields");
    assert_eq!(f.bal(f.a, f.alice), 1000);
    assert_eq!(f.bal(f.a, f.escrow), 0);
    assert_eq!(f.offer(id), None);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "cancel",
        (id,),
        "NoSuchOffer",
    );
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.escrow,
        "accept",
        (id,),
        "NoSuchOffer",
    );
}

#[test]
fn try_accept_many_rolls_back_only_the_failed_offers() {
    let mut f = setup();
    // Bob holds 100 B. Offer 1 wants more than that.
    let o0 = f.offer_a_for_b(100, 50);
    let o1 = f.offer_a_for_b(100, 500);
    let o2 = f.offer_a_for_b(100, 30);
    let o3 = f.offer_a_for_b(100, 30);
    assert_eq!((o0, o1, o2, o3), (0, 1, 2, 3));
    // Allowance is plenty; the balance runs out at offer 3 (50 + 30 spent, 20 left).
    f.approve(f.bob, f.b, 1000);
    f.env.set_sender(f.bob);
    let r = f.env.call(
        &f.escrow,
        "try_accept_many",
        (vec![o0, o1, 99u64, o2, o3, o0],),
    );
    assert_eq!(
        r.value::<Vec<bool>>(),
        vec![true, false, false, true, false, false]
    );

    // Events only of the accepted offers, in order.
    let names: Vec<(&str, Address)> = r
        .events()
        .iter()
        .map(|e| (event_name(e), e.contract))
        .collect();
    assert_eq!(
        names,
        [
            ("Transfer", f.b),
            ("Transfer", f.a),
            ("OfferAccepted", f.escrow),
            ("Transfer", f.b),
            ("Transfer", f.a),
            ("OfferAccepted", f.escrow)
        ]
    );
    assert_eq!(topic::<u64>(&r.events()[2], 1), o0);
    assert_eq!(topic::<u64>(&r.events()[5], 1), o2);

    // The successes stay; the failed pulls left no trace (their allowance decrement is
    // rolled back with them: only 50 + 30 were spent).
    assert_eq!(f.offer(o0), None);
    assert_eq!(f.offer(o2), None);
    assert_eq!(f.offer(o1), Some((f.alice, f.a, 100, f.b, 500)));
    assert_eq!(f.offer(o3), Some((f.alice, f.a, 100, f.b, 30)));
    assert_eq!(allowance(&mut f.env, &f.b, f.bob, f.escrow), 920);
    assert_eq!(f.bal(f.b, f.bob), 20);
    assert_eq!(f.bal(f.b, f.alice), 80);
    assert_eq!(f.bal(f.a, f.bob), 200);
    assert_eq!(f.bal(f.a, f.escrow), 200);
}

/// A wanted token whose `transfer_from` loops forever (a contract any maker may name)
/// costs a batch at most the escrow's pull allowance: its offer is skipped and the
/// others are accepted, instead of the loop using up the batch's gas.
#[test]
fn a_gas_burning_token_only_fails_its_own_offer() {
    let mut f = setup();
    let mut burner = wat::parse_str(
        r#"(module (memory (export "memory") 1)
             (func (export "transfer_from") (loop $l (br $l))))"#,
    )
    .unwrap();
    // The ABI version custom section: id 0, size, name, version (u32 LE).
    let name = supervm_abi::ABI_VERSION_SECTION.as_bytes();
    burner.extend([0, (1 + name.len() + 4) as u8, name.len() as u8]);
    burner.extend(name);
    burner.extend(supervm_abi::ABI_VERSION.to_le_bytes());
    f.env.set_sender(f.carol);
    let burner = f.env.deploy(&burner, ());
    let good = f.offer_a_for_b(100, 10);
    f.approve(f.alice, f.a, 100);
    f.env.set_sender(f.alice);
    let r = f
        .env
        .call(&f.escrow, "create_offer", (f.a, 100u128, burner, 1u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    let trap = r.value::<u64>();
    let good2 = f.offer_a_for_b(100, 10);
    f.approve(f.bob, f.b, 100);
    f.env.set_sender(f.bob);
    f.env.set_gas_limit(2_000_000);
    let r = f
        .env
        .call(&f.escrow, "try_accept_many", (vec![good, trap, good2],));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_eq!(r.value::<Vec<bool>>(), vec![true, false, true]);
    assert!(r.receipt.gas_used < 2_000_000, "{}", r.receipt.gas_used);
    assert_eq!(f.offer(trap), Some((f.alice, f.a, 100, burner, 1)));
    assert_eq!(f.bal(f.a, f.bob), 200);
}

#[test]
fn try_accept_many_with_nothing_to_accept_writes_nothing() {
    let mut f = setup();
    let id = f.offer_a_for_b(100, 50);
    f.env.set_sender(f.bob);
    let before = f.env.state().state_hash();
    let r = f.env.call(&f.escrow, "try_accept_many", (vec![id, 42u64],));
    assert_eq!(r.value::<Vec<bool>>(), vec![false, false]);
    assert!(r.receipt.write_set.is_empty() && r.events().is_empty());
    assert_eq!(f.env.state().state_hash(), before);
    let r = f
        .env
        .call(&f.escrow, "try_accept_many", (Vec::<u64>::new(),));
    assert_eq!(r.value::<Vec<bool>>(), Vec::<bool>::new());
}

/// The taker's payment (a `try_call` given all the gas left) runs out of gas: the
/// escrow keeps the 1/64 a `try_call` reserves for its caller, and with it reverts
/// `TransferFailed` instead of failing out of gas itself; the offer stays.
#[test]
fn out_of_gas_in_a_nested_call_fails_the_whole_accept() {
    let mut f = setup();
    let id = f.offer_a_for_b(100, 50);
    f.approve(f.bob, f.b, 50);
    f.env.set_sender(f.bob);
    f.env.set_gas_limit(20_000);
    let r = call_fails(&mut f.env, &f.escrow, "accept", (id,));
    assert_eq!(r.error_name(), Some("TransferFailed"), "{}", r.describe());
    assert!(f.offer(id).is_some());
    f.env.set_gas_limit(supervm_testkit::DEFAULT_GAS);
    assert!(f.env.call(&f.escrow, "accept", (id,)).is_success());
}

#[test]
fn escrow_has_a_constructor_and_bad_input_reverts() {
    let mut f = setup();
    assert!(
        supervm_vm::validate::validate(ESCROW, &Default::default())
            .unwrap()
            .has_constructor
    );
    expect_bad_input(&mut f.env, &f.escrow, "accept", &[1, 2]);
    expect_bad_input(&mut f.env, &f.escrow, "try_accept_many", &1u64.encode());
}
