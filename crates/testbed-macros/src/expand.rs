//! Code generation for `#[testbed::test]`.
//!
//! The user's function becomes an inner function `__testbed_body` with the same
//! arguments, and the test itself a `#[test] fn` that hands a setup-and-body closure to
//! the runner in `testbed::__private`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Type};

use crate::options::TestOptions;

pub(crate) fn test(options: TestOptions, function: ItemFn) -> syn::Result<TokenStream> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a test function cannot be generic",
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "a test function cannot take `self`",
        ));
    }
    let is_async = sig.asyncness.is_some();
    let name = &sig.ident;
    let scope = quote!(__testbed_scope);

    let mut setups = Vec::new();
    let mut call_args = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else {
            unreachable!("receivers are rejected above");
        };
        if is_scope_ref(&typed.ty) {
            call_args.push(quote!(#scope));
            continue;
        }
        let arg = format_ident!("__testbed_arg{}", index);
        let ty = &typed.ty;
        let setup = if is_async {
            quote_spanned! {ty.span()=>
                let #arg = ::testbed::__private::setup_async::<#ty>(#scope).await?;
            }
        } else {
            quote_spanned! {ty.span()=>
                let #arg = ::testbed::__private::setup::<#ty>(#scope)?;
            }
        };
        setups.push(setup);
        call_args.push(quote!(#arg));
    }

    let mut inner_sig = sig.clone();
    inner_sig.ident = format_ident!("__testbed_body");
    let info = match options.timeout {
        Some(limit) => {
            let millis = limit.as_millis() as u64;
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#millis)))
        }
        None => quote!(::core::option::Option::None),
    };
    let info = quote! {
        &::testbed::__private::TestInfo {
            name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
            timeout: #info,
        }
    };

    let run = if is_async {
        quote! {
            ::testbed::__private::run_async(#info, |#scope: ::testbed::Scope| async move {
                let #scope = &#scope;
                #(#setups)*
                ::testbed::__private::body_async(#scope, __testbed_body(#(#call_args),*)).await
            })
        }
    } else {
        let closure = quote! {
            |#scope: &::testbed::Scope| -> ::testbed::__private::Step {
                #(#setups)*
                ::testbed::__private::body(#scope, move || __testbed_body(#(#call_args),*))
            }
        };
        match options.timeout {
            Some(limit) => {
                let millis = limit.as_millis() as u64;
                quote! {
                    ::testbed::__private::run_sync_with_timeout(
                        #info,
                        ::core::time::Duration::from_millis(#millis),
                        move #closure,
                    )
                }
            }
            None => quote!(::testbed::__private::run_sync(#info, #closure)),
        }
    };

    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            #inner_sig #block
            #run
        }
    })
}

/// Whether `ty` is `&Scope` (by any path ending in `Scope`): the test's own scope.
fn is_scope_ref(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    if reference.mutability.is_some() {
        return false;
    }
    match &*reference.elem {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Scope"),
        _ => false,
    }
}
