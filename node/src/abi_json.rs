//! Contract arguments and results as JSON, typed by the interface the SDK embeds
//! (`docs/abi.md`): the CLI takes arguments by name and prints decoded results and
//! events.
//!
//! JSON forms: integers as numbers or decimal strings (128-bit ones print as strings),
//! `bool`, `Address` / `[u8; N]` / `Vec<u8>` as hex strings, `String`, `Option<T>` as
//! `null` or `T` (or `[T]` when `T` can itself be `null`: `Option<Option<u8>>` is `null`,
//! `[null]` or `[5]`), `Vec<T>` and tuples as arrays, `()` as `null`; a struct the
//! interface describes (`#[derive(Encode, Decode)]`) as an object by field name (an
//! array for a tuple struct), an enum as its variant's name when it has no fields, else
//! `{"Variant": fields}` (an object by name, or an array for a tuple variant; a
//! one-field tuple variant or struct also takes its value alone when that value is not
//! itself an array or object: `{"Reverted": 7}`).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use supervm_abi::codec::{Decode, Encode, take};
use supervm_vm::interface::{Field, Function, Interface, TypeDef};

/// The struct and enum types an interface describes (`Interface::types`), by which
/// values of those types are encoded and decoded, and the names it left ambiguous;
/// optionally the key names an `Address` may be given by (the CLI's keys).
#[derive(Clone, Copy)]
pub struct Types<'a> {
    iface: Option<&'a Interface>,
    names: Option<&'a BTreeMap<String, Option<[u8; 32]>>>,
}

impl<'a> Types<'a> {
    /// No described types (builtin types only).
    pub const NONE: Types<'static> = Types {
        iface: None,
        names: None,
    };

    /// The types `i` describes.
    pub fn of(i: &'a Interface) -> Self {
        Types {
            iface: Some(i),
            names: None,
        }
    }

    /// These types, with an `Address` also given by one of `names` (`None`: a name two
    /// keys share, refused as ambiguous). As for the CLI's address arguments: `0x`-text
    /// and 64 hex digits are an address, anything else a key name.
    pub fn with_names(self, names: &'a BTreeMap<String, Option<[u8; 32]>>) -> Self {
        Types {
            names: Some(names),
            ..self
        }
    }

    fn get(&self, name: &str) -> Option<&'a TypeDef> {
        self.iface?.type_def(name)
    }

    /// The error for a type that is neither builtin nor described.
    fn unsupported(&self, name: &str) -> String {
        let ambiguous = self
            .iface
            .is_some_and(|i| i.ambiguous_types.iter().any(|a| a == name));
        let name = &short(name);
        if ambiguous {
            format!(
                "ambiguous type {name}: the contract describes two different types of that \
                 name (give the arguments encoded, as 0x-hex)"
            )
        } else {
            format!(
                "unsupported type {name}: the contract's interface does not describe it (a type \
                 alias or a generic type in the signature? the SDK describes the types that \
                 derive Encode and Decode; give the arguments encoded, as 0x-hex)"
            )
        }
    }
}

/// Deepest nesting of values encoded or decoded (a contract's interface could name a
/// recursive type, or a type nested a hundred thousand deep: recursion would end the
/// stack).
const MAX_DEPTH: usize = 128;

/// Most values decoded from one buffer (hostile return data could otherwise make a
/// `Vec` of a type that decodes from no bytes count to four billion).
const MAX_VALUES: usize = 1_000_000;

fn too_deep(ty: &str) -> String {
    format!("{}: nested deeper than {MAX_DEPTH}", short(ty))
}

/// `ty` for an error message: a hostile type string is cut to its first 60 characters.
fn short(ty: &str) -> String {
    match ty.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &ty[..at]),
        None => ty.to_string(),
    }
}

/// Whether a value of type `ty` may be JSON `null` (`()`, an `Option`): an `Option` of
/// it writes `Some(x)` as `[x]`.
fn nullable(ty: &str) -> bool {
    ty == "()" || ty.starts_with("Option<")
}

/// Whether fields are a tuple's (named by position).
fn is_tuple(fields: &[Field]) -> bool {
    !fields.is_empty()
        && fields
            .iter()
            .enumerate()
            .all(|(i, f)| f.name == i.to_string())
}

/// Parses JSON arguments as `serde_json::from_str` does, but refuses an object that
/// names a key twice (serde_json keeps the last silently: `{"amount":1,"amount":100}`
/// would pay 100).
pub fn parse_strict(s: &str) -> Result<Value, serde_json::Error> {
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    struct Strict(Value);
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
            Ok(Value::Bool(b))
        }
        fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
            Ok(n.into())
        }
        fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
            Ok(n.into())
        }
        fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
            Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
        }
        fn visit_str<E>(self, s: &str) -> Result<Value, E> {
            Ok(Value::String(s.into()))
        }
        fn visit_string<E>(self, s: String) -> Result<Value, E> {
            Ok(Value::String(s))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
            let mut v = Vec::new();
            while let Some(Strict(x)) = a.next_element()? {
                v.push(x);
            }
            Ok(Value::Array(v))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
            let mut m = serde_json::Map::new();
            while let Some(k) = a.next_key::<String>()? {
                if m.contains_key(&k) {
                    return Err(A::Error::custom(format!("key `{k}` given twice")));
                }
                let Strict(x) = a.next_value()?;
                m.insert(k, x);
            }
            Ok(Value::Object(m))
        }
    }
    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(V).map(Strict)
        }
    }
    serde_json::from_str::<Strict>(s).map(|Strict(v)| v)
}

