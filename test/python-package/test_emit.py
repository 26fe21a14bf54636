"""emit and emit_many against the real hub, as the project ``emitter`` (confidential, client
credentials): what the hub stored is read back through the control server; token requests are
counted on requests.post to show the token is cached, shared by threads and renewed once."""
import datetime
import os
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import requests

from nexus_auth import Emitter, HubUnreachable, OAuthError, emit, emit_many
from support import ISSUER, OWNER_ID, SECRETS, control

SECRET = SECRETS['emitter']


def emitter(**options):
    return Emitter(**dict({'issuer': ISSUER, 'client_id': 'emitter', 'client_secret': SECRET}, **options))


class TokenRequests:
    """Counts POSTs to the hub's token endpoint while active."""

    def __enter__(self):
        self._patch = mock.patch('requests.post', wraps=requests.post)
        self._post = self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()

    @property
    def count(self):
        return sum(1 for call in self._post.call_args_list if call.args[0].endswith('/token'))


class Emits(unittest.TestCase):
    def test_one_event_is_stored_and_a_repeated_id_is_a_duplicate(self):
        events = emitter()
        occurred = datetime.datetime(2026, 11, 30, 10, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
        first = events.emit('deal.won', {'dealId': 'd-1', 'value': 1200}, subject=OWNER_ID, occurred_at=occurred)
        self.assertEqual(set(first), {'id', 'key', 'sequence', 'duplicate'})
        self.assertEqual(str(uuid.UUID(first['id'])), first['id'].lower())
        self.assertEqual((first['key'], first['duplicate']), (None, False))
        row = control('/events/get', {'id': first['id']})
        self.assertEqual((row['type'], row['source'], row['subject'], row['data']), ('deal.won', 'emitter', OWNER_ID, {'dealId': 'd-1', 'value': 1200}))
        self.assertEqual(row['occurred_at'], '2026-11-30T09:15:00.000Z')

        key = 'deal-%s' % uuid.uuid4()
        keyed = events.emit('deal.won', {'dealId': 'd-2'}, id=key)
        self.assertEqual((keyed['key'], keyed['duplicate']), (key, False))
        self.assertGreater(keyed['sequence'], first['sequence'])
        self.assertEqual(events.emit('deal.won', {'dealId': 'd-2'}, id=key), dict(keyed, duplicate=True))

    def test_a_batch_in_order_and_its_limits(self):
        events = emitter()
        stored = events.emit_many([
            {'type': 'lead.qualified', 'data': {'leadId': 'l-1'}, 'subject': OWNER_ID},
            {'type': 'lead.qualified', 'id': 'lead-%s' % uuid.uuid4(), 'occurred_at': '2026-11-30T10:00:00Z'},
            {'type': 'deal.won'},
        ])
        self.assertEqual([event['duplicate'] for event in stored], [False, False, False])
        self.assertLess(stored[0]['sequence'], stored[1]['sequence'])
        self.assertLess(stored[1]['sequence'], stored[2]['sequence'])
        self.assertEqual(len(events.emit_many({'type': 'load.tested', 'data': {'i': i}} for i in range(100))), 100)
        fresh = emitter()  # no token yet: refusing these must not even ask for one
        with TokenRequests() as tokens:
            with self.assertRaises(ValueError):
                fresh.emit_many([{'type': 'load.tested'}] * 101)
            with self.assertRaises(ValueError):
                fresh.emit_many([])
            with self.assertRaises(ValueError):  # a naive datetime is a different instant on every server
                fresh.emit('deal.won', occurred_at=datetime.datetime(2026, 11, 30, 10, 0))
            with self.assertRaises(ValueError):  # NaN is not JSON
                fresh.emit('deal.won', {'value': float('nan')})
            self.assertEqual(tokens.count, 0)

    def test_refusals_carry_the_hubs_error_code(self):
        events = emitter()
        with self.assertRaises(OAuthError) as caught:
            events.emit('Not A Type')
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_event', 400))
        with self.assertRaises(OAuthError) as caught:
            events.emit_many([{'type': 'deal.won'}, {'type': 'deal.won', 'subject': 'not-a-user-id'}])
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_event', 400))
        # The hub reads at most 2 MB of events: 40 events of 60 KB are 413, its code invalid_request.
        with self.assertRaises(OAuthError) as caught:
            events.emit_many([{'type': 'load.tested', 'data': {'blob': 'x' * 60000}}] * 40)
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_request', 413))
        with self.assertRaises(OAuthError) as caught:
            emitter(client_secret='not-the-secret').emit('deal.won')
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_client', 401))

    def test_eight_threads_share_one_token(self):
        events = emitter()
        with TokenRequests() as tokens:
            with ThreadPoolExecutor(8) as pool:
                stored = list(pool.map(lambda i: events.emit('deal.won', {'i': i}), range(8)))
            self.assertEqual(len({event['id'] for event in stored}), 8)
            self.assertEqual(tokens.count, 1)
            events.emit('deal.won', {'after': True})
            self.assertEqual(tokens.count, 1)

    def test_a_token_signed_by_a_retired_key_is_renewed_once(self):
        events = emitter()
        events.emit('deal.won', {'before': 'rotation'})
        old = requests.get(ISSUER + '/jwks', timeout=15).json()['keys'][0]['kid']
        control('/keys/rotate')
        control('/keys/retire', {'kid': old})
        with TokenRequests() as tokens:
            with ThreadPoolExecutor(4) as pool:
                stored = list(pool.map(lambda i: events.emit('deal.won', {'after': 'rotation'}), range(4)))
            self.assertEqual([event['duplicate'] for event in stored], [False] * 4)
            self.assertEqual(tokens.count, 1)

    def test_configuration_from_the_environment_and_explicit_arguments_win(self):
        with mock.patch.dict(os.environ, {'NEXUS_ISSUER': ISSUER, 'NEXUS_CLIENT_ID': 'emitter', 'NEXUS_CLIENT_SECRET': SECRET}):
            stored = emit('deal.won', {'via': 'env'}, subject=OWNER_ID)
            self.assertEqual(control('/events/get', {'id': stored['id']})['source'], 'emitter')
            self.assertEqual(len(emit_many([{'type': 'deal.won'}, {'type': 'deal.won'}])), 2)
            with self.assertRaises(OAuthError):
                Emitter(client_secret='not-the-secret').emit('deal.won')
        with mock.patch.dict(os.environ, {'NEXUS_ISSUER': ISSUER, 'NEXUS_CLIENT_ID': 'emitter', 'NEXUS_CLIENT_SECRET': 'wrong'}):
            self.assertFalse(Emitter(client_secret=SECRET).emit('deal.won')['duplicate'])
        with mock.patch.dict(os.environ, {'NEXUS_ISSUER': ISSUER, 'NEXUS_CLIENT_ID': '', 'NEXUS_CLIENT_SECRET': SECRET}):
            with self.assertRaisesRegex(ValueError, r'^pass client_id= or set NEXUS_CLIENT_ID$'):
                Emitter()

    def test_an_unreachable_hub(self):
        with self.assertRaises(HubUnreachable):
            emitter(issuer='http://127.0.0.1:9').emit('deal.won')


if __name__ == '__main__':
    unittest.main()
