//! Compiles `proto/modal_workspace.proto` with protox (pure Rust), so building
//! mws never needs a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/modal_workspace.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Callers bring their own channel (h2c or rustls); no `connect()` helper.
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
