"""Markdown → HTML that is safe to show: rendered with python-markdown, cleaned by nh3.

Raw HTML typed by a user is escaped before rendering, and whatever the Markdown produces
passes nh3's allow-list: no script, no event handlers, no javascript: or data: links.
"""

from __future__ import annotations

import markdown
import nh3
from markdown.extensions import Extension

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
    "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(value: str) -> str:
    """Keep only harmless markup (used for Markdown output and for HTML-only email)."""
    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


class _RawHtmlAsText(Extension):
    """Treat raw HTML in the source as text, so Markdown escapes it like any other text."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


_EXTENSIONS = [_RawHtmlAsText(), "fenced_code", "tables", "sane_lists", "nl2br"]


def render_markdown(text: str) -> str:
    """The sanitised HTML of Markdown `text`; raw HTML in the text is shown, not run."""
    return sanitize_html(markdown.markdown(text, extensions=_EXTENSIONS))
