//! `vidu status`, `cancel`, `tasks`, `credits`: one request each, the answer on stdout.

use std::process::ExitCode;

use vidu::{Provider, TaskQuery, TaskStatus};

use crate::connect::{self, ConnectArgs, ProviderName};
use crate::report;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The task
    pub task_id: String,
}

#[derive(clap::Args, Debug)]
pub struct CancelArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The task
    pub task_id: String,
}

#[derive(clap::Args, Debug)]
pub struct TasksArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Only this task (repeat for more)
    #[arg(long = "task-id", value_name = "ID")]
    pub task_ids: Vec<String>,
    /// Created at or after this time (RFC 3339, e.g. 2026-01-31T00:00:00Z)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Created before this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Tasks per page, 1 to 100 [default: the provider's, 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: Option<u32>,
    /// The page that the previous one named
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CreditsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// The provider named, or the official API (the only one with cancel, tasks and credits).
fn provider(args: &ConnectArgs) -> Provider {
    args.provider.unwrap_or(ProviderName::Vidu).into()
}

fn finish(result: Result<(), vidu::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report::error(&e).into(),
    }
}

/// Runs `f` with a client, or ends with the connection's error.
fn with_client(
    args: &ConnectArgs,
    provider: Provider,
    f: impl FnOnce(&vidu::Client) -> Result<(), vidu::Error>,
) -> ExitCode {
    match connect::connect(args, provider) {
        Ok(connection) => finish(f(&connection.client)),
        Err(exit) => exit.into(),
    }
}

fn describe(s: &TaskStatus) -> String {
    let state = if s.state == vidu::State::Unknown {
        s.raw_state.as_str()
    } else {
        s.state.as_str()
    };
    let mut line = format!("task {}: {state}", s.task_id);
    if let Some(p) = s.progress {
        line.push_str(&format!(" {:.0}%", p * 100.0));
    }
    if let Some(t) = &s.created_at {
        line.push_str(&format!(", created {t}"));
    }
    if let Some(c) = s.credits {
        line.push_str(&format!(", {c} credits"));
    }
    if let Some(code) = &s.error_code {
        line.push_str(&format!(", code {code}"));
    }
    if let Some(m) = &s.error_message {
        line.push_str(&format!(": {m}"));
    }
    line
}

pub fn status(args: StatusArgs) -> ExitCode {
    let Some(p) = args.connect.provider else {
        crate::usage_error(
            "status",
            "--provider is required (or set VIDU_PROVIDER): umodelverse, vtrix or vidu",
        )
    };
    with_client(&args.connect, p.into(), |client| {
        let s = client.status(&args.task_id)?;
        println!("{}", describe(&s));
        for url in &s.video_urls {
            println!("video: {url}");
        }
        Ok(())
    })
}

pub fn cancel(args: CancelArgs) -> ExitCode {
    with_client(&args.connect, provider(&args.connect), |client| {
        client.cancel(&args.task_id)?;
        println!("task {}: cancel requested", args.task_id);
        Ok(())
    })
}

pub fn tasks(args: TasksArgs) -> ExitCode {
    let mut query = TaskQuery::new().task_ids(args.task_ids.iter().cloned());
    query.created_from = args.from.clone();
    query.created_to = args.to.clone();
    query.page_size = args.page_size;
    query.page_token = args.page_token.clone();
    with_client(&args.connect, provider(&args.connect), |client| {
        let page = client.tasks(&query)?;
        for task in &page.tasks {
            println!("{}", describe(task));
        }
        if let Some(token) = page.next_page_token {
            println!("more: --page-token {}", crate::report::shell_quote(&token));
        }
        Ok(())
    })
}

pub fn credits(args: CreditsArgs) -> ExitCode {
    with_client(&args.connect, provider(&args.connect), |client| {
        let credits = client.credits()?;
        let n = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
        for r in &credits.remains {
            println!(
                "{}: {} credits left, {}/{} tasks running, {} queued",
                r.kind.as_deref().unwrap_or("credits"),
                n(r.credit_remain),
                n(r.current_concurrency),
                n(r.concurrency_limit),
                n(r.queue_count)
            );
        }
        Ok(())
    })
}
