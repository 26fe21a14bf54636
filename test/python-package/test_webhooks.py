"""verify_webhook against the independent `standardwebhooks` npm library: deliveries it signs
(asked of python-package.test.ts through the control server) verify here; tampering, old or
future timestamps, a wrong secret and garbage headers are refused with InvalidWebhook and the
code of the check that failed, never with a crash."""
import base64
import hashlib
import hmac
import json
import os
import random
import time
import unittest

import requests

from nexus_auth import InvalidWebhook, NexusAuthError, verify_webhook
from support import control

EVENT = {'id': '6d1f7a53-9c1f-4e0e-8f4e-3b8f0f3f6b11', 'type': 'deal.won', 'source': 'sales',
         'data': {'dealId': 'd-1', 'value': 1200, 'note': 'zürich ✓'}, 'sequence': 7}
BODY = json.dumps(EVENT, ensure_ascii=False)


def new_secret():
    return 'whsec_' + base64.b64encode(os.urandom(32)).decode()


SECRET = new_secret()


def library_signature(message_id, timestamp, body, secret=SECRET):
    """`new Webhook(secret).sign(id, date, body)` of the standardwebhooks library."""
    return control('/webhooks/sign', {'secret': secret, 'id': message_id, 'timestamp': timestamp, 'payload': body})['signature']


def delivery(body=BODY, secret=SECRET, age=0, message_id=None):
    message_id = message_id or 'msg_%s' % os.urandom(8).hex()
    timestamp = int(time.time()) - age
    return {'webhook-id': message_id, 'webhook-timestamp': str(timestamp),
            'webhook-signature': library_signature(message_id, timestamp, body, secret)}


class WebhookTestCase(unittest.TestCase):
    def assertRefused(self, headers, body, code, secret=SECRET, **options):
        with self.assertRaises(InvalidWebhook) as caught:
            verify_webhook(headers, body, secret, **options)
        self.assertEqual(caught.exception.code, code, caught.exception.reason)
        self.assertIsInstance(caught.exception, NexusAuthError)
        self.assertEqual(caught.exception.status, 400)
        return caught.exception


class VerifiesWhatTheLibrarySigns(WebhookTestCase):
    def test_str_and_bytes_bodies_give_the_parsed_event(self):
        headers = delivery()
        self.assertEqual(verify_webhook(headers, BODY, SECRET), EVENT)
        self.assertEqual(verify_webhook(headers, BODY.encode(), SECRET), EVENT)
        self.assertEqual(verify_webhook(headers, bytearray(BODY.encode()), SECRET), EVENT)
        self.assertEqual(verify_webhook(headers, BODY, SECRET[len('whsec_'):]), EVENT)  # the prefix is optional

    def test_header_names_in_any_case_and_in_requests_or_pair_list_form(self):
        headers = delivery()
        self.assertEqual(verify_webhook({name.upper(): value for name, value in headers.items()}, BODY, SECRET), EVENT)
        self.assertEqual(verify_webhook(requests.structures.CaseInsensitiveDict(headers), BODY, SECRET), EVENT)
        # An ASGI scope's raw headers: a list of (bytes, bytes).
        raw = [(name.title().encode(), value.encode()) for name, value in headers.items()]
        self.assertEqual(verify_webhook(raw, BODY.encode(), SECRET), EVENT)

    def test_a_secret_rotation_sends_two_signatures_and_either_verifies(self):
        previous = new_secret()
        timestamp = int(time.time())
        both = [library_signature('msg_rot', timestamp, BODY), library_signature('msg_rot', timestamp, BODY, previous)]
        for signatures in (both, both[::-1]):
            headers = {'webhook-id': 'msg_rot', 'webhook-timestamp': str(timestamp), 'webhook-signature': ' '.join(signatures)}
            self.assertEqual(verify_webhook(headers, BODY, SECRET), EVENT)
            self.assertEqual(verify_webhook(headers, BODY, previous), EVENT)
            self.assertRefused(headers, BODY, 'no_matching_signature', new_secret())
        headers = delivery()
        headers['webhook-signature'] = 'v1,%s v1a,c2ln v2,x %s' % (base64.b64encode(bytes(32)).decode(), headers['webhook-signature'])
        self.assertEqual(verify_webhook(headers, BODY, SECRET), EVENT)

    def test_the_tolerance_is_five_minutes_unless_configured(self):
        self.assertEqual(verify_webhook(delivery(age=240), BODY, SECRET), EVENT)
        self.assertEqual(verify_webhook(delivery(age=-240), BODY, SECRET), EVENT)
        self.assertEqual(verify_webhook(delivery(age=600), BODY, SECRET, tolerance=900), EVENT)
        self.assertRefused(delivery(age=120), BODY, 'timestamp_too_old', tolerance=60)

