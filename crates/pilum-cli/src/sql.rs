//! `pilum sql`: run statements, or an interactive shell.

use crate::args::SqlArgs;
use crate::error::{CliError, Result};
use crate::output::{self, Style};
use crate::statements;
use pilum::sql::datafusion::prelude::{SessionConfig, SessionContext};
use pilum::{Session, SqlError};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Editor, Helper};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::sync::Arc;

/// Runs `pilum sql`.
pub async fn run(args: SqlArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let config = SessionConfig::new().with_information_schema(true);
    let session = Session::with_storage_options(SessionContext::new_with_config(config), options.clone());
    for (name, uri) in &args.tables {
        session.register_uri(name, uri, options).await?;
    }
    match args.query {
        Some(text) => script(&session, &text, style).await,
        None if std::io::stdin().is_terminal() => shell(&session, style).await,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::file("<stdin>", e))?;
            script(&session, &text, style).await
        }
    }
}

/// Runs every statement of `text` in order, stopping at the first failure.
async fn script(session: &Session, text: &str, style: Style) -> Result<()> {
    let statements = statements::split(text);
    if statements.is_empty() {
        return Err(CliError::Usage("no SQL statement given".into()));
    }
    for statement in statements {
        execute(session, &statement, style).await?;
    }
    Ok(())
}

/// Plans, runs and prints one statement.
async fn execute(session: &Session, statement: &str, style: Style) -> Result<()> {
    let frame = session.sql(statement).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await.map_err(SqlError::from)?;
    output::batches(style, schema, &batches)
}

/// The line editor's helper: an input is submitted once its statement ends with `;`.
struct SqlHelper;

impl rustyline::completion::Completer for SqlHelper {
    type Candidate = String;
}

impl rustyline::hint::Hinter for SqlHelper {
    type Hint = String;
}

impl rustyline::highlight::Highlighter for SqlHelper {}

impl Helper for SqlHelper {}

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input().trim();
        let done = input.is_empty() || is_command(input) || statements::is_complete(input);
        Ok(if done {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

fn is_command(input: &str) -> bool {
    input.starts_with('\\') || matches!(input, "exit" | "quit")
}

const HELP: &str = "Statements end with `;` and may span lines. \\q (or exit) quits, \\d lists tables.
Tables: SELECT * FROM 'path/to/dataset'; pilum_scan('uri', version or 'tag'); pilum_versions('uri').";

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("PILUM_HISTORY")
        .map(Into::into)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".pilum_history")))
}

/// The interactive shell, with history and multi-line statements.
async fn shell(session: &Session, style: Style) -> Result<()> {
    let mut editor: Editor<SqlHelper, DefaultHistory> = Editor::new()?;
    editor.set_helper(Some(SqlHelper));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on the first run.
        let _ = editor.load_history(path);
    }
    output::line(&format!("pilum {} SQL shell. \\? for help.", env!("CARGO_PKG_VERSION")))?;
    loop {
        let input = match editor.readline("pilum> ") {
            Ok(input) => input,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let input = input.trim();
        if input.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(input);
        match input {
            "\\q" | "exit" | "quit" => break,
            "\\?" | "\\h" => output::line(HELP)?,
            "\\d" => report(execute(session, "SHOW TABLES", style).await),
            command if is_command(command) => eprintln!("error: unknown command {command}; \\? for help"),
            text => {
                for statement in statements::split(text) {
                    report(execute(session, &statement, style).await);
                }
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// Shows a failed statement's error and carries on.
fn report(result: Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
    }
}
