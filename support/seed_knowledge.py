# ruff: noqa: E501, RUF001 — demo article text: long sentences and the UI's menu separator.
"""Demo help centre: categories, sections and ~40 articles about the product, with some
internal runbooks, drafts, stale articles (review overdue), votes, views and ticket links.

Deterministic for a seed. Articles go through `article_save` so their HTML and search
vectors are the real ones.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.seed import CrmWorld

from .choices import Status
from .models import (
    Article,
    ArticleStatus,
    ArticleVisibility,
    ArticleVote,
    Category,
    Section,
    Ticket,
    TicketArticleLink,
)
from .selectors.knowledge import articles_suggested
from .services.knowledge import article_publish, article_save

PUBLIC, INTERNAL = ArticleVisibility.PUBLIC, ArticleVisibility.INTERNAL
PUBLISHED, DRAFT = ArticleStatus.PUBLISHED, ArticleStatus.DRAFT


def _body(intro: str, steps: list[str], note: str = "") -> str:
    lines = [intro, "", "## Steps", ""]
    lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
    if note:
        lines += ["", f"> **Note:** {note}"]
    return "\n".join(lines)


# (category, description, [(section, [(title, body, visibility, status, tags)])])
HELP_CENTRE: list[tuple[str, str, list[tuple[str, list[tuple]]]]] = [
    (
        "Getting started",
        "Set up your workspace, invite your team and learn the basics.",
        [
            (
                "Your account",
                [
                    (
                        "Reset your password",
                        _body(
                            "Forgot your password? You can set a new one from the sign-in page in under a minute.",
                            [
                                "Open the sign-in page and click **Forgot password**.",
                                "Enter the email address you sign in with.",
                                "Open the email we send you and click the reset link (it works for 15 minutes).",
                                "Choose a new password of at least 12 characters.",
                            ],
                            "If no email arrives, check your spam folder or ask your workspace admin to send a new invitation.",
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["password", "login"],
                    ),
                    (
                        "Change the email address you sign in with",
                        _body(
                            "You can change your sign-in email from your profile.",
                            [
                                "Open the user menu and choose **Profile**.",
                                "Enter the new email address.",
                                "Confirm the change from the email we send to the new address.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["email", "profile"],
                    ),
                    (
                        "Turn on two-factor authentication",
                        _body(
                            "Two-factor authentication (2FA) protects your account with a code from an authenticator app.",
                            [
                                "Open **Profile › Security**.",
                                "Click **Enable 2FA** and scan the QR code with your authenticator app.",
                                "Enter the 6-digit code to confirm.",
                                "Store the recovery codes somewhere safe.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["security", "2fa", "login"],
                    ),
                    (
                        "Locked out after too many sign-in attempts",
                        _body(
                            "After ten failed sign-in attempts your account is locked for 15 minutes.",
                            [
                                "Wait 15 minutes and try again.",
                                "If you forgot your password, use **Forgot password** instead of guessing.",
                            ],
                            "Admins can unlock an account at once from **Settings › Users**.",
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["login", "password"],
                    ),
                ],
            ),
            (
                "Your team",
                [
                    (
                        "Invite teammates",
                        _body(
                            "Admins invite people by email and choose their role.",
                            [
                                "Open **Settings › Users** and click **Invite**.",
                                "Enter one email address per line and pick a role.",
                                "Click **Send invitations**; each invitation is valid for 7 days.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["users", "roles"],
                    ),
                    (
                        "Roles and permissions explained",
                        _body(
                            "Every user has one role: Admin, Manager, Agent or Viewer. The role decides which pages and actions they see.",
                            [
                                "Admins manage billing, users and settings.",
                                "Managers see reports and every team's work.",
                                "Agents work tickets in their teams' queues.",
                                "Viewers can read but not change anything.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["roles", "users"],
                    ),
                    (
                        "Remove a user who left the company",
                        _body(
                            "Deactivate the user rather than deleting them: their history stays attached to their work.",
                            [
                                "Open **Settings › Users** and find the person.",
                                "Click **Deactivate**.",
                                "Reassign their open work from the confirmation dialog.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["users", "offboarding"],
                    ),
                    (
                        "Onboarding checklist for new customers",
                        _body(
                            "What we walk a new customer through in the first 30 days.",
                            [
                                "Kick-off call: goals and success criteria.",
                                "SSO and user import.",
                                "First integration connected.",
                                "Admin training session.",
                                "30-day check-in with the CSM.",
                            ],
                        ),
                        INTERNAL,
                        PUBLISHED,
                        ["onboarding", "internal"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Account & billing",
        "Plans, invoices, payment methods and cancellations.",
        [
            (
                "Invoices and payments",
                [
                    (
                        "Download an invoice",
                        _body(
                            "Every invoice is available as a PDF from the billing page.",
                            [
                                "Open **Settings › Billing**.",
                                "Find the month in **Invoices**.",
                                "Click **Download PDF**.",
                            ],
                            "Invoices are issued on the first day of each billing period.",
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "invoice", "pdf"],
                    ),
                    (
                        "Update your payment method",
                        _body(
                            "Change the card or switch to bank transfer at any time.",
                            [
                                "Open **Settings › Billing › Payment method**.",
                                "Click **Replace card** and enter the new details.",
                                "The next invoice is charged to the new method.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "card"],
                    ),
                    (
                        "Add a VAT number or purchase order to invoices",
                        _body(
                            "Your VAT number and PO reference appear on every invoice issued after you add them.",
                            [
                                "Open **Settings › Billing › Invoice details**.",
                                "Enter the VAT number and, if needed, a PO reference.",
                                "Click **Save**.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "vat", "invoice"],
                    ),
                    (
                        "Why was my card declined?",
                        _body(
                            "Most declines come from the bank's fraud checks or an expired card.",
                            [
                                "Check that the card has not expired.",
                                "Ask your bank to allow payments to us.",
                                "Retry the payment from **Settings › Billing**.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "card", "payment"],
                    ),
                    (
                        "Issuing refunds and credit notes",
                        _body(
                            "Refunds need manager approval above 500 EUR. Credit notes are issued from the billing system, never by editing an invoice.",
                            [
                                "Confirm the amount with the account's CSM.",
                                "Create the credit note in the billing system.",
                                "Reply to the customer with the credit note number.",
                            ],
                        ),
                        INTERNAL,
                        PUBLISHED,
                        ["billing", "refund", "internal"],
                    ),
                ],
            ),
            (
                "Plans and subscriptions",
                [
                    (
                        "Change your plan",
                        _body(
                            "Upgrade or downgrade from the billing page; changes are prorated.",
                            [
                                "Open **Settings › Billing › Plan**.",
                                "Choose the new plan and click **Review change**.",
                                "Confirm: upgrades apply at once, downgrades at the end of the period.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "plan"],
                    ),
                    (
                        "Add or remove seats",
                        _body(
                            "Seats are billed monthly; removed seats are credited on the next invoice.",
                            [
                                "Open **Settings › Billing › Seats**.",
                                "Set the number of seats.",
                                "Click **Update**.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "seats"],
                    ),
                    (
                        "Cancel your subscription",
                        _body(
                            "You can cancel at any time; your workspace stays available until the end of the paid period.",
                            [
                                "Open **Settings › Billing › Plan**.",
                                "Click **Cancel subscription** and tell us why.",
                                "Export your data before the period ends if you need it.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["billing", "cancel"],
                    ),
                    (
                        "Annual plans and discounts",
                        _body(
                            "Annual plans cost the same as ten months. Volume discounts start at 50 seats.",
                            [
                                "Contact your account manager for a quote.",
                                "Sign the order form.",
                                "We switch the subscription on the agreed date.",
                            ],
                        ),
                        PUBLIC,
                        DRAFT,
                        ["billing", "plan"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Data & exports",
        "Import your data, export it, and keep it safe.",
        [
            (
                "Exports",
                [
                    (
                        "Export tickets to CSV",
                        _body(
                            "Any ticket list can be exported as CSV with the columns you see.",
                            [
                                "Open the queue and apply the filters you need.",
                                "Click **Export › CSV**.",
                                "We email you a download link when the file is ready (large exports take a few minutes).",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["export", "csv", "tickets"],
                    ),
                    (
                        "Export to Excel",
                        _body(
                            "Exports can also be downloaded as an Excel workbook (.xlsx).",
                            [
                                "Open the list you want.",
                                "Click **Export › Excel**.",
                                "Open the file in Excel or Google Sheets.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["export", "excel"],
                    ),
                    (
                        "Schedule a recurring export",
                        _body(
                            "Send a CSV export to an email address or an SFTP server every day or week.",
                            [
                                "Open **Settings › Exports** and click **New schedule**.",
                                "Choose the list, the format and the destination.",
                                "Pick the time and save.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["export", "schedule", "sftp"],
                    ),
                    (
                        "Export stuck at 'Preparing'",
                        _body(
                            "Very large exports can take up to 30 minutes. If it has been longer, the job may have failed.",
                            [
                                "Check **Settings › Exports › History** for an error.",
                                "Narrow the date range and try again.",
                                "Contact support with the export id if it fails again.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["export", "troubleshooting"],
                    ),
                    (
                        "Full account data export (GDPR)",
                        _body(
                            "Admins can request an archive of all workspace data.",
                            [
                                "Open **Settings › Data › Full export**.",
                                "Click **Request archive**.",
                                "Download the ZIP from the email we send (valid for 7 days).",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["export", "gdpr", "privacy"],
                    ),
                ],
            ),
            (
                "Imports and retention",
                [
                    (
                        "Import contacts from a CSV file",
                        _body(
                            "Bring your customers in from a spreadsheet.",
                            [
                                "Download the CSV template.",
                                "Fill in one contact per row; email is required.",
                                "Open **Contacts › Import** and upload the file.",
                                "Review the preview and confirm.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["import", "csv", "contacts"],
                    ),
                    (
                        "Data retention and deletion",
                        _body(
                            "Closed tickets are kept for 7 years unless your admin sets a shorter retention period.",
                            [
                                "Open **Settings › Data › Retention**.",
                                "Choose the period.",
                                "Data older than the period is deleted every night.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["privacy", "retention", "gdpr"],
                    ),
                    (
                        "Restoring deleted data for a customer",
                        _body(
                            "Backups are kept for 35 days. Restores need an engineering ticket and the customer's written request.",
                            [
                                "Open an ENG ticket with the workspace id and time range.",
                                "Attach the customer's request.",
                                "Tell the customer restores take two business days.",
                            ],
                        ),
                        INTERNAL,
                        PUBLISHED,
                        ["backup", "internal"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Security & SSO",
        "Single sign-on, user provisioning and security settings.",
        [
            (
                "Single sign-on",
                [
                    (
                        "Set up SSO with SAML",
                        _body(
                            "SAML single sign-on is available on the Business and Enterprise plans.",
                            [
                                "Open **Settings › Security › SSO**.",
                                "Copy our ACS URL and entity id into your identity provider.",
                                "Paste your provider's metadata URL.",
                                "Click **Test sign-in**, then **Enforce SSO**.",
                            ],
                            "Keep one admin able to sign in with a password until the test succeeds.",
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["sso", "saml", "security"],
                    ),
                    (
                        "Set up SSO with Okta",
                        _body(
                            "Use our app from the Okta Integration Network.",
                            [
                                "In Okta, add the **CX Platform** app.",
                                "Assign users or groups.",
                                "Copy the metadata URL into **Settings › Security › SSO**.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["sso", "okta"],
                    ),
                    (
                        "Set up SSO with Microsoft Entra ID (Azure AD)",
                        _body(
                            "Create an enterprise application in Entra ID and connect it with SAML.",
                            [
                                "Create a new enterprise application (non-gallery).",
                                "Set up SAML single sign-on with our ACS URL.",
                                "Download the federation metadata and upload it in **Settings › Security › SSO**.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["sso", "azure", "entra"],
                    ),
                    (
                        "Provision users automatically with SCIM",
                        _body(
                            "SCIM creates, updates and deactivates users from your identity provider.",
                            [
                                "Open **Settings › Security › SCIM** and generate a token.",
                                "Enter the SCIM URL and token in your identity provider.",
                                "Push groups to map them to teams.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["sso", "scim", "users"],
                    ),
                    (
                        "Troubleshooting SSO sign-in errors",
                        _body(
                            "The most common SAML errors and what they mean.",
                            [
                                "*Invalid audience*: the entity id in your provider does not match ours.",
                                "*Signature invalid*: the certificate changed; upload the new metadata.",
                                "*User not assigned*: assign the user to the app in your provider.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["sso", "saml", "troubleshooting"],
                    ),
                    (
                        "SSO escalation runbook",
                        _body(
                            "When a customer is locked out by SSO, we can turn enforcement off for 24 hours.",
                            [
                                "Verify the requester is a workspace admin.",
                                "Disable enforcement from the admin console and note it on the ticket.",
                                "Set a reminder to re-enable it.",
                            ],
                        ),
                        INTERNAL,
                        PUBLISHED,
                        ["sso", "internal", "escalation"],
                    ),
                ],
            ),
            (
                "Security settings",
                [
                    (
                        "Restrict sign-in to your IP addresses",
                        _body(
                            "Enterprise workspaces can allow sign-in from listed IP ranges only.",
                            [
                                "Open **Settings › Security › IP allow-list**.",
                                "Add your ranges in CIDR notation.",
                                "Save; people outside the ranges see an explanation.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["security", "ip"],
                    ),
                    (
                        "Audit log",
                        _body(
                            "Every sign-in, setting change and export is recorded in the audit log for one year.",
                            [
                                "Open **Settings › Security › Audit log**.",
                                "Filter by person, action or date.",
                                "Export the log as CSV if you need it.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["security", "audit"],
                    ),
                    (
                        "Security questionnaire answers",
                        _body(
                            "Standard answers for customer security reviews; send the SOC 2 report only under NDA.",
                            [
                                "Use the answer bank in the shared drive.",
                                "Ask security@ for anything not covered.",
                            ],
                        ),
                        INTERNAL,
                        PUBLISHED,
                        ["security", "internal", "soc2"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Integrations",
        "Connect CX Platform to the tools your team already uses.",
        [
            (
                "Apps",
                [
                    (
                        "Connect Slack",
                        _body(
                            "Get ticket notifications in Slack and create tickets from messages.",
                            [
                                "Open **Settings › Integrations › Slack** and click **Connect**.",
                                "Approve the permissions in Slack.",
                                "Choose the channels for each notification.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["slack", "integration"],
                    ),
                    (
                        "Connect Salesforce",
                        _body(
                            "Sync accounts and contacts with Salesforce every 15 minutes.",
                            [
                                "Open **Settings › Integrations › Salesforce**.",
                                "Sign in with a Salesforce admin user.",
                                "Map the fields and start the first sync.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["salesforce", "crm", "integration"],
                    ),
                    (
                        "Connect Jira",
                        _body(
                            "Link tickets to Jira issues and see their status on the ticket.",
                            [
                                "Open **Settings › Integrations › Jira**.",
                                "Enter your Jira site URL and authorise.",
                                "Use **Link Jira issue** on any ticket.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["jira", "integration"],
                    ),
                    (
                        "Connect HubSpot",
                        _body(
                            "Import companies and contacts from HubSpot.",
                            [
                                "Open **Settings › Integrations › HubSpot**.",
                                "Authorise the connection.",
                                "Pick which properties to import.",
                            ],
                        ),
                        PUBLIC,
                        DRAFT,
                        ["hubspot", "crm"],
                    ),
                ],
            ),
            (
                "API and webhooks",
                [
                    (
                        "Create an API token",
                        _body(
                            "API tokens authenticate scripts and integrations.",
                            [
                                "Open **Settings › API** and click **New token**.",
                                "Name it and choose its scopes.",
                                "Copy the token now: it is shown once.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["api", "token"],
                    ),
                    (
                        "API rate limits",
                        _body(
                            "The API allows 600 requests per minute per token. Responses carry `X-RateLimit-Remaining`.",
                            [
                                "Back off when you receive HTTP 429.",
                                "Retry after the number of seconds in `Retry-After`.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["api", "limits"],
                    ),
                    (
                        "Set up webhooks",
                        _body(
                            "Webhooks POST a JSON event to your URL when tickets change.",
                            [
                                "Open **Settings › Webhooks** and add your HTTPS URL.",
                                "Choose the events.",
                                "Verify the `X-Signature` header with your signing secret.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["webhooks", "api"],
                    ),
                    (
                        "Webhook deliveries failing",
                        _body(
                            "We retry failed deliveries for 24 hours, then disable the webhook.",
                            [
                                "Check **Settings › Webhooks › Deliveries** for the response code.",
                                "Make sure your endpoint answers within 10 seconds.",
                                "Re-enable the webhook once fixed.",
                            ],
                        ),
                        PUBLIC,
                        PUBLISHED,
                        ["webhooks", "troubleshooting"],
                    ),
                ],
            ),
        ],
    ),
]

STALE_TITLES = {
    "Connect Salesforce",
    "API rate limits",
    "Set up SSO with Okta",
    "Add a VAT number or purchase order to invoices",
    "Security questionnaire answers",
}
RELATED = {
    "Reset your password": [
        "Locked out after too many sign-in attempts",
        "Turn on two-factor authentication",
    ],
    "Export tickets to CSV": [
        "Export to Excel",
        "Schedule a recurring export",
        "Export stuck at 'Preparing'",
    ],
    "Set up SSO with SAML": [
        "Set up SSO with Okta",
        "Set up SSO with Microsoft Entra ID (Azure AD)",
        "Troubleshooting SSO sign-in errors",
    ],
    "Download an invoice": [
        "Add a VAT number or purchase order to invoices",
        "Update your payment method",
    ],
    "Set up webhooks": ["Webhook deliveries failing", "Create an API token"],
    "Change your plan": ["Add or remove seats", "Cancel your subscription"],
}


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def seed_knowledge(world: CrmWorld, *, seed: int) -> dict[str, int]:
    """Write the demo help centre (skipped when one exists); counts of what was written."""
    if Article.objects.exists():
        return {"articles": 0}
    # A reset empties the users, and with them the articles, but not the categories.
    Category.objects.all().delete()
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    authors = list(User.objects.filter(pk__in=world.agent_ids[:4])) or [None]
    articles: dict[str, Article] = {}
    for position, (name, description, sections) in enumerate(HELP_CENTRE):
        category = Category.objects.create(
            name=name, slug=_slug(name), position=position, description=description
        )
        for section_position, (section_name, rows) in enumerate(sections):
            section = Section.objects.create(
                category=category,
                name=section_name,
                slug=_slug(section_name),
                position=section_position,
            )
            for title, body, visibility, status, tags in rows:
                author = rng.choice(authors)
                review_due = today + timedelta(days=rng.randint(30, 300))
                if title in STALE_TITLES:
                    review_due = today - timedelta(days=rng.randint(3, 90))
                article = article_save(
                    section=section,
                    title=title,
                    body=body,
                    visibility=visibility,
                    tags=tags,
                    review_due=review_due,
                    acting_user=author,
                )
                if status == PUBLISHED:
                    article_publish(article=article, acting_user=author)
                articles[title] = article
    for title, others in RELATED.items():
        articles[title].related.set([articles[o] for o in others])
    published = [a for a in articles.values() if a.status == PUBLISHED]
    # Page views (as if flushed from Redis) and "Was this helpful?" votes.
    for article in published:
        Article.objects.filter(pk=article.pk).update(views=rng.randint(20, 4000))
    votes = []
    for article in published:
        for n in range(rng.randint(0, 25)):
            helpful = rng.random() < 0.78
            comment = (
                ""
                if helpful or rng.random() < 0.6
                else rng.choice(
                    [
                        "The screenshots do not match what I see.",
                        "Missing the step for admins.",
                        "Did not solve my problem.",
                        "Please add an example.",
                    ]
                )
            )
            votes.append(
                ArticleVote(
                    article=article,
                    voter_key=f"visitor:seed{seed}-{article.pk}-{n}",
                    helpful=helpful,
                    comment=comment,
                    created_at=now - timedelta(days=rng.randint(0, 180)),
                )
            )
    ArticleVote.objects.bulk_create(votes)
    # Agents linked articles to some solved tickets (usefulness).
    solved = list(
        Ticket.objects.filter(Q(status=Status.SOLVED) | Q(status=Status.CLOSED))
        .order_by("pk")
        .values_list("pk", "subject", "assignee_id")[:600]
    )
    # The article an agent would have found for the subject (a search per ticket).
    links = []
    for pk, subject, assignee in rng.sample(solved, k=min(len(solved), 250)):
        found = articles_suggested(text=subject, limit=1, public_only=False)
        if found:
            links.append(TicketArticleLink(ticket_id=pk, article=found[0], linked_by_id=assignee))
    TicketArticleLink.objects.bulk_create(links, ignore_conflicts=True)
    return {"articles": len(articles), "article_votes": len(votes), "article_links": len(links)}
