//! The procedural macros of the SuperVM SDK. Use them through `supervm-sdk`
//! (`use supervm_sdk::prelude::*;`), whose paths their expansions name.
//!
//! * [`macro@contract`] exports the `pub fn`s of an `impl` as entry points.
//! * [`macro@init`] marks the constructor inside a `#[contract]` impl.
//! * [`macro@event`] implements `Event` for a struct.
//! * [`macro@contract_error`] implements `ContractError` for a fieldless enum.
//!
//! Each also writes its part of the contract's interface (JSON lines in the
//! `supervm_interface` custom section, on wasm32 only).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, Fields, FnArg, ImplItem, ItemEnum, ItemImpl, ItemStruct, Lit, Pat,
    PathArguments, ReturnType, Type, Visibility, parse_macro_input,
};

/// Custom section holding the interface (`supervm_abi::INTERFACE_SECTION`).
const INTERFACE_SECTION: &str = "supervm_interface";
/// Custom section holding the ABI version (`supervm_abi::ABI_VERSION_SECTION`).
const ABI_VERSION_SECTION: &str = "supervm_abi_version";
/// The constructor's export name (`supervm_abi::CONSTRUCTOR_EXPORT`).
const CONSTRUCTOR_EXPORT: &str = "__init";
/// Most parameters of an entry point (`supervm_abi::codec::MAX_TUPLE`: arguments are
/// decoded as one tuple).
const MAX_PARAMS: usize = 12;
/// Interface format version (`supervm_abi::INTERFACE_VERSION`).
const INTERFACE_VERSION: u32 = 1;
/// Most `#[topic]` fields of an event (the name takes one of the 4 topics).
const MAX_TOPIC_FIELDS: usize = 3;
/// Largest topic, in bytes (`supervm_abi::limits::MAX_TOPIC_LEN`).
const MAX_TOPIC_LEN: usize = 64;
/// Smallest revert code reserved by the SDK.
const RESERVED_CODES: u64 = 0xFFFF_FFFD;

/// Exports the `pub fn`s of an `impl` block as the contract's entry points.
///
/// ```ignore
/// pub struct Token;
///
/// #[contract]
/// impl Token {
///     #[init]
///     pub fn init(admin: Address) { /* .. */ }
///     pub fn transfer(to: Address, amount: u128) -> Result<(), TokenError> { /* .. */ }
///     pub fn balance(owner: Address) -> u128 { /* .. */ }
///     fn helper() { /* not exported */ }
/// }
/// ```
///
/// Methods take no `self` (state lives in storage). For each `pub fn`, on wasm32, an export of
/// the same name (the `#[init]` one is exported as `__init`) decodes the call input as the
/// tuple of its parameters (reverting with `BAD_INPUT` when it does not decode), calls it and
/// sets the return data to the encoded result. A method returning `Result<T, E>` (spelled
/// `Result`) reverts with `E`'s `ContractError` code and data on `Err`.
///
/// Also writes the `supervm_abi_version` custom section and the interface lines of the
/// contract and of its functions.
///
/// Export names are one namespace per crate: two `#[contract]` impls in one module that
/// export the same name (or both have an `#[init]`) fail to compile, naming it; in two
/// different modules they still fail, but only when linking.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[contract] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = parse_macro_input!(item as ItemImpl);
    match expand_contract(item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Marks the constructor of a `#[contract]` impl: exported as `__init`, run once at deploy.
///
/// Only meaningful on a `pub fn` inside a `#[contract]` impl, which removes it; anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn init(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let span = TokenStream2::from(item.clone())
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    let mut out = TokenStream2::from(item);
    out.extend(
        syn::Error::new(
            span,
            "#[init] may only be used on a method inside a #[contract] impl",
        )
        .to_compile_error(),
    );
    out.into()
}

