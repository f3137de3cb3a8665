//! The method registry: each method's [`MethodSpec`] (which also feeds `rpc.discover`)
//! and its async handler.
//!
//! Typed handlers take a `serde::Deserialize` struct whose fields are the spec's
//! parameters: by-name params are checked against the spec (unknown or missing required
//! names are -32602), by-position params are mapped to names in the spec's order, and a
//! failed deserialization is -32602 with `data: {"param": ..., "reason": ...}`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::protocol::{Params, RpcError};

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, RpcError>> + Send>>;

/// A type-erased handler: raw params in, JSON result or error out.
pub type Handler = Arc<dyn Fn(Params) -> HandlerFuture + Send + Sync>;

/// One parameter of a method.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The name, equal to the params struct's (serde) field name.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Whether it must be given. Required parameters come before optional ones.
    pub required: bool,
    /// Its JSON Schema.
    pub schema: Value,
}

impl ParamSpec {
    /// A required parameter.
    pub fn required(
        name: impl Into<String>,
        description: impl Into<String>,
        schema: Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            required: true,
            schema,
        }
    }

    /// An optional parameter (its struct field should be an `Option` or `#[serde(default)]`).
    pub fn optional(
        name: impl Into<String>,
        description: impl Into<String>,
        schema: Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            required: false,
            schema,
        }
    }
}

/// The result of a method.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSpec {
    /// A name for the result.
    pub name: String,
    /// Its JSON Schema.
    pub schema: Value,
}

/// An application error a method may return.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSpec {
    /// The code, in `-32000..=-32099`.
    pub code: i64,
    /// What it means.
    pub message: String,
}

/// The description of a method, published by `rpc.discover`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSpec {
    /// The method name, e.g. `chain_getBlock`. Names starting with `rpc.` are reserved.
    pub name: String,
    /// A one-line summary.
    pub summary: String,
    /// A longer description (may be empty).
    pub description: String,
    /// The parameters, in by-position order.
    pub params: Vec<ParamSpec>,
    /// The result.
    pub result: ResultSpec,
    /// The application errors it may return.
    pub errors: Vec<ErrorSpec>,
}

impl MethodSpec {
    /// A method with no parameters, a `null` result and no application errors; add them
    /// with the builder methods below.
    pub fn new(name: impl Into<String>, summary: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            summary: summary.into(),
            description: String::new(),
            params: Vec::new(),
            result: ResultSpec {
                name: "result".into(),
                schema: serde_json::json!({"type": "null"}),
            },
            errors: Vec::new(),
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Appends a parameter.
    pub fn param(mut self, param: ParamSpec) -> Self {
        self.params.push(param);
        self
    }

    /// Sets the result's name and schema.
    pub fn result(mut self, name: impl Into<String>, schema: Value) -> Self {
        self.result = ResultSpec {
            name: name.into(),
            schema,
        };
        self
    }

    /// Adds an application error the method may return.
    pub fn error(mut self, code: i64, message: impl Into<String>) -> Self {
        self.errors.push(ErrorSpec {
            code,
            message: message.into(),
        });
        self
    }
}

/// Why a method could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A method with this name is already registered.
    #[error("method {0} is already registered")]
    Duplicate(String),
    /// Names starting with `rpc.` are reserved by JSON-RPC 2.0.
    #[error("method name {0} is reserved (rpc.*)")]
    Reserved(String),
    /// Two parameters share a name, or a required one follows an optional one.
    #[error("method {method}: {reason}")]
    BadParams {
        /// The method.
        method: String,
        /// What is wrong.
        reason: String,
    },
}

/// A registered method.
#[derive(Clone)]
pub struct Method {
    /// Its description.
    pub spec: Arc<MethodSpec>,
    /// Its handler.
    pub handler: Handler,
}

