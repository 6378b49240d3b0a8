"""Attachments: stored through Django's storage, refused when empty or too large, and
always served as a download to staff only."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.choices import Role
from support import services
from support.models import Attachment
from tests.factories import ContactFactory, MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_ATTACHMENT_MAX_BYTES = 1024
    return tmp_path


@pytest.fixture
def ticket():
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    return ticket


def reply(client, ticket, body, *files, **extra):
    seen = ticket.messages.order_by("-pk").values_list("pk", flat=True)[0]
    return client.post(
        reverse("support:ticket-reply", args=[ticket.pk]),
        {
            "public": "1",
            "body": body,
            "seen_message_id": seen,
            "version": ticket.version,
            "attachments": list(files),
            **extra,
        },
    )


def composer_text(page: str) -> str:
    return re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', page, re.S).group(1).strip()


def test_reply_with_several_files_stores_them_and_lists_them(client_for, agent, ticket, media):
    response = reply(
        client_for(agent),
        ticket,
        "Both logs",
        SimpleUploadedFile("a.log", b"alpha", content_type="text/plain"),
        SimpleUploadedFile("b.log", b"beta!"),
    )
    assert response.status_code == 302
    stored = Attachment.objects.filter(message__ticket=ticket).order_by("filename")
    assert [(a.filename, a.size) for a in stored] == [("a.log", 5), ("b.log", 5)]
    assert all((media / a.file.name).exists() for a in stored)
    page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert "a.log" in page
    assert "b.log" in page


def test_too_large_file_is_a_400_with_message_and_the_text_kept(client_for, agent, ticket):
    response = reply(
        client_for(agent), ticket, "Here is the dump", SimpleUploadedFile("dump.bin", b"x" * 1025)
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "dump.bin (1,025 bytes) is over the 1,024 bytes limit for attachments." in page
    assert composer_text(page) == "Here is the dump"
    assert not Attachment.objects.exists()
    assert ticket.messages.count() == 1


def test_empty_file_is_a_400_with_message_and_the_text_kept(client_for, agent, ticket):
    response = reply(
        client_for(agent), ticket, "See attached", SimpleUploadedFile("nothing.txt", b"")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "nothing.txt is empty." in page
    assert composer_text(page) == "See attached"
    assert ticket.messages.count() == 1


def test_file_at_the_limit_is_accepted(client_for, agent, ticket):
    response = reply(
        client_for(agent), ticket, "Exactly", SimpleUploadedFile("edge.bin", b"x" * 1024)
    )
    assert response.status_code == 302
    assert Attachment.objects.get().size == 1024


def test_new_ticket_with_an_empty_file_is_a_400(client_for, agent):
    response = client_for(agent).post(
        reverse("support:ticket-create"),
        {
            "requester_email": "pat@x.test",
            "subject": "s",
            "body": "typed text",
            "priority": "normal",
            "type": "question",
            "channel": "phone",
            "attachments": [SimpleUploadedFile("zero.txt", b"")],
        },
    )
    assert response.status_code == 400
    assert "zero.txt is empty." in response.content.decode()
    assert "typed text" in response.content.decode()


def attachment_on(ticket, name="report.html", content=b"<script>alert(1)</script>"):
    message = services.ticket_customer_reply(
        ticket_id=ticket.pk,
        contact=ticket.requester,
        body="file",
        attachments=[SimpleUploadedFile(name, content, content_type="text/html")],
    )
    return message.attachments.get()


def test_download_is_an_attachment_never_rendered_inline(client_for, agent, ticket):
    attachment = attachment_on(ticket)
    response = client_for(agent).get(reverse("support:attachment-download", args=[attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="report.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_download_of_a_non_ascii_name_is_encoded(client_for, agent, ticket):
    attachment = attachment_on(ticket, name='résumé "final".pdf', content=b"%PDF")
    response = client_for(agent).get(reverse("support:attachment-download", args=[attachment.pk]))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''r%C3%A9sum%C3%A9" in disposition


def test_unknown_attachment_is_404(client_for, agent):
    response = client_for(agent).get(reverse("support:attachment-download", args=[999_999]))
    assert response.status_code == 404


def test_attachment_whose_file_is_gone_is_404(client_for, agent, ticket, media):
    attachment = attachment_on(ticket)
    (media / attachment.file.name).unlink()
    response = client_for(agent).get(reverse("support:attachment-download", args=[attachment.pk]))
    assert response.status_code == 404


def test_only_staff_may_download(client, client_for, make_user, ticket):
    attachment = attachment_on(ticket)
    target = reverse("support:attachment-download", args=[attachment.pk])
    customer = make_user(Role.CUSTOMER)
    ContactFactory(user=customer, email=customer.email)
    assert client_for(customer).get(target).status_code == 403
    assert client.get(target).status_code == 302
    for role in (Role.AGENT, Role.CSM, Role.MANAGER, Role.ADMIN):
        assert client_for(make_user(role)).get(target).status_code == 200
