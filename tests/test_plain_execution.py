"""schema/execution.py completes plain fields itself; every answer must stay graphql-core's.

Each query runs on two schemas built from the same strawberry types, one executing with
`PlainFieldsExecution` and one with strawberry's own execution context, over sources holding
every irregular value a plain field can meet: null for a non-null field, a value the scalar
refuses, an attribute that raises, an exception as the value, an awaitable, a list that is not
one or holds a null for a non-null item, and async resolvers below plain objects that fail.
The data and the errors (messages, paths, locations, in order) must be the same.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Annotated, Any

import pytest
import strawberry
from datachannels.schema import execution
from datachannels.schema.execution import PlainFieldsExecution, _Leaf, _List, _Object, from_context
from graphql import Undefined
from strawberry.scalars import JSON
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _scaled(leafy: Any, context: Any) -> Any:
    """A field computed from its object and the request's context (`from_context`)."""
    scale = leafy.scale
    if callable(scale):
        return scale()
    return scale * context["factor"] if type(scale) is int else scale


def _refuse() -> Any:
    raise RuntimeError("the computation raised")


class Fixed(StrawberryField):
    """A field class that resolves its own way, whatever the resolver says."""

    def get_result(self, source: Any, info: Any, args: Any, kwargs: Any) -> Any:
        return 999


@strawberry.type
class Leafy:
    number: int
    maybe: int | None
    colour: Colour
    ratio: float
    label: str
    flag: bool

    @strawberry.field
    @from_context(_scaled)
    def scaled(self, info: strawberry.Info) -> int:
        return _scaled(self, info.context)

    @strawberry.field
    @from_context(_scaled)
    def scaled_by(self, info: strawberry.Info, by: int) -> int:  # an argument: not computed
        return _scaled(self, info.context) * by

    @Fixed()
    @from_context(_scaled)
    def fixed(self, info: strawberry.Info) -> int:  # a field class of its own: not computed
        return _scaled(self, info.context)

    @strawberry.field
    async def later(self) -> int:
        if getattr(self, "fail_later", False):
            raise ValueError("later failed")
        return self.number


@strawberry.type
class Inner:
    name: str
    leafy: Leafy
    maybe_leafy: Leafy | None
    leafies: list[Leafy]
    maybe_leafies: list[Leafy | None] | None


class Source:
    """Stands in for a strawberry type's instance: any attribute, any value."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class Raising(Source):
    @property
    def leafy(self) -> Any:
        raise RuntimeError("the attribute raised")

    @property
    def name(self) -> Any:
        raise RuntimeError("the name raised")


class Awaiting(Source):
    @property
    def leafy(self) -> Any:
        async def later() -> Any:
            return good_leafy(5)

        return later()


def good_leafy(n: int, **overrides: Any) -> Source:
    values = {"number": n, "maybe": None, "colour": Colour.RED, "ratio": 0.5, "label": "a"}
    return Source(**{**values, "flag": False, "scale": 1, **overrides})


class Text(str):
    """A str that is not exactly one: String's coercion returns it, not the same object."""


def inner(**overrides: Any) -> Source:
    values = {
        "name": "ok",
        "leafy": good_leafy(1),
        "maybe_leafy": None,
        "leafies": [good_leafy(2), good_leafy(3, maybe=4, colour=Colour.BLUE)],
        "maybe_leafies": None,
    }
    return Source(**{**values, **overrides})


