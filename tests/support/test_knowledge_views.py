import pytest
from django.test import Client
from django.urls import reverse

from accounts.choices import Role
from support.models import ArticleStatus, ArticleVisibility, ArticleVote, TicketArticleLink
from support.services import knowledge as services
from tests.factories import TicketFactory
from tests.support.knowledge_factories import make_article, make_category, make_section

pytestmark = pytest.mark.django_db


@pytest.fixture
def centre():
    """Two categories; the first with a public, an internal, a draft and an archived article."""
    billing = make_category("Billing", slug="billing", description="Invoices and plans.")
    invoices = make_section(billing, "Invoices")
    public = make_article(
        "Download an invoice", "Open **Billing** and pick a month.", section=invoices
    )
    internal = make_article(
        "Refund runbook", "Staff only.", section=invoices, visibility=ArticleVisibility.INTERNAL
    )
    draft = make_article(
        "Draft invoice tips", "Soon.", section=invoices, status=ArticleStatus.DRAFT
    )
    archived = make_article(
        "Old invoices", "Gone.", section=invoices, status=ArticleStatus.ARCHIVED
    )
    public.related.set([internal, draft, make_article("Change plan", section=invoices)])
    make_article(
        "Set up SSO", "SAML.", section=make_section(make_category("Security", slug="security"))
    )
    return {"public": public, "internal": internal, "draft": draft, "archived": archived}


def article_url(article, category_slug="billing"):
    return reverse("help:article", args=[category_slug, article.slug])


# --- public pages -----------------------------------------------------------------------


def test_help_home_lists_categories_without_login(client, centre):
    response = client.get("/help/")
    assert response.status_code == 200
    assert b"Billing" in response.content
    assert b"Security" in response.content


