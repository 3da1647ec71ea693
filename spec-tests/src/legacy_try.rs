//! The legacy exception proposal's folded `try` form, which the `wast`
//! crate does not parse:
//!
//! ```text
//! (try $l (result i32) (do I*) (catch $t I*)* (catch_all I*)?)
//! (try $l (result i32) (do I*) (delegate $d))
//! ```
//!
//! is rewritten into the flat form it stands for, `try $l (result i32) I*
//! catch $t I* … end` (or `… delegate $d`, which ends the block), before
//! a script is parsed (the upstream `test/legacy/exceptions` scripts use
//! it). Strings and comments are copied untouched and no line break is
//! added or removed, so reported line numbers stay those of the file.

/// What an open parenthesis of the input started.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A folded `try`; `delegated` once its `(delegate …)` clause is seen
    /// (that clause ends the block, so no `end` follows).
    Try { delegated: bool },
    /// `(do …)`, `(catch …)`, `(catch_all …)` or `(delegate …)` of a `try`.
    Clause,
    /// Anything else: copied as is.
    Other,
}

/// The text with every folded legacy `try` unfolded; `text` itself when it
/// has none.
pub fn unfold(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("(try") {
        return text.into();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if let Some(len) = string_or_comment_len(rest) {
            out.push_str(&rest[..len]);
            i += len;
            continue;
        }
        match bytes[i] {
            b'(' => {
                let word = keyword_after_paren(rest);
                let in_try = matches!(stack.last(), Some(Open::Try { .. }));
                let open = match word {
                    "try" => Open::Try { delegated: false },
                    "do" | "catch" | "catch_all" | "delegate" if in_try => Open::Clause,
                    _ => Open::Other,
                };
                match open {
                    Open::Other => out.push('('),
                    Open::Try { .. } | Open::Clause => {
                        // `(try` → ` try`, `(do` → `   ` (the body follows),
                        // `(catch` → ` catch`, `(delegate` → ` delegate`.
                        out.push(' ');
                        if word == "do" {
                            out.push_str("  ");
                        } else {
                            out.push_str(word);
                        }
                        if word == "delegate"
                            && let Some(Open::Try { delegated }) = stack.last_mut()
                        {
                            *delegated = true;
                        }
                        i += word.len();
                    }
                }
                stack.push(open);
                i += 1;
            }
            b')' => {
                match stack.pop() {
                    Some(Open::Try { delegated: false }) => out.push_str(" end "),
                    Some(Open::Try { delegated: true } | Open::Clause) => out.push(' '),
                    Some(Open::Other) | None => out.push(')'),
                }
                i += 1;
            }
            _ => {
                let len = rest.chars().next().map_or(1, char::len_utf8);
                out.push_str(&rest[..len]);
                i += len;
            }
        }
    }
    out.into()
}

/// The keyword right after the `(` that starts `text` (empty if none).
fn keyword_after_paren(text: &str) -> &str {
    let word = &text[1..];
    let end = word
        .find(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';' || c == '"')
        .unwrap_or(word.len());
    &word[..end]
}

/// The length of the string literal, line comment or (nested) block
/// comment that starts `text`, if one does.
fn string_or_comment_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if text.starts_with(";;") {
        return Some(text.find('\n').unwrap_or(text.len()));
    }
    if text.starts_with("(;") {
        let mut depth = 0usize;
        let mut i = 0;
        while i + 1 < b.len() {
            match (b[i], b[i + 1]) {
                (b'(', b';') => {
                    depth += 1;
                    i += 2;
                }
                (b';', b')') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => i += 1,
            }
        }
        return Some(text.len());
    }
    if b.first() == Some(&b'"') {
        let mut i = 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        return Some(text.len());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::unfold;

    #[test]
    fn folded_try_becomes_flat() {
        let text = "(func (try $l (result i32) (do (call $f))\n (catch $e (i32.const 1)) (catch_all (i32.const 2))))";
        let flat = unfold(text);
        let words: Vec<&str> = flat.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "(func try $l (result i32) (call $f) catch $e (i32.const 1) catch_all (i32.const 2) end )"
        );
        assert_eq!(
            flat.lines().count(),
            text.lines().count(),
            "line numbers kept"
        );
    }

    #[test]
    fn delegate_ends_the_block_and_nested_tries_unfold() {
        let text = "(try (do (try (result i32) (do (i32.const 1)) (delegate 0))) (catch_all))";
        let flat = unfold(text);
        let words: Vec<&str> = flat.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "try try (result i32) (i32.const 1) delegate 0 catch_all end"
        );
    }

    #[test]
    fn strings_comments_and_try_table_are_left_alone() {
        let text = "(module quote \"(try (do))\") ;; (try (do))\n(; (try (; (do) ;) ;) (try_table (catch $e 0))";
        assert_eq!(unfold(text), text);
    }
}
