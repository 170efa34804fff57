//! Whether a JSON value is one a recorded shape reads: what the check of backport
//! routines holds each backported sample to, under the self-describing (JSON) profile.

use serde_json::Value;

use crate::manifest::Manifest;
use crate::shape::{Body, Shape, Tagging, Ty};

/// The problems found reading `value` as `shape` (none: it reads), each with where it
/// is (`lines[0].sku`). Versioned types inside it are looked up in `manifest` at the
/// version the shape names.
///
/// ```
/// use serde_json::json;
/// use testbed_versioned::{Body, Field, Manifest, Shape, Tagging, Ty, validate};
///
/// let shape = Shape { name: "Ping".into(), tagging: Tagging::External, transparent: false,
///     deny_unknown_fields: false,
///     body: Body::Struct(vec![Field { name: "seq".into(), ty: Ty::Primitive("u64".into()),
///         default: false, optional_on_wire: false, flatten: false }]) };
/// assert!(validate(&json!({"seq": 3}), &shape, &Manifest::default()).is_empty());
/// assert_eq!(validate(&json!({}), &shape, &Manifest::default()), ["missing field `seq`"]);
/// ```
pub fn validate(value: &Value, shape: &Shape, manifest: &Manifest) -> Vec<String> {
    let mut reader = Reader {
        manifest,
        problems: Vec::new(),
    };
    reader.shape("", value, shape);
    reader.problems
}

