//! The `lambda-sim` command; everything it does lives in the library, which keeps its command
//! line out of its public API (`internals::cli`).

fn main() -> std::process::ExitCode {
    lambda_sim::internals::cli::main()
}
