//! The read-only commands: `tx`, `block`, `events`, `account` and `storage`.

use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use supervm_client::views::{from_hex, from_hex32, to_hex};
use supervm_client::{Client, EventFilter, SignedTx, TxPayload};

use super::calls::{declared_event, events_by_emitter, interface_of, revert_error, topic_filters};
use super::ctx::Ctx;
use super::exit::{Exit, coded};
use super::send::committed_ok;
use super::text::{error_line, receipt_text, topic_text};

/// `supervm tx HASH`: printed either way; the exit status says whether it committed
/// and succeeded.
pub(super) async fn tx(ctx: &Ctx, hash: &str) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    let t = c.tx(&from_hex32(hash).map_err(|e| anyhow!(e))?).await?;
    // (each event decoded by its contract's interface, as `supervm events` adds it)
    let decoded = match &t.receipt {
        Some(r) => events_by_emitter(&c, None, &r.events).await,
        None => Vec::new(),
    };
    let (error, reverted_in) = tx_revert_error(&c, &t).await;
    let mut v = serde_json::to_value(&t)?;
    if let Some(events) = v["receipt"]["events"].as_array_mut() {
        for (e, d) in events.iter_mut().zip(&decoded) {
            e["decoded"] = d.clone();
        }
    }
    if let Some(r) = v["receipt"].as_object_mut() {
        r.insert("error".into(), json!(error));
        r.insert("reverted_in".into(), json!(reverted_in));
    }
    ctx.print(&v, || {
        let mut s = format!("{} {}", t.hash, t.status);
        if let Some(r) = &t.receipt {
            s += &format!("\n{}", receipt_text(r, &decoded));
            s += &error_line(&error, &reverted_in);
        }
        s
    });
    committed_ok(&supervm_client::views::SubmitResult {
        hash: t.hash.clone(),
        status: t.status.clone(),
        receipt: t.receipt.clone(),
    })
}

/// A committed call's revert named as `invoke` names it (the called function's error
/// type, or the reverting contract's interface), from the transaction's own encoding.
/// `(None, None)` for other outcomes and transactions, or without an interface.
async fn tx_revert_error(
    c: &Client,
    t: &supervm_client::views::TxView,
) -> (Option<String>, Option<String>) {
    let Some(r) = &t.receipt else {
        return (None, None);
    };
    let call = t
        .raw
        .as_deref()
        .and_then(|raw| from_hex(raw).ok())
        .and_then(|b| SignedTx::decode(&b).ok());
    let Some(TxPayload::Call {
        contract, function, ..
    }) = call.map(|tx| tx.body.payload)
    else {
        return (None, None);
    };
    if r.revert_code.is_none() {
        return (None, None);
    }
    // (without an interface the SDK's reserved codes and the reverting contract are
    // still named)
    let i = interface_of(c, &contract).await.unwrap_or_default();
    let called = (&i, &contract, function.as_str());
    revert_error(c, called, r.revert_code, r.revert_contract.as_deref()).await
}

/// `supervm block [ID]`: by height or hash, the latest without one.
pub(super) async fn block(ctx: &Ctx, id: Option<&str>) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    let b = match id {
        None => c.block(None).await?,
        Some(h) if h.starts_with("0x") => {
            from_hex32(h).map_err(|e| anyhow!("block hash {h}: {e}"))?;
            c.block_by_hash(h).await?
        }
        Some(h) => {
            c.block(Some(h.parse().map_err(|_| {
                anyhow!("block: {h} is neither a height nor a 0x-hex block hash")
            })?))
            .await?
        }
    };
    // (as `tx` does for an unknown hash: a script can tell a missing block; for people
    // the error says it, once)
    let Some(b) = b else {
        if ctx.json {
            ctx.print(&Value::Null, String::new);
        }
        return Err(coded(Exit::NotCommitted, "no such block"));
    };
    let v = serde_json::to_value(&b)?;
    ctx.print(&v, || {
        format!(
            "block {} {}\n  parent {}\n  state root {}\n  {} transactions, gas {}, time {}",
            b.height, b.hash, b.parent_hash, b.state_root, b.tx_count, b.gas_used, b.timestamp_ms
        )
    });
    Ok(())
}

