fn main() -> std::process::ExitCode {
    arendo::tls::install_default_provider();
    arendo::cli::main()
}
