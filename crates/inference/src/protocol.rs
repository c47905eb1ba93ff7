//! Frames between the parent and a worker over its stdin and stdout pipes.
//!
//! A frame is a little-endian `u32` length (of kind and payload), a kind byte, and the
//! payload: JSON for control messages, Arrow IPC streams for batches. Both sides bound the
//! length before allocating, because either side may be the one that was compromised.

use arrow::array::RecordBatch;
use std::io::{self, Read, Write};

/// Largest frame either side accepts: a model upload cap plus room.
pub const MAX_FRAME: usize = 320 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// worker -> parent: isolation layers applied and runtime loaded (JSON [`Ready`]).
    Ready = 1,
    /// parent -> worker: `u32` manifest length, manifest JSON, model bytes.
    Load = 2,
    /// worker -> parent: the session is built (JSON, empty object).
    Loaded = 3,
    /// parent -> worker: a record batch of scenario columns (Arrow IPC stream).
    Score = 4,
    /// worker -> parent: `label` and `probability` columns (Arrow IPC stream).
    Scored = 5,
    /// worker -> parent: the request failed; the worker is still usable (JSON message).
    Failed = 6,
    /// parent -> worker (tests only, when started with `--allow-probes`): try something
    /// the sandbox must forbid and report what happened (JSON [`Probe`]).
    Probe = 7,
    /// worker -> parent: the probe's outcome (JSON [`ProbeOutcome`]).
    ProbeResult = 8,
}

impl Kind {
    pub(crate) fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Ready,
            2 => Kind::Load,
            3 => Kind::Loaded,
            4 => Kind::Score,
            5 => Kind::Scored,
            6 => Kind::Failed,
            7 => Kind::Probe,
            8 => Kind::ProbeResult,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the other side closed the pipe")]
    Closed,
    #[error("frame of {0} bytes is over the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("pipe: {0}")]
    Io(#[from] io::Error),
    #[error("bad payload: {0}")]
    Payload(String),
}

pub fn write_frame(w: &mut impl Write, kind: Kind, payload: &[u8]) -> Result<(), FrameError> {
    let len = payload.len() + 1;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    w.write_all(&(len as u32).to_le_bytes())?;
    w.write_all(&[kind as u8])?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(())
}

/// Checks a frame's length prefix (little-endian length of kind + payload) and returns the
/// payload's length. Checked on its own so an oversized frame is refused before waiting for
/// more bytes.
pub fn payload_len(prefix: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(prefix) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len - 1)
}

/// Checks a whole frame header (length prefix, then the kind byte) and returns the kind and
/// the payload's length. The one parser of headers, for blocking readers ([`read_frame`])
/// and the parent's non-blocking pipe alike.
pub fn parse_header(header: [u8; 5]) -> Result<(Kind, usize), FrameError> {
    let len = payload_len([header[0], header[1], header[2], header[3]])?;
    let kind = Kind::from_u8(header[4]).ok_or(FrameError::Kind(header[4]))?;
    Ok((kind, len))
}

pub fn read_frame(r: &mut impl Read) -> Result<(Kind, Vec<u8>), FrameError> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header[..4]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    payload_len([header[0], header[1], header[2], header[3]])?;
    r.read_exact(&mut header[4..])?;
    let (kind, len) = parse_header(header)?;
    let mut payload = Vec::new();
    r.take(len as u64).read_to_end(&mut payload)?;
    if payload.len() != len {
        return Err(FrameError::Closed);
    }
    Ok((kind, payload))
}

/// One record batch as an Arrow IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, FrameError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema())
            .map_err(|e| FrameError::Payload(e.to_string()))?;
        w.write(batch).map_err(|e| FrameError::Payload(e.to_string()))?;
        w.finish().map_err(|e| FrameError::Payload(e.to_string()))?;
    }
    Ok(buf)
}

/// The single record batch of an Arrow IPC stream (validated by the reader). A compressed
/// body is refused before the reader sees it ([`refuse_compression`]).
pub fn decode_batch(bytes: &[u8]) -> Result<RecordBatch, FrameError> {
    refuse_compression(bytes)?;
    let mut r =
        arrow::ipc::reader::StreamReader::try_new(bytes, None).map_err(|e| FrameError::Payload(e.to_string()))?;
    let batch = r
        .next()
        .ok_or_else(|| FrameError::Payload("no record batch in the stream".into()))?
        .map_err(|e| FrameError::Payload(e.to_string()))?;
    if r.next().is_some() {
        return Err(FrameError::Payload("more than one record batch in the stream".into()));
    }
    Ok(batch)
}

