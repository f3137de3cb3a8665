//! Builds a contract crate to `wasm32v1-none`, the way `supervm contract build` does,
//! for the CLI and for contract tests ([`build`]): with rustup's target when it is
//! installed, else with Debian's `rustc-web` and `-Zbuild-std` (see `scripts/setup.sh`).
//!
//! Unless the crate's workspace sets a `[profile.release]` of its own, the build uses
//! the profile the repository's contracts use ([`SMALL_RELEASE`]): deploying is charged
//! per byte of code, and a default release build was 71 % larger in the measurement of
//! `docs/benchmarks.md` (twenty-sixth session). Integer overflow
//! checks are on either way ([`OVERFLOW_CHECKS`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The contract target: MVP wasm (no reference types, multivalue or SIMD).
pub const TARGET: &str = "wasm32v1-none";

/// `(variable, value)`: the release profile a contract gets unless its workspace's
/// manifest has a `[profile.release]` (or the variable is set): link-time optimization
/// in one codegen unit, `panic = "abort"`, no debug info, and no symbol names (the name
/// section holds mangled names whose hashes depend on the build directory, so the same
/// source gave different code, code hashes and deploy gas in two checkouts). Custom
/// sections (the SDK's interface and ABI version) survive.
pub const SMALL_RELEASE: [(&str, &str); 5] = [
    ("CARGO_PROFILE_RELEASE_LTO", "true"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_STRIP", "symbols"),
];

/// Integer overflow checks, on unless the variable is set: a release build wraps
/// silently by default, and a balance or counter that wraps is a bug no test of the
/// happy path sees (the variable overrides a `[profile.release]`, though not a
/// per-package profile override).
pub const OVERFLOW_CHECKS: (&str, &str) = ("CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS", "true");

/// The linker flag every contract gets: a 16 KiB shadow stack (the VM bounds the wasm
/// stack deterministically on its own).
pub const LINK_ARGS: &str = "-C link-arg=-zstack-size=16384";

/// Why a contract did not build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory holds no crate.
    #[error("{0} has no Cargo.toml")]
    NoManifest(PathBuf),
    /// Neither rustup's target nor the fallback compiler is installed.
    #[error(
        "no {TARGET} target: run `rustup target add {TARGET}` or `apt-get install rustc-web \
         rust-web-src lld-22`"
    )]
    NoTarget,
    /// cargo could not be started.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// The build failed (the compiler's messages went to stderr); `hint` says what to
    /// change when the failure is a known contract mistake.
    #[error("cargo build failed{hint}")]
    Failed {
        /// `: …` with advice, or empty.
        hint: String,
    },
    /// The build succeeded but made no `.wasm`.
    #[error(
        "cargo built no .wasm for {0}: a contract crate needs `[lib] crate-type = [\"cdylib\"]` \
         in its Cargo.toml"
    )]
    NoWasm(PathBuf),
}

/// What a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The `.wasm` files this build produced (not others lying in the target
    /// directory), in cargo's order.
    pub wasm: Vec<PathBuf>,
    /// Whether [`SMALL_RELEASE`] was applied (`false`: the workspace sets its own
    /// release profile).
    pub small_profile: bool,
}

/// Builds the crate in `crate_dir` (release, [`TARGET`], target directory
/// `crate_dir/target`); the compiler's diagnostics go to this process's stderr.
pub fn build(crate_dir: &Path) -> Result<Built, Error> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.exists() {
        return Err(Error::NoManifest(crate_dir.to_path_buf()));
    }
    let mut cmd = Command::new("cargo");
    cmd.args([
        "build",
        "--release",
        "--message-format=json",
        "--target",
        TARGET,
    ])
    .arg("--manifest-path")
    .arg(&manifest)
    .arg("--target-dir")
    .arg(crate_dir.join("target"))
    .env("RUSTFLAGS", rustflags(std::env::var("RUSTFLAGS").ok()));
    let small_profile = !has_release_profile(&manifest);
    let mut vars = vec![OVERFLOW_CHECKS];
    if small_profile {
        vars.extend(SMALL_RELEASE);
    }
    for (var, value) in vars {
        if std::env::var_os(var).is_none() {
            cmd.env(var, value);
        }
    }
    if !rustup_has_target() {
        if !Path::new("/usr/bin/rustc").exists() {
            return Err(Error::NoTarget);
        }
        cmd.env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("-Zbuild-std=core,alloc");
    }
    let mut child = cmd
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(Error::Cargo)?;
    // (each message printed as it comes, in order with cargo's own lines on stderr)
    // (canonical: cargo reports manifest paths so)
    let root = crate_dir
        .canonicalize()
        .unwrap_or_else(|_| crate_dir.to_path_buf());
    let mut messages = Messages {
        root,
        ..Messages::default()
    };
    if let Some(stdout) = child.stdout.take() {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Cargo(e));
                }
            };
            let before = messages.rendered.len();
            messages.add(&line);
            for m in &messages.rendered[before..] {
                eprint!("{m}");
            }
        }
    }
    let status = child.wait().map_err(Error::Cargo)?;
    if !status.success() {
        return Err(Error::Failed {
            hint: hint(&messages.rendered),
        });
    }
    if messages.wasm.is_empty() {
        return Err(Error::NoWasm(crate_dir.to_path_buf()));
    }
    Ok(Built {
        wasm: messages.wasm,
        small_profile,
    })
}

