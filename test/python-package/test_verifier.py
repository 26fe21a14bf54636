"""Verifier against the real hub's tokens and JWKS: what passes, what is refused and why, and
how the key cache behaves across a key rotation and while the hub is down."""
import hashlib
import hmac
import time
import unittest

from jwt.algorithms import RSAAlgorithm
from cryptography.hazmat.primitives import serialization

from nexus_auth import InvalidToken, NexusAuthError, Verifier
from support import AUDIENCE, ISSUER, JwksRelay, client_credentials, compact, control, hub_jwks, parts, sign, valid_claims


class VerifiesHubTokens(unittest.TestCase):
    def setUp(self):
        self.verifier = Verifier(ISSUER, AUDIENCE)

    def refused(self, token, reason, verifier=None):
        with self.assertRaises(InvalidToken) as caught:
            (verifier or self.verifier).verify(token)
        self.assertRegex(caught.exception.reason, reason)
        self.assertIsInstance(caught.exception, NexusAuthError)
        self.assertEqual(caught.exception.error, 'invalid_token')

    def test_a_client_credentials_token_gives_its_claims(self):
        token = client_credentials('agi-safety', 'research:read')
        claims = self.verifier.verify(token)
        self.assertEqual(claims['iss'], ISSUER)
        self.assertEqual(claims['aud'], AUDIENCE)
        self.assertEqual(claims['sub'], 'agi-safety')
        self.assertEqual(claims['client_id'], 'agi-safety')
        self.assertEqual(claims['scope'], 'research:read')
        self.assertGreater(claims['exp'], time.time())

    def test_from_discovery_uses_the_advertised_jwks_uri(self):
        verifier = Verifier.from_discovery(ISSUER + '/', AUDIENCE)
        self.assertEqual(verifier.keys.jwks_uri, ISSUER + '/jwks')
        self.assertEqual(verifier.verify(client_credentials())['sub'], 'agi-safety')

    def test_another_projects_token_is_refused_for_its_audience(self):
        sales = client_credentials('sales')
        self.refused(sales, r"aud claim is not valid here")
        self.assertEqual(Verifier(ISSUER, 'urn:nexus:sales').verify(sales)['aud'], 'urn:nexus:sales')

    def test_a_token_from_another_issuer_is_refused(self):
        other = Verifier('https://id.elsewhere.example', AUDIENCE, jwks_uri=ISSUER + '/jwks')
        self.refused(client_credentials(), r"iss claim is not valid here", other)

    def test_expiry_and_not_before_with_five_seconds_of_tolerance(self):
        now = int(time.time())
        self.refused(sign({'exp': now - 10}), r'has expired')
        self.assertEqual(self.verifier.verify(sign({'exp': now - 2}))['exp'], now - 2)
        self.refused(sign({'nbf': now + 30}), r'not valid yet \(nbf\)')
        self.assertEqual(self.verifier.verify(sign({'nbf': now + 2}))['nbf'], now + 2)
        self.refused(sign({'exp': str(now + 300)}), r'exp claim is not valid here')

    def test_required_claims(self):
        for claim in ('sub', 'exp', 'iat', 'client_id', 'iss', 'aud'):
            with self.subTest(claim=claim):
                self.refused(sign({claim: None}), r'has no %s claim' % claim)

    def test_alg_none_is_refused(self):
        kid = parts(client_credentials())[0]['kid']
        self.refused(compact({'alg': 'none', 'typ': 'at+jwt', 'kid': kid}, valid_claims()), r'not signed with RS256')

    def test_hs256_signed_with_the_public_key_as_secret_is_refused(self):
        # The classic confusion attack: HMAC keyed with the (public) RSA key the verifier holds.
        key = hub_jwks()['keys'][0]
        pem = RSAAlgorithm.from_jwk(key).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        for alg in ('HS256', 'RS256'):
            with self.subTest(header_alg=alg):
                unsigned = compact({'alg': alg, 'typ': 'at+jwt', 'kid': key['kid']}, valid_claims()).rsplit('.', 1)[0]
                mac = hmac.new(pem, unsigned.encode(), hashlib.sha256).digest()
                token = '%s.%s' % (unsigned, compact({}, {}, mac).rsplit('.', 1)[1])
                self.refused(token, r'not signed with RS256' if alg == 'HS256' else r'signature is invalid')

    def test_typ_must_be_at_jwt(self):
        self.refused(sign(header={'typ': None}), r"typ None, expected at\+jwt")
        self.refused(sign(header={'typ': 'JWT'}), r"typ 'JWT', expected at\+jwt")
        self.refused(sign(header={'typ': 'application/jwt'}), r'expected at\+jwt')
        for typ in ('AT+JWT', 'application/at+jwt', 'Application/At+Jwt'):
            with self.subTest(typ=typ):
                self.assertEqual(self.verifier.verify(sign(header={'typ': typ}))['sub'], 'agi-safety')

    def test_a_changed_payload_breaks_the_signature(self):
        header, claims = parts(client_credentials())
        signature = client_credentials().rsplit('.', 1)[1]
        claims['scope'] = 'research:read research:write'
        self.refused(compact(header, claims).rsplit('.', 1)[0] + '.' + signature, r'signature is invalid')

    def test_malformed_and_missing_tokens(self):
        self.refused('', r'^no access token$')
        self.refused(None, r'^no access token$')
        self.refused('not.a.jwt', r'malformed')
        self.refused('Bearer ' + client_credentials(), r'malformed')


