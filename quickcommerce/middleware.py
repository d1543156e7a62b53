"""The Content-Security-Policy: django-csp, with the two parts a static setting cannot say.

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
