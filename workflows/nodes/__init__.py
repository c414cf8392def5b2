"""The node catalogue: importing this package registers every node type.

`catalogue` maps node type -> NodeType (a graph.NodeSpec), ready for graph.validate().
"""

from collections.abc import Mapping

# Import order is the palette's order within a category: the named image and video models
# first, then LLMs, speech and Stability, then the generic ones (any fal, Replicate or HTTP API).
# isort: off
from . import input, fal, llm, audio, stability  # noqa: F401  (each registers its types)
from . import fal_custom, replicate, http_request  # noqa: F401
from . import utility, logic, output  # noqa: F401
# isort: on
from .registry import REGISTRY, NodeType, all_types, catalogue_entry, get, register

catalogue: Mapping[str, NodeType] = REGISTRY

__all__ = ["REGISTRY", "NodeType", "all_types", "catalogue", "catalogue_entry", "get",
           "register"]