/// Encodes `args` (a JSON object by field name, or an array in order) as the tuple of
/// `f`'s parameters.
pub fn encode_args(types: Types<'_>, f: &Function, args: &Value) -> Result<Vec<u8>, String> {
    encode_fields(types, &f.args, args)
}

/// Encodes a JSON object or array as the tuple of `fields`.
pub fn encode_fields(types: Types<'_>, fields: &[Field], args: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode_fields_to(types, fields, args, &mut out, 0)?;
    Ok(out)
}

fn encode_fields_to(
    types: Types<'_>,
    fields: &[Field],
    args: &Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    if fields.is_empty() {
        return match args {
            Value::Null => Ok(()),
            Value::Object(m) if m.is_empty() => Ok(()),
            Value::Array(a) if a.is_empty() => Ok(()),
            _ => Err(format!("expected no values (null, {{}} or []), got {args}")),
        };
    }
    // (a one-field tuple's value alone: `{"Some": 7}` for `{"Some": [7]}`)
    if let [only] = fields
        && is_tuple(fields)
        && !args.is_array()
        && !args.is_object()
    {
        return enc(types, &only.ty, args, out, depth + 1)
            .map_err(|e| format!("field 0 ({}): {e}", only.ty));
    }
    for (i, field) in fields.iter().enumerate() {
        let v = match args {
            Value::Object(m) => m
                .get(&field.name)
                .ok_or_else(|| format!("missing argument `{}` ({})", field.name, field.ty))?,
            Value::Array(a) => a
                .get(i)
                .ok_or_else(|| format!("missing argument {} `{}` ({})", i, field.name, field.ty))?,
            _ => return Err("arguments must be a JSON object (by name) or array".into()),
        };
        enc(types, &field.ty, v, out, depth + 1)
            .map_err(|e| format!("argument `{}`: {e}", field.name))?;
    }
    if let Value::Array(a) = args
        && a.len() > fields.len()
    {
        return Err(format!("{} values for {} fields", a.len(), fields.len()));
    }
    if let Value::Object(m) = args
        && let Some(extra) = m.keys().find(|k| !fields.iter().any(|f| &f.name == *k))
    {
        return Err(format!("unknown argument `{extra}`"));
    }
    Ok(())
}

/// The first type within `ty` (itself, an element, a field of a described type, at
/// any depth) that is neither builtin nor described by `types`: what no JSON value of
/// `ty` can be encoded or decoded through. `None` when every part is known.
pub fn undescribed(types: Types<'_>, ty: &str) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    undescribed_at(types, ty, &mut seen)
}

fn undescribed_at<'t>(
    types: Types<'t>,
    ty: &str,
    seen: &mut std::collections::BTreeSet<String>,
) -> Option<String> {
    const BUILTIN: [&str; 17] = [
        "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool", "()",
        "String", "&str", "Vec<u8>", "&[u8]", "Address",
    ];
    let inner = |prefix: &str| ty.strip_prefix(prefix).and_then(|t| t.strip_suffix('>'));
    let byte_array = ty
        .strip_prefix("[u8;")
        .and_then(|t| t.strip_suffix(']'))
        .is_some_and(|n| n.parse::<usize>().is_ok());
    if BUILTIN.contains(&ty) || byte_array {
        return None;
    }
    if let Some(t) = inner("Option<").or_else(|| inner("Vec<")) {
        return undescribed_at(types, t, seen);
    }
    if let Some(t) = ty.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        return split_top(t)
            .into_iter()
            .find_map(|p| undescribed_at(types, p, seen));
    }
    let Some(d) = types.get(ty) else {
        return Some(ty.to_string());
    };
    if !seen.insert(ty.to_string()) {
        return None; // (already being checked: a recursive type)
    }
    let variants = d.variants.iter().flatten().flat_map(|v| &v.fields);
    d.fields
        .iter()
        .chain(variants)
        .find_map(|f| undescribed_at(types, &f.ty, seen))
}

/// What the CLI cannot do with a contract's interface, one sentence each: a function
/// whose parameters or result name a type the interface does not describe (a type
/// alias or a generic type in the signature) cannot be called with arguments by name,
/// or its result decoded.
pub fn interface_problems(i: &Interface) -> Vec<String> {
    let types = Types::of(i);
    let mut out = Vec::new();
    for f in &i.functions {
        for a in &f.args {
            if let Some(t) = undescribed(types, &a.ty) {
                let why = if i.ambiguous_types.contains(&t) {
                    "which names two different types the contract describes (rename one)"
                } else {
                    "which the interface does not describe (a type alias, a generic type, or an \
                     array length given by a constant? name the type itself, or a struct \
                     deriving Encode and Decode)"
                };
                out.push(format!(
                    "function {}: parameter {} has type {t}, {why}: it can be called only with \
                     arguments encoded as 0x-hex",
                    f.name, a.name
                ));
            }
        }
        if let Some(t) = undescribed(types, &f.returns) {
            out.push(format!(
                "function {}: its result has type {t}, which the interface does not describe: \
                 it is shown as hex",
                f.name
            ));
        }
    }
    out
}

fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        parts.push(&s[start..]);
    }
    parts
}

fn int_of(v: &Value) -> Result<i128, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .ok_or_else(|| {
                if n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() >= 2f64.powi(63))
                {
                    // (serde_json reads an integer past u64::MAX as a float)
                    format!(
                        "{n} is past the 64-bit range of a JSON number here: give such \
                         integers as decimal strings, e.g. \"100000000000000000000\""
                    )
                } else {
                    format!("{n} is not an integer")
                }
            }),
        Value::String(s) => s.parse::<i128>().map_err(|e| int_text_error(s, "i128", &e)),
        _ => Err(format!("expected an integer, got {v}")),
    }
}

/// Why `s` is not an integer of type `ty`, in the user's terms.
fn int_text_error(s: &str, ty: &str, e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind::*;
    match e.kind() {
        PosOverflow | NegOverflow => format!("{s} does not fit {ty}"),
        Empty => format!("expected an integer ({ty}), got an empty string"),
        _ => format!("{s:?} is not a decimal integer ({ty})"),
    }
}

fn bytes_of(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => supervm_client::views::from_hex(s),
        _ => Err(format!("expected a hex string, got {v}")),
    }
}

/// Encodes one JSON value of type `ty`.
pub fn encode_value(
    types: Types<'_>,
    ty: &str,
    v: &Value,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    enc(types, ty, v, out, 0)
}

fn enc(
    types: Types<'_>,
    ty: &str,
    v: &Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(too_deep(ty));
    }
    macro_rules! int {
        ($t:ty) => {{
            let x: $t = match v {
                Value::String(s) => s.parse::<$t>().map_err(|e| int_text_error(s, ty, &e))?,
                _ => <$t>::try_from(int_of(v)?).map_err(|_| format!("{v} does not fit {}", ty))?,
            };
            x.encode_to(out);
        }};
    }
    match ty {
        "u8" => int!(u8),
        "u16" => int!(u16),
        "u32" => int!(u32),
        "u64" => int!(u64),
        "u128" => int!(u128),
        "i8" => int!(i8),
        "i16" => int!(i16),
        "i32" => int!(i32),
        "i64" => int!(i64),
        "i128" => int!(i128),
        "bool" => v
            .as_bool()
            .ok_or_else(|| format!("expected true/false, got {v}"))?
            .encode_to(out),
        "()" => {}
        "String" | "&str" => v
            .as_str()
            .ok_or_else(|| format!("expected a string, got {v}"))?
            .encode_to(out),
        "Vec<u8>" | "&[u8]" => bytes_of(v)?.encode_to(out),
        "Address" => {
            let named = |name: &str| {
                // (a name made of hex digits is a name, unless it is a whole address)
                let is_address =
                    name.starts_with("0x") || supervm_client::views::from_hex32(name).is_ok();
                types
                    .names
                    .filter(|_| !is_address)
                    .and_then(|n| n.get(name))
            };
            let b = match (v.as_str().and_then(named), bytes_of(v)) {
                (Some(Some(a)), _) => a.to_vec(),
                (Some(None), _) => {
                    return Err(format!(
                        "key name {:?} is ambiguous (two keys have it): give the address",
                        v.as_str().unwrap_or_default()
                    ));
                }
                (None, Ok(b)) => b,
                (None, Err(e)) => {
                    return Err(match v.as_str() {
                        Some(name) if !name.starts_with("0x") && types.names.is_some() => {
                            format!(
                                "expected an address (0x and 64 hex digits) or a key name, got \
                                 {name:?}: no key has that name (`supervm keys list`)"
                            )
                        }
                        Some(name) if !name.starts_with("0x") => format!(
                            "expected an address as 0x and 64 hex digits, got {name:?} (key \
                             names are not looked up here: `supervm keys list` shows their \
                             addresses)"
                        ),
                        _ => e,
                    });
                }
            };
            if b.len() != 32 {
                return Err(format!("an Address is 32 bytes, got {}", b.len()));
            }
            out.extend_from_slice(&b);
        }
        t if t.starts_with("[u8;") && t.ends_with(']') => {
            let n: usize = t[4..t.len() - 1]
                .parse()
                .map_err(|_| format!("unsupported type {}", short(t)))?;
            let b = bytes_of(v)?;
            if b.len() != n {
                return Err(format!("expected {n} bytes, got {}", b.len()));
            }
            out.extend_from_slice(&b);
        }
        t if t.starts_with("Option<") && t.ends_with('>') => {
            let inner = &t[7..t.len() - 1];
            if v.is_null() {
                out.push(0);
            } else if nullable(inner) {
                // (`Some(x)` as `[x]`: `x` may be null itself)
                let x = match v.as_array().map(Vec::as_slice) {
                    Some([x]) => x,
                    _ => {
                        return Err(format!(
                            "{}: null for None, or a one-element array [value] for Some \
                             (its value may be null itself), got {v}",
                            short(t)
                        ));
                    }
                };
                out.push(1);
                enc(types, inner, x, out, depth + 1)?;
            } else {
                out.push(1);
                enc(types, inner, v, out, depth + 1)?;
            }
        }
        t if t.starts_with("Vec<") && t.ends_with('>') => {
            let a = v
                .as_array()
                .ok_or_else(|| format!("expected an array, got {v}"))?;
            (a.len() as u32).encode_to(out);
            for x in a {
                enc(types, &t[4..t.len() - 1], x, out, depth + 1)?;
            }
        }
        t if t.starts_with('(') && t.ends_with(')') => {
            let parts = split_top(&t[1..t.len() - 1]);
            let a = v
                .as_array()
                .ok_or_else(|| format!("expected an array for {}, got {v}", short(t)))?;
            if a.len() != parts.len() {
                return Err(format!(
                    "{} has {} fields, got {}",
                    short(t),
                    parts.len(),
                    a.len()
                ));
            }
            for (p, x) in parts.iter().zip(a) {
                enc(types, p, x, out, depth + 1)?;
            }
        }
        t => match types.get(t) {
            Some(d) => encode_described(types, d, v, out, depth)?,
            None => return Err(types.unsupported(t)),
        },
    }
    Ok(())
}

