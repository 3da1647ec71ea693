//! Path resolution for a WASI host: which preopened directory a guest path
//! falls under, and the path relative to it. Like wasi-libc: an absolute
//! path goes to the preopen with the longest matching name; a relative path
//! goes to a preopen named `.` (or another relative name) after being joined
//! to the working directory. Unlike wasi-libc, the `.` preopen also serves
//! as the root for absolute paths no absolute preopen holds, so a shell
//! that turns `cd dir` into `chdir("/dir")` (getcwd says `/` at the start)
//! stays where it was. Paths are handled lexically (`a/../b` is `b`); the
//! host still refuses anything that leaves its directory.

use alloc::vec::Vec;

/// A path split into components, without `.` and with `..` folded where
/// the component before it allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NormalPath {
    /// Starts at the root.
    pub absolute: bool,
    /// Components; a relative path may start with `..` components.
    pub parts: Vec<Vec<u8>>,
}

impl NormalPath {
    /// Parses and normalizes `path`.
    pub fn new(path: &[u8]) -> NormalPath {
        let mut out = NormalPath {
            absolute: path.first() == Some(&b'/'),
            parts: Vec::new(),
        };
        out.push_all(path);
        out
    }

    /// Appends the components of `path` (which must be relative).
    fn push_all(&mut self, path: &[u8]) {
        for part in path.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => match self.parts.last() {
                    Some(last) if last.as_slice() != b".." => {
                        self.parts.pop();
                    }
                    // `/..` is `/`; a relative path keeps its leading `..`.
                    _ if self.absolute => {}
                    _ => self.parts.push(part.to_vec()),
                },
                _ => self.parts.push(part.to_vec()),
            }
        }
    }

    /// `path` taken relative to `self` (or itself when absolute).
    pub fn join(&self, path: &[u8]) -> NormalPath {
        if path.first() == Some(&b'/') {
            return NormalPath::new(path);
        }
        let mut out = self.clone();
        out.push_all(path);
        out
    }

    /// The path as bytes: `/a/b`, `a/b`, `/` or `.`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &self.parts {
            if self.absolute || !out.is_empty() {
                out.push(b'/');
            }
            out.extend_from_slice(part);
        }
        if out.is_empty() {
            out.push(if self.absolute { b'/' } else { b'.' });
        }
        out
    }
}

/// A preopened directory: its WASI descriptor and normalized name.
#[derive(Clone, Debug)]
pub struct Preopen {
    /// Its descriptor.
    pub fd: u32,
    /// Its name as the host gave it, normalized.
    pub name: NormalPath,
}

/// Finds the preopen that holds `path` (already joined to the working
/// directory) and the path relative to it; `None` when no preopen does.
/// The longest matching name wins; among equals, the first preopen. An
/// absolute path no absolute preopen holds goes to `.` as if it were `/`.
pub fn resolve(preopens: &[Preopen], path: &NormalPath) -> Option<(u32, Vec<u8>)> {
    let mut best: Option<&Preopen> = None;
    for p in preopens {
        let matches = p.name.absolute == path.absolute
            && p.name.parts.len() <= path.parts.len()
            && p.name.parts.iter().zip(&path.parts).all(|(a, b)| a == b);
        if matches && best.is_none_or(|b| p.name.parts.len() > b.name.parts.len()) {
            best = Some(p);
        }
    }
    let root_alias = || {
        let dot = preopens
            .iter()
            .find(|p| !p.name.absolute && p.name.parts.is_empty());
        dot.filter(|_| path.absolute)
    };
    let dir = best.or_else(root_alias)?;
    let skip = if dir.name.absolute == path.absolute {
        dir.name.parts.len()
    } else {
        0 // `.` standing in for `/`
    };
    let rest = NormalPath {
        absolute: false,
        parts: path.parts[skip..].to_vec(),
    };
    Some((dir.fd, rest.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preopens(names: &[&str]) -> Vec<Preopen> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Preopen {
                fd: 3 + i as u32,
                name: NormalPath::new(n.as_bytes()),
            })
            .collect()
    }

    fn show(p: &NormalPath) -> String {
        String::from_utf8(p.to_bytes()).unwrap()
    }

    #[test]
    fn normalizes_lexically() {
        assert_eq!(show(&NormalPath::new(b"/a//b/./c/")), "/a/b/c");
        assert_eq!(show(&NormalPath::new(b"/a/../../b")), "/b");
        assert_eq!(show(&NormalPath::new(b"a/../../b")), "../b");
        assert_eq!(show(&NormalPath::new(b"./")), ".");
        assert_eq!(show(&NormalPath::new(b"/")), "/");
        assert_eq!(show(&NormalPath::new(b"x").join(b"../y")), "y");
        assert_eq!(show(&NormalPath::new(b"x").join(b"/y")), "/y");
    }

    #[test]
    fn picks_the_longest_preopen() {
        let p = preopens(&[".", "/", "/usr", "/usr/lib/", "./sub"]);
        let r = |path: &str, cwd: &str| {
            resolve(&p, &NormalPath::new(cwd.as_bytes()).join(path.as_bytes()))
                .map(|(fd, rel)| (fd, String::from_utf8(rel).unwrap()))
        };
        assert_eq!(r("lines.txt", "."), Some((3, "lines.txt".into())));
        assert_eq!(r("sub/x", "."), Some((7, "x".into())));
        assert_eq!(r("x", "sub"), Some((7, "x".into())));
        assert_eq!(r("..", "sub"), Some((3, ".".into())));
        assert_eq!(r("../up", "."), Some((3, "../up".into())));
        assert_eq!(r("/usr/lib/x", "."), Some((6, "x".into())));
        assert_eq!(r("/usr/libx", "."), Some((5, "libx".into())));
        assert_eq!(r("/etc/passwd", "."), Some((4, "etc/passwd".into())));
        assert_eq!(r("/usr", "."), Some((5, ".".into())));
        assert_eq!(r("b", "/usr"), Some((5, "b".into())));
    }

    #[test]
    fn dot_is_the_root_when_nothing_else_is() {
        let p = preopens(&["/bin", "."]);
        let r = |path: &str| {
            resolve(&p, &NormalPath::new(path.as_bytes()))
                .map(|(fd, rel)| (fd, String::from_utf8(rel).unwrap()))
        };
        assert_eq!(r("/dir/x"), Some((4, "dir/x".into())));
        assert_eq!(r("/"), Some((4, ".".into())));
        assert_eq!(r("/bin/busybox"), Some((3, "busybox".into())));
        assert_eq!(r("x"), Some((4, "x".into())));
    }

    #[test]
    fn no_preopen_no_path() {
        let p = preopens(&["/data"]);
        assert_eq!(resolve(&p, &NormalPath::new(b"x")), None);
        assert_eq!(resolve(&p, &NormalPath::new(b"/etc")), None);
        assert_eq!(resolve(&[], &NormalPath::new(b"/")), None);
    }
}
