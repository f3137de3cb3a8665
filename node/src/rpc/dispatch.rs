//! Executes a parsed body: every call runs as its own tokio task (so batch entries run
//! concurrently, [`BATCH_WINDOW`] at a time, a panic is caught as a `JoinError`, and a
//! blocked handler cannot stall the timeout), all sharing the request's deadline.

use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant, timeout_at};

use super::protocol::{Entry, Id, Message, Response, RpcError, parse_message};
use super::registry::Registry;
use crate::metrics::{CounterVec, HistogramVec, LATENCY_BUCKETS, Metrics, MetricsError};

/// Most entries of one batch running at once. Answers are collected in order, so at most
/// this many finished answers wait in memory beside the response being built: a batch of
/// large answers cannot hold them all at once (100 entries of 16 MiB each, say). Once the
/// response is full, entries not yet started are answered -32006 without running.
pub const BATCH_WINDOW: usize = 16;

tokio::task_local! {
    /// The deadline of the request a handler serves and the server's request timeout,
    /// visible to the handler's task.
    static REQUEST_DEADLINE: (Instant, Duration);
}

/// When the request the calling handler serves times out (`None` outside a handler):
/// a handler that waits (a `tx.submit` with `wait`) answers before it, however late it
/// started (a slow body, the end of a batch).
pub fn request_deadline() -> Option<Instant> {
    REQUEST_DEADLINE.try_with(|d| d.0).ok()
}

/// The -32001 the dispatcher answers a call with at its deadline, once that has passed
/// (for a handler whose work was stopped by it to say the same).
pub fn timed_out_error() -> Option<RpcError> {
    REQUEST_DEADLINE
        .try_with(|&(d, timeout)| {
            (Instant::now() >= d).then(|| RpcError::request_timeout(timeout.as_millis()))
        })
        .ok()
        .flatten()
}

/// The `method` label of calls that never reached a method.
const NO_METHOD: &str = "(invalid)";
/// The `method` label of calls to unregistered methods (user input never becomes a label).
const UNKNOWN_METHOD: &str = "(unknown)";

/// Per-call RPC metrics.
#[derive(Clone)]
pub(crate) struct CallMetrics {
    calls: Arc<CounterVec<2>>,
    latency: Arc<HistogramVec<1>>,
}

impl CallMetrics {
    pub(crate) fn register(metrics: &Metrics) -> Result<Self, MetricsError> {
        Ok(Self {
            calls: metrics.counter_vec(
                "supervm_rpc_calls_total",
                "JSON-RPC calls (notifications included) by method and outcome: \"ok\" or the error code.",
                ["method", "code"],
            )?,
            latency: metrics.histogram_vec(
                "supervm_rpc_call_duration_seconds",
                "Time from the start of a call to its outcome, by method.",
                ["method"],
                LATENCY_BUCKETS,
            )?,
        })
    }

    fn record(&self, method: &str, outcome: Result<(), i64>) {
        let code = match outcome {
            Ok(()) => "ok".to_string(),
            Err(code) => code.to_string(),
        };
        self.calls.with([method, code.as_str()]).inc();
    }
}

/// Aborts the task when dropped, e.g. when the client disconnects mid-request.
struct AbortOnDrop(JoinHandle<Result<Value, RpcError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A call that was started, or an entry answered without running anything.
enum Pending {
    Done(Option<Response>),
    Running {
        id: Option<Id>,
        method: String,
        task: AbortOnDrop,
        started: Instant,
    },
}

/// Runs bodies against a registry.
pub(crate) struct Dispatcher {
    pub(crate) registry: Arc<Registry>,
    pub(crate) max_batch: usize,
    pub(crate) max_response_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) metrics: CallMetrics,
}

