"""The Nexus gateway's X-Nexus-Assertion, checked in Python as @nexus/auth does it.

The hub signs one for every request it forwards to a project: an RS256 JWT with
``typ: nexus-gateway+jwt``, ``aud`` = the project's API audience and a life of at most 60 s.
A project that can also be reached directly trusts the X-Nexus-* headers only through it::

    from nexus_auth import GatewayVerifier, verify_gateway_assertion

    verifier = GatewayVerifier('https://id.nexus.example', 'urn:nexus:agi-safety')
    who = verifier.verify(request.headers.get('X-Nexus-Assertion'))   # or raises InvalidToken
    who['sub'], who['email'], who['role'], who['plan'], who['scope'], who['project']
"""
import time

from .claims import check_claims
from .discovery import normalize_issuer
from .jwks import JwksCache
from .signed import signed_claims

ASSERTION_HEADER = 'X-Nexus-Assertion'
ASSERTION_TYP = 'nexus-gateway+jwt'
REQUIRED_CLAIMS = ('sub', 'exp', 'iat', 'project')
WHAT = 'the gateway assertion'


class GatewayVerifier:
    """Holds the JWKS cache; one per process and audience."""

    def __init__(self, issuer, audience, jwks_uri=None, leeway=5, cooldown=30.0, max_age=600.0, timeout=5.0):
        if not audience:
            raise ValueError('an audience is required, e.g. urn:nexus:agi-safety')
        self.issuer = normalize_issuer(issuer)
        self.audience = audience
        self.leeway = leeway
        self.keys = JwksCache(jwks_uri or self.issuer + '/jwks', cooldown=cooldown, max_age=max_age, timeout=timeout)

    def verify(self, assertion):
        """The assertion's claims (sub, email, role, plan, scope, project, auth_method, key_id?)."""
        claims = signed_claims(assertion, self.keys, ASSERTION_TYP, WHAT)
        check_claims(claims, self.issuer, self.audience, int(time.time()), self.leeway, REQUIRED_CLAIMS, WHAT)
        return claims


_verifiers = {}


def verify_gateway_assertion(assertion, issuer, audience, **options):
    """Verifies an X-Nexus-Assertion value with a verifier cached per (issuer, audience)."""
    key = (normalize_issuer(issuer), audience, options.get('jwks_uri'))
    verifier = _verifiers.get(key)
    if verifier is None:
        verifier = _verifiers[key] = GatewayVerifier(issuer, audience, **options)
    return verifier.verify(assertion)
