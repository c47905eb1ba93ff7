//! The binary tensor extension of the protocol (Triton's `binary_tensor_data`): a request or
//! an answer is a JSON header of `Inference-Header-Content-Length` bytes followed by the raw
//! little-endian bytes of its tensors, one after another in the order of the header's tensors
//! that carry `parameters.binary_data_size`. `BYTES` tensors are each element's length (4
//! bytes, little-endian) followed by its bytes.
//!
//! Everything is checked before it is used: the header length against the body, each
//! tensor's size against its shape and datatype, the sizes' sum against the rest of the body,
//! and each string's length against what is left of its tensor.

use super::{V2Error, V2Result, bad, types};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// The header naming the JSON part's length.
pub const HEADER: &str = "inference-header-content-length";

/// Longest string element of a binary `BYTES` input, bytes: categories are short words.
pub const MAX_STRING_BYTES: usize = 4096;

/// Splits a body into its JSON header and the binary part after it (empty when the request
/// has no `Inference-Header-Content-Length`).
pub fn split<'a>(headers: &HeaderMap, body: &'a [u8]) -> V2Result<(&'a [u8], &'a [u8])> {
    let Some(value) = headers.get(HEADER) else {
        return Ok((body, &[]));
    };
    let text = value.to_str().unwrap_or_default().trim();
    let n: usize = text.parse().map_err(|_| {
        bad(format!(
            "the Inference-Header-Content-Length header is {:?}; it must be the JSON header's length in bytes",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    if n > body.len() {
        return Err(bad(format!(
            "the Inference-Header-Content-Length header says {n} bytes, but the body has only {}",
            body.len()
        )));
    }
    Ok(body.split_at(n))
}

/// Bytes per element of a fixed-size datatype; `None` for `BYTES` and unknown names.
pub fn element_size(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "BOOL" | "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" | "FP16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        _ => return None,
    })
}

/// What an input carries: JSON values or its slice of the binary part.
pub enum InputData<'a> {
    Json(&'a Value),
    Binary(&'a [u8]),
}

/// Each input's data, the binary ones cut from `binary` in order. Refuses an input with both
/// or neither, a `binary_data_size` that is not shape × element size (for fixed-size types),
/// sizes that run past the body, and bytes left over.
pub fn inputs<'a>(tensors: &'a [types::InputTensor], binary: &'a [u8]) -> V2Result<Vec<InputData<'a>>> {
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        let name = short(&t.name);
        let size = binary_size(t.parameters.as_ref(), &name)?;
        let data = match (&t.data, size) {
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "input {name:?} has both `data` and `parameters.binary_data_size`; give one"
                )));
            }
            (None, None) => {
                return Err(bad(format!(
                    "input {name:?} has no `data` and no `parameters.binary_data_size`"
                )));
            }
            (Some(v), None) => InputData::Json(v),
            (None, Some(size)) => {
                check_size(&name, &t.datatype, &t.shape, size, "binary_data_size")?;
                let end = offset.checked_add(size).filter(|&e| e <= binary.len()).ok_or_else(|| {
                    bad(format!(
                        "input {name:?} has binary_data_size {size} from byte {offset} of the binary part, which has only {} bytes",
                        binary.len()
                    ))
                })?;
                let slice = &binary[offset..end];
                offset = end;
                InputData::Binary(slice)
            }
        };
        out.push(data);
    }
    if offset != binary.len() {
        return Err(bad(format!(
            "the binary part after the JSON header has {} bytes, but the inputs' binary_data_size add up to {offset}",
            binary.len()
        )));
    }
    Ok(out)
}

fn short(name: &str) -> String {
    name.chars().take(40).collect()
}

fn too_big(name: &str) -> V2Error {
    bad(format!("input {name:?}: its shape is too large"))
}

/// Refuses raw data of `size` bytes for a tensor of `shape` and a fixed-size `datatype` unless it
/// is exactly shape × element size (`BYTES` tensors are checked element by element when read).
/// `what` names the size in the caller's terms (`binary_data_size`, `raw_input_contents`).
pub fn check_size(name: &str, datatype: &str, shape: &[i64], size: usize, what: &str) -> V2Result<()> {
    let Some(each) = element_size(datatype) else {
        return Ok(());
    };
    let elements = elements(shape, name)?;
    let expected = elements.checked_mul(each).ok_or_else(|| too_big(name))?;
    if size != expected {
        return Err(bad(format!(
            "input {name:?} has {what} {size}, but shape {} of {datatype} takes {expected} bytes ({elements} × {each})",
            super::shape_text(shape)
        )));
    }
    Ok(())
}

/// The number of elements a shape holds; refuses negative dimensions and overflow.
pub fn elements(shape: &[i64], name: &str) -> V2Result<usize> {
    shape.iter().try_fold(1usize, |acc, &d| {
        let d = usize::try_from(d).map_err(|_| {
            bad(format!(
                "input {name:?} has shape {}; dimensions must be >= 0",
                super::shape_text(shape)
            ))
        })?;
        acc.checked_mul(d).ok_or_else(|| too_big(name))
    })
}

