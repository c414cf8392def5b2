from ninja import Router

router = Router(tags=["workflows"])
nodes_router = Router(tags=["nodes"])
