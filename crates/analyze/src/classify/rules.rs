//! The ordered table of text rules: which wording of which MTA or provider means which reason.
//!
//! Every rule is data: a name, a reason (Sisimai's vocabulary), an optional category that is
//! more precise than the reason's default, the phrases (regular expressions over the
//! *lower-cased* diagnostic whose e-mail addresses were replaced by `addr` and whose wrapper
//! host names were replaced by `remote`), whether it is a weak (generic) wording, and a comment
//! naming who writes that wording. Adding a provider's wording is adding a phrase or a rule
//! (then `UPDATE_ANCHOR_TABLE=1 cargo test -p mailerd-analyze anchor_table_is_current`
//! refreshes the anchors computed in advance, `anchor_table.rs`; until then the new phrases'
//! anchors are computed at start-up, and that test fails).
//!
//! The rules are evaluated in the fixed order of standards sec. 6.2 ("Pattern notes"):
//! provider error codes (distinctive tokens such as `OFR_416`, `AUP#CDRBL`, `IB103`, `SC-001`)
//! first, then expired, loop, TLS, authentication, relay, sender not allowed, own sending
//! limit, too many recipients, too large, inbox full, domain not found, mailbox not found,
//! rate limited, temporary, blocked, content, and the weak generic wordings last. A few very
//! specific wordings are placed ahead of the group their words would otherwise fall into
//! (greylisting before "recipient address rejected", a group's spam classification before
//! SPF, a sender's refusal before "does not exist"); each says why.
//!
//! All phrases are compiled once, each on first use (see [`Compiled`]): one pass over the text
//! finds the literal anchors present, only the rules behind those anchors are tried, in table
//! order, and the first that matches wins.

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

use mailerd_types::{Category, Reason};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::meta::Regex;

/// One text rule.
pub(crate) struct Rule {
    /// A short stable name (shown in tests and debugging).
    pub name: &'static str,
    pub reason: Reason,
    /// A category more precise than [`Category::for_reason`], when the wording says more.
    pub category: Option<Category>,
    /// Regular expressions over the lower-cased, address-stripped diagnostic.
    pub patterns: &'static [&'static str],
    /// A weak wording (generic, often a wrapper of the reporting MTA): a precise enhanced
    /// status code wins over it.
    pub weak: bool,
}

use Category as C;
use Reason as R;

const fn rule(name: &'static str, reason: Reason, patterns: &'static [&'static str]) -> Rule {
    Rule {
        name,
        reason,
        category: None,
        patterns,
        weak: false,
    }
}

const fn rule_c(
    name: &'static str,
    reason: Reason,
    category: Category,
    patterns: &'static [&'static str],
) -> Rule {
    Rule {
        name,
        reason,
        category: Some(category),
        patterns,
        weak: false,
    }
}

