#!/usr/bin/python3
"""Nexus research client: device sign-in, client credentials, an API call, token checks.

A script on a server or a laptop without a browser signs its user in with the device
authorization grant (RFC 8628), gets a token of its own with client credentials, calls a
project API with both, and verifies every access token offline against the hub's JWKS.

It uses the nexus_auth package (packages/python: `pip install packages/python`, or run from the
repository as is). Run with Debian's Python, where python3-jwt and python3-requests are installed:

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

import requests

# Run from the repository without installing: the package sits in packages/python.
PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'packages', 'python')
if os.path.isdir(PACKAGE):
    sys.path.insert(0, os.path.normpath(PACKAGE))

from nexus_auth import (HubUnreachable, NexusAuthError, OAuthError, Verifier, client_credentials, discover,  # noqa: E402
                        poll_device_token, request_device_code)

TIMEOUT = 15  # seconds, for every HTTP request


class Failure(Exception):
    pass


def device_sign_in(metadata, client_id, client_secret, scope, show_code):
    """RFC 8628: ask for a code, let the user approve it elsewhere, poll for the tokens."""
    try:
        device = request_device_code(metadata, client_id, scope, client_secret, timeout=TIMEOUT)
    except OAuthError as error:
        raise Failure('device authorization answered HTTP %s: %s' % (error.status, error))
    show_code(device)
    try:
        return poll_device_token(metadata, device, client_id, client_secret, timeout=TIMEOUT)
    except OAuthError as error:
        if error.error == 'expired_token':
            raise Failure('the code expired before it was approved; run the script again')
        raise Failure('device sign-in failed: %s (%s)' % (error.error, error.description))


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
        metadata = discover(issuer, timeout=TIMEOUT)
        # RS256, typ at+jwt, iss, aud, exp/nbf; the keys are fetched now (so a broken JWKS
        # shows before the user is bothered) and kept.
        verifier = Verifier(issuer, audience, jwks_uri=metadata['jwks_uri'])
        verifier.keys.refresh()

        # (a) The user signs in on another device.
        def show_code(device):
            emit('device_code', user_code=device['user_code'], verification_uri=device['verification_uri'],
                 verification_uri_complete=device.get('verification_uri_complete'),
                 expires_in=device['expires_in'], interval=device.get('interval', 5))
            progress('To sign in, open %s and enter the code %s' % (device['verification_uri'], device['user_code']))
            if device.get('verification_uri_complete'):
                progress('(or open %s)' % device['verification_uri_complete'])
            progress('Waiting for approval...')

        user_token = device_sign_in(metadata, client_id, client_secret, scope, show_code)
        user = verifier.verify(user_token['access_token'])
        progress('Signed in as %s (%s), scope %s' % (user.get('email'), user['sub'], user.get('scope')))

        # (b) The client's own token.
        try:
            machine_token = client_credentials(issuer, client_id, client_secret, 'research:read', timeout=TIMEOUT)
        except OAuthError as error:
            raise Failure('client credentials failed: %s (%s)' % (error.error, error.description))
        machine = verifier.verify(machine_token['access_token'])
        progress('Client credentials token for %s, scope %s' % (machine['sub'], machine.get('scope')))

        # (c) The project API, once as the user and once as the client.
        api = None
        if api_url:
            api = {'user': call_api(api_url, user_token['access_token']),
                   'client': call_api(api_url, machine_token['access_token'])}
            progress('%s: HTTP %s as the user, HTTP %s as the client' % (api_url, api['user']['status'], api['client']['status']))
    except HubUnreachable as error:
        raise Failure(str(error))
    except requests.RequestException as error:  # the project API
        raise Failure('cannot reach %s: %s' % (error.request.url if error.request else api_url, error))

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
    except Exception as error:  # Failure, nexus_auth errors (InvalidToken: expired, wrong aud...)
        message = str(error) if isinstance(error, (Failure, NexusAuthError)) else '%s: %s' % (type(error).__name__, error)
        if '--json' in sys.argv[1:]:
            print(json.dumps({'event': 'error', 'message': message}), flush=True)
        print('research.py: error: ' + message, file=sys.stderr)
        sys.exit(1)
