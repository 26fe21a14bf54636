"""HTTP to the hub: JSON GETs, form and JSON POSTs, network failures raised as HubUnreachable."""
import base64
import json
import urllib.parse

import requests

from .errors import HubError, HubUnreachable

TIMEOUT = 15  # seconds, for every request unless the caller says otherwise


def basic_auth(client_id, client_secret):
    """RFC 6749 section 2.3.1: id and secret are form-urlencoded, then Basic-encoded."""
    pair = '%s:%s' % (urllib.parse.quote(client_id, safe=''), urllib.parse.quote(client_secret, safe=''))
    return 'Basic ' + base64.b64encode(pair.encode()).decode()


def get_json(url, timeout=TIMEOUT):
    """GETs a JSON document; anything but 200 with a JSON object raises HubError."""
    try:
        response = requests.get(url, headers={'Accept': 'application/json'}, timeout=timeout)
    except requests.RequestException as error:
        raise HubUnreachable(url, error) from error
    if response.status_code != 200:
        raise HubError('%s answered HTTP %s' % (url, response.status_code))
    return _json_object(response, url)


def post_form(url, form, authorization=None, timeout=TIMEOUT):
    """POSTs a form; returns the requests.Response whatever its status (callers judge it)."""
    return _post(url, form, {}, authorization, timeout)


def json_body(document):
    """A request body of JSON. NaN and infinities raise ValueError: they are not JSON."""
    return json.dumps(document, allow_nan=False).encode('utf-8')


def post_json(url, body, authorization=None, timeout=TIMEOUT):
    """POSTs a json_body; returns the requests.Response whatever its status (callers judge it)."""
    return _post(url, body, {'Content-Type': 'application/json'}, authorization, timeout)


def _post(url, data, headers, authorization, timeout):
    headers = dict(headers, Accept='application/json')
    if authorization:
        headers['Authorization'] = authorization
    try:
        return requests.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as error:
        raise HubUnreachable(url, error) from error


def _json_object(response, url):
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HubError('%s answered HTTP %s without a JSON object: %s' % (url, response.status_code, response.text[:200]))
    return body
