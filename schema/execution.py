"""Plain scalar fields completed without graphql-core's per-field machinery.

A 100-activity footprint answers about 1,500 fields, nearly all of them plain attributes of
the result objects (a line's kgCO2e, a factor's unit).  For each, graphql-core builds a resolve
info, calls strawberry's resolver wrapper, which reads the attribute, and dispatches on the
return type to coerce it.  For a field that strawberry declares with no resolver, no arguments
and no extensions, and whose type is a scalar or enum, that comes to reading the attribute and
calling the type's `coerce_output_value`, which `execute_field` here does directly, as
graphql-core's `complete_leaf_value` would.  Anything else, and any value that is not simply
coercible (None for a non-null field, an exception, an attribute that raises, a value the type
refuses), goes through graphql-core's own `execute_field`, so errors, nulls and paths stay
exactly graphql-core's.  The plans are made once per (type, field) and hold no value of any
request.  graphql-core's `execute_field` is its own method, not a documented hook, so
`available()` checks it is the one this was written for, and the schema uses this class only
then.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from graphql.pyutils import Undefined

try:
    from graphql.execution.executor import Executor
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as _Base
except ImportError:  # another graphql-core or strawberry: schema/__init__.py uses the default
    from graphql.execution import ExecutionContext as _Base  # type: ignore[attr-defined,no-redef]

    Executor = None  # type: ignore[assignment,misc]

# (object type, field name) -> plan, or None for a field graphql-core completes itself.
_PLANS: dict[tuple[GraphQLObjectType, str], Any] = {}
_SIGNATURE = ["self", "parent_type", "source", "field_details_list", "path", "position_context"]


def available() -> bool:
    """Whether the executor is graphql-core 3.3's, whose `execute_field` this one stands in
    front of (same signature, not overridden by strawberry, leaves coerced as below)."""
    import inspect

    if Executor is None or not hasattr(Executor, "complete_leaf_value"):
        return False
    method = _Base.execute_field
    return (
        method is Executor.execute_field
        and list(inspect.signature(method).parameters) == _SIGNATURE
    )


class PlainFieldsExecution(_Base):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        # Strawberry always passes a manager; it wraps resolvers only if an extension resolves.
        manager = self.middleware_manager
        if not node.arguments and (manager is None or not manager.middlewares):
            plan = _plan(parent_type, node.name.value)
            if plan is not None:
                attribute, coerce, non_null = plan
                try:
                    value = getattr(source, attribute)
                except Exception:  # noqa: BLE001  (graphql-core reports it, below)
                    value = Undefined
                plain = value is not Undefined and not isinstance(value, Exception)
                if plain and value is not None:
                    try:
                        coerced = coerce(value)
                    except Exception:  # noqa: BLE001  (graphql-core reports it, below)
                        coerced = None
                    if coerced is not None and coerced is not Undefined:
                        return coerced
                elif plain and not non_null:  # None for a nullable field
                    return None
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _plan(parent_type: GraphQLObjectType, name: str) -> Any:
    key = (parent_type, name)  # graphql-core's types hash by identity
    if key not in _PLANS:
        _PLANS[key] = _plan_of(parent_type, name)
    return _PLANS[key]


def _plan_of(parent_type: GraphQLObjectType, name: str) -> Any:
    """(attribute, coerce, non-null) for a plain scalar field of strawberry's, else None."""
    field = parent_type.fields.get(name)
    if field is None or field.args:
        return None
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or not getattr(definition, "is_basic_field", False):
        return None
    if not getattr(field.resolve, "_is_default", False) or definition.is_async:
        return None
    if getattr(definition, "default_resolver", None) is not getattr:
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    leaf = field.type.of_type if non_null else field.type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    coerce = getattr(leaf, "coerce_output_value", None)
    if coerce is None:
        return None
    return definition.python_name, coerce, non_null