const fn weak(name: &'static str, reason: Reason, patterns: &'static [&'static str]) -> Rule {
    Rule {
        name,
        reason,
        category: None,
        patterns,
        weak: true,
    }
}

/// The rules, in evaluation order. The first rule with a matching phrase wins.
pub(crate) static RULES: &[Rule] = &[
    // ---- Provider error codes (distinctive tokens, so they go first) --------------------
    // Orange / Wanadoo / La Poste write `OFR_416`, `OFR006_102`, `LPN007_416`, `LPN000_630`:
    // the last three digits are the error (their postmaster pages): 101-103, 401, 510, 999
    // blocked IP; 104 too many connections; 416/418 unknown recipient; 417 mailbox full;
    // 420/426 suspended; 403/405/415/421 sender refused; 505 system error; 506 spam; 514
    // too big; 517/630 policy.
    rule(
        "orange-blocked",
        R::Blocked,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_(101|102|103|401|510|999)\b"],
    ),
    rule(
        "orange-connections",
        R::TooManyConn,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_104\b"],
    ),
    rule(
        "orange-unknown",
        R::UserUnknown,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_(416|418)\b"],
    ),
    rule(
        "orange-full",
        R::MailboxFull,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_417\b"],
    ),
    rule(
        "orange-suspended",
        R::Suspend,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_(420|426)\b"],
    ),
    rule(
        "orange-sender",
        R::Rejected,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_(403|405|415|421)\b"],
    ),
    rule(
        "orange-system",
        R::SystemError,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_505\b"],
    ),
    rule(
        "orange-spam",
        R::SpamDetected,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_506\b"],
    ),
    rule(
        "orange-size",
        R::MesgTooBig,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_514\b"],
    ),
    rule(
        "orange-policy",
        R::PolicyViolation,
        &[r"\b(ofr|lpn|lpnaaa|ouk)[0-9]*_(517|630)\b"],
    ),
    // Cox `AUP#CDRBL`, `AUP#CXBL`, `IPBL0001` (IP on a block list), `URLBL011` (a URL on a
    // block list), `CXCNCT`/`CXMXRT` (connection/volume limits), `CXSNDR`/`CXSMTP` (sender),
    // `CXTHRT`/`CXMJ` (account sending suspended for suspicious activity).
    rule(
        "cox-blocked",
        R::Blocked,
        &[r"aup#(cdrbl|cxbl|cxdns)", r"\bipbl[01]{4,5}\b"],
    ),
    rule("cox-url", R::SpamDetected, &[r"\burlbl[01]{3,4}\b"]),
    rule("cox-connections", R::TooManyConn, &[r"aup#(cxcnct|cxmxrt)"]),
    rule("cox-sender", R::Rejected, &[r"aup#(cxsndr|cxsmtp)"]),
    rule("cox-account", R::SecurityError, &[r"aup#(cxthrt|cxmj)"]),
    // Spectrum (Charter) `AUP#In-1310`, `AUP#Out-1000`: 1000 and 1100-1250 blocked IP,
    // 1010-1080 and 1500-1520 sender refused, 1090 system error, 1160-1190 and 1560 policy,
    // 1260 network (IPv6), 1300-1490 and 1540-1550 connection/volume limits, 1530 too big.
    rule(
        "spectrum-blocked",
        R::Blocked,
        &[r"aup#[a-z-]*1(000|1[0-4][0-9]|150|2[0-4][0-9]|250)\b"],
    ),
    rule(
        "spectrum-sender",
        R::Rejected,
        &[r"aup#[a-z-]*1(0[1-7][0-9]|080|50[0-9]|51[0-9]|520)\b"],
    ),
    rule("spectrum-system", R::SystemError, &[r"aup#[a-z-]*1090\b"]),
    rule(
        "spectrum-policy",
        R::PolicyViolation,
        &[r"aup#[a-z-]*1(1[6-8][0-9]|190|560)\b"],
    ),
    rule("spectrum-network", R::NetworkError, &[r"aup#[a-z-]*1260\b"]),
    rule(
        "spectrum-connections",
        R::TooManyConn,
        &[r"aup#[a-z-]*1(3[0-9][0-9]|4[0-8][0-9]|490|54[0-9]|550)\b"],
    ),
    rule("spectrum-size", R::MesgTooBig, &[r"aup#[a-z-]*1530\b"]),
    // Gmail relaying for a Workspace domain: `... (state 15)`, `(state 17)`, `(state 18)` mean the
    // remote server refused after DATA, which Gmail reports as a filter's refusal.
    rule("gmail-state-data", R::Filtered, &[r"\(state 1[578]\)"]),
    // Outlook.com/Hotmail `550 SC-001 ... Unfortunately, messages from ... weren't sent`
    // (SC-00x, DY-00x dynamic IP, OU-00x, MC-00x: the sending IP is blocked) and `421 RP-001
    // ... We have limits for how many messages can be sent per hour` (RP-00x: rate limits).
    rule("hotmail-blocked", R::Blocked, &[r"\b(sc|dy|ou|mc)-00\d\b"]),
    rule("hotmail-rate", R::Speeding, &[r"\brp-00\d\b"]),
    // GoDaddy `IB103`...`IB113` (blocked IP: CSI, Spamhaus, reverse DNS, too many spam or
    // invalid recipients), `IB007`/`IB504`/`IB510`/`IB607` (session and hourly limits), `IB212`
    // (spam), `IB401` (authentication), `IB501`/`IB502`/`IB506`/`IB508` (From: refused),
    // `IB705` (virus).
    rule("godaddy-blocked", R::Blocked, &[r"\bib1(0[3-68]|1[0-3])\b"]),
    rule(
        "godaddy-limits",
        R::TooManyConn,
        &[r"\bib(007|504|510|607)\b"],
    ),
    rule("godaddy-spam", R::SpamDetected, &[r"\bib212\b"]),
    rule("godaddy-auth", R::SecurityError, &[r"\bib401\b"]),
    rule("godaddy-sender", R::Rejected, &[r"\bib50[1268]\b"]),
    rule("godaddy-virus", R::VirusDetected, &[r"\bib705\b"]),
    // NetEase (163.com, 126.com, yeah.net) `554 DT:SPM 163 mx3,... http://mail.163.com/help/
    // help_spam_16.htm`: the content was judged spam.
    rule("netease-spam", R::SpamDetected, &[r"\bdt:spm\b"]),
    // au/KDDI (ezweb) answers `550 : User unknown` (no address) when the recipient's filter
    // refused the sender, and `550 <addr>: User unknown` when the mailbox does not exist.
    // The second form is read only for au/KDDI's servers (see `decide`): elsewhere a reply that
    // names the address says nothing about the stage.
    rule("kddi-filtered", R::Filtered, &[r"\b550 : user unknown"]),
    // ---- Delivery expired -------------------------------------------------------------
    // Exchange/Microsoft 365 `550 4.4.7 QUEUE.Expired; message expired`, Amazon SES
    // `Message expired: unable to deliver in 840 minutes`, Exim `retry timeout exceeded`,
    // Sendmail `Message could not be delivered for 5 days`, Courier/others `envelope expired`,
    // Exim `all hosts for 'example.net' have been failing for a long time (and retry time
    // not reached)`,
    // Notes `not delivered within 0 days and 1 hours`, Postfix `delivery time expired`, dma
    // `Could not deliver for the last 432000 seconds. Giving up.` (its 5-day limit), Haraka
    // `Too many failures (Tried all MXs)` (`Status: 5.1.2 (550 Tried all MXs example.jp)`:
    // no MX took a connection, and its retries are spent).
    rule(
        "expired",
        R::Expired,
        &[
            r"queue\.expired",
            r"could not deliver for the last \d+ seconds",
            r"tried all mxs",
            r"message expired",
            r"retry timeout exceeded",
            r"retry time not reached for any host",
            r"delivery time expired",
            r"envelope expired",
            r"could not be delivered for (more than )?\d+ (days|hours)",
            r"was not delivered within \d+ days",
            r"not delivered within \d+ (days|hours)",
            r"unable to deliver in \d+ minutes",
            r"(hosts|host) (for \S+ )?(have|has) been failing for a long time",
            r"message timed out",
            r"maximum time in queue",
            r"delivery attempts (have )?(expired|timed out)",
            r"could not find a gateway for",
            r"delivery attempts will continue",
            r"has not been collected after",
            r"expired after sitting in (the )?queue",
            r"not reachable within the allowed queue period",
            r"could not be delivered for more than",
        ],
    ),
    // ---- Mail loop --------------------------------------------------------------------
    // Gmail `554 5.4.6 Message exceeded 50 hops, this may indicate a mail loop`, Postfix
    // `mail forwarding loop`, Exim `Too many "Received" headers`, Lotus/others
    // `Maximum hop count exceeded. Message probably in a routing loop`, Sendmail
    // `Too many hops`. Sisimai calls these `networkerror`.
    rule_c(
        "loop",
        R::NetworkError,
        C::MailLoop,
        &[
            r"mail (forwarding )?loop",
            r"routing loop",
            r"loop (was )?detected",
            r"loops back to myself",
            r"too many hops",
            r"hop count exceeded",
            r"exceeded \d+ hops",
            r#"too many "?received"? headers"#,
            r"aliasing/forwarding loop",
            r"would create a mail loop",
            r"loop was found in the mail exchanger",
            r"forwarding loop count",
            r"message looping",
        ],
    ),
    // ---- Greylisting (unambiguous, and written as a "recipient address rejected") --------
    // Postfix policy servers `450 4.2.0 <bob@example.org>: Recipient address rejected:
    // Greylisted`, `Greylisting in action, please come back later`.
    rule(
        "greylisted",
        R::SystemError,
        &[
            r"grey ?list(ed|ing)?",
            r"gray ?list(ed|ing)?",
            r"greylisting in action",
            r"try again in \d+ (seconds|minutes)",
        ],
    ),
    // ---- Message format (specific wordings that also mention spam) --------------------
    // Gmail `This message is not RFC 5322 compliant. There are multiple Subject headers.
    // To reduce the amount of spam ...`, Amazon SES `Duplicate header 'DKIM-Signature'`.
    // Placed before authentication and spam because the text names DKIM or spam only in
    // passing.
    rule_c(
        "not-rfc-compliant",
        R::NotCompliantRfc,
        C::ContentRejected,
        &[
            r"not rfc ?(5322|2822|822) compliant",
            r"rfc ?(5322|2822) (compliance|violation)",
            r"duplicate header",
            r"multiple (subject|from|to|date|message-id|sender) headers",
            r"there are multiple [a-z-]+ headers",
            r"bare (lf|line ?feed)s? (are|is)? ?not allowed",
            r"message contains bare",
            // Gmail `550-5.7.1 Messages missing a valid messageId header are not accepted`, and
            // the help link of its RFC 5322 refusals (`?p=RfcMessageNonCompliant`)
            r"missing (a )?valid message-?id",
            r"p=rfcmessagenoncompliant",
        ],
    ),
    // ---- TLS required -------------------------------------------------------------------
    // Gmail `421-4.7.0 TLS required for RCPT domain`, RFC 3207 `530 5.7.0 Must issue a
    // STARTTLS command first`, Microsoft `4.7.321 starttls-not-supported`, `5.7.325
    // certificate-host-mismatch`, DANE `tlsa-invalid`, MTA-STS policy failures, a certificate
    // the client could not verify where it must.
    rule(
        "tls",
        R::FailedStartTls,
        &[
            r"must issue a starttls command first",
            r"starttls",
            r"tls (is )?required",
            r"requiretls",
            r"encryption required",
            r"tls-required",
            r"requires? (a )?(secure|encrypted|tls) connection",
            r"certificate-(host-mismatch|expired|not-trusted)",
            r"tlsa-invalid",
            r"dane (validation|verification)",
            r"mta-sts",
            r"tls handshake (failed|failure)",
            r"requires? (encryption|tls)",
            r"route requires (encryption|tls|high-strength)",
            // Postfix `Server certificate not trusted`, `Server certificate not verified`,
            // OpenSSL `certificate verify failed`.
            r"server certificate not (trusted|verified)",
            r"certificate verif(y|ication) failed",
        ],
    ),
    // ---- Spam classification of a group (Google Groups), mentions SPF in its advice -------
    // Google Groups `Your email to group ... was rejected due to spam classification. ...
    // Set up SPF and DKIM`.
    rule(
        "group-spam-classification",
        R::SpamDetected,
        &[
            r"rejected due to spam classification",
            r"failed several antispam checks",
            r"spam (pattern|contents)",
        ],
    ),
    // ---- Gmail's spam-rate limits (name the SPF/DKIM domain only as what is limited) ------
    // Gmail `421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating
    // from your SPF domain [example.com 10]. ... has been temporarily rate limited`, and the
    // permanent `550-5.7.1 Our system has detected an unusual rate of unsolicited mail
    // originating from your IP address. ... has been blocked`: the sender's reputation, not
    // its authentication (before `auth`, which the word SPF would take).
    rule(
        "unsolicited-rate-blocked",
        R::BadReputation,
        &[r"unusual rate of unsolicited mail.{0,200}\bblocked\b"],
    ),
    rule(
        "unsolicited-rate",
        R::Speeding,
        &[r"unusual rate of unsolicited mail"],
    ),
    // ---- Authentication: SPF / DKIM / DMARC -------------------------------------------------
    // Gmail `5.7.26 This mail has been blocked because the sender is unauthenticated`,
    // `Unauthenticated email from ... is not accepted due to domain's DMARC policy`,
    // `5.7.1 This message does not have authentication information or fails to pass
    // authentication checks`, Yahoo `5.7.9 ... sender is unauthenticated`, Microsoft
    // `5.7.509 ... does not pass DMARC verification`, iCloud `rejected due to ...'s DMARC
    // policy`, Mail.ru/Zoho `DMARC policy`, Postfix policy servers `SPF fail`.
    rule(
        "auth",
        R::AuthFailure,
        &[
            r"dmarc",
            r"\bdkim\b",
            r"\bspf\b",
            r"sender policy framework",
            r"domainkeys",
            r"unauthenticated (e-?mail|mail|message)",
            r"sender is unauthenticated",
            // Outlook.com (2025) `550 5.7.515 Access denied, sending domain ... doesn't meet the
            // required authentication level`.
            r"(does not|doesn't) meet the required authentication level",
            r"(does not have|doesn't have|without) authentication information",
            r"fails? to pass authentication",
            r"authentication checks? (failed|did not pass)",
            r"multiple authentication checks",
            r"not (properly )?aligned",
            r"is not authorized to send (mail|email|e-mail) (on behalf|for)",
            r"is not allowed to send (e-?mail |mail )?from",
            r"not permitted to send (e-?mail |mail )?from",
        ],
    ),
    // Sendmail's `check_rcpt` `550 5.7.1 <addr>... Relaying denied. IP name lookup failed
    // [ip]`: relaying refused, the failed lookup only says why the client is not known;
    // before the reverse-DNS rule below, which would take the second sentence.
    rule(
        "relay-denied-unknown-client",
        R::NoRelaying,
        &[r"relaying denied\. ip name lookup failed"],
    ),
    // ---- Reverse DNS (Sisimai `requireptr`) -------------------------------------------------
    // Gmail `5.7.25 The IP address sending this message does not have a PTR record setup`,
    // Comcast `must have a PTR record with a valid Reverse DNS entry`, GMX `Bad DNS PTR
    // resource record`, Hotmail `domain [...] mismatches client ip`, many `No PTR Record
    // found`, `Reverse DNS failed`, `invalid RDNS record`, `Fix reverse DNS`.
    rule_c(
        "ptr",
        R::RequirePtr,
        C::SenderNotAuthenticated,
        &[
            r"\bptr\b",
            r"reverse dns",
            r"reverse lookup",
            r"reverse-lookup",
            r"\brdns\b",
            r"reverse (dns )?(name|hostname) (lookup )?(failed|mismatch)",
            r"mismatches client ip",
            r"unverifyable sending ips",
            // Postfix reject_unknown_client_hostname / reject_unknown_reverse_client_hostname
            r"cannot find your (reverse )?hostname",
            r"(ip|address) name lookup failed",
            r"no (valid )?reverse",
            r"without (a )?valid (sender domain|reverse)",
            r"hostname (does not|doesn't) resolve",
        ],
    ),
    // ---- Relay denied -------------------------------------------------------------------------
    // Exchange `550 5.7.1 Unable to relay`, Postfix `Relay access denied`, Sendmail
    // `Relaying denied`, `This system is not configured to relay mail`, Exim `relay not
    // permitted`, qmail `sorry, that domain isn't in my list of allowed rcpthosts`,
    // Exim `550 Insecure Mail Relay`, Amazon SES `Email address is not verified` (sending
    // through SES with an unverified identity: SES refuses to relay).
    rule(
        "relay",
        R::NoRelaying,
        &[
            r"relay(ing)? (access )?(denied|not permitted|prohibited|not allowed|refused|disallowed)",
            r"unable to relay",
            r"not (permitted|allowed|authorized|configured) to relay",
            r"we do not relay",
            r"(does not|doesn't|don't|do not) relay",
            r"we are not a gateway",
            r"(don't|do not) handle mail for",
            r"insecure mail relay",
            r"no relaying",
            r"isn't in my list of allowed rcpthosts",
            r"not in my list of allowed rcpthosts",
            r"address is not verified\. the following identities failed",
            r"email address is not verified",
            r"relay (not )?(permitted|allowed) (for|from)",
            r"use me .{0,80}as a relay",
            r"not been configured to let .{0,40}(do this|relay)",
            r"not local host",
            r"relaying mail to",
            r"not an open relay",
            r"requires authentication when attempting to send to a non-local",
            r"not permitted to relay through",
            r"not allowed to relay through",
        ],
    ),
    // Gmail `550-5.7.1 [192.0.2.1] The IP you're using to send mail is not authorized to send
    // email directly to our servers. Please use the SMTP relay at your service provider
    // instead`: a dynamic or residential address refused (Sisimai: blocked). Placed before
    // "sender not allowed", whose `not authorized to send` it shares.
    rule(
        "gmail-direct-ip",
        R::Blocked,
        &[
            r"ip you're using to send (e-?mail|mail) is not authorized",
            r"use the smtp relay at your service provider",
        ],
    ),
    // ---- Sender not allowed (group / recipient restrictions) ------------------------------
    // Microsoft 365 `5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup`, `5.7.134-136`,
    // `RESOLVER.RST.NotAuthorized`, Google Groups `you may not have permission to post
    // messages to the group`, Mailman/fml `You are not a member of this mailing list`,
    // Gmail `'Send mail as' ... misconfigured`.
    rule_c(
        "sender-not-allowed",
        R::Rejected,
        C::SenderNotAllowed,
        &[
            r"sendernotauthenticatedfor(group|user)",
            r"sender not authenticated for group",
            r"resolver\.rst\.(notauthorized|restrictedtorecipientspermission|sendernotauthenticated)",
            r"not in (the )?allowed[- ]senders",
            // Microsoft 365 `This group only accepts messages from people in its organization`
            r"only accepts (mail|messages|e-?mail) from",
            r"(not have|no) permission to post",
            r"not (allowed|authorized|permitted) to (post|send|email|e-mail|write)",
            r"not a member of (this|the) (mailing )?(list|group)",
            r"you are not a member",
            r"delivery restriction",
            r"send mail as",
            r"accepts mail only from (approved|authorized)",
            r"the group you tried to contact",
            // The same Google Groups notice in its other languages.
            r"die gruppe, die sie kontaktieren",
            r"بأن المجموعة",
            r"η ομάδα με την οποία επιχειρείτε",
            r"گروهی که می‌خواهید",
            r"שהקבוצה שניסית",
            r"जिस समूह से संपर्क",
            r"sender was not authenticated",
        ],
    ),
    // ---- Own sending limit / outbound account blocked -----------------------------------
    // Gmail `550 5.4.5 Daily sending quota exceeded` / `Daily user sending quota exceeded` /
    // `Daily SMTP relay limit exceeded for user`, Microsoft `5.1.90 Your message can't be sent
    // because you've reached your daily limit for message recipients`, `5.2.2 Submission
    // quota exceeded` (Sisimai: toomanyconn); Microsoft `550 5.1.8 Access denied, bad outbound
    // sender` (the account is blocked from sending; Sisimai: rejected); Exim relays `You've
    // reached your daily relay quota` (Sisimai: blocked).
    rule_c(
        "own-sending-limit",
        R::TooManyConn,
        C::SendingLimit,
        &[
            r"daily (user )?sending (quota|limit)",
            r"reached (your|the|its) daily (sending )?(limit|quota)",
            r"sending (quota|limit) (exceeded|reached)",
            // Zoho `550 5.4.6 Unusual sending activity detected. Please try after sometime`
            // (the sender's own account, held back; not a routing loop whatever 5.4.6 says).
            r"unusual sending activity",
            r"submission quota",
            r"(daily|peak) smtp relay limit",
        ],
    ),
    rule_c(
        "own-account-blocked",
        R::Rejected,
        C::SendingLimit,
        &[
            r"bad outbound sender",
            r"outbound (spam|sending) (detected|limit)",
        ],
    ),
    rule_c(
        "own-relay-quota",
        R::Blocked,
        C::SendingLimit,
        &[r"daily relay quota"],
    ),
    // qmail `Requested action not taken: mailbox unavailable (not enough free space)`: the
    // server's disk, not the mailbox (placed before "mailbox unavailable").
    rule(
        "qmail-disk-full",
        R::SystemFull,
        &[r"mailbox unavailable \(not enough free space\)"],
    ),
    // ---- Too many recipients ------------------------------------------------------------
    // Gmail `452-4.5.3 Your message has too many recipients`, Postfix `4.5.3 Too many
    // recipients`, Exchange `5.5.3 Too many recipients`. Sisimai's name for X.5.3 is
    // `toomanyconn`.
    rule_c(
        "too-many-recipients",
        R::TooManyConn,
        C::TooManyRecipients,
        &[
            r"too many recipients",
            r"too many rcpt",
            r"recipient (count )?limit (exceeded|reached)",
            r"number of recipients (exceeds|exceeded)",
            r"max(imum)? (number of )?recipients (exceeded|reached)",
            r"resolver\.adr\.reciplimit",
        ],
    ),
    // ---- Mailbox size (inbox full wording that names a size) ---------------------------
    // Placed before "too large": `mailbox size limit exceeded`, `User mailbox exceeds
    // allowed size`, `mailbox exceeds its size limit` are about the mailbox, not the message.
    rule(
        "mailbox-size",
        R::MailboxFull,
        &[
            r"mailbox (size|storage) limit",
            r"mailbox exceeds (the )?(allowed|its|maximum)",
            r"mailbox (has )?exceeded (the )?(size|its|storage|maximum)",
            r"exceeded (the )?mailbox size",
            r"mail file size exceeds the maximum size allowed for mail delivery",
            r"mailbox size exceeded",
            r"mailbox (is )?over (its )?size",
            // Mercury/32 `Mailbox bob is over its storage limit`, `storage limit exceeded`.
            r"over (its|the|his|her|their) (storage|disk|size) limit",
            r"storage (limit|space) (exceeded|reached)",
        ],
    ),
    // ---- Too large ----------------------------------------------------------------------
    // Gmail `552-5.3.4 Your message exceeded Google's message size limits`, Postfix
    // `552 5.3.4 Message size exceeds fixed limit`, Exchange `Message size exceeds fixed
    // maximum message size`, `RecipSizeLimit`, 1&1 `Mail size limit exceeded`, Exim
    // `Line limit exceeded`, Amazon SES `Message length exceeds limit set by recipient`
    // (with X.2.3 this becomes `exceedlimit`, see the status refinement).
    rule(
        "too-large",
        R::MesgTooBig,
        &[
            r"message (size|length) (exceeds|exceeded|is over|too)",
            r"message (is )?too (big|large|long)",
            r"mail (is )?too (big|large)",
            r"(message|mail) size limit",
            r"message size limits?",
            r"exceeds? (the )?(maximum|max|fixed|allowed)? ?(message )?size",
            r"size (limit )?exceeded",
            r"exceeds (the )?size limit",
            r"recipsizelimit",
            r"maxmessagesize",
            r"line limit exceeded",
            r"too many attachments",
            r"length exceeds (the )?(administrative )?limit",
            r"message length exceeds",
            r"larger than (the )?(allowed|maximum|max)",
            r"exceeded (the )?(maximum|max) (message )?size",
            r"message file too big",
            r"message too large for",
            r"taille limite du message",
            r"exceeded maximum inbound message size",
            r"message header size exceeds",
            // Localised notices (French, German, Spanish, Italian, Portuguese, Dutch): `Le message est
            // trop volumineux`, `Die Nachricht ist zu groß`, `El mensaje es demasiado grande`, ...
            r"message (est )?trop (volumineux|gros|grand)",
            r"taille (maximale |limite )?(du message )?(est )?dépassée",
            r"nachricht (ist )?zu gro(ß|ss)",
            r"e-?mail (ist )?zu gro(ß|ss)",
            r"mensaje (es )?demasiado (grande|largo)",
            r"messaggio (è |e' )?troppo grande",
            r"mensagem (é |e )?(muito|demasiado) grande",
            r"bericht is te groot",
            // Polish `Wiadomość jest za duża`, Czech `Zpráva je příliš velká`, Turkish `İleti çok
            // büyük`, Swedish `Meddelandet är för stort`, Danish/Norwegian `Meddelelsen er for
            // stor` / `Meldingen er for stor`, Finnish `Viesti on liian suuri`, Hungarian `Az
            // üzenet túl nagy`.
            r"wiadomość (jest )?(za|zbyt) duża",
            r"zpráva (je )?příliš velká",
            // (`İleti`: the dotted capital İ is not lower-cased with ASCII, so the word is matched from its second letter)
            r"(leti|mesaj) (çok|fazla) büyük",
            r"meddelandet (är )?för stort",
            r"(meddelelsen|meldingen) (er )?for stor",
            r"viesti (on )?liian (suuri|iso)",
            r"üzenet (túl|nagyon) nagy",
            // Japanese, Chinese, Korean: `メールのサイズが大きすぎます`, `邮件大小超过限制`, `메일 크기가 너무 큽니다`.
            r"サイズが大きすぎ",
            r"サイズ(の)?(制限|上限)を超え",
            r"(邮件|郵件)(过大|過大|太大)",
            r"(邮件|郵件)大小(超过|超過)",
            r"크기가 너무 큽",
            r"크기 제한을 초과",
        ],
    ),
    // ---- Inbox full ------------------------------------------------------------------------
    // Gmail `The email account that you tried to reach is over quota`, `The recipient's
    // inbox is out of storage space`, Microsoft `QuotaExceededException`, `mailbox full`,
    // iCloud `user is over quota`, Dovecot `Quota exceeded (mailbox for user is full)`,
    // qmail `disk quota exceeded`, Sendmail `Mailbox Full`, Yahoo `This account is over
    // quota`, Domino `User's mailbox is full`, Courier `mailfolder is full`, Gmail `550
    // 5.7.1 ... email quota exceeded`.
    rule(
        "inbox-full",
        R::MailboxFull,
        &[
            r"over ?quota",
            r"quota ?exceeded",
            r"exceeded (his|her|their|the|its)? ?(storage|disk|mailbox)? ?quota",
            r"quota (has been |was )?(reached|full|exceeded)",
            r"(mailbox|inbox|mail ?box|mailfolder|mail folder|mail-box) (is |was )?(full|over)",
            r"mailbox full",
            r"out of storage space",
            // (`insufficient system storage` is the server's disk: system-full)
            r"insufficient (disk|mailbox) (storage|space)",
            r"exceeded storage allocation",
            r"user has exceeded",
            r"would exceed (the )?.{0,30}(storage|quota|mailbox)",
            r"not enough (disk|storage) space",
            r"(disk|storage|mailbox) quota",
            r"number of messages in .{0,30}mailbox exceeded",
            r"account is full",
            r"is full and cannot accept",
            r"mailbox is (temporarily )?(full|over)",
            r"too many messages in (the )?(mailbox|folder)",
            r"maildir (over|quota)",
            r"storage quota",
            r"boite du destinataire pleine",
            r"disc quota",
            r"does not have enough space",
            r"full mailbox",
            r"quota violation",
            r"reached (the |its )?disk quota",
            r"space has been used up",
            r"too many messages on the server",
            r"too much mail data",
            r"exceeding (its|their|the) (mailbox )?quota",
            r"exceeding receiving limits",
            r"mailbox exceeded the local limit",
            r"exceeded (its|the) disk space limit",
            r"quota exceed",
            r"postfach (ist )?voll",
            r"boîte (aux lettres )?pleine",
            r"boite (aux lettres )?pleine",
            r"buzón (está )?lleno",
            r"casella (di posta )?piena",
            r"quota überschritten",
            r"speicherplatz",
            // Localised notices: Exchange `Das Postfach des Empfängers ist voll`, `La boîte aux lettres du
            // destinataire est pleine`, `El buzón del destinatario está lleno`, `La casella postale del
            // destinatario è piena`, `A caixa de correio do destinatário está cheia`; `quota dépassé`,
            // Dutch `postvak is vol`, Russian `ящик переполнен`, `превышена квота`.
            r"postfach.{0,40}(ist )?voll\b",
            r"boîte (aux lettres|de réception|mail|e-mail)?.{0,40}(est )?pleine",
            r"boite (aux lettres|de reception|mail|e-mail)?.{0,40}(est )?pleine",
            r"quota (de stockage )?(est )?dépassé",
            r"dépassement (de|du) quota",
            r"buzón.{0,40}(está )?lleno",
            r"cuota .{0,20}(excedida|superada)",
            r"casella.{0,40}(è )?piena",
            r"quota .{0,20}superata",
            r"caixa (de correio|postal|de entrada).{0,40}(cheia|lotada)",
            r"(cota|quota) .{0,20}excedida",
            r"(postvak|mailbox|brievenbus).{0,40} vol\b",
            r"переполнен",
            // Polish `Skrzynka pocztowa adresata jest pełna`, Czech/Slovak `Schránka příjemce je
            // plná`, Turkish `Alıcının posta kutusu dolu`, Swedish `Mottagarens brevlåda är full`,
            // Danish/Norwegian `Modtagerens postkasse er fuld` / `Postkassen er full`, Finnish
            // `Vastaanottajan postilaatikko on täynnä`, Hungarian `A címzett postafiókja megtelt`.
            r"skrzynk(a|i)( \S+){0,3} (jest )?(pełna|przepełniona)",
            r"schránka( \S+){0,3} (je )?(plná|přeplněná|preplnená)",
            r"posta kutusu (dolu|doldu)",
            r"(brevlåda|brevlådan|postlåda|postlådan|inkorg|inkorgen)( \S+){0,2} (är )?full",
            r"(postkasse|postkassen|indbakke|innboks)( \S+){0,2} (er )?(fuld|full)",
            r"postilaatikko( \S+){0,2} (on )?täynnä",
            r"postafiók(ja)?( \S+){0,2} (megtelt|tele)",
            r"превышена квота",
            r"квота превышена",
            // Japanese, Chinese, Korean: `メールボックスがいっぱいです`, `容量を超えています`, `收件人邮箱已满`,
            // `邮箱空间不足`, `메일함이 가득 찼습니다`, `메일함 용량이 초과되었습니다`.
            r"メールボックスが(いっぱい|一杯|満杯)",
            r"(メールボックス|メール)の?容量(を超え|オーバー|超過|が不足)",
            r"(邮箱|郵箱|信箱)(已满|已滿|空间不足|空間不足|容量不足)",
            r"메일함이 (가득|꽉)",
            r"(메일함|사서함)\s?용량(이)? 초과",
        ],
    ),
    // ---- A server that refuses mail *from* someone (placed before "does not accept mail") ----
    // `This server does not accept mail from ...`, `we do not accept mail from dynamic IPs`.
    rule(
        "accept-from-ip",
        R::Blocked,
        &[
            r"accept (e-?mail|mail|messages) from (dynamic|your ip|ip|hosts with|servers without|residential)",
            r"(does not|doesn't) accept e-?mail over ipv6",
        ],
    ),
    rule(
        "accept-from",
        R::Rejected,
        &[r"(does not|doesn't|do not|don't|will not|won't) accept (e-?mail|mail|messages) from"],
    ),
    // ---- Domain accepts no mail (null MX, RFC 7505) -------------------------------------
    // RFC 7505 `556 5.1.10 Recipient address has null MX`, Gmail `The domain ... doesn't
    // receive email according to the administrator: returned Null MX`, Postfix `an MX or SRV
    // record indicated no SMTP service`, `Host does not accept mail`, qmail `Sorry, I
    // couldn't find a mail exchanger or IP address`, `No MX found for domain`.
    rule_c(
        "null-mx",
        R::NotAccept,
        C::DomainNotFound,
        &[
            r"null mx",
            r"(does not|doesn't|do not) (accept|receive) (e-?mail|mail)",
            r"accepts? no mail",
            r"indicated no smtp service",
            r"couldn't find a mail exchanger",
            r"no mx (record )?(found|for)",
            r"no mx record",
            r"name server: \.: host not found",
            r"no route for current request",
            r"no host found for existing smtp connection",
        ],
    ),
    // ---- DNS trouble reported by the sending MTA (temporary, Sisimai `networkerror`) -------
    // Gmail `DNS Error: ... DNS type 'mx' lookup of ... responded with code NXDOMAIN` (Gmail
    // reports this as a temporary 4.0.0 error), Postfix `Host not found, try again`,
    // `Name service error ... Malformed or unexpected name server reply`, qmail `CNAME
    // lookup failed temporarily`.
    rule_c(
        "dns-nxdomain-gmail",
        R::NetworkError,
        C::DomainNotFound,
        &[
            r"dns error: .{0,120}nxdomain",
            r"dns type '?mx'? lookup of .{0,80}nxdomain",
        ],
    ),
    // dma (DragonFly Mail Agent) `DNS lookup failure: host example.jp not found`, its one
    // wording for a failed lookup of the recipient's domain; it bounces at once when the
    // lookup failed for good (the name does not exist) and retries a temporary failure.
    rule_c(
        "dns-host-not-found-dma",
        R::HostUnknown,
        C::DomainNotFound,
        &[r"dns lookup failure: host \S+ not found"],
    ),
    rule(
        "dns-temporary",
        R::NetworkError,
        &[
            r"dns error",
            r"host not found, try again",
            r"malformed (or unexpected )?name server reply",
            r"lookup failed temporarily",
            r"temporary (dns|name service|lookup) (failure|error)",
            r"dns (lookup|resolution) (failure|failed|error|timeout|timed out)",
            r"servfail",
            r"network error on destination",
            r"dns records for the destination computer could not be found",
            r"host name lookup failure",
            r"unable to resolve route",
            r"dns lookup failed",
            r"smtpsend\.dns\.mxloopback",
            r"although i'm listed as a best-preference mx",
            r"could not contact dns servers",
        ],
    ),
    // ---- Sender refused (Sisimai `rejected`: the envelope sender, not the recipient) ----------
    // Sendmail `553 5.1.8 Domain of sender address ... does not exist`, `501 5.1.8 Sender
    // address rejected`, Postfix `Sender address rejected`, `can't determine Purported
    // Responsible Address`, GoDaddy `From: Domain is invalid`, Exim `sender verify failed`,
    // `sender domain must exist`, `sender was rejected`, `not a registered gateway user`.
    // Placed before domain/mailbox not found, whose words (`does not exist`) these share.
    rule(
        "sender-refused",
        R::Rejected,
        &[
            r"sender address rejected",
            r"domain of sender address",
            r"sender (domain|address) (must exist|does not exist|is invalid|invalid|unknown|not found)",
            r"sender (verify|verification) failed",
            r"sender (is )?rejected",
            r"sender (is )?(blacklisted|denied|not allowed|refused)",
            r"purported responsible address",
            r"from: domain is invalid",
            r"invalid sender",
            r"sender.{0,20}invalid",
            r"unknown sender",
            r"sending to/from an address that has been blacklisted",
            r"address that has been blacklisted",
            r"envelope sender",
            r"mail from .{0,40}(rejected|refused|not accepted)",
            r"not a registered gateway user",
            r"return path .{0,30}(invalid|rejected)",
            r"sender (mx|domain) (has no|not found)",
            r"your (e-?mail|mail) address .{0,20}(blocked|rejected|banned)",
            r"address (is )?(on|in) (our|my) (deny|block|black) ?list",
            r"mail_from\]",
            r"administrative prohibition",
            r"\bbatv\b",
            r"backscatter protection",
            r"isn't on the recipient's list of senders",
            r"bogus mail from",
            r"bouncedeny",
            r"empty envelope senders? not allowed",
            r"null sender is not allowed",
            r"no third-party dsns",
            r"mail from not owned by user",
            r"sender is spammer",
            r"sender not pre-approved",
            r"sender domain is empty",
            r"unroutable sender address",
            r"returned mail not accepted here",
            r"unsigned dsn",
            r"emetteur invalide",
            r"senderfilterconfig",
            r"to submit messages to this e-?mail system has been rejected",
            r"sender email address rejected",
            r"sender is in my black ?list",
            r"sender address has been blacklisted",
            r"fully qualified email address required",
            r"envelope blocked",
            r"permissions? to send as",
            r"sender denied",
            r"from unregistered domains?",
            r"mail sending denied",
        ],
    ),
    // ---- Domain not found -------------------------------------------------------------------
    // Gmail `553-5.1.2 We weren't able to find the recipient domain`, Postfix `Host or
    // domain name not found. Name service error ... Host not found`, Sendmail `Host
    // unknown (Authoritative answer from name server)`, Exim `Unrouteable address`, qmail
    // `Sorry, I couldn't find any host named`, Hotmail `the domain is not reachable`,
    // `Domain does not exist`, `No such domain`.
    rule_c(
        "domain-not-found",
        R::HostUnknown,
        C::DomainNotFound,
        &[
            r"host or domain name not found",
            r"name service error for .{0,100}host not found",
            r"host not found",
            r"host unknown",
            r"unknown host",
            r"domain (name )?(does not exist|doesn't exist|not found|not exist|is not reachable|unknown)",
            r"no such domain",
            r"unrouteable (mail )?(address|domain)",
            r"unroutable (mail )?(address|domain)",
            r"find (any|the) host named",
            r"find the recipient domain",
            r"recipient domain .{0,20}(not found|does not exist|invalid)",
            r"nxdomain",
            r"no (such|valid) (host|domain)",
            r"domain (is )?(invalid|not valid)",
            r"unknown domain",
            r"invalid domain( name)? in (the )?(recipient|address)",
            r"does not exist in dns",
            r"^[a-z0-9.-]+\.[a-z]{2,} does not exist",
            r"\d{3} [a-z0-9.-]+\.[a-z]{2,} does not exist",
            r"account or domain may not exist",
            r"mail domain mentioned in email address is unknown",
            r"name or service not known",
            r"recipient address rejected: unknown domain",
            r"recipient domain must exist",
            r"all host address lookups failed permanently",
            r"all relevant mx records point to non-existent hosts",
            r"smtpsend\.dns\.nonexistentdomain",
            r"dns error: domain name not found",
            r"dns server returned answer with no data",
            // Localised notices: `Domaine introuvable`, `Le domaine ... n'existe pas`, `Domain existiert
            // nicht`, `El dominio no existe`, `Dominio inesistente`, `O domínio não existe`, `Domein
            // bestaat niet`. One word at most between the noun and the verdict, so that `el usuario no
            // existe en el dominio` stays a mailbox.
            r"domaine (\S+ )?(est )?(introuvable|inconnu|inexistant)",
            r"domaine (\S+ )?n(’|')existe pas",
            r"domain (\S+ )?(existiert nicht|wurde nicht gefunden|ist unbekannt)",
            r"unbekannte domain",
            r"dominio (\S+ )?(no existe|inexistente|desconocido|inesistente|non esiste|sconosciuto)",
            r"domínio (\S+ )?(não existe|inexistente|desconhecido)",
            r"domein (\S+ )?(bestaat niet|is onbekend|niet gevonden)",
            // Japanese, Chinese, Korean: `ドメインが存在しません`, `域名不存在`, `도메인이 존재하지 않습니다`.
            r"ドメイン(は|が)(存在しません|見つかりません)",
            r"存在しないドメイン",
            r"域名(不存在|无法解析|無法解析)",
            r"도메인이 존재하지 않",
            r"존재하지 않는 도메인",
            // Polish `Domena nie istnieje`, Czech/Slovak `Doména neexistuje`, Turkish `Alan adı
            // bulunamadı`, Swedish/Danish/Norwegian `Domänen finns inte` / `Domænet findes ikke`
            // / `Domenet finnes ikke`, Finnish `Verkkotunnusta ei ole olemassa`, Hungarian `A
            // domain nem létezik`.
            r"domena (\S+ )?nie istnieje",
            r"doména (\S+ )?neexistuje",
            r"alan adı (\S+ )?(bulunamadı|mevcut değil)",
            r"(domänen|domænet|domenet) (\S+ )?(finns inte|findes ikke|finnes ikke)",
            r"verkkotunnusta (\S+ )?ei (ole olemassa|löydy)",
            r"domain (\S+ )?nem létezik",
        ],
    ),
    // ---- The recipient's own filter (Sisimai `filtered`) ------------------------------------
    // Mail.ru/others `message rejected due to user rules`, Facebook `refused due to recipient
    // preferences`, AOL `the recipient is only accepting mail from specific email addresses`,
    // `you have been blocked by the recipient`, Willcom `refuse to receive mail`, AT&T
    // `has restricted SMS e-mail`, SendGrid `Bounced Address` (suppressed earlier).
    rule_c(
        "recipient-filter",
        R::Filtered,
        C::MessageBlocked,
        &[
            r"user rules",
            r"recipient preferences",
            r"only accepting mail from specific",
            r"is not accepting any mail",
            r"blocked by the recipient",
            r"refuse to receive mail",
            r"restricted sms",
            r"this account is protected by",
            r"bounced address",
            r"user reject",
            r"not found recipient account",
            r"mailbox rules",
            r"recipient'?s? (mailbox )?rules",
            r"rejected by recipients?\b",
        ],
    ),
    // ---- Mailbox has moved ---------------------------------------------------------------------
    // iCloud/Sendmail `550 5.1.6 recipient no longer on server`, qmail-ldap `551 not our
    // customer`, RFC 5321 `551 User not local; please try <forward-path>`, `has moved`.
    rule(
        "has-moved",
        R::HasMoved,
        &[
            r"no longer on (this )?server",
            r"not our customer",
            r"not our user",
            r"user not local",
            r"(mailbox|address|user|recipient) has (been )?moved",
            r"no forwarding address",
            r"address (has )?changed",
        ],
    ),
    // ---- Mailbox suspended / disabled / inactive -------------------------------------------
    // Gmail `The email account that you tried to reach is disabled` / `is inactive`, iCloud
    // `inactive email address`, Yahoo/AOL `This mailbox is disabled (554.30)`, au/ezweb
    // `The user(s) account is disabled`, i.ua `Mailbox is frozen`, `temporary locked`,
    // `account has been suspended`, `mailbox unavailable: inactive`.
    rule_c(
        "suspended",
        R::Suspend,
        C::AddressNotFound,
        &[
            r"(account|mailbox|address|user) (that you tried to reach )?(is|has been|was) (disabled|deactivated|suspended|inactive|frozen|locked|closed|expired|not active)",
            r"(account|mailbox|address)s? (is |has been )?(disabled|deactivated|suspended|inactive|frozen)",
            r"inactive (e-?mail |mail )?(address|account|mailbox|user)",
            r"disabled (e-?mail |mail )?(address|account|mailbox|user)",
            r"(account|mailbox|user) (temporar(il)?y )?(locked|frozen|suspended|disabled)",
            r"temporar(il)?y locked",
            r"mailbox (is )?frozen",
            r"user(\(s\))? account is disabled",
            r"account (has )?expired",
            r"(is|has been) (suspended|deactivated) (due|for)",
            r"(account|mailbox) (has been )?(closed|terminated|cancelled)",
            r"no longer (active|in use|available)",
            r"temporarily inactive",
            r"suspend the service",
            r"currently suspended",
            r"boite du destinataire archivee",
            r"deactivated (e-?mail |mail )?(address|account|mailbox|user)",
            r"extended inactivity",
            r"banned recipient",
            r"mailbox cannot be accessed",
        ],
    ),
    // Yahoo `554 delivery error: dd This user doesn't have a yahoo.com account`: Yahoo
    // answers this after DATA, yet it is a plain unknown mailbox (not a filter).
    rule_c(
        "yahoo-no-account",
        R::UserUnknown,
        C::AddressNotFound,
        &[
            r"delivery error: dd (this user doesn't have|sorry your message to|requested mail action aborted)",
        ],
    ),
    // Outlook.com/Hotmail (and Exchange/IIS) `550 Requested action not taken: mailbox
    // unavailable`, often with no enhanced code or only `5.5.0`: Microsoft's answer to RCPT TO
    // for a mailbox that does not exist, even when the report names no command.
    rule_c(
        "microsoft-mailbox-unavailable",
        R::UserUnknown,
        C::AddressNotFound,
        &[r"requested action not taken: mailbox unavailable"],
    ),
    // Gmail / Google Workspace's own notice `** Address not found ** Your message wasn't
    // delivered to ... because the address couldn't be found`: Google writes this headline
    // when the recipient's server refused the address (Google's DNS and content refusals have
    // their own headlines).
    rule_c(
        "gmail-address-not-found",
        R::UserUnknown,
        C::AddressNotFound,
        &[r"because the address couldn't be found"],
    ),
    // IMail (Ipswitch, `X-Mailer: <SMTP32 ...>`) `Invalid final delivery userid: <addr>`:
    // the server's own local delivery found no such mailbox (no remote reply, no filter).
    rule_c(
        "imail-invalid-userid",
        R::UserUnknown,
        C::AddressNotFound,
        &[r"invalid final delivery userid"],
    ),
    // ---- Mailbox not found -----------------------------------------------------------------------
    // Gmail `The email account that you tried to reach does not exist`, Postfix `User
    // unknown in virtual mailbox table`, Sendmail `User unknown`, Exchange
    // `RESOLVER.ADR.RecipNotFound`, `5.1.10 RESOLVER.ADR.RecipientNotFound`, Microsoft
    // `550 5.4.1 Recipient address rejected: Access denied`, Outlook.com `550 5.5.0
    // Requested action not taken: mailbox unavailable`, Yahoo `This user doesn't have a
    // yahoo.com account`, `552 1 Requested mail action aborted, mailbox not found`, iCloud
    // `user does not exist`, qmail `Sorry, no mailbox here by that name`, Exim `Unknown
    // user`, Courier `No such user`, Orange `Invalid recipient`, Gmail (Workspace) `Address
    // not found`, au `Recipient address rejected`.
    rule_c(
        "mailbox-not-found",
        R::UserUnknown,
        C::AddressNotFound,
        &[
            r"user ?unknown",
            r"unknown (user|recipient|mailbox|local[- ]part|e-?mail address|account)",
            r"no such (user|mailbox|recipient|address|account|person|local user|e-?mail)",
            r"(user|mailbox|recipient|address|account|e-?mail account|local part|addressee)( \S+)? (does not|doesn't|did not|not) exist",
            r"(user|mailbox|recipient|address|addressee) (was )?not found",
            r"recipient ?not ?found",
            r"recipnotfound",
            r"mailbox (is )?unavailable",
            r"mailbox not (found|available)",
            r"mail-?box not found",
            r"badrcptto",
            r"no mailbox found",
            r"invalid (recipient|mailbox|user|e-?mail address|address|final delivery)",
            r"recipient address rejected: (user unknown|invalid|unknown|undeliverable|no such)",
            // Exchange Online's directory-based edge blocking, `550 5.4.1 [addr]: Recipient
            // address rejected: Access denied. AS(201806281)`, recognised by its X.4.1 or the
            // AS code; Postfix's own `554 5.7.1 <addr>: Recipient address rejected: Access
            // denied` (an access map's REJECT) is a refusal, not this
            r"recipient address rejected: access denied\. as\(",
            r"5\.4\.1 .{0,100}recipient address rejected: access denied",
            r"recipient address rejected\.",
            r"recipient (is )?(invalid|unknown|not valid)",
            r"address (not found|couldn't be found|could not be found|unknown|invalid|does not exist)",
            r"address rejected( |\.|$)",
            r"(doesn't|does not) have an? .{0,60}account",
            r"no mailbox (here )?(by that name)?",
            r"not a valid (user|mailbox|recipient|address)",
            r"(is not|isn't) a (valid|known) (user|mailbox|recipient|address)",
            r"unknown or illegal alias",
            r"bad (recipient|destination mailbox|address)",
            r"addressee unknown",
            r"no valid recipients? (were found|for this)",
            r"unable to deliver message to <?addr>? \(and other recipients",
            r"not listed in (the )?(directory|address book|domino directory)",
            // Lotus Notes/Domino `User kim not listed in public Name & Address Book`, Exchange
            // 2003 `The recipient name is not recognized`.
            r"not listed in (the )?public name (&|and) address book",
            r"recipient name is not recognized",
            r"user (is )?not (found|listed|registered|exist)",
            r"undeliverable address",
            r"mailbox (does not|doesn't) exist",
            r"does not exist",
            r"the email account that you tried to reach",
            r"dosn't exist",
            r"no account by that name",
            r"user(name)? (is )?invalid",
            r"mailbox name not allowed",
            r"address lookup failed",
            r"no such local user",
            r"not a local address",
            r"recipient (is )?not local",
            r"not present in (the )?directory",
            r"archived recipient",
            r"non-?existent (user|recipient|mailbox|address)",
            r"no one at this address",
            r"no longer accepts mail",
            r"wrong or no longer valid",
            r"badrecipientto|validrcptto",
            r"invalid or unknown virtual user",
            r"utilisateur inconnu",
            r"nessun utente",
            r"no existe",
            r"destination addresses were unknown",
            r"destination server rejected recipients",
            r"refuses to accept your mail",
            r"no mail ?box available for this user",
            r"missing home directory",
            r"not an active address",
            r"no matches to nameserver query",
            r"account unavailable",
            r"envelope recipient (has been denied|is in my badrcptto)",
            r"user (is )?not (active|known)",
            r"can't accept user",
            r"(user's|user) email name is not found",
            r"following recipients? (was|were) undeliverable",
            r"benutzer unbekannt",
            r"unbekannte?r? (benutzer|empfänger|empfaenger)",
            r"empfänger unbekannt",
            r"adresse inconnue",
            r"destinataire inconnu",
            r"usuario desconocido",
            r"utente sconosciuto",
            r"indirizzo inesistente",
            r"reserved by rfc ?2606",
            r"single label domains not accepted",
            r"invalid x\.400 address",
            // Localised notices: Exchange `L'adresse de messagerie que vous avez entrée est introuvable`,
            // Office 365 `x est introuvable sur example.fr`, `x wurde bei example.de nicht gefunden`,
            // `Die E-Mail-Adresse, die Sie eingegeben haben, wurde nicht gefunden`, `No se encontró la
            // dirección`, `Impossibile trovare l'indirizzo`, `O endereço de email ... não foi encontrado`,
            // `Het e-mailadres ... is niet gevonden`, `Der Empfänger existiert nicht`, Russian
            // `почтовый ящик не существует`, `нет такого пользователя`, `Такого пользователя нет`.
            r"adresse.{0,60}(est )?introuvable",
            r"est introuvable sur ",
            r"(destinataire|utilisateur|adresse|compte|boîte aux lettres) .{0,30}n(’|')existe pas",
            r"(adresse|destinataire|utilisateur|compte) inexistant",
            r"e-?mail-adresse.{0,60}nicht gefunden",
            r"wurde bei .{1,60} nicht gefunden",
            r"(empfänger|empfaenger|benutzer|adresse|postfach|konto|mailbox).{0,30}existiert nicht",
            r"no se (encontró|encuentra|ha encontrado) (la dirección|el destinatario|el usuario|la cuenta|el buzón)",
            r"impossibile trovare l.indirizzo",
            r"(utente|destinatario|indirizzo|casella) (\S+ )?(inesistente|non esiste|sconosciut[oa])",
            r"endereço .{0,60}não (foi encontrado|existe)",
            r"(usuário|utilizador|destinatário|conta) (\S+ )?(desconhecido|inexistente|não existe)",
            r"e-?mailadres .{0,60}niet gevonden",
            r"(onbekende|ongeldige) (gebruiker|ontvanger|geadresseerde)",
            r"(gebruiker|ontvanger|adres|mailbox|postvak) .{0,30}bestaat niet",
            r"не существует",
            r"нет такого пользователя",
            r"пользователя нет",
            r"пользователь не найден",
            // Japanese, Chinese, Korean: `宛先不明`, `ユーザーが存在しません`, `存在しないメールアドレスです`,
            // `收件人不存在`, `用户不存在`, `사용자가 존재하지 않습니다`, `존재하지 않는 계정입니다`.
            r"宛先不明",
            r"(ユーザ(ー)?|アカウント|メールアドレス|宛先)(は|が)(存在しません|見つかりません)",
            r"存在しない(ユーザ(ー)?|アカウント|メールアドレス|宛先)",
            r"(用户|用戶|收件人|邮箱|郵箱|信箱|帐号|帳號|账号|账户|帳戶|地址)(名)?不存在",
            r"(사용자|계정|수신자|받는 사람|메일 주소)(가|이) 존재하지 않",
            r"존재하지 않는 (사용자|계정|메일 ?주소|수신자)",
            // Polish `Adres odbiorcy nie istnieje`, `Nieznany użytkownik`, Czech/Slovak `Adresa
            // příjemce neexistuje`, `Neznámý příjemce`, Turkish `Kullanıcı bulunamadı`, Swedish
            // `Mottagaren finns inte`, Danish/Norwegian `Modtageren findes ikke` / `Mottakeren
            // finnes ikke`, Finnish `Vastaanottajaa ei ole olemassa`, Hungarian `A címzett nem
            // létezik`.
            r"(adres|użytkownik|odbiorca|skrzynka|konto)( \S+){0,3} nie istnieje",
            r"nieznany (adres|użytkownik|odbiorca)",
            r"nie ma takiego (użytkownika|adresu|konta)",
            r"(adresa|uživatel|příjemce|schránka|adresát|používateľ|príjemca|účet)( \S+){0,3} neexistuje",
            r"nezn(a|á)m(y|ý) (příjemce|uživatel|adresát|používateľ|príjemca)",
            r"kullanıcı (bulunamadı|mevcut değil|yok)",
            r"(adres|alıcı|hesap)( \S+){0,2} (bulunamadı|mevcut değil)",
            r"(adressen|användaren|mottagaren|kontot)( \S+){0,2} finns inte",
            r"okänd (mottagare|användare|adress)",
            r"(adressen|brugeren|brukeren|modtageren|mottakeren|kontoen)( \S+){0,2} (findes|finnes|eksisterer) ikke",
            r"ukend(t|te) (modtager|bruger|adresse)",
            r"ukjen(t|te) (mottaker|bruker|adresse)",
            r"(osoitetta|käyttäjää|vastaanottajaa|tiliä)( \S+){0,2} ei (ole olemassa|löydy|löytynyt)",
            r"tuntematon (vastaanottaja|käyttäjä|osoite)",
            r"(cím|felhasználó|címzett|fiók)( \S+){0,2} nem létezik",
            r"ismeretlen (címzett|felhasználó|cím)",
        ],
    ),
    // ---- Rate limited / reputation --------------------------------------------------------------
    // Yahoo `421 4.7.0 [TSS04] Messages from ... temporarily deferred due to unexpected
    // volume or user complaints`, Outlook.com `451 4.7.650 ... rate limited due to IP
    // reputation` (Sisimai: badreputation, shown as rate limited).
    rule_c(
        "reputation-deferral",
        R::BadReputation,
        C::RateLimited,
        &[
            r"\[tss0[1-4]\]",
            r"temporarily deferred due to unexpected volume",
            r"rate limited due to (ip )?reputation",
            r"deferred due to (user complaints|reputation)",
        ],
    ),
    // Yahoo `421 Max message per connection reached`, QQ `Connection frequency limited`,
    // `Ip frequency limited`, Postfix anvil `too many connections from`, Exim `Too many
    // concurrent SMTP connections`, DTI `Connection rate limit exceeded`.
    rule(
        "too-many-connections",
        R::TooManyConn,
        &[
            r"too many (concurrent |simultaneous |smtp )*(connections|sessions)",
            r"connection (rate|frequency|count) (limit|limited|exceeded)",
            r"(ip|connection) frequency limited",
            r"max(imum)? (number of )?(message|messages|mails) per (connection|session)",
            r"too many messages (in|per|for) (this|one|a) (connection|session)",
            r"too many (errors|messages) from",
            r"connection limit",
            r"maximum connection limit",
            r"per-domain connection limit",
            r"max(imum)? e-?mails per hour",
            r"throttling failure",
            r"too many errors from your ip",
            r"trop de connexions",
            r"(domain|sender) frequency limited",
            r"receive limit",
            r"thread limit exceeded",
            r"exceeded (their|its) limit for",
            r"exceeded permitted limits",
            r"multiple destination domains per transaction",
        ],
    ),
    // Gmail `421-4.7.28 ... unusual rate of unsolicited mail ... rate limited`, Gmail
    // `450-4.2.1 The user you are trying to contact is receiving mail too quickly` / `at a
    // rate that prevents additional messages`, Yahoo `450 User is receiving mail too
    // quickly`, iCloud `deferred due to excessive volume`, many `rate limit exceeded`.
    rule(
        "speeding",
        R::Speeding,
        &[
            r"receiving mail (too quickly|at a rate)",
            // The same Gmail reply as Exim's delay warning cuts it (after ~50 characters):
            // `450-4.2.1 The user you are trying to contact is re`; Gmail uses the phrase only
            // in these rate replies.
            r"the user you are trying to contact is",
            r"unusual rate",
            r"excessive volume",
            r"rate limit(ed|ing)?",
            r"too (fast|quickly)",
            r"sending (mail )?too fast",
            r"(message|mail|sending) rate (exceeded|too high)",
            r"too much mail",
            r"throttl(ed|ing)",
            r"(exceeded|over) (the )?rate",
            r"temporarily deferred",
        ],
    ),
    // ---- Content on a URI block list (before the IP block lists, which share words) ------
    // iCloud `rejected due to having a domain present in the Spamhaus DBL`, URIBL/SURBL
    // `Blacklisted URL in message`.
    rule(
        "uri-blocklist",
        R::SpamDetected,
        &[
            r"spamhaus dbl",
            r"\bdbl\b",
            r"blacklisted (url|link|domain)",
            r"\buribl\b",
            r"\bsurbl\b",
            r"url (is )?(black|block)listed",
        ],
    ),
    // Mimecast `554 Host network not allowed` (a policy of the recipient's site; the words
    // would otherwise read as an IP block).
    rule(
        "mimecast-policy",
        R::PolicyViolation,
        &[r"host network not allowed"],
    ),
    // The sending IP's or domain's reputation: `poor reputation`, `bad IP reputation`, Mimecast
    // `Local CT IP Reputation - (reject)`, `sender reputation too low`.
    rule(
        "reputation",
        R::BadReputation,
        &[
            r"(poor|bad|low|negative) (ip |sender |sending |email |e-mail |domain )?reputation",
            r"ip reputation",
            r"reputation (is )?too low",
            r"reputation (score|problems?)",
            r"sender score",
        ],
    ),
    // Microsoft 365 `5.7.7xx Access denied, tenant has exceeded threshold` / `traffic not accepted
    // from this IP`: the sending tenant's volume (Sisimai: toomanyconn).
    rule_c(
        "ms-tenant-threshold",
        R::TooManyConn,
        C::SendingLimit,
        &[
            r"tenant has exceeded threshold",
            r"traffic not accepted from this ip",
        ],
    ),
    // ---- Refused at connection (before temporary wording such as "service unavailable") ----
    // Proofpoint and other filters `550 5.7.1 Message blocked due to spam content in the
    // message`: the content, not the sending IP (before the IP rule, which takes any
    // mention of Proofpoint as a block).
    rule(
        "spam-content",
        R::SpamDetected,
        &[
            r"(due to|because of|contains?) spam content",
            r"spam content (in|of) (the|your) message",
        ],
    ),
    // Postfix `host ... refused to talk to me: 554 Blocked`, Spamhaus/RBL `Client host
    // [...] blocked using zen.spamhaus.org`, Postfix `Client host rejected`, Outlook.com
    // `part of their network is on our block list (S3150)`, Yahoo `[BL21] ... the ip is in
    // Spamhaus's list`, Microsoft `5.7.606 Access denied, banned sending IP`, Orange `Client
    // host blocked for spamming issues`, Proofpoint `dnsbl-lookup`, Amazon WorkMail `IP
    // address blacklisted`, Yahoo `[TSS09] All messages from ... will be permanently
    // deferred`, Cox `AUP#CDRBL`.
    rule(
        "blocked-ip",
        R::Blocked,
        &[
            r"block ?list",
            r"black ?list(ed)?",
            r"deny ?list(ed)?",
            r"spamhaus",
            r"zen\.spamhaus",
            r"\bsbl\b|\bxbl\b|\bpbl\b",
            r"spamcop",
            r"\bdnsbl\b|dnsbl-",
            r"\brbl\b",
            r"blocked using",
            r"client host .{0,60}(rejected|blocked|refused)",
            r"client host rejected",
            r"banned sending ip",
            r"(ip|address|host|network|server) (address )?(is |has been |was )?(blocked|banned|blacklisted|listed|denied|not allowed)",
            r"blocked (ip|host|sender ip|network)",
            r"\bs3150\b",
            r"\[bl2\d\]",
            r"\[tss0[5-9]\]|\[tss1\d\]",
            r"permanently deferred",
            r"connections will not be accepted",
            r"not accepting (network )?(connections|messages)",
            r"refused to talk to me",
            r"use the smtp server of your isp",
            r"messages from .{0,40}weren't sent",
            r"on our block list",
            r"open relay",
            r"bloquee",
            r"cdrbl",
            r"your (ip|server|host|network|mail server) .{0,40}(blocked|banned|listed|rejected|not allowed)",
            r"(ip|address|host|server|you|sender|domain|network) (is |are |has been |was )?(currently )?listed (at|on|in|by) ",
            r"access denied, banned",
            r"may not be mail exchanger",
            r"you cannot send e-?mail to yourself",
            r"my name was rejected",
            r"helo (name )?(rejected|invalid|denied)",
            r"invalid (helo|ehlo)",
            r"proofpoint",
            r"cloudmark",
            r"\bnot accepted from\b",
            r"go away",
            r"helo command rejected",
            r"not allowed to connect",
            r"dynamic (ip|ips|address)",
            r"dynamic/zombied",
            r"zombie",
            r"sender ip address rejected",
            r"not currently accepting mail from your ip",
            r"currently sending spam",
            r"confirm this mail server",
            r"mail server at \S+ is blocked",
            r"was blocked by ",
            r"bad ip profile",
            r"invalid ip for sending mail",
            r"too many spams from your ip",
            r"unwanted messages have been sent from",
            r"unresolvable relay host name",
            r"rejecting open proxy",
            r"rejected based on blacklist",
            r"looks suspiciously like spammer",
            r"service not available, closing transmission channel",
            r"access from ip address \S+ blocked",
            r"client blocked",
            r":blocked\)",
            r"suspected spam ip",
            r"sender address blocked",
            r"not in whitelist",
            r"not authorized to send (e-?mail|mail) directly",
        ],
    ),
    // ---- Temporary server problem ------------------------------------------------------------
    // Gmail `421-4.3.0 Temporary System Problem. Try again later`, Microsoft `4.4.316 Connection
    // refused`, Postfix `Connection timed out` / `lost connection` (client side), Orange
    // `Service refuse ... please try later`, MXLogic `Could not load DRD`.
    // Sendmail `Connection refused by mx.example.org`, `Connection reset by peer`,
    // `Connection dropped by remote host`: the remote end closed on us (Sisimai: blocked).
    rule(
        "connection-refused-by-peer",
        R::Blocked,
        &[
            r"connection (was )?(refused|reset|dropped|closed) by (peer|remote|[a-z0-9-]+\.)",
            r"reset by peer",
            r"connection dropped",
        ],
    ),
    rule(
        "connection",
        R::NetworkError,
        &[
            r"connection (timed out|timeout|refused|reset|closed|dropped|lost)",
            r"timed out",
            r"time-?out (while|during|waiting)",
            r"lost connection",
            r"connection (was )?(unexpectedly )?(closed|terminated)",
            r"no route to host",
            r"network (is )?unreachable",
            r"host (is )?unreachable",
            r"host not reachable",
            r"unable to connect",
            r"(could not|couldn't|can't|cannot|failed to) (connect|establish)",
            r"did not accept our requests to connect",
            r"no (smtp )?connection got far enough",
            r"socket error",
            r"4\.4\.316",
            r"wasn't able to establish an smtp connection",
            r"no answer from",
            r"network error",
            r"tls session (failure|error)",
            r"could not connect and send the mail",
            r"timeout - closing connection",
        ],
    ),
    rule(
        "temporary",
        R::SystemError,
        &[
            r"temporary (system|server|local) (problem|error|failure)",
            r"local error in processing",
            r"resources? (are )?temporarily unavailable",
            r"could not load drd",
            r"internal (server |system )?error",
            r"system error",
            r"server (is )?(busy|too busy|overloaded)",
            r"too busy",
            r"service refused, please try later",
            r"temporar(il)?y (unavailable|rejected|failure|problem)",
            r"please try (again )?later",
            r"try again later",
            r"can't create user output file",
            r"internal error reading data",
            r"operation now in progress",
            r"interrupted system call",
            r"encountered an error while being processed",
            r"(local|server|system|mail system) config(uration)? error",
            r"queue file write error",
            r"remote server is misconfigured",
            r"temporary local problem",
            r"timeout waiting for input",
            r"delivery to (file|pipe) forbidden",
            r"bad interpreter",
            r"this domain's dns violates rfc ?1035",
            r"resolver\.adr\.(badprimary|invalidinsmtp|ambiguous)",
            r"failed to be replicated",
            r"agent busy",
        ],
    ),
    // ---- Virus -------------------------------------------------------------------------------
    // Amavis/ClamAV `Virus Detected`, `message contains a virus`, `infected with`, `malware
    // found`, `Message rejected: virus found`, Sendmail/MS `potentially executable attachment`.
    // A footer saying the mail was *scanned* for viruses is not a detection.
    rule(
        "virus",
        R::VirusDetected,
        &[
            r"virus(es)? (detected|found|infected|alert)",
            r"(contains?|containing|infected with|detected|found) (an? )?(virus|malware|worm|trojan)",
            r"virus[- ]infected",
            r"infected (message|attachment|file|with)",
            r"malware (detected|found)",
            r"prohibited virus",
            r"\bvirus\b[^.]{0,30}\b(reject|block|refus)",
            r"potentially executable attachment",
            r"used by recent viruses",
            // amavisd-new `554 5.7.0 Reject, id=... - INFECTED: Eicar-Test-Signature`
            r"\binfected: \S",
        ],
    ),
    // ---- Content judged as spam ------------------------------------------------------------
    // Gmail `550-5.7.1 ... this message is likely unsolicited mail`, `421-4.7.0 This message
    // is suspicious due to the nature of the content or the links within`, Barracuda/
    // Amavis `Message content rejected, UBE`, `scored as spam`, URIBL `Blacklisted URL in
    // message`, iCloud `domain present in the Spamhaus DBL`, Orange `Mail rejete. Mail
    // rejected. OFR_506`, Amazon `Message content rejected`, `SPAM`.
    rule(
        "spam",
        R::SpamDetected,
        &[
            r"\bspam",
            r"unsolicited",
            r"\bube\b",
            r"\buce\b",
            r"bulk (mail|e-?mail)",
            r"junk (mail|e-?mail)",
            r"blacklisted (url|link|domain)",
            r"\buribl\b|\bsurbl\b",
            r"spamhaus dbl|\bdbl\b",
            r"links? within",
            r"suspicious",
            r"message content rejected",
            r"content rejected",
            r"mail rejete",
            r"ofr_506",
            r"looks like spam",
            r"spam[- ]?(score|filter|detected|content)",
            // SpamAssassin-style milters `550 5.7.1 Message score too high (8.2 > 5.0)`
            r"score (is )?too high",
            r"(message|content) (was )?(classified|identified|scored) as",
            r"phishing",
            r"fraud",
            r"content filter",
            r"mass mailer",
            r"recurrent pattern detection",
            r"unacceptable content",
            r"mail content denied",
            r"bulk.advertising",
            r"probable spam",
        ],
    ),
    // ---- Policy ------------------------------------------------------------------------------
    // Yahoo `554 5.7.9 Message not accepted for policy reasons`, iCloud `[CS01] Message
    // rejected due to local policy`, Gmail `The user or domain that you are sending to (or
    // from) has a policy that prohibited the mail`, `552-5.7.0 This message was blocked
    // because its content presents a potential security issue`, `550 5.7.0 Local Policy
    // Violation`, Mimecast `Host network not allowed`, `554 5.7.0 Header error`.
    rule(
        "policy",
        R::PolicyViolation,
        &[
            r"policy reasons",
            r"local policy",
            r"policy violation",
            r"violat(es|ed|ion of) (our|the|local|site)? ?polic",
            r"has a policy that prohibit",
            r"prohibited by (local )?policy",
            r"potential security issue",
            r"content presents a potential",
            r"blocked because its content",
            r"\[cs0\d\]",
            r"\[ph0\d\]",
            r"host network not allowed",
            r"header error",
            r"(message|mail) (is )?(not accepted|rejected) (due to|because of|for) (local |our )?policy",
            r"policy (rejection|restriction)",
            r"acceptable use policy",
            r"\bpolicy\b",
            r"illegal attachment",
            r"not accepting mail with",
            r"members-only list",
            r"closed mailing list",
            r"denied by policy",
            r"security policies",
            r"organizational settings",
            r"organization policy",
            r"message given low priority",
            r"messages with multiple addresses",
            r"protocol violation",
            r"not subscribed to this group",
            r"captcha",
            r"content restrictions",
        ],
    ),
    // ---- SMTP authentication required (security) ------------------------------------------
    // Microsoft `RESOLVER.RST.AuthRequired; authentication required`, Symantec MessageLabs
    // `Please turn on SMTP Authentication in your mail client`, `530 5.7.0 Authentication
    // required`.
    rule(
        "smtp-auth-required",
        R::SecurityError,
        &[
            r"authrequired",
            r"authentication (is )?required",
            r"smtp authentication",
            r"authentication (failed|failure|credentials invalid)",
            r"must (authenticate|be authenticated)",
            r"not authenticated",
            r"authentication turned on in your e-?mail client",
            r"authentification requise",
            r"unauthenticated senders not allowed",
            r"not authorized to perform ses:",
            r"account not subscribed to ses",
            r"not authorized to send mail, authentication is required",
            r"is a dead domain",
            r"executable files are not allowed in compressed files",
            r"application-specific password required",
            r"username and password not accepted",
            r"invalid credentials",
            r"log in with your web browser",
        ],
    ),
    // ---- Content / format --------------------------------------------------------------------
    // `552 5.6.0 Headers too large`, `message has invalid characters`, `malformed MIME`,
    // `8-bit data not allowed`, `encoded-word syntax`.
    rule_c(
        "content",
        R::ContentError,
        C::ContentRejected,
        &[
            r"headers? (too large|too long|size exceed)",
            r"header (is )?(malformed|invalid|too)",
            r"malformed (mime|message|header)",
            r"invalid (characters|mime|header|message format)",
            r"illegal (characters|header)",
            r"8[- ]?bit (data|characters) (not allowed|not supported)",
            r"encoded-word",
            r"(attachment|file) type .{0,20}(not allowed|prohibited|blocked)",
            r"(prohibited|forbidden|not allowed|blocked) (attachment|file|extension)",
            r"content (type )?(not allowed|error|not acceptable)",
            r"message (format|structure) (is )?(invalid|not acceptable)",
            r"8-bit data in message header",
            r"mime complexity",
            r"invalid mime headers",
            r"improperly-formatted binary content",
            r"unnecessary base64 encoding",
            r"header size exceeds",
        ],
    ),
    // ---- Syntax errors in the SMTP dialogue ----------------------------------------------------
    // `504 Command parameter not implemented`, `500 Syntax error, command unrecognized`,
    // Exim `malformed address: ... may not follow`.
    rule(
        "syntax",
        R::SyntaxError,
        &[
            r"syntax error",
            r"command (not recognized|unrecognized|unrecognised|not implemented)",
            r"parameter not implemented",
            r"command parameter",
            r"malformed address",
            r"bad sequence of commands",
            r"unrecognized command",
            r"line too long",
            r"angle-brackets nested too deep",
            r#"expected word or "<""#,
            r"domain missing in source-routed address",
            r"send hello first",
            r"(ehlo/helo|helo|ehlo|mail|rcpt) first",
            r"unimplemented command",
            r"no identity changes permitted",
            r"unrecognized authentication type",
            r"too many unauthenticated commands",
        ],
    ),
    // ---- Local mailer (pipe, procmail) -----------------------------------------------------
    // Postfix/Sendmail `pipe to |/usr/local/bin/...`, `Command died with status`, `X-Unix`.
    rule(
        "mailer",
        R::MailerError,
        &[
            r"^pipe to \|",
            r"pipe to \|",
            r"command died with status",
            r"command output:",
            r"mailer error",
            r"local delivery failed",
            r"command failed: ",
            r"x-unix; \d+",
        ],
    ),
    // ---- System full ---------------------------------------------------------------------------
    rule(
        "system-full",
        R::SystemFull,
        &[
            r"mail system full",
            r"system (storage|disk) (is )?full",
            r"insufficient (system )?storage",
            r"disk (is )?full",
            r"insufficient system resources",
        ],
    ),
    // ---- Weak wordings, last -------------------------------------------------------------------
    // qmail's generic `I'm not going to try again; this message has been in the queue too
    // long` and `giving up` after the remote reply; `access denied` (Sendmail/Exchange
    // without more words); `service unavailable`; `transaction failed`; `Message filtered`.
    weak(
        "filtered",
        R::Filtered,
        &[
            r"message filtered",
            r"filtered",
            r"rejected by (the )?recipient'?s? (filter|rules|mail ?server|domain)",
            r"rejected by the recipient domain",
        ],
    ),
    weak(
        "access-denied",
        R::SecurityError,
        &[r"access denied", r"not authori[sz]ed", r"permission denied"],
    ),
    weak(
        "queue-too-long",
        R::Expired,
        &[
            r"in the queue too long",
            r"giving up",
            r"gave up",
            r"has been delayed",
            r"will be retried",
            r"still (trying|retrying)",
        ],
    ),
    weak(
        "service-unavailable",
        R::SystemError,
        &[
            r"service (not available|unavailable|currently unavailable|temporarily unavailable)",
            r"transaction failed",
            r"service refuse",
            r"closing (transmission )?channel",
            r"server error",
            r"mail system (problem|error)",
            r"other mail system problem",
        ],
    ),
    // qmail's wrapper `... does not like recipient.` with no more precise words: the RCPT was
    // refused.
    weak(
        "qmail-rcpt-refused",
        R::UserUnknown,
        &[r"does not like recipient"],
    ),
    weak(
        "rejected-after-ehlo",
        R::Blocked,
        &[r"after (ehlo|helo)\b", r"after initial connection"],
    ),
];

/// The compiled rules.
///
/// Every pattern gets an *anchor*: a set of literal strings one of which occurs in every text
/// the pattern matches (derived from the pattern itself by [`anchors`]). One pass over the
/// text finds the anchors present; only the patterns whose anchor occurred (and the
/// few without an anchor) are run, in table order, and the first match wins. This keeps one
/// classification at a few microseconds, where a `RegexSet` of all patterns needs a lazy DFA
/// of hundreds of megabytes to stay fast on varied texts.
///
/// The pass looks up only the anchors' first [`KEY_LEN`] bytes (the ~800 anchors, 13.5 kB,
/// share ~380 such keys) at every position of the text ([`KeyTable`]): each occurrence of a
/// key is confirmed by comparing the text there with the full anchors that start with it, so
/// the candidates are exactly those of a search for the full anchors. (An Aho-Corasick
/// automaton of the keys cost 2.5 M instructions to build, more than all the lookups of a
/// 600-message run; one of the full anchors about 9 M.)
pub(crate) struct Compiled {
    /// The pattern texts, compiled on first use (most texts need only a few of them).
    patterns: Vec<&'static str>,
    regexes: Vec<OnceLock<Option<Phrase>>>,
    /// Patterns that are one plain literal, which is also their only anchor: the anchor's
    /// occurrence is the match, no regex is needed (more than half of the table).
    literal: Vec<bool>,
    rule_of: Vec<usize>,
    keys: KeyTable,
    /// For each key, the full anchors that start with it.
    key_anchors: Vec<Vec<usize>>,
    /// The full anchor strings.
    anchor_strings: Vec<Cow<'static, str>>,
    /// For each anchor string, the patterns it stands for.
    anchor_patterns: Vec<Vec<usize>>,
    /// Patterns without an anchor: always run.
    always: Vec<usize>,
}

/// The length of the keys (anchor prefixes); see [`Compiled`].
const KEY_LEN: usize = 4;

/// The keys (2 to [`KEY_LEN`] bytes) for a lookup at every position of a text: which key
/// lengths start with each pair of bytes, then an open-addressing hash table from a key's
/// bytes to its index.
struct KeyTable {
    /// For each pair of bytes (`first << 8 | second`), bit `L - 2` set when a key of `L`
    /// bytes starts with them.
    starts: Vec<u8>,
    /// `(code, index + 1)`; 0 marks an empty slot.
    slots: Vec<(u64, u32)>,
}

impl KeyTable {
    /// A key's bytes and length in one number (distinct for distinct keys of 2..=4 bytes).
    fn code(k: &[u8]) -> u64 {
        k.iter()
            .fold(k.len() as u64, |c, &b| (c << 8) | u64::from(b))
    }

    fn slot(&self, code: u64) -> usize {
        (code.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & (self.slots.len() - 1)
    }

    fn new(keys: &[&[u8]]) -> KeyTable {
        let mut t = KeyTable {
            starts: vec![0; 1 << 16],
            slots: vec![(0, 0); (keys.len() * 4).next_power_of_two().max(16)],
        };
        for (i, k) in keys.iter().enumerate() {
            let (Some(&a), Some(&b)) = (k.first(), k.get(1)) else {
                continue;
            };
            if k.len() > KEY_LEN {
                continue;
            }
            if let Some(s) = t.starts.get_mut(usize::from(a) << 8 | usize::from(b)) {
                *s |= 1 << (k.len() - 2);
            }
            let code = Self::code(k);
            let mut at = t.slot(code);
            while t.slots[at].1 != 0 {
                at = (at + 1) & (t.slots.len() - 1);
            }
            t.slots[at] = (code, i as u32 + 1);
        }
        t
    }

    /// The index of the key `k`, if it is one.
    fn get(&self, k: &[u8]) -> Option<usize> {
        let code = Self::code(k);
        let mut at = self.slot(code);
        loop {
            let (c, i) = *self.slots.get(at)?;
            if i == 0 {
                return None;
            }
            if c == code {
                return Some(i as usize - 1);
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }

    /// Calls `f` with the index of every occurrence of every key in `b`.
    fn each(&self, b: &[u8], mut f: impl FnMut(usize, usize)) {
        for (i, w) in b.windows(2).enumerate() {
            let m = self
                .starts
                .get(usize::from(w[0]) << 8 | usize::from(w[1]))
                .copied()
                .unwrap_or(0);
            // The key lengths whose bit is set, shortest first.
            let mut bits = m;
            while bits != 0 {
                let len = bits.trailing_zeros() as usize + 2;
                bits &= bits - 1;
                if len <= KEY_LEN
                    && let Some(k) = b.get(i..i + len).and_then(|k| self.get(k))
                {
                    f(i, k);
                }
            }
        }
    }
}

/// A hasher for the table's own strings (no untrusted input is hashed with it): a few
/// instructions per 8 bytes, where the default SipHash cost more than half of building
/// [`COMPILED`].
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            if let Some(d) = w.get_mut(..c.len()) {
                d.copy_from_slice(c);
            }
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

pub(crate) static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let mut patterns = Vec::new();
    let mut rule_of = Vec::new();
    let mut anchor_index: std::collections::HashMap<Cow<'static, str>, usize, FxBuild> =
        std::collections::HashMap::with_capacity_and_hasher(1024, FxBuild::default());
    let mut anchor_strings: Vec<Cow<'static, str>> = Vec::new();
    let mut anchor_patterns: Vec<Vec<usize>> = Vec::new();
    let mut always = Vec::new();
    let mut literal = Vec::new();
    for (i, r) in RULES.iter().enumerate() {
        for p in r.patterns {
            let n = patterns.len();
            patterns.push(*p);
            rule_of.push(i);
            // The table computed in advance, while it is that of the rules (else computed
            // here: a stale table costs time, never an answer).
            let (set, lit) = match super::anchor_table::ANCHORS.get(n) {
                Some(&(tp, set, lit)) if tp == *p => (
                    set.map(|s| s.iter().map(|&a| Cow::Borrowed(a)).collect::<Vec<_>>()),
                    lit,
                ),
                _ => {
                    let set = anchors(p);
                    let lit = is_literal(p, set.as_deref());
                    (set.map(|s| s.into_iter().map(Cow::Owned).collect()), lit)
                }
            };
            literal.push(lit);
            match set {
                Some(set) => {
                    for a in set {
                        let k = match anchor_index.get(&a) {
                            Some(&k) => k,
                            None => {
                                anchor_index.insert(a.clone(), anchor_strings.len());
                                anchor_strings.push(a);
                                anchor_patterns.push(Vec::new());
                                anchor_strings.len() - 1
                            }
                        };
                        anchor_patterns[k].push(n);
                    }
                }
                None => always.push(n),
            }
        }
    }
    let mut key_index: std::collections::HashMap<&[u8], usize, FxBuild> =
        std::collections::HashMap::with_capacity_and_hasher(512, FxBuild::default());
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut key_anchors: Vec<Vec<usize>> = Vec::new();
    for (a, s) in anchor_strings.iter().enumerate() {
        let key = &s.as_bytes()[..s.len().min(KEY_LEN)];
        let k = *key_index.entry(key).or_insert_with(|| {
            keys.push(key);
            key_anchors.push(Vec::new());
            keys.len() - 1
        });
        key_anchors[k].push(a);
    }
    let keys = KeyTable::new(&keys);
    let regexes = patterns.iter().map(|_| OnceLock::new()).collect();
    Compiled {
        patterns,
        regexes,
        literal,
        rule_of,
        keys,
        key_anchors,
        anchor_strings,
        anchor_patterns,
        always,
    }
});

/// A set of pattern indices (the table has fewer than 2048 patterns).
struct Bits([u64; 32]);

impl Bits {
    fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + b)
            })
        })
    }
}

