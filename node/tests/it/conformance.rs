//! JSON-RPC 2.0 conformance of the HTTP layer, over a real loopback TCP listener with
//! test methods (`test.add`, `test.sleep`, `test.panic`, `test.wait`, `test.bump`).
//!
//! Guards against: error codes or ids that differ from the specification, a response to
//! a notification, a 5xx or a dropped connection for any input (deep nesting, oversized
//! bodies and batches, panicking or slow handlers), and unbounded queueing when busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use supervm_node::metrics::Metrics;
use supervm_node::rpc::{
    BATCH_WINDOW, ConnLimits, MethodSpec, ParamSpec, Registry, RpcError, RpcLimits, router,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};

/// A server on 127.0.0.1 with the test methods.
struct Server {
    url: String,
    addr: std::net::SocketAddr,
    http: reqwest::Client,
    metrics: Metrics,
    /// Notifications executed by `test.bump`.
    bumps: Arc<AtomicU64>,
    /// `test.wait` reports here when it starts, then waits for a permit of `gate`.
    entered: mpsc::UnboundedReceiver<()>,
    gate: Arc<Semaphore>,
}

#[derive(Deserialize)]
struct AddParams {
    a: i64,
    b: i64,
    #[serde(default)]
    c: Option<i64>,
}

#[derive(Deserialize)]
struct BigParams {
    bytes: usize,
}

#[derive(Deserialize)]
struct SleepParams {
    ms: u64,
}

fn int(name: &str) -> ParamSpec {
    ParamSpec::required(name, name, json!({"type": "integer"}))
}

fn boom() -> Result<(), RpcError> {
    panic!("test.panic called")
}

async fn serve(limits: RpcLimits) -> Server {
    serve_with(limits, ConnLimits::default()).await
}

async fn serve_with(limits: RpcLimits, conn: ConnLimits) -> Server {
    let bumps = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let (entered_tx, entered) = mpsc::unbounded_channel();
    let mut registry = Registry::new("conformance", "0.0.1");
    registry
        .register(
            MethodSpec::new("test.add", "Adds two or three integers.")
                .param(int("a"))
                .param(int("b"))
                .param(ParamSpec::optional(
                    "c",
                    "third",
                    json!({"type": "integer"}),
                ))
                .result("sum", json!({"type": "integer"}))
                .error(-32010, "overflow"),
            |p: AddParams| async move {
                p.a.checked_add(p.b)
                    .and_then(|s| s.checked_add(p.c.unwrap_or(0)))
                    .ok_or_else(|| RpcError::application(-32010, "overflow", None))
            },
        )
        .unwrap();
    registry
        .register(
            MethodSpec::new("test.sleep", "Sleeps.").param(int("ms")),
            |p: SleepParams| async move {
                tokio::time::sleep(Duration::from_millis(p.ms)).await;
                Ok::<_, RpcError>(p.ms)
            },
        )
        .unwrap();
    registry
        .register(
            MethodSpec::new(
                "test.deadline",
                "Milliseconds left before the request's deadline.",
            ),
            |(): ()| async move {
                let d = supervm_node::rpc::request_deadline()
                    .ok_or_else(|| RpcError::application(-32010, "no deadline", None))?;
                Ok::<_, RpcError>(
                    d.saturating_duration_since(tokio::time::Instant::now())
                        .as_millis() as u64,
                )
            },
        )
        .unwrap();
    registry
        .register(
            MethodSpec::new("test.panic", "Panics."),
            |(): ()| async move { boom() },
        )
        .unwrap();
    let g = gate.clone();
    registry
        .register(
            MethodSpec::new("test.wait", "Waits for the gate."),
            move |(): ()| {
                let (g, tx) = (g.clone(), entered_tx.clone());
                async move {
                    let _ = tx.send(());
                    let _permit = g.acquire().await.map_err(RpcError::internal)?;
                    Ok::<_, RpcError>("released")
                }
            },
        )
        .unwrap();
    registry
        .register(
            MethodSpec::new("test.big", "A string of `bytes` bytes.").param(int("bytes")),
            |p: BigParams| async move { Ok::<_, RpcError>("x".repeat(p.bytes)) },
        )
        .unwrap();
    let b = bumps.clone();
    registry
        .register(
            MethodSpec::new("test.bump", "Counts calls."),
            move |(): ()| {
                let b = b.clone();
                async move { Ok::<_, RpcError>(b.fetch_add(1, Ordering::SeqCst) + 1) }
            },
        )
        .unwrap();
    let metrics = Metrics::new();
    let app = router(registry, limits, &metrics)
        .unwrap()
        .merge(metrics.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The server runs until the test ends (the sender is leaked with the runtime).
    std::mem::forget(stop);
    tokio::spawn(supervm_node::rpc::serve(listener, app, conn, stopped));
    Server {
        url: format!("http://{addr}/"),
        addr,
        http: reqwest::Client::new(),
        metrics,
        bumps,
        entered,
        gate,
    }
}

async fn default_server() -> Server {
    serve(RpcLimits::default()).await
}

impl Server {
    /// POSTs a raw body; returns the status and the body parsed as JSON (Null if empty).
    async fn post(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("a response, not a dropped connection");
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        (status, value)
    }

    async fn call(&self, body: Value) -> Value {
        let (status, value) = self.post(body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{value}");
        value
    }
}

/// Asserts an error response object with `code` and `id`.
fn assert_error(response: &Value, code: i64, id: Value) {
    assert_eq!(response["jsonrpc"], "2.0", "{response}");
    assert_eq!(response["error"]["code"], code, "{response}");
    assert!(response["error"]["message"].is_string(), "{response}");
    assert_eq!(response.get("id"), Some(&id), "{response}");
    assert!(response.get("result").is_none(), "{response}");
}

fn req(method: &str, params: Value, id: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id})
}

