//! A loaded module is interned for the life of the process; a refused one must leave nothing
//! behind, or a caller trying a broken module again and again grows the process without bound.
//! One test in its own binary, so no other test loads modules while it counts.

#[test]
fn a_module_refused_after_checking_interns_nothing() {
    // Passes the checker, fails when built: an unknown measurement-error kind, a recourse
    // action on a category.
    let text = synth::scenario_module_source("rehabilitation-need")
        .unwrap()
        .replacen("name = \"rehabilitation-need\"", "name = \"refused-module\"", 1)
        .replacen("kind = \"normal\"", "kind = \"gaussian\"", 1);
    let before = synth::module::interned_bytes();
    for _ in 0..50 {
        let e = synth::module::load("refused.toml", &text).expect_err("refused");
        assert!(e.to_string().contains("`normal` or `relative`"), "{e}");
    }
    assert_eq!(
        synth::module::interned_bytes(),
        before,
        "a refused module interned text"
    );
    // A module that loads interns its text once, however often it is loaded.
    let ok = text.replacen("kind = \"gaussian\"", "kind = \"normal\"", 1);
    synth::module::load("ok.toml", &ok).unwrap();
    let once = synth::module::interned_bytes();
    assert!(once > before + ok.len(), "the source and dictionary are interned");
    for _ in 0..20 {
        synth::module::load("ok.toml", &ok).unwrap();
    }
    assert_eq!(synth::module::interned_bytes(), once);
}
