//! The lambda-sim binary, built from the same library entry point as the real one, so that
//! these tests run it through its command line.

fn main() -> std::process::ExitCode {
    lambda_sim::internals::cli::main()
}
