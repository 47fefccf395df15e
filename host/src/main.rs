fn main() -> std::process::ExitCode {
    tend::main()
}
