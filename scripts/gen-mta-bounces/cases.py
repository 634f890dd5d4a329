"""The scripted cases: what the next hop answers for each recipient, and what the MTA's
bounce must then say about that recipient (the labels of expected.tsv).

A recipient's local part is the case's id; the next hop looks the case up by it.
stage: 'rcpt' (the reply answers RCPT TO), 'data' (the reply answers the final "."),
'connect' (the MTA is routed to a port where nothing listens: connection refused).
Each reply is a list of lines (a multi-line reply when longer than one).
Expected: status, reason (Sisimai's names), hardbounce, replycode, action.
A 4xx reply is repeated at every attempt; the MTA gives up when its (short) queue lifetime
ends and reports the recipient failed with the last reply it got: the reason is the reply's
reason, the status its 4.x.x code, hardbounce 0.
A reply without an enhanced code: the status is the class-only X.0.0 the MTA's report gives
(RFC 3463 X.0.0, standards.md sec. 2: "use 5.0.0 if nothing more specific fits"); the reason
comes from the words. Where standards.md sec. 6.4 gives the reply's category, the reason is
a Sisimai name of that category (greylisting: TEMP, systemerror; Yahoo TSS04: RATE, speeding).
"""

# reason -> category key (crates/types Category::for_reason, the permanent case)
CATEGORY = {
    'userunknown': 'address-not-found', 'hasmoved': 'address-not-found',
    'suspend': 'address-not-found', 'hostunknown': 'domain-not-found',
    'notaccept': 'domain-not-found', 'mailboxfull': 'inbox-full',
    'blocked': 'message-blocked', 'spamdetected': 'message-blocked',
    'policyviolation': 'message-blocked', 'rejected': 'message-blocked',
    'filtered': 'message-blocked', 'badreputation': 'message-blocked',
    'virusdetected': 'message-blocked', 'securityerror': 'message-blocked',
    'authfailure': 'sender-not-authenticated', 'requireptr': 'sender-not-authenticated',
    'mesgtoobig': 'message-too-large', 'exceedlimit': 'message-too-large',
    'toomanyconn': 'rate-limited', 'speeding': 'rate-limited',
    'expired': 'message-expired', 'norelaying': 'relay-denied',
    'failedstarttls': 'tls-required', 'contenterror': 'content-rejected',
    'notcompliantrfc': 'content-rejected',
}


def category(reason, hard):
    if reason in CATEGORY:
        return CATEGORY[reason]
    return 'not-delivered' if hard else 'temporary-problem'


def temporary(c):
    """Whether case C's failure is a temporary one (retried until the MTA gives up)."""
    return c['stage'] == 'connect' or c['replycode'].startswith('4')


def C(cid, stage, reply, status, reason, replycode=None):
    code = reply[0][:3] if reply else ''
    return {
        'id': cid, 'stage': stage, 'reply': reply, 'status': status, 'reason': reason,
        'hard': '1' if status.startswith('5') and reason in HARD else '0',
        'replycode': replycode if replycode is not None else code,
    }


# Sisimai's hard bounces (when the failure is permanent)
HARD = {'userunknown', 'hostunknown', 'hasmoved', 'notaccept'}

