//! Code generation for `#[testbed::test]`.
//!
//! The user's function becomes an inner function `__testbed_body` with the same
//! arguments, inside a hidden `__testbed_run_<name>` that hands a setup-and-body closure
//! to the runner in `testbed::__private`. Three entry points call it: a libtest
//! `#[test] fn <name>`, a plain `fn <name>` where `cfg(test)` is off (doctests), and a
//! registration for testbed's optional harness. With `scenarios(...)`, the test becomes a
//! module with one set of entry points per scenario, so libtest names it
//! `test_name::scenario`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ItemFn, Type};

use crate::options::{ResourceItem, Scenarios, TestOptions};

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
    let scenario = quote!(__testbed_scenario);
    let has_scenarios = options.scenarios.is_some();

    let mut setups = Vec::new();
    let mut call_args = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else {
            unreachable!("receivers are rejected above");
        };
        if is_ref_to(&typed.ty, "Scope") {
            call_args.push(quote!(#scope));
            continue;
        }
        let scenario_arg = if is_ref_to(&typed.ty, "Scenario") {
            Some(quote!(&#scenario))
        } else if is_named(&typed.ty, "Scenario") {
            Some(quote!(#scenario))
        } else {
            None
        };
        if let Some(arg) = scenario_arg {
            if !has_scenarios {
                return Err(syn::Error::new_spanned(
                    &typed.ty,
                    "this test takes a `Scenario` but lists none: add `scenarios(...)`, as in \
                     `#[testbed::test(scenarios(memory, sqlite))]`",
                ));
            }
            call_args.push(arg);
            continue;
        }
        let arg = format_ident!("__testbed_arg{}", index);
        let ty = &typed.ty;
        let setup = if is_async {
            quote_spanned! {ty.span()=>
                let #arg = <#ty as ::testbed::AsyncFixture>::setup(#scope).await?;
            }
        } else {
            quote_spanned! {ty.span()=>
                let #arg = <#ty as ::testbed::Fixture>::setup(#scope)?;
            }
        };
        setups.push(setup);
        call_args.push(quote!(#arg));
    }
    if has_scenarios {
        setups.insert(
            0,
            quote!(::testbed::__private::enter_scenario(#scope, #scenario);),
        );
    }

    let mut inner_sig = sig.clone();
    inner_sig.ident = format_ident!("__testbed_body");
    let test_name = quote!(__testbed_name);
    let info = match options.timeout {
        Some(limit) => {
            let millis = limit.as_millis() as u64;
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#millis)))
        }
        None => quote!(::core::option::Option::None),
    };
    let attrs = TestAttrs::split(attrs)?;
    let should_panic = attrs.should_panic_tokens();
    let allow_leaks = &options.allow_leaks;
    let info = quote! {
        &::testbed::__private::TestInfo {
            name: #test_name,
            timeout: #info,
            should_panic: #should_panic,
            allow_leaks: &[#(::testbed::leaks::Category::#allow_leaks),*],
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
            None => quote!(::testbed::__private::run_sync_default(#info, move #closure)),
        }
    };

    let Some(scenarios) = &options.scenarios else {
        let resources_name = resources_static_name(name, &[]);
        let resources = resources_static(&resources_name, &options, &[]);
        let runnable = format_ident!("__testbed_run_{}", name);
        let entry = entry_points(name, &runnable, &vis, &attrs, &resources_name, &quote!());
        let TestAttrs { other, .. } = &attrs;
        return Ok(quote! {
            #resources
            #[doc(hidden)]
            #[allow(non_snake_case)]
            #(#other)*
            #vis fn #runnable() {
                let #test_name: &'static str =
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name));
                #inner_sig #block
                #run
            }
            #entry
        });
    };

    let runner = format_ident!("__testbed_scenarios_{}", name);
    let TestAttrs { other, .. } = &attrs;
    let resources = scenarios
        .combinations()
        .into_iter()
        .map(|values| resources_static(&resources_static_name(name, &values), &options, &values));
    let resources = quote!(#(#resources)*);
    let cases = scenario_modules(scenarios, &attrs, &runner, name, &[], 1);
    Ok(quote! {
        #resources
        #[doc(hidden)]
        #[allow(non_snake_case)]
        #(#other)*
        fn #runner(#test_name: &'static str, #scenario: ::testbed::scenarios::Scenario) {
            #inner_sig #block
            #run
        }
        #[allow(non_snake_case)]
        #vis mod #name {
            #cases
        }
    })
}

/// The ways a test is run, all calling `runnable`: a libtest `#[test] fn name` (kept by
/// rustc only when it builds a libtest harness), a plain `fn name` where `cfg(test)` is
/// off (doctests, examples), and a registration for testbed's harness (`harness = false`
/// targets, which cargo builds with `cfg(test)` but without libtest).
fn entry_points(
    name: &Ident,
    runnable: &Ident,
    vis: &syn::Visibility,
    attrs: &TestAttrs,
    resources: &Ident,
    supers: &TokenStream,
) -> TokenStream {
    let registration = attrs.registration(name, runnable, quote!(&#supers #resources));
    let TestAttrs { libtest, other, .. } = attrs;
    quote! {
        #[::core::prelude::v1::test]
        #(#libtest)*
        #(#other)*
        #vis fn #name() {
            #runnable()
        }
        #[cfg(not(test))]
        #(#other)*
        #vis fn #name() {
            #runnable()
        }
        #registration
    }
}

/// The hidden static listing the resources a test (in the scenario made of `values`)
/// declared, for the harness's plan.
fn resources_static(static_name: &Ident, options: &TestOptions, values: &[&Ident]) -> TokenStream {
    let resources: Vec<&syn::Path> = options
        .resources
        .iter()
        .flat_map(|item| match item {
            ResourceItem::Always(path) => vec![path],
            ResourceItem::ForScenario(scenario, paths) if values.contains(&scenario) => {
                paths.iter().collect()
            }
            ResourceItem::ForScenario(..) => Vec::new(),
        })
        .collect();
    let count = resources.len();
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        static #static_name: [&'static dyn ::testbed::resources::AnyResource; #count] =
            [#(&#resources),*];
    }
}

fn resources_static_name(name: &Ident, values: &[&Ident]) -> Ident {
    let mut static_name = format!("__testbed_resources_{name}");
    for value in values {
        static_name.push_str("__");
        static_name.push_str(&value.to_string());
    }
    format_ident!("{}", static_name)
}

/// One module level per dimension; the last level holds one test function per scenario.
fn scenario_modules(
    scenarios: &Scenarios,
    attrs: &TestAttrs,
    runner: &Ident,
    test: &Ident,
    chosen: &[(&str, &Ident)],
    depth: usize,
) -> TokenStream {
    let (dimension, values) = &scenarios.dimensions[chosen.len()];
    let is_last = chosen.len() + 1 == scenarios.dimensions.len();
    let supers: TokenStream = (0..depth).map(|_| quote!(super::)).collect();
    let mut items = Vec::new();
    for value in values {
        let mut path = chosen.to_vec();
        path.push((dimension.as_str(), value));
        if !is_last {
            let inner = scenario_modules(scenarios, attrs, runner, test, &path, depth + 1);
            items.push(quote! {
                pub mod #value {
                    #inner
                }
            });
            continue;
        }
        let pairs = path.iter().map(|(dimension, value)| {
            let value = value.to_string();
            quote!((#dimension, #value))
        });
        let runnable = format_ident!("__testbed_run_{}", value);
        let public = syn::parse_quote!(pub);
        let values: Vec<&Ident> = path.iter().map(|(_, value)| *value).collect();
        let resources = resources_static_name(test, &values);
        let entry = entry_points(value, &runnable, &public, attrs, &resources, &supers);
        items.push(quote! {
            #[doc(hidden)]
            #[allow(non_snake_case)]
            pub fn #runnable() {
                #supers #runner(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#value)),
                    ::testbed::scenarios::Scenario::new(&[#(#pairs),*]),
                )
            }
            #entry
        });
    }
    quote!(#(#items)*)
}

/// The test's attributes, split into those only libtest understands (`#[ignore]`,
/// `#[should_panic]`, applied only under `cfg(test)` and told to the harness otherwise)
/// and the rest.
struct TestAttrs {
    libtest: Vec<TokenStream>,
    other: Vec<Attribute>,
    ignored: bool,
    should_panic: Option<Option<String>>,
}

impl TestAttrs {
    fn split(attrs: Vec<Attribute>) -> syn::Result<Self> {
        let mut split = TestAttrs {
            libtest: Vec::new(),
            other: Vec::new(),
            ignored: false,
            should_panic: None,
        };
        for attr in attrs {
            if attr.path().is_ident("ignore") {
                split.ignored = true;
            } else if attr.path().is_ident("should_panic") {
                split.should_panic = Some(expected_panic(&attr)?);
            } else {
                split.other.push(attr);
                continue;
            }
            split.libtest.push(quote!(#attr));
        }
        Ok(split)
    }

    /// What `#[should_panic]` asked for, as a `ShouldPanic` value: the runner tells its
    /// cleanups that an expected panic is a pass, and the harness judges by it.
    fn should_panic_tokens(&self) -> TokenStream {
        match &self.should_panic {
            None => quote!(::testbed::__private::ShouldPanic::No),
            Some(None) => quote!(::testbed::__private::ShouldPanic::Yes),
            Some(Some(expected)) => {
                quote!(::testbed::__private::ShouldPanic::WithMessage(#expected))
            }
        }
    }

    /// Registers `runnable` with the harness under the test's name (a no-op unless
    /// testbed's `harness` feature is on).
    fn registration(&self, name: &Ident, runnable: &Ident, resources: TokenStream) -> TokenStream {
        let ignored = self.ignored;
        let should_panic = self.should_panic_tokens();
        quote! {
            ::testbed::__harness_register! {
                name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                run: #runnable,
                ignored: #ignored,
                should_panic: #should_panic,
                resources: #resources,
            }
        }
    }
}

/// `expected = "..."` of `#[should_panic(expected = "...")]`, if given.
fn expected_panic(attr: &Attribute) -> syn::Result<Option<String>> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(None),
        syn::Meta::NameValue(pair) => string_literal(&pair.value).map(Some),
        syn::Meta::List(list) => {
            let pair: syn::MetaNameValue = list.parse_args()?;
            if !pair.path.is_ident("expected") {
                return Err(syn::Error::new_spanned(
                    pair.path,
                    "expected `expected = \"...\"`",
                ));
            }
            string_literal(&pair.value).map(Some)
        }
    }
}

fn string_literal(expr: &syn::Expr) -> syn::Result<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Ok(text.value()),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

/// Whether `ty` is `&<name>` (by any path ending in `name`).
fn is_ref_to(ty: &Type, name: &str) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    reference.mutability.is_none() && is_named(&reference.elem, name)
}

/// Whether `ty` is a path ending in `name`.
fn is_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == name),
        _ => false,
    }
}
