//! `supervm contract build`: a contract crate to wasm32v1-none.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use supervm_client::views::to_hex;

use super::contract::read_wasm;
use super::ctx::Ctx;

/// Contracts are built with integer overflow checks on (a `+` that overflows traps; the
/// variable overrides a crate's or workspace's `[profile.release]`, though not a
/// per-package profile override), unless the user set
/// `CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS` themselves: a release build wraps silently
/// by default, and a balance or counter that wraps is a bug no test of the happy path
/// sees.
pub(super) fn overflow_checks_on(cmd: &mut std::process::Command) {
    const VAR: &str = "CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS";
    if std::env::var_os(VAR).is_none() {
        cmd.env(VAR, "true");
    }
}

/// Builds a contract crate to wasm32v1-none: with rustup's target if installed, else
/// with Debian's rustc-web and -Zbuild-std (see scripts/setup.sh).
pub(super) fn build(ctx: &Ctx, path: &Path) -> Result<()> {
    let manifest = path.join("Cargo.toml");
    if !manifest.exists() {
        bail!("{} has no Cargo.toml", path.display());
    }
    let target = "wasm32v1-none";
    let target_dir = path.join("target");
    let rustup_has = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        })
        .unwrap_or(false);
    let mut cmd = std::process::Command::new("cargo");
    cmd.args(["build", "--release", "--target", target, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C link-arg=-zstack-size=16384");
    overflow_checks_on(&mut cmd);
    if !rustup_has {
        if !Path::new("/usr/bin/rustc").exists() {
            bail!(
                "no {target} target: run `rustup target add {target}` or `apt-get install rustc-web rust-web-src lld-22`"
            );
        }
        cmd.env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("-Zbuild-std=core,alloc");
    }
    let status = cmd.status().context("run cargo")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let dir = target_dir.join(target).join("release");
    let mut built = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "wasm") {
            // (validated as a deploy would be; a malformed interface is an error here too)
            let (code, iface) = read_wasm(&p)?;
            let name = iface.map(|i| i.name);
            built.push(json!({"wasm": p, "bytes": code.len(), "code_hash": to_hex(&supervm_vm::code_hash(&code)), "contract": name}));
        }
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