#[tokio::test]
async fn invalid_json_is_a_parse_error_with_null_id() {
    let s = default_server().await;
    for body in [
        r#"{"jsonrpc":"2.0","method":"test.add","#,
        "",
        "nul",
        "{]",
        "\u{feff}{}",
    ] {
        let (status, r) = s.post(body).await;
        assert_eq!(status, StatusCode::OK, "{body:?}");
        assert_error(&r, -32700, Value::Null);
    }
    let (_, r) = s.post(vec![0xff, 0xfe, b'{']).await;
    assert_error(&r, -32700, Value::Null);
}

#[tokio::test]
async fn invalid_requests() {
    let s = default_server().await;
    assert_error(&s.call(json!({})).await, -32600, Value::Null);
    let v1 = json!({"jsonrpc": "1.0", "method": "test.add", "params": [1, 2], "id": 5});
    assert_error(&s.call(v1).await, -32600, json!(5));
    let no_version = json!({"method": "test.add", "params": [1, 2], "id": "x"});
    assert_error(&s.call(no_version).await, -32600, json!("x"));
    assert_error(
        &s.call(json!({"jsonrpc": "2.0", "method": 1, "id": 2}))
            .await,
        -32600,
        json!(2),
    );
    let bad_params = json!({"jsonrpc": "2.0", "method": "test.add", "params": "ab", "id": 3});
    assert_error(&s.call(bad_params).await, -32600, json!(3));
    let bad_id = json!({"jsonrpc": "2.0", "method": "test.add", "params": [1, 2], "id": [1]});
    assert_error(&s.call(bad_id).await, -32600, Value::Null);
    for scalar in [json!(1), json!("x"), json!(null), json!(true)] {
        assert_error(&s.call(scalar).await, -32600, Value::Null);
    }
}

#[tokio::test]
async fn empty_batch_is_one_invalid_request_object() {
    let s = default_server().await;
    let r = s.call(json!([])).await;
    assert!(r.is_object(), "{r}");
    assert_error(&r, -32600, Value::Null);
}

#[tokio::test]
async fn unknown_method() {
    let s = default_server().await;
    let r = s.call(req("no.such", json!([]), json!(9))).await;
    assert_error(&r, -32601, json!(9));
    assert_eq!(r["error"]["data"]["method"], "no.such");
    assert_error(
        &s.call(req("rpc.other", json!({}), json!(1))).await,
        -32601,
        json!(1),
    );
}

