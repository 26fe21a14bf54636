"""Events into the hub's bus: POST {issuer}/api/events as the project itself, with a client
credentials token of the scope ``events:write``. The hub stores every event, answers 202 (200
when every event repeated an earlier ``id`` of this project) and delivers it to webhooks::

    from nexus_auth import emit, emit_many

    stored = emit('deal.won', {'dealId': 'd-42', 'value': 1200}, subject=user_id, id='deal-42-won')
    stored['id'], stored['sequence'], stored['duplicate']

Configuration: NEXUS_ISSUER, NEXUS_CLIENT_ID and NEXUS_CLIENT_SECRET, or an ``Emitter`` of
your own with explicit arguments (they win over the environment).
"""
import datetime
import os
import threading

from .client_credentials import ClientCredentialsToken
from .discovery import normalize_issuer
from .errors import HubError
from .oauth import refusal
from .transport import TIMEOUT, json_body, post_json

EVENTS_SCOPE = 'events:write'
MAX_BATCH = 100  # events per request, the hub's limit


def _setting(value, variable, argument):
    value = value or os.environ.get(variable)
    if not value:
        raise ValueError('pass %s= or set %s' % (argument, variable))
    return value


def _iso_time(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        # A naive datetime means a different instant on every server it runs on.
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError('occurred_at needs a timezone (datetime.now(timezone.utc), not datetime.now())')
        return value.astimezone(datetime.timezone.utc).isoformat().replace('+00:00', 'Z')
    raise TypeError('occurred_at must be a datetime or an ISO 8601 string, not %s' % type(value).__name__)


def _wire(type, data=None, subject=None, id=None, occurred_at=None):
    event = {'type': type, 'data': data, 'subject': subject, 'id': id, 'occurredAt': _iso_time(occurred_at)}
    return {name: value for name, value in event.items() if value is not None}


def _stored(value):
    return (isinstance(value, dict) and isinstance(value.get('id'), str) and type(value.get('sequence')) is int
            and isinstance(value.get('duplicate'), bool) and (value.get('key') is None or isinstance(value['key'], str)))


class Emitter:
    """Emits as one project. Holds that project's token; one per process (thread-safe)."""

    def __init__(self, issuer=None, client_id=None, client_secret=None, timeout=TIMEOUT):
        issuer = normalize_issuer(_setting(issuer, 'NEXUS_ISSUER', 'issuer'))
        client_id = _setting(client_id, 'NEXUS_CLIENT_ID', 'client_id')
        client_secret = _setting(client_secret, 'NEXUS_CLIENT_SECRET', 'client_secret')
        self.url = issuer + '/api/events'
        self.timeout = timeout
        self.token = ClientCredentialsToken(issuer, client_id, client_secret, EVENTS_SCOPE, timeout)

    def emit(self, type, data=None, subject=None, id=None, occurred_at=None):
        """One event; returns what the hub stored: ``{'id', 'key', 'sequence', 'duplicate'}``.
        ``id`` is your idempotency key (stored once per project); ``occurred_at`` a datetime
        with a timezone, or an ISO string. Raises OAuthError with the hub's code
        (``invalid_event``, ``insufficient_scope``, ``invalid_client``...), HubError, HubUnreachable."""
        return self._post(_wire(type, data, subject, id, occurred_at), 1)[0]

    def emit_many(self, events):
        """Up to 100 events in one request, each a dict of emit's arguments (``type``, ``data``,
        ``subject``, ``id``, ``occurred_at``); returns the stored events in the same order."""
        events = list(events)
        if not 1 <= len(events) <= MAX_BATCH:
            raise ValueError('emit_many takes 1 to %d events at a time, not %d' % (MAX_BATCH, len(events)))
        return self._post([_wire(**event) for event in events], len(events))

    def _post(self, events, count):
        body = json_body(events)  # before the token: a body that cannot be sent costs no request
        token = self.token.get()
        response = post_json(self.url, body, 'Bearer ' + token, self.timeout)
        if response.status_code == 401:
            # The token was revoked or the hub rotated its keys: one new token, one more try.
            self.token.discard(token)
            response = post_json(self.url, body, 'Bearer ' + self.token.get(), self.timeout)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code in (200, 202):
            stored = answer.get('events') if isinstance(answer, dict) else None
            if isinstance(stored, list) and len(stored) == count and all(_stored(event) for event in stored):
                return stored
            raise HubError('%s answered HTTP %s without the stored events: %s' % (self.url, response.status_code, response.text[:300]))
        raise refusal(self.url, response, answer)


_emitters = {}
_emitters_lock = threading.Lock()


def _default_emitter():
    key = tuple(os.environ.get(name) for name in ('NEXUS_ISSUER', 'NEXUS_CLIENT_ID', 'NEXUS_CLIENT_SECRET'))
    with _emitters_lock:
        if key not in _emitters:
            _emitters[key] = Emitter()
        return _emitters[key]


def emit(type, data=None, subject=None, id=None, occurred_at=None):
    """Emitter.emit as the project of NEXUS_ISSUER, NEXUS_CLIENT_ID and NEXUS_CLIENT_SECRET."""
    return _default_emitter().emit(type, data, subject, id, occurred_at)


def emit_many(events):
    """Emitter.emit_many as the project of the environment."""
    return _default_emitter().emit_many(events)
