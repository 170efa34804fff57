//! Procedural macros for testbed. Use them through the `testbed` crate, which re-exports
//! them and documents them: `#[testbed::test]`.
//!
//! The macros only parse, validate and emit a call into `testbed::__private`; all
//! behaviour lives in the `testbed` crate.

mod expand;
mod options;
mod versioned;

use proc_macro::TokenStream;

/// See `testbed::test`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = syn::parse_macro_input!(attr as options::TestOptions);
    let function = syn::parse_macro_input!(item as syn::ItemFn);
    expand::test(options, function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// See `testbed::versioned`.
#[proc_macro_derive(Versioned, attributes(versioned, serde))]
pub fn derive_versioned(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    versioned::derive(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