#[tokio::test]
async fn params_by_name_and_by_position() {
    let s = default_server().await;
    let cases = [
        (json!({"a": 2, "b": 3}), 5),
        (json!({"b": 3, "a": 2, "c": 10}), 15),
        (json!([2, 3]), 5),
        (json!([2, 3, 10]), 15),
        (json!([2, 3, null]), 5),
    ];
    for (i, (params, sum)) in cases.into_iter().enumerate() {
        let r = s.call(req("test.add", params, json!(i))).await;
        assert_eq!(r, json!({"jsonrpc": "2.0", "result": sum, "id": i}));
    }
    let no_params = json!({"jsonrpc": "2.0", "method": "test.bump", "id": 1});
    assert_eq!(s.call(no_params).await["result"], 1);
}

#[tokio::test]
async fn invalid_params_name_the_parameter() {
    let s = default_server().await;
    let cases = [
        (json!({"a": "x", "b": 1}), json!("a")),
        (json!({"a": 1}), json!("b")),
        (json!({"a": 1, "b": 2, "z": 3}), json!("z")),
        (json!([1, 2.5]), json!("b")),
        (json!([1, 2, 3, 4]), Value::Null),
        (json!([1]), json!("b")),
    ];
    for (params, param) in cases {
        let r = s.call(req("test.add", params.clone(), json!("p"))).await;
        assert_error(&r, -32602, json!("p"));
        assert_eq!(r["error"]["data"]["param"], param, "{params}: {r}");
        assert!(r["error"]["data"]["reason"].is_string(), "{r}");
    }
    assert_error(
        &s.call(req("test.bump", json!([1]), json!(1))).await,
        -32602,
        json!(1),
    );
    let overflow = s
        .call(req("test.add", json!([i64::MAX, 1]), json!(1)))
        .await;
    assert_error(&overflow, -32010, json!(1));
}

#[tokio::test]
async fn ids_are_echoed_exactly() {
    let s = default_server().await;
    let ids = [
        json!(0),
        json!(-7),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5),
        json!("abc"),
        json!(""),
        json!("ünïcode \"quoted\""),
        Value::Null,
    ];
    for id in ids {
        let r = s.call(req("test.add", json!([1, 1]), id.clone())).await;
        assert_eq!(r, json!({"jsonrpc": "2.0", "result": 2, "id": id}));
    }
}

