pub mod doctor;
pub mod evaluate;
pub mod generate;
pub mod inspect;
pub mod metrics;
pub mod scenarios;
pub mod worker;

use std::io::Write;

/// Writes `text` to stdout. A closed pipe (`sandkasse scenarios | head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
