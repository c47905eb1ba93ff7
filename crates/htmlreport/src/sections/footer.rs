//! The footer: what made the file, and that it is self-contained.

use super::Doc;
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn footer(&mut self) {
        let _ = write!(
            self.out,
            "<footer><p>{}</p></footer>",
            self.t(
                "Lavet af Sandkasse ud fra kørslens registrering. Filen er selvstændig: den indeholder ingen scripts og henter intet udefra, så den kan videresendes og udskrives, som den er.",
                "Made by Sandkasse from the run record. The file is self-contained: it holds no scripts and loads nothing from elsewhere, so it can be forwarded and printed as it is."
            )
        );
    }
}
