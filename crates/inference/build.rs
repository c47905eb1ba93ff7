//! Compiles the committed `proto/onnx.proto` (ONNX 1.23's schema) into Rust types with
//! `protox`, a protobuf compiler in Rust, so building needs no `protoc` on the machine.
//!
//! The same compiled schema is also written out as a `FileDescriptorSet` (`onnx.fds`):
//! inspection walks every message of a model by this schema, so a tensor is found in a place
//! nobody listed by hand.

use prost::Message;

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let fds = protox::compile(["proto/onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&out).join("onnx.fds"), fds.encode_to_vec())
        .expect("the descriptor set is written to OUT_DIR");
    prost_build::Config::new()
        .compile_fds(fds)
        .expect("prost-build generates the ONNX types");
}
