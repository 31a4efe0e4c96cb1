//! Finding a function's body in Rust source, so an exercise can replace it
//! with a `todo!()` starter and put the reference back.
//!
//! Not a parser: comments and string or character literals are blanked out
//! (same length, so offsets stay valid), then `fn NAME` is looked up in what
//! is left and its body is the brace-balanced block after the signature.
//! `Type::method` picks the `fn method` inside an `impl` block whose header
//! names `Type`.

use anyhow::{Result, bail};

/// The byte range of a function's body, braces included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    pub start: usize,
    pub end: usize,
    /// The indentation of the `fn` line.
    pub indent: usize,
}

/// `source` with comments and literal contents replaced by spaces.
pub fn code_only(source: &str) -> Vec<u8> {
    let s = source.as_bytes();
    let mut out = s.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to.min(s.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while i < s.len() {
        match s[i] {
            b'/' if s.get(i + 1) == Some(&b'/') => {
                let end = s[i..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(s.len(), |p| i + p);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if s.get(i + 1) == Some(&b'*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < s.len() && depth > 0 {
                    if s[j] == b'/' && s.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if s[j] == b'*' && s.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            b'r' if is_raw_string(s, i) => {
                let hashes = s[i + 1..].iter().take_while(|b| **b == b'#').count();
                let open = i + 1 + hashes; // the opening quote
                let mut close = vec![b'"'];
                close.extend(std::iter::repeat_n(b'#', hashes));
                let end = s[open + 1..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(s.len(), |p| open + 1 + p + close.len());
                blank(&mut out, open + 1, end.saturating_sub(close.len()));
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while j < s.len() && s[j] != b'"' {
                    j += if s[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i + 1, j);
                i = j + 1;
            }
            b'\'' => {
                // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
                let end = if s.get(i + 1) == Some(&b'\\') {
                    s[i + 2..]
                        .iter()
                        .position(|b| *b == b'\'')
                        .map(|p| i + 2 + p)
                } else {
                    let len = std::str::from_utf8(&s[i + 1..])
                        .ok()
                        .and_then(|t| t.chars().next())
                        .map_or(1, char::len_utf8);
                    (s.get(i + 1 + len) == Some(&b'\'')).then_some(i + 1 + len)
                };
                match end {
                    Some(end) => {
                        blank(&mut out, i + 1, end);
                        i = end + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// `r"`, `r#"`, `br"` ... starting at `i` (and not the end of an identifier).
fn is_raw_string(s: &[u8], i: usize) -> bool {
    let ident_before = i > 0 && (s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_');
    if ident_before && s[i - 1] != b'b' {
        return false;
    }
    let hashes = s[i + 1..].iter().take_while(|b| **b == b'#').count();
    s.get(i + 1 + hashes) == Some(&b'"')
}

/// Where `name` (`function` or `Type::method`) has its body in `source`.
pub fn find(source: &str, name: &str) -> Result<Body> {
    let code = code_only(source);
    let (owner, function) = match name.rsplit_once("::") {
        Some((owner, f)) => (Some(owner), f),
        None => (None, name),
    };
    let needle = format!("fn {function}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = find_bytes(&code[from..], needle.as_bytes()).map(|p| from + p) {
        from = pos + needle.len();
        let after = code.get(pos + needle.len()).copied().unwrap_or(b' ');
        let before = if pos == 0 { b' ' } else { code[pos - 1] };
        let word_end = !(after.is_ascii_alphanumeric() || after == b'_');
        let word_start = !(before.is_ascii_alphanumeric() || before == b'_');
        if !(word_end && word_start) {
            continue;
        }
        if let Some(owner) = owner
            && !inside_impl_of(&code, pos, owner)
        {
            continue;
        }
        found.push(pos);
    }
    let pos = match found.as_slice() {
        [pos] => *pos,
        [] => bail!("no function `{name}` in the file"),
        _ => bail!("more than one function `{name}` in the file: name its type (Type::{function})"),
    };
    let open = code[pos..]
        .iter()
        .position(|b| *b == b'{' || *b == b';')
        .map(|p| pos + p)
        .filter(|p| code[*p] == b'{');
    let Some(open) = open else {
        bail!("`{name}` has no body (a declaration only)");
    };
    let mut depth = 0usize;
    for (i, b) in code.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    let line_start = source[..pos].rfind('\n').map_or(0, |p| p + 1);
                    let indent = source[line_start..]
                        .bytes()
                        .take_while(|b| *b == b' ')
                        .count();
                    return Ok(Body {
                        start: open,
                        end: i + 1,
                        indent,
                    });
                }
            }
            _ => {}
        }
    }
    bail!("the body of `{name}` is not closed")
}

/// Whether the `fn` at `pos` sits directly in an `impl` block naming `owner`.
fn inside_impl_of(code: &[u8], pos: usize, owner: &str) -> bool {
    // Walk back to the brace that opens the enclosing block.
    let mut depth = 0i32;
    let mut i = pos;
    while i > 0 {
        i -= 1;
        match code[i] {
            b'}' => depth += 1,
            b'{' if depth == 0 => {
                let header_start = code[..i]
                    .iter()
                    .rposition(|b| matches!(b, b'}' | b';' | b'{'))
                    .map_or(0, |p| p + 1);
                let header = String::from_utf8_lossy(&code[header_start..i]);
                let words: Vec<&str> = header
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .collect();
                // `impl<..> Type<..>` or `impl Trait for Type<..>`: the type's words.
                let Some(at) = words.iter().position(|w| *w == "impl") else {
                    return false;
                };
                let rest = &words[at + 1..];
                let ty = match rest.iter().position(|w| *w == "for") {
                    Some(f) => &rest[f + 1..],
                    None => rest,
                };
                return ty.contains(&owner);
            }
            b'{' => depth -= 1,
            _ => {}
        }
    }
    false
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The starter body for exercise `id`: the function compiles and panics
/// with a message naming the exercise.
pub fn starter(id: &str, name: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!("{{\n{pad}    todo!(\"{id}: write `{name}` (cargo lab exercise hint {id})\")\n{pad}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r##"//! fn decoy() { in a doc comment }
use std::fmt;

/// fn other() is mentioned here
pub fn free(a: &str) -> usize {
    let s = "a } brace in a string { fn free";
    let c = '}';
    let r = r#"raw "} fn free"#;
    if a.is_empty() { 0 } else { s.len() + 1 }
}

struct Cgroup<'a>(&'a str);

impl<'a> Cgroup<'a> {
    pub fn thaw(&self) -> Result<(), ()> {
        /* nested /* } */ comment */
        Ok(())
    }
}

impl fmt::Display for Other {
    fn thaw(&self) {}
}
"##;

    #[test]
    fn finds_a_free_function_past_comments_and_literals() {
        let body = find(SOURCE, "free").unwrap();
        let text = &SOURCE[body.start..body.end];
        assert!(text.starts_with("{\n    let s"), "{text}");
        assert!(text.ends_with("s.len() + 1 }\n}"), "{text}");
        assert_eq!(body.indent, 0);
    }

    #[test]
    fn a_method_is_found_in_its_type_impl() {
        let body = find(SOURCE, "Cgroup::thaw").unwrap();
        let text = &SOURCE[body.start..body.end];
        assert!(text.contains("Ok(())"), "{text}");
        assert_eq!(body.indent, 4);
        // Two `thaw`s: the bare name is ambiguous.
        assert!(find(SOURCE, "thaw").is_err());
        assert!(find(SOURCE, "missing").is_err());
    }

    #[test]
    fn the_starter_replaces_the_body_and_compiles_as_a_block() {
        let body = find(SOURCE, "Cgroup::thaw").unwrap();
        let mut edited = SOURCE.to_string();
        edited.replace_range(
            body.start..body.end,
            &starter("ch03.5", "Cgroup::thaw", body.indent),
        );
        assert!(edited.contains(
            "pub fn thaw(&self) -> Result<(), ()> {\n        todo!(\"ch03.5: write `Cgroup::thaw`"
        ));
        // Still findable, with the starter as its body.
        let again = find(&edited, "Cgroup::thaw").unwrap();
        assert!(edited[again.start..again.end].contains("todo!"));
    }
}
