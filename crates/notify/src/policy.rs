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
    /// Never to the sender: a notification (null sender, or one by its content) failed. Tell
    /// the postmaster in a double-bounce notice (RFC 5321 section 6.1: "SHOULD tell the local
    /// postmaster"), and log it.
    Postmaster,
    /// Nothing to send (NOTIFY=NEVER on a failure: RFC 3461 lets us tell the postmaster; a
    /// log line does).
    LogOnly,
    /// No notice at all.
    Nothing,
}

/// Decides per recipient. `null_sender`: the message's reverse-path was `<>` (never bounce a
/// bounce). `looks_like_notice`: the message is itself a notification by its content
/// (`multipart/report`, `Auto-Submitted` other than `no`), a belt-and-braces loop guard.
/// `notify`: the RCPT's NOTIFY parameter, `None` when absent. `own_user`: the message was
/// sent by one of our users (authenticated, or a sender in a local domain), not relayed on
/// behalf of someone else.
///
/// An absent NOTIFY means FAILURE,DELAY for our own users and FAILURE for mail relayed for
/// others (RFC 3461 section 4.1 allows either; the project rule of the standards spec sec.
/// 2.4). Success notices only when asked; a delivered success with a next hop that offers
/// DSN is the next hop's to report, so we report `Relayed` only for non-DSN next hops and
/// `Delivered` only for final delivery.
pub fn decide(
    event: Event,
    notify: Option<Notify>,
    null_sender: bool,
    looks_like_notice: bool,
    own_user: bool,
) -> Decision {
    if null_sender {
        return if event == Event::Failed {
            Decision::Postmaster
        } else {
            Decision::Nothing
        };
    }
    let asked = match notify {
        None => match event {
            Event::Failed => true,
            Event::Delayed => own_user,
            Event::Delivered | Event::Relayed => false,
        },
        Some(n) if n.never => false,
        Some(n) => match event {
            Event::Failed => n.failure,
            Event::Delayed => n.delay,
            Event::Delivered | Event::Relayed => n.success,
        },
    };
    match (asked, event) {
        (true, Event::Failed) if looks_like_notice => Decision::Postmaster,
        (true, _) if looks_like_notice => Decision::Nothing,
        (true, _) => Decision::Sender,
        (false, Event::Failed) if notify.is_some_and(|n| n.never) => Decision::LogOnly,
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
            // (event, notify, own user, expected)
            (Failed, None, true, Sender),
            (Failed, None, false, Sender),
            (Delayed, None, true, Sender),
            (Delayed, None, false, Nothing),
            (Delivered, None, true, Nothing),
            (Relayed, None, true, Nothing),
            (Failed, n(true, false, false, false), true, LogOnly),
            (Delayed, n(true, false, false, false), true, Nothing),
            (Delivered, n(false, true, false, false), true, Sender),
            (Relayed, n(false, true, false, false), false, Sender),
            (Failed, n(false, true, false, false), true, Nothing),
            (Failed, n(false, false, true, false), true, Sender),
            (Delayed, n(false, false, true, false), true, Nothing),
            (Delayed, n(false, false, false, true), true, Sender),
            (Delayed, n(false, false, false, true), false, Sender),
            (Delayed, n(false, true, true, false), true, Nothing),
        ];
        for (event, notify, own, want) in cases {
            assert_eq!(
                decide(event, notify, false, false, own),
                want,
                "{event:?} {notify:?} own={own}"
            );
        }
    }

    #[test]
    fn never_bounce_a_bounce() {
        assert_eq!(
            decide(Event::Failed, None, true, false, true),
            Decision::Postmaster
        );
        assert_eq!(
            decide(Event::Delayed, None, true, false, true),
            Decision::Nothing
        );
        assert_eq!(
            decide(
                Event::Delivered,
                n(false, true, false, false),
                true,
                false,
                true
            ),
            Decision::Nothing
        );
        assert_eq!(
            decide(Event::Failed, None, false, true, true),
            Decision::Postmaster
        );
        assert_eq!(
            decide(Event::Delayed, None, false, true, true),
            Decision::Nothing
        );
    }
}
