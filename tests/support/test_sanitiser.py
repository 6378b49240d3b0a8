"""Message bodies are Markdown rendered to HTML and cleaned by nh3: whatever a customer or
agent types, nothing in the thread can run."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from support import services
from support.rendering import render_markdown, sanitize_html
from tests.factories import TicketFactory

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>x</a>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="width: expression(alert(1))">x</p>',
    "<style>body{background:url('javascript:alert(1)')}</style>",
    '<a href="&#106;avascript:alert(1)">entity</a>',
    '<a href="&#x6A;&#x61;vascript&#58;alert(1)">hex entity</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "![img](javascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<img src="x" /onerror=alert(1)>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="#" onclick="alert(1)">x</a>',
    "`<script>alert(1)</script>` and\n```\n<img src=x onerror=alert(1)>\n```",
    '<object data="javascript:alert(1)"></object><embed src=javascript:alert(1)>',
    "<form action=javascript:alert(1)><button>x</button></form>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<!--<img src=x onerror=alert(1)>-->",
]

# What must never appear as markup: a script element, an event-handler attribute, a
# javascript: (or data:) URL. The payloads themselves may still be *shown* as escaped text
# (&lt;script&gt;, or "javascript:" as words in a paragraph), which is how raw HTML typed
# in a message is meant to appear; so markup is checked by parsing it, as a browser would,
# with entities decoded.
SCRIPT_TAG = re.compile(r"<\s*script", re.I)
HANDLER = re.compile(r"<[^>]*\son\w+\s*=", re.I)
FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "svg",
    "math",
    "object",
    "embed",
    "style",
    "form",
    "meta",
    "body",
    "link",
    "base",
    "details",
}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def assert_inert(html: str) -> None:
    assert not SCRIPT_TAG.search(html), html
    assert not HANDLER.search(html), html
    markup = _Markup()
    markup.feed(html)
    markup.close()
    assert not FORBIDDEN_TAGS & set(markup.tags), html
    for name, value in markup.attributes:
        assert not name.startswith("on"), html
        assert name != "style", html
        # Browsers ignore whitespace and control characters inside a scheme ("jav\tascript:").
        squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
        assert not squeezed.startswith(BAD_SCHEMES), html
        assert "javascript:" not in squeezed, html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendered_markdown_is_inert(payload):
    assert_inert(render_markdown(payload))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitiser_alone_makes_raw_html_inert(payload):
    # HTML-only email bodies skip Markdown and go straight through the sanitiser.
    assert_inert(sanitize_html(payload))


def test_raw_html_is_shown_as_text_not_run():
    html = render_markdown("<script>alert(1)</script>")
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if p.startswith(("[", "!["))])
def test_markdown_links_to_javascript_or_data_urls_lose_their_target(payload):
    html = render_markdown(payload)
    assert "href=" not in html
    assert "src=" not in html


def test_harmless_markdown_survives():
    html = render_markdown("**bold** [docs](https://example.test/a?b=1) `code`\n\n- item")
    assert "<strong>bold</strong>" in html
    assert (
        '<a href="https://example.test/a?b=1" rel="noopener noreferrer nofollow">docs</a>' in html
    )
    assert "<code>code</code>" in html
    assert "<li>item</li>" in html


@pytest.mark.django_db
def test_thread_page_shows_every_payload_inert(client_for, agent):
    ticket = TicketFactory()
    for payload in PAYLOADS:
        services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body=payload)
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body=PAYLOADS[2], public=False)

    page = client_for(agent).get(reverse("support:ticket-detail", args=[ticket.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    thread = html[html.index('<ol class="list-unstyled cx-thread') : html.index('id="composer"')]
    assert thread.count('class="card mb-2 cx-message') == len(PAYLOADS) + 1
    assert_inert(thread)
    # The only scripts on the page are our own files.
    assert re.findall(r"<script[^>]*>", html) == [
        s for s in re.findall(r"<script[^>]*>", html) if 'src="/static/' in s
    ]


@pytest.mark.django_db
def test_subject_and_names_are_escaped_on_the_page(client_for, agent):
    ticket = TicketFactory(subject="<img src=x onerror=alert(1)>")
    ticket.requester.name = "<script>alert(1)</script>"
    ticket.requester.save()
    html = (
        client_for(agent).get(reverse("support:ticket-detail", args=[ticket.pk])).content.decode()
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x onerror" not in html
    assert "<script>alert(1)</script>" not in html
