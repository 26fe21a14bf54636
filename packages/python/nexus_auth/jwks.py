"""The hub's signing keys, fetched once and kept.

A token with an unknown ``kid`` (the hub rotated) triggers one refetch, at most once per
``cooldown`` seconds, so a flood of forged kids cannot hammer the hub. Keys already held keep
working while the hub is unreachable: a failed refresh never drops them. Keys the hub withdrew
(retired) are dropped at the next successful refresh.
"""
import threading
import time

from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import PyJWTError

from .claims import ALGORITHM
from .errors import HubError, InvalidToken, NexusAuthError
from .transport import get_json


class JwksCache:
    def __init__(self, jwks_uri, cooldown=30.0, max_age=600.0, timeout=5.0):
        """``cooldown``: minimum seconds between two fetches. ``max_age``: keys older than this
        are refreshed in the background while they keep verifying. ``timeout``: per fetch."""
        self.jwks_uri = jwks_uri
        self.cooldown = cooldown
        self.max_age = max_age
        self.timeout = timeout
        self._keys = {}
        self._fetched_at = None
        self._attempted_at = None
        self._lock = threading.Lock()

    def get_key(self, kid):
        """The public key for ``kid``: from the cache, else after one refresh (if the cooldown
        allows). Raises InvalidToken when there is no such key or the JWKS cannot be fetched."""
        if not isinstance(kid, str) or not kid:
            raise InvalidToken('the token has no kid')
        key = self._keys.get(kid)
        if key is not None:
            if self._stale():
                threading.Thread(target=self._refresh_quietly, name='nexus-auth-jwks', daemon=True).start()
            return key
        try:
            self.refresh()
        except NexusAuthError as error:
            raise InvalidToken('the hub\'s JWKS cannot be fetched: %s' % error) from error
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken('no key with kid %s in the hub\'s JWKS' % kid)
        return key

    def refresh(self):
        """Fetches the JWKS unless a fetch was attempted within the cooldown; returns whether it
        fetched. Concurrent callers wait for one fetch. Raises HubUnreachable or HubError on
        failure, keeping the keys held."""
        with self._lock:
            if self._attempted_at is not None and time.monotonic() - self._attempted_at < self.cooldown:
                return False
            self._attempted_at = time.monotonic()
            self._keys = self._load()
            self._fetched_at = time.monotonic()
            return True

    def _stale(self):
        """Old keys, and a background refresh would fetch (not in the cooldown, none running)."""
        now = time.monotonic()
        return (self._fetched_at is not None and now - self._fetched_at > self.max_age
                and now - self._attempted_at >= self.cooldown and not self._lock.locked())

    def _refresh_quietly(self):
        try:
            self.refresh()
        except NexusAuthError:
            pass  # the keys held keep working; the next unknown kid or stale use tries again

    def _load(self):
        document = get_json(self.jwks_uri, timeout=self.timeout)
        keys = document.get('keys')
        if not isinstance(keys, list):
            raise HubError('the JWKS at %s has no keys' % self.jwks_uri)
        loaded = {}
        for jwk in keys:
            key = _public_rsa_key(jwk)
            if key is not None:
                loaded[jwk['kid']] = key
        return loaded


def _public_rsa_key(jwk):
    """An RSA signing key of the JWKS as a public key, or None for keys that are not one."""
    if not isinstance(jwk, dict) or not isinstance(jwk.get('kid'), str) or jwk.get('kty') != 'RSA':
        return None
    if jwk.get('use') not in (None, 'sig') or jwk.get('alg') not in (None, ALGORITHM):
        return None
    try:
        # Only the public members: a private part published by mistake is never used.
        return RSAAlgorithm.from_jwk({'kty': 'RSA', 'n': jwk['n'], 'e': jwk['e']})
    except (KeyError, TypeError, ValueError, PyJWTError):  # a malformed member: not a usable key
        return None
