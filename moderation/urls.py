from django.urls import path

from moderation import views

prefix = "streams/<uuid:stream_id>/moderation/"

urlpatterns = [
    path(f"{prefix}bans/", views.BanList.as_view(), name="moderation-bans"),
    path(f"{prefix}bans/<int:user_id>/", views.BanDetail.as_view(), name="moderation-ban"),
    path(f"{prefix}slow-mode/", views.SlowModeView.as_view(), name="moderation-slow-mode"),
    path(f"{prefix}clear/", views.ClearChat.as_view(), name="moderation-clear"),
    path(
        f"{prefix}messages/<int:message_id>/",
        views.MessageDetail.as_view(),
        name="moderation-message",
    ),
    path(f"{prefix}blocked-terms/", views.BlockedTermList.as_view(), name="moderation-terms"),
    path(
        f"{prefix}blocked-terms/<int:term_id>/",
        views.BlockedTermDetail.as_view(),
        name="moderation-term",
    ),
    path(f"{prefix}moderators/", views.ModeratorList.as_view(), name="moderation-moderators"),
    path(
        f"{prefix}moderators/<int:user_id>/",
        views.ModeratorDetail.as_view(),
        name="moderation-moderator",
    ),
    path(f"{prefix}audit/", views.AuditList.as_view(), name="moderation-audit"),
]
