import pytest
from django.urls import reverse

from accounts.choices import Role
from support.models import Article, ArticleStatus
from tests.support.knowledge_factories import make_article, make_section

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user, client_for):
    return client_for(make_user(Role.ADMIN))


def form_data(section, **fields):
    data = {
        "section": section.pk,
        "title": "Connect Slack",
        "slug": "connect-slack",
        "body": "Open **Settings** <script>x</script>",
        "status": ArticleStatus.PUBLISHED,
        "visibility": "public",
        "tags": "slack,integration",
        "author": "",
        "review_due": "",
    }
    return data | fields


def test_admin_add_renders_indexes_and_publishes(admin_client):
    section = make_section()
    related = make_article("Connect Jira")
    response = admin_client.post(
        reverse("admin:support_article_add"), form_data(section, related=[related.pk])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get(slug="connect-slack")
    assert article.status == ArticleStatus.PUBLISHED
    assert article.published_at is not None
    assert "<strong>Settings</strong>" in article.body_html
    assert "<script>" not in article.body_html
    assert article.search_vector is not None
    assert article.tags == ["slack", "integration"]
    assert list(article.related.all()) == [related]


def test_admin_edit_and_archive(admin_client):
    article = make_article("Connect Slack", slug="connect-slack")
    url = reverse("admin:support_article_change", args=[article.pk])
    response = admin_client.post(
        url, form_data(article.section, body="New text", status=ArticleStatus.ARCHIVED)
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == ArticleStatus.ARCHIVED
    assert article.body_html == "<p>New text</p>"


def test_admin_lists_and_searches_articles(admin_client):
    make_article("Connect Slack")
    for name in ("article", "category", "section", "articlevote"):
        assert admin_client.get(reverse(f"admin:support_{name}_changelist")).status_code == 200
    response = admin_client.get(reverse("admin:support_article_changelist"), {"q": "slack"})
    assert "Connect Slack" in response.content.decode()
