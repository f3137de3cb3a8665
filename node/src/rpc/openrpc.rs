//! The OpenRPC 1.2.6 document that `rpc.discover` returns, generated from the registry.

use serde_json::{Map, Value, json};

use super::protocol::codes;
use super::registry::{MethodSpec, Registry};

/// The OpenRPC version of the generated document.
pub const OPENRPC_VERSION: &str = "1.2.6";

/// The spec of the built-in `rpc.discover` method.
pub fn discover_spec() -> MethodSpec {
    MethodSpec::new(
        "rpc.discover",
        "Returns the OpenRPC document describing this server.",
    )
    .description(
        "The document lists every method with its parameters, result and application \
             errors; `components.errors` lists the errors any call may return.",
    )
    .result(
        "OpenRPC document",
        json!({
            "type": "object",
            "required": ["openrpc", "info", "methods"],
            "properties": {
                "openrpc": {"type": "string"},
                "info": {"type": "object"},
                "methods": {"type": "array"},
                "components": {"type": "object"}
            }
        }),
    )
}

/// The OpenRPC document of `registry` (which should already hold `rpc.discover`).
pub fn document(registry: &Registry) -> Value {
    json!({
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": registry.title(),
            "version": registry.version(),
            "description": "JSON-RPC 2.0 over HTTP POST /; see docs/rpc.md for the transport contract.",
        },
        "methods": registry.specs().map(method).collect::<Vec<_>>(),
        "components": { "errors": common_errors() },
    })
}

/// One Method Object.
fn method(spec: &MethodSpec) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(spec.name));
    m.insert("summary".into(), json!(spec.summary));
    if !spec.description.is_empty() {
        m.insert("description".into(), json!(spec.description));
    }
    m.insert("paramStructure".into(), json!("either"));
    let params: Vec<Value> = spec
        .params
        .iter()
        .map(|p| {
            let mut d = Map::new();
            d.insert("name".into(), json!(p.name));
            if !p.description.is_empty() {
                d.insert("description".into(), json!(p.description));
            }
            d.insert("required".into(), json!(p.required));
            d.insert("schema".into(), p.schema.clone());
            Value::Object(d)
        })
        .collect();
    m.insert("params".into(), Value::Array(params));
    m.insert(
        "result".into(),
        json!({"name": spec.result.name, "schema": spec.result.schema}),
    );
    if !spec.errors.is_empty() {
        let errors: Vec<Value> = spec
            .errors
            .iter()
            .map(|e| json!({"code": e.code, "message": e.message}))
            .collect();
        m.insert("errors".into(), Value::Array(errors));
    }
    Value::Object(m)
}

/// The errors every call may get, as `components.errors`.
fn common_errors() -> Value {
    json!({
        "ParseError": {"code": codes::PARSE_ERROR, "message": "Parse error"},
        "InvalidRequest": {"code": codes::INVALID_REQUEST, "message": "Invalid Request"},
        "MethodNotFound": {"code": codes::METHOD_NOT_FOUND, "message": "Method not found"},
        "InvalidParams": {"code": codes::INVALID_PARAMS, "message": "Invalid params"},
        "InternalError": {"code": codes::INTERNAL_ERROR, "message": "Internal error"},
        "RequestTimedOut": {"code": codes::REQUEST_TIMEOUT, "message": "request timed out"},
        "ServerBusy": {"code": codes::SERVER_BUSY, "message": "server busy"},
        "ResponseTooLarge": {"code": codes::RESPONSE_TOO_LARGE, "message": "response too large"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::registry::{Handler, ParamSpec};
    use std::sync::Arc;

    #[test]
    fn lists_methods_and_params() {
        let mut r = Registry::new("T", "0.1");
        let h: Handler = Arc::new(|_| Box::pin(async { Ok(Value::Null) }));
        let spec = MethodSpec::new("m", "does m")
            .param(ParamSpec::required("x", "an x", json!({"type": "integer"})))
            .error(-32010, "bad x");
        assert!(r.register_raw(spec, h.clone()).is_ok());
        assert!(r.insert(discover_spec(), h).is_ok());
        let doc = document(&r);
        assert_eq!(doc["openrpc"], "1.2.6");
        assert_eq!(doc["info"]["title"], "T");
        assert_eq!(doc["methods"][0]["name"], "m");
        assert_eq!(doc["methods"][0]["params"][0]["required"], true);
        assert_eq!(doc["methods"][0]["errors"][0]["code"], -32010);
        assert_eq!(doc["methods"][1]["name"], "rpc.discover");
    }
}