impl Compiled {
    fn candidates(&self, text: &str) -> Bits {
        let mut bits = Bits([0; 32]);
        for &p in &self.always {
            bits.set(p);
        }
        let b = text.as_bytes();
        self.keys.each(b, |start, key| {
            let at = b.get(start..).unwrap_or_default();
            for &a in &self.key_anchors[key] {
                if at.starts_with(self.anchor_strings[a].as_bytes()) {
                    for &p in &self.anchor_patterns[a] {
                        bits.set(p);
                    }
                }
            }
        });
        bits
    }

    /// Does pattern `p`, a candidate for `text`, match it?
    fn is_match(&self, p: usize, text: &str) -> bool {
        // A literal pattern is a candidate only when the automaton found it in the text.
        if self.literal[p] {
            return true;
        }
        self.regexes[p]
            .get_or_init(|| build(self.patterns[p]))
            .as_ref()
            .is_some_and(|m| m.is_match(text))
    }

    /// The first rule (in table order) with a matching phrase.
    pub(crate) fn first(&self, text: &str) -> Option<&'static Rule> {
        self.candidates(text)
            .iter()
            .find(|&p| self.is_match(p, text))
            .map(|p| &RULES[self.rule_of[p]])
    }

    /// Number of patterns that compiled.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.patterns.iter().filter(|p| build(p).is_some()).count()
    }

    /// Number of patterns without an anchor (always run).
    #[cfg(test)]
    pub(crate) fn unanchored(&self) -> usize {
        self.always.len()
    }
}

