//! The HTTP side: limits, and the [`axum::Router`] serving JSON-RPC on `POST /`.
//!
//! HTTP statuses: 200 with a JSON-RPC body (errors included), 204 when only
//! notifications were sent, 413 for a body over the limit, 429 when busy, 408 when the
//! body did not arrive before the request timeout, 400 when it could not be read. A
//! JSON-RPC error body comes with every status except 204; never a 5xx.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::{Duration, Instant, timeout_at};

use super::dispatch::{CallMetrics, Dispatcher, encode};
use super::openrpc;
use super::protocol::{Id, Response, RpcError, codes};
use super::registry::{Handler, Registry};
use crate::metrics::{CounterVec, Gauge, Metrics, MetricsError};

/// The limits of the RPC server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcLimits {
    /// The largest request body accepted, in bytes; larger gets HTTP 413. Default 4 MiB.
    pub max_body_bytes: usize,
    /// The most entries in a batch; more gets one -32600 response. Default 100.
    pub max_batch: usize,
    /// The most HTTP requests in flight; more get HTTP 429 with -32005. Default 512.
    pub max_concurrent: usize,
    /// The most body bytes of requests being parsed and handled at once; a body that
    /// does not fit beside those in flight gets HTTP 429 with -32005 (`data.reason`
    /// `max_inflight_body_bytes`). Parsed JSON can take about 16 times its text
    /// (`[0,0,…]`): this bounds the parsed requests, while the raw bodies being read are
    /// bounded by `max_concurrent` × `max_body_bytes`. Default 64 MiB.
    pub max_inflight_body_bytes: usize,
    /// The time allowed from the arrival of a request to its response, body reading
    /// included; calls still running then get -32001. Default 30 s.
    pub request_timeout: Duration,
    /// The largest response to a batch, in bytes: a successful answer that would take it
    /// past this is replaced by -32006 (`data.reason` `max_response_bytes`, `data.ran`:
    /// the call ran, only its answer is dropped); error answers are never replaced. A small request must not buy a huge reply (a batch of
    /// `rpc.discover` or of large blocks). Default 16 MiB.
    pub max_response_bytes: usize,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 << 20,
            max_batch: 100,
            max_concurrent: 512,
            max_inflight_body_bytes: 64 << 20,
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 16 << 20,
        }
    }
}

/// What `GET /` answers.
const INDEX_TEXT: &str = "SuperVM JSON-RPC 2.0 endpoint: POST requests to this URL \
(Content-Type: application/json). Call the method rpc.discover for the OpenRPC document \
listing every method.\n";

/// HTTP-level RPC metrics.
struct HttpMetrics {
    responses: Arc<CounterVec<1>>,
    in_flight: Gauge,
}

impl HttpMetrics {
    fn register(metrics: &Metrics) -> Result<Self, MetricsError> {
        Ok(Self {
            responses: metrics.counter_vec(
                "supervm_rpc_http_responses_total",
                "HTTP responses of the JSON-RPC endpoint by status.",
                ["status"],
            )?,
            in_flight: metrics.gauge(
                "supervm_rpc_in_flight_requests",
                "JSON-RPC HTTP requests being served.",
            )?,
        })
    }
}

struct ServerState {
    dispatcher: Dispatcher,
    limits: RpcLimits,
    permits: Arc<Semaphore>,
    /// Body bytes in flight, in KiB (see [`RpcLimits::max_inflight_body_bytes`]).
    body_kib: Arc<Semaphore>,
    http: HttpMetrics,
}

