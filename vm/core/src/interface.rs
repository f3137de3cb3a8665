//! A contract's interface, read from its `supervm_interface` custom section.
//!
//! The section holds JSON lines; each line is one object with a `kind`:
//! `interface` (format version and contract name), `function`, `event`, `error` or
//! `type` (a struct or enum deriving the SDK's codec). Fragments may come in any order (the linker concatenates them).
//! `docs/abi.md` documents every field.

use serde::{Deserialize, Serialize};

/// A named, typed field (argument, topic or data field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Rust type, whitespace removed (`u128`, `Address`, `Vec<u8>`, ...).
    #[serde(rename = "type")]
    pub ty: String,
}

/// An entry point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// Method name.
    pub name: String,
    /// Wasm export name.
    pub export: String,
    /// Arguments, encoded as a tuple.
    pub args: Vec<Field>,
    /// Result type (`()` for none); the `Ok` type when the method returns `Result`.
    pub returns: String,
    /// Name of the error enum when the method returns `Result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether this is the constructor.
    #[serde(default)]
    pub constructor: bool,
}

/// An event type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDef {
    /// Event name (also the first topic).
    pub name: String,
    /// Topic fields after the name.
    pub topics: Vec<Field>,
    /// Data fields, encoded as a tuple.
    pub data: Vec<Field>,
}

/// An error variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorVariant {
    /// Variant name.
    pub name: String,
    /// Revert code.
    pub code: u32,
}

/// A contract error enum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDef {
    /// Enum name.
    pub name: String,
    /// Its variants.
    pub variants: Vec<ErrorVariant>,
}

/// A variant of an enum type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantDef {
    /// Variant name.
    pub name: String,
    /// Its fields, encoded in order after the variant's tag (named `0`, `1`, ... when
    /// the variant is a tuple).
    pub fields: Vec<Field>,
}

/// A struct or enum type that derives the SDK's `Encode`/`Decode`: a struct encodes as
/// its fields in order, an enum as a one-byte tag (the variant's position) and then the
/// variant's fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDef {
    /// Type name (as argument and field types name it).
    pub name: String,
    /// A struct's fields (named `0`, `1`, ... for a tuple struct); empty for an enum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// An enum's variants in tag order; `None` for a struct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantDef>>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Line {
    Interface {
        version: u32,
        name: String,
    },
    Function(Function),
    Event(EventDef),
    Error(ErrorDef),
    Type(TypeDef),
    /// A kind this build does not know: skipped, not refused. The interface is tools'
    /// metadata; deploy validation only requires it to be well-formed, so a newer SDK's
    /// lines never make code invalid on an older node.
    #[serde(other)]
    Unknown,
}

/// Everything a contract says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Format version.
    pub version: u32,
    /// Contract name.
    pub name: String,
    /// Entry points, sorted by name.
    pub functions: Vec<Function>,
    /// Events, sorted by name.
    pub events: Vec<EventDef>,
    /// Error enums, sorted by name.
    pub errors: Vec<ErrorDef>,
    /// Struct and enum types of arguments, results and fields, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<TypeDef>,
    /// Names described differently by two types (two modules' or crates' `Config`, say):
    /// left out of `types`, so tools refuse values of them instead of guessing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ambiguous_types: Vec<String>,
}