/// `parameters.binary_data_size`, when given: a non-negative integer.
fn binary_size(parameters: Option<&serde_json::Map<String, Value>>, name: &str) -> V2Result<Option<usize>> {
    let Some(v) = parameters.and_then(|p| p.get("binary_data_size")) else {
        return Ok(None);
    };
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            bad(format!(
                "input {name:?} has binary_data_size {}; it must be a whole number of bytes >= 0",
                short(&v.to_string())
            ))
        })
}

/// A binary numeric input as numbers: `n` elements of `datatype`, finite. `bytes` is already
/// checked to be `n` × the element size.
pub fn numbers(name: &str, datatype: &str, bytes: &[u8]) -> V2Result<Vec<f64>> {
    let each =
        element_size(datatype).ok_or_else(|| bad(format!("input {name:?}: datatype {datatype} is not a number")))?;
    let mut out = Vec::with_capacity(bytes.len() / each);
    for (i, chunk) in bytes.chunks_exact(each).enumerate() {
        let v = decode(datatype, chunk);
        let v = match v {
            Some(v) if v.is_finite() => v,
            Some(_) => {
                return Err(bad(format!(
                    "input {name:?}: element {i} is not a finite number ({datatype})"
                )));
            }
            None => {
                return Err(bad(format!(
                    "input {name:?}: element {i} of a BOOL tensor is byte {}; it must be 0 or 1",
                    chunk[0]
                )));
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// One little-endian element as a number; `None` for a BOOL byte other than 0 or 1.
fn decode(datatype: &str, c: &[u8]) -> Option<f64> {
    let a = |n: usize| -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&c[..n]);
        b
    };
    Some(match datatype {
        "BOOL" => match c[0] {
            0 => 0.0,
            1 => 1.0,
            _ => return None,
        },
        "INT8" => f64::from(c[0] as i8),
        "UINT8" => f64::from(c[0]),
        "INT16" => f64::from(i16::from_le_bytes([c[0], c[1]])),
        "UINT16" => f64::from(u16::from_le_bytes([c[0], c[1]])),
        "FP16" => f16_to_f64(u16::from_le_bytes([c[0], c[1]])),
        "INT32" => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        "UINT32" => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        "FP32" => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        "INT64" => i64::from_le_bytes(a(8)) as f64,
        "UINT64" => u64::from_le_bytes(a(8)) as f64,
        "FP64" => f64::from_le_bytes(a(8)),
        _ => f64::NAN,
    })
}

/// An IEEE half-precision value (no `f16` in stable Rust).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// A binary `BYTES` input as `n` UTF-8 strings, each a 4-byte little-endian length and that
/// many bytes, filling `bytes` exactly.
pub fn strings(name: &str, bytes: &[u8], n: usize) -> V2Result<Vec<String>> {
    let mut out = Vec::with_capacity(n.min(bytes.len() / 4));
    let mut rest = bytes;
    for i in 0..n {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| {
            bad(format!(
                "input {name:?}: the binary data ends at element {i} of {n}; each element is a 4-byte little-endian length and its bytes"
            ))
        })?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > MAX_STRING_BYTES || len > tail.len() {
            return Err(bad(format!(
                "input {name:?}: element {i} says it is {len} bytes, but at most {} are left and the limit is {MAX_STRING_BYTES}",
                tail.len()
            )));
        }
        let (s, tail) = tail.split_at(len);
        let s = std::str::from_utf8(s).map_err(|_| bad(format!("input {name:?}: element {i} is not UTF-8")))?;
        out.push(s.to_owned());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(bad(format!(
            "input {name:?}: {} bytes are left after its {n} elements; binary_data_size must cover exactly the elements",
            rest.len()
        )));
    }
    Ok(out)
}

/// `BYTES` as the extension sends them: each string's length (u32, little-endian) and bytes.
pub fn encode_strings<'a>(values: impl Iterator<Item = &'a str>, out: &mut Vec<u8>) -> V2Result<()> {
    for s in values {
        let len = u32::try_from(s.len())
            .map_err(|_| V2Error(StatusCode::INTERNAL_SERVER_ERROR, "a label is over 4 GiB".into()))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    Ok(())
}

/// Whether `parameters.<key>` asks for binary data: absent is `None`; a non-boolean is refused.
pub fn flag(parameters: Option<&serde_json::Map<String, Value>>, key: &str, whose: &str) -> V2Result<Option<bool>> {
    match parameters.and_then(|p| p.get(key)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(bad(format!(
            "{whose}: parameter {key} is {}; it must be true or false",
            short(&other.to_string())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_decode() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x3555), 0.333_251_953_125);
        assert!(f16_to_f64(0x7c00).is_infinite());
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn strings_must_fill_their_tensor_exactly() {
        let mut b = Vec::new();
        encode_strings(["ab", "", "c"].into_iter(), &mut b).unwrap();
        assert_eq!(strings("x", &b, 3).unwrap(), vec!["ab", "", "c"]);
        assert!(strings("x", &b, 2).is_err(), "left-over bytes");
        assert!(strings("x", &b, 4).is_err(), "too few elements");
        let mut long = (u32::MAX).to_le_bytes().to_vec();
        long.push(b'a');
        assert!(strings("x", &long, 1).is_err(), "a length past the end");
    }
}