CASES = [
    # address not found
    C('gmail-nouser', 'rcpt', [
        "550-5.1.1 The email account that you tried to reach does not exist. Please try",
        "550-5.1.1 double-checking the recipient's email address for typos or",
        "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1-gsmtp"],
        '5.1.1', 'userunknown'),
    C('m365-notfound', 'rcpt', [
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"],
        '5.1.10', 'userunknown'),
    C('postfix-virtual', 'rcpt', [
        "550 5.1.1 <postfix-virtual@remote.test>: Recipient address rejected: User unknown in virtual mailbox table"],
        '5.1.1', 'userunknown'),
    C('icloud-nouser', 'rcpt', ["550 5.1.1 <icloud-nouser@remote.test>: user does not exist"],
      '5.1.1', 'userunknown'),
    C('icloud-gone', 'rcpt', ["550 5.1.6 recipient no longer on server: icloud-gone@remote.test"],
      '5.1.6', 'hasmoved'),
    C('gmail-disabled', 'rcpt', ["550 5.2.1 The email account that you tried to reach is disabled."],
      '5.2.1', 'suspend'),
    C('gmail-nodomain', 'rcpt', [
        "553-5.1.2 We weren't able to find the recipient domain. Please check for any",
        "553 5.1.2 spelling errors."],
        '5.1.2', 'hostunknown'),
    # mailbox full
    C('icloud-full', 'rcpt', ["552 5.2.2 <icloud-full@remote.test>: user is over quota"],
      '5.2.2', 'mailboxfull'),
    C('m365-full', 'data', [
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded"],
        '5.2.2', 'mailboxfull'),
    C('gmail-full-temp', 'rcpt', [
        "452-4.2.2 The recipient's inbox is out of storage space. Please direct the",
        "452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp x2-gsmtp"],
        '4.2.2', 'mailboxfull'),
    # blocked / spam / policy
    C('spamhaus', 'rcpt', [
        "554 5.7.1 Service unavailable; Client host [192.0.2.45] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.45"],
        '5.7.1', 'blocked'),
    C('outlook-blocklist', 'rcpt', [
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."],
        '5.7.1', 'blocked'),
    C('gmail-spam', 'data', [
        "550-5.7.1 Our system has detected that this message is likely unsolicited mail. To",
        "550-5.7.1 reduce the amount of spam sent to Gmail, this message has been",
        "550 5.7.1 blocked. https://support.google.com/mail/?p=UnsolicitedMessageError x3-gsmtp"],
        '5.7.1', 'spamdetected'),
    C('yahoo-policy', 'data', [
        "554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes"],
        '5.7.9', 'policyviolation'),
    C('gmail-security', 'data', [
        "552-5.7.0 This message was blocked because its content presents a potential",
        "552 5.7.0 security issue."],
        '5.7.0', 'securityerror'),
    # size
    C('gmail-toobig', 'data', ["552-5.3.4 Your message exceeded Google's message size limits.",
                               "552 5.3.4 Please visit https://support.google.com/mail/?p=MaxSizeError"],
      '5.3.4', 'mesgtoobig'),
    C('postfix-toobig', 'data', ["552 5.3.4 Message size exceeds fixed limit"], '5.3.4', 'mesgtoobig'),
    # relaying
    C('exchange-relay', 'rcpt', ["550 5.7.1 Unable to relay"], '5.7.1', 'norelaying'),
    C('icloud-relay', 'rcpt', ["554 5.7.1 <icloud-relay@remote.test>: Relay access denied"],
      '5.7.1', 'norelaying'),
    # authentication
    C('gmail-unauth', 'data', [
        "550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
        "550 5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM."],
        '5.7.26', 'authfailure'),
    C('m365-dmarc', 'data', [
        "550 5.7.509 Access denied, sending domain sender.test does not pass DMARC verification and has a DMARC policy of reject."],
        '5.7.509', 'authfailure'),
    C('gmail-ptr', 'rcpt', [
        "550-5.7.25 The IP address sending this message does not have a PTR record setup, or",
        "550 5.7.25 the corresponding forward DNS entry does not point to the sending IP."],
        '5.7.25', 'requireptr'),
    # rate / connections (temporary until expiry)
    C('gmail-rate', 'rcpt', [
        "450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please",
        "450 4.2.1 resend your message at a later time."],
        '4.2.1', 'speeding'),
    C('yahoo-tss04', 'rcpt', [
        "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"],
        '4.7.0', 'speeding'),
    C('toomany-conn', 'rcpt', ["421 4.7.0 Too many concurrent SMTP connections; please try again later"],
      '4.7.0', 'toomanyconn'),
    C('exceed-limit', 'data', ["552 5.2.3 Message exceeds maximum message size for this recipient"],
      '5.2.3', 'exceedlimit'),
    # system errors
    C('gmail-temp', 'rcpt', ["451 4.3.0 Temporary System Problem. Try again later."], '4.3.0', 'systemerror'),
    C('greylisted', 'rcpt', ["450 4.2.0 <greylisted@remote.test>: Recipient address rejected: Greylisted"],
      '4.2.0', 'systemerror'),
    # no enhanced code in the reply
    C('plain-nouser', 'rcpt', ["550 No such user here"], '5.0.0', 'userunknown'),
    C('plain-full', 'rcpt', ["552 Requested mail action aborted: mailbox full"], '5.0.0', 'mailboxfull'),
    # the MTA cannot connect (refused): expired after the queue lifetime, no reply code
    C('refused', 'connect', [], '4.4.1', 'expired', replycode=''),
]

# multi-recipient messages: (message id, [case ids])
MULTI = [
    ('mix1', ['gmail-nouser', 'icloud-full', 'spamhaus']),
    ('mix2', ['m365-notfound', 'gmail-full-temp', 'accepted']),
]

BY_ID = {c['id']: c for c in CASES}
