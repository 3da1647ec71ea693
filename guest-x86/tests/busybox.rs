//! Debian's `busybox-static` under `x86emu --user`, compared byte for byte
//! (stdout, stderr, exit status) with the same invocation run natively.
//!
//! Every corpus entry runs. Entries listed in `KNOWN_FAILURES` must still
//! differ (so the list stays honest: a fixed entry fails the test until it
//! is removed from the list); every other entry must match exactly.
//! `BUSYBOX` overrides the binary (default `/bin/busybox`, installed by
//! `scripts/guest-x86-ci.sh`).

mod compare;

use std::path::PathBuf;
use std::process::Command;

use compare::{difference, native_and_emulated};

/// One applet invocation.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    stdin: &'static [u8],
    /// Compare stderr too (off only where it carries timings).
    compare_stderr: bool,
}

const fn case(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        args,
        stdin: b"",
        compare_stderr: true,
    }
}

const fn with_stdin(
    name: &'static str,
    args: &'static [&'static str],
    stdin: &'static [u8],
) -> Case {
    Case {
        name,
        args,
        stdin,
        compare_stderr: true,
    }
}

const LINES: &str = "foo 3\nbar 10\nbaz 7\nqux 1\nfoo 3\nhello world 42\nbanana 5\napple 12\n";
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nuser:x:1000:1000:User,,,:/home/user:/bin/bash\n";
const SCRIPT: &str = r#"
f() { echo "f got $# args: $*"; }
f a b c
i=0; total=0
while [ $i -lt 10 ]; do total=$((total + i * i)); i=$((i + 1)); done
echo "sum of squares: $total"
for w in alpha beta gamma; do
  case $w in
    a*) echo "$w starts with a" ;;
    *) echo "$w: ${#w} letters" ;;
  esac
done
x="hello world"; echo "${x%world}there ${x#hello }"
printf '%05d|%-4s|%x\n' 42 ab 255
"#;

/// Writes, truncates, appends, overwrites shorter and longer, writes in the
/// middle and reads from the end (lseek SEEK_END, O_TRUNC, O_APPEND,
/// ftruncate), then removes its file. Reads go through `od`, not `cat`:
/// natively, busybox `cat` splices the file into the stdout pipe, and the
/// pipe then shows the file as it is when the reader gets to it, after
/// later commands changed it.
const FILE_WRITES: &str = "echo 0123456789abcdef > t.tmp; tail -c 5 t.tmp | od -c; \
    echo a long first line > t.tmp; echo short > t.tmp; od -c t.tmp; \
    echo appended >> t.tmp; od -c t.tmp; \
    printf XY | dd of=t.tmp bs=1 seek=2 conv=notrunc 2>/dev/null; od -c t.tmp; \
    printf 'much longer than before\\n' > t.tmp; od -c t.tmp; \
    truncate -s 4 t.tmp; od -c t.tmp; truncate -s 7 t.tmp; od -c t.tmp; \
    tail -c 3 t.tmp | od -c; rm t.tmp";

