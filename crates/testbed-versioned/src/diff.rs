//! The structural diff of two records of a type, in words, each change classified as
//! compatible or breaking under a [`Profile`] (as buf classifies protobuf changes).
//!
//! Compatible means: every payload the old shape wrote is read by the new code as it
//! was meant (readers upgrade first). Under [`Profile::SelfDescribing`] (JSON, YAML,
//! MessagePack with names) fields are matched by name, so order does not matter, a field
//! added with a default (or an `Option`, which serde reads as `None` when absent) is
//! compatible, a removed field is compatible unless the type denies unknown fields, an
//! integer widened or a `T` made `Option<T>` is compatible, and an added variant is
//! compatible. Under [`Profile::Positional`] (bincode, postcard) the payload is the
//! fields in order with nothing named: any added, removed, moved or retyped field is
//! breaking, and only a variant added at the end is compatible.

use std::fmt;

use crate::record::{Method, Record};
use crate::shape::{Body, Field, Shape, Ty, Variant};

/// How the payloads of a type are encoded, which decides what a change breaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// Fields by name (JSON and the like): the default.
    #[default]
    SelfDescribing,
    /// Fields by position (bincode and the like).
    Positional,
}

/// One difference between two records, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What changed: "field `discount: Option<u32>` added".
    pub text: String,
    /// Whether old payloads may no longer read.
    pub breaking: bool,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.breaking {
            "breaking"
        } else {
            "compatible"
        };
        write!(f, "{} ({kind})", self.text)
    }
}

/// The differences from `old` to `new` under `profile`, in the order met.
///
/// ```
/// use testbed_versioned::{Body, Field, Profile, Record, Shape, Tagging, Ty, diff};
///
/// let field = |name: &str, ty: &str| Field { name: name.into(), ty: Ty::Primitive(ty.into()),
///     default: false, optional_on_wire: false, flatten: false };
/// let shape = |fields| Shape { name: "Order".into(), tagging: Tagging::External,
///     transparent: false, deny_unknown_fields: false, body: Body::Struct(fields) };
/// let old = Record::new("1.0", shape(vec![field("total", "u32")]), vec![]);
/// let new = Record::new("1.0", shape(vec![field("total", "u64")]), vec![]);
/// let changes = diff(&old, &new, Profile::SelfDescribing);
/// assert_eq!(changes[0].to_string(), "`total` changed from `u32` to `u64` (compatible)");
/// assert!(diff(&old, &new, Profile::Positional)[0].breaking);
/// ```
pub fn diff(old: &Record, new: &Record, profile: Profile) -> Vec<Change> {
    let mut differ = Differ {
        profile,
        changes: Vec::new(),
    };
    differ.shape("", &old.shape, &new.shape);
    differ.methods(&old.methods, &new.methods);
    differ.changes
}

/// Renders `ty` as a reader writes it: `Option<u32>`, `Vec<Item>`, `Customer@1.2`.
pub fn render(ty: &Ty) -> String {
    match ty {
        Ty::Primitive(name) | Ty::Recursive(name) => name.clone(),
        Ty::Option(inner) => format!("Option<{}>", render(inner)),
        Ty::Seq(inner) => format!("Vec<{}>", render(inner)),
        Ty::Set(inner) => format!("Set<{}>", render(inner)),
        Ty::Map(key, value) => format!("Map<{}, {}>", render(key), render(value)),
        Ty::Array(inner, len) => format!("[{}; {len}]", render(inner)),
        Ty::Tuple(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("({})", items.join(", "))
        }
        Ty::Versioned { name, version } => format!("{name}@{version}"),
        Ty::Inline(shape) => shape.name.clone(),
        Ty::Opaque(with) => format!("opaque({with})"),
    }
}

struct Differ {
    profile: Profile,
    changes: Vec<Change>,
}

impl Differ {
    fn push(&mut self, path: &str, text: String, breaking: bool) {
        self.changes.push(Change {
            text: format!("{path}{text}"),
            breaking,
        });
    }

    fn shape(&mut self, path: &str, old: &Shape, new: &Shape) {
        if old.tagging != new.tagging {
            self.push(
                path,
                format!(
                    "tagging changed from {:?} to {:?}",
                    old.tagging, new.tagging
                ),
                true,
            );
        }
        if old.transparent != new.transparent {
            self.push(
                path,
                format!("`transparent` turned {}", on_off(new.transparent)),
                true,
            );
        }
        if old.deny_unknown_fields != new.deny_unknown_fields {
            // Denying fields old payloads may carry breaks them; allowing them does not.
            self.push(
                path,
                format!(
                    "`deny_unknown_fields` turned {}",
                    on_off(new.deny_unknown_fields)
                ),
                new.deny_unknown_fields,
            );
        }
        self.body(path, &old.body, &new.body, new.deny_unknown_fields);
    }

