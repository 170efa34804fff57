// The scope taken by value: the error says to take `&Scope`.
use testbed::Scope;

#[testbed::test]
fn takes_the_scope_by_value(scope: Scope) {
    let _ = scope;
}

fn main() {}
