//! Compiles the committed `proto/inference.proto` (the Open Inference Protocol's gRPC service)
//! into Rust types and a tonic server with `protox`, a protobuf compiler in Rust, so building
//! needs no `protoc` on the machine (as `inference`'s `build.rs` does for ONNX).
//!
//! The compiled schema is also written out (`inference.fds`): before a request is decoded, its
//! bytes are walked by this schema to bound what decoding would allocate (`v2::wire`).

use prost::Message;

fn main() {
    println!("cargo:rerun-if-changed=proto/inference.proto");
    let fds = protox::compile(["proto/inference.proto"], ["proto"]).expect("proto/inference.proto compiles");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&out).join("inference.fds"), fds.encode_to_vec())
        .expect("the descriptor set is written to OUT_DIR");
    let mut config = prost_build::Config::new();
    // `prost::Name` on every message: the codec finds a message's schema by its full name.
    config.enable_type_names();
    tonic_prost_build::configure()
        // The server only: tests talk to it with tritonclient and h2, the load bench with h2load.
        .build_client(false)
        .build_transport(false)
        // `bytes` fields as `Bytes`: the raw tensors are slices of the decoded message, not copies.
        .bytes(".inference")
        // Every message is walked by its schema before it is decoded (`v2::wire`).
        .codec_path("crate::v2::wire::Bounded")
        .compile_fds_with_config(fds, config)
        .expect("tonic-prost-build generates the inference service");
}
