//! Procedural macros for testbed. Use them through the `testbed` crate, which re-exports
//! them and documents them: `#[testbed::test]`.
//!
//! The macros only parse, validate and emit a call into `testbed::__private`; all
//! behaviour lives in the `testbed` crate.

mod expand;
mod options;

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
