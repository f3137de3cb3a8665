//! `supervm contract`: upload, deploy, invoke and simulate (build is in `build`).

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use supervm_client::views::{from_hex, from_hex32, to_hex};
use supervm_client::{Client, DeployCode, TxPayload};
use supervm_node::abi_json;
use supervm_vm::Address;
use supervm_vm::interface::Interface;

use super::ContractCmd;
use super::build::build;
use super::calls::{
    encode_call, events_by_emitter, from_file, interface_of, revert_error, within_input_limit,
};
use super::ctx::Ctx;
use super::exit::{Exit, coded};
use super::send::{committed_ok, print_submitted, sent_json, sign_and_send};
use super::text::{error_line, event_lines, reason_line};

/// What to do about a validation error that comes from how the contract was built.
fn build_hint(e: &supervm_vm::CodeError) -> &'static str {
    let text = e.to_string();
    if matches!(e, supervm_vm::CodeError::TooLarge { .. }) {
        " (a debug build? `supervm contract build` builds it in release, stripped)"
    } else if text.contains("support is not enabled") {
        " (built for wasm32-unknown-unknown? contracts are MVP wasm: build for wasm32v1-none, \
         as `supervm contract build` does)"
    } else {
        ""
    }
}

/// A .wasm file's code, checked as the node will check it, and the interface the SDK
/// embedded in it (if any).
pub(super) fn read_wasm(wasm: &std::path::Path) -> Result<(Vec<u8>, Option<Interface>)> {
    let code = std::fs::read(wasm).with_context(|| format!("read {}", wasm.display()))?;
    if !code.starts_with(b"\0asm") {
        bail!(
            "{}: not a wasm module (it does not start with \\0asm): give the .wasm file \
             `supervm contract build` printed",
            wasm.display()
        );
    }
    let info = supervm_vm::validate::validate(&code, &supervm_vm::Limits::default())
        .map_err(|e| anyhow!("{}: {e}{}", wasm.display(), build_hint(&e)))?;
    let iface = info
        .interface
        .as_deref()
        .map(Interface::parse)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    Ok((code, iface))
}

