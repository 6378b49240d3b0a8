from types import SimpleNamespace

import pytest

from support.models import Article, ArticleStatus, ArticleVisibility, Category
from support.seed_knowledge import seed_knowledge
from support.selectors.knowledge import article_search

pytestmark = pytest.mark.django_db


def test_seed_builds_a_searchable_help_centre_once(agent):
    world = SimpleNamespace(agent_ids=[agent.pk])
    counts = seed_knowledge(world, seed=3)
    assert 38 <= counts["articles"] <= 45
    assert Category.objects.count() == 5
    assert Article.objects.filter(visibility=ArticleVisibility.INTERNAL).exists()
    assert Article.objects.filter(status=ArticleStatus.DRAFT).exists()
    assert any(a.is_stale for a in Article.objects.all())
    titles = [a.title for a in article_search(query="password", viewer_is_staff=False).rows]
    assert titles[0] == "Reset your password"
    assert seed_knowledge(world, seed=3) == {"articles": 0}
