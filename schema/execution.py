"""Plain fields completed without graphql-core's resolver machinery.

A 100-activity footprint answers about 1,800 fields, nearly all of them plain attributes of
the result objects (a line's kgCO2e, its factor, the factor's unit).  For each, graphql-core
builds a resolve info and calls strawberry's resolver wrapper, which builds its own info,
converts the (absent) arguments and reads the attribute; then graphql-core completes the value
through a chain of calls that dispatch on its type.  A field that strawberry declares with no
resolver, no arguments, no extensions and no exception handlers (strawberry's bare
`_get_basic_result`) comes to reading the attribute, and this class does that directly
(`execute_fields` for the scalars, in its loop over a selection; `execute_field` for the rest):

* a scalar or enum field: read the attribute and call the type's `coerce_output_value`, as
  graphql-core's `complete_leaf_value` does (in the loop only for a str, int, float or bool:
  an enum member, an awaitable or graphql-core's Undefined goes the longer way below);
* an object field (a type with no `is_type_of`, so no check to make on the value): read the
  attribute and execute the sub-selection, as graphql-core's `complete_object_value` does;
* a list of such objects (`_items`): read the attribute and execute each item's selection,
  as graphql-core's `complete_iterable_value` does, without the five calls per item that lead
  there (a null, an exception or an awaitable as an item goes to graphql-core's own item
  completion);
* any other plain field: read the attribute and hand it to graphql-core's own
  `complete_value`, which skips only the resolver call.

A selection's fields are matched with their plans once per request (`_steps`: the 100 lines
of a footprint share one selection), and a str, bool, finite float or 32-bit int that
graphql-core's own scalar would return unchanged is stored without the call.

A scalar field whose resolver only computes a value from its object and the request's context
(`Provenance.blockNumber`) can say so with `from_context`; its value is then computed in
place of the attribute read, without strawberry's resolver machinery, and completed as a
plain field's.  Any other field with a resolver, arguments or extensions goes through
graphql-core's own `execute_field`.  A plain field's attribute is read once, whatever its
value; a value that is not simply one of the above (None or Undefined for a non-null field,
an exception, an awaitable, a value the type refuses) goes to graphql-core's own
`complete_value` or `complete_awaitable_value`, and every error raised while reading or
completing it (an attribute that raises, a non-null field below an object that is null) to
graphql-core's own `handle_field_error`.  So data, nulls, errors and paths stay exactly
graphql-core's; tests/test_plain_execution.py holds each of those cases.  Under `@defer` (a
position context) every field goes to graphql-core.  The plans are made once per schema, type
and field, and hold no value of any request.  These are graphql-core's own methods, not
documented hooks, so `available()` checks they are the ones this was written for, and the
schema uses this class only then.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from math import isfinite
from typing import Any, NamedTuple

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)
from graphql.pyutils import Path, Undefined, gather_with_cancel
from graphql.type.scalars import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    serialize_boolean,
    serialize_float,
    serialize_int,
    serialize_string,
)
from strawberry.types.field import StrawberryField

try:
    from graphql.execution.executor import Executor, to_nodes
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as _Base
except ImportError:  # another graphql-core or strawberry: schema/__init__.py uses the default
    from graphql.execution import ExecutionContext as _Base  # type: ignore[attr-defined,no-redef]

    Executor = None  # type: ignore[assignment,misc]
    to_nodes = None  # type: ignore[assignment]


class _Leaf(NamedTuple):
    attribute: str
    field: GraphQLField
    coerce: Callable[[Any], Any]
    # The type of value the scalar's coercion returns as it is (see `_UNCHANGED`), or None.
    same: type | None
    # For a field marked `from_context`: its value is compute(source, the request's context),
    # read in place of the attribute.
    compute: Callable[[Any, Any], Any] | None = None


class _Object(NamedTuple):
    attribute: str
    field: GraphQLField
    object_type: GraphQLObjectType


class _List(NamedTuple):
    """A list of objects of a type with no is_type_of: `[T]`, `[T!]`, `[T]!` or `[T!]!`."""

    attribute: str
    field: GraphQLField
    item_type: GraphQLObjectType | GraphQLNonNull[GraphQLObjectType]
    object_type: GraphQLObjectType


class _Value(NamedTuple):
    attribute: str
    field: GraphQLField


_Plan = _Leaf | _Object | _List | _Value | None
# A selection's fields with their plans, in answer order: (response name, plan, field group).
_Steps = tuple[tuple[str, _Plan, Any], ...]
_Plans = dict[tuple[GraphQLObjectType, str], _Plan]

# Per schema, (object type, field name) -> plan, or None for a field graphql-core executes
# itself.  Kept on the GraphQLSchema itself (graphql-core keeps its own caches there too), so
# the plans live exactly as long as the schema: strawberry's types refer back to their schema,
# so a cache kept anywhere else, even weakly keyed, would keep every schema alive.
_PLANS_ATTRIBUTE = "_datachannels_plain_plans"


_FROM_CONTEXT = "_datachannels_from_context"


def from_context(compute: Callable[[Any, Any], Any]) -> Callable[[Callable[..., Any]], Any]:
    """Mark a strawberry resolver of a scalar field with no arguments as computing
    `compute(self, info.context)` and nothing else: this class then calls `compute` with the
    request's context in place of strawberry's resolver machinery (graphql-core's and
    strawberry's info objects, argument conversion, the extension chain: many times what the
    value costs) and completes its value as a plain field's.  Only where strawberry would
    call the resolver plainly: a sync resolver, no extensions, under no resolving middleware;
    a scalar's field can meet no exception handler (those answer with a union member)."""

    def mark(resolver: Callable[..., Any]) -> Callable[..., Any]:
        setattr(resolver, _FROM_CONTEXT, compute)
        return resolver

    return mark


