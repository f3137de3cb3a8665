//! Guards against: the committed contract builds (`contracts/artifacts/wasm/`, which
//! every test, benchmark and golden trace runs) drifting from their source. When this
//! machine's compiler is the one that made them, a fresh build must give the same bytes;
//! with another compiler (Debian updated `rustc-web`, or a rustup target is installed)
//! the bytes may differ, and the fresh build must still embed the same interface and
//! export the same entry points. `SUPERVM_BLESS_WASM=1` replaces the committed builds
//! with the fresh ones (then regenerate the golden trace in a second run: this one's
//! binary still embeds the old bytes). The compiler is named by `rustc -vV`, cargo's
//! version and, for Debian's toolchain, the package versions.

use std::path::Path;

use supervm_contracts::{TOOLCHAIN, all, fresh};
use supervm_vm::{Limits, validate::validate};

#[test]
fn committed_wasm_matches_a_fresh_build_by_the_same_compiler() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("wasm");
    if std::env::var("SUPERVM_BLESS_WASM").as_deref() == Ok("1") {
        for (name, code) in fresh::all() {
            std::fs::write(dir.join(format!("{name}.wasm")), code).unwrap();
        }
        std::fs::write(dir.join("TOOLCHAIN"), fresh::TOOLCHAIN).unwrap();
        eprintln!(
            "wrote the fresh builds ({}) to {}",
            fresh::TOOLCHAIN.trim(),
            dir.display()
        );
        return;
    }
    let same_compiler = fresh::TOOLCHAIN.trim() == TOOLCHAIN.trim();
    if !same_compiler {
        eprintln!(
            "note: the committed contracts were built by {}, this machine builds them with {}: comparing interfaces and entry points only",
            TOOLCHAIN.trim(),
            fresh::TOOLCHAIN.trim()
        );
    }
    for ((name, committed), (_, built)) in all().into_iter().zip(fresh::all()) {
        if same_compiler {
            assert!(
                committed == built,
                "contracts/artifacts/wasm/{name}.wasm differs from a fresh build of contracts/{name} by the same compiler ({}): the contract or the SDK changed without updating the committed build; if intended, run SUPERVM_BLESS_WASM=1 cargo test --release --workspace -- committed_wasm, then (after that rebuild) regenerate the golden gas trace",
                TOOLCHAIN.trim()
            );
        }
        let limits = Limits::default();
        let a = validate(committed, &limits).unwrap_or_else(|e| panic!("committed {name}: {e}"));
        let b = validate(built, &limits).unwrap_or_else(|e| panic!("fresh {name}: {e}"));
        assert_eq!(a.interface, b.interface, "{name}: embedded interface");
        assert_eq!(a.entry_points, b.entry_points, "{name}: entry points");
    }
}

/// The contracts stay small: each build (committed and fresh) is under 32 KiB and holds
/// none of core's panic and formatting texts, whose presence means the `fmt` machinery
/// (several KiB of code) was linked in.
#[test]
fn contracts_are_small_and_free_of_fmt() {
    const MAX_BYTES: usize = 32 * 1024;
    const FMT_TEXTS: [&[u8]; 4] = [
        b"called `",
        b"panicked at",
        b"index out of bounds",
        b"Formatter",
    ];
    for (kind, builds) in [("committed", all()), ("fresh", fresh::all())] {
        for (name, code) in builds {
            assert!(
                code.len() < MAX_BYTES,
                "{kind} {name}.wasm is {} bytes (limit {MAX_BYTES})",
                code.len()
            );
            for text in FMT_TEXTS {
                assert!(
                    !code.windows(text.len()).any(|w| w == text),
                    "{kind} {name}.wasm contains {:?}: core::fmt was linked in",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }
}
