//! External data, found by walking the whole model by its schema.
//!
//! ONNX Runtime opens the file named by any `TensorProto` whose `data_location` is `EXTERNAL`
//! (or whose `external_data` names a `location`), wherever that tensor sits: an initializer, a
//! `Constant`'s `sparse_value`, a tensor list of an attribute, a subgraph, a model-local
//! function, `training_info`. A list of known places misses the next one, so this walk knows
//! none: it reads the protobuf wire format of the model and, for every field, asks the
//! compiled `onnx.proto` (a `FileDescriptorSet` written by `build.rs`, read with
//! `prost-reflect`) whether the field holds a message and of which type. Every message of
//! type `onnx.TensorProto`, at any depth and through any field, is checked.
//!
//! Reading the wire format instead of decoding into dynamic messages keeps the cost at one
//! pass over the field tags: a tensor's `raw_data` or packed `float_data` is skipped, not
//! copied. The walk is bounded (message depth, messages visited) and fails closed: bytes it
//! cannot read as the schema says, and fields the schema does not know, are findings too.

use super::{Finding, Limits, MEM_ADDR_MARKER, Rule};
use prost_reflect::{DescriptorPool, Kind};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The compiled `proto/onnx.proto`.
const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/onnx.fds"));

/// `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

/// Longest name or operator type quoted in a path: a hostile model's names can be megabytes.
const MAX_LABEL_CHARS: usize = 64;

/// Wire types of the protobuf encoding.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// What a field holds, as far as the walk needs to know.
#[derive(Debug, Clone)]
pub(crate) enum Holds {
    /// A message of the schema's message number `usize`.
    Message(usize),
    /// A scalar, string or bytes value, encoded with this wire type (and, when `packable`,
    /// also as a packed `LEN` run).
    Value { wire: u8, packable: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) list: bool,
    pub(crate) holds: Holds,
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// `onnx.TensorProto`, ...
    pub(crate) name: String,
    /// Fields by number (dense: ONNX numbers its fields from 1 up, below a few dozen).
    pub(crate) fields: Vec<Option<Field>>,
    /// The string fields `name` and `op_type`, if the message has them: a path shows them.
    name_field: Option<u32>,
    op_type_field: Option<u32>,
}

impl Message {
    fn field(&self, number: u32) -> Option<&Field> {
        self.fields.get(number as usize).and_then(Option::as_ref)
    }
}

/// The schema as the walk uses it: messages by number, and the few fields of `TensorProto`
/// and `StringStringEntryProto` that say where a tensor's data is.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) messages: Vec<Message>,
    pub(crate) model: usize,
    pub(crate) tensor: usize,
    data_location: u32,
    external_data: u32,
    entry_key: u32,
    entry_value: u32,
}

impl Schema {
    fn build() -> Result<Self, String> {
        let pool = DescriptorPool::decode(DESCRIPTOR_SET).map_err(|e| format!("the compiled onnx.proto: {e}"))?;
        let index: HashMap<String, usize> = pool
            .all_messages()
            .enumerate()
            .map(|(i, m)| (m.full_name().to_owned(), i))
            .collect();
        let mut messages = Vec::with_capacity(index.len());
        for m in pool.all_messages() {
            let mut fields: Vec<Option<Field>> = Vec::new();
            let (mut name_field, mut op_type_field) = (None, None);
            for f in m.fields() {
                let number = f.number() as usize;
                if number > 4096 {
                    return Err(format!("{}.{} has field number {number}", m.full_name(), f.name()));
                }
                let holds = match f.kind() {
                    Kind::Message(sub) => Holds::Message(
                        *index
                            .get(sub.full_name())
                            .ok_or_else(|| format!("{} is not in the pool", sub.full_name()))?,
                    ),
                    Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => Holds::Value {
                        wire: I64,
                        packable: f.is_list(),
                    },
                    Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => Holds::Value {
                        wire: I32,
                        packable: f.is_list(),
                    },
                    Kind::String | Kind::Bytes => Holds::Value {
                        wire: LEN,
                        packable: false,
                    },
                    _ => Holds::Value {
                        wire: VARINT,
                        packable: f.is_list(),
                    },
                };
                if matches!(f.kind(), Kind::String) && !f.is_list() {
                    match f.name() {
                        "name" => name_field = Some(f.number()),
                        "op_type" => op_type_field = Some(f.number()),
                        _ => {}
                    }
                }
                if fields.len() <= number {
                    fields.resize(number + 1, None);
                }
                fields[number] = Some(Field {
                    name: f.name().to_owned(),
                    list: f.is_list(),
                    holds,
                });
            }
            messages.push(Message {
                name: m.full_name().to_owned(),
                fields,
                name_field,
                op_type_field,
            });
        }
        let message = |name: &str| {
            index
                .get(name)
                .copied()
                .ok_or_else(|| format!("onnx.proto has no {name}"))
        };
        let number = |m: usize, field: &str| {
            messages[m]
                .fields
                .iter()
                .position(|f| f.as_ref().is_some_and(|f| f.name == field))
                .map(|n| n as u32)
                .ok_or_else(|| format!("{} has no field {field}", messages[m].name))
        };
        let (model, tensor, entry) = (
            message("onnx.ModelProto")?,
            message("onnx.TensorProto")?,
            message("onnx.StringStringEntryProto")?,
        );
        Ok(Schema {
            data_location: number(tensor, "data_location")?,
            external_data: number(tensor, "external_data")?,
            entry_key: number(entry, "key")?,
            entry_value: number(entry, "value")?,
            messages,
            model,
            tensor,
        })
    }

