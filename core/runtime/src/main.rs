fn main() -> std::process::ExitCode {
    syslane::cli::main()
}