/// The user's `RUSTFLAGS` (if any) with [`LINK_ARGS`] after them.
fn rustflags(user: Option<String>) -> String {
    match user {
        Some(u) if !u.trim().is_empty() => format!("{u} {LINK_ARGS}"),
        _ => LINK_ARGS.to_string(),
    }
}

fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false)
}

/// Whether the manifest of the workspace `manifest` belongs to (itself when it is not
/// a member) has a `[profile.release]` section: a profile is the workspace root's.
fn has_release_profile(manifest: &Path) -> bool {
    let root = Command::new("cargo")
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| manifest.to_path_buf());
    std::fs::read_to_string(root)
        .is_ok_and(|text| text.lines().any(|l| l.trim() == "[profile.release]"))
}

/// What cargo's JSON messages said: the `.wasm` files built of the crates under
/// `root` (the crate, or a workspace's members: not a dependency that is a contract
/// too), and the compiler's diagnostics as it renders them.
#[derive(Default)]
struct Messages {
    root: PathBuf,
    wasm: Vec<PathBuf>,
    rendered: Vec<String>,
}

impl Messages {
    /// Takes in one line of cargo's output.
    fn add(&mut self, line: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return;
        };
        match v["reason"].as_str() {
            Some("compiler-artifact") => {
                let ours = v["manifest_path"]
                    .as_str()
                    .is_some_and(|p| Path::new(p).starts_with(&self.root));
                let cdylib = v["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
                if !(ours && cdylib) {
                    return;
                }
                let files = v["filenames"].as_array().into_iter().flatten();
                for f in files.filter_map(|f| f.as_str()) {
                    if f.ends_with(".wasm") {
                        self.wasm.push(PathBuf::from(f));
                    }
                }
            }
            Some("compiler-message") => {
                if let Some(r) = v["message"]["rendered"].as_str() {
                    self.rendered.push(r.to_string());
                }
            }
            _ => {}
        }
    }

    #[cfg(test)]
    fn read(root: &str, stdout: &str) -> Self {
        let mut m = Messages {
            root: PathBuf::from(root),
            ..Messages::default()
        };
        for line in stdout.lines() {
            m.add(line);
        }
        m
    }
}

