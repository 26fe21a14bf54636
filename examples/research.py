#!/usr/bin/python3
"""Nexus research client: device sign-in, client credentials, an API call, token checks.

A script on a server or a laptop without a browser signs its user in with the device
authorization grant (RFC 8628), gets a token of its own with client credentials, calls a
project API with both, and verifies every access token offline against the hub's JWKS.

Run with Debian's Python, where python3-authlib and python3-requests are installed:

    NEXUS_ISSUER=http://localhost:3000 NEXUS_CLIENT_SECRET=... \\
    RESEARCH_API_URL=http://localhost:3005/api/papers /usr/bin/python3 examples/research.py

Environment:
  NEXUS_ISSUER         the hub (required)
  NEXUS_CLIENT_ID      default agi-safety: a confidential client with the device_code and
                       client_credentials grants
  NEXUS_CLIENT_SECRET  its secret (required; see data/client-secrets.json)
  NEXUS_SCOPE          what the user is asked for, default "openid email research:read"
  NEXUS_AUDIENCE       the project API's audience, default urn:nexus:<client id>
  RESEARCH_API_URL     a protected API to call with the tokens (optional)

--json prints one JSON object per line on stdout: {"event": "device_code", ...} as soon as there
is a code for the user to enter, then {"event": "result", ...}; or {"event": "error", ...}.
Progress goes to stderr. Any failure exits with status 1.
"""
import argparse
import json
import os
import sys
import time

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken

DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
TIMEOUT = 15  # seconds, for every HTTP request


class Failure(Exception):
    pass


def discover(issuer):
    """OpenID Connect discovery: the endpoints, and the issuer must match exactly."""
    response = requests.get(issuer + '/.well-known/openid-configuration', timeout=TIMEOUT)
    if response.status_code != 200:
        raise Failure('discovery at %s answered HTTP %s' % (issuer, response.status_code))
    metadata = response.json()
    if metadata.get('issuer') != issuer:
        raise Failure('the hub calls itself %r, not %r' % (metadata.get('issuer'), issuer))
    return metadata


def device_sign_in(session, metadata, scope, show_code):
    """RFC 8628: ask for a code, let the user approve it elsewhere, poll for the tokens."""
    response = session.post(metadata['device_authorization_endpoint'], data={'scope': scope},
                            auth=session.client_auth('client_secret_basic'), withhold_token=True, timeout=TIMEOUT)
    if response.status_code != 200:
        raise Failure('device authorization answered HTTP %s: %s' % (response.status_code, response.text[:300]))
    device = response.json()
    show_code(device)

    interval = device.get('interval', 5)
    deadline = time.monotonic() + device['expires_in']
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            return session.fetch_token(metadata['token_endpoint'], grant_type=DEVICE_CODE_GRANT,
                                       device_code=device['device_code'], timeout=TIMEOUT)
        except requests.ConnectionError:
            # Between polls a server or proxy may close the idle keep-alive connection just as
            # it is reused; a poll is safe to repeat, so try again at the next interval.
            continue
        except OAuthError as error:
            if error.error == 'authorization_pending':
                continue
            if error.error == 'slow_down':  # §3.5: wait 5 seconds longer from now on
                interval += 5
                continue
            raise Failure('device sign-in failed: %s (%s)' % (error.error, error.description))
    raise Failure('the code expired before it was approved; run the script again')


def client_credentials(client_id, client_secret, token_endpoint):
    """A token for the client itself (no user), limited to research:read."""
    session = OAuth2Session(client_id, client_secret, scope='research:read')
    try:
        return session.fetch_token(token_endpoint, grant_type='client_credentials', timeout=TIMEOUT)
    except OAuthError as error:
        raise Failure('client credentials failed: %s (%s)' % (error.error, error.description))