    /// The schema, compiled once per process.
    pub(crate) fn get() -> Result<&'static Schema, &'static str> {
        static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
        SCHEMA.get_or_init(Schema::build).as_ref().map_err(String::as_str)
    }
}

/// Why the walk stopped before the end.
struct Stop;

/// A cursor over protobuf wire format.
struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, n: u64) -> Option<&'b [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    /// Skips one value of wire type `wire`; `LEN` values are returned.
    fn value(&mut self, wire: u8) -> Option<&'b [u8]> {
        match wire {
            VARINT => self.varint().map(|_| &[][..]),
            I64 => self.take(8),
            I32 => self.take(4),
            LEN => {
                let n = self.varint()?;
                self.take(n)
            }
            _ => None,
        }
    }
}

/// The string value of top-level field `number` of a message (the last one, as protobuf
/// merges), if it is there and readable.
fn string_field(body: &[u8], number: u32) -> Option<String> {
    let mut r = Reader { bytes: body, at: 0 };
    let mut found = None;
    while !r.done() {
        let tag = r.varint()?;
        let wire = (tag & 7) as u8;
        let value = r.value(wire)?;
        if tag >> 3 == u64::from(number) && wire == LEN {
            found = Some(value);
        }
    }
    found.map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A name from the model, shortened and quoted with escapes, fit for a path.
fn label(s: &str) -> String {
    let mut short: String = s.chars().take(MAX_LABEL_CHARS).collect();
    if short.len() < s.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// One step of the path from the model to the message being read.
struct Step<'b> {
    /// The message type holding the field, and the field's number.
    parent: usize,
    field: u32,
    /// Position among the field's values, for a repeated field.
    index: Option<u32>,
    /// The message type and bytes reached.
    ty: usize,
    body: &'b [u8],
}

/// What a `TensorProto` says about where its data lives.
#[derive(Default)]
struct Placement {
    marked_external: bool,
    entries: usize,
    location: Option<String>,
    marker: bool,
}

struct Walk<'s, 'b> {
    schema: &'s Schema,
    max_depth: usize,
    max_messages: usize,
    messages: usize,
    path: Vec<Step<'b>>,
    findings: Vec<Finding>,
    /// Every `(message type, field)` edge on a path to a tensor with external data (tests).
    edges: Option<Vec<Vec<(usize, u32)>>>,
}

impl<'b> Walk<'_, 'b> {
    fn path_text(&self) -> String {
        let mut s = String::new();
        for (i, step) in self.path.iter().enumerate() {
            let m = &self.schema.messages[step.parent];
            if i > 0 {
                s.push('.');
            }
            match m.field(step.field) {
                Some(f) => s.push_str(&f.name),
                None => s.push_str(&format!("#{}", step.field)),
            }
            if let Some(n) = step.index {
                s.push_str(&format!("[{n}]"));
            }
            let reached = &self.schema.messages[step.ty];
            if let Some(name) = reached.name_field.and_then(|n| string_field(step.body, n))
                && !name.is_empty()
            {
                s.push(' ');
                s.push_str(&label(&name));
            }
            if let Some(op) = reached.op_type_field.and_then(|n| string_field(step.body, n)) {
                s.push_str(&format!(" ({})", label(&op).trim_matches('"')));
            }
        }
        if s.is_empty() { "model".to_owned() } else { s }
    }

    fn find(&mut self, rule: Rule, message: String) {
        // A hostile model can hold a million such tensors; a reviewer needs the first few.
        if self.findings.len() < 100 {
            let location = self.path_text();
            self.findings.push(Finding {
                rule,
                location,
                message,
            });
        }
    }

    fn malformed(&mut self, what: String) -> Stop {
        self.find(
            Rule::NotOnnx,
            format!("{what}; the model cannot be read by ONNX's schema"),
        );
        Stop
    }

    fn message(&mut self, ty: usize, body: &'b [u8]) -> Result<(), Stop> {
        self.messages += 1;
        if self.messages > self.max_messages {
            self.find(
                Rule::Nesting,
                format!(
                    "more than {} protobuf messages; the walk that looks for external data stops here",
                    self.max_messages
                ),
            );
            return Err(Stop);
        }
        if self.path.len() > self.max_depth {
            self.find(
                Rule::Nesting,
                format!("protobuf messages nested deeper than {}", self.max_depth),
            );
            return Err(Stop);
        }
        let schema = self.schema;
        let msg = &schema.messages[ty];
        let is_tensor = ty == schema.tensor;
        let mut placement = Placement::default();
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut r = Reader { bytes: body, at: 0 };
        while !r.done() {
            let Some(tag) = r.varint() else {
                return Err(self.malformed(format!("a field tag of {} is cut off", msg.name)));
            };
            let (number, wire) = (tag >> 3, (tag & 7) as u8);
            let Some(field) = u32::try_from(number).ok().and_then(|n| msg.field(n)) else {
                let what = format!(
                    "field {number} of {} is not in ONNX 1.23's schema: the sandbox cannot check what it holds",
                    msg.name
                );
                if number == 0 || r.value(wire).is_none() {
                    return Err(self.malformed(format!("field {number} of {} is malformed", msg.name)));
                }
                self.find(Rule::UnknownField, what);
                continue;
            };
            let number = number as u32;
            match field.holds {
                Holds::Message(sub) => {
                    if wire != LEN {
                        return Err(self.malformed(format!(
                            "{}.{} is a message but encoded with wire type {wire}",
                            msg.name, field.name
                        )));
                    }
                    let Some(bytes) = r.value(LEN) else {
                        return Err(self.malformed(format!("{}.{} is cut off", msg.name, field.name)));
                    };
                    let index = field.list.then(|| {
                        let c = counts.entry(number).or_default();
                        *c += 1;
                        *c - 1
                    });
                    if is_tensor && number == schema.external_data {
                        placement.entries += 1;
                        let key = string_field(bytes, schema.entry_key);
                        let value = string_field(bytes, schema.entry_value).unwrap_or_default();
                        placement.marker |= value
                            .as_bytes()
                            .windows(MEM_ADDR_MARKER.len())
                            .any(|w| w == MEM_ADDR_MARKER);
                        if key.as_deref() == Some("location") {
                            placement.location = Some(value);
                        }
                    }
                    self.path.push(Step {
                        parent: ty,
                        field: number,
                        index,
                        ty: sub,
                        body: bytes,
                    });
                    let walked = self.message(sub, bytes);
                    self.path.pop();
                    walked?;
                }
                Holds::Value {
                    wire: expected,
                    packable,
                } => {
                    if wire != expected && !(packable && wire == LEN) {
                        return Err(self.malformed(format!(
                            "{}.{} is encoded with wire type {wire} instead of {expected}",
                            msg.name, field.name
                        )));
                    }
                    let at = r.at;
                    if r.value(wire).is_none() {
                        return Err(self.malformed(format!("{}.{} is cut off", msg.name, field.name)));
                    }
                    if is_tensor && number == schema.data_location {
                        // Protobuf reads an enum as a 32-bit integer: 2^32 + 1 is EXTERNAL too.
                        let mut v = Reader { bytes: body, at };
                        if v.varint().is_some_and(|x| x as u32 as i32 == EXTERNAL) {
                            placement.marked_external = true;
                        }
                    }
                }
            }
        }
        if is_tensor && (placement.marked_external || placement.entries > 0) {
            self.external(placement);
        }
        Ok(())
    }

    fn external(&mut self, p: Placement) {
        if let Some(edges) = self.edges.as_mut() {
            edges.push(self.path.iter().map(|s| (s.parent, s.field)).collect());
        }
        let location = p.location.as_deref().map(label);
        let tensor = self
            .path
            .last()
            .and_then(|s| string_field(s.body, self.schema.messages[self.schema.tensor].name_field?))
            .map(|n| format!("tensor {}", label(&n)))
            .unwrap_or_else(|| "an unnamed tensor".to_owned());
        if p.marker {
            self.find(
                Rule::MemoryAddressMarker,
                format!(
                    "{tensor}: external data location {} is ONNX Runtime's raw memory address marker",
                    location.unwrap_or_default()
                ),
            );
            return;
        }
        let message = match (location, p.marked_external) {
            (Some(at), _) => {
                format!("{tensor} keeps its data outside the model file, at {at}; models must be self-contained")
            }
            (None, true) => format!(
                "{tensor} is marked data_location = EXTERNAL ({} external_data entries); models must be self-contained",
                p.entries
            ),
            (None, false) => format!(
                "{tensor} has {} external_data entries; models must be self-contained",
                p.entries
            ),
        };
        self.find(Rule::ExternalData, message);
    }
}

