"""device_login against the real hub: the code is shown, a person approves it on the hub's
device page (the test's control server drives those pages), and the polling ends with tokens."""
import io
import time
import unittest

from nexus_auth import OAuthError, Verifier, device_login, print_code
from support import EMAIL, ISSUER, OWNER_ID, SECRETS, control


class Approver:
    """An on_code that has the person approve the code on the hub's pages (before the first poll,
    which comes an interval later; a failed approval raises here and ends device_login at once)."""

    def __init__(self):
        self.devices = []
        self.shown_at = None

    def __call__(self, device):
        self.devices.append(device)
        self.shown_at = time.monotonic()
        control('/device/approve', {'verification_uri_complete': device['verification_uri_complete']})


class DeviceLogin(unittest.TestCase):
    def login(self, client_id, scope, client_secret=None):
        approver = Approver()
        tokens = device_login(ISSUER, client_id, scope, client_secret=client_secret, on_code=approver)
        self.assertEqual(len(approver.devices), 1, 'on_code is called once')
        device = approver.devices[0]
        self.assertRegex(device['user_code'], r'^[A-Z]{4}-[A-Z]{4}$')
        self.assertEqual(device['verification_uri'], ISSUER + '/device')
        self.assertEqual(device.get('interval', 5), 5)  # the hub leaves it out: RFC 8628's default 5 s
        self.assertGreaterEqual(time.monotonic() - approver.shown_at, 4.5, 'no poll before the interval')
        return tokens

    def test_a_confidential_client(self):
        tokens = self.login('agi-safety', 'openid email research:read', SECRETS['agi-safety'])
        claims = Verifier(ISSUER, 'urn:nexus:agi-safety').verify(tokens['access_token'])
        self.assertEqual((claims['sub'], claims['email'], claims['scope']), (OWNER_ID, EMAIL, 'research:read'))
        self.assertIn('id_token', tokens)

    def test_a_public_client_without_a_secret(self):
        tokens = self.login('testing', 'openid audits:read')
        claims = Verifier(ISSUER, 'urn:nexus:testing').verify(tokens['access_token'])
        self.assertEqual((claims['sub'], claims['client_id']), (OWNER_ID, 'testing'))

    def test_a_code_the_user_cancels_is_access_denied(self):
        pages = []
        cancel = lambda device: pages.append(control('/device/cancel', {'verification_uri_complete': device['verification_uri_complete']}))
        with self.assertRaises(OAuthError) as caught:
            device_login(ISSUER, 'agi-safety', 'openid research:read', client_secret=SECRETS['agi-safety'], on_code=cancel)
        self.assertEqual((caught.exception.error, caught.exception.status), ('access_denied', 400))
        self.assertEqual(len(pages), 1)

    def test_a_wrong_secret_fails_before_any_code_is_shown(self):
        shown = []
        with self.assertRaises(OAuthError) as caught:
            device_login(ISSUER, 'agi-safety', 'openid', client_secret='not-the-secret', on_code=shown.append)
        self.assertEqual((caught.exception.error, caught.exception.status), ('invalid_client', 401))
        self.assertEqual(shown, [])

    def test_the_default_on_code_tells_the_user_where_to_go(self):
        out = io.StringIO()
        print_code({'user_code': 'WXYZ-ABCD', 'verification_uri': ISSUER + '/device',
                    'verification_uri_complete': ISSUER + '/device?user_code=WXYZ-ABCD'}, file=out)
        self.assertEqual(out.getvalue().splitlines(), [
            'To sign in, open %s/device and enter the code WXYZ-ABCD' % ISSUER,
            '(or open %s/device?user_code=WXYZ-ABCD)' % ISSUER,
            'Waiting for approval...',
        ])


if __name__ == '__main__':
    unittest.main()
