"""Drive a headless baresip over ctrl_tcp (netstring JSON): dial, wait for
CALL_ESTABLISHED, hang up, quit. Usage: baresip_ctl.py CTRL_IP CTRL_PORT SIP_URI"""
import socket, json, sys, time
def ns(obj):
    b=json.dumps(obj).encode(); return str(len(b)).encode()+b":"+b+b","
s=socket.create_connection((sys.argv[1], int(sys.argv[2])),timeout=10)
buf=b""
def events(deadline):
    global buf
    while time.time()<deadline:
        while b":" in buf:
            n,rest=buf.split(b":",1); n=int(n)
            if len(rest)<n+1: break
            yield json.loads(rest[:n]); buf=rest[n+1:]
        try: d=s.recv(65536)
        except socket.timeout: continue
        if not d: return
        buf+=d
s.sendall(ns({"command":"dial","params":sys.argv[3],"token":"d1"}))
for e in events(time.time()+15):
    print(e, flush=True)
    if e.get("type")=="CALL_ESTABLISHED":
        time.sleep(0.5); s.sendall(ns({"command":"hangup","token":"h1"}))
    if e.get("type")=="CALL_CLOSED":
        s.sendall(ns({"command":"quit","token":"q1"})); break
else:
    sys.exit("no CALL_CLOSED event")
