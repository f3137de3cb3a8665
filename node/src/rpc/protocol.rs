//! JSON-RPC 2.0 wire types and the parser of a request body.
//!
//! A body is parsed once into a [`serde_json::Value`] (serde_json's recursion limit of
//! 128 turns deeply nested input into a parse error instead of a stack overflow), then
//! each request object is checked by hand so that an invalid request still gets its id
//! echoed when that id is valid.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Number, Value, json};

/// The error codes this server uses. Application (chain) methods choose theirs in
/// `-32000..=-32099`, avoiding the ones below.
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON sent is not a valid request object (or batch).
    pub const INVALID_REQUEST: i64 = -32600;
    /// The method does not exist.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid method parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error: the handler panicked or its result could not be serialized.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The request did not finish within the server's request timeout.
    pub const REQUEST_TIMEOUT: i64 = -32001;
    /// Too many requests are in flight; retry later.
    pub const SERVER_BUSY: i64 = -32005;
    /// A batch entry's answer did not fit the batch's response: the call ran, its answer
    /// was dropped.
    pub const RESPONSE_TOO_LARGE: i64 = -32006;
    /// The lowest code of the application range.
    pub const APPLICATION_MIN: i64 = -32099;
    /// The highest code of the application range.
    pub const APPLICATION_MAX: i64 = -32000;
}

/// A request id: a number, a string or null, echoed exactly in the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// A numeric id (fractional ids are accepted and echoed).
    Number(Number),
    /// A string id.
    String(String),
    /// An explicit `null` id (allowed, discouraged by the specification).
    Null,
}

impl Id {
    /// The id of a request object's `id` member, if that member is a valid id.
    fn from_value(value: &Value) -> Option<Id> {
        match value {
            Value::Number(n) => Some(Id::Number(n.clone())),
            Value::String(s) => Some(Id::String(s.clone())),
            Value::Null => Some(Id::Null),
            _ => None,
        }
    }
}

/// The parameters of a call: absent, by position, or by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Params {
    /// No `params` member (or `"params": null`).
    #[default]
    None,
    /// By-position parameters.
    Array(Vec<Value>),
    /// By-name parameters.
    Object(Map<String, Value>),
}

/// A valid request object.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method name.
    pub method: String,
    /// The parameters.
    pub params: Params,
    /// The id, or `None` for a notification (no `id` member), which gets no response.
    pub id: Option<Id>,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("JSON-RPC error {code}: {message}")]
pub struct RpcError {
    /// The error code (see [`codes`]).
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Structured detail, omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with any code, message and data.
    pub fn new(code: i64, message: impl Into<String>, data: Option<Value>) -> Self {
        Self {
            code,
            message: message.into(),
            data,
        }
    }

    /// -32700: the body is not valid JSON; `data.reason` says why.
    pub fn parse_error(reason: impl ToString) -> Self {
        Self::new(
            codes::PARSE_ERROR,
            "Parse error",
            Some(json!({ "reason": reason.to_string() })),
        )
    }

    /// -32600: not a valid request object or batch; `data.reason` says why.
    pub fn invalid_request(reason: impl ToString) -> Self {
        Self::new(
            codes::INVALID_REQUEST,
            "Invalid Request",
            Some(json!({ "reason": reason.to_string() })),
        )
    }

