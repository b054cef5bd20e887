"""Pull from registries that want a login: basic auth (htpasswd) and the
token (bearer) flow with a token server written here."""

import base64
import http.server
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.parse

import jwt
import pytest

import images
from conftest import free_port

USER, PASSWORD = "berth", "s3cret-pw"


def expect_auth_errors(store, ref, host):
    # No credentials at all.
    r = store.ctl("pull", ref, check=False)
    assert r.rc == 1
    assert f"authentication required: registry {host} wants a login" in r.err
    # Wrong password.
    store.login(host, USER, "wrong")
    r = store.ctl("pull", ref, check=False)
    assert r.rc == 1
    assert "authentication refused" in r.err and f'"{USER}"' in r.err
    assert store.images() == []
    # The right one.
    store.login(host, USER, PASSWORD)
    store.ctl("pull", ref)
    assert [i["name"] for i in store.images()] == [ref]


@pytest.fixture(scope="module")
def basic_registry(registry_factory, layouts, session_tmp):
    reg = registry_factory(images.htpasswd_auth(os.path.join(session_tmp, "htpasswd"), USER, PASSWORD))
    reg.push(layouts["share"], "1", "test/private:1", creds=f"{USER}:{PASSWORD}")
    return reg


def test_basic_auth(basic_registry, store):
    expect_auth_errors(store, f"{basic_registry.host}/test/private:1", basic_registry.host)


def test_auth_file_username_password_fields(basic_registry, store):
    with open(store.auth_file, "w") as f:
        json.dump({"auths": {f"http://{basic_registry.host}/v2/": {"username": USER, "password": PASSWORD}}}, f)
    store.ctl("pull", f"{basic_registry.host}/test/private:1")


class TokenServer:
    """Issues registry tokens (JWT, RS256, x5c) for USER:PASSWORD only."""

    def __init__(self, tmp):
        self.key = os.path.join(tmp, "token.key")
        self.cert = os.path.join(tmp, "token.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                        "-out", self.cert, "-days", "1", "-subj", "/CN=berth-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        with open(self.key, "rb") as f:
            self.key_pem = f.read()
        self.issuer, self.service = "berth-test-issuer", "berth-test-registry"
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                server.requests.append(q)
                want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.end_headers()
                    return
                access = []
                for scope in q.get("scope", []):
                    typ, name, actions = scope.split(":")
                    access.append({"type": typ, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                claims = {"iss": server.issuer, "sub": USER, "aud": q["service"][0], "exp": now + 600,
                          "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
                token = jwt.encode(claims, server.key_pem, algorithm="RS256", headers={"x5c": [server.x5c]})
                body = json.dumps({"token": token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def token_registry(registry_factory, layouts, session_tmp):
    ts = TokenServer(session_tmp)
    reg = registry_factory({"token": {"realm": ts.realm, "service": ts.service, "issuer": ts.issuer,
                                      "rootcertbundle": ts.cert}})
    reg.push(layouts["share"], "1", "test/tokened:1", creds=f"{USER}:{PASSWORD}")
    yield reg, ts
    ts.stop()


def test_token_auth(token_registry, store):
    reg, ts = token_registry
    ts.requests.clear()
    expect_auth_errors(store, f"{reg.host}/test/tokened:1", reg.host)
    # berth asked for the scope and service the registry named.
    assert ts.requests[-1]["service"] == [ts.service]
    assert ts.requests[-1]["scope"] == ["repository:test/tokened:pull"]