fn corpus() -> Vec<Case> {
    vec![
        case("echo", &["echo", "hello", "world"]),
        case("printf", &["printf", "%s=%d\\n", "a", "1", "b", "2"]),
        case(
            "printf-float",
            &["printf", "%.3f %e %g\\n", "3.14159", "12345.678", "0.0001"],
        ),
        case("seq", &["seq", "1", "10"]),
        case("seq-sep", &["seq", "-s", ",", "2", "3", "20"]),
        case("expr", &["expr", "7", "*", "6"]),
        case("expr-string", &["expr", "length", "abcdef"]),
        case("wc", &["wc", "lines.txt"]),
        with_stdin("wc-stdin", &["wc", "-l"], b"a\nb\nc\n"),
        case("sort", &["sort", "lines.txt"]),
        case("sort-n", &["sort", "-n", "-k", "2", "lines.txt"]),
        case("sort-r", &["sort", "-r", "lines.txt"]),
        case("uniq-c", &["uniq", "-c", "sorted.txt"]),
        with_stdin("tr-upper", &["tr", "a-z", "A-Z"], b"Hello, World!\n"),
        with_stdin(
            "tr-delete",
            &["tr", "-d", "aeiou"],
            b"the quick brown fox\n",
        ),
        case("cut-fields", &["cut", "-d:", "-f1,3", "passwd.txt"]),
        case("cut-chars", &["cut", "-c2-5", "lines.txt"]),
        case("head", &["head", "-n", "3", "lines.txt"]),
        case("tail", &["tail", "-n", "2", "lines.txt"]),
        case("od", &["od", "-A", "x", "-t", "x1z", "data.bin"]),
        case("base64", &["base64", "data.bin"]),
        case("base64-decode", &["base64", "-d", "b64.txt"]),
        case("md5sum", &["md5sum", "lines.txt", "data.bin"]),
        case("sha1sum", &["sha1sum", "lines.txt"]),
        case("sha256sum", &["sha256sum", "lines.txt", "data.bin"]),
        case("sha512sum", &["sha512sum", "lines.txt"]),
        case("xxd", &["xxd", "data.bin"]),
        case("hexdump", &["hexdump", "-C", "data.bin"]),
        case("grep-E", &["grep", "-E", "fo+|ba[rz]", "lines.txt"]),
        case("grep-count", &["grep", "-c", "a", "lines.txt"]),
        case("grep-vn", &["grep", "-v", "-n", "o", "lines.txt"]),
        case(
            "sed-subst",
            &["sed", "-e", "s/o/0/g", "-e", "/^b/d", "lines.txt"],
        ),
        case("sed-range", &["sed", "-n", "2,4p", "lines.txt"]),
        case(
            "awk-fields",
            &["awk", "-F:", "{ print $1, NF }", "passwd.txt"],
        ),
        case(
            "awk-sum",
            &["awk", "{ s += $NF } END { print s, s / NR }", "lines.txt"],
        ),
        case(
            "awk-printf",
            &["awk", "BEGIN { printf \"%.3f %d\\n\", 3.14159 * 2, 2^10 }"],
        ),
        case("gzip", &["gzip", "-c", "lines.txt"]),
        case("gunzip", &["gunzip", "-c", "lines.txt.gz"]),
        Case {
            name: "dd",
            args: &["dd", "if=data.bin", "bs=16", "count=2"],
            stdin: b"",
            compare_stderr: false,
        },
        case("cat", &["cat", "lines.txt", "data.bin"]),
        case("ls", &["ls", "-1", "dir"]),
        case("basename", &["basename", "/a/b/c.txt", ".txt"]),
        case("dirname", &["dirname", "/a/b/c.txt"]),
        case("false", &["false"]),
        case("test", &["test", "3", "-lt", "4"]),
        case(
            "sh-loop",
            &[
                "sh",
                "-c",
                "for i in 1 2 3; do echo item $i; done; echo $((6 * 7))",
            ],
        ),
        case("sh-script", &["sh", "script.sh"]),
        case("file-writes", &["sh", "-c", FILE_WRITES]),
        case("fold", &["fold", "-w", "5", "lines.txt"]),
        case("rev", &["rev", "lines.txt"]),
        case("nl", &["nl", "lines.txt"]),
        case("tac", &["tac", "lines.txt"]),
        case("factor", &["factor", "360", "97", "1001"]),
        case("cksum", &["cksum", "lines.txt"]),
        case("stat", &["stat", "-c", "%s %F", "lines.txt"]),
        case(
            "date",
            &["date", "-u", "-d", "@86400", "+%Y-%m-%d %H:%M:%S"],
        ),
        case("uname", &["uname", "-s", "-m"]),
        // Shell pipelines, substitutions, redirections: fork, pipes, execve of /proc/self/exe.
        case(
            "sh-pipeline",
            &["sh", "-c", "printf '3\\n1\\n2\\n' | sort -n | head -n 2"],
        ),
        case(
            "sh-subst",
            &["sh", "-c", "n=$(wc -l < lines.txt); echo \"lines: $n\""],
        ),
        case(
            "sh-while-read",
            &[
                "sh",
                "-c",
                "while read a b; do echo \"$b:$a\"; done < lines.txt | sort -t: -k1 -n",
            ],
        ),
        case(
            "sh-gzip-roundtrip",
            &["sh", "-c", "gzip -c lines.txt | gunzip -c | md5sum"],
        ),
        case(
            "sh-awk-pipe",
            &[
                "sh",
                "-c",
                "cat passwd.txt | awk -F: '{print $1, $3}' | tr a-z A-Z",
            ],
        ),
        case(
            "sh-heredoc",
            &["sh", "-c", "cat <<EOF\nhello $((1 + 2))\nEOF"],
        ),
        case(
            "sh-subshell",
            &["sh", "-c", "(cd dir && ls); echo status $?"],
        ),
        case(
            "sh-xargs",
            &["sh", "-c", "echo a b c | xargs -n1 echo item"],
        ),
        case("sh-find", &["sh", "-c", "find dir -type f | sort"]),
        case(
            "sh-exit-status",
            &[
                "sh",
                "-c",
                "false | true; echo $?; grep -q zzz lines.txt || echo notfound; exit 3",
            ],
        ),
        case(
            "sh-base64-roundtrip",
            &[
                "sh",
                "-c",
                "base64 data.bin | base64 -d | cmp - data.bin && echo same",
            ],
        ),
        case(
            "sh-sha",
            &[
                "sh",
                "-c",
                "cat data.bin | sha256sum; cat data.bin | sha512sum | cut -c1-32",
            ],
        ),
        case("sort-u", &["sort", "-u", "lines.txt"]),
        case("uniq-d", &["uniq", "-d", "sorted.txt"]),
        case("paste", &["paste", "-d", ",", "lines.txt", "passwd.txt"]),
        case("comm", &["comm", "sorted.txt", "sorted.txt"]),
        case("cmp", &["cmp", "lines.txt", "sorted.txt"]),
        case("diff", &["diff", "lines.txt", "sorted.txt"]),
        case(
            "md5sum-check",
            &[
                "sh",
                "-c",
                "md5sum lines.txt data.bin > sums && md5sum -c sums",
            ],
        ),
        case(
            "files",
            &[
                "sh",
                "-c",
                "mkdir -p t/u && echo x > t/u/f && cp t/u/f t/g && mv t/g t/h && ls -R t && rm -r t && ls",
            ],
        ),
        case(
            "tee",
            &[
                "sh",
                "-c",
                "echo hello | tee out.txt | wc -c; cat out.txt; rm out.txt",
            ],
        ),
        case("sha3", &["sha3sum", "lines.txt"]),
        case("strings", &["strings", "-n", "3", "data.bin"]),
        case(
            "sed-script",
            &["sed", "-n", "-e", "/a/{s/a/A/g;p}", "-e", "$=", "lines.txt"],
        ),
        case(
            "awk-program",
            &[
                "awk",
                "{ n[$1]++ } END { for (k in n) if (n[k] > 1) print k, n[k] }",
                "lines.txt",
            ],
        ),
        case(
            "grep-context",
            &["grep", "-n", "-A1", "-B1", "qux", "lines.txt"],
        ),
        case(
            "printf-many",
            &[
                "printf",
                "%5.2f|%-6s|%04x|%c|%%\\n",
                "2.5",
                "ab",
                "255",
                "z",
            ],
        ),
        case("seq-float", &["seq", "0", "0.25", "1.5"]),
        case(
            "sh-trap",
            &[
                "sh",
                "-c",
                "trap 'echo caught USR1' USR1; kill -USR1 $$; echo after; trap 'echo term' TERM; kill $$; echo end",
            ],
        ),
        case(
            "sh-killed",
            &["sh", "-c", "echo before; kill -USR2 $$; echo notreached"],
        ),
        case("expr-regex", &["expr", "abc123", ":", "[a-z]*\\([0-9]*\\)"]),
        // Concurrent processes: bounded pipes, SIGPIPE, blocking reads and writes.
        case(
            "sh-yes-head",
            &["sh", "-c", "yes | head -n 3; echo status $?"],
        ),
        case(
            "sh-zero-pipeline",
            &["sh", "-c", "cat /dev/zero | head -c 100000 | wc -c"],
        ),
        case(
            "sh-big-pipeline",
            &[
                "sh",
                "-c",
                "yes abcdefghij | head -n 20000 | wc; dd if=/dev/zero bs=1000 count=300 2>/dev/null | cat | wc -c",
            ],
        ),
        case(
            "sh-background",
            &[
                "sh",
                "-c",
                "(sleep 0.05; echo late) & echo early; wait; echo done",
            ],
        ),
    ]
}

