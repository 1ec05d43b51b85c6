//! The `lambda-sim` command; everything it does lives in the library (`lambda_sim::cli`).

fn main() -> std::process::ExitCode {
    lambda_sim::cli::main()
}
