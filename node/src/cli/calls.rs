//! Contract calls by name: arguments encoded, results, reverts and events decoded
//! with the interface the SDK embeds in the wasm.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use supervm_client::Client;
use supervm_client::views::{from_hex, from_hex32, to_hex};
use supervm_node::abi_json;
use supervm_vm::Address;
use supervm_vm::interface::Interface;

use super::ctx::Ctx;
use super::text::reserved_code_name;

/// A `--topic` that takes any value (`_`, `any`: `Some(None)`) or gives the bytes in
/// hex (`Some(Some(bytes))`); `None` for any other text.
fn any_or_hex(t: &str) -> Result<Option<Option<Vec<u8>>>> {
    match t {
        "_" | "any" => Ok(Some(None)),
        _ if t.starts_with("0x") => from_hex(t)
            .map(|b| Some(Some(b)))
            .map_err(|e| anyhow!("--topic {t}: {e}")),
        _ => Ok(None),
    }
}

/// One `--topic` of `supervm events`: `_` or `any` takes any value, `0x…` is hex,
/// `TYPE:VALUE` is VALUE encoded as the contract's topic field of that type is (`u64:5`,
/// `String:USDC`, `Address:alice` or `Address:0x…`, `bool:true`), other text stands for
/// its bytes (an event name: the first topic is the name as it is).
pub(super) fn topic_filter(ctx: &Ctx, t: &str) -> Result<Option<Vec<u8>>> {
    if let Some(f) = any_or_hex(t)? {
        return Ok(f);
    }
    match t.split_once(':') {
        Some((ty, value)) => typed_topic(ctx, abi_json::Types::NONE, ty, value, t).map(Some),
        None => Ok(Some(t.as_bytes().to_vec())),
    }
}

/// The event a `supervm events` filter names first, when the filtered contract's
/// interface declares it: its topic fields are then typed ([`topic_filters`]). A name
/// it does not declare (an event emitted through `env::emit_event` has none) is
/// searched for as it is, with a warning.
pub(super) fn declared_event<'i>(
    i: &'i Interface,
    topics: &[String],
) -> Option<&'i supervm_vm::interface::EventDef> {
    let name = topics.first()?;
    // (`_`, hex or a typed value: no name to look up)
    let typed = name
        .split_once(':')
        .is_some_and(|(ty, _)| is_type_name(abi_json::Types::of(i), ty));
    if typed || matches!(any_or_hex(name), Ok(Some(_))) {
        return None;
    }
    let found = i.events.iter().find(|e| &e.name == name);
    if found.is_none() {
        eprintln!(
            "warning: contract {} declares no event {name} (it declares: {}); searching for \
             the name as it is, with the other topics untyped",
            i.name,
            i.events
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    found
}

/// The `--topic`s of `supervm events`, typed by `event` (the event the first names, as
/// the filtered contract's interface `i` declares it: [`declared_event`]) when there is
/// one: a field's value then needs no `TYPE:` (`--topic Deposited --topic alice --topic
/// 5`; a `TYPE:` prefix is read as one only when it names a type), a `TYPE:` other than
/// the field's is refused instead of matching nothing, and so are more topics than the
/// event has. Without it, each as [`topic_filter`] reads it.
pub(super) fn topic_filters(
    ctx: &Ctx,
    topics: &[String],
    event: Option<(&Interface, &supervm_vm::interface::EventDef)>,
) -> Result<Vec<Option<Vec<u8>>>> {
    let Some((i, event)) = event else {
        return topics.iter().map(|t| topic_filter(ctx, t)).collect();
    };
    if topics.len() > event.topics.len() + 1 {
        bail!(
            "--topic: event {} has {} topic field{} ({}), {} given after its name",
            event.name,
            event.topics.len(),
            if event.topics.len() == 1 { "" } else { "s" },
            event
                .topics
                .iter()
                .map(|f| format!("{}: {}", f.name, f.ty))
                .collect::<Vec<_>>()
                .join(", "),
            topics.len() - 1
        );
    }
    let types = abi_json::Types::of(i);
    let mut out = vec![topic_filter(ctx, &topics[0])?];
    for (t, field) in topics[1..].iter().zip(&event.topics) {
        if let Some(f) = any_or_hex(t)? {
            out.push(f);
            continue;
        }
        let typed = t.split_once(':').filter(|(ty, _)| is_type_name(types, ty));
        let f = match typed {
            Some((ty, _)) if ty != field.ty => bail!(
                "--topic {t}: {}'s topic field `{}` is a {}, not a {ty} (it would match \
                 nothing; give the value alone, or {}:{t} for a value that begins so)",
                event.name,
                field.name,
                field.ty,
                field.ty
            ),
            Some((ty, value)) => typed_topic(ctx, types, ty, value, t)?,
            None => typed_topic(ctx, types, &field.ty, t, t)?,
        };
        out.push(Some(f));
    }
    Ok(out)
}

/// Whether `ty` names a type the JSON forms know: a builtin one, or one built of them
/// and of the types the interface describes ([`abi_json::undescribed`]).
fn is_type_name(types: abi_json::Types<'_>, ty: &str) -> bool {
    abi_json::undescribed(types, ty).is_none()
}

/// `value` encoded as a topic field of type `ty` (`t`: the flag as given, for errors).
fn typed_topic(
    ctx: &Ctx,
    types: abi_json::Types<'_>,
    ty: &str,
    value: &str,
    t: &str,
) -> Result<Vec<u8>> {
    let v = match ty {
        // (integers as text: all of a u128 parses, where JSON numbers lose it)
        "String" | "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64"
        | "i128" => Value::String(value.into()),
        "Address" => Value::String(to_hex(&ctx.address(value)?.0)),
        _ => serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into())),
    };
    let mut out = Vec::new();
    abi_json::encode_value(types, ty, &v, &mut out)
        .map_err(|e| anyhow!("--topic {t}: {e} (give other bytes as 0x-hex)"))?;
    Ok(out)
}

