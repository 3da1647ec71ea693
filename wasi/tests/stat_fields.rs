//! Every field of WASI's `filestat` against the host's own `stat`/`lstat`:
//! dev, ino, filetype, nlink, size and the three timestamps to the
//! nanosecond, for a file with two links, a directory, a symbolic link
//! (followed and not) and an open descriptor. No toolchain needed.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use wrun_runtime::{Engine, Module};
use wrun_wasi::{DirPerms, SharedBuffer, WasiCtxBuilder};

/// Stats five things through the read-only preopen (fd 3) and writes the
/// errnos and the five 64-byte records to stdout. Layout: paths at 0x0,
/// iovec at 0x40, opened fd at 0x80, five errnos at 0x84, records at 0x100.
const STAT_MODULE: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get"
    (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x0) "f.txt")
  (data (i32.const 0x8) "dir")
  (data (i32.const 0x10) "link")
  (func (export "_start")
    ;; lookupflags 1 = symlink_follow
    (i32.store (i32.const 0x84) (call $path_filestat_get (i32.const 3) (i32.const 1) (i32.const 0x0) (i32.const 5) (i32.const 0x100)))
    (i32.store (i32.const 0x88) (call $path_filestat_get (i32.const 3) (i32.const 1) (i32.const 0x8) (i32.const 3) (i32.const 0x140)))
    ;; following the link reads it, which sets the link's own atime: follow first
    (i32.store (i32.const 0x90) (call $path_filestat_get (i32.const 3) (i32.const 1) (i32.const 0x10) (i32.const 4) (i32.const 0x1c0)))
    (i32.store (i32.const 0x8c) (call $path_filestat_get (i32.const 3) (i32.const 0) (i32.const 0x10) (i32.const 4) (i32.const 0x180)))
    ;; rights: fd_filestat_get (1 << 21)
    (drop (call $path_open (i32.const 3) (i32.const 1) (i32.const 0x0) (i32.const 5) (i32.const 0)
      (i64.const 0x200000) (i64.const 0) (i32.const 0) (i32.const 0x80)))
    (i32.store (i32.const 0x94) (call $fd_filestat_get (i32.load (i32.const 0x80)) (i32.const 0x200)))
    (i32.store (i32.const 0x40) (i32.const 0x84))
    (i32.store (i32.const 0x44) (i32.const 0x1bc))
    (drop (call $fd_write (i32.const 1) (i32.const 0x40) (i32.const 1) (i32.const 0x48))))
)
"#;

/// WASI `filetype` values.
const REGULAR_FILE: u8 = 4;
const DIRECTORY: u8 = 3;
const SYMBOLIC_LINK: u8 = 7;

fn nanos(secs: i64, nsec: i64) -> u64 {
    (secs as u64) * 1_000_000_000 + nsec as u64
}

fn u64_at(record: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(record[offset..offset + 8].try_into().unwrap())
}

/// Checks one 64-byte record against host metadata, field by field.
fn check(what: &str, record: &[u8], host: &std::fs::Metadata, filetype: u8) {
    let fields = [
        ("dev", 0, host.dev()),
        ("ino", 8, host.ino()),
        ("nlink", 24, host.nlink()),
        ("size", 32, host.size()),
        ("atim", 40, nanos(host.atime(), host.atime_nsec())),
        ("mtim", 48, nanos(host.mtime(), host.mtime_nsec())),
        ("ctim", 56, nanos(host.ctime(), host.ctime_nsec())),
    ];
    for (name, offset, want) in fields {
        assert_eq!(u64_at(record, offset), want, "{what}: {name}");
    }
    assert_eq!(record[16], filetype, "{what}: filetype");
}

#[test]
fn filestat_fields_match_the_hosts_stat() {
    let root = std::env::temp_dir().join(format!("wrun-stat-fields-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("dir/sub")).unwrap();
    let file = root.join("f.txt");
    std::fs::write(&file, vec![7u8; 1234]).unwrap();
    std::fs::hard_link(&file, root.join("f2.txt")).unwrap();
    std::os::unix::fs::symlink("f.txt", root.join("link")).unwrap();
    // Distinct, sub-second access and modification times.
    let at = |s, n| SystemTime::UNIX_EPOCH + Duration::new(s, n);
    let times = std::fs::FileTimes::new()
        .set_accessed(at(1_000_000_000, 123_456_789))
        .set_modified(at(1_500_000_000, 987_654_321));
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_times(times)
        .unwrap();

    let engine = Engine::default();
    let module = Module::new(&engine, STAT_MODULE).expect("valid module");
    let out = SharedBuffer::new();
    let ctx = WasiCtxBuilder::new()
        .stdout(out.clone())
        .preopen_dir(&root, ".", DirPerms::ReadOnly)
        .unwrap()
        .build();
    let status = wrun_wasi::run_command(&module, ctx).expect("runs");
    assert_eq!(status, 0);
    let bytes = out.contents();
    assert_eq!(bytes.len(), 0x1bc);
    let errnos: Vec<u32> = bytes[..20]
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(errnos, [0; 5], "errnos of the five stat calls");
    let record = |i: usize| &bytes[0x100 - 0x84 + i * 64..][..64];

    let meta = |p: &Path| std::fs::metadata(p).unwrap();
    let file_meta = meta(&file);
    assert_eq!(file_meta.nlink(), 2, "the host file has two links");
    check("f.txt", record(0), &file_meta, REGULAR_FILE);
    check("dir", record(1), &meta(&root.join("dir")), DIRECTORY);
    let link_meta = std::fs::symlink_metadata(root.join("link")).unwrap();
    check("link (not followed)", record(2), &link_meta, SYMBOLIC_LINK);
    check("link (followed)", record(3), &file_meta, REGULAR_FILE);
    check("fd of f.txt", record(4), &file_meta, REGULAR_FILE);
    let _ = std::fs::remove_dir_all(&root);
}
