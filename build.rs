//! Rebuild when migrations or templates change: both are embedded into the binary, and new files
//! in their folders are not otherwise noticed by cargo.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=templates");
}
