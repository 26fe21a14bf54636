"""Requests to the hub's OAuth endpoints (token, device authorization) and their error answers."""
from .errors import HubError, OAuthError, SlowDown
from .transport import TIMEOUT, basic_auth, post_form


def client_request(url, form, client_id, client_secret=None, timeout=TIMEOUT):
    """POSTs ``form`` as the client: HTTP Basic for a confidential client, ``client_id`` in the
    form for a public one. Returns the JSON answer of a 200; raises OAuthError (SlowDown for
    ``slow_down``) for an OAuth error answer, HubError for anything else."""
    form = dict(form)
    authorization = None
    if client_secret:
        authorization = basic_auth(client_id, client_secret)
    else:
        form['client_id'] = client_id
    response = post_form(url, form, authorization=authorization, timeout=timeout)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        return body
    raise refusal(url, response, body)


def refusal(url, response, body):
    """The exception for an answer that is not the expected one: OAuthError (SlowDown for
    ``slow_down``) when the body is an error object ``{error, error_description}``, else HubError."""
    if isinstance(body, dict) and isinstance(body.get('error'), str):
        description = body.get('error_description')
        if body['error'] == 'slow_down':
            return SlowDown(description, response.status_code, retry_after_seconds(response.headers.get('Retry-After')))
        return OAuthError(body['error'], description, response.status_code)
    return HubError('%s answered HTTP %s: %s' % (url, response.status_code, response.text[:300]))


def token_request(token_endpoint, form, client_id, client_secret=None, timeout=TIMEOUT):
    """A grant at the token endpoint: the token response, which must carry an access_token."""
    answer = client_request(token_endpoint, form, client_id, client_secret, timeout=timeout)
    if not isinstance(answer.get('access_token'), str) or not answer['access_token']:
        raise HubError('%s answered no access_token' % token_endpoint)
    return answer


def retry_after_seconds(value):
    """Retry-After as whole seconds (the hub sends delta-seconds); None when absent or a date."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None
