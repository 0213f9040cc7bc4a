//! What `setup` prints: one line per step, `✓` or `✗` (with what to do), and a
//! waiting line that is redrawn in place on a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

pub(super) fn ok(text: &str) {
    println!("✓ {}", crate::config::escape(text));
}

/// A failed step: what went wrong, then what to do.
pub(super) fn fail(text: &str, todo: &str) {
    println!("✗ {}", crate::config::escape(text));
    for line in todo.lines() {
        println!("  {}", crate::config::escape(line));
    }
}

pub(super) fn note(text: &str) {
    println!("  {}", crate::config::escape(text));
}

/// "3 min 20 s".
pub(super) fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The line that says what `setup` waits for and for how long: redrawn on a
/// terminal, one line per attempt otherwise (a log keeps every one).
pub(super) fn waiting(text: &str) {
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = write!(out, "\r\x1b[2K… {}", crate::config::escape(text));
    } else {
        let _ = writeln!(out, "… {}", crate::config::escape(text));
    }
    let _ = out.flush();
}

/// Ends a redrawn waiting line.
pub(super) fn end_waiting() {
    if std::io::stdout().is_terminal() {
        println!();
    }
}

/// Asks a yes/no question and reads the answer from standard input (a line
/// starting with y or n); `--yes`, an empty line or the end of input takes the
/// default.
pub(super) fn confirm(question: &str, default: bool, yes: bool) -> bool {
    if yes {
        println!("{question} {}", if default { "yes" } else { "no" });
        return default;
    }
    print!("{question} [{}] ", if default { "Y/n" } else { "y/N" });
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let answer = match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => default,
        Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
            "" => default,
            a => a.starts_with('y'),
        },
    };
    if !std::io::stdin().is_terminal() {
        println!("{}", if answer { "yes" } else { "no" });
    }
    answer
}