/// Walks `bytes` as an `onnx.ModelProto`; returns the findings and, when `edges` is asked for,
/// the `(message, field)` edges leading to each tensor with external data.
pub(crate) fn walk(bytes: &[u8], limits: &Limits, edges: bool) -> (Vec<Finding>, Vec<Vec<(usize, u32)>>) {
    let schema = match Schema::get() {
        Ok(s) => s,
        Err(e) => {
            return (
                vec![Finding {
                    rule: Rule::NotOnnx,
                    location: "model".to_owned(),
                    message: format!("the ONNX schema is unavailable ({e}); nothing can be checked"),
                }],
                Vec::new(),
            );
        }
    };
    let mut w = Walk {
        schema,
        max_depth: limits.max_message_depth,
        max_messages: limits.max_messages,
        messages: 0,
        path: Vec::new(),
        findings: Vec::new(),
        edges: edges.then(Vec::new),
    };
    let _ = w.message(schema.model, bytes);
    (w.findings, w.edges.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `(message, field)` whose values are, or can contain, an `onnx.TensorProto`.
    fn edges_reaching_tensor(schema: &Schema) -> BTreeSet<(usize, u32)> {
        let mut reaches = vec![false; schema.messages.len()];
        reaches[schema.tensor] = true;
        loop {
            let mut changed = false;
            for (i, m) in schema.messages.iter().enumerate() {
                if !reaches[i]
                    && m.fields
                        .iter()
                        .flatten()
                        .any(|f| matches!(f.holds, Holds::Message(s) if reaches[s]))
                {
                    reaches[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut edges = BTreeSet::new();
        for (i, m) in schema.messages.iter().enumerate() {
            for (n, f) in m.fields.iter().enumerate() {
                if let Some(Field {
                    holds: Holds::Message(s),
                    ..
                }) = f
                    && reaches[*s]
                {
                    edges.insert((i, n as u32));
                }
            }
        }
        edges
    }

    fn edge_name(schema: &Schema, (m, f): (usize, u32)) -> String {
        let msg = &schema.messages[m];
        format!("{}.{}", msg.name, msg.field(f).map_or("?", |f| f.name.as_str()))
    }

    /// The generated models of `models/hostile/external/` between them reach a tensor with
    /// external data through every field of the schema that can hold one: a field added to
    /// `onnx.proto` that can carry a tensor fails this test until the generator covers it.
    #[test]
    fn the_generated_models_cover_every_field_that_can_hold_a_tensor() {
        let schema = Schema::get().expect("the schema compiles");
        let want = edges_reaching_tensor(schema);
        let names: BTreeSet<String> = want.iter().map(|e| edge_name(schema, *e)).collect();
        for expected in [
            "onnx.ModelProto.graph",
            "onnx.ModelProto.functions",
            "onnx.ModelProto.training_info",
            "onnx.GraphProto.initializer",
            "onnx.GraphProto.sparse_initializer",
            "onnx.GraphProto.node",
            "onnx.NodeProto.attribute",
            "onnx.AttributeProto.t",
            "onnx.AttributeProto.sparse_tensor",
            "onnx.AttributeProto.tensors",
            "onnx.AttributeProto.sparse_tensors",
            "onnx.AttributeProto.g",
            "onnx.AttributeProto.graphs",
            "onnx.SparseTensorProto.values",
            "onnx.SparseTensorProto.indices",
            "onnx.FunctionProto.node",
            "onnx.FunctionProto.attribute_proto",
            "onnx.TrainingInfoProto.initialization",
            "onnx.TrainingInfoProto.algorithm",
        ] {
            assert!(names.contains(expected), "{expected} not found in {names:?}");
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/hostile/external");
        let mut covered = BTreeSet::new();
        let mut models = 0;
        for entry in std::fs::read_dir(&dir).expect("models/hostile/external exists") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "onnx") {
                continue;
            }
            models += 1;
            let bytes = std::fs::read(&path).expect("a generated model");
            let (findings, edges) = walk(&bytes, &Limits::default(), true);
            assert!(
                !edges.is_empty(),
                "{}: no external tensor found: {findings:?}",
                path.display()
            );
            covered.extend(edges.into_iter().flatten());
        }
        assert!(models >= 10, "only {models} generated models in {}", dir.display());
        let missing: Vec<String> = want.difference(&covered).map(|e| edge_name(schema, *e)).collect();
        assert!(
            missing.is_empty(),
            "no generated model reaches a tensor through {missing:?}: add one to make_external_data.py"
        );
    }

    #[test]
    fn bounds_stop_a_deep_or_wide_model_with_a_finding() {
        // TypeProto nests without end: value_info { type { sequence_type { elem_type { ... } } } }.
        let mut ty: Vec<u8> = Vec::new();
        for _ in 0..200 {
            let mut seq = vec![0x0a]; // Sequence.elem_type = 1
            push_len(&mut seq, &ty);
            let mut outer = vec![0x22]; // TypeProto.sequence_type = 4
            push_len(&mut outer, &seq);
            ty = outer;
        }
        let mut vi = vec![0x12]; // ValueInfoProto.type = 2
        push_len(&mut vi, &ty);
        let mut graph = vec![0x5a]; // GraphProto.input = 11
        push_len(&mut graph, &vi);
        let mut model = vec![0x3a]; // ModelProto.graph = 7
        push_len(&mut model, &graph);
        let (f, _) = walk(&model, &Limits::default(), false);
        assert!(
            f.iter()
                .any(|f| f.rule == Rule::Nesting && f.message.contains("deeper than")),
            "{f:?}"
        );
        // A million empty opset imports.
        let model: Vec<u8> = std::iter::repeat_n([0x42u8, 0x00], 1_000_001).flatten().collect();
        let (f, _) = walk(&model, &Limits::default(), false);
        assert!(
            f.iter()
                .any(|f| f.rule == Rule::Nesting && f.message.contains("more than")),
            "{f:?}"
        );
    }

    #[test]
    fn an_enum_value_that_wraps_to_external_is_external() {
        // graph.initializer[0] { data_location: 2^32 + 1 }
        let tensor = [0x70u8, 0x81, 0x80, 0x80, 0x80, 0x10];
        let mut graph = vec![0x2a];
        push_len(&mut graph, &tensor);
        let mut model = vec![0x3a];
        push_len(&mut model, &graph);
        let (f, _) = walk(&model, &Limits::default(), false);
        assert!(
            f.iter()
                .any(|f| f.rule == Rule::ExternalData && f.location == "graph.initializer[0]"),
            "{f:?}"
        );
    }

    #[test]
    fn unknown_fields_and_bad_wire_types_are_refused() {
        // ModelProto field 99 (unknown), a varint.
        let (f, _) = walk(&[0x98, 0x06, 0x01], &Limits::default(), false);
        assert!(f.iter().any(|f| f.rule == Rule::UnknownField), "{f:?}");
        // ModelProto.graph as a varint.
        let (f, _) = walk(&[0x38, 0x01], &Limits::default(), false);
        assert!(f.iter().any(|f| f.rule == Rule::NotOnnx), "{f:?}");
    }

    fn push_len(out: &mut Vec<u8>, body: &[u8]) {
        let mut n = body.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(body);
    }
}