/// One compiled phrase: the strings of a phrase that matches finitely many (`grey ?list(ed|
/// ing)?`), else a literal matcher with end assertions or a bounded gap (`\bspf\b`, `sender
/// .{0,20}invalid`, see `literal`), else a small Thompson NFA run as a Pike VM for repetition,
/// negated classes and `\s` (`exceeded \d+ hops`, see `nfa`), else (syntax neither knows) a
/// forward lazy DFA (with its cache, and the full regex engine as a fallback should the lazy
/// DFA ever give up on a text).
enum Phrase {
    Strings(Vec<memchr::memmem::Finder<'static>>),
    Literal(super::literal::LitPhrase),
    Program(super::nfa::Program),
    Automaton(Box<Matcher>),
}

impl Phrase {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Phrase::Strings(fs) => fs.iter().any(|f| f.find(text.as_bytes()).is_some()),
            Phrase::Literal(l) => l.is_match(text),
            Phrase::Program(p) => p.is_match(text),
            Phrase::Automaton(m) => m.is_match(text),
        }
    }
}

struct Matcher {
    dfa: DFA,
    cache: std::sync::Mutex<Cache>,
    pattern: &'static str,
    fallback: OnceLock<Option<Regex>>,
}

impl Matcher {
    fn is_match(&self, text: &str) -> bool {
        let input = regex_automata::Input::new(text.as_bytes()).earliest(true);
        let found = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            self.dfa.try_search_fwd(&mut cache, &input)
        };
        match found {
            Ok(m) => m.is_some(),
            Err(_) => self
                .fallback
                .get_or_init(|| build_regex(self.pattern))
                .as_ref()
                .is_some_and(|re| re.is_match(text.as_bytes())),
        }
    }
}

