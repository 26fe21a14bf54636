"""The project's own token (no user): the client credentials grant of a confidential client."""
import threading
import time

from .discovery import discover, endpoint
from .oauth import token_request
from .transport import TIMEOUT

# Renew this long before expires_in runs out, so a token never expires on its way to the hub.
RENEW_BEFORE = 30  # seconds


def client_credentials(issuer, client_id, client_secret, scope=None, timeout=TIMEOUT):
    """The token response (``access_token``, ``expires_in``, ``scope``); its token's ``sub`` is
    the client id. Raises OAuthError (``invalid_client``, ``invalid_scope``...), HubUnreachable."""
    if not client_secret:
        raise ValueError('client credentials need the project\'s client secret')
    form = {'grant_type': 'client_credentials'}
    if scope:
        form['scope'] = scope
    token_endpoint = endpoint(discover(issuer, timeout=timeout), 'token_endpoint')
    return token_request(token_endpoint, form, client_id, client_secret, timeout=timeout)


class ClientCredentialsToken:
    """A client-credentials access token kept until shortly before it expires. Safe to share
    between threads: while one thread requests a token, the others wait for it instead of
    sending requests of their own."""

    def __init__(self, issuer, client_id, client_secret, scope=None, timeout=TIMEOUT):
        if not client_secret:
            raise ValueError('client credentials need the project\'s client secret')
        self._request = lambda: client_credentials(issuer, client_id, client_secret, scope, timeout)
        self._lock = threading.Lock()
        self._token = None
        self._renew_at = 0.0

    def get(self):
        """The access token: the cached one, or a new one from the hub."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                answer = self._request()
                lifetime = answer.get('expires_in') if isinstance(answer.get('expires_in'), (int, float)) else 0
                self._token = answer['access_token']
                # A short-lived token is renewed at half its life rather than never cached.
                self._renew_at = time.monotonic() + lifetime - min(RENEW_BEFORE, lifetime / 2)
            return self._token

    def discard(self, token):
        """Forgets ``token`` after the hub refused it. A token that already replaced it is kept,
        so parallel refusals cause one new request, not one each."""
        with self._lock:
            if self._token == token:
                self._token = None
