// A fixture with an async setup in a sync test: the error says to make the test async.
use testbed::{AsyncFixture, BoxError, Scope};

struct Server;

impl AsyncFixture for Server {
    async fn setup(_scope: &Scope) -> Result<Self, BoxError> {
        Ok(Server)
    }
}

#[testbed::test]
fn uses_a_server(server: Server) {
    let _ = server;
}

fn main() {}
