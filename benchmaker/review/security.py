"""Safe by default: loopback only, an access token off loopback, a CSRF token on every form, strict headers.

* Host header: only the names the server was started for (a DNS-rebinding page cannot reach it).
* Access token (required when the server listens beyond loopback): the printed URL carries it once;
  it is then kept in an HttpOnly, SameSite=Strict cookie and the address bar is cleaned.
* CSRF: every browser gets a random session cookie; every form carries HMAC(server secret, session).
  A POST without the right token, or from another origin, is refused before anything is read.
* Headers: a Content-Security-Policy allowing only this server's own script and style, no framing,
  referrer to this server only (the token never leaks in a Referer to another site), nosniff.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

SESSION_COOKIE = "bm_review_session"
ACCESS_COOKIE = "bm_review_access"
REVIEWER_COOKIE = "bm_review_reviewer"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on the page's own forms
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


@dataclass
class Security:
    host: str
    port: int
    access_token: str | None = None
    """Required on every request when set (the server listens beyond loopback)."""
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def for_host(cls, host: str, port: int) -> Security:
        return cls(host=host, port=port, access_token=None if is_loopback(host) else secrets.token_urlsafe(24))

    def allowed_hosts(self) -> set[str]:
        names = {self.host, *LOOPBACK} if is_loopback(self.host) else {self.host}
        hosts = set()
        for name in names:
            shown = f"[{name}]" if ":" in name else name
            hosts |= {shown, f"{shown}:{self.port}"}
        return hosts

    def host_ok(self, host_header: str | None) -> bool:
        return host_header is not None and host_header.lower() in self.allowed_hosts()

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """A POST's Origin, when the browser sends one, must be this server."""
        if origin is None:
            return True
        return origin.lower() in {f"http://{host_header or ''}".lower()}

    def access_ok(self, cookie: str | None) -> bool:
        return self.access_token is None or (cookie is not None and hmac.compare_digest(cookie, self.access_token))

    def token_ok(self, supplied: str | None) -> bool:
        if self.access_token is None or supplied is None:
            return False
        return hmac.compare_digest(supplied, self.access_token)

    def csrf_for(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str | None, supplied: str | None) -> bool:
        if not session or not supplied:
            return False
        return hmac.compare_digest(self.csrf_for(session), supplied)

    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{shown}:{self.port}/"
        return f"{base}?token={self.access_token}" if self.access_token else base


def new_session() -> str:
    return secrets.token_urlsafe(24)
