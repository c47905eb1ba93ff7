//! A scenario module is an authority's file: reading, checking and evaluating any text must
//! never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match synth::module::check_and_evaluate(text, 64) {
        Ok(n) => assert!(n % 64 == 0),
        Err(e) => {
            // Every problem is placed inside the text.
            let lines = text.lines().count().max(1) + 1;
            for p in &e.problems {
                assert!(p.line >= 1 && p.line <= lines, "{e}");
                assert!(p.column >= 1, "{e}");
            }
        }
    }
});
