//! `vidu`: image + prompt → MP4 on the Vidu image-to-video APIs, one job or a resumable batch,
//! offline on the library's built-in emulator when no API key and no base URL are given.
//!
//! Exit codes (every subcommand): 0 done; 2 bad usage or invalid input (nothing sent); 3 a task
//! failed at the provider; 4 timeout (the task goes on); 130 Ctrl-C (the task goes on); 1
//! anything else.

mod account;
mod batch;
mod connect;
#[cfg(feature = "emulator")]
mod emulator;
mod img2video;
mod interrupt;
mod logging;
mod progress;
mod report;

use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vidu",
    version,
    about = "Image + prompt → MP4 on the Vidu image-to-video APIs (UModelVerse, Vtrix, official \
             Vidu), offline on a built-in emulator when no API key and no base URL are given",
    after_help = "Exit codes: 0 done; 2 bad usage or invalid input (nothing sent); 3 a task failed \
                  at the provider; 4 timeout (the task goes on); 130 Ctrl-C (the task goes on); \
                  1 anything else.",
    propagate_version = true
)]
struct Cli {
    /// Log what the client decides on stderr: -v info, -vv debug (RUST_LOG, if set, wins)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One image + prompt → one MP4 (or pick up a task submitted earlier with --task-id)
    Img2video(img2video::Args),
    /// Many videos from a jobs file, resumable: rerun the same command after a crash or Ctrl-C
    Batch(batch::Args),
    /// A task's state, progress and video URL
    Status(account::StatusArgs),
    /// Ask the provider to cancel a task (official API only)
    Cancel(account::CancelArgs),
    /// The official API's task list, with its filters
    Tasks(account::TasksArgs),
    /// Credits left and tasks running (official API only)
    Credits(account::CreditsArgs),
    /// Serve the built-in emulator of the three provider APIs until Ctrl-C
    #[cfg(feature = "emulator")]
    Emulator(emulator::Args),
    /// Print a shell completion script (e.g. `vidu completions bash > /etc/bash_completion.d/vidu`)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // An empty variable stands for nothing (clap would take it as a value), as in a shell's
    // `VIDU_API_KEY= vidu …`. Nothing else runs yet: no other thread reads the environment.
    for name in ["VIDU_PROVIDER", "VIDU_BASE_URL", "VIDU_API_KEY"] {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(name);
        }
    }
    let cli = Cli::parse();
    logging::init(cli.verbose);
    match cli.command {
        Command::Img2video(args) => img2video::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Status(args) => account::status(args),
        Command::Cancel(args) => account::cancel(args),
        Command::Tasks(args) => account::tasks(args),
        Command::Credits(args) => account::credits(args),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => emulator::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "vidu", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

/// Exits with clap's usage error for `subcommand`: `msg`, its usage line, exit code 2.
pub fn usage_error(subcommand: &str, msg: &str) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let kind = clap::error::ErrorKind::MissingRequiredArgument;
    match cli.find_subcommand_mut(subcommand) {
        Some(command) => command.error(kind, msg).exit(),
        None => cli.error(kind, msg).exit(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
