"""Names the collected bounces and writes expected.tsv from the case table.

usage: label.py RAWDIR OUTDIR MTA...

Which cases a bounce is about is found from the addresses it names before the returned
message (each case's recipient address is unique); the labels are the case's, never an
analyzer's. A bounce file is named after its cases: MTA/CASE.eml, or MTA/MESSAGE.eml for a
multi-recipient message, with -2, -3 for a message's later notices.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

MARKERS = [b'Received: from client.sender.test', b'From: Sender <sender@sender.test>']
ADDR = re.compile(rb'([A-Za-z0-9-]+)@remote\.test')
COLUMNS = ['file', 'index', 'recipient', 'status', 'reason', 'hardbounce', 'replycode',
           'action', 'category', 'kind', 'module']

# MTAs configured to retry a 4xx reply (or a refused connection) until their limit, and
# whose bounce then says so (Exim "retry timeout exceeded", Sendmail "Message could not be
# delivered for 40 seconds"): such a recipient's reason is `expired` (Sisimai 4.25 says the
# same of Exim's), its status the last reply's enhanced code, or without a reply the status
# of the report (Exim's class-only 5.0.0, Sendmail's 4.4.7). Postfix runs with a queue
# lifetime of 0: it bounces at the first 4xx with that reply, and the reason is the reply's.
EXPIRES = {'exim': '5.0.0', 'sendmail': '4.4.7'}
# MTAs whose expiry notice gives neither the last reply nor its code: reason `expired`, no
# reply code, and the status their notice leads to. OpenSMTPD 6.8 ("rcpt: Envelope
# expired", and its delay notice's wording although the envelope was dropped): the report's
# 4.4.7. dma 0.13 ("Could not deliver for the last 432000 seconds. Giving up.", no report):
# no status at all, so Sisimai's pseudo status of `expired`, 5.0.947 (its corpus labels
# lhost-dragonfly-29 and -30 so).
SILENT_EXPIRY = {'opensmtpd': '4.4.7', 'dma': '5.0.947'}
# MTAs run with a delay warning before they give up (Courier's warntime, Exim's
# delay_warning, Postfix's delay_warning_time, Sendmail's Timeout.queuewarn, OpenSMTPD's
# bounce warn-interval): those notices
# are labelled as delays (action delayed, kind delay, the reply's status and reason), with
# the module MTA-warnings: scored apart from the MTA's failure notices.
WARNS = {'courier', 'exim', 'postfix-retry', 'sendmail', 'opensmtpd'}
# A refused connection's warning: the status the MTA reports, and the reason its words
# support. Exim gives 4.0.0 and no words (Sisimai's `expired`, its name for a delivery still
# being tried); Postfix 4.4.1 and "connect to ...: Connection refused", Sendmail 4.4.1 and
# "Deferred: Connection refused by [127.0.0.1]" (networkerror).
WARN_CONNECT = {'exim': ('4.0.0', 'expired'), 'postfix-retry': ('4.4.1', 'networkerror'),
                'sendmail': ('4.4.1', 'networkerror'),
                # OpenSMTPD: 4.0.0, "Network error on destination MXs"
                'opensmtpd': ('4.0.0', 'networkerror')}
# A reply without an enhanced code: the status is the one the MTA's report gives. Postfix,
# Exim, OpenSMTPD and Courier give the class-only X.0.0; Sendmail derives one from the
# words. dma writes no report: Sisimai's pseudo status of the reason (5.0.9NN, the
# reason's number in Sisimai's table, as for its lhost-dragonfly corpus files).
# Haraka 3.3.4 writes no Status for such a reply either.
PLAIN_STATUS = {'sendmail': {'plain-nouser': '5.1.1', 'plain-full': '5.2.2'},
                'dma': {'plain-nouser': '5.0.911', 'plain-full': '5.0.922'},
                'haraka': {'plain-nouser': '5.0.911', 'plain-full': '5.0.922'}}
# The status an MTA reports for the connection refused until it gave up, when not the
# case's 4.4.1: Haraka `5.1.2 (550 Tried all MXs remote.test)`.
CONNECT_STATUS = {'haraka': '5.1.2'}


def labels(c, mta):
    """status, reason, hardbounce, replycode, category of case C in MTA's bounce."""
    status, reason = c['status'], c['reason']
    temporary_ = cases.temporary(c)
    if mta in SILENT_EXPIRY and temporary_:
        return SILENT_EXPIRY[mta], 'expired', '0', '', 'message-expired'
    status = PLAIN_STATUS.get(mta, {}).get(c['id'], status)
    if c['stage'] == 'connect' and mta in CONNECT_STATUS:
        status = CONNECT_STATUS[mta]
    if mta in EXPIRES and temporary_:
        reason = 'expired'
        if c['stage'] == 'connect':
            status = EXPIRES[mta]
    # every labelled recipient failed for good (action failed): with a 4.x.x status its
    # category is "Delivery expired" (standards.md sec. 6.2 evaluates "Action failed +
    # 4.x.x" first), else the permanent one of its reason, hard bounce or not
    category = 'message-expired' if status.startswith('4') else cases.category(reason, True)
    return status, reason, c['hard'], c['replycode'], category