def plans_of(schema: GraphQLSchema) -> _Plans:
    """The plans made so far for `schema` (empty before its first execution)."""
    plans: _Plans | None = schema.__dict__.get(_PLANS_ATTRIBUTE)
    if plans is None:
        plans = {}
        setattr(schema, _PLANS_ATTRIBUTE, plans)
    return plans


# Values a scalar's coercion is tried on in the selection loop; any other (an enum member, an
# awaitable, graphql-core's Undefined) is completed by `_completed`.
_BUILTIN_SCALARS = frozenset((str, int, float, bool))

# graphql-core's coercions of its own scalars return a value of these types unchanged: a str
# as String, a bool as Boolean, a finite float as Float (`float(value)` of a float is itself),
# an int in 32 bits as Int (`int(value)`).  `execute_fields` then stores the value without the
# call; any other value (a subclass, an int past 32 bits, nan) goes to the coercion.
_UNCHANGED: dict[Any, type] = {
    serialize_string: str,
    serialize_boolean: bool,
    serialize_float: float,
    serialize_int: int,
}

# The graphql-core 3.3 methods used here, with the parameters they are called with.
_COMPLETING = ["return_type", "field_details_list", "info", "path", "result", "position_context"]
_SIGNATURES = {
    "execute_fields": [
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ],
    "settle_in_background": ["awaitables"],
    "execute_field": ["parent_type", "source", "field_details_list", "path", "position_context"],
    "complete_value": _COMPLETING,
    "complete_awaitable_value": _COMPLETING,
    "collect_and_execute_subfields": [
        "return_type",
        "field_details_list",
        "path",
        "result",
        "position_context",
    ],
    "handle_field_error": ["raw_error", "return_type", "field_details_list", "path"],
    "collect_subfields": ["return_type", "field_details_list"],
    # What `_items` completes a list in place of (and hands irregular items to).
    "complete_list_value": _COMPLETING,
    "complete_iterable_value": [
        "item_type",
        "field_details_list",
        "info",
        "path",
        "items",
        "position_context",
    ],
    "complete_object_value": _COMPLETING,
    "get_stream_usage": ["field_details_list", "path"],
    "complete_list_item_value": [
        "item",
        "complete_results",
        "item_type",
        "field_details_list",
        "info",
        "item_path",
        "position_context",
    ],
    "complete_awaitable_list_item_value": [
        "item",
        "item_type",
        "field_details_list",
        "info",
        "item_path",
        "position_context",
    ],
    "build_resolve_info": ["field_def", "field_nodes", "parent_type", "path"],
}


