"""The node catalogue: importing this package registers every node type.

`catalogue` maps node type -> NodeType (a graph.NodeSpec), ready for graph.validate().
"""

from collections.abc import Mapping

from . import (  # noqa: F401  (each registers its types)
    audio,
    fal,
    fal_custom,
    http_request,
    input,
    llm,
    logic,
    output,
    replicate,
    stability,
    utility,
)
from .registry import REGISTRY, NodeType, all_types, catalogue_entry, get, register

catalogue: Mapping[str, NodeType] = REGISTRY

__all__ = ["REGISTRY", "NodeType", "all_types", "catalogue", "catalogue_entry", "get",
           "register"]
