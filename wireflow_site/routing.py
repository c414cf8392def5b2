from executions.routing import websocket_urlpatterns as execution_sockets

websocket_urlpatterns = [*execution_sockets]
