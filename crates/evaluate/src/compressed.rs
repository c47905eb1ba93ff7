//! gzip and zstd around a dataset file: recognised by magic bytes, inflated as a stream, and
//! inflated into memory only up to a hard cap.
//!
//! CSV is read straight through the decoder, so a compressed CSV never exists inflated. Parquet
//! and Arrow IPC files need random access (their footer comes first), so a compressed one is
//! inflated into memory; a few kilobytes of gzip can inflate to gigabytes, so the inflation
//! stops one byte past the cap and refuses the file instead of growing without bound.

use std::io::{self, Read};
use std::path::Path;

/// How a file's bytes are compressed as a whole (not the codecs inside a Parquet or IPC file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Not compressed.
    Plain,
    /// gzip (RFC 1952), one or more members, as `gzip` and Python's `gzip` module write it.
    Gzip,
    /// Zstandard frames, as `zstd` and pandas' `compression="zstd"` write them.
    Zstd,
}

impl Codec {
    /// The codec whose magic bytes start `head` (the first bytes of the file).
    pub fn of(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Codec::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Codec::Zstd
        } else {
            Codec::Plain
        }
    }

    /// The codec the file name announces (`.gz`, `.gzip`, `.zst`, `.zstd`).
    pub fn of_name(path: &Path) -> Self {
        match extension(path).as_deref() {
            Some("gz" | "gzip") => Codec::Gzip,
            Some("zst" | "zstd") => Codec::Zstd,
            _ => Codec::Plain,
        }
    }

    /// What to call it in a message.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Plain => "uncompressed",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// `raw` read through this codec's decoder (or as it is, for [`Codec::Plain`]).
    pub fn decoder<R: Read + Send + 'static>(self, raw: R) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Codec::Plain => Box::new(raw),
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(
                1 << 16,
                raw,
            ))),
            // The decoder's default window limit (128 MiB) stays: a frame that declares a larger
            // window would make the decoder allocate it.
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
        })
    }
}

/// The lower-case last extension of `path`.
pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// Checks that a file named as compressed is compressed that way (a `.gz` file that is not
/// gzip was renamed or truncated, and would otherwise be reported as an unknown format).
pub(crate) fn check_name(path: &Path, head: &[u8]) -> Result<Codec, String> {
    let by_magic = Codec::of(head);
    let by_name = Codec::of_name(path);
    if by_name != Codec::Plain && by_magic != by_name {
        return Err(format!(
            "named as {} but it is not (it looks like {}); rename it or compress it again",
            by_name.name(),
            looks_like(head)
        ));
    }
    Ok(by_magic)
}