/// A revert's error name (`None` unless the call reverted with `code`), and the
/// reverting contract (hex) when it is not the called one. The called function's error type names the code when the called contract
/// reverted (or the node did not say which did), else by any error type of its
/// interface; another contract's code is named by that contract's interface (see
/// [`Interface::error_name_any`]); the SDK's reserved codes by their names. `?` when
/// nothing names it.
pub(super) async fn revert_error(
    c: &Client,
    called: (&Interface, &Address, &str),
    code: Option<u32>,
    reverter: Option<&str>,
) -> (Option<String>, Option<String>) {
    let Some(code) = code else {
        return (None, None);
    };
    let (i, address, function) = called;
    let other = reverter
        .and_then(|r| from_hex32(r).ok())
        .map(Address)
        .filter(|a| a != address);
    if let Some(reserved) = reserved_code_name(code) {
        return (Some(reserved.to_string()), other.map(|a| to_hex(&a.0)));
    }
    let Some(other) = other else {
        let name = i.revert_name(Some(function), code);
        return (Some(name.unwrap_or("?").to_string()), None);
    };
    let name = match interface_of(c, &other).await {
        Ok(oi) => oi.revert_name(None, code).unwrap_or("?").to_string(),
        Err(_) => "?".to_string(),
    };
    (Some(name), Some(to_hex(&other.0)))
}

pub(super) async fn interface_of(c: &Client, address: &Address) -> Result<Interface> {
    let view = c
        .contract(address)
        .await?
        .ok_or_else(|| anyhow!("no contract at {}", to_hex(&address.0)))?;
    let i = view.interface.ok_or_else(|| {
        anyhow!(
            "the contract's code embeds no interface, which the CLI needs to encode arguments by \
             name (contracts built with the SDK's #[contract] embed one); call it through the \
             client library or JSON-RPC with codec-encoded arguments instead"
        )
    })?;
    Ok(serde_json::from_value(i)?)
}

/// An argument flag's text, read from a file when it is `@PATH` (`@-`: standard
/// input): arguments too large for a command line (Linux takes at most 128 KiB per
/// argument: 64 KiB of arguments in hex is more). Surrounding whitespace is dropped.
pub(super) fn from_file(flag: &str, text: Option<String>) -> Result<Option<String>> {
    let Some(path) = text.as_deref().and_then(|t| t.strip_prefix('@')) else {
        return Ok(text);
    };
    let read = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    let s = read.with_context(|| format!("{flag} @{path}: cannot read it"))?;
    Ok(Some(s.trim().to_string()))
}