/// Compiles one phrase for `is_match` on the short texts the classifier sees. Construction
/// is what costs here (a `mailerd explain` run compiles a few hundred phrases and runs each
/// on a handful of short diagnostics), so the matcher is kept cheap to build: byte-oriented
/// (no Unicode classes), no capture groups, and only a forward lazy DFA (an `is_match` needs
/// neither the reverse automaton nor the other engines a full regex builds).
fn build(pattern: &'static str) -> Option<Phrase> {
    use regex_automata::{nfa::thompson, util::syntax};
    if let Some(strings) = expand(pattern) {
        return Some(Phrase::Strings(
            strings
                .iter()
                .map(|w| memchr::memmem::Finder::new(w).into_owned())
                .collect(),
        ));
    }
    if let Some(l) = super::literal::compile(pattern) {
        return Some(Phrase::Literal(l));
    }
    if let Some(p) = super::nfa::compile(pattern) {
        return Some(Phrase::Program(p));
    }
    let dfa = DFA::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .thompson(thompson::Config::new().which_captures(thompson::WhichCaptures::None))
        .build(pattern)
        .ok()?;
    let cache = std::sync::Mutex::new(dfa.create_cache());
    Some(Phrase::Automaton(Box::new(Matcher {
        dfa,
        cache,
        pattern,
        fallback: OnceLock::new(),
    })))
}

