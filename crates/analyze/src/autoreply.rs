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

/// The reply's own words: its first paragraph, on one line, at most `MAX_WORDS` bytes (cut at
/// a word). An out-of-office names the return date or another address to write to; a reply
/// that the address is no longer used says so here.
fn first_paragraph(human: &str) -> Option<String> {
    const MAX_WORDS: usize = 400;
    let mut out = String::new();
    for l in crate::text::lines(human).take(40) {
        let t = l.trim();
        if t.is_empty() {
            if !out.is_empty() {
                break;
            }
            continue;
        }
        // a quoted copy of the message answered is not the reply's words
        if t.starts_with('>') || (t.starts_with("On ") && t.ends_with("wrote:")) {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
        if out.len() > MAX_WORDS {
            break;
        }
    }
    if out.len() > MAX_WORDS {
        let head = crate::prefix(&out, MAX_WORDS);
        let cut = head.rfind(' ').unwrap_or(head.len());
        out.truncate(cut);
        out.push_str(" ...");
    }
    (!out.is_empty()).then_some(out)
}

pub fn decode(msg: &Message<'_>, top: &Top, human: &str) -> Option<Found> {
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
    f.diagnostic = first_paragraph(human);
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::first_paragraph;

    #[test]
    fn the_first_paragraph_without_the_quoted_message() {
        assert_eq!(
            first_paragraph("\nI am away until Monday.\nWrite to carol@x.test.\n\nBob\n")
                .as_deref(),
            Some("I am away until Monday. Write to carol@x.test.")
        );
        assert_eq!(
            first_paragraph("Back soon.\n> your message\n").as_deref(),
            Some("Back soon.")
        );
        assert_eq!(first_paragraph("\n\n"), None);
        let long = "word ".repeat(200);
        let p = first_paragraph(&long).expect("words");
        assert!(p.len() <= 404 && p.ends_with(" ..."), "{p}");
        // byte 400 falls inside a three-byte character: cut before it
        let wide = "€".repeat(200);
        assert_eq!(
            first_paragraph(&wide),
            Some(format!("{} ...", "€".repeat(133)))
        );
    }
}