/// The router serving `registry` on `POST /` (and a short text on `GET /`), with the
/// built-in `rpc.discover`. Merge more routes into it, e.g. `.merge(metrics.router())`:
/// the limits apply to the RPC route only.
///
/// RPC metrics (`supervm_rpc_*`) are registered in `metrics`; the error says which name
/// is already taken there by a different metric.
pub fn router(
    mut registry: Registry,
    limits: RpcLimits,
    metrics: &Metrics,
) -> Result<Router, MetricsError> {
    let mut doc_registry = registry.clone();
    let placeholder: Handler = Arc::new(|_| Box::pin(async { Ok(Value::Null) }));
    if let Err(e) = doc_registry.insert(openrpc::discover_spec(), placeholder) {
        tracing::warn!(error = %e, "rpc.discover is not listed in the OpenRPC document");
    }
    let doc = Arc::new(openrpc::document(&doc_registry));
    let discover: Handler = Arc::new(move |params| {
        let doc = doc.clone();
        Box::pin(async move {
            // (it takes no parameters: any given is refused, as for every method)
            super::registry::decode_params::<()>(&[], params)?;
            Ok(Value::clone(&doc))
        })
    });
    if let Err(e) = registry.insert(openrpc::discover_spec(), discover) {
        tracing::warn!(error = %e, "rpc.discover is not served");
    }
    let call_metrics = CallMetrics::register(metrics)?;
    let http = HttpMetrics::register(metrics)?;
    let state = Arc::new(ServerState {
        dispatcher: Dispatcher {
            registry: Arc::new(registry),
            max_batch: limits.max_batch,
            max_response_bytes: limits.max_response_bytes,
            timeout: limits.request_timeout,
            metrics: call_metrics,
        },
        limits,
        permits: Arc::new(Semaphore::new(
            limits.max_concurrent.min(Semaphore::MAX_PERMITS),
        )),
        body_kib: Arc::new(Semaphore::new(budget_kib(&limits) as usize)),
        http,
    });
    Ok(Router::new()
        .route("/", get(index).post(serve_rpc))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(state))
}

async fn index() -> &'static str {
    INDEX_TEXT
}

/// Decrements the in-flight gauge when the request ends, however it ends.
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn serve_rpc(State(state): State<Arc<ServerState>>, request: Request) -> HttpResponse {
    // Latency and timeouts are the node's legitimate clock uses (tokio's clock).
    let deadline = Instant::now() + state.limits.request_timeout;
    let limits = &state.limits;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return too_large(&state);
    }
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        return busy(&state, RpcError::server_busy(limits.max_concurrent));
    };
    state.http.in_flight.inc();
    let _in_flight = InFlight(state.http.in_flight.clone());
    let body = match timeout_at(deadline, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large(&state);
        }
        Ok(Err(rejection)) => {
            let error = RpcError::parse_error(format!("could not read the body: {rejection}"));
            return reply(&state, StatusCode::BAD_REQUEST, Some(error_body(error)));
        }
        Err(_elapsed) => {
            let error = RpcError::request_timeout(limits.request_timeout.as_millis());
            return reply(&state, StatusCode::REQUEST_TIMEOUT, Some(error_body(error)));
        }
    };
    // (a body larger than the whole budget still gets through when nothing else is in
    // flight: `max_body_bytes` bounds it)
    let kib = body
        .len()
        .div_ceil(1024)
        .clamp(1, budget_kib(&state.limits) as usize) as u32;
    let Ok(_bytes) = state.body_kib.clone().try_acquire_many_owned(kib) else {
        let error = RpcError::body_budget_full(limits.max_inflight_body_bytes);
        return busy(&state, error);
    };
    match state.dispatcher.handle(&body, deadline).await {
        Some(body) => reply(&state, StatusCode::OK, Some(body)),
        None => reply(&state, StatusCode::NO_CONTENT, None),
    }
}

/// [`RpcLimits::max_inflight_body_bytes`] in KiB, at least 1.
fn budget_kib(limits: &RpcLimits) -> u32 {
    (limits.max_inflight_body_bytes / 1024).clamp(1, u32::MAX as usize) as u32
}

/// HTTP 429 with -32005 and `Retry-After: 1`.
fn busy(state: &ServerState, error: RpcError) -> HttpResponse {
    let body = error_body(error);
    let mut response = reply(state, StatusCode::TOO_MANY_REQUESTS, Some(body));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn too_large(state: &ServerState) -> HttpResponse {
    let error = RpcError::new(
        codes::INVALID_REQUEST,
        "request body too large",
        Some(json!({ "max_body_bytes": state.limits.max_body_bytes })),
    );
    reply(
        state,
        StatusCode::PAYLOAD_TOO_LARGE,
        Some(error_body(error)),
    )
}

fn error_body(error: RpcError) -> Vec<u8> {
    encode(&Response::error(Id::Null, error))
}

fn reply(state: &ServerState, status: StatusCode, body: Option<Vec<u8>>) -> HttpResponse {
    state.http.responses.with([status.as_str()]).inc();
    match body {
        Some(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => status.into_response(),
    }
}