/// Advice for the contract mistakes whose compiler messages do not say what to do.
fn hint(rendered: &[String]) -> String {
    let all = rendered.concat();
    if all.contains("can't find crate for `std`") {
        ": contracts are `#![no_std]` (use `alloc` for Vec, String and Box; the SDK's \
         prelude has them); a dependency that needs `std` cannot be used in a contract"
            .to_string()
    } else if all.contains("`__supervm_constructor` is defined multiple times") {
        ": the crate has two `#[init]` constructors (a contract has at most one)".to_string()
    } else if let Some(name) = all
        .split("the name `__supervm_entry_point_")
        .nth(1)
        .and_then(|rest| rest.split_once("` is defined multiple times"))
        .map(|(name, _)| name)
    {
        format!(
            ": two `#[contract]` impls export an entry point named `{name}`; \
             exported names are unique in a crate: rename one"
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the `.wasm` files cargo reports as built for the crate count (not a
    /// dependency's), and the compiler's messages are kept to print.
    #[test]
    fn reads_cargo_messages() {
        let out = [
            r#"{"reason":"compiler-artifact","manifest_path":"/r/dep/Cargo.toml","target":{"kind":["lib"]},"filenames":["/t/libdep.rlib","/t/libdep.rmeta"]}"#,
            r#"{"reason":"compiler-message","message":{"rendered":"warning: unused\n"}}"#,
            r#"{"reason":"compiler-artifact","manifest_path":"/r/other/Cargo.toml","target":{"kind":["cdylib","rlib"]},"filenames":["/t/wasm32v1-none/release/other.wasm"]}"#,
            r#"{"reason":"compiler-artifact","manifest_path":"/r/vault/Cargo.toml","target":{"kind":["cdylib"]},"filenames":["/t/wasm32v1-none/release/vault.wasm"]}"#,
            "not json",
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        // (another contract the crate depends on is not among what it built)
        let m = Messages::read("/r/vault", &out);
        assert_eq!(
            m.wasm,
            [PathBuf::from("/t/wasm32v1-none/release/vault.wasm")]
        );
        assert_eq!(m.rendered, ["warning: unused\n"]);
    }

    #[test]
    fn a_std_contract_is_told_to_use_no_std() {
        let h = hint(&["error[E0463]: can't find crate for `std`\n".to_string()]);
        assert!(h.contains("#![no_std]"), "{h}");
        assert_eq!(hint(&["error: other\n".to_string()]), "");
    }

    #[test]
    fn the_users_rustflags_are_kept() {
        assert_eq!(rustflags(None), LINK_ARGS);
        assert_eq!(rustflags(Some(" ".into())), LINK_ARGS);
        assert_eq!(
            rustflags(Some("-C target-cpu=mvp".into())),
            format!("-C target-cpu=mvp {LINK_ARGS}")
        );
    }

    /// A crate's own `[profile.release]` is left to it; a crate without one gets
    /// [`SMALL_RELEASE`].
    #[test]
    fn a_workspace_release_profile_is_the_authors() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let package = "[package]\nname = \"c\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        std::fs::write(&manifest, package).unwrap();
        assert!(!has_release_profile(&manifest));
        std::fs::write(
            &manifest,
            format!("{package}\n[profile.release]\nlto = false\n"),
        )
        .unwrap();
        assert!(has_release_profile(&manifest));
    }

    /// A real build of a minimal contract crate (kept under the temp directory, so
    /// later runs reuse its build of `core`): without `crate-type = ["cdylib"]` it makes
    /// no `.wasm`, which is an error saying so; with it, exactly its `.wasm` is
    /// reported, built with the small release profile.
    #[test]
    fn builds_report_the_wasm_they_made() {
        let dir = std::env::temp_dir().join("supervm-build-test-crate");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("src/lib.rs"),
            "#![no_std]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo) -> ! { loop {} }\n\
             #[unsafe(no_mangle)]\npub extern \"C\" fn answer() -> u32 { 42 }\n",
        )
        .unwrap();
        let package = "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                       [workspace]\n";
        std::fs::write(dir.join("Cargo.toml"), package).unwrap();
        let e = build(&dir).unwrap_err();
        assert!(matches!(e, Error::NoWasm(_)), "{e}");
        assert!(e.to_string().contains("crate-type = [\"cdylib\"]"), "{e}");
        let cdylib = format!("{package}[lib]\ncrate-type = [\"cdylib\"]\n");
        std::fs::write(dir.join("Cargo.toml"), cdylib).unwrap();
        let built = build(&dir).unwrap();
        assert!(built.small_profile);
        let want = dir
            .join("target")
            .join(TARGET)
            .join("release")
            .join("tiny.wasm");
        assert_eq!(built.wasm, std::slice::from_ref(&want));
        let code = std::fs::read(&want).unwrap();
        assert_eq!(&code[..4], b"\0asm");
        // (stripped: no name section, which would name `answer`)
        assert!(
            !code.windows(4).any(|w| w == b"name"),
            "a name section survived"
        );
    }

    /// Two `#[contract]` impls exporting the same name (or two constructors) fail to
    /// compile, and the error says which name and what to do (it was a link error
    /// naming neither function). A real build with the SDK (kept under the temp
    /// directory, so later runs reuse its build of `core` and the SDK).
    #[test]
    fn two_impls_exporting_one_name_fail_to_compile_naming_it() {
        let dir = std::env::temp_dir().join("supervm-build-test-duplicate-export");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"twice\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                 [lib]\ncrate-type = [\"cdylib\"]\n[dependencies]\n\
                 supervm-sdk = {{ path = {:?} }}\n[workspace]\n",
                sdk.canonicalize().unwrap()
            ),
        )
        .unwrap();
        let source = |second: &str| {
            format!(
                "#![no_std]\nuse supervm_sdk::prelude::*;\n\
                 pub struct A;\n#[contract]\nimpl A {{\n    #[init]\n    pub fn new() {{}}\n    \
                 pub fn get() -> u32 {{ 1 }}\n}}\n\
                 pub struct B;\n#[contract]\nimpl B {{\n    {second}\n}}\n"
            )
        };
        // (the workspace's lock: the SDK's dependencies at the versions already fetched,
        // no registry lookup)
        let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
        std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
        let write = |second: &str| std::fs::write(dir.join("src/lib.rs"), source(second)).unwrap();
        write("pub fn other() -> u32 { 2 }");
        assert_eq!(build(&dir).unwrap().wasm.len(), 1);
        write("pub fn get() -> u32 { 2 }");
        let e = build(&dir).unwrap_err().to_string();
        assert!(
            e.contains("two `#[contract]` impls export an entry point named `get`"),
            "{e}"
        );
        write("#[init]\n    pub fn make() {}");
        let e = build(&dir).unwrap_err().to_string();
        assert!(e.contains("two `#[init]` constructors"), "{e}");
    }

    #[test]
    fn a_directory_without_a_crate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(build(dir.path()), Err(Error::NoManifest(_))));
    }
}
