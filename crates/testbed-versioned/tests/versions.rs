//! `#[derive(Versioned)]` against what serde really writes, and the check's workflow
//! against a manifest in a temporary folder.

use serde::Serialize;
use testbed::versioned::{
    Body, Checker, Profile, Tagging, Ty, Verdict, Versioned, WireShape, diff, review,
};

#[allow(dead_code)] // the types exist for their shapes; serde writes only some values
mod shapes {
    use super::*;

    pub fn as_text<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[derive(Serialize, Versioned)]
    #[versioned(version = "1.2", methods(fn cancel(&self, reason: String) -> bool))]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct Order {
        pub order_id: u64,
        #[serde(rename = "sum")]
        pub total: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub discount: Option<u32>,
        #[serde(skip)]
        pub cache: Vec<u8>,
        #[serde(flatten)]
        pub audit: Audit,
        pub customer: Customer,
        #[serde(with = "as_seconds")]
        pub age: std::time::Duration,
        pub status: Status,
    }

    /// Not versioned: its whole shape is part of `Order`'s.
    #[derive(Serialize, Versioned)]
    pub struct Audit {
        pub created_by: String,
    }

    #[derive(Serialize, Versioned)]
    #[versioned(version = "2.0")]
    pub struct Customer {
        pub id: u64,
    }

    #[derive(Serialize, Versioned)]
    #[serde(tag = "kind", content = "data", rename_all = "snake_case")]
    pub enum Status {
        Open,
        PaidInFull {
            at: u64,
        },
        #[serde(rename = "refunded")]
        Refund(u32),
    }

    #[derive(Serialize, Versioned)]
    #[serde(transparent)]
    pub struct Sku(pub String);

    #[derive(Serialize, Versioned)]
    #[serde(untagged)]
    pub enum Loose {
        Number(u64),
        Words(String),
    }

    #[derive(Serialize, Versioned)]
    pub struct Tree {
        pub children: Vec<Tree>,
    }

    mod as_seconds {
        pub fn serialize<S: serde::Serializer>(
            d: &std::time::Duration,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.serialize_u64(d.as_secs())
        }
    }
}

use shapes::*;

fn order() -> Order {
    Order {
        order_id: 7,
        total: 10,
        discount: Some(1),
        cache: vec![1],
        audit: Audit {
            created_by: "ada".into(),
        },
        customer: Customer { id: 1 },
        age: std::time::Duration::from_secs(3),
        status: Status::PaidInFull { at: 9 },
    }
}

#[test]
fn field_names_are_the_ones_serde_writes() {
    let Body::Struct(fields) = Order::shape().body else {
        panic!("a struct")
    };
    let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "orderId", "sum", "discount", "audit", "customer", "age", "status"
        ]
    );
    let written = as_text(&order());
    for name in names.iter().filter(|name| **name != "audit") {
        assert!(
            written.contains(&format!("\"{name}\":")),
            "{name} in {written}"
        );
    }
    // Flattened: its fields are written into the order's.
    assert!(
        written.contains("\"createdBy\"") || written.contains("\"created_by\""),
        "{written}"
    );
    assert!(!written.contains("cache"), "skipped: {written}");
    let audit = fields.iter().find(|field| field.name == "audit").unwrap();
    assert!(audit.flatten);
    let discount = fields
        .iter()
        .find(|field| field.name == "discount")
        .unwrap();
    assert!(discount.default && discount.optional_on_wire);
    assert_eq!(
        fields.iter().find(|f| f.name == "age").unwrap().ty,
        Ty::Opaque("as_seconds".into())
    );
    assert!(Order::shape().deny_unknown_fields);
}

#[test]
fn variants_and_tagging_are_the_ones_serde_writes() {
    let Ty::Inline(status) = Status::wire_shape() else {
        panic!("inline")
    };
    assert_eq!(
        status.tagging,
        Tagging::Adjacent {
            tag: "kind".into(),
            content: "data".into()
        }
    );
    let Body::Enum(variants) = &status.body else {
        panic!("an enum")
    };
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["open", "paid_in_full", "refunded"]);
    assert_eq!(
        as_text(&Status::Refund(3)),
        r#"{"kind":"refunded","data":3}"#
    );
    assert_eq!(
        as_text(&Status::PaidInFull { at: 1 }),
        r#"{"kind":"paid_in_full","data":{"at":1}}"#
    );
    let Ty::Inline(loose) = Loose::wire_shape() else {
        panic!("inline")
    };
    assert_eq!(loose.tagging, Tagging::Untagged);
    let Ty::Inline(sku) = Sku::wire_shape() else {
        panic!("inline")
    };
    assert!(sku.transparent);
    assert_eq!(sku.body, Body::Newtype(Ty::Primitive("String".into())));
}

