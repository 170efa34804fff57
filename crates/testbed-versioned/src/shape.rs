//! The shape of a type as serde puts it on the wire: [`Shape`] (a type's body, its
//! container attributes) and [`Ty`] (what a field holds), and [`WireShape`], the trait
//! every type that appears in a versioned type implements: the standard library's by
//! this module, users' by `#[derive(Versioned)]`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

/// What a field (or a tuple element, a map key, ...) holds on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ty {
    /// A primitive by its Rust name (`u32`, `bool`, `String`, `char`, `()`).
    Primitive(String),
    /// `Option<T>`.
    Option(Box<Ty>),
    /// A sequence: `Vec<T>`, `VecDeque<T>`, `[T]`.
    Seq(Box<Ty>),
    /// A set: `HashSet<T>`, `BTreeSet<T>`.
    Set(Box<Ty>),
    /// A map: `HashMap<K, V>`, `BTreeMap<K, V>`.
    Map(Box<Ty>, Box<Ty>),
    /// An array `[T; N]`.
    Array(Box<Ty>, usize),
    /// A tuple.
    Tuple(Vec<Ty>),
    /// A versioned type: its name and version stand for its shape, so a change to it
    /// is that type's change, pinned to it.
    Versioned {
        /// The type's name.
        name: String,
        /// Its declared version.
        version: String,
    },
    /// A type that is not versioned: its whole shape, so nothing hides behind it.
    Inline(Box<Shape>),
    /// A type met again inside its own shape (a recursive type).
    Recursive(String),
    /// A field serialized by a function of the user's (`with`, `serialize_with`): named,
    /// not seen into.
    Opaque(String),
}

impl Ty {
    /// Calls `visit` on this type and every type inside it (not into a versioned
    /// type, which stands for itself).
    pub fn visit(&self, visit: &mut impl FnMut(&Ty)) {
        visit(self);
        match self {
            Ty::Option(inner) | Ty::Seq(inner) | Ty::Set(inner) | Ty::Array(inner, _) => {
                inner.visit(visit)
            }
            Ty::Map(key, value) => {
                key.visit(visit);
                value.visit(visit);
            }
            Ty::Tuple(items) => items.iter().for_each(|item| item.visit(visit)),
            Ty::Inline(shape) => shape.visit_types(visit),
            Ty::Primitive(_) | Ty::Versioned { .. } | Ty::Recursive(_) | Ty::Opaque(_) => {}
        }
    }
}

/// A type's wire shape: its name, how serde represents it, and its body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// The type's name (after `#[serde(rename)]`).
    pub name: String,
    /// How an enum's variants are tagged (`External` for structs).
    #[serde(default, skip_serializing_if = "Tagging::is_external")]
    pub tagging: Tagging,
    /// `#[serde(transparent)]`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub transparent: bool,
    /// `#[serde(deny_unknown_fields)]`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deny_unknown_fields: bool,
    /// The body.
    pub body: Body,
}

impl Shape {
    /// Calls `visit` on every type this shape's body holds, recursively.
    pub fn visit_types(&self, visit: &mut impl FnMut(&Ty)) {
        self.body.visit_types(visit);
    }
}

impl Body {
    fn visit_types(&self, visit: &mut impl FnMut(&Ty)) {
        match self {
            Body::Unit => {}
            Body::Newtype(ty) => ty.visit(visit),
            Body::Tuple(items) => items.iter().for_each(|ty| ty.visit(visit)),
            Body::Struct(fields) => fields.iter().for_each(|field| field.ty.visit(visit)),
            Body::Enum(variants) => variants
                .iter()
                .for_each(|variant| variant.body.visit_types(visit)),
        }
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

/// How an enum's variants are tagged (`#[serde(tag, content, untagged)]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tagging {
    /// `{"Variant": ...}`, serde's default.
    #[default]
    External,
    /// `#[serde(tag = "...")]`.
    Internal {
        /// The tag's field name.
        tag: String,
    },
    /// `#[serde(tag = "...", content = "...")]`.
    Adjacent {
        /// The tag's field name.
        tag: String,
        /// The content's field name.
        content: String,
    },
    /// `#[serde(untagged)]`.
    Untagged,
}

impl Tagging {
    fn is_external(&self) -> bool {
        *self == Tagging::External
    }
}

/// A struct's, tuple struct's or enum's body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// `struct S;` or a unit variant.
    Unit,
    /// `struct S(T);`: on the wire, `T` itself.
    Newtype(Ty),
    /// `struct S(A, B);`.
    Tuple(Vec<Ty>),
    /// `struct S { .. }`, its fields in declaration order.
    Struct(Vec<Field>),
    /// An enum's variants, in declaration order.
    Enum(Vec<Variant>),
}

/// A named field as serde writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// Its name on the wire (after `rename` and `rename_all`).
    pub name: String,
    /// What it holds.
    pub ty: Ty,
    /// `#[serde(default)]`: a payload without it still reads.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
    /// `#[serde(skip_serializing_if = "...")]`: it may be absent from payloads.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional_on_wire: bool,
    /// `#[serde(flatten)]`: its fields are written into this one's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub flatten: bool,
}

/// An enum variant as serde writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    /// Its name on the wire (after `rename` and `rename_all`).
    pub name: String,
    /// Its body.
    pub body: Body,
}