pub(super) fn encode_call(
    ctx: &Ctx,
    i: &Interface,
    function: &str,
    args: Option<&str>,
) -> Result<(Vec<u8>, String)> {
    // (a constructor runs only at deploy: a call of it is invalid on chain)
    let f = i
        .function(function)
        .filter(|f| !f.constructor)
        .ok_or_else(|| {
            anyhow!(
                "{} has no {}function {function}; it has: {}",
                i.name,
                if i.function(function).is_some() {
                    "callable "
                } else {
                    ""
                },
                i.functions
                    .iter()
                    .filter(|f| !f.constructor)
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .map_err(|e| {
            if i.function(function).is_some_and(|f| f.constructor) {
                e.context(format!(
                    "{function} is the constructor: it runs only at deploy (`deploy --init`)"
                ))
            } else {
                e
            }
        })?;
    // (the arguments already encoded: for types the interface cannot describe by name)
    if let Some(hex) = args.map(str::trim).filter(|s| s.starts_with("0x")) {
        let bytes = from_hex(hex).map_err(|e| anyhow!("--args {hex}: {e}"))?;
        within_input_limit(&bytes)?;
        return Ok((bytes, f.returns.clone()));
    }
    let args: Value = match args {
        None => json!({}),
        Some(s) => abi_json::parse_strict(s)
            .context("--args must be JSON (or 0x-hex of the encoded arguments)")?,
    };
    let names = ctx.key_names()?;
    let bytes = abi_json::encode_args(abi_json::Types::of(i).with_names(&names), f, &args)
        .map_err(|e| anyhow!("{function}: {e}"))?;
    within_input_limit(&bytes)?;
    Ok((bytes, f.returns.clone()))
}

/// Encoded arguments the VM takes: at most `MAX_INPUT_LEN` bytes (a node refuses more,
/// -32031; said here before anything is sent).
pub(super) fn within_input_limit(bytes: &[u8]) -> Result<()> {
    let limit = supervm_vm::abi::limits::MAX_INPUT_LEN as usize;
    if bytes.len() > limit {
        return Err(anyhow!(
            "the arguments encode to {} bytes, over the VM's limit of {limit} (MAX_INPUT_LEN); \
             nothing was sent",
            bytes.len()
        ));
    }
    Ok(())
}

/// `events` decoded, each by the interface of the contract that emitted it (`known`:
/// one already at hand, e.g. the called contract's; the others fetched once each), raw
/// where a contract has none. A call's events include those of the contracts it
/// called, whose event names and fields are their own.
pub(super) async fn events_by_emitter(
    c: &Client,
    known: Option<(&Address, &Interface)>,
    events: &[supervm_client::views::EventView],
) -> Vec<Value> {
    let mut ifaces: std::collections::BTreeMap<String, Option<Interface>> = Default::default();
    if let Some((a, i)) = known {
        ifaces.insert(to_hex(&a.0), Some(i.clone()));
    }
    for e in events {
        if !ifaces.contains_key(&e.contract) {
            let i = match from_hex32(&e.contract) {
                Ok(a) => interface_of(c, &Address(a)).await.ok(),
                Err(_) => None,
            };
            ifaces.insert(e.contract.clone(), i);
        }
    }
    events
        .iter()
        .map(|e| {
            let i = ifaces.get(&e.contract).and_then(Option::as_ref);
            decoded_events(i, std::slice::from_ref(e))
                .pop()
                .unwrap_or(Value::Null)
        })
        .collect()
}

pub(super) fn decoded_events(
    i: Option<&Interface>,
    events: &[supervm_client::views::EventView],
) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let name = e
                .topics
                .first()
                .and_then(|t| String::from_utf8(from_hex(t).ok()?).ok());
            let def = i.and_then(|i| i.events.iter().find(|d| Some(&d.name) == name.as_ref()));
            let types = i.map_or(abi_json::Types::NONE, abi_json::Types::of);
            let data = def
                .and_then(|d| abi_json::decode_fields(types, &d.data, &from_hex(&e.data).ok()?).ok())
                .unwrap_or_else(|| json!(e.data));
            let topics: Vec<Value> = match def {
                Some(d) => d
                    .topics
                    .iter()
                    .zip(e.topics.iter().skip(1))
                    .map(|(f, t)| {
                        let b = from_hex(t).unwrap_or_default();
                        json!({ &f.name: abi_json::decode_all(types, &f.ty, &b).unwrap_or(json!(t)) })
                    })
                    .collect(),
                None => e.topics.iter().map(|t| json!(t)).collect(),
            };
            json!({"contract": e.contract, "event": name, "topics": topics, "data": data})
        })
        .collect()
}
