fn main() -> std::process::ExitCode {
    arendo::cli::main()
}
