"""The exceptions of nexus_auth: one base class, so callers can catch everything at once."""


class NexusAuthError(Exception):
    """Base class of every error this package raises."""


class InvalidToken(NexusAuthError):
    """A token was refused. ``reason`` says why, in words fit for a log line or a 401 body."""

    error = 'invalid_token'

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class HubUnreachable(NexusAuthError):
    """The hub did not answer (connection refused, timeout, DNS failure...)."""

    def __init__(self, url, cause):
        super().__init__('cannot reach %s: %s' % (url, cause))
        self.url = url


class HubError(NexusAuthError):
    """The hub answered something this package cannot use (an unexpected status or body)."""


class OAuthError(NexusAuthError):
    """The hub refused an OAuth request with an RFC 6749 error (``invalid_grant``, ``invalid_client``...)."""

    def __init__(self, error, description=None, status=None):
        message = error if not description else '%s: %s' % (error, description)
        super().__init__(message)
        self.error = error
        self.description = description
        self.status = status


class SlowDown(OAuthError):
    """``slow_down``: too many requests. ``retry_after`` is the hub's Retry-After in seconds (or None)."""

    def __init__(self, description=None, status=None, retry_after=None):
        super().__init__('slow_down', description, status)
        self.retry_after = retry_after


class InvalidWebhook(NexusAuthError):
    """A webhook delivery did not verify; answer it with 400. ``code`` says which check failed
    (``missing_header``, ``repeated_header``, ``invalid_timestamp``, ``timestamp_too_old``,
    ``timestamp_too_new``, ``no_matching_signature``, ``invalid_payload``), ``reason`` in words."""

    status = 400

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason
