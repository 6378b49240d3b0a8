"""The parser on every real message in ../shared/data/email/ (and on broken input)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.mail import (
    EmailParseError,
    decode_bytes,
    html_to_text,
    parse_email,
    sanitize_email_html,
    strip_quoted,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "email"
if not DATA.is_dir():  # the checkout may live elsewhere; the data set is next to it
    DATA = Path("/work/shared/data/email")

SYNTHETIC = "sha256-"
# Its quoted-printable text has one truly broken UTF-8 sequence ("=D1f."): replaced, not lost.
BROKEN_BYTES = {"mail_test_6.eml"}  # no Message-ID: an id made from the bytes

# file: (message_id, from name, from address, subject, auto-reply reason contains,
#        reply text, text the full body contains, attachment file names)
EXPECTED = {
    "mail_malformed_2.eml": (
        "B0950073156@apus.netpar.com.br",
        "",
        "postmaster@netpar.com.br",
        "Delivery failure (abh@netpar.com.br)",
        "delivery status report",
        None,
        "User's mailbox quota exceeded",
        [],
    ),
    "mail_malformed_3.eml": (
        "QLHMAUTBMRLPSUHSWPVQEL@post.sk",
        "El Punto de los Frutos & Verdes",
        "smgsiso@yahoo.com.mx",
        "Ahorre Dinero en su Recibo de Luz",
        "",
        None,
        "Secador Toallero Térmico",  # the declared boundary is wrong: recovered
        [],
    ),
    "mail_test_12.eml": (
        SYNTHETIC,
        "张先生",
        "baoguan@hotmail.com",
        "代开各地增值税发票",
        "",
        None,
        "你好\uff01我公司可代开各类增值税发票",
        [],
    ),
    "mail_test_14.eml": (
        SYNTHETIC,
        "",
        "example@example.com",
        "Test",
        "",
        "Plaintext here.",  # the text part wins over the HTML one before it
        "Plaintext here.",
        ["attachment-1.png"],
    ),
    "mail_test_16.eml": (
        "GTUBE1.1010101@example.net",
        "Sender",
        "sender@example.net",
        "Test spam mail (GTUBE)",
        "Precedence: junk",
        None,
        "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL",
        [],
    ),
    "mail_test_18.eml": (
        SYNTHETIC,
        "LastßlName, FirstName",
        "comma.name@example.com",
        "Test for Comma and Name Bugs",
        "",
        None,
        "This is a test email body.",
        [],
    ),
    "mail_test_19.eml": (
        "test-email-as-name@example.com",
        "alice@example.com",
        "bob@example.com",  # the address in angle brackets, not the display name
        "Test email with email address as display name",
        "",
        None,
        "display name is itself",
        [],
    ),
    "mail_test_3.eml": (
        "8AF5A2192C2A46BE.2743cdb5-7033-d969-fce8-c552542a49a3@mail.outlook.com",
        "Ava Oneil",
        "oneil.844@randtelekom.com.tr",
        "Hi there",
        "",
        "I am sending you the bills of the goods we delivered to you in the attachment",
        "bills of the goods",
        ["message.txt"],
    ),
    "mail_test_5.eml": (
        "aidmakfaofhmuoiauhu.afdakighau@unkown",
        "Marina de Carlance",
        "contact@carlance.fr",
        "Je prépare mon été zéro complexe !",
        "Precedence: bulk",
        None,
        "Offre valable du 8 mars au 8 avril 2017",
        [
            "mailingassets_d68799cd6301c7f5731a3c42946e528bcb78eb84.jpg",
            "mailingassets_a9ed45ff2645cff7fca702b289bc684b1bc72e2a.png",
            "mailingassets_0e4def97310df75c2fa6e0db8fe67b79d130b3c3.png",
            "mailingassets_228b182da05725833a4003dcbd8f6fe67956ad40.png",
            "mailingassets_4545af8d596bb510a1181c9a3be0460bc5718649.png",
        ],
    ),
    "mail_test_6.eml": (
        "20170715091841.33B7F81021@smtp11.ggg.com",
        "Время пришло",
        "noreply@ggg.com",
        "Быстрее вкладывайте в золото!",
        "",
        None,
        "Профессионалы.ru",  # HTML only: sanitised, then made text
        ["attachment-1.png", "attachment-2.png", "attachment-3.png", "attachment-4.png"],
    ),
    "reply_android.eml": (
        "CAEAsyCZ-sCHxZtoKyM3JmT5gSYpZd5GwY-cVNiV8H329zgJT4g@mail.gmail.com",
        "Sergey Obykhov",
        "bob@example.com",
        "Re: Test",
        "",
        "Hello",
        "написал:",
        [],
    ),
    "reply_aol.eml": (
        "8CEDEEFBEF4733B-1E5C-73DF@webmail-d070.sysops.aol.com",
        "Megan Odin",
        "xxx@aol.com",
        "Re: Test",
        "",
        "Hello",
        "-----Original Message-----",
        [],
    ),
    "reply_apple_mail.eml": (
        "9A1EA6A5-4FD3-4AD0-8DFD-2420E670DB53@gmail.com",
        "xxx",
        "xxx@gmail.com",
        "Re: Test",
        "",
        "Hello",
        "On Apr 3, 2012, at 4:19 PM, bob wrote:",
        [],
    ),
    "reply_apple_mail_2.eml": (
        "68001B29-8EA4-444C-A894-0537D2CA5208@tictail.com",
        "Adam Renberg",
        "adam@tictail.com",
        "Re: Hello there",
        "",
        "Hello",
        "> Hi there!",
        [],
    ),
    "reply_comcast.eml": (
        "650787974.741595.1333374972389.JavaMail.root@sz0152a.westchester.pa.mail.comcast.net",
        "",
        "xxx@comcast.net",
        "Re: Test",
        "",
        "Hello",
        "----- Original Message -----",
        [],
    ),
    "reply_gmail.eml": (
        "CAKsfaBW4hj0Gek6TwbR3erng4P1y0CZzJ0d=pXtCNnYnbe7PLg@mail.gmail.com",
        "Megan One",
        "xxx@gmail.com",
        "Re: Test",
        "",
        "Hello",
        "Megan One <xxx@gmail.com> wrote:",
        [],
    ),
    "reply_hotmail.eml": (
        "DUB102-W192C6E94759954C4885B92B14C0@phx.gbl",
        "Alexey Q",
        "xxx@hotmail.com",
        "RE: Test",
        "",
        "Hello",
        "> Subject: Test",
        [],
    ),
    "reply_iphone.eml": (
        "06C90B12-13B9-4C5F-A9EF-4A809D94C078@gmail.com",
        "xxx",
        "xxx@gmail.com",
        "Re: Test",
        "",
        (DATA / "reply_iphone.expected.txt").read_text().strip() if DATA.is_dir() else None,
        "bob <bob@example.com> wrote:",  # the soft line break is decoded
        [],
    ),
    "reply_share_block.eml": (
        SYNTHETIC,
        "Joe Doe",
        "xxx@example.com",
        "Re: You've got a new booking inquiry!",
        "",
        "Hi Katharine.\xa0 Sounds great.\xa0 Are there and dietry restrictions or things your "
        "husband does/doesn't like to eat?\xa0 Would you like to do a few hors d oeuvres and "
        "then a\xa03 or 4\xa0course dinner?\xa0 Let me know what you think will work best and I "
        "will start working on a menu and proposal.\xa0 Thanks so much and look forward to "
        "hearing from you soon.\n\nJoe XXX",
        "New Booking Inquiry",
        [],
    ),
    "reply_thunderbird.eml": (
        "4F79B73C.9030506@xxx.mailgun.org",
        "bob",
        "bob@xxx.mailgun.org",
        "Re: Test",
        "",
        "Hello",  # written below the quote (bottom-posting)
        "Megan One wrote:",
        [],
    ),
    "reply_yahoo.eml": (
        "1333374330.68772.YahooMailNeo@web114411.mail.gq1.yahoo.com",
        "Alex Q",
        "xxx@yahoo.com",
        "Re: Test",
        "",
        "Hello",
        "----- Original Message -----",
        [],
    ),
}


def test_every_file_in_the_data_set_has_expectations():
    assert sorted(p.name for p in DATA.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_message_is_parsed(name):
    message_id, from_name, address, subject, auto, reply, contains, files = EXPECTED[name]
    raw = (DATA / name).read_bytes()

    parsed = parse_email(raw)

    if message_id == SYNTHETIC:
        assert parsed.message_id.startswith(SYNTHETIC)
        assert parse_email(raw).message_id == parsed.message_id  # stable across deliveries
    else:
        assert parsed.message_id == message_id
    assert (parsed.from_name, parsed.from_address) == (from_name, address)
    assert parsed.subject == subject
    if auto:
        assert auto in parsed.auto_reply
    else:
        assert parsed.auto_reply == ""
    if reply is not None:
        assert parsed.reply == reply
    assert contains in parsed.body
    if name not in BROKEN_BYTES:
        assert "\ufffd" not in parsed.body  # every charset decoded
    assert [a.filename for a in parsed.attachments] == files
    assert all(a.content for a in parsed.attachments)
    assert parsed.date is not None
    assert parsed.date.tzinfo is not None


def test_threading_headers_and_recipients():
    parsed = parse_email((DATA / "reply_apple_mail_2.eml").read_bytes())
    thread = "CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com"
    assert parsed.in_reply_to == [thread]
    assert parsed.references == [thread]
    assert parsed.thread_ids == [thread]
    assert parsed.to == ["tgwizard@gmail.com"]
    assert parsed.date == datetime(2015, 8, 22, 17, 22, 20, tzinfo=UTC)

    parsed = parse_email((DATA / "mail_test_18.eml").read_bytes())
    assert parsed.to == ["tony.stark@example.com"]
    assert parsed.cc == ["simple@example.net", "john.doe@example.com"]


def test_attachment_bytes_are_decoded():
    parsed = parse_email((DATA / "mail_test_14.eml").read_bytes())
    (image,) = parsed.attachments
    assert (image.content_type, image.content) == ("image/png", b"PNG here")


def test_html_only_mail_is_sanitised_and_quotes_become_quote_lines():
    raw = (
        b"From: a@customer.test\r\nSubject: Hi\r\nMessage-ID: <h@x>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>New text <script>alert(1)</script><b>bold</b></p>"
        b"<div>On Mon, Bob wrote:</div><blockquote>old text</blockquote>"
        b'<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>'
    )
    parsed = parse_email(raw)
    assert "script" not in parsed.html
    assert "onerror" not in parsed.html
    assert "javascript" not in parsed.html
    assert "> old text" in parsed.body
    assert parsed.reply == "New text bold"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: Out of office", "X-Autorespond"),
        ("Precedence: list", "Precedence: list"),
        ("Return-Path: <>", "Return-Path"),
    ],
)
def test_automatic_mail_is_recognised(header, reason):
    raw = f"From: a@customer.test\r\n{header}\r\nSubject: Away\r\n\r\nI am away.".encode()
    assert reason in parse_email(raw).auto_reply


def test_auto_submitted_no_is_a_person():
    raw = b"From: a@customer.test\r\nAuto-Submitted: no\r\nSubject: Hi\r\n\r\nHello"
    assert parse_email(raw).auto_reply == ""


def test_mailer_daemon_is_a_bounce():
    raw = b"From: MAILER-DAEMON@mx.customer.test\r\nSubject: Undelivered\r\n\r\nSorry"
    assert "bounce" in parse_email(raw).auto_reply


def test_unknown_charset_is_read_as_utf8_with_replacement():
    raw = (
        b"From: a@customer.test\r\nSubject: =?x-klingon?Q?Qapla=E9?=\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\nCaf\xc3\xa9 \xff"
    )
    parsed = parse_email(raw)
    assert parsed.body == "Café \ufffd"
    assert parsed.subject  # shown somehow, never an exception
    assert decode_bytes(b"caf\xe9", None) == "café"  # undeclared 8-bit: Windows-1252


@pytest.mark.parametrize(
    "raw",
    [
        b"From: \r\nSubject: no sender\r\n\r\nbody",
        b"Subject: =?utf-8?B?!!!?=\r\nMessage-ID: <<<>>>\r\nDate: yesterday\r\n\r\nbody",
        b"Content-Type: multipart/mixed\r\nFrom: x@y.test\r\n\r\n--nothing\r\n",
        b"From: x@y.test\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64",
    ],
)
def test_broken_input_degrades_without_an_exception(raw):
    parsed = parse_email(raw)
    assert parsed.message_id


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"just some words, no headers"])
def test_input_that_is_not_mail_raises_a_parse_error(raw):
    with pytest.raises(EmailParseError):
        parse_email(raw)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("Thanks!\n\n-- \nJane Doe\nACME Inc.", "Thanks!"),
        (
            "Sure.\n\nFrom: Support <support@cx.test>\nSent: Monday, 2 April 2012 17:44\n"
            "To: Jane\nSubject: Test\n\nOld text",
            "Sure.",
        ),
        ("Yes\n\nLe 3 avr. 2012 à 16:19, bob a écrit :\n> Hi", "Yes"),
        ("> quoted\n\nno quote marker at all", "no quote marker at all"),
    ],
)
def test_strip_quoted(text, reply):
    assert strip_quoted(text) == reply


def test_html_to_text_keeps_lines():
    html = sanitize_email_html("<p>One</p><p>Two<br>Three</p><ul><li>a</li><li>b</li></ul>")
    assert html_to_text(html) == "One\n\nTwo\nThree\n\n- a\n- b"
