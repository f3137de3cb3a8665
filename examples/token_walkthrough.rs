//! The 60-second walk-through: deploy the SDK-built token contract on the VM,
//! transfer, and read receipts, gas and events — decoded by name through the
//! interface the SDK embeds in the wasm.
//!
//! ```text
//! cargo run --release --example token_walkthrough
//! ```

use supervm_testkit::{TestEnv, decode};
use supervm_vm::{Address, Interface, Outcome};

fn short(a: &Address) -> String {
    hex::encode(&a.0[..6])
}

fn main() {
    let mut env = TestEnv::new();
    let alice = env.account("alice");
    let bob = env.account("bob");
    env.set_sender(alice);

    // The interface section tells tools the contract's functions, events and errors.
    let info = env
        .vm()
        .validate(supervm_contracts::TOKEN)
        .expect("token validates");
    let iface =
        Interface::parse(info.interface.as_deref().expect("interface section")).expect("interface");
    println!(
        "contract {} ({} bytes of wasm), entry points:",
        iface.name,
        supervm_contracts::TOKEN.len()
    );
    for f in &iface.functions {
        let args: Vec<String> = f
            .args
            .iter()
            .map(|a| format!("{}: {}", a.name, a.ty))
            .collect();
        println!("  {}({}) -> {}", f.name, args.join(", "), f.returns);
    }

    // 1. Deploy: alice is admin and receives the initial supply.
    let token = env.deploy(
        supervm_contracts::TOKEN,
        (
            "Demo Coin".to_string(),
            "DEMO".to_string(),
            6u8,
            alice,
            1_000_000u128,
        ),
    );
    println!("\ndeployed token at {}", hex::encode(token.0));

    // 2. Transfer 250 to bob.
    let r = env.call(&token, "transfer", (bob, 250u128));
    println!(
        "transfer alice -> bob 250: {:?}, gas {}",
        r.outcome(),
        r.gas_used()
    );
    for e in r.events() {
        let name = String::from_utf8_lossy(&e.topics[0]).to_string();
        let from: Address = decode(&e.topics[1]);
        let to: Address = decode(&e.topics[2]);
        let amount: u128 = decode(&e.data);
        println!(
            "  event {name} from={} to={} amount={amount}",
            short(&from),
            short(&to)
        );
    }

    // 3. A failing transfer: bob has only 250. Reverts with a typed error; nothing changes.
    env.set_sender(bob);
    let r = env.call(&token, "transfer", (alice, 1_000u128));
    if let Outcome::Revert { code, .. } = r.outcome() {
        let name = iface.error_name("transfer", *code).unwrap_or("?");
        println!(
            "transfer bob -> alice 1000: reverted with {name} (code {code}), gas {} charged, {} writes",
            r.gas_used(),
            r.receipt.write_set.len()
        );
    }

    // 4. Read balances.
    for (who, a) in [("alice", alice), ("bob", bob)] {
        let bal: u128 = env.call(&token, "balance", (a,)).value();
        println!("balance of {who}: {bal}");
    }
    println!("state hash: {}", hex::encode(env.state().state_hash()));
}
