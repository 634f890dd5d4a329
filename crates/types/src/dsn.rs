//! RFC 3464 `Action` values.

use std::fmt;
use std::str::FromStr;

/// The `Action` field of a per-recipient DSN block (RFC 3464 section 2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DsnAction {
    /// Could not be delivered; attempts abandoned.
    Failed,
    /// Not delivered yet; still trying.
    Delayed,
    /// Placed in the recipient's mailbox.
    Delivered,
    /// Handed to a system that will not send success notices.
    Relayed,
    /// Delivered to a list or alias and forwarded further.
    Expanded,
}

impl DsnAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DsnAction::Failed => "failed",
            DsnAction::Delayed => "delayed",
            DsnAction::Delivered => "delivered",
            DsnAction::Relayed => "relayed",
            DsnAction::Expanded => "expanded",
        }
    }
}

impl fmt::Display for DsnAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DsnAction {
    type Err = ();
    /// Lenient: case-insensitive, ignores a trailing comment (`failed (bad address)`), and
    /// accepts the common misspellings `failure` and `delay`.
    fn from_str(s: &str) -> Result<Self, ()> {
        let w = s
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .next()
            .unwrap_or("");
        match w.to_ascii_lowercase().as_str() {
            "failed" | "failure" | "fail" => Ok(DsnAction::Failed),
            "delayed" | "delay" => Ok(DsnAction::Delayed),
            "delivered" | "deliverable" => Ok(DsnAction::Delivered),
            "relayed" => Ok(DsnAction::Relayed),
            "expanded" => Ok(DsnAction::Expanded),
            _ => Err(()),
        }
    }
}