def verify(token, jwks, issuer, audience):
    """Checks an access token offline: RS256 signature, iss, aud, exp, and typ at+jwt (RFC 9068)."""
    claims = JsonWebToken(['RS256']).decode(token, jwks, claims_options={
        'iss': {'essential': True, 'value': issuer},
        'aud': {'essential': True, 'value': audience},
        'exp': {'essential': True},
        'sub': {'essential': True},
    })
    claims.validate(leeway=5)
    typ = str(claims.header.get('typ', '')).lower()
    if typ not in ('at+jwt', 'application/at+jwt'):
        raise Failure('not an access token: typ is %r' % claims.header.get('typ'))
    return dict(claims)


def call_api(url, access_token):
    response = requests.get(url, headers={'Authorization': 'Bearer ' + access_token}, timeout=TIMEOUT)
    is_json = response.headers.get('content-type', '').startswith('application/json')
    body = response.json() if is_json else response.text
    if not response.ok:
        raise Failure('%s answered HTTP %s: %s' % (url, response.status_code, body))
    return {'status': response.status_code, 'body': body}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', action='store_true', help='machine-readable output, one JSON object per line')
    as_json = parser.parse_args().json

    def emit(event, **fields):
        if as_json:
            print(json.dumps(dict(event=event, **fields)), flush=True)

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    env = os.environ.get
    issuer = (env('NEXUS_ISSUER') or '').rstrip('/')
    client_id = env('NEXUS_CLIENT_ID') or 'agi-safety'
    client_secret = env('NEXUS_CLIENT_SECRET')
    scope = env('NEXUS_SCOPE') or 'openid email research:read'
    audience = env('NEXUS_AUDIENCE') or 'urn:nexus:' + client_id
    api_url = env('RESEARCH_API_URL')
    if not issuer or not client_secret:
        raise Failure('set NEXUS_ISSUER and NEXUS_CLIENT_SECRET')

    try:
        metadata = discover(issuer)
        jwks = JsonWebKey.import_key_set(requests.get(metadata['jwks_uri'], timeout=TIMEOUT).json())

        # (a) The user signs in on another device.
        def show_code(device):
            emit('device_code', user_code=device['user_code'], verification_uri=device['verification_uri'],
                 verification_uri_complete=device.get('verification_uri_complete'),
                 expires_in=device['expires_in'], interval=device.get('interval', 5))
            progress('To sign in, open %s and enter the code %s' % (device['verification_uri'], device['user_code']))
            if device.get('verification_uri_complete'):
                progress('(or open %s)' % device['verification_uri_complete'])
            progress('Waiting for approval...')

        device_session = OAuth2Session(client_id, client_secret)
        user_token = device_sign_in(device_session, metadata, scope, show_code)
        user = verify(user_token['access_token'], jwks, issuer, audience)
        progress('Signed in as %s (%s), scope %s' % (user.get('email'), user['sub'], user.get('scope')))

        # (b) The client's own token.
        machine_token = client_credentials(client_id, client_secret, metadata['token_endpoint'])
        machine = verify(machine_token['access_token'], jwks, issuer, audience)
        progress('Client credentials token for %s, scope %s' % (machine['sub'], machine.get('scope')))

        # (c) The project API, once as the user and once as the client.
        api = None
        if api_url:
            api = {'user': call_api(api_url, user_token['access_token']),
                   'client': call_api(api_url, machine_token['access_token'])}
            progress('%s: HTTP %s as the user, HTTP %s as the client' % (api_url, api['user']['status'], api['client']['status']))
    except requests.RequestException as error:
        raise Failure('cannot reach %s: %s' % (error.request.url if error.request else issuer, error))

    result = {
        'issuer': issuer,
        'device': {'scope': user_token.get('scope'), 'has_id_token': 'id_token' in user_token, 'claims': user},
        'client_credentials': {'scope': machine_token.get('scope'), 'claims': machine},
        'api': api,
    }
    emit('result', **result)
    if not as_json:
        print(json.dumps(result, indent=2))


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # Failure, authlib.jose errors (bad signature, expired, wrong aud...)
        message = str(error) if isinstance(error, Failure) else '%s: %s' % (type(error).__name__, error)
        if '--json' in sys.argv[1:]:
            print(json.dumps({'event': 'error', 'message': message}), flush=True)
        print('research.py: error: ' + message, file=sys.stderr)
        sys.exit(1)
