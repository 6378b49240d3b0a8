import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from support.choices import EventKind, Status
from support.models import Article, ArticleStatus, ArticleVote, TicketArticleLink, TicketEvent
from support.selectors.knowledge import article_usefulness, articles_for_staff, articles_stale
from support.services import knowledge as services
from tests.factories import TicketFactory
from tests.support.knowledge_factories import make_article, make_section

pytestmark = pytest.mark.django_db


def test_article_save_renders_sanitised_html_and_makes_a_unique_slug(agent):
    section = make_section()
    first = services.article_save(
        section=section,
        title="Reset your password",
        body="**Bold** <script>alert(1)</script> [x](javascript:alert(1))",
        acting_user=agent,
    )
    second = services.article_save(
        section=section, title="Reset your password", body="Again.", acting_user=agent
    )
    assert first.slug == "reset-your-password"
    assert second.slug == "reset-your-password-2"
    assert "<strong>Bold</strong>" in first.body_html
    assert "<script>" not in first.body_html
    assert "javascript:" not in first.body_html
    assert first.status == ArticleStatus.DRAFT
    assert first.author == agent
    first.refresh_from_db()
    assert first.search_vector is not None


def test_article_save_refuses_bad_input_with_field_messages(agent):
    section = make_section()
    with pytest.raises(ValidationError) as error:
        services.article_save(section=section, title=" ", body="", acting_user=agent)
    assert set(error.value.message_dict) == {"title", "body"}
    make_article("Taken", slug="taken")
    with pytest.raises(ValidationError) as error:
        services.article_save(
            section=section, title="Other", body="Text", slug="taken", acting_user=agent
        )
    assert "slug" in error.value.message_dict
    with pytest.raises(ValidationError):
        services.article_save(
            section=section, title="Other", body="Text", slug="Not a slug!", acting_user=agent
        )


def test_editing_records_the_reviewer_and_keeps_the_first_publication_date(agent, manager):
    article = make_article("Exports", author=agent)
    published_at = article.published_at
    services.article_save(
        article=article, section=article.section, title="Exports", body="New", acting_user=manager
    )
    services.article_archive(article=article, acting_user=manager)
    services.article_publish(article=article, acting_user=manager)
    article.refresh_from_db()
    assert article.last_reviewer == manager
    assert article.author == agent
    assert article.published_at == published_at


def test_second_vote_by_the_same_visitor_replaces_the_first():
    article = make_article()
    services.article_vote(article=article, voter_key="visitor:abc", helpful=True)
    services.article_vote(article=article, voter_key="visitor:abc", helpful=False, comment="Old")
    services.article_vote(article=article, voter_key="user:7", helpful=True)
    votes = ArticleVote.objects.filter(article=article).order_by("voter_key")
    assert [(v.voter_key, v.helpful, v.comment) for v in votes] == [
        ("user:7", True, ""),
        ("visitor:abc", False, "Old"),
    ]


def test_votes_on_unpublished_articles_and_long_comments_are_refused():
    draft = make_article(status=ArticleStatus.DRAFT)
    with pytest.raises(services.KnowledgeError):
        services.article_vote(article=draft, voter_key="visitor:a", helpful=True)
    with pytest.raises(ValidationError):
        services.article_vote(
            article=make_article(), voter_key="visitor:a", helpful=True, comment="x" * 2001
        )


def test_usefulness_counts_solved_linked_tickets(agent):
    article = make_article()
    other = make_article()
    solved = TicketFactory(status=Status.SOLVED)
    closed = TicketFactory(status=Status.CLOSED)
    still_open = TicketFactory(status=Status.OPEN)
    for ticket in (solved, closed, still_open):
        services.ticket_article_link(ticket=ticket, article=article, acting_user=agent)
    # Linking twice keeps one link.
    services.ticket_article_link(ticket=solved, article=article, acting_user=agent)
    assert TicketArticleLink.objects.filter(article=article).count() == 3
    assert article_usefulness(article_ids=[article.pk, other.pk]) == {article.pk: 2, other.pk: 0}
    by_id = {a.pk: a.usefulness for a in articles_for_staff()}
    assert by_id == {article.pk: 2, other.pk: 0}
    assert services.ticket_article_unlink(ticket=solved, article_id=article.pk, acting_user=agent)
    assert not services.ticket_article_unlink(
        ticket=solved, article_id=article.pk, acting_user=agent
    )
    assert article_usefulness(article_ids=[article.pk]) == {article.pk: 1}


