"""Standard Webhooks 1.0 verification of the hub's deliveries, as @nexus/auth's verifyWebhook does it.

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: a
space-separated list of ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` (two during a secret
rotation, the old and the new secret's)::

    from nexus_auth import InvalidWebhook, verify_webhook

    try:
        event = verify_webhook(request.headers, request.get_data(), os.environ['NEXUS_WEBHOOK_SECRET'])
    except InvalidWebhook as error:
        return 400, {'error': error.code, 'error_description': error.reason}
"""
import base64
import binascii
import hashlib
import hmac
import json
import re
import time

from .errors import InvalidWebhook

SECRET_PREFIX = 'whsec_'
TOLERANCE = 300  # seconds either way, as in the Standard Webhooks libraries
# Digits only: int() would also take ' 17', '1_700' or '+17', none of which the hub signs.
UNIX_SECONDS = re.compile(r'[0-9]{1,12}\Z')


def signing_key(secret):
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional: base64 has no "_")."""
    encoded = secret[len(SECRET_PREFIX):] if isinstance(secret, str) and secret.startswith(SECRET_PREFIX) else secret
    if not isinstance(encoded, str) or not encoded:
        raise ValueError('the webhook secret must be the endpoint\'s whsec_<base64> secret')
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('the webhook secret must be the endpoint\'s whsec_<base64> secret') from None


def _text(value):
    return value.decode('latin-1') if isinstance(value, bytes) else value


def header_values(headers, name):
    """Every value of ``name``, whatever the case of the key: a dict, requests' or Werkzeug's
    headers (repeated headers come out of ``items()`` once each), or a list of (name, value)
    pairs such as an ASGI scope's."""
    pairs = headers.items() if hasattr(headers, 'items') else headers
    values = []
    for key, value in pairs:
        if not isinstance(key, (str, bytes)) or _text(key).lower() != name:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            item = _text(item)
            if isinstance(item, str) and item:
                values.append(item)
    return values


def _single_header(headers, name):
    values = header_values(headers, name)
    if not values:
        raise InvalidWebhook('missing_header', 'the %s header is missing' % name)
    # Two ids or timestamps: which one was signed is anybody's guess, so neither is trusted.
    if len(values) > 1:
        raise InvalidWebhook('repeated_header', 'the %s header is repeated' % name)
    return values[0]


def _body_bytes(raw_body):
    if isinstance(raw_body, str):
        return raw_body.encode('utf-8')
    if isinstance(raw_body, (bytes, bytearray, memoryview)):
        return bytes(raw_body)
    # Usually a body a framework already parsed: dumped again it is not the signed text.
    raise TypeError('verify_webhook needs the raw request body (str or bytes), not parsed JSON')


def _listed_signatures(header):
    for listed in header.split(' '):
        # Frameworks join a repeated header with ", ": "v1,AAA=, v1,BBB=". Base64 never ends in ",".
        entry = listed[:-1] if listed.endswith(',') else listed
        version, comma, signature = entry.partition(',')
        # Only v1 is defined; other versions (v1a: asymmetric) are skipped, not failed.
        if comma and version == 'v1':
            yield signature


def verify_webhook(headers, raw_body, secret, tolerance=TOLERANCE):
    """The delivery's event (its JSON body, parsed) if the headers prove the hub sent it.

    Raises InvalidWebhook (``code`` and ``reason``: which check failed) or, for a secret that is
    not ``whsec_<base64>`` or a body that is not raw, ValueError or TypeError."""
    key = signing_key(secret)
    body = _body_bytes(raw_body)
    message_id = _single_header(headers, 'webhook-id')
    timestamp = _single_header(headers, 'webhook-timestamp')
    # Repeated signature headers are one list split over several lines.
    signatures = ' '.join(header_values(headers, 'webhook-signature'))
    if not signatures:
        raise InvalidWebhook('missing_header', 'the webhook-signature header is missing')

    if not UNIX_SECONDS.match(timestamp):
        raise InvalidWebhook('invalid_timestamp', 'webhook-timestamp is not a Unix time in seconds')
    age = int(time.time()) - int(timestamp)
    if age > tolerance:
        raise InvalidWebhook('timestamp_too_old', 'webhook-timestamp is %d s old, more than the %d s allowed' % (age, tolerance))
    if -age > tolerance:
        raise InvalidWebhook('timestamp_too_new', 'webhook-timestamp is %d s in the future, more than the %d s allowed' % (-age, tolerance))

    signed = ('%s.%s.' % (message_id, timestamp)).encode('utf-8', 'surrogatepass') + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    # compare_digest needs bytes for non-ASCII text; anything not ASCII cannot be base64 anyway.
    if not any(hmac.compare_digest(candidate.encode('utf-8', 'replace'), expected) for candidate in _listed_signatures(signatures)):
        raise InvalidWebhook('no_matching_signature', 'no webhook-signature matches this id, timestamp, body and secret')

    try:
        return json.loads(body.decode('utf-8'))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        raise InvalidWebhook('invalid_payload', 'the signed body is not JSON') from None
