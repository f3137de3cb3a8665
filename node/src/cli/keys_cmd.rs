//! `supervm keys`: create and list keys.

use anyhow::{Result, bail};
use serde_json::{Value, json};
use supervm_client::keys::{self, KeyEntry};
use supervm_client::views::from_hex32;

use super::KeysCmd;
use super::ctx::{Ctx, dev_keys_file};

pub(super) fn keys_cmd(ctx: &Ctx, cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::New { name } => {
            // A name must be usable wherever a key is named, and name one key only: the
            // CLI takes 0x-hex as an address, and a name already among the dev keys
            // would be shadowed by (or shadow) this one.
            if name.trim().is_empty() || name.trim() != name {
                bail!("key name {name:?}: give a non-empty name without surrounding spaces");
            }
            if name.starts_with("0x") || from_hex32(&name).is_ok() {
                bail!("key name {name}: it would be read as an address; choose another");
            }
            if (0..keys::DEV_KEYS).any(|i| format!("dev{i}") == name) {
                bail!("key name {name} is a well-known dev key's; choose another name");
            }
            let dev_file = dev_keys_file();
            if dev_file != ctx.keys && keys::load(&dev_file)?.iter().any(|e| e.name == name) {
                bail!(
                    "a key named {name} exists among the dev keys ({}); choose another name",
                    dev_file.display()
                );
            }
            let e = keys::update(&ctx.keys, |k| {
                if k.iter().any(|e| e.name == name) {
                    return Err(supervm_client::Error::Keys(format!(
                        "a key named {name} exists in {}",
                        ctx.keys.display()
                    )));
                }
                let e = KeyEntry::generate(&name);
                k.push(e.clone());
                Ok(e)
            })?;
            ctx.print(
                &json!({"name": e.name, "address": e.address, "file": ctx.keys}),
                || {
                    format!(
                        "{} {}\n(saved in {})",
                        e.name,
                        e.address,
                        ctx.keys.display()
                    )
                },
            );
        }
        KeysCmd::List => {
            let k = ctx.all_keys()?;
            let v: Vec<Value> = k
                .iter()
                .map(|e| json!({"name": e.name, "address": e.address}))
                .collect();
            ctx.print(&Value::Array(v), || {
                k.iter()
                    .map(|e| format!("{:<12} {}", e.name, e.address))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
