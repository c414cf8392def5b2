"""The node catalogue: importing this package registers every node type.

`catalogue` maps node type -> NodeType (a graph.NodeSpec), ready for graph.validate().
"""

from collections.abc import Mapping

from . import fal, fal_custom, http_request, input, logic, output, replicate, utility  # noqa: F401  (each registers its types)
from .registry import REGISTRY, NodeType, all_types, catalogue_entry, get, register

catalogue: Mapping[str, NodeType] = REGISTRY

__all__ = ["REGISTRY", "NodeType", "all_types", "catalogue", "catalogue_entry", "get",
           "register"]
