from datetime import datetime

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None,
                         **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Logs in with an email address; works in one current team at a time."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    current_team = models.ForeignKey("Team", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()  # type: ignore[assignment,misc]

    def __str__(self) -> str:
        return self.email


class Plan(models.TextChoices):
    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class Team(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    created_at = models.DateTimeField(default=timezone.now)
    members: "models.ManyToManyField[User, Membership]" = models.ManyToManyField(
        User, through="Membership", related_name="teams")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False,
                             related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Invitation(models.Model):
    """An invitation to join a team with a role, sent by email. Only the SHA-256 hash of the
    link's token is stored; the link is single-use and expires (accounts/invitations.py)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False,
                             related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"


class ApiKey(models.Model):
    """An API key. Only its SHA-256 hash is stored; the full key is shown once at creation."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (sk-wf_…{self.last4})"

    @property
    def masked(self) -> str:
        return f"sk-wf_…{self.last4}"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def status(self) -> str:
        """active, expired or revoked; revocation wins because it is final."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired() else "active"


class CreditKind(models.TextChoices):
    GRANT = "grant"
    RESERVE = "reserve"
    CHARGE = "charge"
    RELEASE = "release"
    ADJUSTMENT = "adjustment"


class CreditAccount(models.Model):
    """A team's balance: the running sum of its ledger, updated in the same transaction as each
    entry, under this row's lock. Reading it is O(1); the CHECK makes the database itself refuse
    a negative balance."""

    team = models.OneToOneField(Team, primary_key=True, on_delete=models.CASCADE,
                                related_name="credit_account")
    balance = models.DecimalField(max_digits=16, decimal_places=4, default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(balance__gte=0),
                                              name="credit_balance_never_negative")]

    def __str__(self) -> str:
        return f"{self.team_id}: {self.balance}"


class CreditEntry(models.Model):
    """One line of a team's append-only credit ledger (1 credit = US$0.01); the balance is the
    sum of `amount`. Rows are only ever inserted: see accounts/credits.py for the design."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False,
                             related_name="credit_entries")
    amount = models.DecimalField(max_digits=12, decimal_places=4)
    kind = models.CharField(max_length=10, choices=CreditKind.choices)
    # No database constraint and no action on delete: the ledger is append-only and keeps
    # naming the execution after a workflow (and its executions) is deleted.
    execution = models.ForeignKey("executions.Execution", null=True, blank=True,
                                  on_delete=models.DO_NOTHING, db_constraint=False,
                                  related_name="credit_entries")
    node_id = models.CharField(max_length=200, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One reservation and one final release per execution, and one charge and one
            # release per node: a repeated write can never charge twice.
            models.UniqueConstraint(
                fields=["execution", "node_id", "kind"], name="one_ledger_entry_per_node_kind",
                condition=models.Q(kind__in=["reserve", "charge", "release"])),
        ]
        indexes = [models.Index(fields=["team", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} for {self.team_id}"


class Provider(models.TextChoices):
    FAL = "fal"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    REPLICATE = "replicate"
    STABILITY = "stability"


class ProviderKey(models.Model):
    """A team's own key for a model provider (bring your own). Only the sealed key is stored
    (workflows/secretbox.py); after saving, nothing but `last4` is ever shown."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False,
                             related_name="provider_keys")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    key_sealed = models.TextField()
    base_url = models.CharField(max_length=500, blank=True, default="")
    last4 = models.CharField(max_length=4)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "provider"],
                                               name="one_provider_key_per_team")]

    def __str__(self) -> str:
        return f"{self.provider} key of {self.team_id} (…{self.last4})"
