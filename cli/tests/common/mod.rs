//! Helpers shared by the CLI's integration tests.

use std::io::Read;
use std::path::PathBuf;
use std::process::Child;

/// Writes `wat` to a fresh scratch folder named after `suite` and `test`.
pub fn module(suite: &str, test: &str, wat: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wrun-{suite}-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join("m.wat");
    std::fs::write(&path, wat).expect("write module");
    path
}

/// Everything the child writes to its (piped) stderr, until it closes it.
pub fn read_stderr(child: &mut Child) -> String {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    stderr
}
