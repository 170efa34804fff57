//! Prints the name of the suite's template on each backend (`<backend> <name>`), so the
//! stress test can tell this suite's templates from other runs' on a shared server.

fn main() -> Result<(), testbed_db::SchemaLoadError> {
    for backend in [
        testbed_db::Backend::Sqlite,
        testbed_db::Backend::Postgres,
        testbed_db::Backend::MySql,
    ] {
        let name = testbed_nextest_suite::SCHEMA.template_name(backend)?;
        println!("{} {name}", backend.name());
    }
    Ok(())
}
