"""Request and response shapes of the team API (docs/api.md "Team and members"), camelCase."""

from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import BaseModel, Field, field_validator

from workflows.schemas import Timestamp

from .invitations import MAX_EMAIL_LENGTH
from .services import MAX_TEAM_NAME

RoleName = Literal["owner", "admin", "editor", "viewer"]
NAME_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"  # some visible character, no NUL


# Request bodies are plain pydantic models (see workflows/schemas.py for why).

class RoleIn(BaseModel):
    role: RoleName


class InvitationIn(BaseModel):
    email: str = Field(max_length=MAX_EMAIL_LENGTH, description="Lower-cased when stored")
    role: RoleName = Field(description="Admins may not invite owners")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError("not a valid email address") from None
        return value


class TeamRenameIn(BaseModel):
    name: str = Field(max_length=MAX_TEAM_NAME, pattern=NAME_PATTERN)


class TransferIn(BaseModel):
    userId: int = Field(ge=1, le=2**62, description="The member who becomes the owner")


class TeamDeleteIn(BaseModel):
    confirm: str = Field("", max_length=MAX_TEAM_NAME + 10,
                         description="The team's name, typed to confirm")


class TeamOut(Schema):
    id: int
    name: str
    slug: str
    plan: str
    role: str = Field(description="The caller's role in the team")
    memberCount: int


class MemberOut(Schema):
    userId: int
    email: str
    name: str = Field(description="The person's full name, else the part of their email "
                                  "before the @")
    role: str
    joinedAt: Timestamp


class MembersOut(Schema):
    members: list[MemberOut]


class InvitationCreatedOut(Schema):
    id: int
    email: str
    role: str
    expiresAt: Timestamp
    acceptUrl: str = Field(description="The single-use link, also emailed; shown only here")


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    expiresAt: Timestamp
    createdAt: Timestamp
    invitedBy: str | None = Field(description="The email of whoever last sent it")


class InvitationsOut(Schema):
    invitations: list[InvitationOut]