impl Dispatcher {
    /// The response body for `body`, or `None` when only notifications were sent.
    pub(crate) async fn handle(&self, body: &[u8], deadline: Instant) -> Option<Vec<u8>> {
        match parse_message(body, self.max_batch) {
            Err(response) => {
                self.metrics.record(NO_METHOD, Err(error_code(&response)));
                Some(encode(&response))
            }
            Ok(Message::Single(entry)) => {
                let pending = self.start(entry, deadline);
                self.finish(pending, deadline).await.map(|r| encode(&r))
            }
            Ok(Message::Batch(entries)) => {
                // Calls run BATCH_WINDOW at a time, answers taken in order. Each answer is
                // encoded as it comes; a result that would take the batch's past
                // `max_response_bytes` is replaced by -32006 (the call ran), and entries
                // not started by then are answered -32006 without running.
                let mut entries = entries.into_iter();
                let mut window = std::collections::VecDeque::with_capacity(BATCH_WINDOW);
                let mut full = false;
                let mut body = b"[".to_vec();
                loop {
                    while window.len() < BATCH_WINDOW {
                        let Some(e) = entries.next() else { break };
                        // (past the deadline an entry is answered as timed out unstarted:
                        // started, it could be admitted and then answered -32001)
                        let skip = if full {
                            Some(RpcError::response_too_large(self.max_response_bytes, false))
                        } else if Instant::now() >= deadline {
                            Some(RpcError::request_timeout(self.timeout.as_millis()))
                        } else {
                            None
                        };
                        window.push_back(match skip {
                            Some(error) => self.answer_unstarted(e, error),
                            None => self.start(e, deadline),
                        });
                    }
                    let Some(p) = window.pop_front() else { break };
                    let Some(r) = self.finish(p, deadline).await else {
                        continue;
                    };
                    let mut bytes = encode(&r);
                    // (only results: an error answer is small, and says what happened)
                    if r.outcome.is_ok() && body.len() + bytes.len() + 2 > self.max_response_bytes {
                        let error = RpcError::response_too_large(self.max_response_bytes, true);
                        bytes = encode(&Response::error(r.id, error));
                        full = true;
                    }
                    // (an answer is there once the body holds more than its `[`)
                    if body.len() > 1 {
                        body.push(b',');
                    }
                    body.extend_from_slice(&bytes);
                }
                body.push(b']');
                (body.len() > 2).then_some(body)
            }
        }
    }

    /// Answers a batch entry with `error` without running it (the response is full, or
    /// the deadline passed); an invalid entry or unknown method gets its own error, a
    /// notification nothing.
    fn answer_unstarted(&self, entry: Entry, error: RpcError) -> Pending {
        let request = match self.lookup(entry) {
            Ok((request, _)) => request,
            Err(done) => return done,
        };
        self.metrics.record(&request.method, Err(error.code));
        Pending::Done(request.id.map(|id| Response::error(id, error)))
    }

    /// The entry's request and its method, or the answer to an invalid entry or unknown
    /// method (recorded in the metrics).
    fn lookup(
        &self,
        entry: Entry,
    ) -> Result<(super::protocol::Request, &super::registry::Method), Pending> {
        let request = match entry {
            Ok(request) => request,
            Err(response) => {
                self.metrics.record(NO_METHOD, Err(error_code(&response)));
                return Err(Pending::Done(Some(response)));
            }
        };
        let Some(method) = self.registry.get(&request.method) else {
            let error = RpcError::method_not_found(&request.method);
            self.metrics.record(UNKNOWN_METHOD, Err(error.code));
            return Err(Pending::Done(
                request.id.map(|id| Response::error(id, error)),
            ));
        };
        Ok((request, method))
    }

    fn start(&self, entry: Entry, deadline: Instant) -> Pending {
        let (request, method) = match self.lookup(entry) {
            Ok(found) => found,
            Err(done) => return done,
        };
        let handler = method.handler.clone();
        let params = request.params;
        let call = async move { handler(params).await };
        let scope = REQUEST_DEADLINE.scope((deadline, self.timeout), call);
        let task = AbortOnDrop(tokio::spawn(scope));
        Pending::Running {
            id: request.id,
            method: request.method,
            task,
            // Latency measurement and the timeout are the node's legitimate clock uses.
            started: Instant::now(),
        }
    }

    async fn finish(&self, pending: Pending, deadline: Instant) -> Option<Response> {
        let (id, method, mut task, started) = match pending {
            Pending::Done(response) => return response,
            Pending::Running {
                id,
                method,
                task,
                started,
            } => (id, method, task, started),
        };
        let outcome = match timeout_at(deadline, &mut task.0).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join_error)) => {
                tracing::error!(%method, error = %join_error, "RPC handler failed");
                let what = if join_error.is_panic() {
                    "handler panicked"
                } else {
                    "handler aborted"
                };
                Err(RpcError::internal(what))
            }
            Err(_elapsed) => {
                tracing::warn!(%method, "RPC call timed out");
                Err(RpcError::request_timeout(self.timeout.as_millis()))
            }
        };
        drop(task);
        self.metrics
            .record(&method, outcome.as_ref().map(|_| ()).map_err(|e| e.code));
        self.metrics
            .latency
            .with([method.as_str()])
            .observe_duration(started.elapsed());
        id.map(|id| Response { outcome, id })
    }
}

fn error_code(response: &Response) -> i64 {
    response.outcome.as_ref().err().map_or(0, |e| e.code)
}

/// Serializes a response or a batch of them.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not serialize a JSON-RPC response");
        br#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}"#
            .to_vec()
    })
}
