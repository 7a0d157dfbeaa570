from django.urls import path

from web import views

urlpatterns = [
    path("", views.streams, name="web-streams"),
    path("login/", views.login, name="web-login"),
    path("watch/<uuid:stream_id>/", views.watch, name="web-watch"),
    path("studio/", views.studio, name="web-studio"),
]