#[tokio::test]
async fn notifications_run_without_response() {
    let s = default_server().await;
    let note = json!({"jsonrpc": "2.0", "method": "test.bump"});
    let (status, body) = s.post(note.to_string()).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(s.bumps.load(Ordering::SeqCst), 1);
    // Errors of notifications are not reported either.
    let bad = json!({"jsonrpc": "2.0", "method": "no.such", "params": [1]});
    let batch = json!([note, note, bad, {"jsonrpc": "2.0", "method": "test.add", "params": [1]}]);
    let (status, body) = s.post(batch.to_string()).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(s.bumps.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn mixed_batch_answers_only_non_notifications_in_order() {
    let s = default_server().await;
    let batch = json!([
        req("test.add", json!({"a": 1, "b": 2}), json!(1)),
        {"jsonrpc": "2.0", "method": "test.bump"},
        {},
        req("no.such", json!([]), json!("x")),
        req("test.add", json!(["one", 2]), json!(2)),
        1,
        req("test.panic", json!([]), Value::Null),
        req("test.add", json!([40, 2]), json!("last")),
    ]);
    let r = s.call(batch).await;
    let r = r.as_array().expect("an array");
    assert_eq!(r.len(), 7, "{r:?}");
    assert_eq!(r[0], json!({"jsonrpc": "2.0", "result": 3, "id": 1}));
    assert_error(&r[1], -32600, Value::Null);
    assert_error(&r[2], -32601, json!("x"));
    assert_error(&r[3], -32602, json!(2));
    assert_error(&r[4], -32600, Value::Null);
    assert_error(&r[5], -32603, Value::Null);
    assert_eq!(r[6], json!({"jsonrpc": "2.0", "result": 42, "id": "last"}));
    assert_eq!(s.bumps.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn batch_entries_run_concurrently() {
    let s = default_server().await;
    let batch: Vec<Value> = (0..10)
        .map(|i| req("test.sleep", json!({"ms": 300}), json!(i)))
        .collect();
    let started = tokio::time::Instant::now();
    let r = s.call(Value::Array(batch)).await;
    let elapsed = started.elapsed();
    assert_eq!(r.as_array().map(Vec::len), Some(10));
    assert!(
        elapsed < Duration::from_millis(2000),
        "10 x 300 ms took {elapsed:?}"
    );
}

#[tokio::test]
async fn oversized_batch_is_one_invalid_request() {
    let s = serve(RpcLimits {
        max_batch: 5,
        ..RpcLimits::default()
    })
    .await;
    let batch = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| req("test.add", json!([i, 1]), json!(i)))
                .collect(),
        )
    };
    let r = s.call(batch(6)).await;
    assert!(r.is_object(), "{r}");
    assert_error(&r, -32600, Value::Null);
    assert_eq!(r["error"]["data"]["max_batch"], 5);
    assert_eq!(s.call(batch(5)).await.as_array().map(Vec::len), Some(5));
}

/// A batch's response is bounded: once the answers would pass `max_response_bytes`,
/// the remaining results are replaced by -32006 (reason `max_response_bytes`, the call
/// ran) with their ids, in order; error answers stay as they are.
#[tokio::test]
async fn a_batch_response_is_bounded() {
    let s = serve(RpcLimits {
        max_response_bytes: 200,
        ..RpcLimits::default()
    })
    .await;
    let mut batch: Vec<Value> = (0..6)
        .map(|i| req("test.add", json!([i, 1]), json!(i)))
        .collect();
    // An error answer past the bound is kept: it says what happened (nothing ran).
    batch.push(req("no.such", json!([]), json!(6)));
    let r = s.call(Value::Array(batch)).await;
    let mut entries = r.as_array().expect("a batch answer").clone();
    assert_eq!(entries.len(), 7, "{r}");
    assert_error(&entries.pop().unwrap(), -32601, json!(6));
    let answered = entries
        .iter()
        .take_while(|e| e.get("result").is_some())
        .count();
    assert!((1..6).contains(&answered), "{r}");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["id"], i, "{r}");
        if i < answered {
            assert_eq!(e["result"], i + 1, "{r}");
        } else {
            assert_error(e, -32006, json!(i));
            assert_eq!(e["error"]["data"]["reason"], "max_response_bytes", "{r}");
            assert_eq!(e["error"]["data"]["ran"], true, "{r}");
        }
    }
}

/// Guards against: every entry of a batch running at once and holding its answer until
/// the response is built (a hundred large answers in memory per request). Entries run
/// a window at a time; once the response is full, the entries not started yet are
/// answered -32006 with `ran: false` and do not run (test.bump counts the calls that did).
#[tokio::test]
async fn a_full_batch_response_stops_starting_calls() {
    let s = serve(RpcLimits {
        max_response_bytes: 2_000,
        ..RpcLimits::default()
    })
    .await;
    // 1,000-byte answers first: the second fills the response.
    let mut batch: Vec<Value> = (0..4)
        .map(|i| req("test.big", json!({"bytes": 1000}), json!(i)))
        .collect();
    let n = 60;
    batch.extend((4..n).map(|i| req("test.bump", json!([]), json!(i))));
    let r = s.call(Value::Array(batch)).await;
    let entries = r.as_array().expect("a batch answer");
    assert_eq!(entries.len(), n, "every entry is answered, in order");
    let ran: Vec<bool> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(e["id"], i, "{e}");
            e.get("result").is_some() || e["error"]["data"]["ran"] == true
        })
        .collect();
    let started = ran.iter().filter(|r| **r).count();
    // The window's worth after the entry that filled the response ran; no more.
    // The entry that filled the response, and the window started behind the first.
    assert_eq!(started, 1 + BATCH_WINDOW, "{r}");
    assert!(!ran[n - 1], "the last entry did not run");
    let bumped = s.bumps.load(Ordering::SeqCst) as usize;
    let bumps_answered_ran = ran[4..].iter().filter(|r| **r).count();
    assert_eq!(
        bumped, bumps_answered_ran,
        "ran: false means the call did not run"
    );
    for e in &entries[started..] {
        assert_error(e, -32006, e["id"].clone());
        assert_eq!(e["error"]["data"]["ran"], false, "{e}");
    }
}