/// The strings a phrase matches, when it matches a few (at most 64) non-empty strings: a
/// phrase made of literals, groups of alternatives and optional (`?`) characters or groups.
/// Such a phrase matches a text exactly when one of its strings occurs in it. `None` for
/// anything else (classes, `.`, `\b`, repetition, anchors).
fn expand(pattern: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pos = 0;
    let set = expand_alternation(&chars, &mut pos)?;
    (pos == chars.len() && set.iter().all(|w| !w.is_empty())).then_some(set)
}

const MAX_STRINGS: usize = 64;

fn expand_alternation(c: &[char], pos: &mut usize) -> Option<Vec<String>> {
    let mut union = Vec::new();
    loop {
        union.extend(expand_sequence(c, pos)?);
        if union.len() > MAX_STRINGS {
            return None;
        }
        if c.get(*pos) == Some(&'|') {
            *pos += 1;
            continue;
        }
        return Some(union);
    }
}

fn expand_sequence(c: &[char], pos: &mut usize) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    while let Some(&ch) = c.get(*pos) {
        // One character (appended to every string so far in place), or a set of alternatives
        // (a group, or a character made optional), multiplied in.
        let mut atom = match ch {
            '|' | ')' => break,
            '(' => {
                *pos += 1;
                if c.get(*pos) == Some(&'?') {
                    // Only the plain non-capturing group `(?:`.
                    if c.get(*pos + 1) != Some(&':') {
                        return None;
                    }
                    *pos += 2;
                }
                let inner = expand_alternation(c, pos)?;
                if c.get(*pos) != Some(&')') {
                    return None;
                }
                *pos += 1;
                Err(inner)
            }
            '\\' => {
                let e = *c.get(*pos + 1)?;
                if !e.is_ascii_punctuation() {
                    return None;
                }
                *pos += 2;
                Ok(e)
            }
            '.' | '[' | ']' | '^' | '$' | '*' | '+' | '?' | '{' | '}' => return None,
            _ => {
                *pos += 1;
                Ok(ch)
            }
        };
        match c.get(*pos) {
            Some('?') => {
                *pos += 1;
                if matches!(c.get(*pos), Some('?' | '*' | '+' | '{')) {
                    return None;
                }
                let mut alts = match atom {
                    Ok(ch) => vec![ch.to_string()],
                    Err(alts) => alts,
                };
                alts.push(String::new());
                atom = Err(alts);
            }
            Some('*' | '+' | '{') => return None,
            _ => {}
        }
        match atom {
            Ok(ch) => out.iter_mut().for_each(|a| a.push(ch)),
            Err(alts) => {
                if out.len() * alts.len() > MAX_STRINGS {
                    return None;
                }
                let mut next = Vec::with_capacity(out.len() * alts.len());
                for a in &out {
                    for b in &alts {
                        let mut s = String::with_capacity(a.len() + b.len());
                        s.push_str(a);
                        s.push_str(b);
                        next.push(s);
                    }
                }
                out = next;
            }
        }
    }
    Some(out)
}

