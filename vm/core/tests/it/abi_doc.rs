//! `docs/abi.md` is generated from the ABI table; this test fails when the two
//! disagree. Regenerate with `SUPERVM_BLESS=1 cargo test --release -p supervm-vm abi_doc`.

use supervm_vm::abi::{self, HOST_FNS, limits};

fn render() -> String {
    let mut s = String::new();
    s.push_str(include_str!("abi_header.md"));
    s.push_str(&format!(
        "\n## Host functions (import module `{}`, ABI version {})\n\n",
        abi::IMPORT_MODULE,
        abi::ABI_VERSION
    ));
    s.push_str("Every pointer and length is an `i32` into the contract's memory; every address is 32 bytes. ");
    s.push_str(
        "Gas = `base + per_byte × bytes`, where the bytes are those the description names. ",
    );
    s.push_str("The base cost is charged before the function does anything.\n\n");
    s.push_str("| function | signature | base gas | gas per byte |\n|---|---|---|---|\n");
    for f in HOST_FNS {
        let params: Vec<String> = f.params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        s.push_str(&format!(
            "| [`{}`](#{}) | `({}) -> {}` | {} | {} |\n",
            f.name,
            f.name,
            params.join(", "),
            f.result,
            f.cost.base,
            f.cost.per_byte
        ));
    }
    for f in HOST_FNS {
        s.push_str(&format!("\n### {}\n\n", f.name));
        let doc: Vec<&str> = f.doc.lines().map(|l| l.trim()).collect();
        s.push_str(&doc.join("\n"));
        s.push('\n');
    }
    s.push_str("\n## Limits\n\n| limit | value |\n|---|---|\n");
    for (name, v) in [
        ("MAX_KEY_LEN (bytes)", limits::MAX_KEY_LEN as u64),
        ("MAX_VALUE_LEN (bytes)", limits::MAX_VALUE_LEN as u64),
        ("MAX_TOPICS", limits::MAX_TOPICS as u64),
        ("MAX_TOPIC_LEN (bytes)", limits::MAX_TOPIC_LEN as u64),
        ("MAX_EVENT_DATA (bytes)", limits::MAX_EVENT_DATA as u64),
        ("MAX_EVENTS_PER_TX", limits::MAX_EVENTS_PER_TX as u64),
        ("MAX_RETURN_DATA (bytes)", limits::MAX_RETURN_DATA as u64),
        ("MAX_INPUT_LEN (bytes)", limits::MAX_INPUT_LEN as u64),
        ("MAX_FN_NAME (bytes)", limits::MAX_FN_NAME as u64),
        ("MAX_CALL_DEPTH (frames)", limits::MAX_CALL_DEPTH as u64),
    ] {
        s.push_str(&format!("| `{name}` | {v} |\n"));
    }
    s
}

/// The doc's "all but 1/64" for a `try_call`'s callee is the VM's reserve.
#[test]
fn abi_doc_states_the_try_call_reserve() {
    let claim = format!("all but 1/{}", supervm_vm::RESERVED_FOR_CALLER);
    assert!(
        render().contains(&claim),
        "docs/abi.md should say {claim:?}"
    );
}

#[test]
fn abi_doc_matches_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md");
    let want = render();
    if std::env::var("SUPERVM_BLESS").as_deref() == Ok("1") {
        std::fs::write(path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/abi.md is out of date with the ABI table; regenerate with \
         SUPERVM_BLESS=1 cargo test --release -p supervm-vm abi_doc"
    );
}

/// The numbers `abi_header.md` writes by hand are the code's: the intrinsic gas
/// constants and the stack budget.
#[test]
fn abi_header_states_the_codes_constants() {
    use supervm_vm::{FRAME_OVERHEAD, Limits, gas};
    // Thousands separated by commas, as the text writes them.
    let n = |v: u64| {
        let digits = v.to_string();
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    };
    let text = include_str!("abi_header.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for claim in [
        format!("{} per transaction", n(gas::TX_BASE)),
        format!(
            "{} per byte of the function name and arguments",
            n(gas::PER_ARG_BYTE)
        ),
        format!("{} per code byte uploaded", n(gas::PER_CODE_BYTE)),
        format!("{} per contract created", n(gas::DEPLOY_BASE)),
        format!("{} per upload", n(gas::UPLOAD_BASE)),
        format!("{} per cross-contract call frame", n(gas::CALL_FRAME)),
        format!("{} per 64 KiB page", n(gas::MEMORY_PAGE)),
        format!("({} units;", n(u64::from(Limits::default().stack_budget))),
        format!("a function costs {} +", FRAME_OVERHEAD),
    ] {
        assert!(
            text.contains(&claim),
            "abi_header.md should say {claim:?} (the code's value)"
        );
    }
}