/// A handler sees its request's deadline (a waiting `tx.submit` answers before it):
/// a single call, and every entry of a batch, the same one, however late it started.
#[tokio::test]
async fn handlers_see_their_requests_deadline() {
    let s = serve(RpcLimits {
        request_timeout: Duration::from_millis(2000),
        ..RpcLimits::default()
    })
    .await;
    let left = s.call(req("test.deadline", json!([]), json!(1))).await;
    let ms = left["result"].as_u64().unwrap_or_else(|| panic!("{left}"));
    assert!((1000..=2000).contains(&ms), "{left}");
    // The entry after a window of 300 ms sleeps starts late, with less time left.
    let mut batch: Vec<Value> = (0..BATCH_WINDOW)
        .map(|i| req("test.sleep", json!({"ms": 300}), json!(i)))
        .collect();
    batch.push(req("test.deadline", json!([]), json!("last")));
    let r = s.call(Value::Array(batch)).await;
    let last = &r.as_array().expect("a batch answer")[BATCH_WINDOW];
    let ms = last["result"].as_u64().unwrap_or_else(|| panic!("{last}"));
    assert!(ms <= 1750, "{last}");
}

/// Past the request's deadline a batch starts nothing more: every entry is answered
/// -32001 in order, and the entries behind the timed-out window never run (started and
/// aborted at once, as before, a `tx.submit` could be admitted and still be answered as
/// timed out; whether such a task ran before its abort depends on the scheduler, so
/// this test catches that only when it did).
#[tokio::test]
async fn a_batch_past_its_deadline_starts_nothing_more() {
    let s = serve(RpcLimits {
        request_timeout: Duration::from_millis(300),
        ..RpcLimits::default()
    })
    .await;
    let mut batch: Vec<Value> = (0..BATCH_WINDOW)
        .map(|i| req("test.sleep", json!({"ms": 2000}), json!(i)))
        .collect();
    batch.extend((BATCH_WINDOW..BATCH_WINDOW + 5).map(|i| req("test.bump", json!([]), json!(i))));
    let r = s.call(Value::Array(batch)).await;
    let entries = r.as_array().expect("a batch answer");
    assert_eq!(entries.len(), BATCH_WINDOW + 5);
    for (i, e) in entries.iter().enumerate() {
        assert_error(e, -32001, json!(i));
    }
    assert_eq!(
        s.bumps.load(Ordering::SeqCst),
        0,
        "no entry started past the deadline"
    );
}

/// Bodies in flight share a byte budget: a body that does not fit beside those being
/// handled gets 429 / -32005 (parsed JSON can take 16 times its text), and fits again
/// once they are done.
#[tokio::test]
async fn bodies_in_flight_share_a_byte_budget() {
    let s = Arc::new(
        serve(RpcLimits {
            max_inflight_body_bytes: 64 * 1024,
            ..RpcLimits::default()
        })
        .await,
    );
    // A slow call padded to 40 KiB holds most of the budget while it sleeps.
    let padded = |method: &str, params: Value| {
        let call = req(method, params, json!(1)).to_string();
        format!("{call}{}", " ".repeat(40 * 1024 - call.len()))
    };
    let slow = {
        let body = padded("test.sleep", json!({"ms": 1500}));
        let s = s.clone();
        tokio::spawn(async move { s.post(body).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, r) = s.post(padded("test.add", json!([1, 2]))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{r}");
    assert_error(&r, -32005, Value::Null);
    assert_eq!(
        r["error"]["data"]["reason"], "max_inflight_body_bytes",
        "{r}"
    );
    // A small one still fits.
    let (status, r) = s
        .post(req("test.add", json!([2, 2]), json!(2)).to_string())
        .await;
    assert_eq!((status, &r["result"]), (StatusCode::OK, &json!(4)));
    let (status, _) = slow.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, r) = s.post(padded("test.add", json!([1, 2]))).await;
    assert_eq!((status, &r["result"]), (StatusCode::OK, &json!(3)));
}

/// A client call to a node that accepted the connection and never answers ends with a
/// transport error after the client's timeout, instead of hanging.
#[tokio::test]
async fn a_client_gives_up_on_a_node_that_never_answers() {
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = mute.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((c, _)) = mute.accept().await {
            open.push(c); // read nothing, answer nothing
        }
    });
    let c =
        supervm_client::Client::with_timeout(&format!("http://{addr}"), Duration::from_millis(300));
    let r = tokio::time::timeout(Duration::from_secs(10), c.chain_info())
        .await
        .expect("the client gives up on its own");
    assert!(
        matches!(r, Err(supervm_client::Error::Transport(_))),
        "{r:?}"
    );
}