/// The full regex engine for a phrase (the lazy DFA's fallback): byte-oriented, no capture
/// groups, no literal prefilter (the Aho-Corasick anchors already play that part).
fn build_regex(pattern: &str) -> Option<Regex> {
    use regex_automata::{nfa::thompson::WhichCaptures, util::syntax};
    Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(
            Regex::config()
                .which_captures(WhichCaptures::None)
                .auto_prefilter(false)
                .onepass(false)
                .dfa(false),
        )
        .build(pattern)
        .ok()
}

/// Is the pattern one plain literal that is also its only anchor (its anchor's occurrence is
/// its match)?
pub(crate) fn is_literal(pattern: &str, anchors: Option<&[String]>) -> bool {
    plain_literal(pattern).is_some_and(|l| anchors.is_some_and(|s| s[..] == [l]))
}

/// The text a pattern matches when it is one plain literal (letters, spaces, punctuation
/// escaped or not special), else `None`.
fn plain_literal(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => out.push(e),
                _ => return None,
            },
            '.' | '^' | '$' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}' => {
                return None;
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

/// The anchor of a pattern: literal strings one of which every match contains, or `None` when
/// the pattern has no usable literal (it is then always run). Understands the subset of regex
/// syntax the rules use (literals, escapes, classes, groups, alternation, quantifiers) and is
/// conservative: anything it does not understand yields `None`.
pub(crate) fn anchors(pattern: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pos = 0;
    let set = parse_alternation(&chars, &mut pos)?;
    if pos != chars.len() {
        return None;
    }
    set.filter(|s| !s.is_empty() && s.iter().all(|a| a.len() >= 2))
}

