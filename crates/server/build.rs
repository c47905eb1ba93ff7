//! Compiles the committed `proto/inference.proto` (the Open Inference Protocol's gRPC service)
//! into Rust types and a tonic server with `protox`, a protobuf compiler in Rust, so building
//! needs no `protoc` on the machine (as `inference`'s `build.rs` does for ONNX).

fn main() {
    println!("cargo:rerun-if-changed=proto/inference.proto");
    let fds = protox::compile(["proto/inference.proto"], ["proto"]).expect("proto/inference.proto compiles");
    tonic_prost_build::configure()
        // The server only: tests talk to it with tritonclient, the load bench with h2load.
        .build_client(false)
        .build_transport(false)
        // `bytes` fields as `Bytes`: the raw tensors are slices of the decoded message, not copies.
        .bytes(".inference")
        .compile_fds(fds)
        .expect("tonic-prost-build generates the inference service");
}