#[tokio::test]
async fn oversized_body_is_413_before_parsing() {
    let s = serve(RpcLimits {
        max_body_bytes: 1024,
        ..RpcLimits::default()
    })
    .await;
    let (status, r) = s.post(vec![b'x'; 2048]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&r, -32600, Value::Null);
    assert_eq!(r["error"]["data"]["max_body_bytes"], 1024);
    // Exactly at the limit is read and parsed (here: padded valid JSON).
    let call = req("test.add", json!([1, 2]), json!(1)).to_string();
    let padded = format!("{call}{}", " ".repeat(1024 - call.len()));
    let (status, r) = s.post(padded).await;
    assert_eq!((status, &r["result"]), (StatusCode::OK, &json!(3)));
    // A chunked body (no Content-Length) is cut off at the limit too.
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("800\r\n{}\r\n", "x".repeat(0x800));
    tcp.write_all(format!("{head}{chunk}").as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut response));
    let _ = read
        .await
        .expect("the server answers without waiting for the rest");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
}

#[tokio::test]
async fn deep_nesting_is_a_parse_error() {
    let s = default_server().await;
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, r) = s.post(arrays).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&r, -32700, Value::Null);
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    assert_error(&s.post(objects).await.1, -32700, Value::Null);
    let unclosed = "[".repeat(100_000);
    assert_error(&s.post(unclosed).await.1, -32700, Value::Null);
    // Deep params inside a valid request are a parse error too, not a crash.
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","method":"test.add","params":{}{},"id":1}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert_error(&s.post(deep_params).await.1, -32700, Value::Null);
}

