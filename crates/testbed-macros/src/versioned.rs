//! `#[derive(Versioned)]`: reads a type and its `#[serde(...)]` attributes as serde's
//! derive reads them, and emits its wire shape for `testbed::versioned` (and, with
//! `#[versioned(version = "...")]`, its version and its registration for the check).

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Token};

/// The derive's expansion of `input`.
pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let options = VersionedOptions::parse(&input.attrs)?;
    let container = SerdeContainer::parse(&input.attrs)?;
    let ident = &input.ident;
    let name = container
        .rename
        .clone()
        .unwrap_or_else(|| ident.to_string());
    let body = match &input.data {
        Data::Struct(data) => fields_body(&data.fields, container.rename_all.as_deref())?,
        Data::Enum(data) => {
            let mut variants = Vec::new();
            for variant in &data.variants {
                let serde = SerdeField::parse(&variant.attrs)?;
                if serde.skip {
                    continue;
                }
                let wire = serde.rename.clone().unwrap_or_else(|| {
                    rename_variant(&variant.ident.to_string(), container.rename_all.as_deref())
                });
                let body = fields_body(&variant.fields, serde.rename_all.as_deref())?;
                variants.push(quote! {
                    ::testbed::versioned::Variant { name: #wire.to_owned(), body: #body }
                });
            }
            quote! { ::testbed::versioned::Body::Enum(::std::vec![#(#variants),*]) }
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span(),
                "`Versioned` describes structs and enums as serde writes them; serde has no representation for unions",
            ));
        }
    };
    let tagging = container.tagging();
    let (transparent, deny) = (container.transparent, container.deny_unknown_fields);
    let shape = quote! {
        ::testbed::versioned::Shape {
            name: #name.to_owned(),
            tagging: #tagging,
            transparent: #transparent,
            deny_unknown_fields: #deny,
            body: #body,
        }
    };
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param
            .bounds
            .push(syn::parse_quote!(::testbed::versioned::WireShape));
    }
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    let Some(version) = options.version else {
        return Ok(quote! {
            impl #impl_generics ::testbed::versioned::WireShape for #ident #type_generics #where_clause {
                fn wire_shape() -> ::testbed::versioned::Ty {
                    ::testbed::versioned::inline(#name, || #shape)
                }
            }
        });
    };
    check_version(&version)?;
    let methods = options.methods.iter().map(method_tokens);
    let backport = if options.backport {
        quote! { ::std::option::Option::Some(::testbed::versioned::backport_routine::<#ident>) }
    } else {
        quote! { ::std::option::Option::None }
    };
    let registration = input.generics.params.is_empty().then(|| {
        quote! {
            ::testbed::versioned::__private::inventory::submit! {
                ::testbed::versioned::Registration {
                    name: #name,
                    version: #version,
                    module: ::std::module_path!(),
                    record: <#ident as ::testbed::versioned::Versioned>::record,
                    backport: #backport,
                }
            }
        }
    });
    Ok(quote! {
        impl #impl_generics ::testbed::versioned::WireShape for #ident #type_generics #where_clause {
            fn wire_shape() -> ::testbed::versioned::Ty {
                ::testbed::versioned::Ty::Versioned { name: #name.to_owned(), version: #version.to_owned() }
            }
        }
        impl #impl_generics ::testbed::versioned::Versioned for #ident #type_generics #where_clause {
            const NAME: &'static str = #name;
            const VERSION: &'static str = #version;
            fn shape() -> ::testbed::versioned::Shape {
                #shape
            }
            fn methods() -> ::std::vec::Vec<::testbed::versioned::Method> {
                ::std::vec![#(#methods),*]
            }
        }
        #registration
    })
}

fn check_version(version: &LitStr) -> syn::Result<()> {
    let text = version.value();
    let valid = text
        .split_once('.')
        .is_some_and(|(major, minor)| major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            version.span(),
            format!("version `{text}` is not `major.minor`: write it as `1.0` or `2.3`"),
        ))
    }
}

