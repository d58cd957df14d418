//! `arendo-bench`: the benchmarks (docs/benchmarks.md), a binary of its own so that the product
//! binary `arendo` carries none of their code (D60). Only with the `bench` feature:
//! `cargo build --release --features bench`, then `./target/release/arendo-bench startup`.

fn main() -> std::process::ExitCode {
    arendo::tls::install_default_provider();
    // Files on disk are private, as for every `arendo` command (store::private).
    arendo::store::private::restrict_umask();
    arendo::bench::main()
}
