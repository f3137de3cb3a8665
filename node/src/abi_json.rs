//! Contract arguments and results as JSON, typed by the interface the SDK embeds
//! (`docs/abi.md`): the CLI takes arguments by name and prints decoded results and
//! events.
//!
//! JSON forms: integers as numbers or decimal strings (128-bit ones print as strings),
//! `bool`, `Address` / `[u8; N]` / `Vec<u8>` as hex strings, `String`, `Option<T>` as
//! `null` or `T`, `Vec<T>` and tuples as arrays, `()` as `null`.

use serde_json::{Value, json};
use supervm_abi::codec::{Decode, Encode, take};
use supervm_vm::interface::{Field, Function};

/// Encodes `args` (a JSON object by field name, or an array in order) as the tuple of
/// `f`'s parameters.
pub fn encode_args(f: &Function, args: &Value) -> Result<Vec<u8>, String> {
    encode_fields(&f.args, args)
}

/// Encodes a JSON object or array as the tuple of `fields`.
pub fn encode_fields(fields: &[Field], args: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let v = match args {
            Value::Object(m) => m
                .get(&field.name)
                .ok_or_else(|| format!("missing argument `{}` ({})", field.name, field.ty))?,
            Value::Array(a) => a
                .get(i)
                .ok_or_else(|| format!("missing argument {} `{}` ({})", i, field.name, field.ty))?,
            Value::Null if fields.is_empty() => break,
            _ => return Err("arguments must be a JSON object (by name) or array".into()),
        };
        encode_value(&field.ty, v, &mut out)
            .map_err(|e| format!("argument `{}`: {e}", field.name))?;
    }
    if let Value::Object(m) = args
        && let Some(extra) = m.keys().find(|k| !fields.iter().any(|f| &f.name == *k))
    {
        return Err(format!("unknown argument `{extra}`"));
    }
    Ok(out)
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
            .ok_or_else(|| format!("{n} is not an integer")),
        Value::String(s) => s.parse::<i128>().map_err(|e| format!("{s:?}: {e}")),
        _ => Err(format!("expected an integer, got {v}")),
    }
}

fn bytes_of(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => supervm_client::views::from_hex(s),
        _ => Err(format!("expected a hex string, got {v}")),
    }
}

/// Encodes one JSON value of type `ty`.
pub fn encode_value(ty: &str, v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    macro_rules! int {
        ($t:ty) => {{
            let x: $t = match v {
                Value::String(s) => s.parse::<$t>().map_err(|e| format!("{s:?}: {e}"))?,
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
            let b = bytes_of(v)?;
            if b.len() != 32 {
                return Err(format!("an Address is 32 bytes, got {}", b.len()));
            }
            out.extend_from_slice(&b);
        }
        t if t.starts_with("[u8;") && t.ends_with(']') => {
            let n: usize = t[4..t.len() - 1]
                .parse()
                .map_err(|_| format!("unsupported type {t}"))?;
            let b = bytes_of(v)?;
            if b.len() != n {
                return Err(format!("expected {n} bytes, got {}", b.len()));
            }
            out.extend_from_slice(&b);
        }
        t if t.starts_with("Option<") && t.ends_with('>') => {
            if v.is_null() {
                out.push(0);
            } else {
                out.push(1);
                encode_value(&t[7..t.len() - 1], v, out)?;
            }
        }
        t if t.starts_with("Vec<") && t.ends_with('>') => {
            let a = v
                .as_array()
                .ok_or_else(|| format!("expected an array, got {v}"))?;
            (a.len() as u32).encode_to(out);
            for x in a {
                encode_value(&t[4..t.len() - 1], x, out)?;
            }
        }
        t if t.starts_with('(') && t.ends_with(')') => {
            let parts = split_top(&t[1..t.len() - 1]);
            let a = v
                .as_array()
                .ok_or_else(|| format!("expected an array for {t}, got {v}"))?;
            if a.len() != parts.len() {
                return Err(format!("{t} has {} fields, got {}", parts.len(), a.len()));
            }
            for (p, x) in parts.iter().zip(a) {
                encode_value(p, x, out)?;
            }
        }
        t => return Err(format!("unsupported type {t}")),
    }
    Ok(())
}

/// Decodes a value of type `ty` from the front of `input`.
pub fn decode_value(ty: &str, input: &mut &[u8]) -> Result<Value, String> {
    let e = |x: supervm_abi::CodecError| format!("{ty}: {x:?}");
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
                .map_err(|_| format!("unsupported type {t}"))?;
            json!(supervm_client::views::to_hex(take(input, n).map_err(e)?))
        }
        t if t.starts_with("Option<") && t.ends_with('>') => match u8::decode(input).map_err(e)? {
            0 => Value::Null,
            1 => decode_value(&t[7..t.len() - 1], input)?,
            _ => return Err(format!("{t}: bad tag")),
        },
        t if t.starts_with("Vec<") && t.ends_with('>') => {
            let n = u32::decode(input).map_err(e)? as usize;
            let mut a = Vec::with_capacity(n.min(input.len()));
            for _ in 0..n {
                a.push(decode_value(&t[4..t.len() - 1], input)?);
            }
            Value::Array(a)
        }
        t if t.starts_with('(') && t.ends_with(')') => {
            let parts = split_top(&t[1..t.len() - 1]);
            let mut a = Vec::with_capacity(parts.len());
            for p in parts {
                a.push(decode_value(p, input)?);
            }
            Value::Array(a)
        }
        t => return Err(format!("unsupported type {t}")),
    })
}

/// Decodes a whole buffer as `ty`.
pub fn decode_all(ty: &str, bytes: &[u8]) -> Result<Value, String> {
    let mut input = bytes;
    let v = decode_value(ty, &mut input)?;
    if !input.is_empty() {
        return Err(format!("{} bytes left after decoding {ty}", input.len()));
    }
    Ok(v)
}

/// Decodes the tuple of `fields` into a JSON object by field name.
pub fn decode_fields(fields: &[Field], bytes: &[u8]) -> Result<Value, String> {
    let mut input = bytes;
    let mut m = serde_json::Map::new();
    for f in fields {
        m.insert(f.name.clone(), decode_value(&f.ty, &mut input)?);
    }
    if !input.is_empty() {
        return Err(format!("{} bytes left after the fields", input.len()));
    }
    Ok(Value::Object(m))
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
        ] {
            let mut out = Vec::new();
            encode_value(ty, &v, &mut out).unwrap();
            assert_eq!(decode_all(ty, &out).unwrap(), v, "{ty}");
        }
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
            &f,
            &json!({"amount": 5, "to": format!("0x{}", "01".repeat(32))}),
        )
        .unwrap();
        let by_pos = encode_fields(&f, &json!([format!("0x{}", "01".repeat(32)), "5"])).unwrap();
        assert_eq!(by_name, by_pos);
        assert!(encode_fields(&f, &json!({"to": "0x00"})).is_err());
        assert!(
            encode_fields(
                &f,
                &json!({"amount": 1, "to": format!("0x{}", "01".repeat(32)), "x": 1})
            )
            .is_err()
        );
        assert!(encode_value("u8", &json!(300), &mut vec![]).is_err());
    }
}