def test_linking_and_unlinking_write_one_ticket_event_each(agent, client_for):
    ticket = TicketFactory(status=Status.OPEN)
    article = make_article(title="Reset your password")
    version = ticket.version

    services.ticket_article_link(ticket=ticket, article=article, acting_user=agent)
    services.ticket_article_link(ticket=ticket, article=article, acting_user=agent)  # no-op
    services.ticket_article_unlink(ticket=ticket, article_id=article.pk, acting_user=agent)
    services.ticket_article_unlink(ticket=ticket, article_id=article.pk, acting_user=agent)

    events = list(
        TicketEvent.objects.filter(ticket=ticket, field="article")
        .order_by("pk")
        .values_list("kind", "actor", "old_value", "new_value")
    )
    assert events == [
        (EventKind.CHANGED, agent.pk, "", str(article.pk)),
        (EventKind.CHANGED, agent.pk, str(article.pk), ""),
    ]
    ticket.refresh_from_db()
    assert ticket.version == version  # an agent's open composer does not go stale

    # The ticket's history says who linked which article.
    page = client_for(agent).get(reverse("support:ticket-detail", args=[ticket.pk]))
    text = page.content.decode()
    assert f"{agent} linked the article “Reset your password”" in text
    assert f"{agent} unlinked the article “Reset your password”" in text


def test_a_failed_link_writes_no_event(agent):
    ticket = TicketFactory()
    with pytest.raises(services.KnowledgeError):
        services.ticket_article_link(
            ticket=ticket, article=make_article(status="draft"), acting_user=agent
        )
    assert not TicketEvent.objects.filter(ticket=ticket, field="article").exists()


def test_only_published_articles_can_be_linked(agent):
    with pytest.raises(services.KnowledgeError):
        services.ticket_article_link(
            ticket=TicketFactory(), article=make_article(status="draft"), acting_user=agent
        )


def test_stale_articles_are_listed_for_their_owner(agent, manager):
    import datetime

    today = datetime.date(2026, 6, 1)
    due = make_article("Due", author=agent, review_due=datetime.date(2026, 5, 1))
    make_article("Not yet", author=agent, review_due=datetime.date(2026, 7, 1))
    make_article("Someone else's", author=manager, review_due=datetime.date(2026, 5, 1))
    make_article("Draft", author=agent, review_due=datetime.date(2026, 5, 1), status="draft")
    assert list(articles_stale(owner=agent, today=today)) == [due]


# --- view counts (real Redis) -----------------------------------------------------------


@pytest.fixture
def views_redis():
    client = services._redis()
    keys = [services.VIEWS_KEY, services.VIEWS_FLUSHING_KEY, services.VIEWS_LOCK_KEY]
    client.delete(*keys)
    yield client
    client.delete(*keys)


def test_views_are_counted_in_redis_and_flushed_in_one_batch(views_redis):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, second = make_article(), make_article()
    for _ in range(3):
        services.article_view_record(article_id=first.pk)
    services.article_view_record(article_id=second.pk)
    assert Article.objects.get(pk=first.pk).views == 0  # no write per view
    with CaptureQueriesContext(connection) as queries:
        assert services.article_views_flush() == 2
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1
    assert "FROM (VALUES" in statements[0]
    assert dict(Article.objects.values_list("pk", "views")) == {first.pk: 3, second.pk: 1}
    # Running again finds nothing to add.
    assert services.article_views_flush() == 0
    assert Article.objects.get(pk=first.pk).views == 3
    services.article_view_record(article_id=first.pk)
    assert services.article_views_flush() == 1
    assert Article.objects.get(pk=first.pk).views == 4


def test_flush_skips_while_another_run_holds_the_lock(views_redis):
    article = make_article()
    services.article_view_record(article_id=article.pk)
    views_redis.set(services.VIEWS_LOCK_KEY, "1")
    assert services.article_views_flush() == 0
    views_redis.delete(services.VIEWS_LOCK_KEY)
    assert services.article_views_flush() == 1
    assert Article.objects.get(pk=article.pk).views == 1


def test_flush_finishes_a_batch_left_by_a_crashed_run(views_redis):
    article = make_article()
    views_redis.hset(services.VIEWS_FLUSHING_KEY, str(article.pk), 5)  # renamed, not applied
    services.article_view_record(article_id=article.pk)
    assert services.article_views_flush() == 1
    assert Article.objects.get(pk=article.pk).views == 5
    assert services.article_views_flush() == 1  # then the views counted since
    assert Article.objects.get(pk=article.pk).views == 6


def test_flush_task_runs_the_service(views_redis):
    from support.tasks import article_views_flush_task

    article = make_article()
    services.article_view_record(article_id=article.pk)
    assert article_views_flush_task.apply().get() == 1
    assert article_views_flush_task.apply().get() == 0