/// Entries that are known to differ, with the reason.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn busybox() -> PathBuf {
    let path = PathBuf::from(std::env::var("BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into()));
    assert!(
        path.exists(),
        "{} not found: install Debian's busybox-static (scripts/guest-x86-ci.sh does)",
        path.display()
    );
    path
}

fn make_workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guest-x86-busybox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("dir")).unwrap();
    let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).unwrap();
    w("lines.txt", LINES.as_bytes());
    let mut sorted: Vec<&str> = LINES.lines().collect();
    sorted.sort();
    w("sorted.txt", (sorted.join("\n") + "\n").as_bytes());
    w("passwd.txt", PASSWD.as_bytes());
    w("script.sh", SCRIPT.as_bytes());
    let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
    w("data.bin", &data);
    w("b64.txt", b"aGVsbG8sIGJ1c3lib3ggdW5kZXIgeDg2ZW11Cg==\n");
    for f in ["b", "a", "c.txt"] {
        w(&format!("dir/{f}"), b"x");
    }
    // A gzip stream made by the native busybox.
    let gz = Command::new(busybox())
        .args(["gzip", "-c", "lines.txt"])
        .current_dir(&dir)
        .output()
        .unwrap();
    w("lines.txt.gz", &gz.stdout);
    dir
}

#[test]
fn busybox_applets_match_native() {
    let bb = busybox();
    let dir = make_workdir();
    let mut passed = Vec::new();
    let mut unexpected = Vec::new();
    let mut known = Vec::new();
    let cases = corpus();
    for c in &cases {
        let (mut native, mut emulated) = native_and_emulated(&bb, c.args, &dir, c.stdin);
        if !c.compare_stderr {
            native.stderr.clear();
            emulated.stderr.clear();
        }
        let mismatch = difference(&format!("{}: {:?}", c.name, c.args), &native, &emulated);
        let listed = KNOWN_FAILURES.iter().find(|(n, _)| *n == c.name);
        match (mismatch, listed) {
            (None, None) => passed.push(c.name),
            (Some(_), Some((_, why))) => known.push(format!("{} ({why})", c.name)),
            (None, Some(_)) => unexpected.push(format!(
                "{}: listed as a known failure but now matches",
                c.name
            )),
            (Some(report), None) => unexpected.push(report),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "busybox: {} of {} invocations byte-identical",
        passed.len(),
        cases.len()
    );
    for k in &known {
        eprintln!("known failure: {k}");
    }
    for u in &unexpected {
        eprintln!("UNEXPECTED {u}");
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected results (see stderr)",
        unexpected.len()
    );
}