class KeyCache(unittest.TestCase):
    def test_unknown_kid_refetches_once_per_cooldown_and_follows_a_rotation(self):
        relay = JwksRelay()
        verifier = Verifier(ISSUER, AUDIENCE, jwks_uri=relay.jwks_uri, cooldown=1.0)
        before = client_credentials()
        verifier.verify(before)
        fetched_at = time.monotonic()
        verifier.verify(before)
        self.assertEqual(relay.requests, 1, 'the keys are fetched once and kept')

        rotated = control('/keys/rotate')['kid']
        after = client_credentials()
        self.assertEqual(parts(after)[0]['kid'], rotated)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - fetched_at)))  # past the cooldown
        self.assertEqual(verifier.verify(after)['sub'], 'agi-safety')
        self.assertEqual(relay.requests, 2, 'the new kid triggered one refetch')
        self.assertEqual(verifier.verify(before)['sub'], 'agi-safety', 'the old key is still published')

        # Forged kids within the cooldown cost the hub nothing.
        for kid in ('forged-1', 'forged-2', 'forged-3'):
            with self.assertRaises(InvalidToken) as caught:
                verifier.verify(sign(header={'kid': kid}))
            self.assertEqual(caught.exception.reason, "no key with kid %s in the hub's JWKS" % kid)
        self.assertEqual(relay.requests, 2)

        # A key the hub retires stops verifying at the next refresh.
        control('/keys/retire', {'kid': parts(before)[0]['kid']})
        time.sleep(1.0)
        with self.assertRaises(InvalidToken):
            verifier.verify(sign(header={'kid': 'forged-4'}))
        self.assertEqual(relay.requests, 3)
        with self.assertRaises(InvalidToken) as caught:
            verifier.verify(before)
        self.assertEqual(caught.exception.reason, "no key with kid %s in the hub's JWKS" % parts(before)[0]['kid'])
        self.assertEqual(verifier.verify(after)['sub'], 'agi-safety')
        relay.down()

    def test_keys_older_than_max_age_are_refreshed_in_the_background(self):
        relay = JwksRelay()
        verifier = Verifier(ISSUER, AUDIENCE, jwks_uri=relay.jwks_uri, cooldown=0.1, max_age=0.2)
        token = client_credentials()
        verifier.verify(token)
        time.sleep(0.3)
        self.assertEqual(verifier.verify(token)['sub'], 'agi-safety', 'stale keys still verify at once')
        deadline = time.monotonic() + 5
        while relay.requests < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(relay.requests, 2)
        relay.down()

    def test_the_default_cooldown_is_thirty_seconds(self):
        relay = JwksRelay()
        verifier = Verifier(ISSUER, AUDIENCE, jwks_uri=relay.jwks_uri)
        self.assertEqual(verifier.keys.cooldown, 30.0)
        for kid in ('unknown-1', 'unknown-2'):
            with self.assertRaises(InvalidToken):
                verifier.verify(sign(header={'kid': kid}))
        self.assertEqual(relay.requests, 1, 'only the first fetch; the second unknown kid waits for the cooldown')
        self.assertEqual(verifier.verify(client_credentials())['sub'], 'agi-safety')
        self.assertEqual(relay.requests, 1)
        relay.down()

    def test_cached_keys_keep_verifying_while_the_hub_is_down(self):
        relay = JwksRelay()
        verifier = Verifier(ISSUER, AUDIENCE, jwks_uri=relay.jwks_uri, cooldown=0.2)
        token = client_credentials()
        verifier.verify(token)
        relay.down()
        self.assertEqual(verifier.verify(token)['sub'], 'agi-safety')
        time.sleep(0.3)
        with self.assertRaises(InvalidToken) as caught:
            verifier.verify(sign(header={'kid': 'after-the-outage'}))
        self.assertRegex(caught.exception.reason, r"^the hub's JWKS cannot be fetched: cannot reach http://127\.0\.0\.1:\d+/jwks")
        self.assertEqual(verifier.verify(token)['sub'], 'agi-safety', 'a failed refresh keeps the keys')


if __name__ == '__main__':
    unittest.main()
