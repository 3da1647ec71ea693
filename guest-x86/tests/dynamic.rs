//! Dynamically linked Debian programs (glibc's ld.so loading libc.so.6
//! and friends from the host) under `x86emu --user`, compared byte for
//! byte with the same invocation run natively. All come from Essential
//! packages (coreutils, dash, bash, grep, sed, findutils, diffutils, perl-base),
//! so every Debian machine has them.

mod compare;

use std::path::{Path, PathBuf};

use compare::{difference, native_and_emulated};

/// The interpreter every Debian x86_64 program names (PT_INTERP).
const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";

struct Case {
    program: &'static str,
    args: &'static [&'static str],
    stdin: &'static [u8],
}

const fn case(program: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        program,
        args,
        stdin: b"",
    }
}

fn corpus() -> Vec<Case> {
    vec![
        case("/bin/echo", &["hello", "dynamic", "world"]),
        case("/bin/ls", &["-la", "fixed"]),
        case("/bin/ls", &["-1R", "fixed"]),
        case("/usr/bin/sort", &["-t:", "-k3", "-n", "passwd.txt"]),
        case("/usr/bin/md5sum", &["passwd.txt", "fixed/b"]),
        case("/usr/bin/sha256sum", &["passwd.txt"]),
        case(
            "/bin/dash",
            &[
                "-c",
                "for i in 1 2 3; do echo \"line $i\"; done | sort -r; echo $((6 * 7)); exit 3",
            ],
        ),
        case("/usr/bin/env", &["-i", "A=1", "B=two", "/usr/bin/env"]),
        case("/bin/grep", &["-n", "-E", "ro+t|user", "passwd.txt"]),
        case("/bin/sed", &["-e", "s/:x:/:*:/", "-e", "2d", "passwd.txt"]),
        case("/usr/bin/find", &["fixed", "-type", "f", "-name", "*.txt"]),
        case("/usr/bin/wc", &["passwd.txt", "fixed/a.txt"]),
        case("/usr/bin/diff", &["passwd.txt", "fixed/a.txt"]),
        case(
            "/usr/bin/stat",
            &["-c", "%n %s %F %a", "passwd.txt", "fixed"],
        ),
        case("/usr/bin/cat", &["missing-file"]),
        case(
            "/usr/bin/perl",
            &[
                "-e",
                "printf(\"%s %.3f\\n\", join(',', reverse 1..5), atan2(1, 1) * 4)",
            ],
        ),
        // Process substitution: /dev/fd/N names the emulated descriptors.
        case(
            "/bin/bash",
            &[
                "-c",
                "diff <(printf 'a\\nb\\n') <(printf 'a\\nc\\n'); echo status $?; paste <(echo 1) /dev/stdin <<< two",
            ],
        ),
        case("/usr/bin/readlink", &["/proc/self/exe"]),
        // A POSIX timer (timer_create) ends the child: status 124.
        case("/usr/bin/timeout", &["0.2", "/bin/sleep", "5"]),
        Case {
            program: "/usr/bin/tr",
            args: &["a-z", "A-Z"],
            stdin: b"from standard input\n",
        },
        Case {
            program: "/usr/bin/head",
            args: &["-n", "2"],
            stdin: b"one\ntwo\nthree\n",
        },
    ]
}

fn make_workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guest-x86-dynamic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("fixed/sub")).unwrap();
    let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).unwrap();
    w(
        "passwd.txt",
        b"root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nuser:x:1000:1000:User:/home/user:/bin/bash\n",
    );
    w("fixed/a.txt", b"alpha\n");
    w("fixed/b", b"bravo\n");
    w("fixed/sub/c.txt", b"charlie\n");
    dir
}

#[test]
fn dynamic_programs_match_native() {
    assert!(
        Path::new(LD_SO).exists(),
        "{LD_SO} not found: this test runs the host's dynamically linked programs and needs an x86_64 glibc host (Debian: apt-get install libc6)"
    );
    let dir = make_workdir();
    let mut failures = Vec::new();
    let cases = corpus();
    for c in &cases {
        let program = Path::new(c.program);
        assert!(program.exists(), "{} is in an Essential package", c.program);
        let (native, emulated) = native_and_emulated(program, c.args, &dir, c.stdin);
        if let Some(report) = difference(&format!("{} {:?}", c.program, c.args), &native, &emulated)
        {
            failures.push(report);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "dynamic: {} of {} invocations byte-identical",
        cases.len() - failures.len(),
        cases.len()
    );
    for f in &failures {
        eprintln!("MISMATCH {f}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches (see stderr)",
        failures.len()
    );
}
