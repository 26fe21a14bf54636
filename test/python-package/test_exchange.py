"""exchange_api_key against the real hub: a user's API key becomes an access token for the
project's API; refusals arrive as OAuthError, the per-key limit as SlowDown with retry_after."""
import unittest

from nexus_auth import HubUnreachable, OAuthError, SlowDown, Verifier, exchange_api_key, exchange_api_key_response
from support import AUDIENCE, EMAIL, ISSUER, OWNER_ID, SECRETS, control

SECRET = SECRETS['agi-safety']


class ExchangesApiKeys(unittest.TestCase):
    def test_a_key_becomes_a_verifiable_token_for_its_owner(self):
        key = control('/apikeys')['key']
        token = exchange_api_key(ISSUER, 'agi-safety', SECRET, key, 'research:read')
        claims = Verifier(ISSUER, AUDIENCE).verify(token)
        self.assertEqual((claims['sub'], claims['email'], claims['client_id']), (OWNER_ID, EMAIL, 'agi-safety'))
        self.assertEqual(claims['scope'], 'research:read')
        self.assertIn(claims['role'], ('admin', 'user', 'read_only'))

        answer = exchange_api_key_response(ISSUER + '/', 'agi-safety', SECRET, key)
        self.assertEqual(answer['issued_token_type'], 'urn:ietf:params:oauth:token-type:access_token')
        self.assertEqual(answer['token_type'], 'Bearer')
        self.assertGreater(answer['expires_in'], 0)
        self.assertEqual(Verifier(ISSUER, AUDIENCE).verify(answer['access_token'])['sub'], OWNER_ID)

    def test_an_unknown_key_is_invalid_grant(self):
        with self.assertRaises(OAuthError) as caught:
            exchange_api_key(ISSUER, 'agi-safety', SECRET, 'nxk_live_' + 'A' * 43)
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_grant', 400))
        self.assertNotIsInstance(caught.exception, SlowDown)

    def test_a_wrong_client_secret_is_invalid_client(self):
        key = control('/apikeys')['key']
        with self.assertRaises(OAuthError) as caught:
            exchange_api_key(ISSUER, 'agi-safety', 'not-the-secret', key)
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_client', 401))

    def test_over_the_per_minute_limit_raises_slow_down_with_retry_after(self):
        key = control('/apikeys', {'rateLimit': 1})['key']
        exchange_api_key(ISSUER, 'agi-safety', SECRET, key)
        with self.assertRaises(SlowDown) as caught:
            exchange_api_key(ISSUER, 'agi-safety', SECRET, key)
        refusal = caught.exception
        self.assertIsInstance(refusal, OAuthError)
        self.assertEqual((refusal.error, refusal.status), ('slow_down', 429))
        self.assertIsInstance(refusal.retry_after, int)
        self.assertTrue(1 <= refusal.retry_after <= 60, refusal.retry_after)
        self.assertRegex(str(refusal), r'^slow_down: API key rate limit of 1 per minute exceeded$')

    def test_an_unreachable_hub_and_missing_arguments(self):
        with self.assertRaises(HubUnreachable) as caught:
            exchange_api_key('http://127.0.0.1:9', 'agi-safety', SECRET, 'nxk_live_x')
        self.assertRegex(str(caught.exception), r'^cannot reach http://127\.0\.0\.1:9/\.well-known/openid-configuration')
        with self.assertRaises(ValueError):
            exchange_api_key(ISSUER, 'agi-safety', '', 'nxk_live_x')
        with self.assertRaises(ValueError):
            exchange_api_key(ISSUER, 'agi-safety', SECRET, '')


if __name__ == '__main__':
    unittest.main()
