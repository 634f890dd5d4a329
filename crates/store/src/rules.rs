//! The state rules every backend applies the same way: initial records, when a message is
//! due, which reports are valid and what they change. Pure functions, no I/O, so that the
//! embedded, in-memory and PostgreSQL backends cannot drift apart.

use mailerd_types::{DeliveryReport, Envelope, RecipientState};

use crate::{Lease, RecipientRecord, StatusRecord};

/// The records of a message just committed: every recipient pending, due at reception.
pub fn initial_recipients(envelope: &Envelope) -> Vec<RecipientRecord> {
    let at = envelope.received_at;
    envelope
        .recipients
        .iter()
        .enumerate()
        .map(|(index, r)| RecipientRecord {
            index,
            address: r.address.clone(),
            state: RecipientState::Pending,
            attempts: 0,
            next_attempt: at,
            last_reply: None,
            remote_mta: None,
            updated_at: at,
            next_hop_dsn: None,
        })
        .collect()
}

/// The reception records of a message just committed, one per recipient, from seq 0.
pub fn reception_log(recipients: &[RecipientRecord], at: u64) -> Vec<StatusRecord> {
    recipients
        .iter()
        .enumerate()
        .map(|(seq, r)| StatusRecord {
            seq: seq as u32,
            at,
            index: r.index,
            recipient: r.address.clone(),
            state: r.state,
            reply: None,
            remote_mta: None,
            attempts: r.attempts,
            next_hop_dsn: None,
        })
        .collect()
}

/// The earliest next attempt of a live recipient; `None` when every recipient is final.
pub fn next_attempt(recipients: &[RecipientRecord]) -> Option<u64> {
    recipients
        .iter()
        .filter(|r| !r.state.is_final())
        .map(|r| r.next_attempt)
        .min()
}

/// When the message may next be claimed: `None` if never (held, or every recipient final),
/// otherwise the later of its earliest next attempt and its lease's expiry. A message is due
/// at `now` iff this is `Some(t)` with `t <= now`.
pub fn due_at(recipients: &[RecipientRecord], held: bool, lease: Option<&Lease>) -> Option<u64> {
    if held {
        return None;
    }
    let next = next_attempt(recipients)?;
    Some(match lease {
        Some(l) => next.max(l.expires_at),
        None => next,
    })
}

/// Why `report` cannot be applied to a message with these `recipients`, if it cannot.
pub fn check_report(recipients: &[RecipientRecord], report: &DeliveryReport) -> Result<(), String> {
    let mut seen = vec![false; recipients.len()];
    for u in &report.updates {
        let Some(r) = recipients.get(u.index) else {
            return Err(format!("no recipient #{}", u.index));
        };
        if std::mem::replace(&mut seen[u.index], true) {
            return Err(format!("recipient #{} updated twice", u.index));
        }
        if r.state.is_final() {
            return Err(format!(
                "recipient #{} ({}) is already {}",
                u.index, r.address, r.state
            ));
        }
        if u.state == RecipientState::Deferred && u.next_attempt.is_none() {
            return Err(format!(
                "recipient #{} deferred without a next attempt time",
                u.index
            ));
        }
    }
    Ok(())
}

/// Applies a report that passed [`check_report`] and returns the status records to append,
/// numbered from `next_seq`. A pending or deferred recipient becomes due at the update's next
/// attempt (`now` if none); a final one keeps its last next attempt.
pub fn apply_report(
    recipients: &mut [RecipientRecord],
    report: DeliveryReport,
    now: u64,
    next_seq: u32,
) -> Vec<StatusRecord> {
    let mut log = Vec::with_capacity(report.updates.len());
    for u in report.updates {
        let Some(r) = recipients.get_mut(u.index) else {
            continue; // excluded by check_report
        };
        r.state = u.state;
        r.attempts = u.attempts;
        r.last_reply = u.reply;
        r.remote_mta = u.remote_mta;
        r.updated_at = now;
        r.next_hop_dsn = u.next_hop_dsn;
        if !u.state.is_final() {
            r.next_attempt = u.next_attempt.unwrap_or(now);
        }
        log.push(StatusRecord {
            seq: next_seq + log.len() as u32,
            at: now,
            index: r.index,
            recipient: r.address.clone(),
            state: r.state,
            reply: r.last_reply.clone(),
            remote_mta: r.remote_mta.clone(),
            attempts: r.attempts,
            next_hop_dsn: r.next_hop_dsn,
        });
    }
    log
}

/// Brings every live recipient due later than `now` forward to `now`; returns how many.
pub fn retry_now(recipients: &mut [RecipientRecord], now: u64) -> usize {
    let mut n = 0;
    for r in recipients.iter_mut().filter(|r| !r.state.is_final()) {
        if r.next_attempt > now {
            r.next_attempt = now;
            n += 1;
        }
    }
    n
}

