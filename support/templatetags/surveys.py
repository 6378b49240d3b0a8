"""The CSAT panel on the agent's ticket page, fed by support.selectors.surveys."""

from django import template

from ..selectors.surveys import csat_for_ticket, csat_request_for_ticket

register = template.Library()


RATING_LABELS = {
    1: "Very dissatisfied",
    2: "Dissatisfied",
    3: "Neutral",
    4: "Satisfied",
    5: "Very satisfied",
}


@register.inclusion_tag("support/surveys/ticket_csat.html", takes_context=True)
def ticket_csat(context, ticket) -> dict:
    csat = csat_for_ticket(ticket=ticket)
    return {
        "request": context.get("request"),  # reltime shows times in the viewer's zone
        "ticket": ticket,
        "label": RATING_LABELS.get(csat.rating, "") if csat else "",
        "csat": csat,
        "csat_request": csat_request_for_ticket(ticket=ticket),
        "stars": range(1, 6),
    }
