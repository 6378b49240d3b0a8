"""Demo NPS campaigns for seed_demo: quarterly relationship surveys over the last year, with
the seeded NPS answers (success.seed) linked to the campaign that was running when they
came in, and an invite for each answering contact. Set-based, and safe to run twice."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from .choices import NpsAudience
from .models import NPS_DEFAULT_QUESTION, NpsCampaign

# Days ago each quarterly campaign went out, oldest first.
_CAMPAIGN_DAYS_AGO = (365, 273, 182, 91)

_LINK_SQL = """
WITH windows AS (
    SELECT id, sent_at AS starts,
           lead(sent_at, 1, 'infinity') OVER (ORDER BY sent_at) AS ends,
           row_number() OVER (ORDER BY sent_at) AS n
    FROM success_npscampaign WHERE id = ANY(%(ids)s)
), matched AS (
    -- The campaign running when each answer came in (answers before the first: the first);
    -- a contact who answered twice in one quarter keeps only the later answer linked.
    SELECT r.id, w.id AS campaign_id,
           row_number() OVER (PARTITION BY w.id, r.contact_id
                              ORDER BY r.responded_at DESC, r.id DESC) AS latest
    FROM success_npsresponse r
    JOIN windows w ON r.responded_at < w.ends AND (r.responded_at >= w.starts OR w.n = 1)
    WHERE r.campaign_id IS NULL AND r.contact_id IS NOT NULL
), linked AS (
    UPDATE success_npsresponse r SET campaign_id = m.campaign_id
    FROM matched m WHERE r.id = m.id AND m.latest = 1
    RETURNING r.campaign_id, r.contact_id, r.account_id
)
INSERT INTO success_npssurveyinvite (campaign_id, contact_id, account_id, created_at, sent_at)
SELECT l.campaign_id, l.contact_id, l.account_id, c.sent_at, c.sent_at
FROM linked l JOIN success_npscampaign c ON c.id = l.campaign_id
ON CONFLICT (campaign_id, contact_id) DO NOTHING
"""


@transaction.atomic
def seed_nps_campaigns(*, now: datetime | None = None) -> dict[str, int]:
    """Four quarterly campaigns; the seeded answers linked to them. Writes nothing (and
    returns zero counts) when campaigns exist already."""
    if NpsCampaign.objects.exists():
        return {"nps_campaigns": 0, "nps_linked": 0}
    now = now or timezone.now()
    campaigns = []
    for days in _CAMPAIGN_DAYS_AGO:
        sent = timezone.make_aware(
            datetime.combine(timezone.localdate(now) - timedelta(days=days), time(9))
        )
        quarter = (sent.month - 1) // 3 + 1
        campaigns.append(
            NpsCampaign(
                name=f"Relationship NPS Q{quarter} {sent.year}",
                question=NPS_DEFAULT_QUESTION,
                audience=NpsAudience.ALL,
                created_at=sent - timedelta(days=2),
                sent_at=sent,
            )
        )
    NpsCampaign.objects.bulk_create(campaigns)
    with connection.cursor() as cursor:
        cursor.execute(_LINK_SQL, {"ids": [c.pk for c in campaigns]})
        linked = cursor.rowcount
    return {"nps_campaigns": len(campaigns), "nps_linked": max(linked, 0)}
