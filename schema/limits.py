"""A bound on the activities one request may ask for, checked before anything executes.

The cost of a footprint grows with its activities: graphql-core coerces each one, strawberry
converts it, the engine computes a line, and a publish writes it to an immutable ledger.  A
resolver could count them only after that conversion, so `ActivityLimit` counts them in the
document and the variables instead, once per request, before execution starts: every
`footprint` and `publishFootprint` field (aliases included, so 1,600 aliased footprints count
1,600 times), and in each input the entries of its activity lists, whether written in the
query, passed as variables, or taken from a variable's default value.  Past
`RequestContext.max_activities` the request is refused whole with `LIMIT_EXCEEDED` and
nothing runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from graphql.language import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

FOOTPRINT_FIELDS = ("footprint", "publishFootprint")
ACTIVITY_LISTS = ("electricity", "freight", "flights", "purchases", "upstream")
DEFAULT_MAX_ACTIVITIES = 1000


def count_activities(document: Any, variables: dict[str, Any] | None) -> int:
    """Activities asked for by every footprint field of `document` (see the module doc)."""
    given = _Variables(variables or {}, _defaults(document))
    total = 0
    for node in _footprint_fields(document):
        for argument in node.arguments or ():
            if argument.name.value == "input":
                total += _in_input(argument.value, given)
    return total


@dataclass(frozen=True)
class _Variables:
    """The request's variables, and the defaults its operations declare for absent ones."""

    values: dict[str, Any]
    defaults: dict[str, list[ValueNode]]

    def count(self, name: str, of: Callable[[Any], int], of_node: Callable[[Any], int]) -> int:
        if name in self.values:
            return of(self.values[name])
        # An absent variable takes its default (the most of any operation declaring it).
        return max((of_node(node) for node in self.defaults.get(name, ())), default=0)


def _defaults(document: DocumentNode) -> dict[str, list[ValueNode]]:
    out: dict[str, list[ValueNode]] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                if variable.default_value is not None:
                    out.setdefault(variable.variable.name.value, []).append(variable.default_value)
    return out


def _footprint_fields(document: DocumentNode) -> Iterator[FieldNode]:
    """Every footprint field of every operation and fragment, each once, as written.

    A walk of the selection sets by hand: graphql-core's generic `visit` also enters every
    argument, value and directive, and took about 0.1 ms per README footprint, this 6 us."""
    pending = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode) and selection.name.value in FOOTPRINT_FIELDS:
                yield selection
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)


def _in_input(value: ValueNode, variables: _Variables) -> int:
    if isinstance(value, VariableNode):
        return variables.count(
            value.name.value,
            lambda given: (
                sum(_length(given.get(name)) for name in ACTIVITY_LISTS)
                if isinstance(given, dict)
                else 0
            ),
            lambda default: _in_input(default, variables),
        )
    if not isinstance(value, ObjectValueNode):
        return 0
    total = 0
    for field in value.fields:
        if field.name.value not in ACTIVITY_LISTS:
            continue
        if isinstance(field.value, VariableNode):
            total += variables.count(field.value.name.value, _length, _list_length)
        else:
            total += _list_length(field.value)
    return total


def _list_length(value: ValueNode) -> int:
    """Activities in a list written in the document (a default value, or a literal)."""
    if isinstance(value, ListValueNode):
        return len(value.values)
    # A single object where a list goes: GraphQL coerces it to a list of one.
    return 0 if isinstance(value, NullValueNode) else 1


def _length(value: object) -> int:
    if isinstance(value, list):
        return len(value)
    return 0 if value is None else 1


class ActivityLimit(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        limit = getattr(context.context, "max_activities", DEFAULT_MAX_ACTIVITIES)
        document = context.graphql_document
        if document is not None:
            asked = count_activities(document, context.variables)
            if asked > limit:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"this request asks for {asked} activities, more than the "
                            f"{limit} one request may; split it into several",
                            extensions={"code": "LIMIT_EXCEEDED", "limit": "max_activities"},
                        )
                    ],
                )
        yield