pub(super) async fn contract_cmd(ctx: &Ctx, cmd: ContractCmd) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    match cmd {
        ContractCmd::Build { path } => build(ctx, &path),
        ContractCmd::Upload { wasm, from, gas } => {
            let code = read_wasm(&wasm)?.0;
            let hash = supervm_vm::code_hash(&code);
            ctx.key(&from)?;
            // (code is stored once by hash: uploading it again would only be charged)
            if let Some(stored) = c.code(&hash).await? {
                ctx.print(
                    &json!({"code_hash": to_hex(&hash), "already_stored": true, "hash": null, "status": "not_sent"}),
                    || {
                        format!(
                            "code hash {} is already stored ({} bytes): nothing was sent \
                             (deploy it with --code-hash)",
                            to_hex(&hash),
                            stored.size
                        )
                    },
                );
                return Ok(());
            }
            let r = sign_and_send(ctx, &c, &from, gas, TxPayload::Upload { code }).await?;
            print_submitted(ctx, &r, ("code_hash", "code hash"), to_hex(&hash), &[])
        }
        ContractCmd::Deploy {
            wasm,
            code_hash,
            from,
            init,
            salt,
            gas,
        } => {
            let init = from_file("--init", init)?;
            let (code, iface) = match (&wasm, &code_hash) {
                (Some(w), None) => {
                    let (code, iface) = read_wasm(w)?;
                    (DeployCode::Wasm(code), iface)
                }
                (None, Some(h)) => (
                    DeployCode::Hash(from_hex32(h).map_err(|e| anyhow!("--code-hash: {e}"))?),
                    None,
                ),
                _ => bail!("give the contract's .wasm file or --code-hash"),
            };
            let init_args = match (&iface, &init) {
                (Some(i), Some(s)) => {
                    let ctor = i.functions.iter().find(|f| f.constructor).ok_or_else(|| {
                        anyhow!("--init given but the contract has no constructor")
                    })?;
                    abi_json::encode_args(
                        abi_json::Types::of(i).with_names(&ctx.key_names()?),
                        ctor,
                        &abi_json::parse_strict(s).context("--init must be JSON")?,
                    )
                    .map_err(|e| anyhow!("constructor: {e}"))?
                }
                (None, Some(s)) => from_hex(s).map_err(|e| anyhow!("--init: {e}"))?,
                // No --init: a constructor that takes arguments is told so here, before
                // a deploy that could only fail on chain (and cost gas).
                (Some(i), None) => match i.functions.iter().find(|f| f.constructor) {
                    Some(ctor) => abi_json::encode_args(abi_json::Types::of(i), ctor, &json!({}))
                        .map_err(|e| {
                        anyhow!("constructor (give its arguments with --init): {e}")
                    })?,
                    None => vec![],
                },
                (None, None) => vec![],
            };
            within_input_limit(&init_args)?;
            let hash = match &code {
                DeployCode::Wasm(w) => supervm_vm::code_hash(w),
                DeployCode::Hash(h) => *h,
            };
            let explicit_salt = salt.is_some();
            let salt = match salt {
                Some(s) => from_hex32(&s)
                    .map_err(|e| anyhow!("--salt: {e} (a salt is 32 bytes: 64 hex digits)"))?,
                // (the code's hash: the same address from the file or from its hash)
                None => hash,
            };
            let sender = ctx.key(&from)?.address()?;
            let addr = supervm_vm::contract_address(&sender, &salt);
            // (a deploy to a taken address can only fail on chain, after paying for it)
            if c.contract(&addr).await?.is_some() {
                bail!(
                    "a contract already exists at {} (the address follows from the deploying \
                     key and the salt{}): give another --salt to deploy a new instance; \
                     nothing was sent",
                    to_hex(&addr.0),
                    if explicit_salt {
                        ""
                    } else {
                        ", by default the code's hash"
                    }
                );
            }
            // Code already stored deploys by its hash: the same contract, without paying
            // to send and store the code again. Code asked for by a hash nothing stored
            // could only fail on chain.
            let stored = c.code(&hash).await?.is_some();
            let code = match code {
                DeployCode::Hash(_) if !stored => bail!(
                    "no code with hash {} is stored (upload it first: `supervm contract \
                     upload FILE`); nothing was sent",
                    to_hex(&hash)
                ),
                DeployCode::Wasm(_) if stored => {
                    if !ctx.json {
                        eprintln!("(this code is already stored: deploying it by its hash)");
                    }
                    DeployCode::Hash(hash)
                }
                code => code,
            };
            let r = sign_and_send(
                ctx,
                &c,
                &from,
                gas,
                TxPayload::Deploy {
                    code,
                    salt,
                    init_args,
                },
            )
            .await?;
            // (the constructor's events, and those of contracts it called, decoded)
            let events = match &r.receipt {
                Some(x) => events_by_emitter(&c, None, &x.events).await,
                None => Vec::new(),
            };
            print_submitted(
                ctx,
                &r,
                ("address", "contract address"),
                to_hex(&addr.0),
                &events,
            )
        }
        ContractCmd::Invoke {
            address,
            function,
            args,
            from,
            gas,
        } => {
            let args = from_file("--args", args)?;
            let a = ctx.address(&address)?;
            let i = interface_of(&c, &a).await?;
            let (bytes, returns) = encode_call(ctx, &i, &function, args.as_deref())?;
            let r = sign_and_send(
                ctx,
                &c,
                &from,
                gas,
                TxPayload::Call {
                    contract: a,
                    function: function.clone(),
                    args: bytes,
                },
            )
            .await?;
            let rec = r.receipt.clone();
            let result = rec.as_ref().and_then(|x| {
                if x.outcome == "success" {
                    abi_json::decode_all(
                        abi_json::Types::of(&i),
                        &returns,
                        &from_hex(&x.return_data).ok()?,
                    )
                    .ok()
                } else {
                    None
                }
            });
            let code = rec.as_ref().and_then(|x| x.revert_code);
            let reverter = rec.as_ref().and_then(|x| x.revert_contract.as_deref());
            let called = (&i, &a, function.as_str());
            let (error, reverted_in) = revert_error(&c, called, code, reverter).await;
            let events = match &rec {
                Some(x) => events_by_emitter(&c, Some((&a, &i)), &x.events).await,
                None => Vec::new(),
            };
            let reason = rec.as_ref().and_then(|x| x.reason.clone());
            // (the members every sent transaction has, its events decoded)
            let mut v = sent_json(&r)?;
            v.insert("events".into(), json!(events));
            v.insert("result".into(), json!(result));
            v.insert("error".into(), json!(error));
            v.insert("reverted_in".into(), json!(reverted_in));
            ctx.print(&Value::Object(v), || {
                let mut s = format!("{} {}", r.hash, r.status);
                if let Some(x) = &rec {
                    s += &format!("\noutcome {} gas {} fee {}", x.outcome, x.gas_used, x.fee);
                    if let Some(res) = &result {
                        s += &format!("\nresult {res}");
                    }
                    s += &error_line(&error, &reverted_in);
                    s += &reason_line(&reason);
                    s += &event_lines(&events);
                }
                s
            });
            committed_ok(&r)
        }
        ContractCmd::Simulate {
            address,
            function,
            args,
            from,
            gas,
            height,
        } => {
            let args = from_file("--args", args)?;
            let a = ctx.address(&address)?;
            let sender = from
                .map(|f| ctx.address(&f))
                .transpose()?
                .unwrap_or(Address([0; 32]));
            let i = interface_of(&c, &a).await?;
            let (bytes, returns) = encode_call(ctx, &i, &function, args.as_deref())?;
            let call = (&sender, &a, function.as_str(), bytes.as_slice());
            let r = c.simulate_with(call, gas, height).await?;
            let result = (r.outcome == "success")
                .then(|| {
                    abi_json::decode_all(
                        abi_json::Types::of(&i),
                        &returns,
                        &from_hex(&r.return_data).ok()?,
                    )
                    .ok()
                })
                .flatten();
            let called = (&i, &a, function.as_str());
            let reverter = r.revert_contract.as_deref();
            let (error, reverted_in) = revert_error(&c, called, r.revert_code, reverter).await;
            let events = events_by_emitter(&c, Some((&a, &i)), &r.events).await;
            let v = json!({"outcome": r.outcome, "gas_used": r.gas_used, "return_data": r.return_data, "result": result, "revert_code": r.revert_code, "error": error, "reverted_in": reverted_in, "reason": r.reason, "events": events, "logs": r.logs, "access_list": r.access_list, "height": r.height});
            ctx.print(&v, || {
                let mut s = format!("outcome {} gas {}", r.outcome, r.gas_used);
                if let Some(res) = &result {
                    s += &format!("\nresult {res}");
                }
                s += &error_line(&error, &reverted_in);
                s += &reason_line(&r.reason);
                s += &event_lines(&events);
                for l in &r.logs {
                    s += &format!("\nlog {l}");
                }
                s += &format!(
                    "\nreads {} keys, writes {} keys",
                    r.access_list.reads.len(),
                    r.access_list.writes.len()
                );
                s
            });
            // (as `invoke` does: a script can use a simulation as a dry-run guard)
            if r.outcome != "success" {
                return Err(coded(
                    Exit::Failed,
                    format!("the simulated call ended with outcome {}", r.outcome),
                ));
            }
            Ok(())
        }
    }
}
