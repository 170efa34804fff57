//! keystone's KVS test suite (`keystone/tests/test_kvs.py`), ported to Rust and testbed,
//! run over every backend: each test that applies to any backend is declared with
//! `scenarios(memory, redis)` and runs once on memory (`<test>::memory`) and once on
//! Redis (`<test>::redis`, skipped with its reason when no server answers, failed when
//! `TESTBED_REQUIRE` names `redis` or is `all`).
//!
//! How the port differs from the original, test by test:
//!
//! - Kept, on both backends: basic configuration, proxy configuration (proxies are
//!   also checked to see calls outermost first), default SHA-1 mangler, mangler disabled
//!   by a config override, basic get/set/delete (the "not the same object" check becomes
//!   "changing the copy leaves the store alone"), multi get/set/delete, the four lock
//!   context tests, lock timeout, and mismatched lock keys.
//! - Kept on the suite's own test backend only, as in the original: mangler supplied by
//!   the backend and forced by the backend. The lock context test runs there as well
//!   (`kvs_locking_context_handler_on_test_backend`), where the original ran it. Added beside them: a configured mangler beats
//!   a backend's that does not force its own (the original only implies it).
//! - `test_kvs_key_mangler_set_on_backend` becomes `kvs_key_mangler_set_on_region`: here
//!   the region mangles keys and backends never see raw keys, so there is no mangler to
//!   keep in step on the backend; the test checks where values land instead.
//! - The lock timeout test moves the region's clock forward instead of editing the
//!   lock's acquire time, which Rust keeps private.
//! - The memcached tests move to Redis, the network backend here:
//!   `memcached_manager_valid_dogpile_memcached_backend` becomes
//!   `kvs_redis_backend_configuration` (options reach the backend);
//!   `memcached_manager_invalid_dogpile_memcached_backend` and
//!   `TestMemcachedBackend.test_invalid_backend_fails_initialization` become
//!   `kvs_unknown_backend_lists_registered`, `kvs_unknown_backend_option_is_rejected` and
//!   `kvs_redis_invalid_url_is_rejected` (there is no driver to pick inside the Redis
//!   backend; what can be misnamed is the backend, an option, or the URL);
//!   `memcache_set_arguments_and_memcache_expires_ttl` becomes
//!   `kvs_expire_time_and_no_expiry_keys`, reading the TTL the backend really stored
//!   instead of the arguments a fake client recorded;
//!   `memcache_manager_no_expiry_keys` and `memcache_key_mangler_set_to_none` merge into
//!   `kvs_no_expiry_keys_follow_key_mangler` (the region decides expiry from the raw key,
//!   so there is no hashed key set to recompute; the test checks the effect);
//!   `memcached_lock_max_lock_attempts` becomes `kvs_lock_max_lock_attempts`, on both
//!   backends since the attempt limit belongs to the region.
//! - Dropped: `test_noncallable_key_mangler_set_on_driver_raises_type_error` (a mangler
//!   is a typed function: the compiler rejects anything else); the `active` checks on
//!   locks (a `KeyLock` is active for exactly as long as it exists).
//! - New: `kvs_expired_keys_are_not_found`, `kvs_expiry_needs_a_backend_with_expiry`,
//!   `kvs_abandoned_lock_expires`.
//!
//! Run it with `cargo test -p kvs --test keystone_suite` (or `cargo nextest run -p kvs`);
//! point it at another Redis with `TESTBED_REDIS_URL`. The target runs on testbed's
//! harness: a skipped test shows as `ignored` with its reason, and the run ends with what
//! the shared Redis server cost.

mod config_gate;
mod keys;
mod stores;
mod test_backend;

mod configuration;
mod expiry;
mod faults;
mod key_mangling;
mod locking;
mod operations;

/// What a test body returns: any error fails the test and is printed with its causes.
pub type TestResult = Result<(), testbed::BoxError>;

/// The harness runs every `#[testbed::test]` of this target (`harness = false`).
fn main() {
    testbed::harness::main()
}