    /// -32601: no such method; `data.method` names it.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            codes::METHOD_NOT_FOUND,
            "Method not found",
            Some(json!({ "method": method })),
        )
    }

    /// -32602: bad parameters; `data` is `{"param": name or null, "reason": ...}`.
    pub fn invalid_params(param: Option<&str>, reason: impl ToString) -> Self {
        Self::new(
            codes::INVALID_PARAMS,
            "Invalid params",
            Some(json!({ "param": param, "reason": reason.to_string() })),
        )
    }

    /// -32603: an internal failure; `data.reason` says what failed.
    pub fn internal(reason: impl ToString) -> Self {
        Self::new(
            codes::INTERNAL_ERROR,
            "Internal error",
            Some(json!({ "reason": reason.to_string() })),
        )
    }

    /// An application error, with `code` in `-32000..=-32099` (checked in debug builds;
    /// see [`codes`] for the three codes the server itself uses in that range).
    pub fn application(code: i64, message: impl Into<String>, data: Option<Value>) -> Self {
        debug_assert!(
            (codes::APPLICATION_MIN..=codes::APPLICATION_MAX).contains(&code),
            "application error code {code} outside -32099..=-32000"
        );
        Self::new(code, message, data)
    }

    /// -32001: the request timed out after `timeout_ms` milliseconds.
    pub fn request_timeout(timeout_ms: u128) -> Self {
        Self::new(
            codes::REQUEST_TIMEOUT,
            "request timed out",
            Some(json!({ "timeout_ms": timeout_ms })),
        )
    }

    /// -32005: more than `max_concurrent` requests are in flight.
    pub fn server_busy(max_concurrent: usize) -> Self {
        Self::new(
            codes::SERVER_BUSY,
            "server busy",
            Some(json!({ "reason": "max_concurrent", "max_concurrent": max_concurrent })),
        )
    }

    /// -32006 for a batch entry whose answer would take the batch's response past
    /// `RpcLimits::max_response_bytes` (`ran`: the call ran, and unlike -32005 nothing
    /// is to be sent again blindly: a transaction it submitted may be admitted), or that
    /// was not started because the response was already full (`ran: false`).
    pub fn response_too_large(max_response_bytes: usize, ran: bool) -> Self {
        Self::new(
            codes::RESPONSE_TOO_LARGE,
            "response too large",
            Some(json!({
                "reason": "max_response_bytes",
                "max_response_bytes": max_response_bytes,
                "ran": ran,
            })),
        )
    }

    /// -32005 when the bodies in flight fill `RpcLimits::max_inflight_body_bytes`.
    pub fn body_budget_full(max_inflight_body_bytes: usize) -> Self {
        Self::new(
            codes::SERVER_BUSY,
            "server busy",
            Some(json!({
                "reason": "max_inflight_body_bytes",
                "max_inflight_body_bytes": max_inflight_body_bytes,
            })),
        )
    }
}

/// A response object: a result or an error, with the request's id (null when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The result or the error.
    pub outcome: Result<Value, RpcError>,
    /// The id of the request answered, or [`Id::Null`].
    pub id: Id,
}

impl Response {
    /// A success response.
    pub fn result(id: Id, result: Value) -> Self {
        Self {
            outcome: Ok(result),
            id,
        }
    }

    /// An error response.
    pub fn error(id: Id, error: RpcError) -> Self {
        Self {
            outcome: Err(error),
            id,
        }
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("jsonrpc", "2.0")?;
        match &self.outcome {
            Ok(result) => map.serialize_entry("result", result)?,
            Err(error) => map.serialize_entry("error", error)?,
        }
        map.serialize_entry("id", &self.id)?;
        map.end()
    }
}

/// One entry of a message: a valid request, or the error response an invalid one gets.
pub type Entry = Result<Request, Response>;

/// A parsed body.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A single request object.
    Single(Entry),
    /// A non-empty batch of at most `max_batch` entries.
    Batch(Vec<Entry>),
}

/// Parses a body as one request or a batch of at most `max_batch` entries.
///
/// `Err` is the single error response the whole body gets: -32700 for invalid JSON,
/// -32600 for an empty or oversized batch or a body that is neither object nor array.
pub fn parse_message(body: &[u8], max_batch: usize) -> Result<Message, Response> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Response::error(Id::Null, RpcError::parse_error(e)))?;
    match value {
        Value::Array(items) if items.is_empty() => Err(Response::error(
            Id::Null,
            RpcError::invalid_request("empty batch"),
        )),
        Value::Array(items) if items.len() > max_batch => Err(Response::error(
            Id::Null,
            RpcError::new(
                codes::INVALID_REQUEST,
                "Invalid Request",
                Some(json!({
                    "reason": "batch too large",
                    "max_batch": max_batch,
                    "got": items.len(),
                })),
            ),
        )),
        Value::Array(items) => Ok(Message::Batch(items.into_iter().map(parse_entry).collect())),
        other => Ok(Message::Single(parse_entry(other))),
    }
}