/// Encodes a value of a described struct or enum type.
fn encode_described(
    types: Types<'_>,
    d: &TypeDef,
    v: &Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    let Some(variants) = &d.variants else {
        return encode_fields_to(types, &d.fields, v, out, depth)
            .map_err(|e| format!("{}: {e}", d.name));
    };
    let (name, fields) = match v {
        Value::String(s) => (s.as_str(), &Value::Null),
        Value::Object(m) if m.len() == 1 => {
            let (k, f) = m.iter().next().expect("one entry");
            (k.as_str(), f)
        }
        _ => {
            return Err(format!(
                "{}: expected a variant name, or {{\"Variant\": fields}}, got {v}",
                d.name
            ));
        }
    };
    let (tag, variant) = variants
        .iter()
        .enumerate()
        .find(|(_, x)| x.name == name)
        .ok_or_else(|| format!("{} has no variant {name}", d.name))?;
    out.push(u8::try_from(tag).map_err(|_| format!("{}: over 256 variants", d.name))?);
    encode_fields_to(types, &variant.fields, fields, out, depth)
        .map_err(|e| format!("{}::{name}: {e}", d.name))
}

/// Decodes a value of type `ty` from the front of `input`.
pub fn decode_value(types: Types<'_>, ty: &str, input: &mut &[u8]) -> Result<Value, String> {
    let mut left = MAX_VALUES;
    decode_at(types, ty, input, 0, &mut left)
}

fn decode_at(
    types: Types<'_>,
    ty: &str,
    input: &mut &[u8],
    depth: usize,
    left: &mut usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(too_deep(ty));
    }
    *left = left
        .checked_sub(1)
        .ok_or_else(|| format!("{}: more than {MAX_VALUES} values", short(ty)))?;
    let e = |x: supervm_abi::CodecError| format!("{}: {x:?}", short(ty));
    macro_rules! int {
        ($t:ty, $big:expr) => {{
            let x = <$t>::decode(input).map_err(e)?;
            if $big { json!(x.to_string()) } else { json!(x) }
        }};
    }
    Ok(match ty {
        "u8" => int!(u8, false),
        "u16" => int!(u16, false),
        "u32" => int!(u32, false),
        "u64" => int!(u64, false),
        "u128" => int!(u128, true),
        "i8" => int!(i8, false),
        "i16" => int!(i16, false),
        "i32" => int!(i32, false),
        "i64" => int!(i64, false),
        "i128" => int!(i128, true),
        "bool" => json!(bool::decode(input).map_err(e)?),
        "()" => Value::Null,
        "String" | "&str" => json!(String::decode(input).map_err(e)?),
        "Vec<u8>" | "&[u8]" => {
            let n = u32::decode(input).map_err(e)? as usize;
            json!(supervm_client::views::to_hex(take(input, n).map_err(e)?))
        }
        "Address" => json!(supervm_client::views::to_hex(take(input, 32).map_err(e)?)),
        t if t.starts_with("[u8;") && t.ends_with(']') => {
            let n: usize = t[4..t.len() - 1]
                .parse()
                .map_err(|_| format!("unsupported type {}", short(t)))?;
            json!(supervm_client::views::to_hex(take(input, n).map_err(e)?))
        }
        t if t.starts_with("Option<") && t.ends_with('>') => match u8::decode(input).map_err(e)? {
            0 => Value::Null,
            1 if nullable(&t[7..t.len() - 1]) => {
                json!([decode_at(
                    types,
                    &t[7..t.len() - 1],
                    input,
                    depth + 1,
                    left
                )?])
            }
            1 => decode_at(types, &t[7..t.len() - 1], input, depth + 1, left)?,
            _ => return Err(format!("{}: bad tag", short(t))),
        },
        t if t.starts_with("Vec<") && t.ends_with('>') => {
            let n = u32::decode(input).map_err(e)? as usize;
            let mut a = Vec::with_capacity(n.min(input.len()));
            for _ in 0..n {
                a.push(decode_at(
                    types,
                    &t[4..t.len() - 1],
                    input,
                    depth + 1,
                    left,
                )?);
            }
            Value::Array(a)
        }
        t if t.starts_with('(') && t.ends_with(')') => {
            let parts = split_top(&t[1..t.len() - 1]);
            let mut a = Vec::with_capacity(parts.len());
            for p in parts {
                a.push(decode_at(types, p, input, depth + 1, left)?);
            }
            Value::Array(a)
        }
        t => match types.get(t) {
            Some(d) => decode_described(types, d, input, depth + 1, left)?,
            None => return Err(types.unsupported(t)),
        },
    })
}

