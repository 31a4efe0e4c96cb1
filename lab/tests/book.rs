//! The book stays true: includes resolve, links work, Rust is never pasted.

#[test]
fn book_includes_and_links_resolve() {
    let src = lab::paths::workspace().join("book/src");
    assert!(
        src.join("SUMMARY.md").exists(),
        "book/src/SUMMARY.md is missing"
    );
    let problems = lab::book_check::check(&src);
    assert!(
        problems.is_empty(),
        "the book has problems:\n{}",
        problems.join("\n")
    );
}
