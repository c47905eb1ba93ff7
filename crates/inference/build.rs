//! Compiles the committed `proto/onnx.proto` (ONNX 1.23's schema) into Rust types with
//! `protox`, a protobuf compiler in Rust, so building needs no `protoc` on the machine.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let fds = protox::compile(["proto/onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
    prost_build::Config::new()
        .compile_fds(fds)
        .expect("prost-build generates the ONNX types");
}