#[test]
fn a_versioned_field_is_its_name_and_version_an_unversioned_one_its_whole_shape() {
    let Body::Struct(fields) = Order::shape().body else {
        panic!("a struct")
    };
    let customer = fields
        .iter()
        .find(|field| field.name == "customer")
        .unwrap();
    assert_eq!(
        customer.ty,
        Ty::Versioned {
            name: "Customer".into(),
            version: "2.0".into()
        }
    );
    let audit = fields.iter().find(|field| field.name == "audit").unwrap();
    assert!(matches!(&audit.ty, Ty::Inline(shape) if shape.name == "Audit"));
    // A recursive type ends where it meets itself.
    let Ty::Inline(tree) = Tree::wire_shape() else {
        panic!("inline")
    };
    let Body::Struct(fields) = &tree.body else {
        panic!("a struct")
    };
    assert_eq!(
        fields[0].ty,
        Ty::Seq(Box::new(Ty::Recursive("Tree".into())))
    );
    // Remote methods are part of the record.
    let methods = Order::methods();
    assert_eq!(methods[0].name, "cancel");
    assert_eq!(methods[0].args[0].0, "reason");
}

fn field(name: &str, ty: Ty, default: bool) -> testbed::versioned::Field {
    testbed::versioned::Field {
        name: name.into(),
        ty,
        default,
        optional_on_wire: false,
        flatten: false,
    }
}

fn record(fields: Vec<testbed::versioned::Field>, deny: bool) -> testbed::versioned::Record {
    let shape = testbed::versioned::Shape {
        name: "T".into(),
        tagging: Tagging::External,
        transparent: false,
        deny_unknown_fields: deny,
        body: Body::Struct(fields),
    };
    testbed::versioned::Record::new("1.0", shape, Vec::new())
}

