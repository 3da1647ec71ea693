//! Files and directories through Rust's std: read/write/seek, append,
//! set_len, directories (create, list, rename, remove), metadata, symbolic
//! and hard links, file times, and the kinds of common errors. Works in the
//! current directory and removes everything it creates.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(unix)]
fn symlink(target: &str, link: &str) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// `std::os::wasi::fs::symlink_path` is unstable: call WASI directly, in
/// fd 3, the directory preopened as `.` (the only one the test gives).
#[cfg(target_os = "wasi")]
fn symlink(target: &str, link: &str) -> io::Result<()> {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn path_symlink(
            old: *const u8,
            old_len: usize,
            fd: u32,
            new: *const u8,
            new_len: usize,
        ) -> u16;
    }
    // SAFETY: both pointers and lengths describe live `str`s.
    let rc = unsafe { path_symlink(target.as_ptr(), target.len(), 3, link.as_ptr(), link.len()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(i32::from(rc)))
    }
}

/// The kind of an error. Rust's std for wasm32-wasip1 leaves ENOTEMPTY
/// uncategorised where the Unix std says `DirectoryNotEmpty`: a std
/// difference, not a WASI one, so name it by its raw value on both.
fn err(e: io::Error) -> String {
    const ENOTEMPTY: i32 = if cfg!(target_os = "wasi") { 55 } else { 39 };
    if e.raw_os_error() == Some(ENOTEMPTY) {
        return "DirectoryNotEmpty".into();
    }
    format!("{:?}", e.kind())
}

fn kind(path: &str) -> String {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => "symlink".into(),
        Ok(m) if m.is_dir() => "dir".into(),
        Ok(m) if m.is_file() => format!("file of {} bytes", m.len()),
        Ok(_) => "other".into(),
        Err(e) => err(e),
    }
}

fn listing(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let t = if t.is_dir() {
                "dir"
            } else if t.is_symlink() {
                "symlink"
            } else {
                "file"
            };
            format!("{}:{t}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    names
}

fn files() -> io::Result<()> {
    fs::write("data.txt", "hello world\nsecond line\n")?;
    println!("read_to_string: {:?}", fs::read_to_string("data.txt")?);
    let mut f = File::open("data.txt")?;
    f.seek(SeekFrom::Start(6))?;
    let mut word = [0u8; 5];
    f.read_exact(&mut word)?;
    println!("after seek: {:?}", String::from_utf8_lossy(&word));
    println!("position: {}", f.stream_position()?);
    println!("seek from end: {}", f.seek(SeekFrom::End(-5))?);
    println!(
        "seek before start: {:?}",
        f.seek(SeekFrom::Current(-100)).map_err(err)
    );
    println!(
        "write to read-only handle: {:?}",
        f.write(b"x").map_err(err)
    );

    let mut f = OpenOptions::new().append(true).open("data.txt")?;
    writeln!(f, "appended")?;
    let lines: Vec<String> = BufReader::new(File::open("data.txt")?)
        .lines()
        .collect::<Result<_, _>>()?;
    println!("lines: {lines:?}");

    let mut f = OpenOptions::new().read(true).write(true).open("data.txt")?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(b"HELLO")?;
    f.set_len(8)?;
    let mut s = String::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_string(&mut s)?;
    println!("after overwrite and set_len: {s:?}");
    f.set_len(12)?;
    println!("after growing: {:?}", fs::read("data.txt")?);
    f.sync_all()?;
    f.sync_data()?;

    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    fs::write("big.bin", &big)?;
    let back = fs::read("big.bin")?;
    println!(
        "big file round trip: {} bytes, equal {}",
        back.len(),
        back == big
    );
    fs::copy("big.bin", "copy.bin")?;
    println!("copy: {}", kind("copy.bin"));
    println!(
        "create_new on existing: {:?}",
        File::create_new("copy.bin").map(drop).map_err(err)
    );
    fs::remove_file("big.bin")?;
    fs::remove_file("copy.bin")?;
    Ok(())
}

fn directories() -> io::Result<()> {
    fs::create_dir_all("a/b/c")?;
    fs::write("a/one.txt", "1")?;
    fs::write("a/b/two.txt", "22")?;
    println!("listing a: {:?}", listing("a"));
    println!(
        "create_dir existing: {:?}",
        fs::create_dir("a").map_err(err)
    );
    println!(
        "remove_dir non-empty: {:?}",
        fs::remove_dir("a").map_err(err)
    );
    println!(
        "open missing: {:?}",
        File::open("a/none").map(drop).map_err(err)
    );
    println!(
        "read_dir on a file: {:?}",
        fs::read_dir("a/one.txt").map(drop).map_err(err)
    );
    println!(
        "remove_file on a dir: {:?}",
        fs::remove_file("a/b").is_err()
    );
    fs::rename("a/one.txt", "a/b/c/one.txt")?;
    fs::rename("a/b", "a/renamed")?;
    println!(
        "after renames: {:?} {:?}",
        listing("a"),
        listing("a/renamed/c")
    );
    println!(
        "exists: {} {}",
        Path::new("a/renamed/two.txt").exists(),
        Path::new("a/b").exists()
    );
    fs::remove_dir("a/renamed/c")
        .map_err(|e| println!("remove_dir c: {}", err(e)))
        .ok();
    fs::remove_dir_all("a")?;
    println!("after remove_dir_all: {}", kind("a"));
    Ok(())
}

fn metadata_links_and_times() -> io::Result<()> {
    fs::write("target.txt", "linked contents\n")?;
    symlink("target.txt", "link")?;
    symlink("nowhere", "dangling")?;
    println!("read_link: {:?}", fs::read_link("link")?);
    println!(
        "kinds: {} / {} / {}",
        kind("target.txt"),
        kind("link"),
        kind("dangling")
    );
    println!(
        "metadata through link is file: {}",
        fs::metadata("link")?.is_file()
    );
    println!(
        "metadata dangling: {:?}",
        fs::metadata("dangling").map(drop).map_err(err)
    );
    println!("read through link: {:?}", fs::read_to_string("link")?);
    println!(
        "canonical file name: {:?}",
        fs::read_link("link")?.file_name()
    );
    fs::hard_link("target.txt", "hard.txt")?;
    println!(
        "read through hard link: {:?}",
        fs::read_to_string("hard.txt")?
    );

    let f = File::options().write(true).open("target.txt")?;
    let when = UNIX_EPOCH + Duration::new(1_500_000_000, 250);
    f.set_times(fs::FileTimes::new().set_modified(when).set_accessed(when))?;
    let m = fs::metadata("hard.txt")?;
    println!(
        "modified: {:?}",
        m.modified()?.duration_since(UNIX_EPOCH).unwrap()
    );
    println!(
        "accessed: {:?}",
        m.accessed()?.duration_since(UNIX_EPOCH).unwrap()
    );
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400))?;
    println!(
        "modified again: {:?}",
        fs::metadata("target.txt")?
            .modified()?
            .duration_since(UNIX_EPOCH)
            .unwrap()
    );
    println!("dir metadata: {}", fs::metadata(".")?.is_dir());
    println!("file len: {}", f.metadata()?.len());
    drop(f);

    for name in ["link", "dangling", "hard.txt", "target.txt", "data.txt"] {
        fs::remove_file(name)?;
    }
    Ok(())
}

fn main() {
    files().expect("files");
    directories().expect("directories");
    metadata_links_and_times().expect("links");
    println!("left behind: {:?}", listing("."));
}
