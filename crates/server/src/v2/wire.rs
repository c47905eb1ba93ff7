//! The gRPC service's codec: prost's, with every request walked by its schema before it is
//! decoded, so that what decoding would allocate is bounded, not only the message's size.
//!
//! A protobuf message of 1 MiB (the size limit; a gzip of a few KB inflates to it) can hold half
//! a million empty sub-messages, `2a 00` each, and decoding makes each a Rust struct of a few
//! hundred bytes: 156 MiB from one call. The walk reads only the field tags and lengths, and for
//! every field asks the compiled `proto/inference.proto` (`inference.fds`, written by `build.rs`,
//! read with `prost-reflect`) what it holds, at any depth and through any field: nobody listed
//! the places by hand. It charges each sub-message, each string or bytes value and each packed
//! run what decoding would allocate for it, and refuses a message over [`COST_PER_BYTE`] times
//! its size before prost allocates anything. Messages up to [`SMALL`] are not walked: they cannot
//! decode to more than a few MiB, and single-row calls are where the walk's cost would show. Bytes the schema cannot read are refused as
//! INVALID_ARGUMENT (prost's own decode errors would be INTERNAL).

use prost::Message;
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use std::marker::PhantomData;
use std::sync::LazyLock;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};

/// The compiled `proto/inference.proto`.
const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/inference.fds"));

/// The schema, read once into [`Schema`]. It is this crate's own build output: if it could not
/// be read, every request is refused (fail closed) rather than decoded unchecked.
static SCHEMA: LazyLock<Option<Schema>> = LazyLock::new(|| Schema::read(DESCRIPTOR_SET));

/// What a field holds, as far as the walk needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// A field the schema does not have: prost skips it.
    Unknown,
    /// A message (or a map entry) of the schema's message number `usize`.
    Message(usize),
    /// A string or bytes value.
    Value,
    /// Numbers (a `LEN` field of them is a packed run).
    Numbers,
}

/// The compiled schema as the walk reads it: every message (nested ones and map entries
/// included) by number, its fields by field number. Built once, so a walk allocates nothing and
/// looks fields up by index.
struct Schema {
    /// Full names (`inference.ModelInferRequest`), in the order of `fields`.
    names: Vec<String>,
    fields: Vec<Vec<Holds>>,
}

impl Schema {
    fn read(set: &[u8]) -> Option<Self> {
        let pool = DescriptorPool::decode(set).ok()?;
        let messages: Vec<MessageDescriptor> = pool.all_messages().collect();
        let names: Vec<String> = messages.iter().map(|m| m.full_name().to_owned()).collect();
        let index = |m: &MessageDescriptor| names.iter().position(|n| n == m.full_name());
        let mut fields = Vec::with_capacity(messages.len());
        for m in &messages {
            let top = m.fields().map(|f| f.number()).max().unwrap_or(0);
            // The protocol numbers its fields from 1 up, below a dozen; a sparse schema would be a bug.
            if top > 64 {
                return None;
            }
            let mut table = vec![Holds::Unknown; top as usize + 1];
            for f in m.fields() {
                table[f.number() as usize] = match f.kind() {
                    Kind::Message(inner) => Holds::Message(index(&inner)?),
                    Kind::String | Kind::Bytes => Holds::Value,
                    _ => Holds::Numbers,
                };
            }
            fields.push(table);
        }
        Some(Self { names, fields })
    }

    fn message(&self, full_name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == full_name)
    }

    fn holds(&self, message: usize, number: u64) -> Holds {
        self.fields[message]
            .get(usize::try_from(number).unwrap_or(usize::MAX))
            .copied()
            .unwrap_or(Holds::Unknown)
    }
}

/// What decoding a message may allocate, per byte of the decoding limit: a request with typed
/// `contents` of 4,096 rows of short categories costs about 50 per element, well inside.
pub const COST_PER_BYTE: usize = 32;

/// Messages up to this size are decoded without the walk: 8,192 empty sub-messages of
/// [`MESSAGE_COST`] at most, about 3 MiB.
pub const SMALL: usize = 16 << 10;

/// What one sub-message (or map entry) costs: the size of the largest generated struct with its
/// allocation (`InferInputTensor` and `InferOutputTensor` are under 300 bytes).
const MESSAGE_COST: usize = 384;
/// What one string or bytes value costs beyond its length (a `String`, `Vec` or `Bytes` and its
/// allocation's bookkeeping).
const VALUE_COST: usize = 48;
/// Deepest nesting read; the protocol's is four.
const MAX_DEPTH: u32 = 16;

/// prost's codec with the walk in front of its decoder. Used by the generated service for every
/// method (`build.rs`: `codec_path`).
pub struct Bounded<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Bounded<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for Bounded<T, U>
where
    T: Message + Send + 'static,
    U: Message + prost::Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = Walked<U>;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        Walked(PhantomData)
    }
}

/// Decodes a `U` once its bytes have passed the walk.
pub struct Walked<U>(PhantomData<U>);

impl<U: Message + prost::Name + Default> Decoder for Walked<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        use prost::bytes::Buf;
        let bytes = buf.chunk();
        // tonic hands over one contiguous buffer holding the whole message.
        if bytes.len() != buf.remaining() {
            return Err(Status::internal("the message is not in one buffer"));
        }
        // A small message cannot decode to much (at worst [`SMALL`] / 2 empty sub-messages, about
        // 3 MiB); the walk, a tenth of a small call's cost, is kept for the ones that can.
        if bytes.len() > SMALL {
            let budget = bytes.len().saturating_mul(COST_PER_BYTE);
            check::<U>(bytes, budget).map_err(|e| Status::invalid_argument(e.to_string()))?;
        }
        U::decode(buf)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("the message is not a valid {}: {e}", U::full_name())))
    }
}

