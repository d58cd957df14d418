fn main() -> std::process::ExitCode {
    arendo::tls::install_default_provider();
    // Files on disk are private, for every command (store::private).
    arendo::store::private::restrict_umask();
    arendo::cli::main()
}
