//! Amazon SES notifications delivered by e-mail (SNS): a JSON body with
//! `"notificationType":"Bounce"` (`bouncedRecipients` with `emailAddress`, `action`, `status`,
//! `diagnosticCode`), `"Complaint"` (`complainedRecipients`, reason Feedback) or `"Delivery"`
//! (`delivery.recipients`, `smtpResponse`, reason Delivered). The JSON may itself be
//! escaped inside a JSON string (`\"notificationType\"`).
//!
//! SES's classic e-mail bounces (multipart/report) are read by the RFC 3464 parser instead.
//! This is a minimal reader for these keys, not a JSON parser.

use mailerd_types::{DsnAction, Reason};

use super::{Found, push_merge};
use crate::text::{clean_address, find_ci};

/// The string value of `"key":"..."` at or after the start of `s`.
fn str_value(s: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":\"");
    let at = s.find(&pat)? + pat.len();
    let rest = s.get(at..)?;
    let mut out = String::new();
    let mut esc = false;
    for c in rest.chars() {
        if esc {
            out.push(match c {
                'n' => ' ',
                't' => ' ',
                c => c,
            });
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == '"' {
            return Some(out);
        } else {
            out.push(c);
        }
        if out.len() > 4096 {
            break;
        }
    }
    Some(out)
}

/// The text of the JSON array `"key":[ ... ]` (up to the first `]`).
fn array<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":[");
    let at = s.find(&pat)? + pat.len();
    let rest = s.get(at..)?;
    let end = rest.find(']')?;
    rest.get(..end)
}

/// Decodes an SES notification, if the text is one.
pub fn decode(text: &str) -> Option<Vec<Found>> {
    decode_at(text, find_ci(text, "notificationtype")?)
}

/// [`decode`], given also `low`, the text in ASCII lower case: the key is searched there, with
/// one vectorised substring search (the same first occurrence as `find_ci` in `text`).
pub fn decode_lc(text: &str, low: &str) -> Option<Vec<Found>> {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("notificationtype"));
    if low.len() != text.len() {
        return decode(text);
    }
    decode_at(text, KEY.find(low.as_bytes())?)
}

/// [`decode`] with `at`, where the `notificationType` key starts.
fn decode_at(text: &str, at: usize) -> Option<Vec<Found>> {
    let body = text.get(at.saturating_sub(2)..)?;
    let body = if body.contains("\\\"") {
        std::borrow::Cow::Owned(body.replace("\\\"", "\""))
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    let body: &str = &body;
    let ntype = str_value(body, "notificationType")?;
    let mut out = Vec::new();
    match ntype.as_str() {
        "Bounce" => {
            let arr = array(body, "bouncedRecipients")?;
            let permanent = str_value(body, "bounceType").is_none_or(|t| t != "Transient");
            for obj in arr.split("},{") {
                let Some(a) = str_value(obj, "emailAddress") else {
                    continue;
                };
                let mut f = Found::new(clean_address(&a), "AmazonSES");
                f.action = str_value(obj, "action").and_then(|a| a.parse().ok());
                if f.action.is_none() && !permanent {
                    f.action = Some(DsnAction::Delayed);
                }
                f.status = str_value(obj, "status")
                    .and_then(|s| mailerd_types::EnhancedStatus::parse(s.trim()).ok());
                if let Some(d) = str_value(obj, "diagnosticCode") {
                    let d = d
                        .split_once(';')
                        .map(|(t, r)| if t.len() < 12 { r } else { d.as_str() })
                        .unwrap_or(&d)
                        .trim()
                        .to_string();
                    f.set_diagnostic(&d);
                }
                f.remote_mta = str_value(body, "remoteMtaIp");
                push_merge(&mut out, f);
            }
        }
        "Complaint" => {
            let arr = array(body, "complainedRecipients")?;
            for obj in arr.split("},{") {
                let Some(a) = str_value(obj, "emailAddress") else {
                    continue;
                };
                let mut f = Found::new(clean_address(&a), "AmazonSES");
                f.hint = Some(Reason::Feedback);
                push_merge(&mut out, f);
            }
        }
        "Delivery" => {
            let d = body.find("\"delivery\":").and_then(|p| body.get(p..))?;
            let arr = array(d, "recipients")?;
            let resp = str_value(d, "smtpResponse");
            for a in arr.split(',') {
                let a = a.trim().trim_matches('"');
                if !a.contains('@') {
                    continue;
                }
                let mut f = Found::new(clean_address(a), "AmazonSES");
                f.action = Some(DsnAction::Delivered);
                f.hint = Some(Reason::Delivered);
                if let Some(r) = &resp {
                    f.set_diagnostic(r);
                }
                push_merge(&mut out, f);
            }
        }
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The key found in the lower-cased text is the one `find_ci` finds.
        #[test]
        fn decode_lc_is_decode(t in "(notificationType|NOTIFICATIONTYPE|notification|\\\\\"|\"|:|Bounce|bouncedRecipients|emailAddress|[\\[\\]{},]|a@b\\.example|n|N|\u{e9}| ){0,30}") {
            let low = t.to_ascii_lowercase();
            proptest::prop_assert_eq!(decode_lc(&t, &low), decode(&t));
            proptest::prop_assert_eq!(
                find_ci(&t, "notificationtype"),
                memchr::memmem::find(low.as_bytes(), b"notificationtype")
            );
        }
    }

    fn check(input: &str, expected: &[(&str, &str, Option<u16>)]) {
        let got: Vec<(String, String, Option<u16>)> = decode(input)
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                (
                    f.recipient,
                    f.status.map(|s| s.to_string()).unwrap_or_default(),
                    f.reply_code,
                )
            })
            .collect();
        let want: Vec<(String, String, Option<u16>)> = expected
            .iter()
            .map(|(a, s, c)| (a.to_string(), s.to_string(), *c))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bounce_and_delivery() {
        check(
            r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@x.org","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]}}"#,
            &[("a@x.org", "5.1.1", Some(550))],
        );
        check(
            r#"{\"notificationType\":\"Delivery\",\"delivery\":{\"recipients\":[\"s@x.org\"],\"smtpResponse\":\"250 2.6.0 ok\"}}"#,
            &[("s@x.org", "2.6.0", Some(250))],
        );
        check("plain text", &[]);
    }
}
