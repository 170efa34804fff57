//! Backport routines checked on data: each sample backported to every older version the
//! manifest records must read as that version's shape; a type with older versions and
//! no routine is reported.

use serde::Serialize;
use serde_json::Value;
use testbed::versioned::{
    Backport, Body, Checker, Field, Manifest, Record, Shape, Tagging, Ty, Version, Versioned,
};

/// 1.0 had `seq` alone; 1.1 adds `sent_by`, which the routine drops for 1.0 peers.
#[derive(Serialize, serde::Deserialize, Versioned)]
#[versioned(version = "1.1", backport)]
struct Ping {
    seq: u64,
    #[serde(default)]
    sent_by: String,
}

impl Backport for Ping {
    fn samples() -> Vec<Self> {
        vec![
            Ping {
                seq: 1,
                sent_by: "a".into(),
            },
            Ping {
                seq: 2,
                sent_by: String::new(),
            },
        ]
    }

    fn backport(mut value: Value, version: Version) -> Result<Value, String> {
        if version < (Version { major: 1, minor: 1 }) {
            value
                .as_object_mut()
                .ok_or("not an object")?
                .remove("sent_by");
        }
        Ok(value)
    }
}

/// 1.0 called `total` `count`; the routine forgets to rename it back.
#[derive(Serialize, Versioned)]
#[versioned(version = "2.0", backport)]
struct Tally {
    total: u32,
}

impl Backport for Tally {
    fn samples() -> Vec<Self> {
        vec![Tally { total: 3 }]
    }

    fn backport(value: Value, _version: Version) -> Result<Value, String> {
        Ok(value)
    }
}

/// Has an older version and no routine.
#[derive(Serialize, Versioned)]
#[versioned(version = "1.1")]
struct Note {
    text: String,
}

fn struct_shape(name: &str, fields: &[(&str, &str)]) -> Shape {
    Shape {
        name: name.into(),
        tagging: Tagging::External,
        transparent: false,
        deny_unknown_fields: false,
        body: Body::Struct(
            fields
                .iter()
                .map(|(field, ty)| Field {
                    name: (*field).into(),
                    ty: Ty::Primitive((*ty).into()),
                    default: false,
                    optional_on_wire: false,
                    flatten: false,
                })
                .collect(),
        ),
    }
}

fn record_both(
    manifest: &mut Manifest,
    older: Record,
    current: Record,
    name: &str,
    current_version: &str,
) {
    let versions = manifest.types.entry(name.into()).or_default();
    versions.insert(older.fingerprint.split('-').next().unwrap().into(), older);
    versions.insert(current_version.into(), current);
}

#[test]
fn backported_samples_are_held_to_each_older_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("versions.json");
    let mut manifest = Manifest::default();
    record_both(
        &mut manifest,
        Record::new("1.0", struct_shape("Ping", &[("seq", "u64")]), vec![]),
        Ping::record(),
        "Ping",
        "1.1",
    );
    record_both(
        &mut manifest,
        Record::new("1.0", struct_shape("Tally", &[("count", "u32")]), vec![]),
        Tally::record(),
        "Tally",
        "2.0",
    );
    record_both(
        &mut manifest,
        Record::new("1.0", struct_shape("Note", &[("text", "String")]), vec![]),
        Note::record(),
        "Note",
        "1.1",
    );
    manifest.write(&path).unwrap();

    let error = Checker::new("backports", &path)
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        !error.contains("`Ping`"),
        "Ping's routine is right: {error}"
    );
    assert!(
        error.contains("`Tally`'s backport routine gives values older versions cannot read:\n  - 1.0, sample 0: missing field `count`"),
        "{error}"
    );
    // Reported with the failure, not a failure of its own.
    assert!(
        error.contains("`Note` has older versions (1.0) and no backport routine"),
        "{error}"
    );
    let (verdicts, _) = Checker::new("backports", &path).compare().unwrap();
    let failing: Vec<&str> = verdicts
        .iter()
        .filter(|(_, verdict)| matches!(verdict, testbed::versioned::Verdict::BadBackport { .. }))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(failing, ["Tally"]);
}

#[test]
fn stable_json_sorts_every_map() {
    let value: std::collections::HashMap<&str, std::collections::HashMap<&str, u8>> = [
        ("z", [("b", 1), ("a", 2)].into_iter().collect()),
        ("y", Default::default()),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        testbed::versioned::stable_json(&value),
        "{\n  \"y\": {},\n  \"z\": {\n    \"a\": 2,\n    \"b\": 1\n  }\n}"
    );
}

#[test]
fn a_value_survives_a_trip_to_an_older_peer() {
    use testbed::versioned::OlderPeer;
    let ping = Ping {
        seq: 4,
        sent_by: "svc".into(),
    };
    let peer = OlderPeer::at("1.0").unwrap();
    // The 1.0 peer's form: no `sent_by`.
    let arrived: serde_json::Value = peer.send(&ping).unwrap();
    assert_eq!(arrived, serde_json::json!({"seq": 4}));
    // Back from the peer, what it did not know is lost, the rest intact.
    let back: Ping = peer.round_trip(&ping).unwrap();
    assert_eq!((back.seq, back.sent_by.as_str()), (4, ""));
    // A remote method runs on what arrived.
    let doubled = peer.call(&ping, |ping: Ping| ping.seq * 2).unwrap();
    assert_eq!(doubled, 8);
    // The current version's peer gets it all.
    let same: Ping = OlderPeer::at("1.1").unwrap().round_trip(&ping).unwrap();
    assert_eq!(same.sent_by, "svc");
}
