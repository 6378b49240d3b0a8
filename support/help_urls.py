"""The public help centre, mounted at /help/ (no sign-in; support/views/knowledge.py)."""

from django.urls import path

from .views import knowledge

app_name = "help"
urlpatterns = [
    path("", knowledge.help_home, name="home"),
    path("search/", knowledge.help_search, name="search"),
    path("<slug:category_slug>/", knowledge.help_category, name="category"),
    path("<slug:category_slug>/<slug:article_slug>/", knowledge.help_article, name="article"),
    path(
        "<slug:category_slug>/<slug:article_slug>/vote/",
        knowledge.help_article_vote,
        name="article-vote",
    ),
]
