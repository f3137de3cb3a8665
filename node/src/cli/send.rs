//! Signing and sending a transaction, and what the CLI prints and exits with once it
//! is answered.

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value, json};
use supervm_client::keys::{self, KeyEntry};
use supervm_client::views::to_hex;
use supervm_client::{Client, TxBody, TxPayload};
use supervm_vm::Address;

use super::ctx::Ctx;
use super::exit::{Exit, coded};
use super::text::{event_lines, outcome_detail};

pub(super) async fn sign_and_send(
    ctx: &Ctx,
    c: &Client,
    from: &str,
    gas: u64,
    payload: TxPayload,
) -> Result<supervm_client::views::SubmitResult> {
    let key = ctx.key(from)?;
    let sk = key.signing_key()?;
    let sender = keys::address_of(&sk);
    let info = c.chain_info().await?;
    ctx.check_node_terms(info.chain_id, info.gas_price)?;
    dev_keys_sign_for_dev_chains(from, &key, info.chain_id)?;
    let acc = c.account(&sender).await?;
    let tx = TxBody {
        chain_id: info.chain_id,
        sender,
        // (counting the sender's pending transactions: two sends in a row both go in)
        nonce: acc.pending_nonce.unwrap_or(acc.nonce),
        gas_limit: gas,
        gas_price: info.gas_price,
        expiry_height: info.latest_height.unwrap_or(0) + 1_000,
        payload,
    }
    .sign(&sk);
    c.submit(&tx, true)
        .await
        .map_err(|e| submit_error(e, &to_hex(&tx.hash()), &format!("{from} ({})", key.address)))
}

/// Refuses to sign with a well-known dev key ([`keys::dev_key`]) for a chain other than
/// a dev chain: anyone can sign with it, so whatever it holds there is anyone's.
pub(super) fn dev_keys_sign_for_dev_chains(
    from: &str,
    key: &KeyEntry,
    chain_id: u64,
) -> Result<()> {
    if keys::is_dev_key(key) && chain_id != supervm_node::config::DEV_CHAIN_ID {
        bail!(
            "{from} is a well-known dev key (its secret is published): refusing to sign for \
             chain {chain_id}, which is not a dev chain; nothing was sent"
        );
    }
    Ok(())
}

/// A failed `tx.submit`. Unless the node refused the transaction outright, it may have
/// been admitted before the failure (the pipeline halted while the submission waited,
/// an internal error in the wait, a lost connection or a timeout) and may still commit:
/// the error names its hash, so the user checks before sending it again (a new send
/// takes the next nonce, and both would commit).
pub(super) fn submit_error(e: supervm_client::Error, hash: &str, signer: &str) -> anyhow::Error {
    use supervm_client::Error as E;
    let refused = match &e {
        // (-32029: halted, perhaps while waiting; -32603: internal error, perhaps in the
        // wait; -32001: timed out, perhaps after the admission; -32006: the call ran;
        // -32021: these very bytes are pending already, sent by another run)
        E::Rpc { code, .. } => ![-32029, -32603, -32001, -32006, -32021].contains(code),
        E::Malformed(_)
        | E::NonCanonicalSignature
        | E::BadSenderKey(_)
        | E::BadSignature
        | E::Keys(_) => true,
        E::Transport(_) => false,
    };
    if refused {
        // (naming the key: a name may stand for another key than the user thought)
        anyhow!(e).context(format!("transaction from {signer} refused"))
    } else if matches!(e, E::Rpc { code: -32021, .. }) {
        // (two runs at once read the same next nonce; with the same call, they signed
        // the same bytes)
        coded(
            Exit::NotCommitted,
            format!(
                "{e}\nan identical transaction {hash} (same sender, nonce and call) is already \
                 pending, sent by another run at the same moment or by an earlier attempt: this \
                 run added nothing, and it commits once. Check it with `supervm tx {hash}`; for \
                 a second, separate one, send again (it then takes the next nonce)"
            ),
        )
    } else {
        coded(
            Exit::NotCommitted,
            format!(
                "{e}\ntransaction {hash} may have been accepted and may still commit: check \
                 with `supervm tx {hash}` before sending it again"
            ),
        )
    }
}

/// The members of a receipt that [`sent_json`] carries, `null` until there is one.
const RECEIPT_MEMBERS: [&str; 12] = [
    "block_height",
    "index",
    "outcome",
    "revert_code",
    "revert_contract",
    "reason",
    "gas_used",
    "fee",
    "return_data",
    "events",
    "contract",
    "code_hash",
];