#[test]
fn changes_are_classified_by_profile() {
    let u32_ = || Ty::Primitive("u32".into());
    let base = record(
        vec![field("a", u32_(), false), field("b", u32_(), false)],
        false,
    );
    let texts = |old: &testbed::versioned::Record, new: &testbed::versioned::Record, profile| {
        diff(old, new, profile)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    // Added with a default: compatible by name, breaking by position.
    let added = record(
        vec![
            field("a", u32_(), false),
            field("b", u32_(), false),
            field("c", u32_(), true),
        ],
        false,
    );
    assert_eq!(
        texts(&base, &added, Profile::SelfDescribing),
        ["field `c: u32` added (compatible)"]
    );
    assert_eq!(
        texts(&base, &added, Profile::Positional),
        ["field `c: u32` added (breaking)"]
    );
    let required = record(
        vec![
            field("a", u32_(), false),
            field("b", u32_(), false),
            field("c", u32_(), false),
        ],
        false,
    );
    assert_eq!(
        texts(&base, &required, Profile::SelfDescribing),
        ["field `c: u32` added without a default (breaking)"]
    );
    // Reordered: nothing by name, breaking by position.
    let reordered = record(
        vec![field("b", u32_(), false), field("a", u32_(), false)],
        false,
    );
    assert!(texts(&base, &reordered, Profile::SelfDescribing).is_empty());
    assert!(
        diff(&base, &reordered, Profile::Positional)
            .iter()
            .all(|c| c.breaking)
    );
    // Removed: compatible unless unknown fields are denied.
    let removed = record(vec![field("a", u32_(), false)], false);
    assert_eq!(
        texts(&base, &removed, Profile::SelfDescribing),
        ["field `b: u32` removed (compatible)"]
    );
    let denied = record(vec![field("a", u32_(), false)], true);
    assert!(
        diff(&base, &denied, Profile::SelfDescribing)
            .iter()
            .all(|c| c.breaking)
    );
    // Retyped: a narrowing is breaking, wrapping in Option is not.
    let narrowed = record(
        vec![
            field("a", Ty::Primitive("u8".into()), false),
            field("b", u32_(), false),
        ],
        false,
    );
    assert_eq!(
        texts(&base, &narrowed, Profile::SelfDescribing),
        ["`a` changed from `u32` to `u8` (breaking)"]
    );
    let optional = record(
        vec![
            field("a", Ty::Option(Box::new(u32_())), false),
            field("b", u32_(), false),
        ],
        false,
    );
    assert_eq!(
        texts(&base, &optional, Profile::SelfDescribing),
        ["`a` changed from `u32` to `Option<u32>` (compatible)"]
    );
}

/// The whole workflow on a manifest of this crate's types, in one test so that nothing
/// else reads `CI` meanwhile.
#[testbed::test]
fn the_check_proposes_accepts_and_fails_as_it_should(env: testbed::EnvVars) {
    env.unset("CI");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("versions.json");
    let pending = testbed::versioned::pending_path(&manifest);
    let checker = Checker::new("versions", &manifest);

    // First run: every versioned type is new; the proposal is written, the test fails.
    let error = checker.run().unwrap_err().to_string();
    assert!(
        error.contains("`Order` 1.2 is new: pending review"),
        "{error}"
    );
    assert!(error.contains("`Customer` 2.0 is new"), "{error}");
    assert!(error.contains("cargo testbed versions review"), "{error}");
    assert!(pending.is_file());
    let found = review::find_pending(dir.path());
    assert_eq!(found, std::slice::from_ref(&pending));
    let summary = review::summary(&pending).unwrap();
    assert!(summary.contains("+ `Order` 1.2 (new): 1.2-"), "{summary}");
    review::accept(&pending).unwrap();
    checker.run().unwrap();

    // The recorded 1.2 lacks `status`: the code changed without a bump.
    let mut recorded = testbed::versioned::Manifest::read(&manifest).unwrap();
    let order = recorded
        .types
        .get_mut("Order")
        .unwrap()
        .get_mut("1.2")
        .unwrap();
    let Body::Struct(fields) = &mut order.shape.body else {
        panic!("a struct")
    };
    fields.retain(|field| field.name != "status");
    order.fingerprint = "1.2-0000000000000000".into();
    recorded.write(&manifest).unwrap();
    let (verdicts, _) = checker.compare().unwrap();
    let (_, verdict) = verdicts.iter().find(|(name, _)| name == "Order").unwrap();
    assert!(
        matches!(verdict, Verdict::ChangedWithoutBump { .. }),
        "{verdict:?}"
    );
    let error = checker.run().unwrap_err().to_string();
    assert!(
        error.contains("`Order` 1.2: its wire shape changed without a version bump: make it 2.0"),
        "{error}"
    );
    assert!(
        error.contains("field `status: Status` added without a default (breaking)"),
        "{error}"
    );
    assert!(
        !pending.exists(),
        "a failure asks for a code change, not a review"
    );

    // Recorded as 1.1 instead: 1.2 is a bump, too small for a breaking change.
    let mut recorded = testbed::versioned::Manifest::read(&manifest).unwrap();
    let versions = recorded.types.get_mut("Order").unwrap();
    let old = versions.remove("1.2").unwrap();
    versions.insert("1.1".into(), old);
    // And a type no longer declared.
    let customer = recorded.types["Customer"].clone();
    recorded.types.insert("Gone".into(), customer);
    recorded.write(&manifest).unwrap();
    let error = checker.run().unwrap_err().to_string();
    assert!(
        error.contains(
            "`Order` bumped from 1.1 to 1.2, too little for its breaking changes: make it 2.0"
        ),
        "{error}"
    );
    assert!(
        error.contains("`Gone` is no longer declared: pending review"),
        "{error}"
    );

    // Under CI nothing is written, whatever the verdicts.
    let _ = std::fs::remove_file(&pending);
    env.set("CI", "true");
    let error = checker.run().unwrap_err().to_string();
    assert!(
        error.contains("CI writes nothing") || error.contains("each failure above says"),
        "{error}"
    );
    assert!(!pending.exists());
}
