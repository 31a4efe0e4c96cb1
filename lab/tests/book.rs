//! The book stays true: includes resolve, links work, Rust is never pasted,
//! exercises name tests that exist, and no anchor goes unshown.

#[test]
fn book_includes_and_links_resolve() {
    let src = lab::paths::workspace().join("book/src");
    assert!(
        src.join("SUMMARY.md").exists(),
        "book/src/SUMMARY.md is missing"
    );
    let problems = lab::book_check::check_book(&lab::paths::workspace());
    assert!(
        problems.is_empty(),
        "the book has problems:\n{}",
        problems.join("\n")
    );
}
