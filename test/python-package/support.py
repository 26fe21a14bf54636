"""Test support for nexus_auth: the hub under test (from the environment python-package.test.ts
sets), its control server, plain-requests token requests independent of the package, token
forging, and a relay in front of the hub's JWKS that counts fetches and can go down."""
import base64
import http.server
import json
import os
import threading
import time
import urllib.request

import requests

ISSUER = os.environ['NEXUS_ISSUER']
CONTROL = os.environ['NEXUS_TEST_CONTROL']
OWNER_ID = os.environ['NEXUS_TEST_OWNER_ID']
EMAIL = os.environ['NEXUS_TEST_EMAIL']
SECRETS = {'agi-safety': os.environ['NEXUS_AGI_SAFETY_SECRET'], 'sales': os.environ['NEXUS_SALES_SECRET'],
           'emitter': os.environ['NEXUS_EMITTER_SECRET']}
AUDIENCE = 'urn:nexus:agi-safety'


def control(path, body=None):
    """Asks the test (Node) to act on the hub: sign, rotate keys, create an API key, approve,
    sign a webhook with the standardwebhooks library, read a stored event."""
    response = requests.post(CONTROL + path, json=body or {}, timeout=30)
    if response.status_code != 200:
        raise AssertionError('control %s failed: %s' % (path, response.text))
    return response.json()


def sign(claims=None, header=None):
    """A token signed with the hub's current signing key; None values delete a default claim/header."""
    return control('/sign', {'claims': claims or {}, 'header': header or {}})['token']


def client_credentials(client_id='agi-safety', scope=None):
    """A real access token of the hub for the client itself, with plain requests."""
    form = {'grant_type': 'client_credentials'}
    if scope:
        form['scope'] = scope
    response = requests.post(ISSUER + '/token', data=form, auth=(client_id, SECRETS[client_id]), timeout=15)
    if response.status_code != 200:
        raise AssertionError('client credentials failed: %s' % response.text)
    return response.json()['access_token']


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def parts(token):
    """Header and claims of a compact JWT, unverified."""
    header, payload, _ = token.split('.')
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))
    return decode(header), decode(payload)


def compact(header, claims, signature=b''):
    """header.payload.signature from dicts (the signature is the caller's business)."""
    return '%s.%s.%s' % (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(signature))


def valid_claims(**overrides):
    now = int(time.time())
    claims = {'iss': ISSUER, 'aud': AUDIENCE, 'sub': 'agi-safety', 'client_id': 'agi-safety', 'iat': now, 'exp': now + 300}
    claims.update(overrides)
    return claims


def hub_jwks():
    return requests.get(ISSUER + '/jwks', timeout=15).json()


class JwksRelay:
    """An HTTP relay on 127.0.0.1 in front of the hub: counts the requests it forwards, and
    ``down()`` closes its socket (connection refused), as a hub that went away."""

    def __init__(self, target=ISSUER):
        self.requests = 0
        relay = self
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                relay.requests += 1
                with opener.open(target + self.path, timeout=15) as answer:
                    body = answer.read()
                    self.send_response(answer.status)
                    self.send_header('Content-Type', answer.headers.get('Content-Type', 'application/json'))
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self._server.server_address[1]
        self.jwks_uri = self.url + '/jwks'
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self):
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread = None
