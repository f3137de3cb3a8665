//! The raw host functions, generated from [`supervm_abi::for_each_host_fn!`].
//!
//! On `wasm32` these are imports from module `supervm_v1`
//! ([`supervm_abi::IMPORT_MODULE`]). On other targets they are stubs with the same
//! signatures that panic, so that contracts and docs compile on the host.
//!
//! Prefer the safe wrappers in [`env`](crate::env) and [`storage`](crate::storage).

macro_rules! declare_host_fns {
    ($(
        $(#[doc = $doc:expr])*
        fn $name:ident ( $($p:ident : $t:ty),* ) -> $r:ty ;
        cost(base = $base:expr, per_byte = $pb:expr);
    )*) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "supervm_v1")]
        unsafe extern "C" {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("Cost: base ", stringify!($base), ", per byte ", stringify!($pb), ".")]
                pub fn $name($($p: $t),*) -> $r;
            )*
        }

        $(
            #[cfg(not(target_arch = "wasm32"))]
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = concat!("Cost: base ", stringify!($base), ", per byte ", stringify!($pb), ".")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = ""]
            #[doc = "Every pointer must address guest memory valid for the length the docs name."]
            #[doc = ""]
            #[doc = "# Panics"]
            #[doc = ""]
            #[doc = "Always, outside the VM (this is the host-side stub)."]
            #[allow(unused_variables, clippy::unused_unit)]
            pub unsafe fn $name($($p: $t),*) -> $r {
                host_only()
            }
        )*
    };
}

supervm_abi::for_each_host_fn!(declare_host_fns);

#[cfg(not(target_arch = "wasm32"))]
#[cold]
fn host_only() -> ! {
    panic!("SuperVM host functions exist only inside the VM; test contracts with supervm-testkit")
}

// `#[link(wasm_import_module)]` needs a literal: check that it is the ABI's module.
const _: () = {
    const fn eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    assert!(eq(supervm_abi::IMPORT_MODULE, "supervm_v1"));
};
