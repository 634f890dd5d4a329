//! The on-disk layout: redb tables and the encoding of their values.
//!
//! Values are JSON (self-describing, readable with any tool, tolerant of added optional
//! fields); content is stored raw. Every decode failure is a [`StoreError::Corrupt`], never a
//! panic.

use mailerd_store::{Lease, RecipientRecord, StatusRecord, StoreError, rules};
use mailerd_types::Envelope;
use redb::TableDefinition;
use serde::{Deserialize, Serialize};

/// Queue id → [`MessageMeta`] (JSON).
pub(crate) const MESSAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("messages");
/// Queue id → content bytes, exactly as committed.
pub(crate) const CONTENT: TableDefinition<&str, &[u8]> = TableDefinition::new("content");
/// (due time, queue id) → (): the schedule. A message is in it iff it may be claimed at some
/// time, under the key [`MessageMeta::due`]: not held, a live recipient, and due at the later
/// of its earliest next attempt and its lease's expiry.
pub(crate) const DUE: TableDefinition<(u64, &str), ()> = TableDefinition::new("due");
/// (queue id, seq) → [`StatusRecord`] (JSON).
pub(crate) const LOG: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("status_log");
/// Queue id → (why, the undecodable message record): records moved aside by a claim, kept for
/// the operator (with their content, which stays in [`CONTENT`]) until deleted explicitly.
pub(crate) const QUARANTINE: TableDefinition<&str, (&str, &[u8])> =
    TableDefinition::new("quarantine");
/// Counters: [`NEXT_SEQ`], [`NEXT_TOKEN`].
pub(crate) const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
pub(crate) const NEXT_SEQ: &str = "next_seq";
pub(crate) const NEXT_TOKEN: &str = "next_token";

/// Version of [`MessageMeta`]'s encoding.
const META_VERSION: u32 = 1;

/// Everything about a message but its content and status log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageMeta {
    pub v: u32,
    pub envelope: Envelope,
    pub recipients: Vec<RecipientRecord>,
    pub held: bool,
    pub lease: Option<Lease>,
    pub content_len: u64,
    /// [`content_hash`] of the content: detects a content record that is not the one
    /// committed.
    pub content_hash: u64,
    /// Number of status records; the next one gets this seq.
    pub log_len: u32,
    /// When the message's delay notice was written (`Store::mark_delay_notice`). Added after
    /// version 1 was in use: records without it load as unmarked, and an unmarked record is
    /// written without it, so the encoding of version 1 is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_notice_at: Option<u64>,
}

impl MessageMeta {
    pub fn new(envelope: Envelope, content: &[u8]) -> MessageMeta {
        MessageMeta {
            v: META_VERSION,
            recipients: rules::initial_recipients(&envelope),
            envelope,
            held: false,
            lease: None,
            content_len: content.len() as u64,
            content_hash: content_hash(content),
            log_len: 0,
            delay_notice_at: None,
        }
    }

    /// The earliest next attempt of a live recipient; `None` when all are final.
    pub fn next_attempt(&self) -> Option<u64> {
        rules::next_attempt(&self.recipients)
    }

    /// The key of this message in [`DUE`], if it belongs there.
    pub fn due(&self) -> Option<u64> {
        rules::due_at(&self.recipients, self.held, self.lease.as_ref())
    }

    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|e| StoreError::Backend(format!("encoding record: {e}")))
    }

    pub fn decode(id: &str, raw: &[u8]) -> Result<MessageMeta, StoreError> {
        let m: MessageMeta = serde_json::from_slice(raw).map_err(|e| corrupt(id, e))?;
        if m.v != META_VERSION {
            return Err(corrupt(id, format!("unknown record version {}", m.v)));
        }
        if m.recipients.len() != m.envelope.recipients.len()
            || m.recipients.iter().enumerate().any(|(i, r)| r.index != i)
        {
            return Err(corrupt(id, "recipient records do not match the envelope"));
        }
        Ok(m)
    }

    /// Checks that `content` is the content this record was committed with.
    pub fn check_content(&self, id: &str, content: &[u8]) -> Result<(), StoreError> {
        if content.len() as u64 != self.content_len {
            return Err(corrupt(
                id,
                format!(
                    "content is {} bytes, {} were committed",
                    content.len(),
                    self.content_len
                ),
            ));
        }
        if content_hash(content) != self.content_hash {
            return Err(corrupt(id, "content checksum mismatch"));
        }
        Ok(())
    }
}

pub(crate) fn encode_status(r: &StatusRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(r).map_err(|e| StoreError::Backend(format!("encoding status record: {e}")))
}

pub(crate) fn decode_status(id: &str, raw: &[u8]) -> Result<StatusRecord, StoreError> {
    serde_json::from_slice(raw).map_err(|e| corrupt(id, format!("status record: {e}")))
}

pub(crate) fn corrupt(id: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        id: id.to_string(),
        detail: detail.to_string(),
    }
}

/// FNV-1a, 64 bits, over 8-byte words: cheap (about 1 ns per word), enough to detect a
/// content record that is torn or belongs to another message. Not cryptographic.
pub(crate) fn content_hash(data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ data.len() as u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// A queue id: the reception time and a store-wide sequence number, both in fixed-width
/// upper-case hex, so ids sort by reception time and then by commit order.
pub(crate) fn queue_id(received_at: u64, seq: u64) -> String {
    format!("{received_at:010X}{seq:010X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_sees_any_change() {
        let a: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut b = a.clone();
        b[4321] ^= 1;
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&a[..4999]));
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
    }

    #[test]
    fn queue_ids_sort_by_time_then_seq() {
        assert!(queue_id(10, 99) < queue_id(11, 1));
        assert!(queue_id(10, 9) < queue_id(10, 10));
        assert_eq!(queue_id(0x1234, 5).len(), 20);
    }

    /// Records written before the delay mark and `next_hop_dsn` existed still load, unmarked
    /// and with `next_hop_dsn` unknown.
    #[test]
    fn records_without_the_newer_fields_load() {
        let env = mailerd_store::conformance::envelope(&["bob@example.net"]);
        let meta = MessageMeta::new(env, b"x");
        let mut v: serde_json::Value =
            serde_json::from_slice(&meta.encode().expect("encode")).expect("json");
        let obj = v.as_object_mut().expect("object");
        assert!(
            !obj.contains_key("delay_notice_at"),
            "an unmarked record is encoded as before"
        );
        for r in obj
            .get_mut("recipients")
            .and_then(|r| r.as_array_mut())
            .expect("recipients")
        {
            r.as_object_mut().expect("record").remove("next_hop_dsn");
        }
        let old = serde_json::to_vec(&v).expect("encode old form");
        let back = MessageMeta::decode("X", &old).expect("old record loads");
        assert_eq!(back.delay_notice_at, None);
        assert_eq!(back.recipients[0].next_hop_dsn, None);
        assert_eq!(back, meta);
        let status = br#"{"seq":0,"at":1,"index":0,"recipient":"bob@example.net","state":"pending","reply":null,"remote_mta":null,"attempts":0}"#;
        assert_eq!(
            decode_status("X", status)
                .expect("old status record loads")
                .next_hop_dsn,
            None
        );
    }

    #[test]
    fn garbage_decodes_to_corrupt_not_panic() {
        for raw in [&b""[..], b"{", b"\xff\xfe", b"{\"v\":1}", b"null"] {
            assert!(matches!(
                MessageMeta::decode("X", raw),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }
}