/// The methods a server serves, keyed by name.
#[derive(Clone)]
pub struct Registry {
    title: String,
    version: String,
    methods: BTreeMap<String, Method>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("title", &self.title)
            .field("version", &self.version)
            .field("methods", &self.methods.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry; `title` and `version` go to the OpenRPC document's `info`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            methods: BTreeMap::new(),
        }
    }

    /// Registers a typed handler: `P` is read from the params as described in the module
    /// docs, and the handler's `Ok` value is serialized as the result.
    ///
    /// ```
    /// # use supervm_node::rpc::{Registry, MethodSpec, ParamSpec, RpcError};
    /// # use serde_json::json;
    /// #[derive(serde::Deserialize)]
    /// struct Add { a: i64, b: i64 }
    /// let mut registry = Registry::new("demo", "1");
    /// registry.register(
    ///     MethodSpec::new("test.add", "Adds two integers.")
    ///         .param(ParamSpec::required("a", "first", json!({"type": "integer"})))
    ///         .param(ParamSpec::required("b", "second", json!({"type": "integer"})))
    ///         .result("sum", json!({"type": "integer"})),
    ///     |p: Add| async move { Ok::<_, RpcError>(p.a + p.b) },
    /// )?;
    /// # Ok::<(), supervm_node::rpc::RegistryError>(())
    /// ```
    pub fn register<P, R, F, Fut>(
        &mut self,
        spec: MethodSpec,
        handler: F,
    ) -> Result<(), RegistryError>
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let param_specs: Arc<[ParamSpec]> = spec.params.clone().into();
        let erased: Handler = Arc::new(move |params: Params| -> HandlerFuture {
            let typed = decode_params::<P>(&param_specs, params).map(&handler);
            Box::pin(async move {
                let value = typed?.await?;
                serde_json::to_value(value)
                    .map_err(|e| RpcError::internal(format!("result not serializable: {e}")))
            })
        });
        self.register_raw(spec, erased)
    }

    /// Registers a handler that receives the raw params.
    pub fn register_raw(
        &mut self,
        spec: MethodSpec,
        handler: Handler,
    ) -> Result<(), RegistryError> {
        if spec.name.starts_with("rpc.") {
            return Err(RegistryError::Reserved(spec.name));
        }
        check_params(&spec)?;
        self.insert(spec, handler)
    }

    /// Inserts without the reserved-name check (for the built-in `rpc.discover`).
    pub(crate) fn insert(
        &mut self,
        spec: MethodSpec,
        handler: Handler,
    ) -> Result<(), RegistryError> {
        if self.methods.contains_key(&spec.name) {
            return Err(RegistryError::Duplicate(spec.name));
        }
        let name = spec.name.clone();
        self.methods.insert(
            name,
            Method {
                spec: Arc::new(spec),
                handler,
            },
        );
        Ok(())
    }

    /// The method called `name`.
    pub fn get(&self, name: &str) -> Option<&Method> {
        self.methods.get(name)
    }

    /// The registered specs, by name.
    pub fn specs(&self) -> impl Iterator<Item = &MethodSpec> {
        self.methods.values().map(|m| &*m.spec)
    }

    /// The title given to [`Registry::new`].
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The version given to [`Registry::new`].
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Rejects duplicate parameter names and a required parameter after an optional one
/// (which by-position calls could not express; OpenRPC forbids it too).
fn check_params(spec: &MethodSpec) -> Result<(), RegistryError> {
    let bad = |reason: String| RegistryError::BadParams {
        method: spec.name.clone(),
        reason,
    };
    let mut seen_optional = false;
    for (i, p) in spec.params.iter().enumerate() {
        if spec.params[..i].iter().any(|q| q.name == p.name) {
            return Err(bad(format!("parameter {} appears twice", p.name)));
        }
        if p.required && seen_optional {
            return Err(bad(format!(
                "required parameter {} follows an optional one",
                p.name
            )));
        }
        seen_optional |= !p.required;
    }
    Ok(())
}