/// Parses `a|b|c` up to a closing `)` or the end; the result is the union of the branches'
/// anchors (`None` inside when a branch has none). The outer `Option` is `None` on syntax the
/// parser does not know.
fn parse_alternation(c: &[char], pos: &mut usize) -> Option<Option<Vec<String>>> {
    let mut union: Option<Vec<String>> = Some(Vec::new());
    loop {
        let branch = parse_sequence(c, pos)?;
        union = match (union, branch) {
            (Some(mut u), Some(b)) => {
                u.extend(b);
                Some(u)
            }
            _ => None,
        };
        if *pos < c.len() && c[*pos] == '|' {
            *pos += 1;
            continue;
        }
        return Some(union);
    }
}

/// Parses a concatenation; returns its best factor: the literal set with the longest shortest
/// member.
fn parse_sequence(c: &[char], pos: &mut usize) -> Option<Option<Vec<String>>> {
    let mut best: Option<Vec<String>> = None;
    let mut run = String::new();
    let flush = |best: &mut Option<Vec<String>>, run: &mut String| {
        if !run.is_empty() {
            consider(best, vec![std::mem::take(run)]);
        }
    };
    while *pos < c.len() {
        let ch = c[*pos];
        match ch {
            '|' | ')' => break,
            '(' => {
                flush(&mut best, &mut run);
                *pos += 1;
                if c.get(*pos) == Some(&'?') {
                    // Only non-capturing groups with flags `(?:`, `(?s:`, `(?-u:`.
                    while *pos < c.len() && c[*pos] != ':' {
                        if c[*pos] == ')' {
                            return None;
                        }
                        *pos += 1;
                    }
                    *pos += 1;
                }
                let inner = parse_alternation(c, pos)?;
                if c.get(*pos) != Some(&')') {
                    return None;
                }
                *pos += 1;
                let (optional, _) = quantifier(c, pos)?;
                if let (false, Some(set)) = (optional, inner) {
                    consider(&mut best, set);
                }
            }
            '[' => {
                flush(&mut best, &mut run);
                *pos += 1;
                if c.get(*pos) == Some(&'^') {
                    *pos += 1;
                }
                if c.get(*pos) == Some(&']') {
                    *pos += 1;
                }
                while *pos < c.len() && c[*pos] != ']' {
                    if c[*pos] == '\\' {
                        *pos += 1;
                    }
                    *pos += 1;
                }
                if *pos >= c.len() {
                    return None;
                }
                *pos += 1;
                quantifier(c, pos)?;
            }
            '.' => {
                flush(&mut best, &mut run);
                *pos += 1;
                quantifier(c, pos)?;
            }
            '^' | '$' => {
                flush(&mut best, &mut run);
                *pos += 1;
            }
            '?' | '*' | '+' | '{' => return None,
            '\\' => {
                let e = *c.get(*pos + 1)?;
                *pos += 2;
                if e.is_ascii_alphanumeric() {
                    // \b \B (zero width) and \d \s \S \w (classes): a break in the run.
                    flush(&mut best, &mut run);
                    if !matches!(e, 'b' | 'B') {
                        quantifier(c, pos)?;
                    }
                } else {
                    literal(c, pos, e, &mut run, &mut best)?;
                }
            }
            _ => {
                *pos += 1;
                literal(c, pos, ch, &mut run, &mut best)?;
            }
        }
    }
    flush(&mut best, &mut run);
    Some(best)
}

/// Keeps `cand` as the best factor when its shortest member is longer than the best's.
fn consider(best: &mut Option<Vec<String>>, cand: Vec<String>) {
    let score = |s: &Vec<String>| s.iter().map(|x| x.len()).min().unwrap_or(0);
    if cand.is_empty() || score(&cand) == 0 {
        return;
    }
    if best.as_ref().is_none_or(|b| score(&cand) > score(b)) {
        *best = Some(cand);
    }
}

/// Adds one literal character to the current run, honouring a quantifier after it.
fn literal(
    c: &[char],
    pos: &mut usize,
    ch: char,
    run: &mut String,
    best: &mut Option<Vec<String>>,
) -> Option<()> {
    let (optional, repeated) = quantifier(c, pos)?;
    if optional {
        // `s?`: the run ends before this character.
        if !run.is_empty() {
            consider(best, vec![std::mem::take(run)]);
        }
    } else if repeated {
        // `s+`: one `s` is required, then the run breaks.
        run.push(ch);
        consider(best, vec![std::mem::take(run)]);
    } else {
        run.push(ch);
    }
    Some(())
}

/// Reads a quantifier at `pos`, if any: (`optional`, `repeated`).
fn quantifier(c: &[char], pos: &mut usize) -> Option<(bool, bool)> {
    let q = match c.get(*pos) {
        Some('?') => (true, false),
        Some('*') => (true, true),
        Some('+') => (false, true),
        Some('{') => {
            let start = *pos + 1;
            let end = start + c[start..].iter().position(|&x| x == '}')?;
            let body: String = c[start..end].iter().collect();
            let min: usize = body.split(',').next()?.trim().parse().ok()?;
            *pos = end;
            (min == 0, true)
        }
        _ => return Some((false, false)),
    };
    *pos += 1;
    // A lazy `?` after a quantifier.
    if c.get(*pos) == Some(&'?') {
        *pos += 1;
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for r in RULES {
            for p in r.patterns {
                let re = regex::bytes::RegexBuilder::new(p).unicode(false).build();
                assert!(re.is_ok(), "rule {} pattern {p:?}: {re:?}", r.name);
            }
        }
        let n: usize = RULES.iter().map(|r| r.patterns.len()).sum();
        assert_eq!(COMPILED.len(), n);
    }

    #[test]
    fn anchors_of_the_syntax_used() {
        let a = |p: &str| anchors(p);
        let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(r"user ?unknown"), v(&["unknown"]));
        assert_eq!(a(r"\bdkim\b"), v(&["dkim"]));
        assert_eq!(
            a(r"(user|mailbox) (does not|doesn't) exist"),
            v(&["does not", "doesn't"])
        );
        assert_eq!(a(r"over ?quota"), v(&["quota"]));
        assert_eq!(a(r"mail(box)? full"), v(&[" full"]));
        assert_eq!(a(r"(ofr|lpn)[0-9]*_104\b"), v(&["_104"]));
        assert_eq!(a(r"queue\.expired"), v(&["queue.expired"]));
        assert_eq!(a(r"a|bc"), None);
        assert_eq!(a(r".*"), None);
        assert_eq!(a(r"spamhaus(?:'s)? list"), v(&["spamhaus"]));
        assert_eq!(a(r"x{0,3}yz+"), v(&["yz"]));
    }

    /// The anchored matcher answers exactly as running every pattern in order would.
    #[test]
    fn anchored_matching_equals_running_every_pattern() {
        let all: Vec<(usize, regex::bytes::Regex)> = RULES
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.patterns.iter().filter_map(move |p| {
                    regex::bytes::RegexBuilder::new(p)
                        .unicode(false)
                        .build()
                        .ok()
                        .map(|re| (i, re))
                })
            })
            .collect();
        let naive = |t: &str| {
            all.iter()
                .find(|(_, re)| re.is_match(t.as_bytes()))
                .map(|(i, _)| &RULES[*i])
        };
        let mut texts: Vec<String> = Vec::new();
        for r in RULES {
            for p in r.patterns {
                // A text made of the pattern's own anchor words and their neighbours.
                if let Some(a) = anchors(p) {
                    texts.push(format!("550 5.0.0 {} x", a.join(" ")));
                }
            }
        }
        texts.push("550 5.1.1 <addr>: recipient address rejected: user unknown".into());
        texts.push("host or domain name not found. name service error".into());
        for t in &texts {
            assert_eq!(
                COMPILED.first(t).map(|r| r.name),
                naive(t).map(|r| r.name),
                "{t:?}"
            );
        }
        assert!(COMPILED.unanchored() <= 5, "{}", COMPILED.unanchored());
        // The candidate set holds 2048 patterns.
        assert!(COMPILED.patterns.len() < 2048);
    }

    /// The key lookup at every position finds every occurrence of every key, as a search for
    /// each key would.
    fn key_occurrences_are_all_found(text: &str) {
        let keys: Vec<&[u8]> = COMPILED
            .anchor_strings
            .iter()
            .map(|s| &s.as_bytes()[..s.len().min(KEY_LEN)])
            .collect();
        let table = KeyTable::new(&keys);
        let b = text.as_bytes();
        let mut got = Vec::new();
        table.each(b, |i, k| got.push((i, keys[k])));
        let mut want = Vec::new();
        for i in 0..b.len() {
            for k in &keys {
                if b[i..].starts_with(k) && !want.contains(&(i, *k)) {
                    want.push((i, *k));
                }
            }
        }
        got.sort();
        want.sort();
        assert_eq!(got, want, "{text:?}");
    }

    #[test]
    fn key_table_finds_every_key() {
        for r in RULES {
            for p in r.patterns {
                if let Some(a) = anchors(p) {
                    key_occurrences_are_all_found(&format!("x{}y {}", a.join(""), a.join(" ")));
                }
            }
        }
        key_occurrences_are_all_found("");
        key_occurrences_are_all_found("5");
    }

    proptest::proptest! {
        #[test]
        fn key_table_finds_every_key_in_random_text(t in "(spf|rbl|user|unkn|quota|5\\.7|mailbox|[a-z .0-9]){0,30}") {
            key_occurrences_are_all_found(&t);
        }
    }

    #[test]
    fn finite_phrases_expand_to_their_strings() {
        let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            expand(r"loop (was )?detected"),
            v(&["loop was detected", "loop detected"])
        );
        assert_eq!(
            expand(r"grey ?list(ed|ing)?"),
            v(&[
                "grey listed",
                "grey listing",
                "grey list",
                "greylisted",
                "greylisting",
                "greylist"
            ])
        );
        assert_eq!(expand(r"a\.b|c"), v(&["a.b", "c"]));
        assert_eq!(expand(r"\bdbl\b"), None);
        assert_eq!(expand(r"x{0,3}"), None);
        assert_eq!(expand(r"x.y"), None);
        assert_eq!(expand(r"(a)?"), None);
        // Every string of an expanded phrase is matched by the phrase.
        for r in RULES {
            for p in r.patterns {
                if let Some(ws) = expand(p) {
                    let re = regex::bytes::RegexBuilder::new(p)
                        .unicode(false)
                        .build()
                        .unwrap();
                    for w in ws {
                        assert!(re.is_match(w.as_bytes()), "{p:?} {w:?}");
                    }
                }
            }
        }
    }

    /// The source of `anchor_table.rs`: every pattern's anchors and literal flag.
    fn anchor_table_source() -> String {
        let mut s = String::from(
            "//! Generated by the test `classify::rules::tests::anchor_table_is_current` (run it with\n\
             //! `UPDATE_ANCHOR_TABLE=1` to rewrite this file): each pattern of the rule table with\n\
             //! its anchors (`rules::anchors`) and whether it is a plain literal that is its own\n\
             //! anchor (`rules::is_literal`), so that a run need not compute them. An entry whose\n\
             //! pattern is not the table's is computed at start-up instead.\n\n\
             /// (pattern, anchors, plain literal)\n\
             #[rustfmt::skip]\n\
             pub(super) static ANCHORS: &[(&str, Option<&[&str]>, bool)] = &[\n",
        );
        for r in RULES {
            for p in r.patterns {
                let set = anchors(p);
                let lit = is_literal(p, set.as_deref());
                let set = match &set {
                    Some(v) => format!(
                        "Some(&[{}])",
                        v.iter()
                            .map(|a| format!("{a:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => "None".to_string(),
                };
                s.push_str(&format!("    ({p:?}, {set}, {lit}),\n"));
            }
        }
        s.push_str("];\n");
        s
    }

    #[test]
    fn anchor_table_is_current() {
        let want = anchor_table_source();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/classify/anchor_table.rs");
        if std::env::var_os("UPDATE_ANCHOR_TABLE").is_some() {
            std::fs::write(path, &want).expect("writes the table");
            return;
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "src/classify/anchor_table.rs is not that of the rules: \
             UPDATE_ANCHOR_TABLE=1 cargo test -p mailerd-analyze anchor_table_is_current"
        );
        // And the compiled table used every entry of it.
        let mut n = 0;
        for r in RULES {
            for p in r.patterns {
                assert_eq!(
                    super::super::anchor_table::ANCHORS.get(n).map(|e| e.0),
                    Some(*p)
                );
                n += 1;
            }
        }
        assert_eq!(super::super::anchor_table::ANCHORS.len(), n);
    }

    #[test]
    fn rule_names_are_unique() {
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