/// A type that can appear in a versioned type's shape. `#[derive(Versioned)]`
/// implements it for the user's types; this crate for the standard library's.
///
/// ```
/// use testbed_versioned::{Ty, WireShape};
///
/// assert_eq!(<Option<u32>>::wire_shape(), Ty::Option(Box::new(Ty::Primitive("u32".into()))));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no wire shape for `Versioned`",
    label = "this field's type is not described",
    note = "derive `testbed::versioned::Versioned` on `{Self}` (without a version it contributes its whole shape), or serialize the field `#[serde(with = \"...\")]`, which `Versioned` records as an opaque"
)]
pub trait WireShape {
    /// This type's shape where it is used.
    fn wire_shape() -> Ty;
}

macro_rules! primitives {
    ($($t:ty => $name:literal),* $(,)?) => {
        $(impl WireShape for $t {
            fn wire_shape() -> Ty {
                Ty::Primitive($name.to_owned())
            }
        })*
    };
}

primitives! {
    bool => "bool", char => "char", () => "()",
    u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", u128 => "u128", usize => "u64",
    i8 => "i8", i16 => "i16", i32 => "i32", i64 => "i64", i128 => "i128", isize => "i64",
    f32 => "f32", f64 => "f64",
    String => "String", str => "String",
    std::path::PathBuf => "String", std::time::Duration => "Duration",
    std::time::SystemTime => "SystemTime",
}

/// Any JSON value: what it holds is not described (a field of this type is free-form).
impl WireShape for serde_json::Value {
    fn wire_shape() -> Ty {
        Ty::Primitive("json".to_owned())
    }
}

/// A JSON object.
impl WireShape for serde_json::Map<String, serde_json::Value> {
    fn wire_shape() -> Ty {
        Ty::Map(
            Box::new(String::wire_shape()),
            Box::new(serde_json::Value::wire_shape()),
        )
    }
}

impl<T: WireShape + ?Sized> WireShape for &T {
    fn wire_shape() -> Ty {
        T::wire_shape()
    }
}

impl<T: WireShape + ?Sized> WireShape for Box<T> {
    fn wire_shape() -> Ty {
        T::wire_shape()
    }
}

impl<T: WireShape + ?Sized> WireShape for std::sync::Arc<T> {
    fn wire_shape() -> Ty {
        T::wire_shape()
    }
}

impl<T: WireShape + ?Sized + ToOwned> WireShape for std::borrow::Cow<'_, T> {
    fn wire_shape() -> Ty {
        T::wire_shape()
    }
}

impl<T: WireShape> WireShape for Option<T> {
    fn wire_shape() -> Ty {
        Ty::Option(Box::new(T::wire_shape()))
    }
}

impl<T: WireShape> WireShape for Vec<T> {
    fn wire_shape() -> Ty {
        Ty::Seq(Box::new(T::wire_shape()))
    }
}

impl<T: WireShape> WireShape for VecDeque<T> {
    fn wire_shape() -> Ty {
        Ty::Seq(Box::new(T::wire_shape()))
    }
}

impl<T: WireShape> WireShape for [T] {
    fn wire_shape() -> Ty {
        Ty::Seq(Box::new(T::wire_shape()))
    }
}

impl<T: WireShape, S> WireShape for HashSet<T, S> {
    fn wire_shape() -> Ty {
        Ty::Set(Box::new(T::wire_shape()))
    }
}

impl<T: WireShape> WireShape for BTreeSet<T> {
    fn wire_shape() -> Ty {
        Ty::Set(Box::new(T::wire_shape()))
    }
}

impl<K: WireShape, V: WireShape, S> WireShape for HashMap<K, V, S> {
    fn wire_shape() -> Ty {
        Ty::Map(Box::new(K::wire_shape()), Box::new(V::wire_shape()))
    }
}

impl<K: WireShape, V: WireShape> WireShape for BTreeMap<K, V> {
    fn wire_shape() -> Ty {
        Ty::Map(Box::new(K::wire_shape()), Box::new(V::wire_shape()))
    }
}

impl<T: WireShape, const N: usize> WireShape for [T; N] {
    fn wire_shape() -> Ty {
        Ty::Array(Box::new(T::wire_shape()), N)
    }
}

macro_rules! tuples {
    ($(($($t:ident),+)),* $(,)?) => {
        $(impl<$($t: WireShape),+> WireShape for ($($t,)+) {
            fn wire_shape() -> Ty {
                Ty::Tuple(vec![$($t::wire_shape()),+])
            }
        })*
    };
}

tuples! {
    (A), (A, B), (A, B, C), (A, B, C, D), (A, B, C, D, E), (A, B, C, D, E, F),
}

thread_local! {
    /// The unversioned types whose shape is being described on this thread: one met
    /// again is recursive.
    static DESCRIBING: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The shape of an unversioned type where it is used: its whole shape, or
/// [`Ty::Recursive`] when it is met inside itself. What the derive emits.
pub fn inline(name: &'static str, describe: impl FnOnce() -> Shape) -> Ty {
    let recursive = DESCRIBING.with(|stack| stack.borrow().contains(&name));
    if recursive {
        return Ty::Recursive(name.to_owned());
    }
    DESCRIBING.with(|stack| stack.borrow_mut().push(name));
    let shape = describe();
    DESCRIBING.with(|stack| stack.borrow_mut().pop());
    Ty::Inline(Box::new(shape))
}
