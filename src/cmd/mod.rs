pub mod generate;
pub mod metrics;
pub mod scenarios;

use std::io::Write;

/// Writes `text` to stdout. A closed pipe (`sandkasse scenarios | head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