/// Whether [`crate::Store::fail_live`] must wait: the message's lease is current at `now`.
pub fn lease_current(lease: Option<&Lease>, now: u64) -> bool {
    lease.is_some_and(|l| l.expires_at > now)
}

/// Fails every live recipient with `reply` (an operator's decision) and returns the status
/// records to append, numbered from `next_seq`. Attempts and next attempt stay.
pub fn fail_live(
    recipients: &mut [RecipientRecord],
    reply: &str,
    now: u64,
    next_seq: u32,
) -> Vec<StatusRecord> {
    let mut log = Vec::new();
    for r in recipients.iter_mut().filter(|r| !r.state.is_final()) {
        r.state = RecipientState::Failed;
        r.last_reply = Some(reply.to_string());
        r.remote_mta = None;
        r.updated_at = now;
        r.next_hop_dsn = None;
        log.push(StatusRecord {
            seq: next_seq + log.len() as u32,
            at: now,
            index: r.index,
            recipient: r.address.clone(),
            state: r.state,
            reply: r.last_reply.clone(),
            remote_mta: None,
            attempts: r.attempts,
            next_hop_dsn: None,
        });
    }
    log
}

#[cfg(test)]
mod tests {
    use mailerd_types::{QueueId, RecipientSpec, RecipientUpdate};

    use super::*;

    fn env(n: usize) -> Envelope {
        Envelope {
            reverse_path: "a@example.org".into(),
            recipients: (0..n)
                .map(|i| RecipientSpec::new(format!("r{i}@example.net")))
                .collect(),
            ret: None,
            envid: None,
            smtputf8: false,
            eight_bit: false,
            received_at: 100,
            client: None,
            auth_user: None,
        }
    }

    fn update(index: usize, state: RecipientState, next: Option<u64>) -> RecipientUpdate {
        RecipientUpdate {
            index,
            state,
            reply: Some("r".into()),
            remote_mta: None,
            attempts: 1,
            next_attempt: next,
            next_hop_dsn: None,
        }
    }

    fn report(updates: Vec<RecipientUpdate>) -> DeliveryReport {
        DeliveryReport {
            id: QueueId("X".into()),
            updates,
        }
    }

    #[test]
    fn due_at_follows_hold_lease_and_final_states() {
        let mut r = initial_recipients(&env(2));
        assert_eq!(due_at(&r, false, None), Some(100));
        assert_eq!(due_at(&r, true, None), None, "held is never due");
        let lease = Lease {
            id: QueueId("X".into()),
            node: "n".into(),
            token: 1,
            expires_at: 160,
        };
        assert_eq!(
            due_at(&r, false, Some(&lease)),
            Some(160),
            "due when the lease ends"
        );
        r[0].state = RecipientState::Delivered;
        r[1].state = RecipientState::Deferred;
        r[1].next_attempt = 500;
        assert_eq!(due_at(&r, false, Some(&lease)), Some(500));
        r[1].state = RecipientState::Failed;
        assert_eq!(due_at(&r, false, None), None, "all final: never due");
    }

    #[test]
    fn check_report_refuses_what_cannot_apply() {
        let mut r = initial_recipients(&env(2));
        let ok = report(vec![update(0, RecipientState::Delivered, None)]);
        assert!(check_report(&r, &ok).is_ok());
        for bad in [
            report(vec![update(2, RecipientState::Delivered, None)]),
            report(vec![
                update(1, RecipientState::Delivered, None),
                update(1, RecipientState::Failed, None),
            ]),
            report(vec![update(1, RecipientState::Deferred, None)]),
        ] {
            assert!(check_report(&r, &bad).is_err(), "{bad:?}");
        }
        r[0].state = RecipientState::Expired;
        assert!(
            check_report(&r, &ok).is_err(),
            "final recipients never change"
        );
    }

    #[test]
    fn apply_report_numbers_records_and_schedules() {
        let mut r = initial_recipients(&env(3));
        let log = apply_report(
            &mut r,
            report(vec![
                update(2, RecipientState::Deferred, Some(900)),
                update(0, RecipientState::Pending, None),
            ]),
            200,
            3,
        );
        assert_eq!(
            log.iter().map(|l| (l.seq, l.index)).collect::<Vec<_>>(),
            [(3, 2), (4, 0)]
        );
        assert_eq!(r[2].next_attempt, 900);
        assert_eq!(r[0].next_attempt, 200, "pending without a time: due now");
        assert_eq!(r[0].updated_at, 200);
        assert_eq!(r[1].updated_at, 100, "untouched recipient unchanged");
        assert_eq!(reception_log(&r, 100).len(), 3);
    }
}