def test_category_lists_only_public_published_articles(client, centre):
    response = client.get("/help/billing/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Download an invoice" in content
    for hidden in ("Refund runbook", "Draft invoice tips", "Old invoices"):
        assert hidden not in content


def test_article_page_shows_rendered_body_and_visible_related_only(client, centre):
    response = client.get(article_url(centre["public"]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<strong>Billing</strong>" in content
    assert "Change plan" in content
    assert "Refund runbook" not in content
    assert "Draft invoice tips" not in content
    assert "Was this article helpful?" in content
    assert response.cookies["cx_visitor"]["httponly"]


@pytest.mark.parametrize("name", ["internal", "draft", "archived"])
def test_internal_draft_and_archived_articles_are_404_in_public(client, centre, name, agent):
    assert client.get(article_url(centre[name])).status_code == 404
    # Even for a signed-in agent: the help centre is the public view.
    client.force_login(agent)
    assert client.get(article_url(centre[name])).status_code == 404


def test_unknown_slugs_are_404(client, centre):
    assert client.get("/help/nope/").status_code == 404
    assert client.get("/help/billing/nope/").status_code == 404
    assert client.get("/help/nope/nope/vote/").status_code == 405
    assert client.post("/help/billing/nope/vote/", {"helpful": "yes"}).status_code == 404


def test_article_under_another_category_redirects_to_its_address(client, centre):
    response = client.get(article_url(centre["public"], "security"))
    assert response.status_code == 301
    assert response["Location"] == article_url(centre["public"])


def test_help_pages_run_a_fixed_number_of_queries(client, centre, django_assert_max_num_queries):
    section = centre["public"].section
    for n in range(15):
        extra = make_article(f"Extra {n}", section=section)
        centre["public"].related.add(extra)
    with django_assert_max_num_queries(1):
        assert client.get("/help/").status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get("/help/billing/").status_code == 200
    client.get(article_url(centre["public"]))  # sets the visitor cookie
    with django_assert_max_num_queries(3):
        assert client.get(article_url(centre["public"])).status_code == 200
    with django_assert_max_num_queries(1):
        assert client.get("/help/search/?q=invoice").status_code == 200


def test_search_page_finds_public_articles_and_handles_bad_input(client, centre):
    response = client.get("/help/search/", {"q": "invoice month"})
    content = response.content.decode()
    assert "Download an invoice" in content
    assert "<mark>month</mark>" in content
    assert "Refund runbook" not in content
    empty = client.get("/help/search/", {"q": "  "})
    assert empty.status_code == 200
    assert "Type a few words" in empty.content.decode()
    assert client.get("/help/search/").status_code == 200
    long_query = client.get("/help/search/", {"q": "invoice " * 2000})
    assert long_query.status_code == 200
    nothing = client.get("/help/search/", {"q": "<b>zzz</b>"})
    assert "No articles match" in nothing.content.decode()
    assert "<b>zzz</b>" not in nothing.content.decode()
    damaged = client.get("/help/search/", {"q": "invoice", "cursor": "garbage!"})
    assert damaged.status_code == 400


# --- votes ------------------------------------------------------------------------------


def test_vote_needs_a_csrf_token(centre):
    client = Client(enforce_csrf_checks=True)
    url = reverse("help:article-vote", args=["billing", centre["public"].slug])
    assert client.post(url, {"helpful": "yes"}).status_code == 403
    page = client.get(article_url(centre["public"]))
    token = page.context["csrf_token"]
    response = client.post(
        url, {"helpful": "yes"}, HTTP_X_CSRFTOKEN=str(token), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert ArticleVote.objects.count() == 1


def test_a_visitor_voting_again_replaces_the_vote(client, centre):
    url = reverse("help:article-vote", args=["billing", centre["public"].slug])
    client.get(article_url(centre["public"]))
    first = client.post(url, {"helpful": "yes"}, HTTP_HX_REQUEST="true")
    assert "Thanks for your feedback" in first.content.decode()
    assert "<html" not in first.content.decode()  # the partial
    client.post(url, {"helpful": "no", "comment": "Missing the PDF step"}, HTTP_HX_REQUEST="true")
    vote = ArticleVote.objects.get()
    assert (vote.helpful, vote.comment) == (False, "Missing the PDF step")
    other_visitor = Client()
    other_visitor.post(url, {"helpful": "yes"})
    assert ArticleVote.objects.count() == 2


def test_signed_in_people_vote_as_themselves(client, centre, agent):
    client.force_login(agent)
    url = reverse("help:article-vote", args=["billing", centre["public"].slug])
    client.post(url, {"helpful": "yes"})
    assert ArticleVote.objects.get().voter_key == f"user:{agent.pk}"


def test_bad_votes_get_a_message_and_keep_the_comment(client, centre):
    url = reverse("help:article-vote", args=["billing", centre["public"].slug])
    response = client.post(url, {"helpful": "maybe", "comment": "my words"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Choose" in response.content.decode()
    assert "my words" in response.content.decode()
    too_long = client.post(url, {"helpful": "yes", "comment": "x" * 3000}, HTTP_HX_REQUEST="true")
    assert too_long.status_code == 400
    assert ArticleVote.objects.count() == 0
    internal = reverse("help:article-vote", args=["billing", centre["internal"].slug])
    assert client.post(internal, {"helpful": "yes"}).status_code == 404


def test_article_views_are_counted_in_redis_not_the_table(client, centre):
    client_redis = services._redis()
    client_redis.delete(services.VIEWS_KEY, services.VIEWS_FLUSHING_KEY, services.VIEWS_LOCK_KEY)
    client.get(article_url(centre["public"]))
    client.get(article_url(centre["public"]))
    assert client_redis.hget(services.VIEWS_KEY, str(centre["public"].pk)) == b"2"
    centre["public"].refresh_from_db()
    assert centre["public"].views == 0
    services.article_views_flush()
    centre["public"].refresh_from_db()
    assert centre["public"].views == 2


# --- staff ------------------------------------------------------------------------------


def test_kb_list_searches_internal_articles_and_lists_stale_ones(client_for, agent, centre):
    import datetime

    stale = make_article(
        "Old SSO notes",
        author=agent,
        review_due=datetime.date(2000, 1, 1),
        section=centre["public"].section,
    )
    client = client_for(agent)
    page = client.get(reverse("support:kb"))
    assert page.status_code == 200
    assert "Stale: review due" in page.content.decode()
    assert stale.title in page.content.decode()
    found = client.get(reverse("support:kb"), {"q": "refund"})
    assert "Refund runbook" in found.content.decode()
    assert (
        client.get(reverse("support:kb-article", args=[centre["internal"].slug])).status_code == 200
    )
    assert client.get(reverse("support:kb-article", args=[centre["draft"].slug])).status_code == 404


def test_kb_pages_are_for_staff_only(client, make_user, centre):
    assert client.get(reverse("support:kb")).status_code == 302
    client.force_login(make_user(Role.CUSTOMER))
    assert client.get(reverse("support:kb")).status_code == 403
    assert (
        client.get(reverse("support:kb-article", args=[centre["internal"].slug])).status_code == 403
    )
    ticket = TicketFactory()
    assert client.get(reverse("support:ticket-articles", args=[ticket.pk])).status_code == 403
    url = reverse("support:ticket-article-link", args=[ticket.pk])
    assert client.post(url, {"article": centre["public"].pk}).status_code == 403


def test_kb_list_runs_a_fixed_number_of_queries(
    client_for, agent, centre, django_assert_max_num_queries
):
    for n in range(10):
        make_article(f"More {n}", author=agent, section=centre["public"].section)
    client = client_for(agent)
    with django_assert_max_num_queries(6):
        assert client.get(reverse("support:kb")).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(reverse("support:kb"), {"q": "more"}).status_code == 200


def test_ticket_page_loads_the_article_panel(client_for, agent):
    ticket = TicketFactory()
    response = client_for(agent).get(reverse("support:ticket-detail", args=[ticket.pk]))
    assert response.status_code == 200
    assert reverse("support:ticket-articles", args=[ticket.pk]) in response.content.decode()


def test_agents_link_and_unlink_articles_on_a_ticket(
    client_for, agent, centre, django_assert_max_num_queries
):
    ticket = TicketFactory()
    client = client_for(agent)
    search = client.get(
        reverse("support:ticket-articles-search", args=[ticket.pk]), {"q": "refund"}
    )
    assert "Refund runbook" in search.content.decode()
    link_url = reverse("support:ticket-article-link", args=[ticket.pk])
    response = client.post(link_url, {"article": centre["public"].pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Download an invoice" in content
    # "Insert link" carries the public URL as Markdown for the composer.
    assert 'data-kb-insert="[Download an invoice](http' in content
    assert article_url(centre["public"]) in content
    client.post(link_url, {"article": centre["internal"].pk})
    assert TicketArticleLink.objects.filter(ticket=ticket).count() == 2
    with django_assert_max_num_queries(5):
        assert client.get(reverse("support:ticket-articles", args=[ticket.pk])).status_code == 200
    bad = client.post(link_url, {"article": centre["draft"].pk})
    assert bad.status_code == 400
    assert client.post(link_url, {"article": "x"}).status_code == 400
    unlink = reverse("support:ticket-article-unlink", args=[ticket.pk, centre["public"].pk])
    assert client.post(unlink).status_code == 200
    assert client.post(unlink).status_code == 200  # already gone: still fine
    assert list(TicketArticleLink.objects.values_list("article_id", flat=True)) == [
        centre["internal"].pk
    ]
    assert client.get(reverse("support:ticket-articles", args=[999999])).status_code == 404
