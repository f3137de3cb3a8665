//! The OpenRPC document's result schemas describe what the methods answer: every
//! method is called on a live node (a token deployed, transfers made) and its answer
//! checked against the schema `rpc.discover` gives for it.

use serde_json::{Value, json};
use supervm_abi::Encode;
use supervm_client::Client;
use supervm_client::keys::address_of;
use supervm_client::views::to_hex;
use supervm_vm::contract_address;

use crate::support::{deploy_token, dev_keys, start, transfer, wait_mempool_empty};

/// Checks `v` against `schema` (the subset of JSON Schema the views' generated
/// schemas use: `type`, `properties`, `required`, `items`, `anyOf`, `oneOf`, `enum`,
/// `const`, `minimum`, `maximum`; any other keyword, `$ref` included, is an error, as
/// the document inlines everything). Stricter than JSON Schema in one way: a member
/// the schema's `properties` do not name is an error (a field the view lacks).
fn check(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: no value is allowed")),
        Value::Object(s) => s,
        other => return Err(format!("{at}: not a schema: {other}")),
    };
    // (a keyword this checker does not know would go unchecked: refused instead)
    const KNOWN: [&str; 14] = [
        "type",
        "properties",
        "required",
        "items",
        "anyOf",
        "oneOf",
        "enum",
        "const",
        "minimum",
        "maximum",
        "format",
        "title",
        "description",
        "default",
    ];
    if let Some(k) = s.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "{at}: the schema uses {k}, which this check does not know"
        ));
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |ty: &str| match ty {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "string" => v.is_string(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: {v} is not of type {t}"));
        }
    }
    for (key, want) in [("minimum", true), ("maximum", false)] {
        if let (Some(bound), Some(x)) = (s.get(key).and_then(Value::as_f64), v.as_f64())
            && (if want { x < bound } else { x > bound })
        {
            return Err(format!("{at}: {x} is past the {key} {bound}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{at}: {v} is not {c}"));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let fits = alts.iter().filter(|a| check(a, v, at).is_ok()).count();
            if fits == 0 || (key == "oneOf" && fits > 1) {
                return Err(format!("{at}: {v} fits {fits} of the {key} alternatives"));
            }
        }
    }
    if let Some(o) = v.as_object() {
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !o.contains_key(r) {
                    return Err(format!("{at}: required member {r} is missing"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(ps, x, &format!("{at}.{k}"))?,
                // (a member the schema does not name is a view field it lacks)
                None if props.is_some() => {
                    return Err(format!("{at}: member {k} is not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_fits_its_documented_schema() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let keys = dev_keys(dir.path());
    let alice = &keys[0];
    let a = address_of(alice);
    let salt = [3; 32];
    let deploy = deploy_token(alice, 0, salt);
    let token = contract_address(&a, &salt);
    let sent: Value = c
        .call(
            "tx.submit",
            json!({"tx": to_hex(&deploy.encode()), "wait": true}),
        )
        .await
        .unwrap();
    let pay = transfer(alice, 1, address_of(&keys[1]), 5);
    let batch: Value = c
        .call(
            "tx.submit_batch",
            json!({"txs": [to_hex(&pay.encode()), "0x00"]}),
        )
        .await
        .unwrap();
    wait_mempool_empty(&node).await;
    let doc: Value = c.call("rpc.discover", json!([])).await.unwrap();
    let schema_of = |method: &str| {
        doc["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == method)
            .unwrap_or_else(|| panic!("{method} is not in the document"))["result"]["schema"]
            .clone()
    };
    let hash = to_hex(&deploy.hash());
    let balance_args = to_hex(&(a,).encode());
    let mut answers: Vec<(&str, Value)> = vec![("tx.submit", sent), ("tx.submit_batch", batch)];
    for (method, params) in [
        ("chain.info", json!({})),
        ("chain.health", json!({})),
        ("tx.get", json!({"hash": hash})),
        ("tx.get", json!({"hash": to_hex(&[9; 32])})),
        ("tx.receipt", json!({"hash": hash})),
        ("tx.receipt", json!({"hash": to_hex(&[9; 32])})),
        (
            "tx.simulate",
            json!({"sender": to_hex(&a.0), "contract": to_hex(&token.0), "function": "balance", "args": balance_args}),
        ),
        (
            "tx.simulate",
            json!({"sender": to_hex(&a.0), "contract": to_hex(&token.0), "function": "nope"}),
        ),
        ("block.get", json!({"height": 1})),
        ("block.get", json!({"height": 999_999})),
        ("block.latest", json!({})),
        ("account.get", json!({"address": to_hex(&a.0)})),
        ("account.get", json!({"address": to_hex(&a.0), "height": 1})),
        ("contract.get", json!({"address": to_hex(&token.0)})),
        ("contract.get", json!({"address": to_hex(&[5; 32])})),
        (
            "code.get",
            json!({"hash": to_hex(&supervm_vm::code_hash(supervm_contracts::TOKEN))}),
        ),
        ("code.get", json!({"hash": to_hex(&[5; 32])})),
        (
            "storage.get",
            json!({"contract": to_hex(&token.0), "key": "0x00"}),
        ),
        ("events.query", json!({"contract": to_hex(&token.0)})),
        ("events.query", json!({"limit": 1})),
        ("rpc.discover", json!({})),
    ] {
        let v: Value = c
            .call(method, params.clone())
            .await
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"));
        answers.push((method, v));
    }
    let methods: std::collections::BTreeSet<&str> = answers.iter().map(|(m, _)| *m).collect();
    assert_eq!(
        methods.len(),
        doc["methods"].as_array().unwrap().len(),
        "every method is called"
    );
    for (method, v) in &answers {
        if let Err(e) = check(&schema_of(method), v, method) {
            panic!("{e}\nanswer: {v}\nschema: {}", schema_of(method));
        }
    }
    // (the check can fail: a member the schema lacks, a wrong type, a negative count,
    // a null where the view never sends one)
    let receipt_schema = schema_of("tx.receipt");
    let receipt = answers
        .iter()
        .find(|(m, v)| *m == "tx.receipt" && !v.is_null())
        .map(|(_, v)| v.clone())
        .unwrap();
    let spoiled = |key: &str, value: Value| {
        let mut r = receipt.clone();
        r[key] = value;
        check(&receipt_schema, &r, "receipt")
    };
    assert!(spoiled("surprise", json!(1)).is_err());
    assert!(spoiled("gas_used", json!(-1)).is_err());
    assert!(spoiled("gas_used", json!("1")).is_err());
    assert!(spoiled("outcome", Value::Null).is_err());
    assert!(spoiled("revert_code", Value::Null).is_ok(), "nullable");
    assert!(check(&schema_of("chain.info"), &json!(5), "i").is_err());
    let info = &answers.iter().find(|(m, _)| *m == "chain.info").unwrap().1;
    let mut no_height = info.clone();
    no_height.as_object_mut().unwrap().remove("latest_height");
    assert!(
        check(&schema_of("chain.info"), &no_height, "i").is_err(),
        "a member always sent is required"
    );
    node.stop().await;
}