/// Decodes the tuple of `fields`: an object by name, an array for a tuple's.
fn decode_fields_at(
    types: Types<'_>,
    fields: &[Field],
    input: &mut &[u8],
    depth: usize,
    left: &mut usize,
) -> Result<Value, String> {
    if is_tuple(fields) {
        let mut a = Vec::with_capacity(fields.len());
        for f in fields {
            a.push(decode_at(types, &f.ty, input, depth, left)?);
        }
        return Ok(Value::Array(a));
    }
    let mut m = serde_json::Map::new();
    for f in fields {
        m.insert(f.name.clone(), decode_at(types, &f.ty, input, depth, left)?);
    }
    Ok(Value::Object(m))
}

/// Decodes a value of a described struct or enum type.
fn decode_described(
    types: Types<'_>,
    d: &TypeDef,
    input: &mut &[u8],
    depth: usize,
    left: &mut usize,
) -> Result<Value, String> {
    let Some(variants) = &d.variants else {
        return decode_fields_at(types, &d.fields, input, depth, left);
    };
    let tag = u8::decode(input).map_err(|e| format!("{}: {e}", d.name))?;
    let v = variants
        .get(usize::from(tag))
        .ok_or_else(|| format!("{}: no variant with tag {tag}", d.name))?;
    if v.fields.is_empty() {
        return Ok(json!(v.name));
    }
    Ok(json!({ &v.name: decode_fields_at(types, &v.fields, input, depth, left)? }))
}

/// Decodes a whole buffer as `ty`.
pub fn decode_all(types: Types<'_>, ty: &str, bytes: &[u8]) -> Result<Value, String> {
    let mut input = bytes;
    let v = decode_value(types, ty, &mut input)?;
    if !input.is_empty() {
        return Err(format!(
            "{} bytes left after decoding {}",
            input.len(),
            short(ty)
        ));
    }
    Ok(v)
}

