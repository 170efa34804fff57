//! Each kind of wire change, caught and classified; and what leaves the wire alone, not
//! flagged. A test binary of its own: its types share wire names on purpose, which the
//! check of a crate refuses.

/// Two versions of the same wire type, declared side by side (the Rust names differ,
/// serde's `rename` gives both the same wire name), and what the diff says of them.
#[allow(dead_code)] // the types exist for their shapes
mod change_kinds {
    use testbed::versioned::{Profile, Record, Versioned, diff};

    fn texts(old: Record, new: Record) -> Vec<String> {
        diff(&old, &new, Profile::SelfDescribing)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Item")]
    struct ItemV1 {
        id: u64,
        label: String,
    }

    /// A doc comment, a Rust-side rename under serde's `rename`, and the fields in
    /// another order: nothing on the wire changed.
    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Item")]
    struct ItemSame {
        #[serde(rename = "label")]
        title: String,
        /// The id.
        id: u64,
    }

    #[test]
    fn what_leaves_the_wire_alone_is_not_flagged() {
        assert!(texts(ItemV1::record(), ItemSame::record()).is_empty());
    }

    /// Renamed on the wire through serde: a removal and an addition.
    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Item", rename_all = "camelCase")]
    struct ItemRenamed {
        id: u64,
        #[serde(rename = "name")]
        label: String,
    }

    #[test]
    fn a_rename_through_serde_is_a_removal_and_an_addition() {
        assert_eq!(
            texts(ItemV1::record(), ItemRenamed::record()),
            [
                "field `name: String` added without a default (breaking)",
                "field `label: String` removed (compatible)"
            ]
        );
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Event")]
    enum EventV1 {
        Created { at: u64 },
        Deleted,
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Event", tag = "type")]
    enum EventV2 {
        Created { at: u64 },
        Archived,
    }

    #[test]
    fn variants_added_and_removed_and_a_tag_change_are_caught() {
        assert_eq!(
            texts(EventV1::record(), EventV2::record()),
            [
                "tagging changed from External to Internal { tag: \"type\" } (breaking)",
                "variant `Archived` added (compatible)",
                "variant `Deleted` removed (breaking)"
            ]
        );
    }

    #[derive(Versioned)]
    struct Meta {
        source: String,
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Doc")]
    struct DocV1 {
        meta: Meta,
        owner: OwnerV1,
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Doc")]
    struct DocV2 {
        #[serde(flatten)]
        meta: Meta,
        owner: OwnerV2,
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Owner")]
    struct OwnerV1 {
        id: u64,
    }

    #[derive(Versioned)]
    #[versioned(version = "1.1")]
    #[serde(rename = "Owner")]
    struct OwnerV2 {
        id: u64,
        #[serde(default)]
        email: String,
    }

    #[test]
    fn flatten_and_a_childs_bump_are_caught_and_the_child_is_recorded() {
        assert_eq!(
            texts(DocV1::record(), DocV2::record()),
            [
                "field `meta`: `flatten` turned on (breaking)",
                "`owner` now holds Owner@1.1 (was @1.0) (compatible)"
            ]
        );
        // The relationship tree: the parent records its child's version; the child's
        // own change stays the child's.
        assert_eq!(DocV2::record().children["Owner"], "1.1");
        assert_eq!(
            texts(OwnerV1::record(), OwnerV2::record()),
            ["field `email: String` added (compatible)"]
        );
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Price")]
    struct PriceV1 {
        cents: u32,
    }

    #[derive(Versioned)]
    #[versioned(version = "1.0")]
    #[serde(rename = "Price")]
    struct PriceV2 {
        cents: String,
    }

    #[test]
    fn a_type_change_is_caught() {
        assert_eq!(
            texts(PriceV1::record(), PriceV2::record()),
            ["`cents` changed from `u32` to `String` (breaking)"]
        );
    }
}

#[test]
fn the_check_refuses_two_types_with_one_wire_name() {
    let dir = tempfile::tempdir().unwrap();
    let checker =
        testbed::versioned::Checker::new("change_kinds", dir.path().join("versions.json"));
    let error = checker.compare().unwrap_err().to_string();
    assert!(error.starts_with("tell versioned types `"), "{error}");
    assert!(error.contains("#[serde(rename"), "{error}");
}
