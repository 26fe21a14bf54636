"""A compact JWT the hub signed: header rules, key lookup in the JWKS cache, RS256 signature.

Every token kind the hub signs (access tokens here; gateway assertions and signed webhooks
later) goes through ``signed_claims`` and then checks its own claims with ``check_claims``."""
import json

import jwt
from jwt.exceptions import InvalidSignatureError, PyJWTError

from .claims import ALGORITHM, check_header
from .errors import InvalidToken


def signed_claims(token, keys, typ, what='the token'):
    """The claims of ``token`` once its header passes ``check_header`` (RS256, ``typ``) and its
    signature verifies with the key of its ``kid`` from ``keys`` (a JwksCache). Claims are not
    checked here. Raises InvalidToken."""
    if not isinstance(token, str) or not token:
        raise InvalidToken('no %s' % what.replace('the ', '', 1))
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError as error:
        raise InvalidToken('%s is malformed' % what) from error
    check_header(header, typ, what)
    key = keys.get_key(header.get('kid'))
    try:
        payload = jwt.PyJWS().decode_complete(token, key, algorithms=[ALGORITHM])['payload']
    except InvalidSignatureError as error:
        raise InvalidToken('%s signature is invalid' % what) from error
    except PyJWTError as error:
        raise InvalidToken('%s is malformed' % what) from error
    try:
        claims = json.loads(payload)
    except ValueError as error:
        raise InvalidToken('%s is malformed' % what) from error
    if not isinstance(claims, dict):
        raise InvalidToken('%s is malformed' % what)
    return claims