/// Decodes the tuple of `fields` into a JSON object by field name.
pub fn decode_fields(types: Types<'_>, fields: &[Field], bytes: &[u8]) -> Result<Value, String> {
    let mut input = bytes;
    let mut left = MAX_VALUES;
    let v = decode_fields_at(types, fields, &mut input, 0, &mut left)?;
    if !input.is_empty() {
        return Err(format!("{} bytes left after the fields", input.len()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (ty, v) in [
            ("u128", json!("340282366920938463463374607431768211455")),
            ("u64", json!(7)),
            ("i32", json!(-5)),
            ("bool", json!(true)),
            ("String", json!("héllo")),
            ("Vec<u8>", json!("0x0102")),
            ("Address", json!(format!("0x{}", "ab".repeat(32)))),
            ("Option<u32>", json!(null)),
            ("Option<u32>", json!(9)),
            ("Vec<(u8,String)>", json!([[1, "a"], [2, "b"]])),
            ("()", json!(null)),
            // (an Option of what may be null: Some(x) as [x], so Some(None) is not None)
            ("Option<Option<u8>>", json!(null)),
            ("Option<Option<u8>>", json!([null])),
            ("Option<Option<u8>>", json!([5])),
            ("Option<()>", json!([null])),
        ] {
            let mut out = Vec::new();
            encode_value(Types::NONE, ty, &v, &mut out).unwrap();
            assert_eq!(decode_all(Types::NONE, ty, &out).unwrap(), v, "{ty}");
        }
        let mut out = Vec::new();
        encode_value(Types::NONE, "Option<Option<u8>>", &json!([null]), &mut out).unwrap();
        assert_eq!(out, Some(None::<u8>).encode());
        let e = encode_value(Types::NONE, "Option<Option<u8>>", &json!(5), &mut out).unwrap_err();
        assert!(e.contains("one-element array"), "{e}");
        let f = vec![
            Field {
                name: "to".into(),
                ty: "Address".into(),
            },
            Field {
                name: "amount".into(),
                ty: "u128".into(),
            },
        ];
        let by_name = encode_fields(
            Types::NONE,
            &f,
            &json!({"amount": 5, "to": format!("0x{}", "01".repeat(32))}),
        )
        .unwrap();
        let by_pos = encode_fields(
            Types::NONE,
            &f,
            &json!([format!("0x{}", "01".repeat(32)), "5"]),
        )
        .unwrap();
        assert_eq!(by_name, by_pos);
        assert!(encode_fields(Types::NONE, &f, &json!({"to": "0x00"})).is_err());
        assert!(
            encode_fields(
                Types::NONE,
                &f,
                &json!({"amount": 1, "to": format!("0x{}", "01".repeat(32)), "x": 1})
            )
            .is_err()
        );
        assert!(encode_value(Types::NONE, "u8", &json!(300), &mut vec![]).is_err());
        // An address in bare hex is taken as before.
        let mut bare = Vec::new();
        encode_value(Types::NONE, "Address", &json!("cd".repeat(32)), &mut bare).unwrap();
        assert_eq!(bare, vec![0xcd; 32]);
        // Key names, when given, stand for their addresses; hex is still an address.
        let names = BTreeMap::from([
            ("alice".to_string(), Some([7u8; 32])),
            ("cafe".to_string(), Some([8u8; 32])),
            ("twice".to_string(), None),
        ]);
        let with = Types::NONE.with_names(&names);
        let mut out = Vec::new();
        encode_value(with, "Address", &json!("alice"), &mut out).unwrap();
        encode_value(with, "Address", &json!("cd".repeat(32)), &mut out).unwrap();
        // (a name made of hex digits is still a name)
        encode_value(with, "Address", &json!("cafe"), &mut out).unwrap();
        assert_eq!(out, [[7u8; 32], [0xcd; 32], [8u8; 32]].concat());
        let twice = encode_value(with, "Address", &json!("twice"), &mut vec![]).unwrap_err();
        assert!(twice.contains("ambiguous"), "{twice}");
        let unknown = encode_value(with, "Address", &json!("bob"), &mut vec![]).unwrap_err();
        assert!(unknown.contains("no key has that name"), "{unknown}");
        // Integers given as text name the type they do not fit.
        let big = encode_value(
            Types::NONE,
            "u64",
            &json!("18446744073709551616"),
            &mut vec![],
        )
        .unwrap_err();
        assert_eq!(big, "18446744073709551616 does not fit u64");
        let word = encode_value(Types::NONE, "u8", &json!("ten"), &mut vec![]).unwrap_err();
        assert_eq!(word, "\"ten\" is not a decimal integer (u8)");
        // A key given twice is refused, not silently the last one.
        let twice = parse_strict(r#"{"to":"x","amount":1,"amount":100}"#).unwrap_err();
        assert!(
            twice.to_string().contains("key `amount` given twice"),
            "{twice}"
        );
        let nested = r#"[{"a":{"b":1,"c":[true,null,"s",-2,1.5]}}]"#;
        assert_eq!(
            parse_strict(nested).unwrap(),
            serde_json::from_str::<Value>(nested).unwrap()
        );
        // A key name where an address goes says what an address looks like.
        let named = encode_value(Types::NONE, "Address", &json!("dev1"), &mut vec![]).unwrap_err();
        assert!(
            named.contains("0x and 64 hex digits") && named.contains("keys list"),
            "{named}"
        );
    }

    /// Types the interface describes (`#[derive(Encode, Decode)]`) encode as the SDK's
    /// derive does (a struct its fields in order; an enum a tag byte, then fields) and
    /// decode back to the same JSON; a recursive type's depth is bounded.
    #[test]
    fn described_types_encode_like_the_derive() {
        use supervm_vm::interface::Interface;
        let i = Interface::parse(concat!(
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            "\n",
            r#"{"kind":"type","name":"Order","fields":[{"name":"owner","type":"Address"},{"name":"amount","type":"u128"},{"name":"note","type":"Option<String>"}]}"#,
            "\n",
            r#"{"kind":"type","name":"Pair","fields":[{"name":"0","type":"u32"},{"name":"1","type":"Vec<u8>"}]}"#,
            "\n",
            r#"{"kind":"type","name":"Action","variants":[{"name":"Stop","fields":[]},{"name":"Move","fields":[{"name":"0","type":"u64"},{"name":"1","type":"bool"}]},{"name":"Place","fields":[{"name":"order","type":"Order"},{"name":"at","type":"u16"}]}]}"#,
            "\n",
            r#"{"kind":"type","name":"Node","fields":[{"name":"kids","type":"Vec<Node>"}]}"#,
        ))
        .unwrap();
        let t = Types::of(&i);
        let owner = format!("0x{}", "07".repeat(32));
        let order = json!({"owner": owner, "amount": "5", "note": "hi"});
        let enc = |ty: &str, v: &Value| {
            let mut out = Vec::new();
            encode_value(t, ty, v, &mut out).map(|()| out)
        };
        let bytes = enc("Order", &order).unwrap();
        assert_eq!(
            bytes,
            ([7u8; 32], 5u128, Some("hi".to_string())).encode(),
            "a struct is the tuple of its fields"
        );
        assert_eq!(decode_all(t, "Order", &bytes).unwrap(), order);
        assert_eq!(
            enc("Pair", &json!([3, "0x0102"])).unwrap(),
            (3u32, vec![1u8, 2]).encode()
        );
        assert_eq!(
            decode_all(t, "Pair", &(3u32, vec![1u8, 2]).encode()).unwrap(),
            json!([3, "0x0102"])
        );
        assert_eq!(enc("Action", &json!("Stop")).unwrap(), vec![0]);
        assert_eq!(
            enc("Action", &json!({"Move": [9, true]})).unwrap(),
            (1u8, 9u64, true).encode()
        );
        // A one-field tuple (variant or struct) also takes its value alone.
        let one = Interface::parse(concat!(
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            "\n",
            r#"{"kind":"type","name":"Probe","variants":[{"name":"Ok","fields":[]},{"name":"Reverted","fields":[{"name":"0","type":"u32"}]}]}"#,
            "\n",
            r#"{"kind":"type","name":"Amount","fields":[{"name":"0","type":"u128"}]}"#,
        ))
        .unwrap();
        let one = Types::of(&one);
        let enc1 = |ty: &str, v: &Value| {
            let mut out = Vec::new();
            encode_value(one, ty, v, &mut out).map(|()| out)
        };
        for v in [json!({"Reverted": 7}), json!({"Reverted": [7]})] {
            assert_eq!(enc1("Probe", &v).unwrap(), (1u8, 7u32).encode(), "{v}");
        }
        assert_eq!(enc1("Amount", &json!("9")).unwrap(), 9u128.encode());
        assert_eq!(
            decode_all(one, "Probe", &(1u8, 7u32).encode()).unwrap(),
            json!({"Reverted": [7]})
        );
        let place = json!({"Place": {"order": order, "at": 4}});
        let bytes = enc("Action", &place).unwrap();
        assert_eq!(bytes[0], 2);
        assert_eq!(decode_all(t, "Action", &bytes).unwrap(), place);
        assert_eq!(decode_all(t, "Action", &[0]).unwrap(), json!("Stop"));
        assert!(
            decode_all(t, "Action", &[3])
                .unwrap_err()
                .contains("no variant with tag 3")
        );
        assert!(
            enc("Action", &json!("Jump"))
                .unwrap_err()
                .contains("no variant Jump")
        );
        assert!(
            enc("Pair", &json!([1, "0x", 3])).is_err(),
            "too many values"
        );
        assert!(
            enc("Order", &json!({"owner": owner})).is_err(),
            "a missing field"
        );
        assert!(
            decode_all(Types::NONE, "Order", &[])
                .unwrap_err()
                .contains("unsupported type")
        );
        // A node nested two levels (the node, its `Vec`) per `Vec` of one: 63 decode,
        // 64 are refused.
        let nested = |levels: usize| {
            let mut b = Vec::new();
            for _ in 0..levels {
                b.extend_from_slice(&1u32.to_le_bytes());
            }
            b.extend_from_slice(&0u32.to_le_bytes());
            b
        };
        assert!(decode_all(t, "Node", &nested(63)).is_ok());
        assert!(decode_all(t, "Node", &nested(64)).is_err());
        assert!(
            decode_all(t, "Node", &nested(100_000))
                .unwrap_err()
                .contains("nested deeper than 128")
        );
    }

    /// Hostile interfaces and data are refused, not followed: a type string nested past
    /// the depth limit, a `Vec` of billions of values that decode from no bytes, and
    /// values given for a type without fields.
    #[test]
    fn hostile_shapes_are_refused() {
        let deep = format!("{}u8{}", "Option<".repeat(100_000), ">".repeat(100_000));
        // (5 is not Some's [value] of an Option of an Option; the error does not echo
        // the whole type)
        let e = encode_value(Types::NONE, &deep, &json!(5), &mut vec![]).unwrap_err();
        assert!(e.contains("one-element array") && e.len() < 300, "{e}");
        let mut bytes = vec![1u8; 100_000];
        bytes.push(5);
        // (the encoder's depth limit: a Vec nested past it, with as deep a value)
        let deep_vec = format!("{}u8{}", "Vec<".repeat(200), ">".repeat(200));
        let mut value = json!([]);
        for _ in 0..200 {
            value = json!([value]);
        }
        let e = encode_value(Types::NONE, &deep_vec, &value, &mut vec![]).unwrap_err();
        assert!(e.contains("nested deeper than 128") && e.len() < 300, "{e}");
        let e = decode_all(Types::NONE, &deep, &[2]).unwrap_err();
        assert!(e.contains("bad tag") && e.len() < 300, "{e}");
        let e = decode_all(Types::NONE, &deep, &bytes).unwrap_err();
        assert!(e.contains("nested deeper") && e.len() < 300, "{e}");
        let e = decode_all(Types::NONE, "Vec<()>", &u32::MAX.to_le_bytes()).unwrap_err();
        assert!(e.contains("more than 1000000 values"), "{e}");
        assert!(decode_all(Types::NONE, "Vec<()>", &3u32.to_le_bytes()).is_ok());
        let i = supervm_vm::interface::Interface::parse(concat!(
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            "\n",
            r#"{"kind":"type","name":"Unit","fields":[]}"#,
            "\n",
            r#"{"kind":"type","name":"E","variants":[{"name":"Stop","fields":[]}]}"#,
        ))
        .unwrap();
        let t = Types::of(&i);
        for ok in [json!(null), json!({}), json!([])] {
            assert!(encode_value(t, "Unit", &ok, &mut vec![]).is_ok(), "{ok}");
        }
        assert!(encode_value(t, "Unit", &json!(42), &mut vec![]).is_err());
        assert!(encode_value(t, "E", &json!({"Stop": 42}), &mut vec![]).is_err());
        assert_eq!(decode_all(t, "E", &[0]).unwrap(), json!("Stop"));
        // A name two types share is refused as ambiguous, not guessed.
        let i = supervm_vm::interface::Interface::parse(concat!(
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            "\n",
            r#"{"kind":"type","name":"Config","fields":[{"name":"a","type":"u8"}]}"#,
            "\n",
            r#"{"kind":"type","name":"Config","fields":[{"name":"b","type":"u16"}]}"#,
        ))
        .unwrap();
        let e = encode_value(Types::of(&i), "Config", &json!({"a": 1}), &mut vec![]).unwrap_err();
        assert!(e.contains("ambiguous type Config"), "{e}");
    }

    /// The CLI's JSON for a real contract's derived types (sdkcheck's `act`, whose
    /// interface the wasm's derives wrote) encodes what the contract decodes.
    #[test]
    fn a_contracts_derived_types_encode_from_json() {
        let text = supervm_vm::validate::validate(supervm_contracts::SDKCHECK, &Default::default())
            .unwrap()
            .interface
            .unwrap();
        let i = supervm_vm::interface::Interface::parse(&text).unwrap();
        let t = Types::of(&i);
        let owner = format!("0x{}", "07".repeat(32));
        let act = i.function("act").unwrap();
        let bytes = encode_args(
            t,
            act,
            &json!({"action": {"Place": {"order": {"owner": owner, "amount": 77, "note": null}, "at": 3}}}),
        )
        .unwrap();
        let place = (2u8, ([7u8; 32], 77u128, None::<String>), 3u16);
        assert_eq!(bytes, (place.clone(),).encode());
        let back = decode_all(t, &act.returns, &(place, 77u128).encode()).unwrap();
        assert_eq!(
            back,
            json!([{"Place": {"order": {"owner": owner, "amount": "77", "note": null}, "at": 3}}, "77"])
        );
    }

    /// A type the interface does not describe is found at any depth (in an element, a
    /// tuple, a described type's field), a recursive type ends the search, and each
    /// function using one is named; the example contracts have none.
    #[test]
    fn undescribed_types_are_found_and_named() {
        use supervm_vm::interface::Interface;
        let i = Interface::parse(concat!(
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            "\n",
            r#"{"kind":"type","name":"Node","fields":[{"name":"kids","type":"Vec<Node>"},{"name":"tag","type":"Option<Tag>"}]}"#,
            "\n",
            r#"{"kind":"type","name":"Tag","variants":[{"name":"A","fields":[]},{"name":"B","fields":[{"name":"0","type":"(u8,[u8;4])"}]}]}"#,
            "\n",
            r#"{"kind":"type","name":"Bad","fields":[{"name":"p","type":"Pair"}]}"#,
            "\n",
            r#"{"kind":"function","name":"ok","export":"ok","args":[{"name":"n","type":"Node"}],"returns":"Vec<(Address,u128)>"}"#,
            "\n",
            r#"{"kind":"function","name":"alias","export":"alias","args":[{"name":"p","type":"Vec<Option<Pair>>"}],"returns":"Wrap<u32>"}"#,
        ))
        .unwrap();
        let t = Types::of(&i);
        assert_eq!(undescribed(t, "Node"), None);
        assert_eq!(undescribed(t, "[u8;32]"), None);
        assert_eq!(undescribed(t, "[u8;LEN]").as_deref(), Some("[u8;LEN]"));
        assert_eq!(undescribed(t, "(u8,Bad)").as_deref(), Some("Pair"));
        assert_eq!(undescribed(t, "Vec<Option<Pair>>").as_deref(), Some("Pair"));
        let p = interface_problems(&i);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("function alias: parameter p has type Pair"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("function alias: its result has type Wrap<u32>"),
            "{p:?}"
        );
        for wasm in [
            supervm_contracts::TOKEN,
            supervm_contracts::COUNTER,
            supervm_contracts::ESCROW,
            supervm_contracts::HOTKEY,
            supervm_contracts::SDKCHECK,
        ] {
            let text = supervm_vm::validate::validate(wasm, &Default::default())
                .unwrap()
                .interface
                .unwrap();
            let i = Interface::parse(&text).unwrap();
            assert_eq!(interface_problems(&i), Vec::<String>::new(), "{}", i.name);
        }
    }
}