class Refuses(WebhookTestCase):
    def test_tampered_body_id_or_timestamp(self):
        headers = delivery()
        self.assertRefused(headers, BODY.replace('1200', '1201'), 'no_matching_signature')
        self.assertRefused(headers, BODY + ' ', 'no_matching_signature')
        self.assertRefused(dict(headers, **{'webhook-id': headers['webhook-id'] + 'x'}), BODY, 'no_matching_signature')
        earlier = str(int(headers['webhook-timestamp']) - 1)
        self.assertRefused(dict(headers, **{'webhook-timestamp': earlier}), BODY, 'no_matching_signature')

    def test_a_wrong_secret(self):
        self.assertRefused(delivery(), BODY, 'no_matching_signature', new_secret())

    def test_too_old_or_too_new(self):
        self.assertRefused(delivery(age=360), BODY, 'timestamp_too_old')
        self.assertRefused(delivery(age=365 * 86400), BODY, 'timestamp_too_old')
        self.assertRefused(delivery(age=-360), BODY, 'timestamp_too_new')

    def test_missing_or_empty_headers(self):
        headers = delivery()
        for name in headers:
            self.assertRefused({key: value for key, value in headers.items() if key != name}, BODY, 'missing_header')
            self.assertRefused(dict(headers, **{name: ''}), BODY, 'missing_header')
        self.assertRefused({}, BODY, 'missing_header')

    def test_timestamps_that_are_not_unix_seconds(self):
        headers = delivery()
        seconds = headers['webhook-timestamp']
        for timestamp in ('soon', seconds + '.5', seconds + 'abc', '-' + seconds, ' ' + seconds, '1e9', '1_700_000_000',
                          '+' + seconds, '9' * 1000, seconds + '\x00', '١٧٠٠٠٠٠٠٠٠'):
            self.assertRefused(dict(headers, **{'webhook-timestamp': timestamp}), BODY, 'invalid_timestamp')

    def test_garbage_signatures_never_crash(self):
        headers = delivery()
        valid = headers['webhook-signature'].split(',', 1)[1]
        for signature in ('v1', 'v1,', ',', ' ', 'v2,' + valid, 'V1,' + valid, 'v1,' + valid + '\x00', '\x00v1,' + valid,
                          'v1,' + valid[:-1], 'v1,' + 'A' * (1 << 20), 'v1,ünïcödé', 'v1,\udcff', 'v1,,,,', '\x00' * 1000,
                          ' '.join('v1,' + base64.b64encode(os.urandom(32)).decode() for _ in range(10000))):
            self.assertRefused(dict(headers, **{'webhook-signature': signature}), BODY, 'no_matching_signature')
        self.assertRefused(dict(headers, **{'webhook-id': headers['webhook-id'] + '\x00'}), BODY, 'no_matching_signature')
        self.assertRefused(dict(headers, **{'webhook-id': 'x' * (1 << 20)}), BODY, 'no_matching_signature')
        self.assertRefused(dict(headers, **{'webhook-id': '\udcff'}), BODY, 'no_matching_signature')

    def test_repeated_headers(self):
        headers = delivery()
        other = delivery()
        self.assertRefused(dict(headers, **{'webhook-id': [headers['webhook-id'], other['webhook-id']]}), BODY, 'repeated_header')
        self.assertRefused(dict(headers, **{'Webhook-Timestamp': headers['webhook-timestamp']}), BODY, 'repeated_header')
        pairs = list(headers.items()) + [('webhook-id', other['webhook-id'])]
        self.assertRefused(pairs, BODY, 'repeated_header')
        # Repeated signature headers are one list, in pairs or joined with ", " by a framework.
        pairs = list(headers.items()) + [('webhook-signature', other['webhook-signature'])]
        self.assertEqual(verify_webhook(pairs, BODY, SECRET), EVENT)
        joined = dict(headers, **{'webhook-signature': other['webhook-signature'] + ', ' + headers['webhook-signature']})
        self.assertEqual(verify_webhook(joined, BODY, SECRET), EVENT)

    def test_a_signed_body_that_is_not_json_or_not_utf8(self):
        self.assertRefused(delivery('not json'), 'not json', 'invalid_payload')
        latin1 = '{"name":"Zürich"}'.encode('latin-1')
        timestamp = str(int(time.time()))
        key = base64.b64decode(SECRET[len('whsec_'):])
        mac = base64.b64encode(hmac.new(key, b'msg_latin1.' + timestamp.encode() + b'.' + latin1, hashlib.sha256).digest()).decode()
        headers = {'webhook-id': 'msg_latin1', 'webhook-timestamp': timestamp, 'webhook-signature': 'v1,' + mac}
        self.assertRefused(headers, latin1, 'invalid_payload')

    def test_a_bad_secret_or_a_parsed_body_is_a_programming_error(self):
        for secret in ('', 'whsec_', 'whsec_not base64!', 'whsec_abc', None, b'whsec_AAAA'):
            with self.assertRaises(ValueError):
                verify_webhook(delivery(), BODY, secret)
        with self.assertRaises(TypeError):
            verify_webhook(delivery(), EVENT, SECRET)

    def test_random_one_character_changes_are_refused(self):
        headers = delivery()
        alphabet = 'ABCxyz019+/=,. v\x00'
        for round in range(300):
            changed, body = dict(headers), BODY
            target = ('webhook-id', 'webhook-signature', 'body')[round % 3]
            text = body if target == 'body' else changed[target]
            at = random.randrange(len(text))
            replacement = random.choice(alphabet.replace(text[at], ''))
            text = text[:at] + replacement + text[at + 1:]
            if target == 'body':
                body = text
            else:
                changed[target] = text
            with self.assertRaises(InvalidWebhook):
                verify_webhook(changed, body, SECRET)


if __name__ == '__main__':
    unittest.main()