/// The filter flags of `supervm events`.
#[derive(clap::Args, Debug)]
pub(super) struct EventsArgs {
    /// Contract address.
    #[arg(long)]
    contract: Option<String>,
    /// Required topic, per position in order (repeat the flag: the first is the event
    /// name, then each topic field): the name as text; a field as TYPE:VALUE, encoded
    /// as the contract encodes it (`u64:5`, `String:USDC`, `Address:alice`), or as
    /// 0x-hex of the encoded bytes; `_` or `any` takes any value in its position. With
    /// --contract, the fields of an event its interface declares need no TYPE:
    /// (`--topic Transfer --topic alice`).
    #[arg(long)]
    topic: Vec<String>,
    /// Lowest height.
    #[arg(long)]
    from: Option<u64>,
    /// Highest height.
    #[arg(long)]
    to: Option<u64>,
    /// Page size, 1 to 1000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    limit: u16,
    /// Cursor from a previous page.
    #[arg(long)]
    cursor: Option<String>,
}

/// `supervm events`: one page of events matching the filter.
pub(super) async fn events(ctx: &Ctx, a: EventsArgs) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    let contract = a.contract.map(|c| ctx.address(&c)).transpose()?;
    // The filtered contract's interface types the topics after an event name it
    // declares.
    let iface = match &contract {
        Some(addr) => interface_of(&c, addr).await.ok(),
        None => None,
    };
    let event = iface
        .as_ref()
        .and_then(|i| Some((i, declared_event(i, &a.topic)?)));
    let filter = EventFilter {
        contract,
        topics: topic_filters(ctx, &a.topic, event)?,
        from_height: a.from,
        to_height: a.to,
        cursor: a.cursor,
        limit: Some(a.limit.into()),
    };
    let page = c.events_filtered(&filter).await?;
    // Each event decoded by its contract's interface, as `invoke` decodes its events;
    // raw where there is none.
    let known = contract.as_ref().zip(iface.as_ref());
    let decoded = events_by_emitter(&c, known, &page.events).await;
    let mut v = serde_json::to_value(&page)?;
    if let Some(events) = v["events"].as_array_mut() {
        for (e, d) in events.iter_mut().zip(&decoded) {
            e["decoded"] = d.clone();
        }
    }
    ctx.print(&v, || {
        let mut s: Vec<String> = page
            .events
            .iter()
            .zip(&decoded)
            .map(|(e, d)| {
                let what = match d["event"].as_str() {
                    // (decoded: the name, each topic field, the data)
                    Some(name)
                        if d["topics"]
                            .as_array()
                            .is_some_and(|t| t.iter().all(Value::is_object)) =>
                    {
                        let mut w = vec![name.to_string()];
                        for t in d["topics"].as_array().into_iter().flatten() {
                            for (k, v) in t.as_object().into_iter().flatten() {
                                w.push(format!("{k}={}", plain(v)));
                            }
                        }
                        if !d["data"].is_null() {
                            w.push(plain(&d["data"]));
                        }
                        w.join(" ")
                    }
                    _ => topic_text(&e.topics),
                };
                format!(
                    "{}:{}:{} {} {what}",
                    e.block_height, e.tx_index, e.event_index, e.contract
                )
            })
            .collect();
        if let Some(c) = &page.next_cursor {
            s.push(format!("(more: --cursor {c})"));
        }
        if s.is_empty() {
            s.push("no events match".into());
        }
        s.join("\n")
    });
    Ok(())
}

/// A JSON value for people: a string without its quotes.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `supervm account`: nonce and balance, latest or after block `height`.
pub(super) async fn account(ctx: &Ctx, address: &str, height: Option<u64>) -> Result<()> {
    let a = ctx.address(address)?;
    let c = Client::new(&ctx.rpc);
    let acc = match height {
        Some(h) => c.account_at(&a, h).await?,
        None => c.account(&a).await?,
    };
    let v = serde_json::to_value(&acc)?;
    ctx.print(&v, || {
        format!(
            "{}\n  nonce {}\n  balance {}",
            acc.address, acc.nonce, acc.balance
        )
    });
    Ok(())
}

/// `supervm storage`: a contract's raw value under its own key.
pub(super) async fn storage(
    ctx: &Ctx,
    contract: &str,
    key: &str,
    height: Option<u64>,
) -> Result<()> {
    let a = ctx.address(contract)?;
    let k = from_hex(key).map_err(|e| {
        anyhow!("storage key {key}: {e} (give the contract's own key as hex: b\"total\" is 0x746f74616c)")
    })?;
    let value = Client::new(&ctx.rpc).storage(&a, &k, height).await?;
    let hex = value.as_deref().map(to_hex);
    let v = serde_json::to_value(&hex)?;
    ctx.print(&v, || hex.unwrap_or_else(|| "not found".into()));
    Ok(())
}
