import pytest

from support.models import ArticleStatus, ArticleVisibility
from support.selectors.knowledge import QUERY_MAX_LENGTH, article_search, articles_suggested
from tests.support.knowledge_factories import make_article

pytestmark = pytest.mark.django_db


def titles(page_or_rows):
    rows = getattr(page_or_rows, "rows", page_or_rows)
    return [a.title for a in rows]


def test_title_match_ranks_above_body_match():
    make_article("Billing overview", "How invoices work. Nothing about logins.")
    make_article("Reset your password", "Open the sign-in page and follow the link.")
    make_article("Security settings", "Admins can force a password reset for everyone.")
    page = article_search(query="password", viewer_is_staff=False)
    assert titles(page) == ["Reset your password", "Security settings"]


def test_snippet_highlights_matches_and_escapes_article_markup():
    make_article(
        "Exports", "Download a CSV export. <script>alert(1)</script> Exports include & all fields."
    )
    (article,) = article_search(query="export", viewer_is_staff=False).rows
    assert "<mark>export</mark>" in article.snippet.lower()
    assert "<script>" not in article.snippet
    assert "&lt;script&gt;" in article.snippet
    assert "&amp;" in article.snippet


def test_websearch_syntax_excludes_words_and_matches_phrases():
    make_article("Export to CSV", "Export your tickets as a CSV file.")
    make_article("Export to Excel", "Export your tickets as an Excel workbook.")
    assert titles(article_search(query="export -excel", viewer_is_staff=False)) == ["Export to CSV"]
    assert titles(article_search(query='"excel workbook"', viewer_is_staff=False)) == [
        "Export to Excel"
    ]
    assert titles(article_search(query='"workbook excel"', viewer_is_staff=False)) == []


def test_internal_and_draft_articles_never_reach_customers():
    make_article("SSO internal runbook", "SSO debugging.", visibility=ArticleVisibility.INTERNAL)
    make_article("SSO draft", "SSO setup.", status=ArticleStatus.DRAFT)
    make_article("SSO archived", "SSO old.", status=ArticleStatus.ARCHIVED)
    make_article("Set up SSO", "SSO with SAML.")
    assert titles(article_search(query="sso", viewer_is_staff=False)) == ["Set up SSO"]
    assert sorted(titles(article_search(query="sso", viewer_is_staff=True))) == [
        "SSO internal runbook",
        "Set up SSO",
    ]
    assert titles(articles_suggested(text="sso")) == ["Set up SSO"]
    assert sorted(titles(articles_suggested(text="sso", public_only=False))) == [
        "SSO internal runbook",
        "Set up SSO",
    ]


def test_empty_and_very_long_queries_are_fine():
    make_article("Reset your password", "Steps.")
    assert article_search(query="   ", viewer_is_staff=False).rows == []
    long_query = "password " * 500
    assert len(long_query) > QUERY_MAX_LENGTH
    assert titles(article_search(query=long_query, viewer_is_staff=False)) == [
        "Reset your password"
    ]
    assert titles(article_search(query="\" - ' : * & | ! ()", viewer_is_staff=False)) == []


def test_search_pages_with_a_cursor():
    for n in range(5):
        make_article(f"Invoice question {n}", "invoice " * (n + 1))
    first = article_search(query="invoice", viewer_is_staff=False, size=2)
    second = article_search(
        query="invoice", viewer_is_staff=False, size=2, cursor=first.next_cursor
    )
    third = article_search(
        query="invoice", viewer_is_staff=False, size=2, cursor=second.next_cursor
    )
    seen = titles(first) + titles(second) + titles(third)
    assert sorted(seen) == [f"Invoice question {n}" for n in range(5)]
    assert third.next_cursor is None


def test_suggestions_match_a_half_typed_subject(django_assert_num_queries):
    make_article("Reset your password", "Use the forgot password link.")
    make_article("Billing overview", "Invoices.")
    with django_assert_num_queries(1):
        rows = articles_suggested(text="I can't reset my passw")
    assert titles(rows) == ["Reset your password"]
    assert rows[0].get_absolute_url().startswith("/help/")
    assert articles_suggested(text="pa") == []
    assert articles_suggested(text="!!!???") == []


def test_snippets_show_text_without_markup_gaps():
    make_article("Exports", "Click **Export** then [CSV](https://x.test). Done.\n\n- next step")
    (article,) = article_search(query="csv", viewer_is_staff=False).rows
    assert "Click Export then <mark>CSV</mark>. Done." in article.snippet
    assert "<strong>" not in article.snippet
