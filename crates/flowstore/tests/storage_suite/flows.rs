//! The flow's own fields: name, uuid, metadata and state.

use flowstore::{FlowDetail, State};
use serde_json::{Value, json};

use crate::support::{
    Db, TestResult, get_storage, get_storage_for, object, reload, temporary_flow_detail,
};

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn flow_name_uuid_and_meta(db: Db) -> TestResult {
    let mut flow = FlowDetail::with_uuid("test-fd", "aaaa");
    flow.meta = object(json!({"a": 1}));
    let s = get_storage_for(&db, flow)?;
    assert_eq!(s.flow_name(), "test-fd");
    assert_eq!(s.flow_uuid(), "aaaa");
    assert_eq!(s.flow_meta(), object(json!({"a": 1})));
    assert_eq!(reload(&db, &s)?.flow_meta(), object(json!({"a": 1})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn flow_metadata_update(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.update_flow_metadata(object(json!({"test_data": true})))?;
    assert_eq!(
        s.flow_detail().meta.get("test_data"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        db.load_flow(&s.flow_uuid())?.meta.get("test_data"),
        Some(&Value::Bool(true))
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn initial_flow_state(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    assert_eq!(s.get_flow_state(), State::Pending);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_flow_state(db: Db) -> TestResult {
    let mut flow = temporary_flow_detail(&db)?;
    flow.state = State::Failure;
    db.save_flow(&flow)?;
    let s = flowstore::Storage::load(db.shared(), &flow.uuid)?;
    assert_eq!(s.get_flow_state(), State::Failure);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn set_and_get_flow_state(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.set_flow_state(State::Success)?;
    assert_eq!(s.get_flow_state(), State::Success);
    assert_eq!(reload(&db, &s)?.get_flow_state(), State::Success);
    Ok(())
}