/// Why a message was refused before it was decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error(
        "the message would take more than {budget} bytes to decode (its size times {COST_PER_BYTE}); send fewer or larger values, e.g. raw_input_contents"
    )]
    TooCostly { budget: usize },
    #[error("the message is not a valid {message}: {what}")]
    Malformed { message: String, what: &'static str },
    #[error("the message nests deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("the server's schema of {0} cannot be read; no message is decoded without it")]
    NoSchema(String),
}

/// Walks the bytes of a `U` by its schema, charging what decoding would allocate against `budget`.
pub fn check<U: prost::Name>(bytes: &[u8], budget: usize) -> Result<(), Refusal> {
    let name = U::full_name();
    let schema = SCHEMA.as_ref().ok_or_else(|| Refusal::NoSchema(name.clone()))?;
    let root = schema.message(&name).ok_or(Refusal::NoSchema(name))?;
    let mut left = budget;
    walk(schema, root, bytes, 0, &mut left, budget)
}

fn walk(
    schema: &Schema,
    message: usize,
    mut bytes: &[u8],
    depth: u32,
    left: &mut usize,
    budget: usize,
) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::TooDeep);
    }
    let malformed = |what| Refusal::Malformed {
        message: schema.names[message].clone(),
        what,
    };
    let charge = |cost: usize, left: &mut usize| {
        *left = left.checked_sub(cost).ok_or(Refusal::TooCostly { budget })?;
        Ok::<(), Refusal>(())
    };
    while !bytes.is_empty() {
        let key = varint(&mut bytes).ok_or_else(|| malformed("a field key is cut off"))?;
        match key & 7 {
            0 => {
                varint(&mut bytes).ok_or_else(|| malformed("a number is cut off"))?;
                charge(8, left)?;
            }
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                bytes = bytes
                    .get(n..)
                    .ok_or_else(|| malformed("a fixed-size number is cut off"))?;
                charge(8, left)?;
            }
            2 => {
                let len = varint(&mut bytes).ok_or_else(|| malformed("a length is cut off"))?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= bytes.len())
                    .ok_or_else(|| malformed("a length runs past the message"))?;
                let (payload, rest) = bytes.split_at(len);
                bytes = rest;
                match schema.holds(message, key >> 3) {
                    // Map entries are messages too.
                    Holds::Message(inner) => {
                        charge(MESSAGE_COST, left)?;
                        walk(schema, inner, payload, depth + 1, left, budget)?;
                    }
                    Holds::Value => charge(VALUE_COST + len, left)?,
                    // A packed run of numbers: at most one per byte, each at most 8 bytes decoded.
                    Holds::Numbers => charge(len.saturating_mul(8), left)?,
                    // prost skips fields it does not know, allocating nothing.
                    Holds::Unknown => {}
                }
            }
            _ => {
                return Err(malformed(
                    "a field has a wire type this protocol does not use (groups or worse)",
                ));
            }
        }
    }
    Ok(())
}

/// A base-128 varint from the front of `bytes`, advancing past it.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2::grpc::pb;

    #[test]
    fn a_real_request_passes_and_half_a_million_empty_inputs_do_not() {
        let mut request = pb::ModelInferRequest {
            model_name: "m".into(),
            ..Default::default()
        };
        for name in ["age", "education"] {
            request.inputs.push(pb::model_infer_request::InferInputTensor {
                name: name.into(),
                datatype: "BYTES".into(),
                shape: vec![4096],
                contents: Some(pb::InferTensorContents {
                    bytes_contents: (0..4096).map(|i| format!("v{i}").into_bytes().into()).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let bytes = request.encode_to_vec();
        check::<pb::ModelInferRequest>(&bytes, bytes.len() * COST_PER_BYTE).unwrap();
        // `inputs` (field 5), empty, 524,287 times: 1 MiB that decodes to ~156 MiB.
        let bomb: Vec<u8> = [0x2a, 0x00].repeat(524_287);
        assert_eq!(
            check::<pb::ModelInferRequest>(&bomb, (1 << 20) * COST_PER_BYTE),
            Err(Refusal::TooCostly {
                budget: (1 << 20) * COST_PER_BYTE
            })
        );
        // The same through a map: `parameters` entries of every input are charged too.
        let mut nested = vec![0x2a];
        let entries = [0x22, 0x00].repeat(60_000);
        nested.extend_from_slice(&[
            0x80 | (entries.len() & 0x7f) as u8,
            0x80 | ((entries.len() >> 7) & 0x7f) as u8,
            (entries.len() >> 14) as u8,
        ]);
        nested.extend_from_slice(&entries);
        assert!(matches!(
            check::<pb::ModelInferRequest>(&nested, nested.len() * COST_PER_BYTE),
            Err(Refusal::TooCostly { .. })
        ));
    }

    #[test]
    fn bytes_the_schema_cannot_read_are_refused() {
        let cut = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(
            check::<pb::ModelInferRequest>(&cut, 1 << 20),
            Err(Refusal::Malformed {
                what: "a length runs past the message",
                ..
            })
        ));
        let group = [0x0b];
        assert!(matches!(
            check::<pb::ModelInferRequest>(&group, 1 << 20),
            Err(Refusal::Malformed { .. })
        ));
        // Unknown fields are skipped, as prost does.
        let unknown = [0xf8, 0x01, 0x05];
        check::<pb::ModelInferRequest>(&unknown, 1 << 20).unwrap();
        assert_eq!(
            check::<pb::ServerLiveRequest>(&[], 1).map_err(|e| e.to_string()),
            Ok(())
        );
    }
}