def report_part(data):
    cut = len(data)
    for m in MARKERS:
        i = data.find(m)
        if i >= 0:
            cut = min(cut, i)
    return data[:cut]


FINAL = re.compile(rb'(?im)^Final-Recipient:[^\n]*?([A-Za-z0-9-]+)@remote\.test')


def recipients(data):
    """The cases a bounce reports: those of its delivery-status part when it has one, in that
    order (Exim's text lists them in another order than its report; Sendmail's transcript
    names recipients the notice is not about), else those it mentions, in order."""
    seen = []
    part = report_part(data)
    for m in list(FINAL.finditer(part)) or list(ADDR.finditer(part)):
        local = m.group(1).decode()
        if local in cases.BY_ID and local not in seen:
            seen.append(local)
    return seen


def message_of(rcpts):
    for mid, members in cases.MULTI:
        if rcpts and all(r in members for r in rcpts) and (len(rcpts) > 1 or rcpts[0] not in
                                                             [c['id'] for c in cases.CASES]):
            return mid
    if len(rcpts) == 1:
        return rcpts[0]
    for mid, members in cases.MULTI:
        if all(r in members for r in rcpts):
            return mid
    return 'unknown'


def main():
    raw, out = sys.argv[1], sys.argv[2]
    # rows of the MTAs not generated in this run are kept as they were
    rows = []
    try:
        with open(os.path.join(out, 'expected.tsv')) as fh:
            kept = [line.rstrip('\n').split('\t') for line in fh]
        if kept and kept[0] == COLUMNS:
            run = set(sys.argv[3:]) | {m + '-warnings' for m in sys.argv[3:]}
            rows = [r for r in kept[1:] if len(r) == len(COLUMNS) and r[-1] not in run]
    except FileNotFoundError:
        pass
    for mta in sys.argv[3:]:
        dest = os.path.join(out, mta)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        src = os.path.join(raw, mta)
        files = sorted(os.listdir(src)) if os.path.isdir(src) else []
        found = []
        for f in files:
            with open(os.path.join(src, f), 'rb') as fh:
                data = fh.read()
            rc = recipients(data)
            found.append((data, rc))
        # files are named in arrival order: a notice about temporary failures only, each of
        # them reported again by a later notice, is the MTA's delay warning (MTAs in WARNS)
        def mid_of(data, rc):
            subj = re.search(rb'\nSubject: test ([A-Za-z0-9-]+)', data)
            return subj.group(1).decode() if subj else message_of(rc)
        warnings = set()
        if mta in WARNS:
            mids = [mid_of(data, rc) for data, rc in found]
            for i, (_, rc) in enumerate(found):
                later = {r for j in range(i + 1, len(found)) if mids[j] == mids[i]
                         for r in found[j][1]}
                if rc and all(cases.temporary(cases.BY_ID[r]) and r in later for r in rc):
                    warnings.add(i)
        found = [(data, rc, i in warnings) for i, (data, rc) in enumerate(found)]
        # a message's notices in an order that does not depend on which came first (Postfix
        # sends a mix's two at once): the one about permanent failures, then the other
        found.sort(key=lambda f: (f[2], any(cases.temporary(cases.BY_ID[r]) for r in f[1]), f[1]))
        # a message's notices: single-recipient cases by case id, mixes by message id; a
        # delay warning as ID-delay
        names = {}
        for data, rc, warning in found:
            mid = mid_of(data, rc)
            if warning:
                mid += '-delay'
            n = names.get(mid, 0) + 1
            names[mid] = n
            name = '%s/%s%s.eml' % (mta, mid, '' if n == 1 else '-%d' % n)
            with open(os.path.join(out, name), 'wb') as fh:
                fh.write(data)
            for i, r in enumerate(rc, 1):
                c = cases.BY_ID[r]
                if warning:
                    # still retried: the reply's status and reason, the temporary category
                    # (`expired` while retried is "Temporary problem", not "Delivery expired");
                    # a refused connection as WARN_CONNECT says
                    status, reason = c['status'], c['reason']
                    if c['stage'] == 'connect':
                        status, reason = WARN_CONNECT.get(mta, (status, reason))
                    category = ('temporary-problem' if reason == 'expired'
                                else cases.category(reason, False))
                    rows.append([name, str(i), r + '@remote.test', status, reason,
                                 '0', c['replycode'], 'delayed', category, 'delay',
                                 mta + '-warnings'])
                    continue
                status, reason, hard, code, category = labels(c, mta)
                rows.append([name, str(i), r + '@remote.test', status, reason, hard, code,
                             'failed', category, 'bounce', mta])
    rows.sort(key=lambda r: (r[0], int(r[1])))
    with open(os.path.join(out, 'expected.tsv'), 'w') as fh:
        fh.write('\t'.join(COLUMNS) + '\n')
        for r in rows:
            fh.write('\t'.join(r) + '\n')


if __name__ == '__main__':
    main()