struct Reader<'a> {
    manifest: &'a Manifest,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn problem(&mut self, at: &str, text: String) {
        let text = if at.is_empty() {
            text
        } else {
            format!("{at}: {text}")
        };
        self.problems.push(text);
    }

    fn shape(&mut self, at: &str, value: &Value, shape: &Shape) {
        if shape.transparent
            && let Body::Struct(fields) = &shape.body
            && let [field] = fields.as_slice()
        {
            return self.ty(at, value, &field.ty);
        }
        match (&shape.body, &shape.tagging) {
            (Body::Enum(variants), tagging) => self.variant(at, value, variants, tagging),
            (body, _) => self.body(at, value, body, &[]),
        }
    }

    /// `value` as `body`; `skip` names keys that belong to an enclosing tag.
    fn body(&mut self, at: &str, value: &Value, body: &Body, skip: &[&str]) {
        match body {
            Body::Unit => {
                // Nothing, or (inside an internally tagged enum) the tag alone.
                let empty = value.is_null()
                    || value
                        .as_object()
                        .is_some_and(|object| object.len() <= skip.len());
                if !empty {
                    self.problem(at, format!("expected nothing, found {}", kind(value)));
                }
            }
            Body::Newtype(ty) => self.ty(at, value, ty),
            Body::Tuple(items) => match value.as_array() {
                Some(array) if array.len() == items.len() => {
                    for (index, (item, ty)) in array.iter().zip(items).enumerate() {
                        self.ty(&format!("{at}[{index}]"), item, ty);
                    }
                }
                _ => self.problem(
                    at,
                    format!("expected a list of {}, found {}", items.len(), kind(value)),
                ),
            },
            Body::Struct(fields) => {
                let Some(object) = value.as_object() else {
                    return self.problem(at, format!("expected an object, found {}", kind(value)));
                };
                for field in fields {
                    let here = if at.is_empty() {
                        field.name.clone()
                    } else {
                        format!("{at}.{}", field.name)
                    };
                    if field.flatten {
                        self.ty(at, value, &field.ty);
                        continue;
                    }
                    match object.get(&field.name) {
                        Some(found) => self.ty(&here, found, &field.ty),
                        None if field.default || matches!(field.ty, Ty::Option(_)) => {}
                        None => self.problem(at, format!("missing field `{}`", field.name)),
                    }
                }
            }
            Body::Enum(variants) => self.variant(at, value, variants, &Tagging::External),
        }
    }

    fn variant(
        &mut self,
        at: &str,
        value: &Value,
        variants: &[crate::shape::Variant],
        tagging: &Tagging,
    ) {
        let find = |name: &str| variants.iter().find(|variant| variant.name == name);
        match tagging {
            Tagging::External => {
                let (name, inner) = match value {
                    Value::String(name) => (name.as_str(), &Value::Null),
                    Value::Object(object) if object.len() == 1 => {
                        let (name, inner) = object.iter().next().expect("one entry");
                        (name.as_str(), inner)
                    }
                    other => {
                        return self
                            .problem(at, format!("expected a variant, found {}", kind(other)));
                    }
                };
                match find(name) {
                    Some(variant) => self.body(&format!("{at}::{name}"), inner, &variant.body, &[]),
                    None => self.problem(at, format!("unknown variant `{name}`")),
                }
            }
            Tagging::Internal { tag } => {
                let Some(name) = value.get(tag).and_then(Value::as_str) else {
                    return self.problem(at, format!("missing tag `{tag}`"));
                };
                match find(name) {
                    Some(variant) => {
                        self.body(&format!("{at}::{name}"), value, &variant.body, &[tag])
                    }
                    None => self.problem(at, format!("unknown variant `{name}`")),
                }
            }
            Tagging::Adjacent { tag, content } => {
                let Some(name) = value.get(tag).and_then(Value::as_str) else {
                    return self.problem(at, format!("missing tag `{tag}`"));
                };
                let inner = value.get(content).unwrap_or(&Value::Null);
                match find(name) {
                    Some(variant) => self.body(&format!("{at}::{name}"), inner, &variant.body, &[]),
                    None => self.problem(at, format!("unknown variant `{name}`")),
                }
            }
            Tagging::Untagged => {
                let reads = variants.iter().any(|variant| {
                    let mut trial = Reader {
                        manifest: self.manifest,
                        problems: Vec::new(),
                    };
                    trial.body(at, value, &variant.body, &[]);
                    trial.problems.is_empty()
                });
                if !reads {
                    self.problem(at, "no variant reads it".to_owned());
                }
            }
        }
    }

    fn ty(&mut self, at: &str, value: &Value, ty: &Ty) {
        match ty {
            Ty::Primitive(name) => {
                if !primitive_reads(name, value) {
                    self.problem(at, format!("expected `{name}`, found {}", kind(value)));
                }
            }
            Ty::Option(inner) => {
                if !value.is_null() {
                    self.ty(at, value, inner);
                }
            }
            Ty::Seq(inner) | Ty::Set(inner) => match value.as_array() {
                Some(items) => {
                    for (index, item) in items.iter().enumerate() {
                        self.ty(&format!("{at}[{index}]"), item, inner);
                    }
                }
                None => self.problem(at, format!("expected a list, found {}", kind(value))),
            },
            Ty::Array(inner, len) => match value.as_array() {
                Some(items) if items.len() == *len => {
                    for (index, item) in items.iter().enumerate() {
                        self.ty(&format!("{at}[{index}]"), item, inner);
                    }
                }
                _ => self.problem(
                    at,
                    format!("expected a list of {len}, found {}", kind(value)),
                ),
            },
            Ty::Tuple(items) => self.body(at, value, &Body::Tuple(items.clone()), &[]),
            Ty::Map(_, inner) => match value.as_object() {
                Some(object) => {
                    for (key, item) in object {
                        self.ty(&format!("{at}[{key:?}]"), item, inner);
                    }
                }
                None => self.problem(at, format!("expected an object, found {}", kind(value))),
            },
            Ty::Versioned { name, version } => {
                match self
                    .manifest
                    .types
                    .get(name)
                    .and_then(|versions| versions.get(version))
                {
                    Some(record) => {
                        let shape = record.shape.clone();
                        self.shape(at, value, &shape);
                    }
                    None => self.problem(at, format!("`{name}` {version} is not in the manifest")),
                }
            }
            Ty::Inline(shape) => self.shape(at, value, shape),
            // Not seen into: a recursive reference, or a user's serialization function.
            Ty::Recursive(_) | Ty::Opaque(_) => {}
        }
    }
}

fn primitive_reads(name: &str, value: &Value) -> bool {
    match name {
        "bool" => value.is_boolean(),
        "String" | "char" => value.is_string(),
        "()" => value.is_null(),
        "f32" | "f64" => value.is_number(),
        "u8" | "u16" | "u32" | "u64" | "u128" => value.is_u64(),
        "i8" | "i16" | "i32" | "i64" | "i128" => value.is_i64() || value.is_u64(),
        _ => true, // `json`, `Duration`, `SystemTime`: any value
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