/// Turns raw params into the by-name object the spec describes, then into `P`.
pub(super) fn decode_params<P: DeserializeOwned>(
    specs: &[ParamSpec],
    params: Params,
) -> Result<P, RpcError> {
    let mut object = match params {
        Params::None => Map::new(),
        Params::Object(object) => {
            if let Some(unknown) = object.keys().find(|k| !specs.iter().any(|s| &s.name == *k)) {
                return Err(RpcError::invalid_params(
                    Some(unknown.as_str()),
                    "unknown parameter",
                ));
            }
            object
        }
        Params::Array(values) => {
            if values.len() > specs.len() {
                return Err(RpcError::invalid_params(
                    None,
                    format!(
                        "too many positional parameters: expected at most {}, got {}",
                        specs.len(),
                        values.len()
                    ),
                ));
            }
            specs.iter().map(|s| s.name.clone()).zip(values).collect()
        }
    };
    // `null` for an optional param (by position or by name) means "not given".
    object.retain(|name, v| !(v.is_null() && specs.iter().any(|s| &s.name == name && !s.required)));
    if let Some(missing) = specs
        .iter()
        .find(|s| s.required && !object.contains_key(&s.name))
    {
        return Err(RpcError::invalid_params(
            Some(missing.name.as_str()),
            "missing required parameter",
        ));
    }
    let empty = object.is_empty();
    match serde_path_to_error::deserialize::<_, P>(Value::Object(object)) {
        Ok(p) => Ok(p),
        Err(e) => {
            // `()` and unit structs deserialize from null, not from `{}`.
            if empty && let Ok(p) = serde_json::from_value::<P>(Value::Null) {
                return Ok(p);
            }
            let reason = e.inner().to_string();
            let param = match e.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => missing_field(&reason),
            };
            Err(RpcError::invalid_params(param.as_deref(), reason))
        }
    }
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(reason: &str) -> Option<String> {
    let rest = reason.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct P {
        a: u64,
        b: Option<String>,
    }

    fn specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec::required("a", "", json!({"type": "integer"})),
            ParamSpec::optional("b", "", json!({"type": "string"})),
        ]
    }

    fn data(e: RpcError) -> Value {
        assert_eq!(e.code, -32602);
        e.data.unwrap_or_default()
    }

    #[test]
    fn by_name_and_by_position() {
        let obj = Params::Object(json!({"a": 1}).as_object().cloned().unwrap_or_default());
        assert_eq!(decode_params::<P>(&specs(), obj), Ok(P { a: 1, b: None }));
        let arr = Params::Array(vec![json!(2), json!("x")]);
        assert_eq!(
            decode_params::<P>(&specs(), arr),
            Ok(P {
                a: 2,
                b: Some("x".into())
            })
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = decode_params::<P>(&specs(), Params::Array(vec![json!("no")])).unwrap_err();
        assert_eq!(data(e)["param"], "a");
        let e = decode_params::<P>(&specs(), Params::None).unwrap_err();
        assert_eq!(
            data(e),
            json!({"param": "a", "reason": "missing required parameter"})
        );
        let obj = Params::Object(
            json!({"a": 1, "c": 2})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(
            data(decode_params::<P>(&specs(), obj).unwrap_err())["param"],
            "c"
        );
        let arr = Params::Array(vec![json!(1), json!("x"), json!(3)]);
        assert_eq!(
            data(decode_params::<P>(&specs(), arr).unwrap_err())["param"],
            Value::Null
        );
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Defaults {
        a: u64,
        #[serde(default)]
        wait: bool,
        #[serde(default)]
        topics: Vec<String>,
    }

    #[test]
    fn null_skips_an_optional_param() {
        let specs = vec![
            ParamSpec::required("a", "", json!({"type": "integer"})),
            ParamSpec::optional("wait", "", json!({"type": "boolean"})),
            ParamSpec::optional("topics", "", json!({"type": "array"})),
        ];
        let expected = Defaults {
            a: 1,
            wait: false,
            topics: vec![],
        };
        let arr = Params::Array(vec![json!(1), Value::Null, Value::Null]);
        assert_eq!(decode_params::<Defaults>(&specs, arr), Ok(expected));
        let obj = Params::Object(
            json!({"a": 1, "wait": null, "topics": ["x"]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(
            decode_params::<Defaults>(&specs, obj),
            Ok(Defaults {
                a: 1,
                wait: false,
                topics: vec!["x".into()],
            })
        );
        // A required param is never skipped: null there is a type error naming it.
        let e = decode_params::<Defaults>(&specs, Params::Array(vec![Value::Null])).unwrap_err();
        assert_eq!(data(e)["param"], "a");
    }

    #[test]
    fn unit_params() {
        assert_eq!(decode_params::<()>(&[], Params::None), Ok(()));
        assert_eq!(decode_params::<()>(&[], Params::Array(vec![])), Ok(()));
    }

    #[test]
    fn spec_checks() {
        let mut r = Registry::new("t", "1");
        let h: Handler = Arc::new(|_| Box::pin(async { Ok(Value::Null) }));
        assert!(r.register_raw(MethodSpec::new("a", ""), h.clone()).is_ok());
        assert!(matches!(
            r.register_raw(MethodSpec::new("a", ""), h.clone()),
            Err(RegistryError::Duplicate(_))
        ));
        assert!(matches!(
            r.register_raw(MethodSpec::new("rpc.x", ""), h.clone()),
            Err(RegistryError::Reserved(_))
        ));
        let bad = MethodSpec::new("b", "")
            .param(ParamSpec::optional("x", "", json!({})))
            .param(ParamSpec::required("y", "", json!({})));
        assert!(matches!(
            r.register_raw(bad, h),
            Err(RegistryError::BadParams { .. })
        ));
    }
}