    fn body(&mut self, path: &str, old: &Body, new: &Body, denies_unknown: bool) {
        match (old, new) {
            (Body::Unit, Body::Unit) => {}
            (Body::Newtype(old), Body::Newtype(new)) => {
                self.ty(path, "the wrapped value", old, new)
            }
            (Body::Tuple(old), Body::Tuple(new)) => self.tuple(path, old, new),
            (Body::Struct(old), Body::Struct(new)) => match self.profile {
                Profile::SelfDescribing => self.fields_by_name(path, old, new, denies_unknown),
                Profile::Positional => self.fields_by_position(path, old, new),
            },
            (Body::Enum(old), Body::Enum(new)) => self.variants(path, old, new),
            (old, new) => self.push(
                path,
                format!("changed from {} to {}", body_kind(old), body_kind(new)),
                true,
            ),
        }
    }

    fn tuple(&mut self, path: &str, old: &[Ty], new: &[Ty]) {
        if old.len() != new.len() {
            self.push(
                path,
                format!("tuple of {} became a tuple of {}", old.len(), new.len()),
                true,
            );
            return;
        }
        for (index, (old, new)) in old.iter().zip(new).enumerate() {
            self.ty(path, &format!("element {index}"), old, new);
        }
    }

    fn fields_by_name(&mut self, path: &str, old: &[Field], new: &[Field], denies_unknown: bool) {
        for field in new {
            match old.iter().find(|o| o.name == field.name) {
                Some(before) => self.field(path, before, field),
                None => {
                    let readable = field.default || matches!(field.ty, Ty::Option(_));
                    let how = if readable { "" } else { " without a default" };
                    self.push(
                        path,
                        format!("field `{}` added{how}", signature(field)),
                        !readable,
                    );
                }
            }
        }
        for field in old {
            if !new.iter().any(|n| n.name == field.name) {
                self.push(
                    path,
                    format!("field `{}` removed", signature(field)),
                    denies_unknown,
                );
            }
        }
    }

    fn fields_by_position(&mut self, path: &str, old: &[Field], new: &[Field]) {
        for (index, (before, after)) in old.iter().zip(new).enumerate() {
            if before.name != after.name {
                self.push(
                    path,
                    format!(
                        "field {index} is now `{}` (was `{}`)",
                        signature(after),
                        signature(before)
                    ),
                    true,
                );
            } else {
                self.field(path, before, after);
            }
        }
        for field in new.iter().skip(old.len()) {
            self.push(path, format!("field `{}` added", signature(field)), true);
        }
        for field in old.iter().skip(new.len()) {
            self.push(path, format!("field `{}` removed", signature(field)), true);
        }
    }

    fn field(&mut self, path: &str, old: &Field, new: &Field) {
        if old.flatten != new.flatten {
            self.push(
                path,
                format!(
                    "field `{}`: `flatten` turned {}",
                    new.name,
                    on_off(new.flatten)
                ),
                true,
            );
        }
        if old.default && !new.default {
            self.push(
                path,
                format!("field `{}` lost its default", new.name),
                false,
            );
        }
        if old.optional_on_wire && !new.optional_on_wire
            || !old.optional_on_wire && new.optional_on_wire
        {
            // Payloads written before may lack it only if it was skippable; readers care
            // only when the new one has no default for it.
            let breaking =
                new.optional_on_wire && !new.default && self.profile == Profile::SelfDescribing;
            let breaking = breaking || self.profile == Profile::Positional;
            let now = if new.optional_on_wire {
                "may be left out"
            } else {
                "is always written"
            };
            self.push(path, format!("field `{}` {now}", new.name), breaking);
        }
        self.ty(path, &format!("`{}`", new.name), &old.ty, &new.ty);
    }