/// A sent transaction for scripts (`--json`), the same members for every command that
/// sends one (`transfer`, `contract upload`, `deploy`, `invoke`; each adds its own):
/// `hash`, `status`, and the receipt's members ([`RECEIPT_MEMBERS`]), `null` while it
/// has none (pending, dropped). `deploy` and `invoke` replace `events` by the events
/// decoded, each by its contract's interface (`{contract, event, topics, data}`);
/// `supervm tx` keeps the node's and adds `decoded` to each.
pub(super) fn sent_json(r: &supervm_client::views::SubmitResult) -> Result<Map<String, Value>> {
    let mut v = Map::new();
    v.insert("hash".into(), json!(r.hash));
    v.insert("status".into(), json!(r.status));
    let receipt = match &r.receipt {
        Some(x) => serde_json::to_value(x)?,
        None => json!({}),
    };
    for k in RECEIPT_MEMBERS {
        v.insert(k.into(), receipt.get(k).cloned().unwrap_or(Value::Null));
    }
    Ok(v)
}

/// Prints a submitted code transaction and what it made (`value`, e.g. the contract
/// address: JSON member `key`, and `label` for people), its events as `events` has
/// them decoded (if it has any), then [`committed_ok`].
pub(super) fn print_submitted(
    ctx: &Ctx,
    r: &supervm_client::views::SubmitResult,
    (key, label): (&str, &str),
    value: String,
    events: &[Value],
) -> Result<()> {
    let mut v = sent_json(r)?;
    v.insert(key.into(), json!(value));
    if !events.is_empty() {
        v.insert("events".into(), json!(events));
    }
    ctx.print(&Value::Object(v), || {
        let failed = r.receipt.as_ref().is_some_and(|x| x.outcome != "success");
        // (a deploy that failed deployed nothing at its address: another contract may
        // stand there, the reason says)
        let not_created = if failed && key == "address" {
            " (nothing deployed by this transaction)"
        } else {
            ""
        };
        let s = format!(
            "{} {}\n{label} {value}{not_created}{}",
            r.hash,
            r.status,
            r.receipt
                .as_ref()
                .map(|x| format!(
                    "\noutcome {}{} gas {}",
                    x.outcome,
                    outcome_detail(x),
                    x.gas_used
                ))
                .unwrap_or_default()
        );
        s + &event_lines(events)
    });
    committed_ok(r)
}

/// After the result is printed: an error (so a non-zero exit status for scripts) unless
/// the transaction committed with outcome success.
pub(super) fn committed_ok(r: &supervm_client::views::SubmitResult) -> Result<()> {
    match &r.receipt {
        Some(x) if x.outcome == "success" => Ok(()),
        Some(x) => Err(coded(
            Exit::Failed,
            format!(
                "transaction {} committed with outcome {}",
                r.hash, x.outcome
            ),
        )),
        None if r.status == "pending" => Err(coded(
            Exit::NotCommitted,
            format!(
                "transaction {} is not committed yet; check with `supervm tx {}`",
                r.hash, r.hash
            ),
        )),
        None => Err(coded(
            Exit::NotCommitted,
            format!("transaction {} {}", r.hash, r.status),
        )),
    }
}

pub(super) async fn transfer(ctx: &Ctx, from: &str, to: &str, amount: u128) -> Result<()> {
    let c = Client::new(&ctx.rpc);
    let to = ctx.address(to)?;
    // Native balance sent to a contract or to the zero address can never move again (no
    // host function spends a contract's native balance, and no key signs for zero).
    if to == Address([0; 32]) {
        bail!("refusing to send to the zero address: nothing could ever spend it");
    }
    if c.contract(&to).await?.is_some() {
        bail!(
            "refusing to send native balance to contract {}: contracts cannot spend it",
            to_hex(&to.0)
        );
    }
    // Nor to an address no key can sign for (the node refuses transactions from it).
    if let Err(e) = supervm_client::tx::sender_key(&to) {
        let why = match e {
            supervm_client::Error::BadSenderKey(w) => w.to_string(),
            other => other.to_string(),
        };
        bail!(
            "refusing to send to {}: it is not an account key ({why}), so nothing could \
             ever spend the balance",
            to_hex(&to.0)
        );
    }
    // (a native transfer uses exactly this much: a larger limit only reserved more of
    // the balance, so an account could not be emptied)
    let gas = supervm_node::config::NATIVE_TRANSFER_GAS;
    let r = sign_and_send(ctx, &c, from, gas, TxPayload::Transfer { to, amount }).await?;
    ctx.print(&Value::Object(sent_json(&r)?), || {
        format!("{} {}", r.hash, r.status)
    });
    committed_ok(&r)
}
