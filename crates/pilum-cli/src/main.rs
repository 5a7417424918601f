//! `pilum`: the command-line tool for Pilum datasets.
#![forbid(unsafe_code)]

mod args;
mod branches;
mod error;
mod export;
mod import;
mod inspect;
mod maintain;
mod output;
mod progress;
mod sql;
mod statements;

use args::{Cli, Command};
use clap::Parser;
use error::Result;
use output::Style;
use std::collections::HashMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let style = if cli.json { Style::Json } else { Style::Human };
    let options: HashMap<String, String> = cli.options.into_iter().collect();
    match cli.command {
        Command::Sql(args) => sql::run(args, style, &options).await,
        Command::Info(args) => inspect::info(&args, style, &options).await,
        Command::Versions(args) => inspect::versions(&args, style, &options).await,
        Command::Tags(args) => inspect::tags(&args, style, &options).await,
        Command::Branches(args) => branches::run(&args, style, &options).await,
        Command::Import(args) => import::run(args, style, &options).await,
        Command::Export(args) => export::run(args, style, &options).await,
        Command::Compact(args) => maintain::compact(args, style, &options).await,
        Command::Cleanup(args) => maintain::cleanup(args, style, &options).await,
    }
}