/// Refuses an Arrow IPC stream any of whose messages has a compressed body. The protocol never
/// compresses (the pipes are local), and Arrow inflates a compressed buffer to whatever length
/// the buffer itself declares: a few kilobytes of zstd from a hostile worker, well inside the
/// frame's bound, could declare gigabytes. Arrow reads compressed files (Feather with lz4 or
/// zstd), so its decompression is compiled in; this keeps it out of the protocol. Every message
/// of the stream is walked (continuation marker, metadata length, the flatbuffer `Message`,
/// its body), not only the first.
pub fn refuse_compression(bytes: &[u8]) -> Result<(), FrameError> {
    let bad = |what: &str| FrameError::Payload(format!("Arrow IPC stream: {what}"));
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| bad("cut short in a message's length"))
    };
    let mut at = 0usize;
    while at < bytes.len() {
        let mut len = word(at)?;
        at += 4;
        if len == u32::MAX {
            len = word(at)?;
            at += 4;
        }
        if len == 0 {
            return Ok(());
        }
        let meta = bytes
            .get(at..at.saturating_add(len as usize))
            .ok_or_else(|| bad("cut short in a message's metadata"))?;
        let message = arrow::ipc::root_as_message(meta).map_err(|e| bad(&format!("a message is malformed: {e}")))?;
        let compressed = message
            .header_as_record_batch()
            .is_some_and(|b| b.compression().is_some())
            || message
                .header_as_dictionary_batch()
                .and_then(|d| d.data())
                .is_some_and(|b| b.compression().is_some());
        if compressed {
            return Err(bad(
                "a message's body is compressed; the worker protocol never compresses, and a compressed body \
                 could inflate past the frame's bound",
            ));
        }
        let body = usize::try_from(message.bodyLength()).map_err(|_| bad("a negative body length"))?;
        at = at
            .checked_add(len as usize)
            .and_then(|a| a.checked_add(body))
            .ok_or_else(|| bad("a body length past the end"))?;
    }
    Ok(())
}

/// Longest error text that crosses from a worker (a model's node names end up in ONNX Runtime's
/// messages, and a model can make them megabytes long). Texts are cut to fit, saying so.
pub const MAX_ERROR_TEXT: usize = 2048;
/// Room kept inside a cap for the note that says a text was cut.
const CUT_NOTE_ROOM: usize = 64;
/// Largest `Ready` payload the parent parses; a real one is a few kilobytes.
pub const MAX_READY_BYTES: usize = 64 << 10;
/// Most layers a `Ready` may list, and the longest name, version, path and detail in it.
pub const MAX_READY_LAYERS: usize = 64;
const MAX_LAYER_NAME: usize = 128;
const MAX_VERSION: usize = 128;
const MAX_PATH: usize = 1024;
const MAX_LAYER_DETAIL: usize = 1024;

/// `bytes` as text of at most `cap` bytes (`cap` >= 128): invalid UTF-8 replaced, cut on a
/// character boundary, and when cut, ending in a note with the original length. Only the
/// prefix is decoded, so an 8 MB message costs no 8 MB copy.
pub fn cap_text(bytes: &[u8], cap: usize) -> String {
    let cap = cap.max(2 * CUT_NOTE_ROOM);
    if bytes.len() <= cap {
        let text = String::from_utf8_lossy(bytes);
        if text.len() <= cap {
            return text.into_owned();
        }
    }
    let room = cap - CUT_NOTE_ROOM;
    let mut text = String::from_utf8_lossy(&bytes[..room.min(bytes.len())]).into_owned();
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!(" [cut: {} bytes in all]", bytes.len()));
    text
}

/// [`cap_text`] for a string already decoded.
pub fn cap_str(text: &str, cap: usize) -> String {
    cap_text(text.as_bytes(), cap)
}

/// What a worker reports once it is ready.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ready {
    /// The ONNX Runtime version the worker loaded.
    pub onnxruntime_version: String,
    /// The library file it loaded.
    pub onnxruntime_path: String,
    /// Every isolation layer and whether it is active.
    pub layers: Vec<crate::sandbox::LayerStatus>,
}

impl Ready {
    /// Parses a worker's `Ready` payload and caps every string in it, so what the worker says
    /// about itself cannot flood the records and pages it is copied into.
    pub fn parse_capped(payload: &[u8]) -> Result<Ready, String> {
        if payload.len() > MAX_READY_BYTES {
            return Err(format!(
                "a Ready message of {} bytes is over the limit of {MAX_READY_BYTES}",
                payload.len()
            ));
        }
        let ready: Ready = serde_json::from_slice(payload).map_err(|e| format!("the Ready message: {e}"))?;
        if ready.layers.len() > MAX_READY_LAYERS {
            return Err(format!(
                "the Ready message lists {} layers, over the limit of {MAX_READY_LAYERS}",
                ready.layers.len()
            ));
        }
        Ok(Ready {
            onnxruntime_version: cap_str(&ready.onnxruntime_version, MAX_VERSION),
            onnxruntime_path: cap_str(&ready.onnxruntime_path, MAX_PATH),
            layers: ready
                .layers
                .into_iter()
                .map(|l| crate::sandbox::LayerStatus {
                    layer: cap_str(&l.layer, MAX_LAYER_NAME),
                    active: l.active,
                    detail: cap_str(&l.detail, MAX_LAYER_DETAIL),
                })
                .collect(),
        })
    }
}

