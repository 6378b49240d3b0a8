"""REST endpoints for the success data (usage, subscriptions, revenue events, success plans,
touchpoints, NPS answers), built on the API foundation in accounts.api."""
