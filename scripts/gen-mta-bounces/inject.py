"""Sends the test messages to an MTA's SMTP port: one message per case (one recipient),
and the multi-recipient messages of cases.MULTI.

usage: inject.py PORT              (SKIP="CASE..." leaves those cases out, alone or in a mix)
       inject.py --command "CMD"    pipes each message to CMD RCPT... instead
(NO_MULTI=1: no multi-recipient messages)
"""
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402


def message(mid, rcpts):
    return ('From: Sender <sender@sender.test>\r\nTo: %s\r\nSubject: test %s\r\n'
            'Message-ID: <%s@sender.test>\r\nDate: Sat, 05 Dec 2026 12:00:00 +0000\r\n\r\n'
            'Test message %s.\r\n') % (', '.join(rcpts), mid, mid, mid)


def main():
    if sys.argv[1] == '--command':
        # a sendmail-style command (dma has no SMTP listener): CMD... RCPT... < message
        cmd = sys.argv[2].split()
        for mid, rcpts in jobs():
            msg = message(mid, rcpts).replace('\r\n', '\n')
            subprocess.run(cmd + rcpts, input=msg.encode(), check=True)
        return
    port = int(sys.argv[1])
    for mid, rcpts in jobs():
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.sender.test') as s:
            s.sendmail('sender@sender.test', rcpts, message(mid, rcpts))


def jobs():
    skip = set(os.environ.get('SKIP', '').split())
    jobs = [(c['id'], [c['id'] + '@remote.test']) for c in cases.CASES if c['id'] not in skip]
    if not os.environ.get('NO_MULTI'):
        jobs += [(m, [r + '@remote.test' for r in rs if r not in skip]) for m, rs in cases.MULTI]
    return jobs


if __name__ == '__main__':
    main()