/// Something the sandbox must forbid, tried on request in tests.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "probe", rename_all = "snake_case")]
pub enum Probe {
    /// Open a TCP connection.
    Connect {
        /// `host:port`.
        address: String,
    },
    /// Read a file.
    ReadFile {
        /// The file.
        path: String,
    },
    /// Start a process.
    Spawn {
        /// The executable.
        program: String,
    },
    /// List a directory.
    ListDir {
        /// The directory.
        path: String,
    },
    /// Say what the working directory is (the path, not its contents).
    WorkingDir,
}

/// What happened when a worker tried a [`Probe`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeOutcome {
    /// Whether the sandbox let it happen (a test fails when it did).
    pub allowed: bool,
    /// What the worker saw.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_lengths_are_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Score, b"hello").unwrap();
        write_frame(&mut buf, Kind::Failed, b"").unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), (Kind::Score, b"hello".to_vec()));
        assert_eq!(read_frame(&mut r).unwrap(), (Kind::Failed, Vec::new()));
        assert!(matches!(read_frame(&mut r), Err(FrameError::Closed)));
        let huge = ((MAX_FRAME + 1) as u32).to_le_bytes();
        assert!(matches!(read_frame(&mut &huge[..]), Err(FrameError::TooLarge(_))));
        let unknown = [2, 0, 0, 0, 99, 0];
        assert!(matches!(read_frame(&mut &unknown[..]), Err(FrameError::Kind(99))));
        // A frame cut short is a closed pipe, not a short payload.
        let mut cut = Vec::new();
        write_frame(&mut cut, Kind::Score, b"hello").unwrap();
        cut.truncate(7);
        assert!(matches!(read_frame(&mut &cut[..]), Err(FrameError::Closed)));
    }

    #[test]
    fn a_compressed_stream_is_refused_before_it_inflates() {
        use arrow::array::{Int32Array, RecordBatch};
        use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
        // Ten million zeros: 40 MB in memory, a few kilobytes compressed.
        let batch = RecordBatch::try_from_iter([(
            "p",
            std::sync::Arc::new(Int32Array::from(vec![0; 10_000_000])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        for codec in [
            arrow::ipc::CompressionType::ZSTD,
            arrow::ipc::CompressionType::LZ4_FRAME,
        ] {
            let mut bytes = Vec::new();
            let options = IpcWriteOptions::default().try_with_compression(Some(codec)).unwrap();
            let mut w = StreamWriter::try_new_with_options(&mut bytes, &batch.schema(), options).unwrap();
            w.write(&batch).unwrap();
            w.finish().unwrap();
            drop(w);
            assert!(bytes.len() < MAX_FRAME && bytes.len() < 1 << 20, "{}", bytes.len());
            let err = decode_batch(&bytes).unwrap_err().to_string();
            assert!(err.contains("compressed"), "{codec:?}: {err}");
        }
        // The same batch uncompressed decodes, and so does a stream of several messages.
        let small = batch.slice(0, 1000);
        assert_eq!(decode_batch(&encode_batch(&small).unwrap()).unwrap(), small);
        assert!(refuse_compression(&encode_batch(&small).unwrap()).is_ok());
        // A stream cut inside a message is refused, not read past its end.
        let whole = encode_batch(&small).unwrap();
        for cut in [3, 7, 40, whole.len() / 2] {
            assert!(decode_batch(&whole[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn texts_are_capped_on_a_character_boundary_and_say_so() {
        assert_eq!(cap_text(b"short", 2048), "short");
        let long = "ø".repeat(5000); // 2 bytes each
        let capped = cap_text(long.as_bytes(), 2048);
        assert!(capped.len() <= 2048, "{}", capped.len());
        assert!(capped.ends_with(" [cut: 10000 bytes in all]"), "{capped}");
        assert!(capped.starts_with("øø"));
        // Invalid UTF-8 is replaced, and the result still fits.
        let capped = cap_text(&[0xff; 4000], 2048);
        assert!(capped.len() <= 2048 && capped.contains('\u{fffd}'));
    }
}
