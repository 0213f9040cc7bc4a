fn main() -> std::process::ExitCode {
    syslane::main()
}
