//! Helpers shared by the behaviour tests: interfaces, failure checks, event decoding.

use supervm_abi::codec::Decode;
use supervm_abi::{Address, Encode};
use supervm_testkit::{CallResult, TestEnv, decode};
use supervm_vm::{Event, Interface, Outcome};

/// Revert code of an entry point whose arguments did not decode (`supervm_sdk::BAD_INPUT`).
pub const BAD_INPUT: u32 = 0xFFFF_FFFF;

/// The parsed interface section of a contract.
pub fn interface(code: &[u8]) -> Interface {
    let info =
        supervm_vm::validate::validate(code, &Default::default()).expect("contract validates");
    let text = info.interface.expect("contract has an interface section");
    Interface::parse(&text).unwrap_or_else(|e| panic!("interface does not parse: {e}\n{text}"))
}

/// The revert code of `variant` of the error enum that `function` returns, from the interface.
pub fn error_code(iface: &Interface, function: &str, variant: &str) -> u32 {
    let f = iface
        .function(function)
        .unwrap_or_else(|| panic!("no function {function}"));
    let enum_name = f
        .error
        .as_deref()
        .unwrap_or_else(|| panic!("{function} returns no Result"));
    let e = iface
        .errors
        .iter()
        .find(|e| e.name == enum_name)
        .expect("error enum declared");
    e.variants
        .iter()
        .find(|v| v.name == variant)
        .unwrap_or_else(|| panic!("{enum_name} has no variant {variant}"))
        .code
}

/// Calls `function` expecting a failure that changes nothing: no writes, no events, the state
/// hash unchanged, gas charged. Returns the result for outcome checks.
pub fn call_fails<A: Encode>(
    env: &mut TestEnv,
    contract: &Address,
    function: &str,
    args: A,
) -> CallResult {
    let before = env.state().state_hash();
    let r = env.call(contract, function, args);
    assert!(!r.is_success(), "{function} unexpectedly succeeded");
    assert!(
        r.receipt.write_set.is_empty(),
        "{function} failed but wrote"
    );
    assert!(
        r.events().is_empty(),
        "{function} failed but emitted events"
    );
    assert!(r.gas_used() > 0, "a failed call is charged gas");
    assert_eq!(
        env.state().state_hash(),
        before,
        "{function} failed but changed the state"
    );
    r
}

/// Like [`call_fails`], and checks that the call reverted with `variant` of its error enum
/// (looked up in the interface) and empty revert data.
pub fn expect_revert<A: Encode>(
    env: &mut TestEnv,
    iface: &Interface,
    contract: &Address,
    function: &str,
    args: A,
    variant: &str,
) -> CallResult {
    let r = call_fails(env, contract, function, args);
    let code = error_code(iface, function, variant);
    // (the test kit names it as the CLI does, by the contract's interface)
    assert_eq!(r.error_name(), Some(variant), "{}", r.describe());
    assert!(
        r.describe()
            .starts_with(&format!("revert {variant} with code {code}"))
    );
    assert_eq!(
        r.outcome(),
        &Outcome::Revert {
            code,
            data: vec![],
            contract: *contract
        },
        "{function} should revert with {variant}"
    );
    assert_eq!(iface.error_name(function, code), Some(variant));
    r
}

/// Like [`call_fails`], and checks for the SDK's `BAD_INPUT` revert.
pub fn expect_bad_input(env: &mut TestEnv, contract: &Address, function: &str, raw_args: &[u8]) {
    let before = env.state().state_hash();
    let r = env.execute(supervm_vm::Payload::Call {
        contract: *contract,
        function: function.into(),
        args: raw_args.to_vec(),
    });
    assert_eq!(
        r.outcome(),
        &Outcome::Revert {
            code: BAD_INPUT,
            data: vec![],
            contract: *contract
        },
        "{function}"
    );
    assert!(r.receipt.write_set.is_empty() && r.events().is_empty());
    assert_eq!(env.state().state_hash(), before);
}

/// Whether the outcome is `Invalid` with a reason containing `needle`.
pub fn is_invalid(r: &CallResult, needle: &str) -> bool {
    matches!(r.outcome(), Outcome::Invalid { reason } if reason.contains(needle))
}

/// An event's name (topic 0) and its remaining topics, as raw bytes.
pub fn event_name(e: &Event) -> &str {
    std::str::from_utf8(&e.topics[0]).expect("event name is UTF-8")
}

/// Decodes topic `i` (1-based after the name) of an event.
pub fn topic<T: Decode>(e: &Event, i: usize) -> T {
    decode(&e.topics[i])
}

/// Decodes an event's data.
pub fn data<T: Decode>(e: &Event) -> T {
    decode(&e.data)
}

/// Checks a token `Transfer` event emitted by `token`.
pub fn assert_transfer(e: &Event, token: &Address, from: Address, to: Address, amount: u128) {
    assert_eq!(&e.contract, token, "Transfer emitted by the token");
    assert_eq!(event_name(e), "Transfer");
    assert_eq!(e.topics.len(), 3);
    assert_eq!(topic::<Address>(e, 1), from);
    assert_eq!(topic::<Address>(e, 2), to);
    assert_eq!(data::<u128>(e), amount);
}

/// Deploys a token named "Coin" ("C", 6 decimals) minting `supply` to `admin`, signed by `admin`.
pub fn deploy_token(env: &mut TestEnv, admin: Address, supply: u128) -> Address {
    env.set_sender(admin);
    env.deploy(
        supervm_contracts::TOKEN,
        ("Coin".to_string(), "C".to_string(), 6u8, admin, supply),
    )
}

/// A token's balance of `owner`.
pub fn balance(env: &mut TestEnv, token: &Address, owner: Address) -> u128 {
    env.call(token, "balance", (owner,)).value()
}

/// A token's allowance of `spender` over `owner`'s tokens.
pub fn allowance(env: &mut TestEnv, token: &Address, owner: Address, spender: Address) -> u128 {
    env.call(token, "allowance", (owner, spender)).value()
}
