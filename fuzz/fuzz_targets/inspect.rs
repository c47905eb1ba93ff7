//! Inspection must never panic, hang or allocate without bound on any bytes: it is the first
//! thing that touches an uploaded model.
#![no_main]

use inference::{Limits, inspect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let i = inspect(data, &limits);
    // The summary of anything accepted must render, and its counts respect the caps.
    if i.accepted() {
        let _ = i.summary.to_text();
        assert!(i.summary.nodes <= limits.max_nodes);
        assert!(i.summary.initializers <= limits.max_initializers);
    }
});
