"""Raw MIME → the facts the email channel needs. Pure: no database, no settings.

`parse_email(raw)` reads real-world mail without raising on bad input: the stdlib parser
with the modern policy first, the lenient `compat32` reading of any header the modern one
refuses, charsets decoded with fallbacks (an unknown charset becomes UTF-8 with
replacement characters), the text part preferred over HTML (HTML-only mail is sanitised
with nh3, then turned into text). Only input that is not mail at all raises
`EmailParseError`; the caller quarantines it.

`strip_quoted(text)` keeps what the sender wrote above (or, bottom-posted, below) the
quoted history and signature; the full text is kept beside it.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

import nh3

from .rendering import ALLOWED_ATTRIBUTES, ALLOWED_SCHEMES, ALLOWED_TAGS

MESSAGE_ID_MAX_LENGTH = 500


class EmailParseError(Exception):
    """The bytes are not a mail message; `str()` says why (kept as the quarantine reason)."""


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class ParsedEmail:
    message_id: str  # without angle brackets; synthesised from the bytes when missing
    in_reply_to: list[str]
    references: list[str]
    from_name: str
    from_address: str  # lower case; "" when the mail has no usable From
    to: list[str]
    cc: list[str]
    delivered_to: list[str]  # Delivered-To, X-Original-To: where the mailbox got it
    subject: str
    date: datetime | None
    auto_reply: str  # why this is an automatic message (auto-reply, bounce, bulk); "" if not
    body: str  # the full text, quoted history included
    reply: str  # the new text only
    html: str  # the sanitised HTML part, "" when there was none
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, nearest first (In-Reply-To, then References)."""
        ids = [*self.in_reply_to, *reversed(self.references)]
        return list(dict.fromkeys(ids))


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for mail without a Message-ID: the same bytes give the same id, so a
    second delivery is still recognised."""
    return f"sha256-{hashlib.sha256(raw).hexdigest()}@message-id.invalid"


# --- headers ----------------------------------------------------------------------------

_ID_RE = re.compile(r"<([^<>\s]+)>")
_ANGLE_ADDRESS_RE = re.compile(r"^(?P<name>.*)<(?P<address>[^<>\s@]+@[^<>\s]+)>\s*$", re.S)


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # undecodable encoded-words: show them as they came
        return value


class _Headers:
    """Header values as text, read leniently: the modern policy, else compat32's raw value."""

    def __init__(self, modern: Message, lenient: Message) -> None:
        self.modern = modern
        self.lenient = lenient

    def raw(self, name: str) -> str:
        value = self.lenient.get(name)
        if value is None:
            return ""
        return value if isinstance(value, str) else str(value)

    def text(self, name: str) -> str:
        try:
            value = self.modern.get(name)
            text = "" if value is None else str(value)
        except Exception:
            text = _decode_words(self.raw(name))
        return " ".join(text.split())

    def all_raw(self, name: str) -> list[str]:
        return [v if isinstance(v, str) else str(v) for v in self.lenient.get_all(name) or []]


def _message_ids(value: str) -> list[str]:
    found = _ID_RE.findall(value)
    if not found and value.strip():
        found = value.split()[:1]  # some clients leave the brackets off
    return [i[:MESSAGE_ID_MAX_LENGTH] for i in found]


def parse_address(value: str) -> tuple[str, str]:
    """(display name, address) of one raw address header value.

    "alice@example.com <bob@example.com>" is bob's address (the angle brackets decide,
    not the first thing that looks like an address); encoded display names are decoded
    after the split, so a comma inside one does not split the address.
    """
    value = " ".join(value.split())
    match = _ANGLE_ADDRESS_RE.match(value)
    if match:
        name, address = match["name"].strip(), match["address"]
    else:
        name, address = parseaddr(value)
    name = _decode_words(name).strip().strip('"').strip()
    address = address.strip().lower()
    if "@" not in address:
        address = ""
    return name, address


def _addresses(values: list[str]) -> list[str]:
    return [a.lower() for _, a in getaddresses(values) if "@" in a]


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# --- automatic mail ---------------------------------------------------------------------

_DAEMON_SENDERS = {"mailer-daemon", "postmaster"}


