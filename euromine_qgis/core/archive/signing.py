"""Signing asset hrefs with a SAS token (Microsoft Planetary Computer): the token endpoint answers
``GET {token_url}/{collection}`` with ``{"token": "...", "msft:expiry": "..."}``; the token is the
query string of every asset href, and is fetched again once it has expired."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import requests

from ..errors import first_line
from .errors import SIGN, ArchiveError
from .http import TIMEOUT_S, session

EXPIRY_MARGIN = dt.timedelta(minutes=5)  # a token this close to its expiry is renewed before use


class Signer:
    """Turns an asset href into the one to open: unchanged without a token endpoint, else with the
    current token appended."""

    def __init__(self, token_url: str, collection: str, now: Callable[[], dt.datetime] | None = None) -> None:
        self._url = f"{token_url.rstrip('/')}/{collection}" if token_url.strip() else ""
        self._token, self._expiry = "", dt.datetime.min.replace(tzinfo=dt.UTC)
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._session = session() if self._url else None

    def _refresh(self) -> None:
        assert self._session is not None
        try:
            answer = self._session.get(self._url, timeout=TIMEOUT_S)
            answer.raise_for_status()
            body = answer.json()
            token, expiry = str(body["token"]), str(body.get("msft:expiry", ""))
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(self._url, SIGN, f"no SAS token ({first_line(exc)})") from exc
        self._token = token.lstrip("?")
        try:
            parsed = dt.datetime.fromisoformat(expiry.replace("Z", "+00:00"))
            self._expiry = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            self._expiry = self._now() + EXPIRY_MARGIN * 2  # no readable expiry: renew soon

    def __call__(self, href: str) -> str:
        """``href`` signed with a token valid for a while yet."""
        if not self._url:
            return href
        if not self._token or self._now() >= self._expiry - EXPIRY_MARGIN:
            self._refresh()
        return f"{href}{'&' if '?' in href else '?'}{self._token}"
