from django.urls import URLPattern

# WebSocket routes; each app appends its consumers here.
websocket_urlpatterns: list[URLPattern] = []