/// Checks one request object.
fn parse_entry(value: Value) -> Entry {
    let Value::Object(mut obj) = value else {
        return Err(Response::error(
            Id::Null,
            RpcError::invalid_request("a request must be a JSON object"),
        ));
    };
    // A present but malformed id is answered with null; an absent one marks a notification.
    let (id, id_error) = match obj.remove("id") {
        None => (None, None),
        Some(v) => match Id::from_value(&v) {
            Some(id) => (Some(id), None),
            None => (None, Some("id must be a number, a string or null")),
        },
    };
    let fail = |reason: &str| {
        Err(Response::error(
            id.clone().unwrap_or(Id::Null),
            RpcError::invalid_request(reason),
        ))
    };
    if let Some(reason) = id_error {
        return fail(reason);
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return fail("jsonrpc must be exactly \"2.0\"");
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => return fail("method must be a string"),
        None => return fail("missing method"),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Params::None,
        Some(Value::Array(a)) => Params::Array(a),
        Some(Value::Object(o)) => Params::Object(o),
        Some(_) => return fail("params must be an array or an object"),
    };
    Ok(Request { method, params, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Entry {
        match parse_message(body.as_bytes(), 10) {
            Ok(Message::Single(e)) => e,
            other => panic!("expected a single entry, got {other:?}"),
        }
    }

    fn code(r: &Response) -> i64 {
        r.outcome.as_ref().err().map_or(0, |e| e.code)
    }

    #[test]
    fn valid_request_and_notification() {
        let r = single(r#"{"jsonrpc":"2.0","method":"m","params":[1],"id":"x"}"#);
        assert_eq!(
            r,
            Ok(Request {
                method: "m".into(),
                params: Params::Array(vec![json!(1)]),
                id: Some(Id::String("x".into())),
            })
        );
        let n = single(r#"{"jsonrpc":"2.0","method":"m"}"#);
        assert_eq!(n.map(|r| r.id), Ok(None));
    }

    #[test]
    fn invalid_requests_echo_valid_ids() {
        let e = single(r#"{"jsonrpc":"1.0","method":"m","id":7}"#).unwrap_err();
        assert_eq!(
            (code(&e), e.id),
            (codes::INVALID_REQUEST, Id::Number(7.into()))
        );
        let e = single(r#"{"jsonrpc":"2.0","method":"m","id":{}}"#).unwrap_err();
        assert_eq!((code(&e), e.id), (codes::INVALID_REQUEST, Id::Null));
        let e = single(r#"{"jsonrpc":"2.0","method":"m","params":3,"id":null}"#).unwrap_err();
        assert_eq!((code(&e), e.id), (codes::INVALID_REQUEST, Id::Null));
    }

    #[test]
    fn whole_body_errors() {
        let e = parse_message(b"[]", 10).unwrap_err();
        assert_eq!(code(&e), codes::INVALID_REQUEST);
        let e = parse_message(b"{", 10).unwrap_err();
        assert_eq!(code(&e), codes::PARSE_ERROR);
        let big = format!("[{}1]", "1,".repeat(10));
        assert_eq!(
            code(&parse_message(big.as_bytes(), 10).unwrap_err()),
            codes::INVALID_REQUEST
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            code(&parse_message(deep.as_bytes(), 10).unwrap_err()),
            codes::PARSE_ERROR
        );
    }

    #[test]
    fn response_wire_form() {
        let ok = Response::result(Id::Number(1.into()), json!(3));
        assert_eq!(
            serde_json::to_value(&ok).ok(),
            Some(json!({"jsonrpc":"2.0","result":3,"id":1}))
        );
        let err = Response::error(Id::Null, RpcError::new(-32000, "x", None));
        assert_eq!(
            serde_json::to_value(&err).ok(),
            Some(json!({"jsonrpc":"2.0","error":{"code":-32000,"message":"x"},"id":null}))
        );
    }
}