/// Derives `Encode` for a struct or enum, in the SDK's codec: a struct is its fields in
/// order (as a tuple of them: no names, no length); an enum is a one-byte tag (the
/// variant's position, 0 first, whatever discriminants say; at most 256 variants)
/// followed by the variant's fields in order. Type parameters must be `Encode`.
///
/// ```ignore
/// #[derive(Encode, Decode)]
/// pub struct Order { pub owner: Address, pub amount: u128, pub note: Option<String> }
/// ```
#[proc_macro_derive(Encode)]
pub fn derive_encode(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    expand_codec(input, true)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `Decode` for a struct or enum, the inverse of `#[derive(Encode)]`: an
/// unknown enum tag is `CodecError::InvalidTag` (an entry point's arguments that do not
/// decode revert with `BAD_INPUT`, a stored value with `BAD_STORAGE`).
#[proc_macro_derive(Decode)]
pub fn derive_decode(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    expand_codec(input, false)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The bindings of one struct's or variant's fields: `(generated names, the pattern or
/// constructor binding each field to its name)`. The names are generated (`__f0`, ...)
/// whatever the fields are called, so no field shadows the generated code's own
/// variables.
fn field_bindings(fields: &Fields) -> (Vec<syn::Ident>, TokenStream2) {
    let names: Vec<syn::Ident> = (0..fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let shape = match fields {
        Fields::Named(f) => {
            let idents = f.named.iter().map(|f| f.ident.clone().unwrap());
            quote! { { #(#idents: #names),* } }
        }
        Fields::Unnamed(_) => quote! { ( #(#names),* ) },
        Fields::Unit => quote! {},
    };
    (names, shape)
}

/// `[{"name":..,"type":..},..]` of a struct's or variant's fields (tuple fields named
/// by position).
fn fields_json(fields: &Fields) -> String {
    let f: Vec<(String, String)> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f
                .ident
                .as_ref()
                .map_or_else(|| i.to_string(), |id| id.unraw().to_string());
            (name, type_str(&f.ty))
        })
        .collect();
    json_fields(&f)
}

/// The interface line describing a derived type (`None` for a generic one: its fields'
/// types depend on its parameters).
fn type_line(input: &syn::DeriveInput) -> Option<String> {
    // (tools give these names their builtin encoding: a user type so named is not
    // described, rather than described and then encoded as the builtin)
    const BUILTIN: [&str; 18] = [
        "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool", "String",
        "str", "Address", "Vec", "Option", "Result", "Self",
    ];
    if !input.generics.params.is_empty()
        || BUILTIN.contains(&input.ident.unraw().to_string().as_str())
    {
        return None;
    }
    let name = json_str(&input.ident.unraw().to_string());
    let body = match &input.data {
        syn::Data::Struct(s) => format!("\"fields\":{}", fields_json(&s.fields)),
        syn::Data::Enum(e) => {
            let variants: Vec<String> = e
                .variants
                .iter()
                .map(|v| {
                    format!(
                        "{{\"name\":{},\"fields\":{}}}",
                        json_str(&v.ident.unraw().to_string()),
                        fields_json(&v.fields)
                    )
                })
                .collect();
            format!("\"variants\":[{}]", variants.join(","))
        }
        syn::Data::Union(_) => return None,
    };
    Some(format!("{{\"kind\":\"type\",\"name\":{name},{body}}}\n"))
}

fn expand_codec(mut input: syn::DeriveInput, encode: bool) -> syn::Result<TokenStream2> {
    // Described in the interface (by both derives: the parser keeps one of equal lines),
    // so tools can encode and decode the type by its fields.
    let described =
        type_line(&input).map(|line| section_static(INTERFACE_SECTION, line.as_bytes()));
    let bound: syn::TypeParamBound = if encode {
        syn::parse_quote!(::supervm_sdk::Encode)
    } else {
        syn::parse_quote!(::supervm_sdk::Decode)
    };
    for p in input.generics.type_params_mut() {
        p.bounds.push(bound.clone());
    }
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let body = match &input.data {
        syn::Data::Struct(s) => {
            let (names, shape) = field_bindings(&s.fields);
            if encode {
                quote! {
                    let Self #shape = self;
                    #( ::supervm_sdk::Encode::encode_to(#names, __out); )*
                }
            } else {
                quote! {
                    #( let #names = ::supervm_sdk::Decode::decode(__input)?; )*
                    ::core::result::Result::Ok(Self #shape)
                }
            }
        }
        syn::Data::Enum(e) => {
            if e.variants.len() > 256 {
                return Err(syn::Error::new(
                    e.variants.span(),
                    "an enum encodes its variant in one byte: at most 256 variants",
                ));
            }
            let arms = e.variants.iter().enumerate().map(|(i, v)| {
                let tag = i as u8;
                let vname = &v.ident;
                let (names, shape) = field_bindings(&v.fields);
                if encode {
                    quote! {
                        Self::#vname #shape => {
                            __out.push(#tag);
                            #( ::supervm_sdk::Encode::encode_to(#names, __out); )*
                        }
                    }
                } else {
                    quote! {
                        #tag => {
                            #( let #names = ::supervm_sdk::Decode::decode(__input)?; )*
                            ::core::result::Result::Ok(Self::#vname #shape)
                        }
                    }
                }
            });
            if encode {
                if e.variants.is_empty() {
                    // (an enum without variants: `*self` matches nothing)
                    quote! { match *self {} }
                } else {
                    quote! { match self { #(#arms)* } }
                }
            } else {
                quote! {
                    #[allow(unreachable_patterns)] // (256 variants use every tag)
                    match <u8 as ::supervm_sdk::Decode>::decode(__input)? {
                        #(#arms)*
                        _ => ::core::result::Result::Err(::supervm_sdk::codec::CodecError::InvalidTag),
                    }
                }
            }
        }
        syn::Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "unions cannot derive Encode or Decode",
            ));
        }
    };
    Ok(if encode {
        quote! {
            #described
            impl #impl_g ::supervm_sdk::Encode for #name #ty_g #where_c {
                fn encode_to(&self, __out: &mut ::supervm_sdk::__private::Vec<u8>) {
                    #body
                }
            }
        }
    } else {
        quote! {
            #described
            impl #impl_g ::supervm_sdk::Decode for #name #ty_g #where_c {
                fn decode(__input: &mut &[u8]) -> ::core::result::Result<Self, ::supervm_sdk::codec::CodecError> {
                    #body
                }
            }
        }
    })
}

/// Implements `Event` for a struct with named fields.
///
/// ```ignore
/// #[event]
/// pub struct Transfer {
///     #[topic] pub from: Address,
///     #[topic] pub to: Address,
///     pub amount: u128,
/// }
/// ```
///
/// `emit()` emits topics `[b"Transfer", encode(from), encode(to)]` and data = the encoding
/// of the tuple of the other fields, in order. At most 3 `#[topic]` fields, each encoded
/// in at most `MAX_TOPIC_LEN` (64) bytes: an emit with a longer one (a `String` topic of
/// over 60 bytes, say) traps, so give variable-length topics a bound or hash them.
#[proc_macro_attribute]
pub fn event(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[event] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = parse_macro_input!(item as ItemStruct);
    match expand_event(item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `ContractError` for a fieldless enum with explicit discriminants: the revert
/// code is the discriminant.
///
/// ```ignore
/// #[contract_error]
/// pub enum TokenError { InsufficientBalance = 1, Unauthorized = 2 }
/// ```
///
/// Also derives `Clone, Copy, PartialEq, Eq` and adds `#[repr(u32)]` unless a `repr` is
/// given. Codes `0xFFFF_FFFD` and above are reserved by the SDK.
#[proc_macro_attribute]
pub fn contract_error(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[contract_error] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = parse_macro_input!(item as ItemEnum);
    match expand_error(item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

// ---------------------------------------------------------------------------------------------

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A type as the interface names it: its tokens with all whitespace removed and every
/// path cut to its last segment (`crate::errors::TokenError` is `TokenError`,
/// `Vec<supervm_sdk::Address>` is `Vec<Address>`): tools look errors up by the name of
/// their `#[contract_error]` line and encode arguments by the codec's type names.
fn type_str(ty: &Type) -> String {
    let mut ty = ty.clone();
    strip_paths(&mut ty);
    ty.to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Cuts every path in `ty` (and in its generic arguments, tuples, arrays, slices and
/// references) to its last segment.
fn strip_paths(ty: &mut Type) {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            if let Some(last) = p.path.segments.pop() {
                let mut last = last.into_value();
                // (named as written without `r#`, as the type's own interface line is)
                last.ident = syn::Ident::new(&last.ident.unraw().to_string(), last.ident.span());
                if let PathArguments::AngleBracketed(args) = &mut last.arguments {
                    for a in args.args.iter_mut() {
                        if let syn::GenericArgument::Type(t) = a {
                            strip_paths(t);
                        }
                    }
                }
                p.path.leading_colon = None;
                p.path.segments.clear();
                p.path.segments.push(last);
            }
        }
        Type::Tuple(t) => t.elems.iter_mut().for_each(strip_paths),
        Type::Array(a) => strip_paths(&mut a.elem),
        Type::Slice(s) => strip_paths(&mut s.elem),
        Type::Reference(r) => strip_paths(&mut r.elem),
        Type::Paren(p) => strip_paths(&mut p.elem),
        Type::Group(g) => strip_paths(&mut g.elem),
        _ => {}
    }
}

/// `[{"name":..,"type":..},..]`.
fn json_fields(fields: &[(String, String)]) -> String {
    let items: Vec<String> = fields
        .iter()
        .map(|(n, t)| format!("{{\"name\":{},\"type\":{}}}", json_str(n), json_str(t)))
        .collect();
    format!("[{}]", items.join(","))
}

/// A static in custom section `section` holding `bytes`, on wasm32 only.
///
/// Not `#[used]`: on wasm, rustc emits a `link_section` static as a custom section by itself,
/// and `#[used]` would also keep a copy of the bytes in the data segment (in linear memory).
/// `scripts/build-contracts.sh` checks that the sections are present.
fn section_static(section: &str, bytes: &[u8]) -> TokenStream2 {
    let n = bytes.len();
    let lit = proc_macro2::Literal::byte_string(bytes);
    quote! {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(link_section = #section)]
            static SECTION: [u8; #n] = *#lit;
        };
    }
}

/// Whether `a` is `#[name]`, also spelled with a path (`#[supervm_sdk::init]`).
fn is_attr(a: &Attribute, name: &str) -> bool {
    a.path().segments.last().is_some_and(|s| s.ident == name)
}

/// The parameter name of a simple `name: Type` pattern.
fn param_ident(pat: &Pat) -> syn::Result<syn::Ident> {
    match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Ok(p.ident.clone()),
        _ => Err(syn::Error::new(
            pat.span(),
            "entry point parameters must be plain `name: Type` (patterns are not supported)",
        )),
    }
}

/// If `ty` is `Result<T, E>` (spelled with a last path segment `Result`), `(T, E)`.
fn result_parts(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(tp) = ty else { return None };
    if tp.qself.is_some() {
        return None;
    }
    let seg = tp.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    let mut tys = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let (ok, err) = (tys.next()?, tys.next()?);
    if tys.next().is_some() || args.args.len() != 2 {
        return None;
    }
    Some((ok, err))
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

fn expand_contract(mut item: ItemImpl) -> syn::Result<TokenStream2> {
    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new(
            path.span(),
            "#[contract] goes on an inherent impl (`impl MyContract { .. }`), not a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "a #[contract] impl cannot be generic",
        ));
    }
    let self_ty = item.self_ty.clone();
    let name = match &*self_ty {
        Type::Path(tp) if tp.qself.is_none() => {
            tp.path.segments.last().map(|s| s.ident.unraw().to_string())
        }
        _ => None,
    }
    .ok_or_else(|| syn::Error::new(self_ty.span(), "#[contract] needs a named type"))?;

    let mut lines = format!(
        "{{\"kind\":\"interface\",\"version\":{INTERFACE_VERSION},\"name\":{}}}\n",
        json_str(&name)
    );
    let mut exports = Vec::new();
    let mut markers = Vec::new();
    let mut ctor_span: Option<Span> = None;
    let mut errors: Option<syn::Error> = None;
    let mut push_err = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };

    for it in &mut item.items {
        let ImplItem::Fn(f) = it else { continue };
        let init_attrs: Vec<Span> = f
            .attrs
            .iter()
            .filter(|a| is_attr(a, "init"))
            .map(|a| a.span())
            .collect();
        f.attrs.retain(|a| !is_attr(a, "init"));
        let is_init = !init_attrs.is_empty();
        if init_attrs.len() > 1 {
            push_err(syn::Error::new(init_attrs[1], "duplicate #[init]"));
        }
        if is_init {
            if let Some(prev) = ctor_span {
                let mut e =
                    syn::Error::new(init_attrs[0], "a contract has at most one #[init] method");
                e.combine(syn::Error::new(prev, "the first #[init] method is here"));
                push_err(e);
            }
            ctor_span = Some(init_attrs[0]);
        }
        if !matches!(f.vis, Visibility::Public(_)) {
            if is_init {
                push_err(syn::Error::new(
                    f.sig.ident.span(),
                    "the #[init] method must be `pub`",
                ));
            }
            continue;
        }
        let sig = &f.sig;
        let fname = sig.ident.unraw().to_string();
        if let Some(r) = sig.receiver() {
            push_err(syn::Error::new(
                r.span(),
                "contract entry points take no `self`: state lives in storage (`Item`, `Map`)",
            ));
            continue;
        }
        if !sig.generics.params.is_empty() {
            push_err(syn::Error::new(
                sig.generics.span(),
                "entry points cannot be generic",
            ));
            continue;
        }
        if let Some(a) = &sig.asyncness {
            push_err(syn::Error::new(a.span(), "entry points cannot be async"));
            continue;
        }
        if let Some(u) = &sig.unsafety {
            push_err(syn::Error::new(u.span(), "entry points cannot be unsafe"));
            continue;
        }
        if let Some(v) = &sig.variadic {
            push_err(syn::Error::new(v.span(), "entry points cannot be variadic"));
            continue;
        }
        if !is_init && fname == CONSTRUCTOR_EXPORT {
            push_err(syn::Error::new(
                sig.ident.span(),
                "`__init` is the constructor's export name; mark the constructor with #[init]",
            ));
            continue;
        }
        if fname.starts_with("__") && !is_init {
            push_err(syn::Error::new(
                sig.ident.span(),
                "entry point names starting with `__` are reserved",
            ));
            continue;
        }
        // (the module's own exports: a function of that name would collide with them at
        // link time, or be refused when the code is deployed)
        if fname == "memory" {
            push_err(syn::Error::new(
                sig.ident.span(),
                "`memory` is the name of the contract's exported memory; rename the entry point",
            ));
            continue;
        }
        let export = if is_init {
            CONSTRUCTOR_EXPORT.to_string()
        } else {
            fname.clone()
        };

        let mut idents = Vec::new();
        let mut tys = Vec::new();
        let mut args_json = Vec::new();
        let mut bad = false;
        for a in &sig.inputs {
            let FnArg::Typed(pt) = a else { continue };
            match param_ident(&pt.pat) {
                Ok(id) => {
                    args_json.push((id.unraw().to_string(), type_str(&pt.ty)));
                    idents.push(format_ident!("__arg_{}", id));
                    tys.push((*pt.ty).clone());
                }
                Err(e) => {
                    push_err(e);
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        if idents.len() > MAX_PARAMS {
            push_err(syn::Error::new(
                sig.ident.span(),
                format!(
                    "an entry point takes at most {MAX_PARAMS} parameters (the codec's largest \
                     tuple); group some into a struct"
                ),
            ));
            continue;
        }

        let method = &sig.ident;
        let call = quote_spanned! {sig.ident.span()=> <#self_ty>::#method(#(#idents),*) };
        let decode = if idents.is_empty() {
            quote! { ::supervm_sdk::__private::expect_no_input(); }
        } else {
            quote! {
                let (#(#idents,)*): (#(#tys,)*) = ::supervm_sdk::__private::decode_input();
            }
        };
        // (each type named at its own span: an error points at the parameter or the
        // result type, not at the whole `#[contract]`)
        let mut checks: Vec<TokenStream2> = tys
            .iter()
            .map(|t| quote_spanned! {t.span()=> ::supervm_sdk::__private::parameter::<#t>(); })
            .collect();
        let (returns, error, finish) = match &sig.output {
            ReturnType::Default => ("()".to_string(), None, quote! { #call; }),
            ReturnType::Type(_, ty) if is_unit(ty) => ("()".to_string(), None, quote! { #call; }),
            ReturnType::Type(_, ty) => match result_parts(ty) {
                Some((ok, err)) => {
                    checks.push(
                        quote_spanned! {ok.span()=> ::supervm_sdk::__private::result::<#ok>(); },
                    );
                    let on_ok = if is_unit(ok) {
                        quote! { ::core::result::Result::Ok(()) => {} }
                    } else {
                        quote! {
                            ::core::result::Result::Ok(v) => ::supervm_sdk::__private::set_return(&v),
                        }
                    };
                    (
                        type_str(ok),
                        Some(type_str(err)),
                        quote! {
                            match #call {
                                #on_ok
                                ::core::result::Result::Err(e) => ::supervm_sdk::__private::revert_with(&e),
                            }
                        },
                    )
                }
                None => {
                    checks.push(
                        quote_spanned! {ty.span()=> ::supervm_sdk::__private::result::<#ty>(); },
                    );
                    (
                        type_str(ty),
                        None,
                        quote! { ::supervm_sdk::__private::set_return(&#call); },
                    )
                }
            },
        };

        let mut line = format!(
            "{{\"kind\":\"function\",\"name\":{},\"export\":{}",
            json_str(&fname),
            json_str(&export)
        );
        if is_init {
            line.push_str(",\"constructor\":true");
        }
        line.push_str(&format!(
            ",\"args\":{},\"returns\":{}",
            json_fields(&args_json),
            json_str(&returns)
        ));
        if let Some(e) = &error {
            line.push_str(&format!(",\"error\":{}", json_str(e)));
        }
        line.push_str("}\n");
        lines.push_str(&line);

        // One item per export in the module's type namespace, named at the function:
        // two `#[contract]` impls of a crate exporting the same name are a compile error
        // pointing at both functions ("defined multiple times"), not a link error.
        let marker = if is_init {
            format_ident!("__supervm_constructor", span = sig.ident.span())
        } else {
            format_ident!("__supervm_entry_point_{}", export, span = sig.ident.span())
        };
        markers.push(quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            struct #marker;
        });
        let wrapper = format_ident!("__supervm_export_{}", fname);
        exports.push(quote! {
            #[unsafe(export_name = #export)]
            extern "C" fn #wrapper() {
                #(#checks)*
                #decode
                #finish
            }
        });
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let version = section_static_tokens_version();
    let iface = section_static(INTERFACE_SECTION, lines.as_bytes());
    Ok(quote! {
        #item

        #(#markers)*

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #(#exports)*
        };

        #version
        #iface
    })
}

/// The `supervm_abi_version` section: `ABI_VERSION` as 4 bytes little-endian.
fn section_static_tokens_version() -> TokenStream2 {
    quote! {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(link_section = #ABI_VERSION_SECTION)]
            static SECTION: [u8; 4] = ::supervm_sdk::__private::ABI_VERSION.to_le_bytes();
        };
    }
}

fn expand_event(mut item: ItemStruct) -> syn::Result<TokenStream2> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "an #[event] cannot be generic",
        ));
    }
    let name = item.ident.unraw().to_string();
    if name.len() > MAX_TOPIC_LEN {
        return Err(syn::Error::new(
            item.ident.span(),
            format!("an event name is a topic: at most {MAX_TOPIC_LEN} bytes"),
        ));
    }
    let mut topics = Vec::new();
    let mut data = Vec::new();
    let mut topic_json = Vec::new();
    let mut data_json = Vec::new();
    match &mut item.fields {
        Fields::Named(named) => {
            for f in &mut named.named {
                let tattrs: Vec<&Attribute> =
                    f.attrs.iter().filter(|a| is_attr(a, "topic")).collect();
                if let Some(a) = tattrs.first()
                    && !matches!(a.meta, syn::Meta::Path(_))
                {
                    return Err(syn::Error::new(a.span(), "#[topic] takes no arguments"));
                }
                if tattrs.len() > 1 {
                    return Err(syn::Error::new(tattrs[1].span(), "duplicate #[topic]"));
                }
                let is_topic = !tattrs.is_empty();
                let topic_span = tattrs.first().map(|a| a.span());
                f.attrs.retain(|a| !is_attr(a, "topic"));
                let id = f.ident.clone().expect("named field");
                let entry = (id.unraw().to_string(), type_str(&f.ty));
                if is_topic {
                    if topics.len() == MAX_TOPIC_FIELDS {
                        return Err(syn::Error::new(
                            topic_span.unwrap_or_else(|| id.span()),
                            format!(
                                "an event has at most {MAX_TOPIC_FIELDS} #[topic] fields (the event name is the 4th topic)"
                            ),
                        ));
                    }
                    topics.push(id);
                    topic_json.push(entry);
                } else {
                    data.push(id);
                    data_json.push(entry);
                }
            }
        }
        Fields::Unit => {}
        Fields::Unnamed(u) => {
            return Err(syn::Error::new(
                u.span(),
                "an #[event] needs named fields (or none)",
            ));
        }
    }
    let ident = &item.ident;
    let name_lit = proc_macro2::Literal::byte_string(name.as_bytes());
    let topic_vars: Vec<_> = (0..topics.len())
        .map(|i| format_ident!("__topic{}", i))
        .collect();
    let line = format!(
        "{{\"kind\":\"event\",\"name\":{},\"topics\":{},\"data\":{}}}\n",
        json_str(&name),
        json_fields(&topic_json),
        json_fields(&data_json)
    );
    let iface = section_static(INTERFACE_SECTION, line.as_bytes());
    Ok(quote! {
        #item

        impl ::supervm_sdk::Event for #ident {
            fn emit(&self) {
                #(let #topic_vars = ::supervm_sdk::Encode::encode(&self.#topics);)*
                #[allow(unused_mut)]
                let mut __data = ::supervm_sdk::__private::Vec::new();
                #(::supervm_sdk::Encode::encode_to(&self.#data, &mut __data);)*
                ::supervm_sdk::env::emit_event(
                    &[#name_lit as &[u8] #(, &#topic_vars)*],
                    &__data,
                );
            }
        }

        #iface
    })
}

fn expand_error(mut item: ItemEnum) -> syn::Result<TokenStream2> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "a #[contract_error] cannot be generic",
        ));
    }
    if item.variants.is_empty() {
        return Err(syn::Error::new(
            item.ident.span(),
            "a #[contract_error] needs variants",
        ));
    }
    let mut variants_json = Vec::new();
    for v in &item.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.fields.span(),
                "#[contract_error] variants carry no fields (implement ContractError by hand for data)",
            ));
        }
        let Some((_, expr)) = &v.discriminant else {
            return Err(syn::Error::new(
                v.ident.span(),
                "give every #[contract_error] variant an explicit code: `Name = 1`",
            ));
        };
        let code = match expr {
            Expr::Lit(l) => match &l.lit {
                Lit::Int(i) => i.base10_parse::<u64>().ok(),
                _ => None,
            },
            _ => None,
        }
        .filter(|c| *c <= u32::MAX as u64)
        .ok_or_else(|| {
            syn::Error::new(
                expr.span(),
                "the code must be an integer literal in u32 range",
            )
        })?;
        if code >= RESERVED_CODES {
            return Err(syn::Error::new(
                expr.span(),
                "codes 0xFFFF_FFFD and above are reserved by the SDK",
            ));
        }
        variants_json.push(format!(
            "{{\"name\":{},\"code\":{code}}}",
            json_str(&v.ident.unraw().to_string())
        ));
    }
    let has_repr = item.attrs.iter().any(|a| is_attr(a, "repr"));
    if !has_repr {
        item.attrs.push(syn::parse_quote!(#[repr(u32)]));
    }
    let ident = &item.ident;
    let line = format!(
        "{{\"kind\":\"error\",\"name\":{},\"variants\":[{}]}}\n",
        json_str(&ident.unraw().to_string()),
        variants_json.join(",")
    );
    let iface = section_static(INTERFACE_SECTION, line.as_bytes());
    Ok(quote! {
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        #item

        impl ::supervm_sdk::ContractError for #ident {
            #[inline]
            fn code(&self) -> u32 {
                *self as u32
            }
        }

        #iface
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interface names types without their paths, at any depth.
    #[test]
    fn interface_types_are_named_without_paths() {
        for (written, named) in [
            ("crate::errors::TokenError", "TokenError"),
            ("::supervm_sdk::Address", "Address"),
            ("Vec<supervm_sdk::Address>", "Vec<Address>"),
            (
                "(alloc::string::String, [supervm_sdk::Address; 2], Option<u128>)",
                "(String,[Address;2],Option<u128>)",
            ),
            ("u64", "u64"),
        ] {
            let ty: Type = syn::parse_str(written).unwrap();
            assert_eq!(type_str(&ty), named, "{written}");
        }
    }

    /// A derived type is described in the interface by its fields or variants; a
    /// generic one is not.
    #[test]
    fn derived_types_are_described() {
        let s: syn::DeriveInput = syn::parse_quote! {
            struct Order { owner: supervm_sdk::Address, r#amount: u128 }
        };
        assert_eq!(
            type_line(&s).unwrap(),
            "{\"kind\":\"type\",\"name\":\"Order\",\"fields\":[{\"name\":\"owner\",\"type\":\"Address\"},{\"name\":\"amount\",\"type\":\"u128\"}]}\n"
        );
        let e: syn::DeriveInput = syn::parse_quote! {
            enum Action { Stop, Move(u64, bool) }
        };
        assert_eq!(
            type_line(&e).unwrap(),
            "{\"kind\":\"type\",\"name\":\"Action\",\"variants\":[{\"name\":\"Stop\",\"fields\":[]},{\"name\":\"Move\",\"fields\":[{\"name\":\"0\",\"type\":\"u64\"},{\"name\":\"1\",\"type\":\"bool\"}]}]}\n"
        );
        let g: syn::DeriveInput = syn::parse_quote! { struct W<T> { t: T } };
        assert_eq!(type_line(&g), None);
        // (that the VM's interface parser reads these lines is tested with a built
        // contract: sdkcheck's derived types in contracts/artifacts)
    }

    /// `#[init]` and `#[topic]` are recognised with or without a path.
    #[test]
    fn attributes_are_recognised_by_their_last_segment() {
        let f: syn::ItemFn = syn::parse_quote! {
            #[supervm_sdk::init]
            #[init]
            #[inline]
            fn f() {}
        };
        let found: Vec<bool> = f.attrs.iter().map(|a| is_attr(a, "init")).collect();
        assert_eq!(found, [true, true, false]);
    }

    /// Raw identifiers (`r#type`) are named without their `r#` in exports and the
    /// interface (the expansion panicked on them).
    #[test]
    fn raw_identifiers_are_named_without_r_hash() {
        let item: ItemImpl = syn::parse_quote! {
            impl C {
                pub fn r#type(r#in: u32) -> u32 { r#in }
            }
        };
        let out = expand_contract(item).unwrap().to_string();
        assert!(out.contains(r#"export_name = "type""#), "{out}");
        assert!(out.contains(r#"\"name\":\"type\""#), "{out}");
        assert!(out.contains(r#"\"in\""#), "{out}");
        assert!(!out.contains("r#type\\\""), "{out}");
        let item: ItemImpl = syn::parse_quote! {
            impl r#C {
                pub fn f() -> Result<r#Ok, r#E> { Err(r#E::Failed) }
            }
        };
        let out = expand_contract(item).unwrap().to_string();
        assert!(out.contains(r#"\"name\":\"C\""#), "{out}");
        assert!(out.contains(r#"\"error\":\"E\""#), "{out}");
        assert!(out.contains(r#"\"returns\":\"Ok\""#), "{out}");
        let item: ItemStruct = syn::parse_quote! {
            pub struct r#Match { #[topic] pub r#ref: u32 }
        };
        let out = expand_event(item).unwrap().to_string();
        assert!(out.contains(r#"\"name\":\"Match\""#), "{out}");
        assert!(out.contains(r#"\"ref\""#), "{out}");
    }

    /// An entry point named like the module's own exports is refused at compile time,
    /// pointing at its name (it collided at link time, or the code was refused at
    /// deploy).
    #[test]
    fn reserved_export_names_are_refused() {
        for item in [
            syn::parse_quote! { impl C { pub fn memory() {} } },
            syn::parse_quote! { impl C { pub fn __hidden() {} } },
        ] {
            let item: ItemImpl = item;
            let e = expand_contract(item).unwrap_err().to_string();
            assert!(e.contains("memory") || e.contains("reserved"), "{e}");
        }
    }
}