def sources() -> list[Any]:
    return [
        inner(),
        inner(leafy=good_leafy(None)),  # null for a non-null scalar, two objects down
        inner(leafy=good_leafy("x")),  # a value Int refuses
        inner(leafy=good_leafy(1, colour="green")),  # not an enum member
        inner(maybe_leafy=good_leafy(None)),  # bubbles to a nullable object
        inner(maybe_leafy=ValueError("an exception as the value")),
        inner(leafy=None),
        inner(leafies=None),
        inner(leafies=[good_leafy(1), None]),
        inner(leafies=7),  # not a list
        inner(maybe_leafies=[None, good_leafy(None), good_leafy(2)]),
        inner(leafy=good_leafy(3, fail_later=True)),
        inner(maybe_leafy=good_leafy(3, fail_later=True)),
        inner(leafies=[good_leafy(1, fail_later=True), good_leafy(2)]),
        # Scalars that the loop must not store as they are.
        inner(leafy=good_leafy(2**31)),  # past Int's 32 bits
        inner(leafy=good_leafy(True)),  # a bool as an Int
        inner(leafy=good_leafy(1, ratio=float("inf"))),
        inner(leafy=good_leafy(1, ratio=float("nan"), maybe=-(2**31))),
        inner(leafy=good_leafy(1, ratio=3, label=Text("sub"), flag=1)),
        inner(leafy=good_leafy(1, label=2.5, flag="yes")),
        # A field computed from the context: nulls, refusals, awaitables, exceptions.
        inner(leafy=good_leafy(1, scale=None), maybe_leafy=good_leafy(1, scale="x")),
        inner(leafy=good_leafy(1, scale=2**30), leafies=[good_leafy(1, scale=Lazy(3))]),
        inner(maybe_leafy=good_leafy(1, scale=_refuse), leafies=[good_leafy(1, scale=True)]),
        # Lists of objects as items: exceptions, awaitables, a tuple, items that fail.
        inner(leafies=(good_leafy(1), good_leafy(2))),
        inner(leafies=[good_leafy(1), ValueError("an exception as an item")]),
        inner(maybe_leafies=[ValueError("an exception as an item"), good_leafy(2)]),
        inner(maybe_leafies=[good_leafy(4, fail_later=True), None, good_leafy("y")]),
        inner(leafies=[good_leafy(1), Lazy(good_leafy(6))]),
        inner(maybe_leafies=[Lazy(None), Lazy(good_leafy(None)), good_leafy(8)]),
        inner(leafies=[good_leafy(None), Lazy(good_leafy(9))]),
        inner(leafies=[]),
        inner(leafies=[good_leafy(1), Undefined]),  # graphql-core's Undefined as an item
        inner(maybe_leafies=[Undefined, good_leafy(2)]),
        Raising(**{k: v for k, v in vars(inner()).items() if k not in ("leafy", "name")}),
        Awaiting(**{k: v for k, v in vars(inner()).items() if k != "leafy"}),
        None,
    ]


@strawberry.type
class Query:
    @strawberry.field
    def inners(self) -> list[Inner | None]:
        return sources()

    @strawberry.field
    async def first(self) -> Inner:
        return sources()[1]  # its non-null leafy fails: the error reaches the root


QUERIES = [
    "{ inners { name leafy { number maybe colour ratio label flag } maybeLeafy { number } } }",
    "{ inners { leafies { number colour } maybeLeafies { number maybe } } }",
    "{ inners { leafies { ratio label later } maybeLeafies { later ... on Leafy { number } } } }",
    (
        "{ inners { leafy { scaled fixed } maybeLeafy { scaled scaledBy(by: 2) } "
        "leafies { scaled } } }"
    ),
    "{ inners { leafy { later } maybeLeafy { later } leafies { later number } } }",
    "{ inners { __typename a: name b: name leafy { __typename n: number number } } }",
    "query($s: Boolean!) { inners { name @skip(if: $s) leafy @include(if: $s) { number } } }",
    "fragment L on Leafy { number colour } { inners { leafy { ...L } leafies { ...L maybe } } }",
    "{ inners { ... on Inner { maybeLeafy { ... on Leafy { maybe } } } } }",
    "{ first { name leafy { number } } }",
]


def _answers(cls: type | None) -> tuple[list[tuple[Any, list[Any]]], strawberry.Schema]:
    schema = strawberry.Schema(query=Query, execution_context_class=cls)
    out = []
    for query in QUERIES:
        result = asyncio.run(
            schema.execute(query, variable_values={"s": True}, context_value={"factor": 2})
        )
        out.append((result.data, [error.formatted for error in result.errors or []]))
    return out, schema


@pytest.mark.skipif(not execution.available(), reason="another graphql-core than 3.3")
def test_every_irregular_plain_value_answers_as_graphql_core_would() -> None:
    direct, schema = _answers(PlainFieldsExecution)
    general, _ = _answers(StrawberryGraphQLCoreExecutionContext)
    for query, mine, theirs in zip(QUERIES, direct, general, strict=True):
        assert mine == theirs, query
    messages = {e["message"] for _, errors in general for e in errors}
    # The irregular values were really met (the comparison is not of two clean answers).
    assert any("Cannot return null for non-nullable field" in m for m in messages)
    assert any("Int cannot represent" in m for m in messages)
    assert {"the attribute raised", "an exception as the value", "later failed"} <= messages
    # And the plain path really ran for each kind of field.
    kinds = {
        (kind.name, name): type(plan)
        for (kind, name), plan in execution.plans_of(schema._schema).items()
        if plan
    }
    assert kinds[("Inner", "leafy")] is _Object and kinds[("Leafy", "number")] is _Leaf
    assert kinds[("Inner", "leafies")] is _List and ("Leafy", "later") not in kinds
    scaled = execution.plans_of(schema._schema)[(schema._schema.type_map["Leafy"], "scaled")]
    assert isinstance(scaled, _Leaf) and scaled.compute is _scaled
    assert ("Leafy", "scaledBy") not in kinds and ("Leafy", "fixed") not in kinds
    assert "the computation raised" in messages


