"""Terraform addresses by construct id, so that grouping resources into constructs does not move them.

cdktf's default address of a resource inside a construct is its construct path plus a hash
(`queues_queue_1A2B3C4D`): a state deployed from the flat stack would then plan to destroy and recreate
every resource, the tables with their alerts among them. Here an element's Terraform name is its own
construct id, which must therefore be unique within the stack.
"""

from __future__ import annotations

from lib.stack.bindings import Construct, Node, TerraformElement, TerraformStack


class AddressByIdStack(TerraformStack):
    def __init__(self, scope: Construct, stack_id: str) -> None:
        super().__init__(scope, stack_id)
        self._path_by_id: dict[str, str] = {}

    def _allocate_logical_id(self, tf_element: Node | TerraformElement) -> str:
        # cdktf asks with the node itself for assets, with the element for everything else.
        node = tf_element if isinstance(tf_element, Node) else tf_element.node
        first = self._path_by_id.setdefault(node.id, node.path)
        if first != node.path:
            # Raised inside a jsii callback: the caller sees a RuntimeError with this message.
            raise ValueError(f"{node.path} and {first} have one construct id, {node.id!r}: rename one")
        return node.id