def available() -> bool:
    """Whether the executor is graphql-core 3.3's, whose `execute_fields` and `execute_field`
    this one stands in front of (not overridden by strawberry), with the methods it calls and
    the parameters it calls them with."""
    if Executor is None or not hasattr(Executor, "complete_leaf_value"):
        return False
    for name in ("execute_field", "execute_fields"):  # the ones stood in front of
        if getattr(_Base, name) is not getattr(Executor, name):
            return False
    for name, parameters in _SIGNATURES.items():
        method = getattr(_Base, name, None)
        if method is None or list(inspect.signature(method).parameters)[1:] != parameters:
            return False
    return True


class PlainFieldsExecution(_Base):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans = plans_of(self.schema)
        # This request's selections, by the identity of graphql-core's grouped field set (one
        # per selection and type: the 100 lines of a footprint share one), kept with it so
        # that its id is not reused while this execution lasts (as `collect_subfields` does).
        self._selections: dict[int, tuple[Any, _Steps]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, with a plain scalar field's value coerced in the loop:
        no path, no call and no awaitable check for the fields most answers are made of."""
        if position_context is not None or self._wrapped():
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for name, plan, field_details_list in self._steps(parent_type, grouped_field_set):
                if type(plan) is _Leaf:
                    try:
                        value = (
                            getattr(source_value, plan.attribute)
                            if plan.compute is None
                            else plan.compute(source_value, self.context_value)
                        )
                    except Exception as raw_error:  # noqa: BLE001  (a field error, as graphql-core's)
                        self.handle_field_error(
                            raw_error,
                            plan.field.type,
                            field_details_list,
                            Path(path, name, parent_type.name),
                        )
                        results[name] = None
                        continue
                    kind = type(value)
                    if kind is plan.same and (  # stored as graphql-core's coercion returns it
                        kind is str
                        or kind is bool
                        or (
                            isfinite(value)
                            if kind is float
                            else GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT
                        )
                    ):
                        results[name] = value
                        continue
                    tried = kind in _BUILTIN_SCALARS
                    if tried:
                        try:
                            coerced = plan.coerce(value)
                        except Exception:  # noqa: BLE001  (graphql-core's completion reports it)
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            results[name] = coerced
                            continue
                    result = self._completed(
                        plan,
                        value,
                        parent_type,
                        field_details_list,
                        Path(path, name, parent_type.name),
                        coerce=not tried,
                    )
                else:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, name, parent_type.name),
                        None,
                    )
                    if result is Undefined:
                        continue
                results[name] = result
                if self.is_awaitable(result):
                    pending.append(name)
        except Exception:
            if pending:  # settle what other fields started, as graphql-core does
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results
        return self._gathered(results, pending)

    def _steps(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Steps:
        """The selection's fields with their plans (None: a field with arguments, or one
        graphql-core executes itself), worked out once per request."""
        cached = self._selections.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        steps = tuple(
            (
                name,
                None
                if field_details_list[0].node.arguments
                else self._plan(parent_type, field_details_list[0].node.name.value),
                field_details_list,
            )
            for name, field_details_list in grouped_field_set.items()
        )
        self._selections[id(grouped_field_set)] = (grouped_field_set, steps)
        return steps

    async def _gathered(self, results: Any, pending: list[Any]) -> Any:
        """`results` (a dict of fields or a list of items) once its `pending` awaitables are
        settled, as graphql-core gathers them."""
        if len(pending) == 1:
            results[pending[0]] = await results[pending[0]]
        else:
            done = await gather_with_cancel(*(results[key] for key in pending))
            for key, value in zip(pending, done, strict=True):
                results[key] = value
        return results

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        plan = (
            self._plan(parent_type, node.name.value)
            if position_context is None and not node.arguments and not self._wrapped()
            else None
        )
        if plan is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        # As graphql-core's execute_field, with the attribute read in place of the resolver.
        try:
            compute = plan.compute if type(plan) is _Leaf else None
            value = (
                getattr(source, plan.attribute)
                if compute is None
                else compute(source, self.context_value)
            )
        except Exception as raw_error:  # noqa: BLE001  (a field error, as graphql-core's)
            self.handle_field_error(raw_error, plan.field.type, field_details_list, path)
            return None
        return self._completed(plan, value, parent_type, field_details_list, path)

    def _plan(self, parent_type: GraphQLObjectType, name: str) -> _Plan:
        key = (parent_type, name)  # graphql-core's types hash by identity
        plans = self._plans
        if key not in plans:
            plans[key] = _plan_of(parent_type, name)
        return plans[key]

    def _wrapped(self) -> bool:
        """Whether resolvers are wrapped (strawberry always passes a manager; it holds
        middleware only when an extension resolves), so every field must be resolved."""
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def _completed(
        self,
        plan: _Leaf | _Object | _List | _Value,
        value: Any,
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        coerce: bool = True,
    ) -> Any:
        """A plain field's value completed, as graphql-core completes a resolver's result
        (`coerce=False`: a scalar's coercion was tried already and refused the value)."""
        field_type = plan.field.type
        try:
            absent = value is None or value is Undefined  # both complete to null
            regular = not (absent or isinstance(value, Exception) or self.is_awaitable(value))
            completed: Any = Undefined
            if absent and not isinstance(field_type, GraphQLNonNull):
                return None
            if regular and isinstance(plan, _Leaf) and coerce:
                try:
                    coerced = plan.coerce(value)
                except Exception:  # noqa: BLE001  (graphql-core's completion below reports it)
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
            elif regular and isinstance(plan, _Object):
                completed = self.collect_and_execute_subfields(
                    plan.object_type, field_details_list, path, value, None
                )
            elif regular and isinstance(plan, _List) and type(value) in (list, tuple):
                completed = self._items(plan, value, parent_type, field_details_list, path)
            if completed is Undefined:  # anything irregular: graphql-core completes it
                info = self.build_resolve_info(
                    plan.field, to_nodes(field_details_list), parent_type, path
                )
                if self.is_awaitable(value):
                    return self.complete_awaitable_value(
                        field_type, field_details_list, info, path, value, None
                    )
                completed = self.complete_value(
                    field_type, field_details_list, info, path, value, None
                )
        except Exception as raw_error:  # noqa: BLE001  (a field error, as graphql-core's)
            self.handle_field_error(raw_error, field_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._settled(completed, field_type, field_details_list, path)
        return completed

    def _items(
        self,
        plan: _List,
        items: list[Any] | tuple[Any, ...],
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
    ) -> Any:
        """A list of objects completed as graphql-core's `complete_iterable_value` completes
        it, each regular item's selection executed directly: without the five calls per item
        that lead from graphql-core's `complete_list_item_value` to `execute_fields` (the
        selection is collected once, as graphql-core's `collect_subfields` memoises it).  A
        null (or graphql-core's Undefined), an exception or an awaitable as an item goes to
        graphql-core's own item completion.  Undefined when graphql-core must complete the
        whole list: under `@stream`, or when the selection defers something."""
        if any(details.node.directives for details in field_details_list):
            return Undefined  # perhaps @stream: graphql-core decides
        grouped_field_set, new_defer_usages, *_ = self.collect_subfields(
            plan.object_type, field_details_list
        )
        if new_defer_usages:
            return Undefined
        item_type, object_type = plan.item_type, plan.object_type
        is_awaitable = self.is_awaitable
        info = None
        completed: list[Any] = []
        pending: list[int] = []
        index = 0
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                if (
                    item is None
                    or item is Undefined
                    or isinstance(item, Exception)
                    or is_awaitable(item)
                ):
                    if info is None:
                        info = self.build_resolve_info(
                            plan.field, to_nodes(field_details_list), parent_type, path
                        )
                    if is_awaitable(item):
                        completed.append(
                            self.complete_awaitable_list_item_value(
                                item, item_type, field_details_list, info, item_path, None
                            )
                        )
                        pending.append(index)
                    elif self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, None
                    ):
                        pending.append(index)
                    continue
                try:
                    fields = self.execute_fields(
                        object_type, item, item_path, grouped_field_set, None
                    )
                except Exception as raw_error:  # noqa: BLE001  (as graphql-core's item completion)
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    completed.append(None)
                    continue
                if is_awaitable(fields):
                    completed.append(
                        self._settled(fields, item_type, field_details_list, item_path)
                    )
                    pending.append(index)
                else:
                    completed.append(fields)
        except Exception:
            # As graphql-core: what items started, and awaitable items not reached, are
            # settled in the background rather than left unawaited.
            started = [completed[i] for i in pending]
            started.extend(item for item in items[index + 1 :] if is_awaitable(item))
            if started:
                self.settle_in_background(started)
            raise
        if not pending:
            return completed
        return self._gathered(completed, pending)

    async def _settled(
        self, completed: Awaitable[Any], field_type: Any, field_details_list: Any, path: Any
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001  (a field error, as graphql-core's)
            self.handle_field_error(raw_error, field_type, field_details_list, path)
            return None


def _plan_of(parent_type: GraphQLObjectType, name: str) -> _Plan:
    """How to complete a plain field of strawberry's (an attribute, no resolver), else None."""
    field = parent_type.fields.get(name)
    if field is None or field.args:
        return None
    definition = (field.extensions or {}).get("strawberry-definition")
    if type(definition) is not StrawberryField:  # a subclass may resolve otherwise
        return None
    compute = _computed(field, definition)
    if compute is not None:
        return compute
    if not getattr(definition, "is_basic_field", False):
        return None
    # Strawberry's resolver for a basic field with nothing around it (no exception handlers,
    # which turn some exceptions into a union member, and no extensions).
    resolve = field.resolve
    if not getattr(resolve, "_is_default", False) or definition.is_async:
        return None
    if getattr(resolve, "__name__", "") != "_get_basic_result":
        return None
    if getattr(definition, "default_resolver", None) is not getattr:
        return None
    attribute = definition.python_name
    non_null = isinstance(field.type, GraphQLNonNull)
    inner = field.type.of_type if non_null else field.type
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        coerce = getattr(inner, "coerce_output_value", None)
        return None if coerce is None else _Leaf(attribute, field, coerce, _UNCHANGED.get(coerce))
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return _Object(attribute, field, inner)
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(object_type, GraphQLObjectType) and object_type.is_type_of is None:
            return _List(attribute, field, item_type, object_type)
    return _Value(attribute, field)


def _computed(field: GraphQLField, definition: Any) -> _Leaf | None:
    """The plan of a scalar field whose resolver is marked `from_context`, if strawberry would
    call that resolver plainly (its sync `_resolver`, no extensions), else None."""
    resolver = getattr(definition, "base_resolver", None)
    compute = getattr(getattr(resolver, "wrapped_func", None), _FROM_CONTEXT, None)
    if compute is None or definition.extensions or definition.is_async:
        return None
    if getattr(field.resolve, "__name__", "") != "_resolver":
        return None
    inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    coerce = getattr(inner, "coerce_output_value", None)
    if not isinstance(inner, GraphQLScalarType | GraphQLEnumType) or coerce is None:
        return None
    return _Leaf(definition.python_name, field, coerce, _UNCHANGED.get(coerce), compute)