@pytest.mark.skipif(not execution.available(), reason="another graphql-core than 3.3")
def test_the_direct_paths_are_the_ones_taken() -> None:
    """The comparison above holds whichever path ran; this checks the direct ones did: lists
    of objects item by item, and a str stored without its scalar's coercion."""
    lists: list[str] = []

    class Counting(PlainFieldsExecution):
        def _items(self, plan: Any, *args: Any) -> Any:
            completed = super()._items(plan, *args)
            if completed is not Undefined:  # completed here, not handed back to graphql-core
                lists.append(plan.attribute)
            return completed

    schema = strawberry.Schema(query=Query, execution_context_class=Counting)
    query = "{ inners { leafies { label } } }"
    asyncio.run(schema.execute(query, context_value={"factor": 2}))
    # Most sources' lists (an irregular one may end in an error, which graphql-core reports).
    assert len(lists) >= len(sources()) // 2
    plans = execution.plans_of(schema._schema)
    key = (schema._schema.type_map["Leafy"], "label")
    label = plans[key]
    assert isinstance(label, _Leaf) and label.same is str
    coerced: list[Any] = []

    def counted(value: Any) -> Any:
        coerced.append(value)
        return label.coerce(value)

    plans[key] = label._replace(coerce=counted)
    result = asyncio.run(schema.execute("{ inners { leafy { label } } }"))
    labels = [inner["leafy"]["label"] for inner in result.data["inners"] if inner]
    assert "a" in labels and "sub" in labels
    assert coerced and all(type(value) is not str for value in coerced)  # Text("sub"), 2.5


# ------------------------------------------- values no plain read may take at face value


class NotFound(Exception):
    pass


@strawberry.type
class Found:
    n: int


@strawberry.type
class Missing:
    message: str


class Handler(strawberry.ExceptionHandler[NotFound, Missing]):
    def handle(self, exception: Exception, *, field: Any, info: Any) -> Missing:
        return Missing(message=f"handled: {exception}")


@strawberry.type
class Odd:
    text: str
    blob: JSON
    found: Found | None
    result: Annotated[Found | Missing, strawberry.union("Result")]


class Unfound(Source):
    @property
    def result(self) -> Any:
        raise NotFound("no such row")


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


class Lazy:
    """An awaitable that is no coroutine (as a DataLoader's future is not)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return self.value


@strawberry.type
class OddQuery:
    @strawberry.field
    async def odd(self) -> Odd:
        return Unfound(  # type: ignore[return-value]
            text=asyncio.ensure_future(_later("a task's text")),
            blob=Lazy({"a": 1}),
            found=Undefined,
        )


ODD_QUERIES = [
    "{ odd { text } }",
    "{ odd { blob } }",
    "{ odd { text blob } }",
    "{ odd { found { n } } }",
    "{ odd { result { __typename ... on Missing { message } } } }",
]


@pytest.mark.skipif(not execution.available(), reason="another graphql-core than 3.3")
def test_awaitables_undefined_and_exception_handlers_answer_as_graphql_core_would() -> None:
    """A scalar whose value is awaitable is awaited, not coerced (a task's repr is a string,
    and JSON takes anything); graphql-core's Undefined completes to null; a field whose
    exceptions a handler turns into a union member keeps strawberry's resolver."""

    def answers(cls: type | None) -> list[tuple[Any, list[Any]]]:
        schema = strawberry.Schema(
            query=OddQuery, execution_context_class=cls, exception_handlers=[Handler()]
        )
        out = []
        for query in ODD_QUERIES:
            result = asyncio.run(schema.execute(query))
            out.append((result.data, [error.formatted for error in result.errors or []]))
        return out

    general = answers(StrawberryGraphQLCoreExecutionContext)
    assert general[0][0] == {"odd": {"text": "a task's text"}}
    assert general[4][0] == {
        "odd": {"result": {"__typename": "Missing", "message": "handled: no such row"}}
    }
    for query, mine, theirs in zip(
        ODD_QUERIES, answers(PlainFieldsExecution), general, strict=True
    ):
        assert mine == theirs, query


def test_the_plans_of_a_schema_go_with_it() -> None:
    import gc
    import weakref

    schema = strawberry.Schema(query=OddQuery, execution_context_class=PlainFieldsExecution)
    asyncio.run(schema.execute("{ odd { text } }"))
    assert ("Odd", "text") in {(k.name, n) for k, n in execution.plans_of(schema._schema)}
    gone = weakref.ref(schema)
    del schema
    gc.collect()
    assert gone() is None
