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
        });
    }
    log
}
