//! Progress bars on stderr, for people only.

use crate::output::Style;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A bar whose length is set later; hidden for `--json` and when stderr is
/// not a terminal.
pub fn bar(style: Style) -> ProgressBar {
    if style == Style::Json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(template) = ProgressStyle::with_template("{bar:40} {percent:>3}% {elapsed_precise} eta {eta}") {
        bar.set_style(template.progress_chars("=> "));
    }
    bar
}
