//! `handbill`: post, follow and choose your moderation, through your node's local API.
//!
//! Data goes to stdout, diagnostics to stderr. Exit codes: 0 success; 1 an error (the message
//! says what to do); 2 bad usage; 3 the thing asked for is not there (e.g. `show` of an event the
//! node does not hold). With `--json`, output is one JSON object per line and an error is one
//! JSON object (`{"error":{"code","message"}}`) on stderr.
//!
//! Each command group lives in its own module; this one only dispatches. Rules (what an id
//! means, what a timeline holds, what notifies) are the node's: the CLI asks and prints.

mod args;
mod client;
mod moderation;
mod node;
mod output;
mod people;
mod posting;
mod reading;
mod render;
mod web;

use anyhow::Result;
use args::{Cli, Command};
use clap::{CommandFactory, Parser};
use client::{ApiFailure, Client};
use std::io::Write;
use std::process::ExitCode;

/// Exit code when the thing asked for is not stored or not found.
const EXIT_NOT_FOUND: u8 = 3;

/// Exit code for bad usage (as clap uses).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let failure = e.downcast_ref::<ApiFailure>();
            let not_found = failure.is_some_and(|f| f.status == 404);
            if json {
                let code = match failure {
                    Some(f) => f.code.as_str(),
                    None if e.downcast_ref::<client::BadUsage>().is_some() => "bad_request",
                    None => "error",
                };
                let body =
                    serde_json::json!({"error": {"code": code, "message": format!("{e:#}")}});
                eprintln!("{body}");
            } else {
                eprintln!("handbill: {e:#}");
            }
            if e.downcast_ref::<client::BadUsage>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else if not_found {
                ExitCode::from(EXIT_NOT_FOUND)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let home = client::home_dir(cli.home.clone())?;
    let json = cli.json;
    match cli.command {
        Command::Init { listen } => return node::init(&home, json, listen),
        Command::Completions { shell } => {
            let mut roff = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "handbill", &mut roff);
            let mut out = std::io::stdout().lock();
            out.write_all(&roff)?;
            return Ok(out.flush()?);
        }
        Command::Man { dir } => return node::man(dir),
        _ => {}
    }
    let api = Client::connect(&home)?;
    match cli.command {
        Command::Init { .. } | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("handled above")
        }
        Command::Id => node::id(&api, json),
        Command::Status => node::status(&api, json),
        Command::Connect { addr } => node::connect(&api, json, addr),
        Command::Peers => node::peers(&api, json),
        Command::Post(args) => posting::post(&api, json, args),
        Command::Edit { id, text } => posting::edit(&api, json, &id, text),
        Command::Repost { id } => posting::repost(&api, json, &id),
        Command::React { id, emoji } => posting::react(&api, json, &id, emoji),
        Command::Delete { id } => posting::delete(&api, json, &id),
        Command::Profile { command } => posting::profile(&api, json, command),
        Command::Labeler { command } => posting::labeler(&api, json, command),
        Command::Label {
            target,
            value,
            reason,
            expires,
        } => posting::label(&api, json, &target, value, reason, expires),
        Command::Unlabel { target, value } => posting::unlabel(&api, json, &target, value),
        Command::History { id } => reading::history(&api, json, &id),
        Command::Feed(args) => reading::feed(&api, json, args),
        Command::Search {
            query,
            limit,
            before,
        } => reading::search(&api, json, &query.join(" "), limit, before),
        Command::Show { id } => reading::show(&api, json, &id),
        Command::Thread { id } => reading::thread(&api, json, &id),
        Command::Author { author, limit } => reading::author(&api, json, &author, limit),
        Command::Why { id } => reading::why(&api, json, &id),
        Command::Follow { author } => people::follow(&api, json, &author),
        Command::Unfollow { author } => people::unfollow(&api, json, &author),
        Command::Following => people::following(&api, json),
        Command::Followers => people::followers(&api, json),
        Command::Notifications(args) => people::notifications(&api, json, args),
        Command::Moderation { command } => moderation::moderation(&api, json, command),
        Command::Mute(args) => moderation::mute(&api, json, args.author, args.word, args.tag),
        Command::Unmute(args) => moderation::unmute(&api, json, args.author, args.word, args.tag),
        Command::List { command } => moderation::list(&api, json, command),
        Command::HostPolicy { command } => moderation::host_policy(&api, json, command),
        Command::Open { print } => web::open(&api, &home, json, print),
        Command::Sessions { command } => web::sessions(&api, json, command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
