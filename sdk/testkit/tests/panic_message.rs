//! The SDK's `panic-message` feature: a panic's message and location reach the
//! receipt's log before the trap (shown by `supervm contract simulate` and here).

use std::path::Path;

use supervm_testkit::supervm_vm::Outcome;

#[test]
fn a_panic_logs_its_message_and_location() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/panicky");
    let wasm = supervm_testkit::contract_wasm(&dir);
    let mut env = supervm_testkit::TestEnv::new();
    // (a constructor's revert is named by the interface of the code being deployed)
    let refused = env.try_deploy(&wasm, (true,));
    assert_eq!(
        refused.error_name(),
        Some("Refused"),
        "{}",
        refused.describe()
    );
    let c = env.deploy(&wasm, (false,));
    assert_eq!(env.call(&c, "boom", (2u32,)).value::<u32>(), 2);
    let r = env.call(&c, "boom", (7u32,));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{}",
        r.describe()
    );
    let log = r.receipt.logs.join("\n");
    assert!(
        log.starts_with("panicked at src/lib.rs:") && log.ends_with(":\nboom: x = 7 is too large"),
        "{log}"
    );
    // (an overflow check is a panic too: contract builds keep them on)
    let r = env.call(&c, "bump", (u32::MAX,));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{}",
        r.describe()
    );
    let log = r.receipt.logs.join("\n");
    assert!(log.contains("overflow"), "{log}");
    assert!(r.describe().contains("a panic"), "{}", r.describe());
}
