from django.urls import path

from chat import views

urlpatterns = [
    path(
        "streams/<str:stream_id>/messages/",
        views.StreamMessageList.as_view(),
        name="stream-messages",
    ),
]
