//! RFC 3834 automatic replies (vacation, out of office).
//!
//! Recognised by `Auto-Submitted: auto-replied`, `X-Autoreply`, `X-Autorespond`,
//! `Precedence: auto_reply`, `X-Apple-Action: vacation`, or subjects such as `Auto:`,
//! `Automatic reply:`, `Auto reply:`, `Out of Office`, `Auto Response`, `Abwesenheitsnotiz`.
//! The recipient row is the auto-reply's From, with reason Vacation. It runs only when no
//! bounce was found (bounces may carry `Auto-Submitted` too).

use mailerd_types::Reason;

use crate::Top;
use crate::mail::Message;
use crate::mta::Found;
use crate::text::{contains_ci, starts_with_ci};

const SUBJECTS: &[&str] = &[
    "auto:",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "out of office",
    "out of the office",
    "vacation",
    "abwesenheit",
    "absence",
    "réponse automatique",
    "reponse automatique",
    "respuesta automática",
    "risposta automatica",
    "自動応答",
    "away from",
    "on leave",
];

pub fn decode(msg: &Message<'_>, top: &Top, _human: &str) -> Option<Found> {
    let h = |n: &str| msg.header_raw(n).map(|s| s.trim().to_ascii_lowercase());
    let auto_submitted = h("Auto-Submitted").is_some_and(|v| v.starts_with("auto-replied"));
    let flagged = auto_submitted
        || h("X-Autoreply").is_some_and(|v| v != "no")
        || h("X-Autorespond").is_some()
        || h("X-Apple-Action").is_some_and(|v| v.contains("vacation"))
        || h("Precedence").is_some_and(|v| v.contains("auto_reply") || v.contains("auto-reply"))
        || h("X-Auto-Response").is_some();
    let subj = top.subject.trim();
    let subject_says = SUBJECTS
        .iter()
        .any(|w| starts_with_ci(subj, w) || (w.len() > 8 && contains_ci(subj, w)));
    if !(flagged || subject_says) {
        return None;
    }
    let mut f = Found::new(top.from_addr.clone(), "RFC3834");
    f.hint = Some(Reason::Vacation);
    Some(f)
}
