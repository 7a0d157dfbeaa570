from channels.routing import URLRouter
from django.urls import path

from gateway.consumer import EngineIOConsumer

websocket_urlpatterns = [
    path("socket.io/", EngineIOConsumer.as_asgi()),
]

websocket_application = URLRouter(websocket_urlpatterns)
