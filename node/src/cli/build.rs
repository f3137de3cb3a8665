//! `supervm contract build`: a contract crate to wasm32v1-none (`supervm_build`), each
//! `.wasm` it made validated as a deploy would validate it.

use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};
use supervm_client::views::to_hex;

use super::contract::read_wasm;
use super::ctx::Ctx;

/// Builds the crate in `path` and prints each `.wasm` the build made.
pub(super) fn build(ctx: &Ctx, path: &Path) -> Result<()> {
    let made = supervm_build::build(path)?;
    let mut built = Vec::new();
    for p in &made.wasm {
        // (validated as a deploy would be; a malformed interface is an error here too)
        let (code, iface) = read_wasm(p)?;
        // (said at build time: otherwise found only once deployed, by a call that cannot
        // be made by name)
        for problem in iface
            .iter()
            .flat_map(supervm_node::abi_json::interface_problems)
        {
            eprintln!("warning: {}: {problem}", p.display());
        }
        let name = iface.map(|i| i.name);
        built.push(json!({"wasm": p, "bytes": code.len(), "code_hash": to_hex(&supervm_vm::code_hash(&code)), "contract": name}));
    }
    if !made.small_profile && !ctx.json {
        eprintln!(
            "(the workspace's own [profile.release] was used: `supervm contract build` sets \
             lto, codegen-units 1, panic abort and strip only for crates without one)"
        );
    }
    let v = Value::Array(built.clone());
    ctx.print(&v, || {
        built
            .iter()
            .map(|b| {
                format!(
                    "{} ({} bytes, code hash {})",
                    b["wasm"].as_str().unwrap_or(""),
                    b["bytes"],
                    b["code_hash"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