/// The `Body` of a struct's or a variant's fields.
fn fields_body(fields: &Fields, rename_all: Option<&str>) -> syn::Result<TokenStream> {
    Ok(match fields {
        Fields::Unit => quote! { ::testbed::versioned::Body::Unit },
        Fields::Unnamed(unnamed) => {
            let mut tys = Vec::new();
            for field in &unnamed.unnamed {
                let serde = SerdeField::parse(&field.attrs)?;
                if serde.skip {
                    continue;
                }
                tys.push(field_ty(&field.ty, &serde));
            }
            if tys.len() == 1 {
                let ty = &tys[0];
                quote! { ::testbed::versioned::Body::Newtype(#ty) }
            } else {
                quote! { ::testbed::versioned::Body::Tuple(::std::vec![#(#tys),*]) }
            }
        }
        Fields::Named(named) => {
            let mut out = Vec::new();
            for field in &named.named {
                let serde = SerdeField::parse(&field.attrs)?;
                if serde.skip {
                    continue;
                }
                let ident = field.ident.as_ref().expect("named").to_string();
                let ident = ident.trim_start_matches("r#");
                let wire = serde
                    .rename
                    .clone()
                    .unwrap_or_else(|| rename_field(ident, rename_all));
                let ty = field_ty(&field.ty, &serde);
                let (default, optional, flatten) =
                    (serde.default, serde.skip_serializing_if, serde.flatten);
                out.push(quote! {
                    ::testbed::versioned::Field {
                        name: #wire.to_owned(),
                        ty: #ty,
                        default: #default,
                        optional_on_wire: #optional,
                        flatten: #flatten,
                    }
                });
            }
            quote! { ::testbed::versioned::Body::Struct(::std::vec![#(#out),*]) }
        }
    })
}

fn field_ty(ty: &syn::Type, serde: &SerdeField) -> TokenStream {
    match &serde.with {
        Some(with) => quote! { ::testbed::versioned::Ty::Opaque(#with.to_owned()) },
        None => quote! { <#ty as ::testbed::versioned::WireShape>::wire_shape() },
    }
}

fn method_tokens(signature: &syn::Signature) -> TokenStream {
    let name = signature.ident.to_string();
    let args = signature.inputs.iter().filter_map(|arg| match arg {
        syn::FnArg::Receiver(_) => None,
        syn::FnArg::Typed(typed) => {
            let pat = &typed.pat;
            let arg_name = quote!(#pat).to_string();
            let ty = &typed.ty;
            Some(quote! { (#arg_name.to_owned(), <#ty as ::testbed::versioned::WireShape>::wire_shape()) })
        }
    });
    let returns = match &signature.output {
        syn::ReturnType::Default => {
            quote! { <() as ::testbed::versioned::WireShape>::wire_shape() }
        }
        syn::ReturnType::Type(_, ty) => {
            quote! { <#ty as ::testbed::versioned::WireShape>::wire_shape() }
        }
    };
    quote! {
        ::testbed::versioned::Method {
            name: #name.to_owned(),
            args: ::std::vec![#(#args),*],
            returns: #returns,
        }
    }
}

/// `#[versioned(version = "1.2", methods(fn cancel(reason: String) -> bool))]`.
#[derive(Default)]
struct VersionedOptions {
    version: Option<LitStr>,
    methods: Vec<syn::Signature>,
    backport: bool,
}

impl VersionedOptions {
    fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut options = VersionedOptions::default();
        for attr in attrs
            .iter()
            .filter(|attr| attr.path().is_ident("versioned"))
        {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("version") {
                    options.version = Some(meta.value()?.parse()?);
                    Ok(())
                } else if meta.path.is_ident("backport") {
                    options.backport = true;
                    Ok(())
                } else if meta.path.is_ident("methods") {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let signatures = Punctuated::<syn::Signature, Token![,]>::parse_terminated(&content)?;
                    options.methods.extend(signatures);
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown `versioned` option: use `version = \"1.0\"`, `backport` or `methods(fn name(arg: Type) -> Type, ...)`",
                    ))
                }
            })?;
        }
        Ok(options)
    }
}

/// The container attributes of `#[serde(...)]` that change the wire.
#[derive(Default)]
struct SerdeContainer {
    rename: Option<String>,
    rename_all: Option<String>,
    tag: Option<String>,
    content: Option<String>,
    untagged: bool,
    transparent: bool,
    deny_unknown_fields: bool,
}

impl SerdeContainer {
    fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut container = SerdeContainer::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                if path.is_ident("rename") {
                    container.rename = serialize_name(&meta)?;
                } else if path.is_ident("rename_all") {
                    container.rename_all = serialize_name(&meta)?;
                } else if path.is_ident("tag") {
                    container.tag = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if path.is_ident("content") {
                    container.content = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if path.is_ident("untagged") {
                    container.untagged = true;
                } else if path.is_ident("transparent") {
                    container.transparent = true;
                } else if path.is_ident("deny_unknown_fields") {
                    container.deny_unknown_fields = true;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        }
        Ok(container)
    }

    fn tagging(&self) -> TokenStream {
        match (&self.tag, &self.content, self.untagged) {
            (_, _, true) => quote! { ::testbed::versioned::Tagging::Untagged },
            (Some(tag), Some(content), false) => quote! {
                ::testbed::versioned::Tagging::Adjacent { tag: #tag.to_owned(), content: #content.to_owned() }
            },
            (Some(tag), None, false) => quote! {
                ::testbed::versioned::Tagging::Internal { tag: #tag.to_owned() }
            },
            _ => quote! { ::testbed::versioned::Tagging::External },
        }
    }
}

/// The field (or variant) attributes of `#[serde(...)]` that change the wire.
#[derive(Default)]
struct SerdeField {
    rename: Option<String>,
    rename_all: Option<String>,
    default: bool,
    skip: bool,
    skip_serializing_if: bool,
    flatten: bool,
    with: Option<String>,
}

impl SerdeField {
    fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut field = SerdeField::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                if path.is_ident("rename") {
                    field.rename = serialize_name(&meta)?;
                } else if path.is_ident("rename_all") {
                    field.rename_all = serialize_name(&meta)?;
                } else if path.is_ident("default") {
                    field.default = true;
                    skip_value(&meta)?;
                } else if path.is_ident("skip") || path.is_ident("skip_serializing") {
                    field.skip = true;
                } else if path.is_ident("skip_serializing_if") {
                    field.skip_serializing_if = true;
                    skip_value(&meta)?;
                } else if path.is_ident("flatten") {
                    field.flatten = true;
                } else if path.is_ident("with") || path.is_ident("serialize_with") {
                    field.with = Some(meta.value()?.parse::<LitStr>()?.value());
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        }
        Ok(field)
    }
}

/// The serialized name of `rename = "x"` or `rename(serialize = "x", ...)`.
fn serialize_name(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<String>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse::<LitStr>()?.value()));
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            name = Some(inner.value()?.parse::<LitStr>()?.value());
        } else {
            skip_value(&inner)?;
        }
        Ok(())
    })?;
    Ok(name)
}

/// Consumes an attribute's value (`= ...` or `(...)`) that does not change the wire.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// A field's name under `rename_all`, as serde renames it (from `snake_case`).
fn rename_field(field: &str, rule: Option<&str>) -> String {
    match rule {
        Some("UPPERCASE" | "SCREAMING_SNAKE_CASE") => field.to_ascii_uppercase(),
        Some("PascalCase") => pascal(field),
        Some("camelCase") => {
            let pascal = pascal(field);
            let mut chars = pascal.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_lowercase().to_string() + chars.as_str()
            })
        }
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.to_ascii_uppercase().replace('_', "-"),
        _ => field.to_owned(),
    }
}

/// A variant's name under `rename_all`, as serde renames it (from `PascalCase`).
fn rename_variant(variant: &str, rule: Option<&str>) -> String {
    let snake = || {
        let mut out = String::new();
        for (index, ch) in variant.char_indices() {
            if ch.is_uppercase() && index > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        }
        out
    };
    match rule {
        Some("lowercase") => variant.to_ascii_lowercase(),
        Some("UPPERCASE") => variant.to_ascii_uppercase(),
        Some("camelCase") => {
            let mut chars = variant.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_lowercase().to_string() + chars.as_str()
            })
        }
        Some("snake_case") => snake(),
        Some("SCREAMING_SNAKE_CASE") => snake().to_ascii_uppercase(),
        Some("kebab-case") => snake().replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => snake().to_ascii_uppercase().replace('_', "-"),
        _ => variant.to_owned(),
    }
}

fn pascal(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_as_serde_does() {
        assert_eq!(rename_field("order_id", Some("camelCase")), "orderId");
        assert_eq!(rename_field("order_id", Some("PascalCase")), "OrderId");
        assert_eq!(rename_field("order_id", Some("kebab-case")), "order-id");
        assert_eq!(
            rename_field("order_id", Some("SCREAMING-KEBAB-CASE")),
            "ORDER-ID"
        );
        assert_eq!(
            rename_variant("PaidInFull", Some("snake_case")),
            "paid_in_full"
        );
        assert_eq!(
            rename_variant("PaidInFull", Some("camelCase")),
            "paidInFull"
        );
        assert_eq!(
            rename_variant("PaidInFull", Some("SCREAMING_SNAKE_CASE")),
            "PAID_IN_FULL"
        );
        assert_eq!(
            rename_variant("PaidInFull", Some("lowercase")),
            "paidinfull"
        );
    }
}
