"""The project's own middleware: the Content-Security-Policy's per-request parts, and
``SyncChain``, which keeps the whole chain in sync mode (see its docstring).

The Content-Security-Policy: django-csp, with the two parts a static setting cannot say.

``CONTENT_SECURITY_POLICY`` in settings is the policy of every page. django-csp's
settings hold one policy for the whole site, and its decorators change one view at a
time; what depends on the request is added here, through ``get_policy_parts`` (the
hook django-csp documents for this):

- ``connect-src`` names this host's ``ws://`` and ``wss://`` (with its port): the
  websocket is same-origin, but not every browser counts it under ``'self'``;
- ``/admin/`` and ``/api/docs/`` (pages we do not template: the admin's widgets,
  Swagger UI's init script and style) also allow inline scripts and styles.
"""

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.core.exceptions import DisallowedHost

RELAXED_PREFIXES = ("/admin/", "/api/docs/")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        extra = {}
        try:
            host = request.get_host()
        except DisallowedHost:  # the response is the 400 page; no websocket to allow
            host = ""
        if host:
            extra["connect-src"] = [f"ws://{host}", f"wss://{host}"]
        if request.path_info.startswith(RELAXED_PREFIXES):
            extra["script-src"] = extra["style-src"] = [UNSAFE_INLINE]
        update = dict(parts.update or {})
        for directive, sources in extra.items():
            current = update.get(directive) or []
            update[directive] = [*([current] if isinstance(current, str) else current), *sources]
        parts.update = update
        return parts


class SyncChain:
    """Last in ``MIDDLEWARE``, sync only: makes Django run the whole middleware chain in
    sync mode, on the request's own thread: no middleware method hops on its own (5 hops
    per request are left, Django's handler's own: quickcommerce/tests/test_middleware_chain.py).

    WhiteNoise is sync only. Django adapts each middleware to the mode of the one inside
    it, so without this the chain ran async from the innermost middleware up to
    WhiteNoise, and every ``MiddlewareMixin`` in that part (sessions, common, CSRF,
    authentication, messages, clickjacking, htmx) ran its ``process_request`` and
    ``process_response`` through ``sync_to_async``: a dozen thread hops per request,
    about a quarter of a trivial API request's time (docs/benchmarks.md, "What we
    changed" 14). Django's documentation says the same: each switch between modes costs;
    all sync is one switch here, as all async is not possible while WhiteNoise is sync."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
