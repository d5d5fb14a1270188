"""Asking the endpoint over HTTP and reading what comes back.

Everything that touches the network or raw bytes is here: waiting out a 503's short
Retry-After, turning requests' exceptions into a few plain words, and telling an OAI-PMH
document from an HTML page, an empty body or broken XML. The checks only ever see the
parsed :class:`_Answer`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from lxml import etree

from .report import HarvestFigures
from .standard import _O, OAI_NS, whole_number

#: 503 answers with a Retry-After up to this many seconds are waited for, this many times.
RETRY_AFTER_LIMIT = 60
RETRIES = 3


class _FetchError(Exception):
    """A request got no HTTP answer (refused, timed out, cut off)."""


@dataclass(slots=True)
class _Answer:
    """One response, parsed."""

    label: str
    status: int
    content_type: str
    seconds: float
    root: Any  #: the OAI-PMH element, or None (see ``problem``)
    problem: str | None
    looks_like_oai: bool
    errors: list[tuple[str, str]]
    response_date: datetime | None


def _request(
    session: requests.Session,
    base_url: str,
    params: Mapping[str, str],
    label: str,
    *,
    timeout: float,
    sleep: Callable[[float], None],
    figures: HarvestFigures,
) -> tuple[_Answer, requests.Response, datetime]:
    """Ask ``base_url`` once: the answer parsed, the response itself, and when it came.

    A 503 with a short Retry-After is waited out up to :data:`RETRIES` times; retries and
    responses are counted in ``figures``. Raises :class:`_FetchError` when no HTTP answer
    came at all.
    """
    attempts = 0
    while True:
        started = time.perf_counter()
        try:
            response = session.get(base_url, params=dict(params), timeout=timeout)
            content = response.content
        except requests.RequestException as exc:
            raise _FetchError(_reason(exc, timeout)) from None
        seconds = time.perf_counter() - started
        if response.status_code == 503 and attempts < RETRIES:
            delay = _retry_after(response.headers.get("Retry-After"))
            if delay is not None:
                attempts += 1
                figures.retries += 1
                sleep(delay)
                continue
        break
    received = datetime.now(UTC)
    figures.responses += 1
    content_type = response.headers.get("Content-Type", "")
    root, problem = _parse(content, content_type)
    answer = _Answer(
        label=label,
        status=response.status_code,
        content_type=content_type,
        seconds=seconds,
        root=root,
        problem=problem,
        looks_like_oai=OAI_NS.encode("ascii") in content,
        errors=[],
        response_date=None,
    )
    if root is not None:
        answer.errors = [(e.get("code") or "", " ".join((e.text or "").split()))
                         for e in root.findall(f"{_O}error")]  # fmt: skip
    return answer, response, received


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _parse(content: bytes, content_type: str) -> tuple[Any, str | None]:
    """The OAI-PMH root element, or None and what the content is instead."""
    head = content[:512].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        kind = content_type.split(";", 1)[0].strip() or "no content type"
        if OAI_NS.encode("ascii") not in content:
            return None, f"an HTML page ({kind}), not OAI-PMH XML"
    if not content.strip():
        return None, "an empty body"
    if not content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        kind = content_type.split(";", 1)[0].strip() or "no content type"
        return None, f"a body that is not XML ({kind})"
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        return None, f"XML that is not well-formed ({exc})"
    if root.tag != f"{_O}OAI-PMH":
        return None, f"XML whose root is <{etree.QName(root).localname}>, not <OAI-PMH>"
    return root, None


def _reason(exc: requests.RequestException, timeout: float) -> str:
    """Why a request failed, in a few words rather than urllib3's chain of exceptions."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s (--timeout)"
    if isinstance(exc, requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
        return "not an http:// or https:// URL"
    if isinstance(exc, requests.exceptions.InvalidURL):
        return "not a valid URL"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the body is not in the compression its Content-Encoding names"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (certificate or protocol)"
    match = _ERRNO.search(str(exc))
    if match:
        return match.group(1).strip().lower()
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off in the middle of the answer"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed or was closed without an answer"
    return type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait for a 503's Retry-After, when it asks for a short enough wait."""
    seconds = whole_number(value)
    return float(seconds) if seconds is not None and seconds <= RETRY_AFTER_LIMIT else None
