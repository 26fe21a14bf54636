"""Sign-in without a browser on this machine: the device authorization grant (RFC 8628).

The user opens the verification URI on any device, enters the code and approves; meanwhile
this side polls the token endpoint no faster than the hub's ``interval``."""
import sys
import time

from .discovery import discover, endpoint
from .errors import HubError, HubUnreachable, OAuthError, SlowDown
from .oauth import client_request, token_request
from .transport import TIMEOUT

DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
DEFAULT_INTERVAL = 5  # seconds, RFC 8628 section 3.2
SLOW_DOWN_STEP = 5  # seconds added to the interval on each slow_down, section 3.5


def print_code(device, file=None):
    """The default ``on_code``: tells the user where to go and what to enter (on stderr)."""
    out = file or sys.stderr
    print('To sign in, open %s and enter the code %s' % (device['verification_uri'], device['user_code']), file=out)
    if device.get('verification_uri_complete'):
        print('(or open %s)' % device['verification_uri_complete'], file=out)
    print('Waiting for approval...', file=out, flush=True)


def device_login(issuer, client_id, scope, client_secret=None, on_code=print_code, timeout=TIMEOUT):
    """Runs the whole grant and returns the token response (``access_token``, ``id_token`` with
    ``openid``, ``refresh_token`` with ``offline_access``, ``scope``, ``expires_in``).

    ``on_code(device)`` is called once with the device authorization answer (``user_code``,
    ``verification_uri``, ``verification_uri_complete``, ``expires_in``, ``interval``).
    ``client_secret`` is for confidential clients; public ones (e.g. a CLI) leave it out.
    Raises OAuthError (``access_denied``, ``expired_token``, ``invalid_client``...), HubError."""
    metadata = discover(issuer, timeout=timeout)
    device = request_device_code(metadata, client_id, scope, client_secret, timeout)
    on_code(device)
    return poll_device_token(metadata, device, client_id, client_secret, timeout)


def request_device_code(metadata, client_id, scope, client_secret=None, timeout=TIMEOUT):
    """Step 1: the device authorization request. ``metadata`` is the discovery document."""
    device = client_request(endpoint(metadata, 'device_authorization_endpoint'), {'scope': scope},
                            client_id, client_secret, timeout=timeout)
    for field in ('device_code', 'user_code', 'verification_uri', 'expires_in'):
        if field not in device:
            raise HubError('the device authorization answer has no %s' % field)
    return device


def poll_device_token(metadata, device, client_id, client_secret=None, timeout=TIMEOUT):
    """Step 2: polls until the user approves (the token response), refuses or the code expires."""
    token_endpoint = endpoint(metadata, 'token_endpoint')
    form = {'grant_type': DEVICE_CODE_GRANT, 'device_code': device['device_code']}
    interval = device.get('interval') or DEFAULT_INTERVAL
    deadline = time.monotonic() + device['expires_in']
    while time.monotonic() + interval < deadline:
        time.sleep(interval)
        try:
            return token_request(token_endpoint, form, client_id, client_secret, timeout=timeout)
        except HubUnreachable:
            # Between polls a server or proxy may close the idle keep-alive connection just as
            # it is reused, or the hub may be restarting; a poll is safe to repeat.
            continue
        except SlowDown:
            interval += SLOW_DOWN_STEP
            continue
        except OAuthError as error:
            if error.error == 'authorization_pending':
                continue
            raise
    raise OAuthError('expired_token', 'the code expired before it was approved')
