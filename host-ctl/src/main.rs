//! `anypoint-ctl`: configure, replay and (later) run the Anypoint switch.

use anypoint_ctl::{config, replay};

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "anypoint-ctl",
    version,
    about = "Anypoint transport switch: configuration, replay and control"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendKind {
    /// The in-process reference model.
    Model,
}

#[derive(Subcommand)]
enum Command {
    /// Replays pcap files through one switch (driver and ALRM plugins in the loop) and writes
    /// DIR/port<N>.pcap for every port and DIR/host.pcap for host-queue records.
    Replay {
        /// Cluster configuration (TOML, docs/config.md).
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "model")]
        backend: BackendKind,
        /// PORT:FILE.pcap, frames received on PORT (repeatable; merged by timestamp).
        #[arg(long = "in", value_name = "PORT:FILE", required = true)]
        inputs: Vec<replay::Input>,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anypoint-ctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Replay {
            config,
            backend,
            inputs,
            out_dir,
            json,
        } => {
            let config = config::Config::load(&config).map_err(|e| e.to_string())?;
            let report = match backend {
                BackendKind::Model => replay::run(
                    anypoint_model::Switch::new(Default::default()),
                    &config,
                    &inputs,
                    &out_dir,
                )?,
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else {
                print!("{}", replay::render(&report));
            }
            Ok(())
        }
    }
}