impl Interface {
    /// Parses the section's text.
    pub fn parse(text: &str) -> Result<Interface, String> {
        let mut i = Interface::default();
        let mut seen_header = false;
        // Types by name; `None` once two lines describe a name differently.
        let mut types = std::collections::BTreeMap::<String, Option<TypeDef>>::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let parsed: Line =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            match parsed {
                Line::Interface { version, name } => {
                    if version != supervm_abi::INTERFACE_VERSION {
                        return Err(format!(
                            "interface format version {version} is not supported"
                        ));
                    }
                    i.version = version;
                    i.name = name;
                    seen_header = true;
                }
                Line::Function(f) => i.functions.push(f),
                Line::Event(e) => i.events.push(e),
                Line::Error(e) => i.errors.push(e),
                // (both derives describe the type, and a type used by several crates'
                // code may be described more than once: the same line is kept once; two
                // types of one name are an ambiguity for tools, never invalid code)
                Line::Type(t) => match types.get_mut(&t.name) {
                    Some(seen) => {
                        if seen.as_ref() != Some(&t) {
                            *seen = None;
                        }
                    }
                    None => {
                        types.insert(t.name.clone(), Some(t));
                    }
                },
                Line::Unknown => {}
            }
        }
        // (sorted by name, as the map is)
        for (name, t) in types {
            match t {
                Some(t) => i.types.push(t),
                None => i.ambiguous_types.push(name),
            }
        }
        if !seen_header {
            return Err("no {\"kind\":\"interface\"} line".into());
        }
        i.functions.sort_by(|a, b| a.name.cmp(&b.name));
        i.events.sort_by(|a, b| a.name.cmp(&b.name));
        i.errors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(i)
    }

    /// The struct or enum type called `name`.
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The entry point called `name`.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The error variant name for a revert `code` of `function`, if declared.
    pub fn error_name(&self, function: &str, code: u32) -> Option<&str> {
        let enum_name = self.function(function)?.error.as_deref()?;
        let e = self.errors.iter().find(|e| e.name == enum_name)?;
        e.variants
            .iter()
            .find(|v| v.code == code)
            .map(|v| v.name.as_str())
    }

    /// The name of revert `code`: by the error type of `function` when it is the one
    /// that reverted (the called function, a constructor), else (or when that type does
    /// not have the code) by [`Interface::error_name_any`].
    pub fn revert_name(&self, function: Option<&str>, code: u32) -> Option<&str> {
        function
            .and_then(|f| self.error_name(f, code))
            .or_else(|| self.error_name_any(code))
    }

    /// The name of error `code` when the function that reverted is not known (a
    /// contract reverting inside another's call): the variant every error type of the
    /// interface that has the code agrees on, `None` if none has it or two disagree.
    pub fn error_name_any(&self, code: u32) -> Option<&str> {
        let mut names = self
            .errors
            .iter()
            .flat_map(|e| &e.variants)
            .filter(|v| v.code == code)
            .map(|v| v.name.as_str());
        let first = names.next()?;
        names.all(|n| n == first).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fragments_in_any_order() {
        let text = concat!(
            r#"{"kind":"error","name":"E","variants":[{"name":"Low","code":1}]}"#,
            "\n",
            r#"{"kind":"function","name":"f","export":"f","args":[{"name":"a","type":"u64"}],"returns":"()","error":"E"}"#,
            "\n",
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            "\n"
        );
        let i = Interface::parse(text).unwrap();
        assert_eq!(i.name, "C");
        assert_eq!(i.function("f").unwrap().args[0].ty, "u64");
        assert_eq!(i.error_name("f", 1), Some("Low"));
    }

    /// Without the function that reverted, a code is named when every error type that
    /// has it agrees on the name.
    #[test]
    fn a_code_is_named_without_its_function_when_unambiguous() {
        let text = [
            r#"{"kind":"interface","version":1,"name":"C"}"#,
            r#"{"kind":"error","name":"A","variants":[{"name":"Low","code":1},{"name":"Gone","code":2}]}"#,
            r#"{"kind":"error","name":"B","variants":[{"name":"Low","code":1},{"name":"Late","code":2}]}"#,
        ]
        .join("\n");
        let i = Interface::parse(&text).unwrap();
        assert_eq!(i.error_name_any(1), Some("Low"));
        assert_eq!(i.error_name_any(2), None, "A and B disagree");
        assert_eq!(i.error_name_any(3), None);
    }

    #[test]
    fn types_are_kept_once_and_conflicts_are_ambiguous() {
        let header = r#"{"kind":"interface","version":1,"name":"C"}"#;
        let order = r#"{"kind":"type","name":"Order","fields":[{"name":"amount","type":"u128"}]}"#;
        let action = r#"{"kind":"type","name":"Action","variants":[{"name":"Stop","fields":[]},{"name":"Move","fields":[{"name":"0","type":"u64"}]}]}"#;
        let i = Interface::parse(&[header, order, action, order].join("\n")).unwrap();
        assert_eq!(i.types.len(), 2);
        assert_eq!(i.type_def("Order").unwrap().fields[0].ty, "u128");
        assert_eq!(
            i.type_def("Action").unwrap().variants.as_ref().unwrap()[1].name,
            "Move"
        );
        // Two types of one name: the interface stays valid, the name is left out.
        let other = r#"{"kind":"type","name":"Order","fields":[]}"#;
        let i = Interface::parse(&[header, order, other, action, order].join("\n")).unwrap();
        assert_eq!(i.type_def("Order"), None);
        assert_eq!(i.ambiguous_types, ["Order"]);
        assert!(i.type_def("Action").is_some());
        // A kind this build does not know is skipped.
        let future = r#"{"kind":"constant","name":"X","value":1}"#;
        assert!(Interface::parse(&[header, future].join("\n")).is_ok());
    }

    #[test]
    fn rejects_garbage_and_missing_header() {
        assert!(Interface::parse("not json").is_err());
        assert!(Interface::parse(r#"{"kind":"error","name":"E","variants":[]}"#).is_err());
    }
}
