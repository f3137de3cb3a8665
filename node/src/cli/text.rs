//! Receipts, outcomes and topics as text for people.

use supervm_client::views::from_hex;

/// What a failed receipt says beyond its outcome, for people: a revert's code (named when
/// it is one of the SDK's reserved codes) and the contract that reverted, or a trap's or
/// an invalid transaction's reason (empty on success).
pub(super) fn outcome_detail(x: &supervm_client::views::ReceiptView) -> String {
    let mut s = String::new();
    if let Some(code) = x.revert_code {
        s += &format!(" (code {code}");
        if let Some(name) = reserved_code_name(code) {
            s += &format!(" {name}");
        }
        if let Some(c) = &x.revert_contract {
            s += &format!(" in contract {c}");
        }
        s += ")";
    }
    if let Some(reason) = &x.reason {
        s += &format!(": {reason}");
    }
    s
}

/// A receipt for people (`--json` prints it whole), its events as `decoded` has them
/// (one per event, by its contract's interface) where it has them all.
pub(super) fn receipt_text(
    x: &supervm_client::views::ReceiptView,
    decoded: &[serde_json::Value],
) -> String {
    let mut s = format!(
        "block {} index {}
outcome {}",
        x.block_height, x.index, x.outcome
    );
    s += &outcome_detail(x);
    s += &format!(
        "
gas {} fee {}",
        x.gas_used, x.fee
    );
    if let Some(c) = &x.contract {
        s += &format!(
            "
contract {c}"
        );
    }
    if x.return_data != "0x" && !x.return_data.is_empty() {
        s += &format!(
            "
return {}",
            x.return_data
        );
    }
    if decoded.len() == x.events.len() {
        return s + &event_lines(decoded);
    }
    for e in &x.events {
        s += &format!(
            "
event {} topics [{}] data {}",
            e.contract,
            e.topics.join(", "),
            e.data
        );
    }
    s
}

/// Decoded events for people, one `event {json}` line each (each after a newline).
pub(super) fn event_lines(events: &[serde_json::Value]) -> String {
    events.iter().map(|e| format!("\nevent {e}")).collect()
}

/// The `error` line of a failed call for people: the error's name, and the contract
/// that reverted when it is not the called one (empty when the call did not revert).
pub(super) fn error_line(error: &Option<String>, reverted_in: &Option<String>) -> String {
    match (error, reverted_in) {
        (None, _) => String::new(),
        (Some(e), None) => format!("\nerror {e}"),
        (Some(e), Some(c)) => format!("\nerror {e} (reverted in contract {c})"),
    }
}

/// The `reason` line of a trapped or invalid call for people (empty for other outcomes):
/// a trap's reason names the contract whose frame trapped.
pub(super) fn reason_line(reason: &Option<String>) -> String {
    reason.as_ref().map_or_else(String::new, |r| {
        if r.ends_with(supervm_vm::UNREACHABLE_TRAP) {
            format!("\nreason {r} ({})", supervm_vm::UNREACHABLE_HINT)
        } else {
            format!("\nreason {r}")
        }
    })
}

/// The SDK's reserved revert codes by name (see `supervm_abi::BAD_INPUT`).
pub(super) fn reserved_code_name(code: u32) -> Option<&'static str> {
    match code {
        supervm_abi::BAD_INPUT => Some("BAD_INPUT (the arguments did not decode)"),
        supervm_abi::BAD_RESULT => Some("BAD_RESULT (a called contract's result did not decode)"),
        supervm_abi::BAD_STORAGE => Some("BAD_STORAGE (a stored value did not decode)"),
        _ => None,
    }
}

pub(super) fn topic_text(topics: &[String]) -> String {
    topics
        .iter()
        .map(|t| {
            let b = from_hex(t).unwrap_or_default();
            match std::str::from_utf8(&b) {
                Ok(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()) => s.to_string(),
                _ => t.clone(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
