//! Generated contract modules of chosen shapes, for the benchmarks that measure what
//! code of the VM's largest sizes costs to compile and to load.

/// A module of `funcs` functions with `body` each (one `i32` local), as WAT, with the
/// memory and ABI version section every contract has.
pub fn module(funcs: usize, body: &str) -> Vec<u8> {
    let f = format!("(func (local i32) {body})\n");
    let src = format!(
        "(module (memory (export \"memory\") 1) {} (@custom \"supervm_abi_version\" \"\\01\\00\\00\\00\"))",
        f.repeat(funcs)
    );
    wat::parse_str(&src).expect("WAT")
}

/// As many functions of `body` as fit in about 500 KB (the code-size limit is 512 KiB).
pub fn filled(body: &str) -> Vec<u8> {
    let one = module(1, body).len();
    module((500 * 1024 / one).max(1), body)
}

/// Constructor arguments of the token contract (name, symbol, decimals, admin, supply)
/// for the benchmarks that deploy it beside generated shapes.
pub fn token_init_args() -> Vec<u8> {
    use supervm_vm::abi::Encode;
    (
        "Token".to_string(),
        "TOK".to_string(),
        6u8,
        supervm_vm::Address([1; 32]),
        1_000u128,
    )
        .encode()
}
