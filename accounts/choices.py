from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    AGENT = "agent", "Support agent"
    CSM = "csm", "Customer success manager"
    CUSTOMER = "customer", "Customer"


STAFF_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CSM})


class TeamKind(models.TextChoices):
    SUPPORT = "support", "Support"
    SUCCESS = "success", "Customer success"
    ONBOARDING = "onboarding", "Onboarding"
    OTHER = "other", "Other"


class Tier(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    GROWTH = "growth", "Growth"
    STARTER = "starter", "Starter"


class LifecycleStage(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ADOPTION = "adoption", "Adoption"
    RENEWAL = "renewal", "Renewal"
    EXPANSION = "expansion", "Expansion"
    CHURNED = "churned", "Churned"


class HealthBand(models.TextChoices):
    GREEN = "green", "Healthy"
    YELLOW = "yellow", "At risk"
    RED = "red", "Red"
