//! Whether a notice is due: RFC 3461 section 5 and RFC 5321 section 6.1 as a decision table.

use mailerd_types::Notify;

/// The event a notice would report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Delivery failed for good (5xx or expiry).
    Failed,
    /// Still retrying after the delay threshold.
    Delayed,
    /// Delivered into a mailbox, or accepted by a next hop that offers DSN.
    Delivered,
    /// Accepted by a next hop that does not offer DSN.
    Relayed,
}

/// Who receives a notice, if anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send a notice to the envelope sender.
    Sender,
    /// Do not notify the sender; tell the postmaster (log or double-bounce mailbox) instead.
    PostmasterOnly,
    /// No notice at all.
    Nothing,
}

/// Decides per recipient. `null_sender`: the message's reverse-path was `<>` (never bounce a
/// bounce). `looks_like_notice`: the message is itself a notification by its content
/// (`multipart/report`, `Auto-Submitted` other than `no`), a belt-and-braces loop guard.
/// `notify`: the RCPT's NOTIFY parameter, `None` when absent.
///
/// An absent NOTIFY means FAILURE,DELAY (the project rule of the standards spec sec. 2.4):
/// success notices only when asked; a delivered success with a next hop that offers DSN is the
/// next hop's to report, so we report `Relayed` only for non-DSN next hops and `Delivered`
/// only for final delivery.
pub fn decide(
    event: Event,
    notify: Option<Notify>,
    null_sender: bool,
    looks_like_notice: bool,
) -> Decision {
    if null_sender {
        return if event == Event::Failed {
            Decision::PostmasterOnly
        } else {
            Decision::Nothing
        };
    }
    let asked = match notify {
        None => matches!(event, Event::Failed | Event::Delayed),
        Some(n) if n.never => false,
        Some(n) => match event {
            Event::Failed => n.failure,
            Event::Delayed => n.delay,
            Event::Delivered | Event::Relayed => n.success,
        },
    };
    match (asked, event) {
        (true, Event::Failed) if looks_like_notice => Decision::PostmasterOnly,
        (true, _) if looks_like_notice => Decision::Nothing,
        (true, _) => Decision::Sender,
        (false, Event::Failed) if notify.is_some_and(|n| n.never) => Decision::PostmasterOnly,
        (false, _) => Decision::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(never: bool, success: bool, failure: bool, delay: bool) -> Option<Notify> {
        Some(Notify {
            never,
            success,
            failure,
            delay,
        })
    }

    #[test]
    fn rfc3461_matrix() {
        use Decision::*;
        use Event::*;
        let cases = [
            // (event, notify, expected)
            (Failed, None, Sender),
            (Delayed, None, Sender),
            (Delivered, None, Nothing),
            (Relayed, None, Nothing),
            (Failed, n(true, false, false, false), PostmasterOnly),
            (Delayed, n(true, false, false, false), Nothing),
            (Delivered, n(false, true, false, false), Sender),
            (Relayed, n(false, true, false, false), Sender),
            (Failed, n(false, true, false, false), Nothing),
            (Failed, n(false, false, true, false), Sender),
            (Delayed, n(false, false, true, false), Nothing),
            (Delayed, n(false, false, false, true), Sender),
        ];
        for (event, notify, want) in cases {
            assert_eq!(
                decide(event, notify, false, false),
                want,
                "{event:?} {notify:?}"
            );
        }
    }

    #[test]
    fn never_bounce_a_bounce() {
        assert_eq!(
            decide(Event::Failed, None, true, false),
            Decision::PostmasterOnly
        );
        assert_eq!(decide(Event::Delayed, None, true, false), Decision::Nothing);
        assert_eq!(
            decide(Event::Delivered, n(false, true, false, false), true, false),
            Decision::Nothing
        );
        assert_eq!(
            decide(Event::Failed, None, false, true),
            Decision::PostmasterOnly
        );
    }
}