    fn ty(&mut self, path: &str, what: &str, old: &Ty, new: &Ty) {
        match (old, new) {
            (Ty::Inline(old), Ty::Inline(new)) if old.name == new.name => {
                self.shape(&format!("{path}{what} ({}): ", new.name), old, new);
            }
            (Ty::Option(old), Ty::Option(new))
            | (Ty::Seq(old), Ty::Seq(new))
            | (Ty::Set(old), Ty::Set(new)) => self.ty(path, what, old, new),
            (Ty::Map(old_key, old_value), Ty::Map(new_key, new_value)) => {
                self.ty(path, &format!("{what}'s keys"), old_key, new_key);
                self.ty(path, &format!("{what}'s values"), old_value, new_value);
            }
            (
                Ty::Versioned {
                    name: old_name,
                    version: old_version,
                },
                Ty::Versioned { name, version },
            ) if old_name == name => {
                if old_version != version {
                    let major = |v: &str| v.split('.').next().map(str::to_owned);
                    let breaking = major(old_version) != major(version);
                    self.push(
                        path,
                        format!("{what} now holds {name}@{version} (was @{old_version})"),
                        breaking,
                    );
                }
            }
            (old, new) if old == new => {}
            (old, new) => {
                let compatible = self.profile == Profile::SelfDescribing && widens(old, new);
                self.push(
                    path,
                    format!("{what} changed from `{}` to `{}`", render(old), render(new)),
                    !compatible,
                );
            }
        }
    }

    fn variants(&mut self, path: &str, old: &[Variant], new: &[Variant]) {
        for (index, variant) in new.iter().enumerate() {
            match old.iter().position(|o| o.name == variant.name) {
                Some(at) => {
                    if self.profile == Profile::Positional && at != index {
                        self.push(
                            path,
                            format!("variant `{}` moved from {at} to {index}", variant.name),
                            true,
                        );
                    }
                    self.body(
                        &format!("{path}variant `{}`: ", variant.name),
                        &old[at].body,
                        &variant.body,
                        false,
                    );
                }
                None => {
                    // By name, a new variant is one old payloads never hold; by
                    // position, only one at the end keeps the old indexes.
                    let breaking = self.profile == Profile::Positional && index < old.len();
                    self.push(path, format!("variant `{}` added", variant.name), breaking);
                }
            }
        }
        for variant in old {
            if !new.iter().any(|n| n.name == variant.name) {
                self.push(path, format!("variant `{}` removed", variant.name), true);
            }
        }
    }

    fn methods(&mut self, old: &[Method], new: &[Method]) {
        for method in new {
            match old.iter().find(|o| o.name == method.name) {
                Some(before) if before != method => self.push(
                    "",
                    format!(
                        "method `{}` changed from `{}` to `{}`",
                        method.name,
                        method_sig(before),
                        method_sig(method)
                    ),
                    true,
                ),
                Some(_) => {}
                None => self.push("", format!("method `{}` added", method_sig(method)), false),
            }
        }
        for method in old {
            if !new.iter().any(|n| n.name == method.name) {
                self.push("", format!("method `{}` removed", method_sig(method)), true);
            }
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn body_kind(body: &Body) -> &'static str {
    match body {
        Body::Unit => "a unit",
        Body::Newtype(_) => "a newtype",
        Body::Tuple(_) => "a tuple",
        Body::Struct(_) => "a struct",
        Body::Enum(_) => "an enum",
    }
}

fn signature(field: &Field) -> String {
    format!("{}: {}", field.name, render(&field.ty))
}

fn method_sig(method: &Method) -> String {
    let args: Vec<String> = method
        .args
        .iter()
        .map(|(name, ty)| format!("{name}: {}", render(ty)))
        .collect();
    format!(
        "fn {}({}) -> {}",
        method.name,
        args.join(", "),
        render(&method.returns)
    )
}

/// Whether every value of `old` reads as `new` by name: a wider integer or float, or
/// `T` made `Option<T>`.
fn widens(old: &Ty, new: &Ty) -> bool {
    const UNSIGNED: [&str; 5] = ["u8", "u16", "u32", "u64", "u128"];
    const SIGNED: [&str; 5] = ["i8", "i16", "i32", "i64", "i128"];
    match (old, new) {
        (old, Ty::Option(inner)) => old == inner.as_ref() || widens(old, inner),
        (Ty::Primitive(old), Ty::Primitive(new)) => {
            let rank = |list: &[&str], name: &str| list.iter().position(|t| *t == name);
            let within = |list: &[&str]| matches!((rank(list, old), rank(list, new)), (Some(a), Some(b)) if a < b);
            let unsigned_to_signed = matches!(
                (rank(&UNSIGNED, old), rank(&SIGNED, new)),
                (Some(a), Some(b)) if a < b
            );
            within(&UNSIGNED)
                || within(&SIGNED)
                || unsigned_to_signed
                || (old == "f32" && new == "f64")
        }
        _ => false,
    }
}