/// Reads at most `max` bytes from the start of `r` (fewer only at its end).
pub(crate) fn read_head(r: &mut dyn Read, max: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(max.min(1 << 16));
    r.take(max as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Inflates `r` into memory, refusing it once it passes `cap` bytes: at most `cap + 1` bytes
/// are ever produced, however much the input would inflate to.
pub(crate) fn inflate_capped(r: impl Read, cap: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("inflating it: {e}"))?;
    if out.len() as u64 > cap {
        return Err(format!(
            "it inflates to more than {cap} bytes, the most a compressed Parquet or Arrow file may \
             inflate to (it must be held in memory whole); write it uncompressed, or use the \
             format's own compression (Parquet codecs, Feather lz4/zstd)"
        ));
    }
    Ok(out)
}

/// What a file starting with `head` appears to be, for a message about a file that cannot
/// be read.
pub(crate) fn looks_like(head: &[u8]) -> String {
    const KNOWN: &[(&[u8], &str)] = &[
        (b"PAR1", "a Parquet file"),
        (b"ARROW1", "an Arrow IPC (Feather v2) file"),
        (&[0x1f, 0x8b], "gzip data"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd data"),
        (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
        (&[0xd0, 0xcf, 0x11, 0xe0], "an old Office document (.xls)"),
        (b"BZh", "bzip2 data"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz data"),
        (b"7z\xbc\xaf", "a 7-Zip archive"),
        (b"ORC", "an ORC file"),
        (b"Obj\x01", "an Avro file"),
        (b"SQLite format 3\0", "an SQLite database"),
        (b"%PDF", "a PDF document"),
        (b"\x89HDF", "an HDF5 file (pandas to_hdf)"),
        (b"\x93NUMPY", "a NumPy array (.npy)"),
        (b"FEA1", "a Feather v1 file (pyarrow.feather with version=1)"),
    ];
    if head.is_empty() {
        return "an empty file".into();
    }
    if let Some((_, what)) = KNOWN.iter().find(|(magic, _)| head.starts_with(magic)) {
        return (*what).into();
    }
    if head[0] == 0x80 && head.len() > 1 && head[1] <= 5 {
        return "a Python pickle (pandas to_pickle)".into();
    }
    let text = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        // A multi-byte character cut at the end of the head is still text.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(t) if !t.contains('\0') => {
            let t = t.trim_start_matches('\u{feff}').trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                "JSON text".into()
            } else {
                "text".into()
            }
        }
        // Latin-1 or Windows-1252 text (an older Excel export) has no NUL and few control bytes.
        None if !head.contains(&0)
            && head.iter().filter(|&&b| b < 0x20 && !b"\t\r\n".contains(&b)).count() * 100 < head.len() =>
        {
            "text that is not UTF-8 (perhaps Latin-1 or Windows-1252; save it as \"CSV UTF-8\")".into()
        }
        _ => {
            let bytes: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("binary data of an unknown kind (it starts {})", bytes.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    /// A few KB of gzip that inflates to 4 MiB is refused at a cap of 1 MiB, having produced
    /// no more than the cap; the same data under a cap above its size inflates whole.
    #[test]
    fn a_bomb_is_refused_at_the_cap_before_it_inflates_further() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 16 << 10, "{} bytes", bomb.len());
        assert_eq!(Codec::of(&bomb), Codec::Gzip);
        // Counts what the decoder hands out, to show inflation stops at the cap.
        struct Counting<R>(R, u64);
        impl<R: Read> Read for Counting<R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.read(buf)?;
                self.1 += n as u64;
                Ok(n)
            }
        }
        let mut counting = Counting(Codec::Gzip.decoder(io::Cursor::new(bomb.clone())).expect("decoder"), 0);
        let e = inflate_capped(&mut counting, 1 << 20).expect_err("over the cap");
        assert!(e.contains("more than 1048576 bytes"), "{e}");
        assert_eq!(counting.1, (1 << 20) + 1);
        let whole =
            inflate_capped(Codec::Gzip.decoder(io::Cursor::new(bomb)).expect("decoder"), 4 << 20).expect("at the cap");
        assert_eq!(whole.len(), 4 << 20);
    }

    #[test]
    fn zstd_and_concatenated_gzip_members_inflate_whole() {
        let z = zstd::encode_all(&b"a;b\n1;2\n"[..], 3).expect("zstd");
        assert_eq!(Codec::of(&z), Codec::Zstd);
        let out = inflate_capped(Codec::Zstd.decoder(io::Cursor::new(z)).expect("decoder"), 100).expect("inflate");
        assert_eq!(out, b"a;b\n1;2\n");
        let mut two = gzip(b"a;b\n");
        two.extend(gzip(b"1;2\n"));
        let out = inflate_capped(Codec::Gzip.decoder(io::Cursor::new(two)).expect("decoder"), 100).expect("inflate");
        assert_eq!(out, b"a;b\n1;2\n");
    }

    #[test]
    fn a_file_named_compressed_that_is_not_is_refused_and_unknown_bytes_are_described() {
        let e = check_name(Path::new("x.csv.gz"), b"a,b\n1,2\n").expect_err("not gzip");
        assert!(e.contains("named as gzip") && e.contains("text"), "{e}");
        assert_eq!(
            check_name(Path::new("x.csv"), &gzip(b"a")).expect("by magic"),
            Codec::Gzip
        );
        assert!(looks_like(b"PK\x03\x04rest").contains("xlsx"));
        assert_eq!(looks_like(b"  {\"a\": 1}"), "JSON text");
        assert!(looks_like(&[0, 1, 2, 3]).contains("00 01 02 03"));
        assert!(looks_like(b"navn;by\nS\xf8ren;K\xf8ge\n").contains("not UTF-8"));
        assert_eq!(looks_like(b"\xef\xbb\xbfa;b\n"), "text");
    }
}
