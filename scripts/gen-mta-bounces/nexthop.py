"""A scripted next-hop SMTP server for the generator.

usage: nexthop.py PORT OUTDIR

Recipients at remote.test get the reply of their case (cases.py, looked up by local part)
at RCPT TO or at the final "."; a local part 'accepted' is accepted. Mail with the null
sender (the MTAs' bounces, addressed to sender.test) is accepted and written to OUTDIR as
NNNN.eml in arrival order.
"""
import os
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

LOCK = threading.Lock()
COUNT = [0]


def reply_bytes(lines):
    return ''.join(l + '\r\n' for l in lines).encode()


class Session(socketserver.StreamRequestHandler):
    timeout = 60

    def send(self, *lines):
        self.wfile.write(reply_bytes(lines))
        self.wfile.flush()

    def handle(self):
        # an MTA may keep an idle connection open for later messages (Courier does): after
        # `timeout` s without a command, close it as a server does (RFC 5321 4.5.3.2.7)
        try:
            self.dialogue()
        except TimeoutError:
            try:
                self.send('421 4.4.2 mx.remote.test idle too long, closing')
            except OSError:
                pass
        except ConnectionError:
            pass

    def dialogue(self):
        self.send('220 mx.remote.test ESMTP scripted')
        sender = None
        rcpts = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode('latin-1').rstrip('\r\n')
            up = cmd.upper()
            if up.startswith('EHLO'):
                self.send('250-mx.remote.test', '250-PIPELINING', '250-8BITMIME', '250 SIZE 100000000')
            elif up.startswith('HELO'):
                self.send('250 mx.remote.test')
            elif up.startswith('MAIL FROM:'):
                sender = cmd[10:].strip().split(' ')[0].strip('<>')
                rcpts = []
                self.send('250 2.1.0 Ok')
            elif up.startswith('RCPT TO:'):
                addr = cmd[8:].strip().split(' ')[0].strip('<>')
                local, _, domain = addr.partition('@')
                case = cases.BY_ID.get(local)
                if domain == 'sender.test' or local == 'accepted':
                    rcpts.append((addr, None))
                    self.send('250 2.1.5 Ok')
                elif case is None:
                    self.send('550 5.1.1 unscripted recipient')
                elif case['stage'] == 'rcpt':
                    self.send(*case['reply'])
                    if case['reply'][-1].startswith('421'):
                        return  # 421: the server closes the channel (RFC 5321 3.8)
                else:
                    rcpts.append((addr, case))
                    self.send('250 2.1.5 Ok')
            elif up == 'DATA':
                if not rcpts:
                    self.send('554 5.5.1 No valid recipients')
                    continue
                self.send('354 End data with <CR><LF>.<CR><LF>')
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l:
                        return
                    if l in (b'.\r\n', b'.\n'):
                        break
                    if l.startswith(b'..'):
                        l = l[1:]
                    data.append(l)
                failing = [c for _, c in rcpts if c is not None]
                if failing:
                    self.send(*failing[0]['reply'])
                    if failing[0]['reply'][-1].startswith('421'):
                        return
                    continue
                if sender == '':
                    with LOCK:
                        COUNT[0] += 1
                        path = os.path.join(OUTDIR, '%04d.eml' % COUNT[0])
                    with open(path, 'wb') as fh:
                        fh.write(b''.join(data).replace(b'\r\n', b'\n'))
                self.send('250 2.0.0 Ok: queued')
            elif up == 'RSET':
                rcpts = []
                self.send('250 2.0.0 Ok')
            elif up == 'NOOP':
                self.send('250 2.0.0 Ok')
            elif up == 'QUIT':
                self.send('221 2.0.0 Bye')
                return
            else:
                self.send('502 5.5.2 Command not recognized')


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == '__main__':
    OUTDIR = sys.argv[2]
    os.makedirs(OUTDIR, exist_ok=True)
    # also on 127.0.0.2 and 127.0.0.3: an MTA can be given routes of its own for its bounces
    # and for the cases answered with 421 (OpenSMTPD holds back every message for a route
    # that answered 421 a moment ago)
    for host in ('127.0.0.2', '127.0.0.3'):
        extra = Server((host, int(sys.argv[1])), Session)
        threading.Thread(target=extra.serve_forever, daemon=True).start()
    with Server(('127.0.0.1', int(sys.argv[1])), Session) as srv:
        srv.serve_forever()
