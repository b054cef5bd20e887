"""A minimal SPDY/3.1 client for the streaming tests: the HTTP upgrade,
frames, zlib header blocks with SPDY/3's dictionary, and k8s.io's
remotecommand and portforward stream conventions on top.  Debian's Python
has no SPDY library; this is only as much as the tests need (no flow
control: berthd, like spdystream, uses none)."""

import json
import socket
import struct
import threading
import time
import urllib.parse
import zlib

# SPDY/3 section 2.6.10.1: the header compression dictionary (1423 bytes).
DICTIONARY = bytes.fromhex(
    "000000076f7074696f6e73000000046865616400000004706f7374000000037075740000000664656c65746500000005"
    "7472616365000000066163636570740000000e6163636570742d636861727365740000000f6163636570742d656e636f"
    "64696e670000000f6163636570742d6c616e67756167650000000d6163636570742d72616e6765730000000361676500"
    "000005616c6c6f770000000d617574686f72697a6174696f6e0000000d63616368652d636f6e74726f6c0000000a636f"
    "6e6e656374696f6e0000000c636f6e74656e742d6261736500000010636f6e74656e742d656e636f64696e6700000010"
    "636f6e74656e742d6c616e67756167650000000e636f6e74656e742d6c656e67746800000010636f6e74656e742d6c6f"
    "636174696f6e0000000b636f6e74656e742d6d64350000000d636f6e74656e742d72616e67650000000c636f6e74656e"
    "742d74797065000000046461746500000004657461670000000665787065637400000007657870697265730000000466"
    "726f6d00000004686f73740000000869662d6d617463680000001169662d6d6f6469666965642d73696e63650000000d"
    "69662d6e6f6e652d6d617463680000000869662d72616e67650000001369662d756e6d6f6469666965642d73696e6365"
    "0000000d6c6173742d6d6f646966696564000000086c6f636174696f6e0000000c6d61782d666f727761726473000000"
    "06707261676d610000001270726f78792d61757468656e7469636174650000001370726f78792d617574686f72697a61"
    "74696f6e0000000572616e676500000007726566657265720000000b72657472792d6166746572000000067365727665"
    "7200000002746500000007747261696c6572000000117472616e736665722d656e636f64696e67000000077570677261"
    "64650000000a757365722d6167656e74000000047661727900000003766961000000077761726e696e67000000107777"
    "772d61757468656e746963617465000000066d6574686f64000000036765740000000673746174757300000006323030"
    "204f4b0000000776657273696f6e00000008485454502f312e310000000375726c000000067075626c69630000000a73"
    "65742d636f6f6b69650000000a6b6565702d616c697665000000066f726967696e313030313031323031323032323035"
    "323036333030333032333033333034333035333036333037343032343035343036343037343038343039343130343131"
    "343132343133343134343135343136343137353032353034353035323033204e6f6e2d417574686f7269746174697665"
    "20496e666f726d6174696f6e323034204e6f20436f6e74656e74333031204d6f766564205065726d616e656e746c7934"
    "303020426164205265717565737434303120556e617574686f72697a656434303320466f7262696464656e343034204e"
    "6f7420466f756e6435303020496e7465726e616c20536572766572204572726f72353031204e6f7420496d706c656d65"
    "6e746564353033205365727669636520556e617661696c61626c654a616e20466562204d617220417072204d6179204a"
    "756e204a756c204175672053657074204f6374204e6f76204465632030303a30303a3030204d6f6e2c205475652c2057"
    "65642c205468752c204672692c205361742c2053756e2c20474d546368756e6b65642c746578742f68746d6c2c696d61"
    "67652f706e672c696d6167652f6a70672c696d6167652f6769662c6170706c69636174696f6e2f786d6c2c6170706c69"
    "636174696f6e2f7868746d6c2b786d6c2c746578742f706c61696e2c746578742f6a6176617363726970742c7075626c"
    "6963707269766174656d61782d6167653d677a69702c6465666c6174652c73646368636861727365743d7574662d3863"
    "6861727365743d69736f2d383835392d312c7574662d2c2a2c656e713d302e"
)
assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == 0xE3C6A7C2

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FIN = 1


class UpgradeError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