def auto_reply_reason(headers: _Headers, message: Message, from_address: str) -> str:
    """Why this mail was sent by a machine (we never open tickets for it or answer it)."""
    auto_submitted = headers.text("Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if headers.raw(name) and headers.text(name).lower() != "no":
            return f"{name} header"
    precedence = headers.text("Precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if message.get_content_type() == "multipart/report" or any(
        part.get_content_type() in {"message/delivery-status", "message/disposition-notification"}
        for part in message.walk()
    ):
        return "delivery status report (bounce)"
    if from_address.split("@", 1)[0] in _DAEMON_SENDERS:
        return f"sent by {from_address} (bounce)"
    if headers.raw("Return-Path").strip() == "<>":
        return "empty Return-Path (bounce)"
    return ""


# --- bodies -----------------------------------------------------------------------------


def _charset(name: str | None) -> str:
    name = (name or "").strip().strip('"').lower()
    # Mail clients label GB2312 text that uses GBK characters as GB2312; GBK is a superset.
    aliases = {
        "gb2312": "gbk",
        "x-gbk": "gbk",
        "ks_c_5601-1987": "cp949",
        "iso-8859-8-i": "iso-8859-8",
    }
    name = aliases.get(name, name) or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Text of `payload` in its declared charset; never raises.

    A declared charset Python does not know is read as UTF-8 with replacement characters;
    with none declared, UTF-8 is tried, then Windows-1252 (what undeclared 8-bit mail
    almost always is).
    """
    declared = (charset or "").strip()
    codec = _charset(declared)
    try:
        return payload.decode(codec)
    except UnicodeDecodeError:
        pass
    if codec != "utf-8":
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if not declared:
        return payload.decode("cp1252", errors="replace")
    return payload.decode(codec, errors="replace")


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", errors="replace")
        return b""
    return payload


def _part_text(part: Message) -> str:
    text = decode_bytes(_payload_bytes(part), part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return ""
    name = _decode_words(str(name))
    # Only the last path component, without control characters.
    name = re.split(r"[\\/]", name)[-1]
    return "".join(ch for ch in name if ch.isprintable()).strip()[:200]


def _disposition(part: Message) -> str:
    try:
        return part.get_content_disposition() or ""
    except Exception:
        return ""


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)


def _collect(part: Message, found: _Parts) -> None:
    content_type = part.get_content_type()
    if content_type in {"message/delivery-status", "message/rfc822-headers"}:
        return  # a bounce's machine-readable parts: the report says it all
    if part.get_content_maintype() == "multipart" or (
        part.is_multipart() and content_type != "message/rfc822"
    ):
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                _collect(sub, found)
        return
    filename = _filename(part)
    if content_type == "message/rfc822":
        inner = part.get_payload()
        content = (
            inner[0].as_bytes(policy=email.policy.compat32)
            if isinstance(inner, list) and inner and isinstance(inner[0], Message)
            else _payload_bytes(part)
        )
        found.attachments.append(
            ParsedAttachment(filename or "forwarded-message.eml", content_type, content)
        )
        return
    body_part = _disposition(part) != "attachment" and not filename
    if body_part and content_type == "text/plain":
        found.plain.append(_part_text(part))
    elif body_part and content_type == "text/html":
        found.html.append(_part_text(part))
    else:
        number = len(found.attachments) + 1
        extension = mimetypes.guess_extension(content_type) or ".bin"
        found.attachments.append(
            ParsedAttachment(
                filename or f"attachment-{number}{extension}",
                content_type[:255],
                _payload_bytes(part),
            )
        )


def _recover_boundary(message: Message, raw: bytes) -> Message | None:
    """A multipart whose declared boundary never occurs: re-read it with the boundary the
    body does use (spam kits and broken gateways produce these)."""
    body = message.get_payload()
    if message.get_content_maintype() != "multipart" or not isinstance(body, str):
        return None
    text = body
    match = re.search(r"^--(\S+?)\s*$", text, re.M)
    if not match:
        return None
    head, _, rest = raw.partition(b"\n\n")
    if not rest:
        head, _, rest = raw.partition(b"\r\n\r\n")
    boundary = match[1].encode("ascii", errors="ignore")
    head = re.sub(rb'boundary="?[^";\r\n]*"?', b'boundary="' + boundary + b'"', head, count=1)
    return email.message_from_bytes(head + b"\n\n" + rest, policy=email.policy.default)


# --- HTML → text ------------------------------------------------------------------------

_PARAGRAPH_TAGS = {"p", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
_BLOCK_TAGS = {"p", "div", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}


class _TextWriter(HTMLParser):
    """Sanitised HTML → plain text; blockquotes become "> " lines so quotes strip alike."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0
        self.pre = 0

    def _newline(self) -> None:
        self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self._newline()
        elif tag in _BLOCK_TAGS or tag == "blockquote" or tag == "hr":
            if self.lines[-1].strip():
                self._newline()
            if tag == "blockquote":
                self.quote_depth += 1
            if tag == "pre":
                self.pre += 1
        elif tag == "li":
            self._newline()
            self.lines[-1] = "- "
        elif tag == "td" and self.lines[-1].strip():
            self.lines[-1] += " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._newline()
        if tag in _PARAGRAPH_TAGS:
            self._newline()  # a blank line after a paragraph

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.lines[-1].strip():
                data = data.lstrip()
        chunks = data.split("\n")
        for index, chunk in enumerate(chunks):
            if index:
                self._newline()
            if chunk and self.quote_depth and not self.lines[-1].startswith(">"):
                self.lines[-1] = "> " * self.quote_depth + self.lines[-1]
            self.lines[-1] += chunk

    def text(self) -> str:
        lines = [line.rstrip().replace("\xa0", " ") for line in self.lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sanitize_email_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS | {"div"},
        clean_content_tags={"script", "style", "title", "head"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def html_to_text(html: str) -> str:
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.text()


# --- quoted history ---------------------------------------------------------------------

_WROTE_RE = re.compile(
    r"(wrote|writes|schrieb|a écrit|escribió|ha scritto|schreef|написал|написала|napisał)"
    r"\s*:\s*$",
    re.I,
)
# Where an attribution starts: "On ...", "Le ...", "Am ...", a date, "--- On ...".
_ATTRIBUTION_START_RE = re.compile(
    r"^\s*(-+\s*)?(On|Le|Am|El|Il|Op|W dniu)\s|^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", re.I
)
_ORIGINAL_RE = re.compile(
    r"^\s*-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|"
    r"Message d'origine|Mensaje original)\s*-{2,}\s*$",
    re.I,
)
_OUTLOOK_FROM_RE = re.compile(r"^\s*\*?(From|Von|De)\s*:\*?\s+\S", re.I)
_OUTLOOK_NEXT_RE = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Envoyé|To|Subject)\s*:", re.I)
_SIGNATURE_RE = re.compile(r"^-- ?$")


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() and not line.lstrip().startswith(">") for line in lines)


def _cut_at(lines: list[str]) -> int | None:
    """Index of the first line of quoted history or signature, if any, else None."""
    for index, line in enumerate(lines):
        if _SIGNATURE_RE.match(line) or _ORIGINAL_RE.match(line):
            return index
        if _WROTE_RE.search(line):
            start = index
            for back in range(index, max(-1, index - 3), -1):
                if _ATTRIBUTION_START_RE.match(lines[back]):
                    start = back
                    break
            return start
        if _OUTLOOK_FROM_RE.match(line) and any(
            _OUTLOOK_NEXT_RE.match(following) for following in lines[index + 1 : index + 4]
        ):
            return index
    return None


def strip_quoted(text: str) -> str:
    """The new text of a reply: without "> " quotes, attributions ("On ... wrote:"),
    "-----Original Message-----" and Outlook "From:/Sent:" blocks, and "-- " signatures.

    A marker above any new text (bottom-posting) is dropped and the reading goes on.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    rest = lines
    while rest:
        cut = _cut_at(rest)
        if cut is None:
            kept.extend(rest)
            break
        kept.extend(rest[:cut])
        if _has_text(kept):
            break
        # Nothing written yet: skip this marker (and what it introduces) and read on.
        rest = rest[cut + 1 :]
        while rest and _OUTLOOK_NEXT_RE.match(rest[0]):
            rest = rest[1:]
    reply = [line for line in kept if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in reply)).strip()


# --- the whole message ------------------------------------------------------------------


def parse_email(raw: bytes) -> ParsedEmail:
    """Everything the channel needs from one message; see the module docstring."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise EmailParseError("The message is empty.")
    raw = bytes(raw)
    try:
        modern = email.message_from_bytes(raw, policy=email.policy.default)
        lenient = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as error:  # the stdlib parser is lenient; this is truly broken input
        raise EmailParseError(f"The MIME structure cannot be read: {error!r}") from error
    if not lenient.keys():
        raise EmailParseError("The message has no header fields: it is not an email.")
    headers = _Headers(modern, lenient)

    body_message: Message = modern
    defects = [type(defect).__name__ for defect in modern.defects]
    recovered = _recover_boundary(modern, raw)
    if recovered is not None:
        body_message = recovered
        defects.append("boundary recovered")

    parts = _Parts()
    try:
        _collect(body_message, parts)
    except Exception as error:  # a part the modern policy chokes on: read it leniently
        defects.append(f"modern policy failed: {type(error).__name__}")
        parts = _Parts()
        _collect(lenient, parts)

    html = sanitize_email_html(parts.html[0]) if parts.html else ""
    if parts.plain:
        body = "\n\n".join(p.strip() for p in parts.plain if p.strip())
    elif html:
        body = html_to_text(html)
    else:
        body = ""

    from_name, from_address = parse_address(headers.raw("From"))
    message_ids = _message_ids(headers.raw("Message-ID"))
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else synthetic_message_id(raw),
        in_reply_to=_message_ids(headers.raw("In-Reply-To"))[:1],
        references=_ID_RE.findall(headers.raw("References"))[-50:],
        from_name=from_name[:150],
        from_address=from_address,
        to=_addresses(headers.all_raw("To")),
        cc=_addresses(headers.all_raw("Cc")),
        delivered_to=_addresses(
            [*headers.all_raw("Delivered-To"), *headers.all_raw("X-Original-To")]
        ),
        subject=headers.text("Subject"),
        date=_date(headers.raw("Date")),
        auto_reply=auto_reply_reason(headers, body_message, from_address),
        body=body.strip(),
        reply=strip_quoted(body),
        html=html,
        attachments=parts.attachments,
        defects=defects,
    )
