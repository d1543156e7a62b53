"""Content-Security-Policy for every response (Django 5.2 has none built in).

Our pages load scripts and styles from our own origin only: no inline <script>, no
style attributes (templates/base.html turns off htmx's injected indicator <style>).
The websocket is same-origin; ws:/wss: to this host is spelled out for browsers
whose 'self' does not cover it. Two third-party pages we do not template need
more: the Django admin (inline styles in some widgets) and drf-spectacular's
Swagger UI (an inline <style> and init <script>) - they get a looser policy,
scoped to their paths.
"""

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "object-src": "'none'",
}
# The admin and the API docs viewer: inline styles and scripts from their own templates.
RELAXED = STRICT | {"script-src": "'self' 'unsafe-inline'", "style-src": "'self' 'unsafe-inline'"}
RELAXED_PREFIXES = ("/admin/", "/api/docs/")


def policy_for(path: str, host: str) -> str:
    directives = dict(RELAXED if path.startswith(RELAXED_PREFIXES) else STRICT)
    if host:
        directives["connect-src"] += f" ws://{host} wss://{host}"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = "Content-Security-Policy"

    def __call__(self, request):
        response = self.get_response(request)
        if self.header not in response:
            try:
                host = request.get_host()
            except Exception:  # DisallowedHost: the response is an error page anyway
                host = ""
            response[self.header] = policy_for(request.path, host)
        return response
