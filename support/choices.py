from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


# Tickets someone still has to act on (the backlog).
UNSOLVED = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
# What an agent may set by hand; `new` and `closed` are reached only by the rules.
AGENT_SETTABLE = (Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.LOW: 1, Priority.NORMAL: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class TicketType(models.TextChoices):
    QUESTION = "question", "Question"
    INCIDENT = "incident", "Incident"
    PROBLEM = "problem", "Problem"
    TASK = "task", "Task"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PORTAL = "portal", "Portal"
    API = "api", "API"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Field changed"
    REPLIED = "replied", "Public reply"
    NOTED = "noted", "Internal note"
    CUSTOMER_REPLIED = "customer_replied", "Customer reply"
    REOPENED = "reopened", "Reopened"
    MERGED = "merged", "Merged"
    MACRO = "macro", "Macro applied"
    SLA = "sla", "SLA due time moved"
    SLA_WARNING = "sla_warning", "SLA at risk"
    SLA_BREACH = "sla_breach", "SLA breached"


class SlaMetric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"


class SlaAlertKind(models.TextChoices):
    WARNING = "warning", "At risk"
    BREACH = "breach", "Breached"
