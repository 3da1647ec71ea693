//! Sets `cfg(jit)` on the architectures `wrun-jit` has a backend for
//! (its `x64/` and `aarch64/`; the dependency in Cargo.toml names the
//! same two), so the runtime names that list once.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(jit)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86_64" || arch == "aarch64" {
        println!("cargo::rustc-cfg=jit");
    }
}
