"""Offline verification of the hub's access tokens: RS256 JWTs (RFC 9068) checked against the
cached JWKS for signature, type, issuer, audience and lifetime, as the Node SDK does."""
import time

from .claims import check_claims
from .discovery import discover, endpoint, normalize_issuer
from .jwks import JwksCache
from .signed import signed_claims

ACCESS_TOKEN_TYP = 'at+jwt'
# What every hub access token carries besides iss and aud (as the Node SDK requires).
REQUIRED_CLAIMS = ('sub', 'exp', 'iat', 'client_id')
WHAT = 'the access token'


class Verifier:
    """``Verifier(issuer, audience).verify(token)`` returns the token's claims or raises InvalidToken.

    One Verifier per process (or per audience): it holds the key cache. The JWKS is fetched at
    the first verification from ``jwks_uri`` (default ``ISSUER/jwks``; ``from_discovery`` takes
    the one the discovery document names)."""

    # What a subclass verifies instead (see gateway.py): the JWT type, its name in errors, the claims it needs.
    TYP = ACCESS_TOKEN_TYP
    WHAT = WHAT
    REQUIRED_CLAIMS = REQUIRED_CLAIMS

    def __init__(self, issuer, audience, jwks_uri=None, leeway=5, cooldown=30.0, max_age=600.0, timeout=5.0):
        if not audience:
            raise ValueError('an audience is required, e.g. urn:nexus:agi-safety')
        self.issuer = normalize_issuer(issuer)
        self.audience = audience
        self.leeway = leeway
        self.keys = JwksCache(jwks_uri or self.issuer + '/jwks', cooldown=cooldown, max_age=max_age, timeout=timeout)

    @classmethod
    def from_discovery(cls, issuer, audience, **options):
        """A Verifier using the ``jwks_uri`` of the hub's discovery document (fetched now)."""
        return cls(issuer, audience, jwks_uri=endpoint(discover(issuer), 'jwks_uri'), **options)

    def verify(self, token):
        """The claims of a valid access token for this audience, as a dict."""
        claims = signed_claims(token, self.keys, self.TYP, self.WHAT)
        check_claims(claims, self.issuer, self.audience, int(time.time()), self.leeway, self.REQUIRED_CLAIMS, self.WHAT)
        return claims
