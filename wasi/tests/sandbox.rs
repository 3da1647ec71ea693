//! The sandbox: escapes and changes under a read-only grant are denied with
//! the right errno, bad pointers are EFAULT, and nothing outside the grants
//! is touched.

mod common;

use std::path::Path;

use common::{Inputs, build_c_wasm, programs_dir, run_wasm, scratch};
use wrun_wasi::DirPerms;

/// What `c_sandbox.c` must print, probe by probe.
const EXPECTED: &str = include_str!("programs/c_sandbox.expected");

#[test]
fn escapes_read_only_grants_and_bad_pointers_are_denied() {
    let root = scratch("sandbox");
    let wasm = root.join("c_sandbox.wasm");
    build_c_wasm(&programs_dir().join("c_sandbox.c"), &wasm);

    std::fs::write(root.join("secret.txt"), "top secret").unwrap();
    let jail = root.join("jail");
    std::fs::create_dir_all(jail.join("sub")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", jail.join("hostabs")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", jail.join("hostrel")).unwrap();
    let ro = root.join("ro");
    std::fs::create_dir_all(ro.join("dir")).unwrap();
    std::fs::write(ro.join("existing.txt"), "read me").unwrap();
    let before_root = common::listing(&root);

    let out = run_wasm(
        &wasm,
        &jail,
        &Inputs {
            args: &["c_sandbox"],
            env: &[],
            stdin: b"",
        },
        &[(&ro, "/ro", DirPerms::ReadOnly)],
    );
    assert_eq!(out.status, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, EXPECTED);

    // Only the guest's own link appeared, inside the jail; the rest is as it was.
    let mut expected_listing = before_root;
    expected_listing.push("jail/mylink".to_string());
    expected_listing.sort();
    assert_eq!(common::listing(&root), expected_listing);
    assert_eq!(
        std::fs::read_to_string(root.join("secret.txt")).unwrap(),
        "top secret"
    );
    assert_eq!(
        std::fs::read_to_string(ro.join("existing.txt")).unwrap(),
        "read me"
    );
    assert!(!Path::new(&root.join("evil")).exists());
}
