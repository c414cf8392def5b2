from django.urls import path

from . import providers_views, team_views, usage_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("settings/", views.account, name="settings"),
    path("settings/teams/", views.teams, name="teams"),
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/usage/", usage_views.usage, name="usage"),
    path("settings/providers/", providers_views.providers, name="providers"),
    path("settings/providers/<int:team_id>/<str:provider>/", providers_views.provider_key_save,
         name="provider_key_save"),
    path("settings/providers/<int:team_id>/<str:provider>/remove/",
         providers_views.provider_key_remove, name="provider_key_remove"),
    path("teams/switch/", views.team_switch, name="team_switch"),
    # Settings > Team: the page shows the current team; each change names the team it acts on.
    path("settings/team/", team_views.team_settings, name="team_settings"),
    path("settings/team/<int:team_id>/invite/", team_views.invite, name="team_invite"),
    path("settings/team/<int:team_id>/invitations/<int:invitation_id>/resend/",
         team_views.invitation_resend, name="team_invitation_resend"),
    path("settings/team/<int:team_id>/invitations/<int:invitation_id>/revoke/",
         team_views.invitation_revoke, name="team_invitation_revoke"),
    path("settings/team/<int:team_id>/members/<int:user_id>/role/", team_views.member_role,
         name="team_member_role"),
    path("settings/team/<int:team_id>/members/<int:user_id>/remove/", team_views.member_remove,
         name="team_member_remove"),
    path("settings/team/<int:team_id>/leave/", team_views.leave, name="team_leave"),
    path("settings/team/<int:team_id>/rename/", team_views.rename, name="team_rename"),
    path("settings/team/<int:team_id>/transfer/", team_views.transfer, name="team_transfer"),
    path("settings/team/<int:team_id>/delete/", team_views.delete, name="team_delete"),
    path("invitations/<str:token>/", team_views.invitation, name="invitation"),
]
