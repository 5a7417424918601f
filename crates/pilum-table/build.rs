//! Compiles `proto/table.proto` with protox (no protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/table.proto");
    let descriptors = protox::compile(["proto/table.proto"], ["proto"])?;
    // A generated enum counts as reachable through its `From<Enum> for i32`
    // impl even when no public signature uses it; only the messages are
    // checked by `unnameable_types` (the workspace lint that keeps them out
    // of the API).
    prost_build::Config::new()
        .enum_attribute(".", "#[allow(unnameable_types)]")
        .compile_fds(descriptors)?;
    Ok(())
}
