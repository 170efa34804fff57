use testbed::{BoxError, Fixture, Scope};

struct Thing(u32);
impl Fixture for Thing {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(|o| println!("cleanup after {o}"));
        scope.add_async_cleanup(|o| async move { println!("async cleanup after {o}") });
        Ok(Thing(7))
    }
}

#[testbed::test]
fn sync_works(t: Thing, scope: &Scope) {
    scope.attach("x", "y");
    assert_eq!(t.0, 7);
}

#[testbed::test]
async fn async_works(t: Thing) -> Result<(), String> {
    tokio::task::yield_now().await;
    assert_eq!(t.0, 7);
    Ok(())
}

#[testbed::test(timeout = "100ms")]
#[should_panic(expected = "timed out")]
fn sync_timeout(_t: Thing) {
    std::thread::sleep(std::time::Duration::from_secs(2));
}

#[testbed::test(timeout = "100ms")]
#[should_panic(expected = "timed out")]
async fn async_timeout(_t: Thing) {
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
}

#[testbed::test]
#[should_panic(expected = "boom")]
fn body_panics(scope: &Scope) {
    scope.add_cleanup(|_| Err::<(), _>("cleanup broke"));
    scope.attach("url", "http://x");
    panic!("boom");
}

#[testbed::test]
fn skips(scope: &Scope) {
    scope.add_cleanup(|o| assert_eq!(o, testbed::Outcome::Skipped));
    testbed::skip("nothing", "because");
}
