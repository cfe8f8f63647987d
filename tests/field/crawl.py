"""Every page a member can open from where they start: a breadth-first crawl
over the same-site links (``<a href>``) and GET forms of each page, so a page
reached only through another page's link is checked the day that link is
added, without anyone remembering to list it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

from django.urls import reverse

# Links the crawl never follows: they end the session (and with it the crawl).
# Every change of state is a POST, so no GET link destroys anything; POST forms
# are not followed.
NOT_FOLLOWED = ("field:exit", "members:logout")


@dataclass
class Page:
    """What one HTML page links to and loads."""

    links: list[str] = field(default_factory=list)
    stylesheets: list[str] = field(default_factory=list)
    htmx_attributes: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._form: dict | None = None
        self._select: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.page.htmx_attributes += [
            name for name in values if name.startswith(("hx-", "data-hx-"))
        ]
        if tag == "a" and "href" in values:
            self.page.links.append(values["href"])
        elif tag == "link" and values.get("rel") == "stylesheet":
            self.page.stylesheets.append(values.get("href", ""))
        elif tag == "form":
            method = values.get("method", "get").lower()
            self._form = {"action": values.get("action", ""), "fields": [], "get": method == "get"}
        elif self._form is None:
            return
        elif tag == "input" and values.get("name"):
            kind = values.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in values:
                return
            self._form["fields"].append((values["name"], values.get("value", "")))
        elif tag == "select" and values.get("name"):
            self._select = {"name": values["name"], "first": None, "chosen": None}
        elif tag == "option" and self._select is not None:
            value = values.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in values:
                self._select["chosen"] = value
        elif tag == "textarea" and values.get("name"):
            self._textarea = {"name": values["name"], "text": ""}

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._form is not None:
            chosen = self._select["chosen"]
            value = chosen if chosen is not None else self._select["first"]
            if value is not None:
                self._form["fields"].append((self._select["name"], value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form["fields"].append((self._textarea["name"], self._textarea["text"]))
            self._textarea = None
        elif tag == "form" and self._form is not None:
            if self._form["get"]:
                query = urlencode(self._form["fields"])
                self.page.links.append(self._form["action"].split("?")[0] + "?" + query)
            self._form = None


def read(body: str) -> Page:
    reader = _Reader()
    reader.feed(body)
    reader.close()
    return reader.page


def _same_site(base: str, href: str) -> str | None:
    """``href`` resolved against ``base`` as a path (with its query), or None
    when it leaves the site or is not a page (a fragment, ``mailto:``...)."""
    if not href or href.startswith("#"):
        return None
    parts = urlsplit(urljoin(base, href))
    if parts.scheme or parts.netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Visit:
    url: str
    response: object
    page: Page | None  # None when the answer is not HTML (a photo)


def crawl(client, start: str, *, limit: int = 300) -> list[Visit]:
    """GET ``start`` and every same-site page reachable from it by links and
    GET forms, breadth-first, each URL once; ``limit`` guards against a page
    that links to ever new URLs."""
    skipped = {reverse(name) for name in NOT_FOLLOWED}
    seen = {start}
    queue = deque([start])
    visits: list[Visit] = []
    while queue:
        url = queue.popleft()
        response = client.get(url)
        html = response.get("Content-Type", "").startswith("text/html")
        page = read(response.content.decode()) if html else None
        visits.append(Visit(url, response, page))
        assert len(visits) <= limit, f"more than {limit} pages: the crawl is running away"
        for href in page.links if page else ():
            target = _same_site(url, href)
            if target is None or target.split("?")[0] in skipped or target in seen:
                continue
            seen.add(target)
            queue.append(target)
    return visits
