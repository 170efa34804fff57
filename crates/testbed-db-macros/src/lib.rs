//! Procedural macros for testbed-db. Use them through the `testbed-db` crate, which
//! re-exports and documents them: `testbed_db::migrations!` and `testbed_db::seeds!`.
//!
//! The macros only read the directory or files named, validate them, and emit
//! `include_str!`s of them into a call to `testbed_db::__private`: cargo then rebuilds the
//! test binary when one of them changes, and the binary needs no source tree to run. All
//! behaviour (building the migrations, hashing, applying) lives in `testbed-db`.

mod embed;

use proc_macro::TokenStream;

/// See `testbed_db::migrations!`.
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    let dir = syn::parse_macro_input!(input as embed::MigrationsInput);
    embed::migrations(dir)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// See `testbed_db::seeds!`.
#[proc_macro]
pub fn seeds(input: TokenStream) -> TokenStream {
    let files = syn::parse_macro_input!(input as embed::SeedsInput);
    embed::seeds(files)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
