"""The Nexus gateway's X-Nexus-Assertion, checked in Python as @nexus/auth does it.

The hub signs one for every request it forwards to a project: an RS256 JWT with
``typ: nexus-gateway+jwt``, ``aud`` = the project's API audience and a life of at most 60 s.
A project that can also be reached directly trusts the X-Nexus-* headers only through it::

    from nexus_auth import GatewayVerifier, verify_gateway_assertion

    verifier = GatewayVerifier('https://id.nexus.example', 'urn:nexus:agi-safety')
    who = verifier.verify(request.headers.get('X-Nexus-Assertion'))   # or raises InvalidToken
    who['sub'], who['email'], who['role'], who['plan'], who['scope'], who['project']
"""
from .discovery import normalize_issuer
from .verifier import Verifier

ASSERTION_HEADER = 'X-Nexus-Assertion'


class GatewayVerifier(Verifier):
    """Verifier of gateway assertions: the same keys and claim rules as access tokens, another ``typ``.

    ``verify(assertion)`` returns the claims (sub, email, role, plan, scope, project,
    auth_method, key_id?) or raises InvalidToken. Holds the JWKS cache; one per process and audience."""

    TYP = 'nexus-gateway+jwt'
    WHAT = 'the gateway assertion'
    REQUIRED_CLAIMS = ('sub', 'exp', 'iat', 'project')


_verifiers = {}


def verify_gateway_assertion(assertion, issuer, audience, **options):
    """Verifies an X-Nexus-Assertion value with a verifier cached per (issuer, audience)."""
    key = (normalize_issuer(issuer), audience, options.get('jwks_uri'))
    verifier = _verifiers.get(key)
    if verifier is None:
        verifier = _verifiers[key] = GatewayVerifier(issuer, audience, **options)
    return verifier.verify(assertion)