def control(ctype, flags, payload):
    return struct.pack(">HHI", 0x8000 | 3, ctype, (flags << 24) | len(payload)) + payload


def data_frame(sid, flags, payload):
    return struct.pack(">II", sid & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


def header_block_raw(headers):
    raw = struct.pack(">I", len(headers))
    for k, v in headers.items():
        k, v = k.encode(), v.encode()
        raw += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
    return raw


def parse_header_block(raw):
    n, = struct.unpack_from(">I", raw, 0)
    off, out = 4, {}
    for _ in range(n):
        kl, = struct.unpack_from(">I", raw, off)
        k = raw[off + 4:off + 4 + kl].decode()
        off += 4 + kl
        vl, = struct.unpack_from(">I", raw, off)
        out[k] = raw[off + 4:off + 4 + vl].decode()
        off += 4 + vl
    assert off == len(raw)
    return out


def http_request(url, protocols=(), method="POST", extra=None, upgrade=True, raw=None, timeout=10):
    """Sends the upgrade request; returns (socket, status, headers, rest)."""
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    if raw is None:
        lines = [f"{method} {u.path} HTTP/1.1", f"Host: {u.netloc}"]
        if upgrade:
            lines += ["Connection: Upgrade", "Upgrade: SPDY/3.1"]
        lines += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
        lines += list(extra or [])
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    s.sendall(raw)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return s, status, headers, rest


def http_error(url, **kw):
    """(status, body) of a request that is not upgraded."""
    s, status, headers, rest = http_request(url, **kw)
    body = rest
    n = int(headers.get("content-length", "0"))
    s.settimeout(5)
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    s.close()
    return status, body.decode(errors="replace")


class Stream:
    def __init__(self, sid):
        self.id = sid
        self.data = bytearray()
        self.fin = False
        self.reset = None
        self.replied = False


class Conn:
    def __init__(self, url, protocols=("v4.channel.k8s.io",), method="POST", timeout=10):
        self.sock, status, headers, rest = http_request(url, protocols, method, timeout=timeout)
        if status != 101:
            body = rest
            try:
                self.sock.settimeout(2)
                while len(body) < int(headers.get("content-length", "0")):
                    c = self.sock.recv(65536)
                    if not c:
                        break
                    body += c
            finally:
                self.sock.close()
            raise UpgradeError(status, body.decode(errors="replace"))
        self.protocol = headers.get("x-stream-protocol-version", "")
        self.sock.settimeout(None)
        self.comp = zlib.compressobj(zdict=DICTIONARY)
        self.decomp = zlib.decompressobj(zdict=DICTIONARY)
        self.next_id = 1
        self.streams = {}
        self.pings = []
        self.goaway = None
        self.closed = False
        self.cv = threading.Condition()
        self.wlock = threading.Lock()
        self.buf = bytearray(rest)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # ---- writing ----
    def _send(self, b):
        with self.wlock:
            self.sock.sendall(b)

    def open(self, headers, fin=False):
        with self.cv:
            sid = self.next_id
            self.next_id += 2
            self.streams[sid] = Stream(sid)
        block = self.comp.compress(header_block_raw(headers)) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        self._send(control(SYN_STREAM, FIN if fin else 0, struct.pack(">IIH", sid, 0, 0) + block))
        return sid

    def send(self, sid, data=b"", fin=False):
        # 32 KiB frames, as kubectl's io.Copy writes them.
        chunks = [data[i:i + 32768] for i in range(0, len(data), 32768)] or [b""]
        for i, chunk in enumerate(chunks):
            self._send(data_frame(sid, FIN if fin and i == len(chunks) - 1 else 0, chunk))

    def rst(self, sid, status=5):
        self._send(control(RST_STREAM, 0, struct.pack(">II", sid, status)))

    def ping(self, pid):
        self._send(control(PING, 0, struct.pack(">I", pid)))

    def raw(self, b):
        self._send(b)

    # ---- reading ----
    def _frames(self):
        while len(self.buf) >= 8:
            length = int.from_bytes(self.buf[5:8], "big")
            if len(self.buf) < 8 + length:
                return
            frame, self.buf = bytes(self.buf[:8 + length]), self.buf[8 + length:]
            yield frame

    def _read(self):
        try:
            while True:
                for f in self._frames():
                    self._handle(f)
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except OSError:
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def _handle(self, f):
        flags = f[4]
        payload = f[8:]
        with self.cv:
            if f[0] & 0x80:
                ctype = int.from_bytes(f[2:4], "big")
                if ctype == SYN_REPLY:
                    sid = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                    parse_header_block(self.decomp.decompress(payload[4:]))
                    self.streams[sid].replied = True
                elif ctype == RST_STREAM:
                    sid, status = struct.unpack(">II", payload[:8])
                    if sid in self.streams:
                        self.streams[sid].reset = status
                elif ctype == PING:
                    self.pings.append(struct.unpack(">I", payload[:4])[0])
                elif ctype == GOAWAY:
                    self.goaway = struct.unpack(">II", payload[:8])
            else:
                sid = int.from_bytes(f[:4], "big")
                st = self.streams[sid]
                st.data += payload
                if flags & FIN:
                    st.fin = True
            self.cv.notify_all()

    def wait(self, pred, timeout=20):
        with self.cv:
            if not self.cv.wait_for(pred, timeout):
                raise TimeoutError("condition not met")

    def read_until(self, sid, needle, timeout=20):
        try:
            self.wait(lambda: needle in self.streams[sid].data or self.streams[sid].fin, timeout)
        except TimeoutError:
            raise TimeoutError(f"{needle!r} not in {bytes(self.streams[sid].data)!r} "
                               f"(closed {self.closed}, {[(s.id, s.reset, s.fin) for s in self.streams.values()]})")
        return bytes(self.streams[sid].data)

    def read_all(self, sid, timeout=20):
        self.wait(lambda: self.streams[sid].fin or self.streams[sid].reset is not None or self.closed, timeout)
        return bytes(self.streams[sid].data)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reader.join(5)


def remote(url, stdin=None, stdout=True, stderr=True, tty=False, resize=None, protocol="v4.channel.k8s.io",
           keep_open=False, timeout=30):
    """Runs a remotecommand session the way kubectl does; returns
    (stdout, stderr, status) where status is the error stream's JSON (v4) or
    text, or the open Conn and its stream ids with keep_open."""
    c = Conn(url, (protocol,))
    ids = {"error": c.open({"streamType": "error"})}
    if stdin is not None:
        ids["stdin"] = c.open({"streamType": "stdin"})
    if stdout:
        ids["stdout"] = c.open({"streamType": "stdout"})
    if stderr and not tty:
        ids["stderr"] = c.open({"streamType": "stderr"})
    if tty:
        ids["resize"] = c.open({"streamType": "resize"})
        if resize:
            c.send(ids["resize"], json.dumps({"Width": resize[0], "Height": resize[1]}).encode() + b"\n")
    if keep_open:
        return c, ids
    if stdin is not None:
        if stdin:
            c.send(ids["stdin"], stdin)
        c.send(ids["stdin"], b"", fin=True)
    return finish(c, ids, timeout)


def finish(c, ids, timeout=30):
    status = c.read_all(ids["error"], timeout)
    out = c.read_all(ids["stdout"], timeout) if "stdout" in ids else b""
    err = c.read_all(ids["stderr"], timeout) if "stderr" in ids else b""
    c.close()
    if status.startswith(b"{"):
        status = json.loads(status)
    return out, err, status


def forward(url, port, request_id, payload, timeout=20):
    """One port-forward request on a new connection: sends payload, closes
    its side, returns (data, error)."""
    c = Conn(url, ("portforward.k8s.io",))
    try:
        return forward_on(c, port, request_id, payload, timeout)
    finally:
        c.close()


def forward_on(c, port, request_id, payload, timeout=20):
    h = {"port": str(port), "requestID": str(request_id)}
    e = c.open(dict(h, streamType="error"))
    c.send(e, b"", fin=True)  # kubectl closes its side of the error stream at once
    d = c.open(dict(h, streamType="data"))
    if payload:
        c.send(d, payload)
    c.send(d, b"", fin=True)
    data = c.read_all(d, timeout)
    err = c.read_all(e, timeout)
    return data, err
