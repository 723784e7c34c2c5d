#!/usr/bin/env python3
"""benches/kamailio/replay_check.py - does a registrar refuse a replayed digest?

    python3 benches/kamailio/replay_check.py SERVER_IP:PORT LOCAL_IP USER PASSWORD [REALM_URI]

Sends REGISTER, answers the 401 with qop=auth and nc=00000001 (MD5), then sends the same
Authorization again in a new transaction (new branch, next CSeq): a registrar that checks the
nonce-count (RFC 7616 §3.3; urpd always, Kamailio with -A WITH_NONCE_COUNT) answers the replay
401, one that does not answers 200. Prints the three status lines and exits 0 when the replay
was refused, 1 when it was accepted, 2 on no answer. Loopback only; every receive times out in 3 s.
Used to check that benches/kamailio/kamailio.cfg does the same work as urpd (docs/benchmarks.md,
fourteenth round).
"""
import hashlib
import re
import socket
import sys


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def main():
    if len(sys.argv) < 5:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    server = (host, int(port))
    local, user, password = sys.argv[2], sys.argv[3], sys.argv[4]
    uri = sys.argv[5] if len(sys.argv) > 5 else f"sip:{host}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((local, 0))
    sock.settimeout(3)
    me = f"{local}:{sock.getsockname()[1]}"

    def register(cseq, auth=None):
        msg = (f"REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKreplay{cseq}\r\n"
               f"From: <sip:{user}@{host}>;tag=replay\r\nTo: <sip:{user}@{host}>\r\n"
               f"Call-ID: replay-check@{local}\r\nCSeq: {cseq} REGISTER\r\n"
               f"Contact: <sip:{user}@{me}>\r\nMax-Forwards: 70\r\nExpires: 60\r\n"
               + (f"Authorization: {auth}\r\n" if auth else "") + "Content-Length: 0\r\n\r\n")
        sock.sendto(msg.encode(), server)
        return sock.recv(65535).decode(errors="replace")

    try:
        first = register(1)
        print(first.split("\r\n")[0])
        challenge = re.search(r"WWW-Authenticate: *Digest ([^\r\n]*)", first, re.I)
        if not challenge:
            print("no challenge", file=sys.stderr)
            return 2
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.group(1)))
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        nc, cnonce = "00000001", "5eed"
        ha1 = md5(f"{user}:{realm}:{password}")
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{md5('REGISTER:' + uri)}")
        auth = (f'Digest username="{user}",realm="{realm}",nonce="{nonce}",uri="{uri}",'
                f'response="{response}",algorithm=MD5,qop=auth,nc={nc},cnonce="{cnonce}"')
        used = register(2, auth).split("\r\n")[0]
        replayed = register(3, auth).split("\r\n")[0]
    except socket.timeout:
        print("no answer", file=sys.stderr)
        return 2
    print("first use:", used)
    print("replayed in a new transaction:", replayed)
    return 1 if replayed.startswith("SIP/2.0 200") else 0


if __name__ == "__main__":
    sys.exit(main())
