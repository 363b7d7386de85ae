"""A small OpenID provider on loopback for the OIDC sign-in test: a JWKS, a token and a userinfo endpoint.

The test plays the authorization endpoint itself (it hands the provider a code for the nonce the portal sent),
so what runs here is the boundary mozilla-django-oidc really talks to: it fetches the signing key, trades
the code for an RS256-signed ID token, and reads the claims.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "cloud-portal"
CLIENT_SECRET = "oidc-test-secret"
KID = "test-key-1"


class Provider:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signing_key = self.key  # a test swaps this to sign with a key the JWKS does not hold
        self.codes: dict[str, dict] = {}  # code -> {"nonce": …, "claims": {…}}
        self.tokens: dict[str, dict] = {}  # access token -> claims
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def issue_code(self, code: str, nonce: str, claims: dict) -> None:
        self.codes[code] = {"nonce": nonce, "claims": claims}

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/jwks":
                    return self.answer(200, provider.jwks())
                if self.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.tokens:
                        return self.answer(401, {"error": "invalid_token"})
                    return self.answer(200, provider.tokens[token])
                return self.answer(404, {})

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                field = {name: values[0] for name, values in form.items()}
                if self.path != "/token":
                    return self.answer(404, {})
                if (field.get("client_id"), field.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                    return self.answer(401, {"error": "invalid_client"})
                grant = provider.codes.pop(field.get("code", ""), None)
                if grant is None or field.get("grant_type") != "authorization_code":
                    return self.answer(400, {"error": "invalid_grant"})
                now = int(time.time())
                id_token = jwt.encode(
                    {"iss": provider.url, "aud": CLIENT_ID, "sub": grant["claims"]["preferred_username"],
                     "iat": now, "exp": now + 300, "nonce": grant["nonce"]},
                    provider.signing_key, algorithm="RS256", headers={"kid": KID},
                )
                access_token = f"at-{field['code']}"
                provider.tokens[access_token] = grant["claims"]
                return self.answer(200, {"id_token": id_token, "access_token": access_token, "token_type": "Bearer"})

        return Handler