#[tokio::test]
async fn slow_calls_time_out_with_their_id() {
    let s = serve(RpcLimits {
        request_timeout: Duration::from_millis(300),
        ..RpcLimits::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let r = s
        .call(req("test.sleep", json!({"ms": 20_000}), json!("slow")))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_error(&r, -32001, json!("slow"));
    assert_eq!(r["error"]["data"]["timeout_ms"], 300);
    let batch = json!([
        req("test.sleep", json!([20_000]), json!(1)),
        req("test.add", json!([1, 2]), json!(2)),
    ]);
    let r = s.call(batch).await;
    assert_error(&r[0], -32001, json!(1));
    assert_eq!(r[1]["result"], 3);
}

#[tokio::test]
async fn busy_server_answers_429_at_once() {
    let mut s = serve(RpcLimits {
        max_concurrent: 2,
        ..RpcLimits::default()
    })
    .await;
    let wait = req("test.wait", json!([]), json!(1)).to_string();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (http, url, body) = (s.http.clone(), s.url.clone(), wait.clone());
        held.push(tokio::spawn(async move {
            http.post(url).body(body).send().await
        }));
    }
    for _ in 0..2 {
        let entered = tokio::time::timeout(Duration::from_secs(10), s.entered.recv()).await;
        assert_eq!(entered.ok().flatten(), Some(()), "test.wait did not start");
    }
    let started = tokio::time::Instant::now();
    let (status, r) = s
        .post(req("test.add", json!([1, 2]), json!(7)).to_string())
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error(&r, -32005, Value::Null);
    s.gate.add_permits(2);
    for h in held {
        let response = h.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let r: Value = response.json().await.unwrap();
        assert_eq!(r["result"], "released");
    }
    // Permits are released: the server serves again.
    assert_eq!(
        s.call(req("test.add", json!([1, 2]), json!(8))).await["result"],
        3
    );
}

#[tokio::test]
async fn panicking_handler_is_an_internal_error() {
    let s = default_server().await;
    let r = s.call(req("test.panic", json!({}), json!(11))).await;
    assert_error(&r, -32603, json!(11));
    assert_eq!(
        s.call(req("test.add", json!([1, 2]), json!(12))).await["result"],
        3
    );
}

#[tokio::test]
async fn discover_lists_every_method() {
    let s = default_server().await;
    let r = s
        .call(json!({"jsonrpc": "2.0", "method": "rpc.discover", "id": 1}))
        .await;
    let doc = &r["result"];
    assert_eq!(doc["openrpc"], "1.2.6");
    // It takes no parameters: empty ones are fine, a name or a value is -32602.
    for (params, ok) in [
        (json!([]), true),
        (json!({}), true),
        (json!({"x": 1}), false),
        (json!([1]), false),
    ] {
        let r = s.call(req("rpc.discover", params.clone(), json!(2))).await;
        assert_eq!(r.get("result").is_some(), ok, "{params}: {r}");
        if !ok {
            assert_eq!(r["error"]["code"], -32602, "{r}");
        }
    }
    assert_eq!(
        (&doc["info"]["title"], &doc["info"]["version"]),
        (&json!("conformance"), &json!("0.0.1"))
    );
    let names: Vec<&str> = doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for name in [
        "rpc.discover",
        "test.add",
        "test.bump",
        "test.panic",
        "test.sleep",
        "test.wait",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let add = doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "test.add")
        .unwrap();
    assert_eq!(
        add["params"][0],
        json!({"name": "a", "description": "a", "required": true, "schema": {"type": "integer"}})
    );
    assert_eq!(add["params"][2]["required"], false);
    assert_eq!(add["result"]["name"], "sum");
    assert_eq!(add["errors"][0]["code"], -32010);
    assert_eq!(doc["components"]["errors"]["ServerBusy"]["code"], -32005);
}

#[tokio::test]
async fn lenient_content_type_and_index_page() {
    let s = default_server().await;
    let body = req("test.add", json!([1, 2]), json!(1)).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=utf-8"),
    ] {
        let mut request = s.http.post(&s.url).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.json::<Value>().await.unwrap()["result"], 3);
    }
    let index = s.http.get(&s.url).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.unwrap().contains("rpc.discover"));
    let put = s.http.put(&s.url).body(body).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn metrics_count_calls_by_method_and_code() {
    let s = default_server().await;
    s.call(req("test.add", json!([1, 2]), json!(1))).await;
    s.call(req("test.add", json!([1]), json!(2))).await;
    s.call(req("nope", json!([]), json!(3))).await;
    s.post("{").await;
    let response = s
        .http
        .get(format!("{}metrics", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert_eq!(text, s.metrics.render());
    for line in [
        "supervm_rpc_calls_total{method=\"test.add\",code=\"ok\"} 1",
        "supervm_rpc_calls_total{method=\"test.add\",code=\"-32602\"} 1",
        "supervm_rpc_calls_total{method=\"(unknown)\",code=\"-32601\"} 1",
        "supervm_rpc_calls_total{method=\"(invalid)\",code=\"-32700\"} 1",
        "supervm_rpc_http_responses_total{status=\"200\"} 4",
        "supervm_rpc_call_duration_seconds_count{method=\"test.add\"} 2",
        "# TYPE supervm_rpc_call_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

/// Seeded xorshift, so a failure can be replayed with `RPC_FUZZ_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[tokio::test]
async fn no_input_gives_a_5xx() {
    let seed = std::env::var("RPC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234);
    println!("RPC_FUZZ_SEED={seed}");
    let limits = RpcLimits {
        max_batch: 4,
        request_timeout: Duration::from_secs(2),
        ..RpcLimits::default()
    };
    let s = serve(limits).await;
    let seeds = [
        req("test.add", json!({"a": 1, "b": 2}), json!(1)).to_string(),
        json!([req("test.add", json!([1, 2]), json!("x")), {"jsonrpc": "2.0", "method": "test.bump"}]).to_string(),
        req("test.bump", json!([]), Value::Null).to_string(),
        req("rpc.discover", json!([]), json!(2)).to_string(),
    ];
    let alphabet = b"{}[]\",:0123456789.eE-+ \\unlltrue\x00\xff";
    let mut rng = Rng(seed | 1);
    for round in 0..300 {
        let mut body = seeds[round % seeds.len()].clone().into_bytes();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(body.len() + 1);
            match rng.below(3) {
                0 if at < body.len() => {
                    body.remove(at);
                }
                1 if at < body.len() => body[at] = alphabet[rng.below(alphabet.len())],
                _ => body.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        let response = s.http.post(&s.url).body(body.clone()).send().await;
        let response = response.unwrap_or_else(|e| panic!("round {round}: {e} for {body:?}"));
        let status = response.status();
        assert!(
            !status.is_server_error(),
            "round {round}: {status} for {:?}",
            String::from_utf8_lossy(&body)
        );
        let bytes = response.bytes().await.unwrap();
        if status == StatusCode::OK {
            let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
            assert!(
                parsed.is_ok(),
                "round {round}: bad JSON reply to {:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

/// Reads from `s` until the server closes it; the elapsed time, or None if still open
/// after `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(start + within, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {} // a 408 or similar before closing is fine
        }
    }
}

#[tokio::test]
async fn a_client_trickling_headers_is_cut_off_and_others_are_served() {
    let conn = ConnLimits {
        header_read_timeout: Duration::from_millis(500),
        ..ConnLimits::default()
    };
    let server = serve_with(RpcLimits::default(), conn).await;
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-")
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Meanwhile a well-behaved client is served.
    let r = server
        .call(json!({"jsonrpc": "2.0", "id": 1, "method": "test.add", "params": {"a": 1, "b": 2}}))
        .await;
    assert_eq!(r["result"], json!(3));
    let t = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(t.is_some(), "a connection trickling its headers stays open");
    let t = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(t.is_some(), "a connection that sends nothing stays open");
}

/// A client that sends a request and never reads its (large) response loses its
/// connection once the server's writes have made no progress for
/// `write_stall_timeout`: its slot comes back (here the only one) and its response is
/// dropped. (Without the timeout the other client is refused until the deadline.)
#[tokio::test]
async fn a_client_that_does_not_read_its_response_is_cut_off() {
    let conn = ConnLimits {
        max_connections: 1,
        write_stall_timeout: Duration::from_millis(500),
        ..ConnLimits::default()
    };
    let server = serve_with(RpcLimits::default(), conn).await;
    // A small receive buffer: the 32 MiB answer cannot fit in the socket buffers
    // however the host tunes its maxima.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(server.addr).await.unwrap();
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "test.big", "params": {"bytes": 32 << 20}})
            .to_string();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stuck.write_all(head.as_bytes()).await.unwrap();
    stuck.write_all(body.as_bytes()).await.unwrap();
    // The client reads nothing. The one slot comes back once the server's writes have
    // stalled for the timeout: asked until then (a refused connection is retried), the
    // other client is answered within 20 s.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "test.add", "params": {"a": 1, "b": 1}});
    #[allow(clippy::disallowed_methods)] // a deadline for the retries
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let sent = server.http.post(&server.url).json(&call).send().await;
        if let Ok(r) = sent
            && let Ok(v) = r.json::<Value>().await
        {
            break v;
        }
        #[allow(clippy::disallowed_methods)]
        let late = std::time::Instant::now() > deadline;
        assert!(!late, "the stuck connection still holds the only slot");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(answer["result"], json!(2));
    drop(stuck);
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_slots_come_back() {
    let conn = ConnLimits {
        max_connections: 2,
        ..ConnLimits::default()
    };
    let server = serve_with(RpcLimits::default(), conn).await;
    let a = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let b = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Let the server accept both before the third arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let t = closed_within(&mut c, Duration::from_secs(2)).await;
    assert!(
        t.is_some(),
        "a third connection over a limit of 2 is served"
    );
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = server
        .call(json!({"jsonrpc": "2.0", "id": 1, "method": "test.add", "params": {"a": 2, "b": 2}}))
        .await;
    assert_eq!(r["result"], json!(4));
}
