"""The JWT rules the Node SDK applies (jose's jwtVerify), for any token the hub signs.

Separate from the access-token verifier so other token kinds (gateway assertions, signed
webhooks) apply the same header and registered-claim rules with their own ``typ`` (see
signed.py for the signature).
"""
import numbers

from .errors import InvalidToken

ALGORITHM = 'RS256'


def normalize_typ(value):
    """RFC 7515 4.1.9 / jose: case-insensitive, and "at+jwt" means "application/at+jwt"."""
    value = value.lower()
    return value if '/' in value else 'application/' + value


def check_header(header, typ, what='the token'):
    """RS256 only (never ``none`` or HMAC), no critical extensions, and the expected ``typ``."""
    if header.get('alg') != ALGORITHM:
        raise InvalidToken('%s is not signed with %s' % (what, ALGORITHM))
    if 'crit' in header:
        raise InvalidToken('%s has critical header parameters this verifier does not know' % what)
    actual = header.get('typ')
    if not isinstance(actual, str) or normalize_typ(actual) != normalize_typ(typ):
        raise InvalidToken('%s has typ %r, expected %s' % (what, actual, typ))


def check_claims(claims, issuer, audience, now, leeway, required=(), what='the token'):
    """``iss`` exactly ``issuer``; ``aud`` is or contains ``audience``; ``exp``/``nbf`` (and
    ``iat``) are numbers, with ``leeway`` seconds of clock tolerance; ``required`` claims present."""
    for claim in ('iss', 'aud') + tuple(required):
        if claim not in claims:
            raise InvalidToken('%s has no %s claim' % (what, claim))
    if claims['iss'] != issuer:
        raise _not_valid(what, 'iss')
    aud = claims['aud']
    if not (aud == audience if isinstance(aud, str) else isinstance(aud, list) and audience in aud):
        raise _not_valid(what, 'aud')
    for claim in ('iat', 'nbf', 'exp'):
        if claim in claims and not _is_number(claims[claim]):
            raise _not_valid(what, claim)
    if 'nbf' in claims and claims['nbf'] > now + leeway:
        raise InvalidToken('%s is not valid yet (nbf)' % what)
    if 'exp' in claims and claims['exp'] <= now - leeway:
        raise InvalidToken('%s has expired' % what)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _not_valid(what, claim):
    return InvalidToken("%s's %s claim is not valid here" % (what, claim))
