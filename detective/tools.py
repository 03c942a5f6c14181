"""Tools: the capabilities the Detective may call, and the adapters that make anything a Tool.

A Tool answers one :class:`~detective.models.Query` about one clip with a list of
:class:`~detective.models.Observation`. Each call is an *observer*: stateless, it sees the raw media and the
query only, never the Detective's reasoning or other observers' answers.
"""

from __future__ import annotations

import inspect
import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field, ValidationError

from detective.models import Aspect, Coverage, Evidence, MediaInfo, Modality, Observation, Query, TimeSpan, ToolSpec
from detective.threads import run_sync


class QuestionInput(BaseModel):
    """Arguments of a tool that answers a natural-language question, optionally about a span."""

    question: str = Field(description="What to ask about the clip.")
    start: float | None = Field(default=None, description="Start of the span to examine, in seconds.")
    end: float | None = Field(default=None, description="End of the span to examine, in seconds.")


class SpanInput(BaseModel):
    """Arguments of an analysis tool: an optional span of the clip (the whole clip when omitted)."""

    start: float | None = Field(default=None, description="Start of the span to analyse, in seconds.")
    end: float | None = Field(default=None, description="End of the span to analyse, in seconds.")


def validation_message(exc: ValidationError) -> str:
    """A pydantic error in one line per problem: ``field: message (got value)``, without pydantic's links."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "arguments"
        got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        parts.append(f"{where}: {err.get('msg', 'invalid')}{got}")
    return "; ".join(parts)


class ToolError(RuntimeError):
    """An observer could not answer: the message names the tool and the cause."""


class ObserverTimeout(ToolError):
    """An observer gave no answer within the run's ``observer_timeout``: the message names the tool and the clip."""


class ToolUnavailable(ToolError):
    """The tool cannot answer anything this run (its model cannot take its input): the message is the whole
    reason, recorded as it is, without the clip's path or an exception name."""


#: Guards the creation of a tool instance's setup lock (replaced in a forked child, see :func:`_fresh_guard`).
_setup_guard = threading.Lock()


def _fresh_guard() -> None:
    global _setup_guard
    _setup_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_guard)


class _SetupState:
    """Whether a tool instance is set up in the process ``pid``; its lock makes concurrent first calls wait."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.done = False


class Tool:
    """Base class of every tool. Subclasses set the class attributes and implement :meth:`observe`.

    ``observe`` may be a coroutine function or a plain function; plain functions run in a daemon worker thread of
    their own (:func:`detective.threads.run_sync`), so CPU-bound models (OCR, ASR) do not block the event loop, and
    a call that never returns is abandoned at the observer timeout without holding up the run or the exit.

    A tool that loads a model does it in :meth:`setup`, which runs once per tool instance per process before the
    instance's first observation (:meth:`aobserve` sees to it, within the observer's deadline).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    input_model: ClassVar[type[BaseModel]] = SpanInput
    modalities: ClassVar[tuple[Modality, ...]] = ()
    version: ClassVar[str] = "0"
    #: True for tools whose answers depend on an LLM's question; the RulePlanner asks such tools only when asked.
    asks_questions: ClassVar[bool] = False
    #: True for tools that call a remote model; they join the tool box only when an endpoint is configured.
    needs_api: ClassVar[bool] = False
    #: The settings role whose endpoint a ``needs_api`` tool calls.
    role: ClassVar[str] = "observer"
    #: Inputs its model must take (``audio``, ``image``, ``video``): when the role's model turns out unable to take
    #: one, the tool is unavailable for the rest of the run (see :mod:`detective.llm.capabilities`).
    model_inputs: ClassVar[tuple[str, ...]] = ()
    #: RulePlanner ordering: stage 0 tools run in the first broad pass, stage 1 tools after it (they can use the
    #: first pass's evidence, e.g. OCR on shot keyframes).
    stage: ClassVar[int] = 0
    #: For a stage-1 tool: the aspects of the first pass its broad queries build on (``("shots",)`` for OCR on shot
    #: keyframes). When every later tool names its needs, the RulePlanner's first round runs only the stage-0 tools
    #: covering them, and the others join the second round, working alongside the tools that had to wait. Empty:
    #: the tool builds on the whole first pass.
    needs: ClassVar[tuple[Aspect, ...]] = ()
    #: Rough CPU seconds a broad pass spends per second of clip (``benchmarks/observers.py`` measures it). The
    #: RulePlanner starts a round's costliest local queries first (after the remote ones, which mostly wait), so
    #: the longest observer is not the last to start. 0: unknown.
    cost: ClassVar[float] = 0.0
    #: What a successful run that reports nothing rules out over its span (``text`` for OCR, ``speech`` for ASR,
    #: ``sound`` for signal analysis …). Captions state absence only under such coverage; the default vouches
    #: for nothing, so a tool that answers questions never makes "there is none" true by its silence.
    covers: ClassVar[tuple[Aspect, ...]] = ()
    #: True when the tool works from a clip's http(s) URL as well as from a local copy: it hands the URL to its
    #: model, or reads what it needs as a stream. When every tool of a run does, a clip given by URL is probed over
    #: the network and never downloaded whole (see :func:`detective.media.aopen_media`).
    reads_url: ClassVar[bool] = False

    def broad_queries(self, media: MediaInfo, evidence: Evidence) -> list[Query]:
        """The queries of this tool's broad pass over the clip (RulePlanner). Default: the whole clip once."""
        if self.asks_questions:
            kind = "video" if media.has_video else "audio clip"
            return [Query(tool=self.name, question=f"Describe the {kind} in as much detail as possible.")]
        return [Query(tool=self.name)]

    def recheck_queries(self, media: MediaInfo, evidence: Evidence, span: TimeSpan, claims: list[str]) -> list[Query]:
        """Queries that re-examine ``span`` where sources disagree or are unsure (RulePlanner).

        Default: question tools are asked which of the ``claims`` is right; analysis tools re-run on the span.
        """
        if self.asks_questions:
            options = " or ".join(f"“{c}”" for c in claims) if claims else "what is there"
            question = (
                f"Between {span.start:.2f}s and {span.end:.2f}s, which is correct: {options}? "
                "Answer only from what you perceive, and say if it is none of them."
            )
            return [Query(tool=self.name, question=question, span=span)]
        return [Query(tool=self.name, span=span)]

    def spec(self) -> ToolSpec:
        """The planner-facing description of this tool (built once: planners ask for it every round)."""
        cached = self.__dict__.get("_spec")
        if cached is None:
            cached = self.__dict__["_spec"] = self._build_spec()
        return cached

    def _build_spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name,
            description=self.description,
            parameters=self.input_model.model_json_schema(),
            modalities=list(self.modalities),
            version=self.version,
        )

    @staticmethod
    def span_of(media: MediaInfo, query: Query, args: BaseModel | None = None) -> TimeSpan:
        """The span a query asks about, clipped to the clip.

        ``start``/``end`` in the validated arguments win over ``query.span``; the whole clip by default.
        """
        arg_start = getattr(args, "start", None)
        arg_end = getattr(args, "end", None)
        start = arg_start if arg_start is not None else (query.span.start if query.span else 0.0)
        end = arg_end if arg_end is not None else (query.span.end if query.span else media.duration)
        start = min(max(0.0, start), media.duration)
        return TimeSpan(start=start, end=max(start, min(end, media.duration)))

    def invalid_arguments(self, query: Query) -> str | None:
        """Why ``query``'s arguments do not fit this tool's :attr:`input_model`, in words a planner can act on
        (``threshold: Input should be greater than or equal to 1``), or ``None`` when they fit.

        The query's ``question`` and span count as the ``question``/``start``/``end`` arguments where the model
        has those fields. Checked before a query runs, so a bad argument goes back to the planner that chose it
        and never becomes an observer failure.
        """
        fields = self.input_model.model_fields
        args = dict(query.arguments)
        if query.question is not None and "question" in fields:
            args.setdefault("question", query.question)
        if query.span is not None and "start" in fields:
            args.setdefault("start", query.span.start)
            args.setdefault("end", query.span.end)
        try:
            self.input_model.model_validate(args)
        except ValidationError as exc:
            return validation_message(exc)
        return None

    def applies_to(self, media: MediaInfo) -> bool:
        """True when the clip has every modality this tool needs."""
        return set(self.modalities) <= media.modalities

    async def prepare(self, media: MediaInfo) -> None:
        """Optional warm-up, started when a clip's investigation begins and run while the planner thinks.

        Decode or fetch here what :meth:`observe` will need, into a cache that ``observe`` consults (for example
        :func:`detective.media.awav_data_url`), so the first observation does not wait for it. A failure here is
        ignored: ``observe`` meets the same problem and reports it. Default: nothing.
        """

    def setup(self) -> None:
        """Load what :meth:`observe` needs (models, inference sessions), once per tool instance per process.

        Called by :meth:`ready` before the instance's first observation in each process (a forked worker, a Ray
        actor), in a worker thread and within the observer's deadline (``observer_timeout``): a plain function, it
        may block. Concurrent first observations wait for the one setup; one that raises fails that observation as
        the tool's failure on its clip, and the next observation tries again. Keep what is loaded in
        :func:`detective.loaded.load_once` under a key naming it, so every instance and Detective of the process
        shares one copy. Default: nothing.
        """

    def ready(self) -> Self:
        """Run :meth:`setup` unless this instance is set up in this process (thread-safe); the tool itself.

        :meth:`aobserve` calls it; call it before :meth:`observe` when calling that directly
        (``ASRTool().ready().observe(media, query)``).
        """
        if type(self).setup is Tool.setup:
            return self
        state = self.__dict__.get("_setup_state")
        if state is None or state.pid != os.getpid():  # new, or copied into a forked child: set up again there
            with _setup_guard:
                state = self.__dict__.get("_setup_state")
                if state is None or state.pid != os.getpid():
                    state = self.__dict__["_setup_state"] = _SetupState()
        if not state.done:
            with state.lock:
                if not state.done:
                    self.setup()
                    state.done = True
        return self

    def is_ready(self) -> bool:
        """True when :meth:`setup` has run for this instance in this process (or there is nothing to set up)."""
        if type(self).setup is Tool.setup:
            return True
        state = self.__dict__.get("_setup_state")
        return state is not None and state.pid == os.getpid() and state.done

    def __getstate__(self) -> dict[str, Any]:
        """A pickled or copied tool is not set up: it sets up again where it lands (a Ray actor)."""
        state = dict(self.__dict__)
        state.pop("_setup_state", None)
        return state

    def check(self) -> str:
        """Check, without observing anything, that what this tool needs is in place (model files and their
        checksums, libraries); ``omni-detective doctor`` calls it. Return a one-line detail; raise
        :class:`ToolError` saying what to do when the tool cannot run. Default: nothing to check."""
        return ""

    def coverage(self, media: MediaInfo, query: Query, observations: list[Observation]) -> Coverage:
        """What a successful run of ``query`` examined (recorded on the evidence board by the ``observe`` node).

        Default: the query's span (arguments ``start``/``end`` first), this tool's modalities and :attr:`covers`.
        Override to say how densely it looked, e.g. ``detail="OCR at 1 frame/s"``.
        """
        try:
            args = self.input_model.model_validate(query.arguments)
        except ValueError:
            args = None
        span = self.span_of(media, query, args) if media.duration > 0 else query.span
        return Coverage(
            tool=self.name,
            query_key=query.key,
            modalities=tuple(self.modalities),
            aspects=tuple(self.covers),
            span=span,
        )

    def observe(self, media: MediaInfo, query: Query) -> list[Observation] | Awaitable[list[Observation]]:
        """Answer ``query`` about ``media``. Override in subclasses."""
        raise ToolError(f"tool {self.name!r} does not implement observe()")

    async def aobserve(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Run :meth:`observe` without blocking the event loop (a plain function in a daemon worker thread), after
        :meth:`setup` when this instance is not yet set up in this process (:meth:`ready`, in a worker thread)."""
        if not self.is_ready():
            await run_sync(self.ready, name=f"{self.name}.setup")
        if inspect.iscoroutinefunction(self.observe):
            return await self.observe(media, query)
        result = await run_sync(self.observe, media, query, name=f"{self.name}.observe")
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    def __repr__(self) -> str:
        return f"<Tool {self.name} v{self.version} {list(self.modalities)}>"


#: What the planner can call a tool: OpenAI's rule for function names (letters, digits, ``_`` and ``-``, 64 at most).
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class QuestionTool(Tool):
    """Base of the tools that ask a model role a question about part of the clip (``audio_llm``, ``vision_llm`` …).

    A subclass turns the asked span into message parts (audio, frames) and calls :meth:`ask` with them; this class
    reads the query's question, sends the parts with :attr:`system_prompt` to the role's model, maps the model's
    errors (an input the endpoint cannot take puts the tool out for the run) and returns the answer as one
    ``description`` observation over the span.
    """

    input_model: ClassVar[type[BaseModel]] = QuestionInput
    asks_questions: ClassVar[bool] = True
    needs_api: ClassVar[bool] = True
    #: The system message of every request.
    system_prompt: ClassVar[str] = ""
    #: What the model is called in error messages ("the audio model failed").
    model_noun: ClassVar[str] = "model"

    temperature: float | None = None
    max_tokens: int | None = None
    extra_body: dict[str, Any] | None = None

    def question_of(self, media: MediaInfo, query: Query) -> str:
        """The query's question, stripped; a :class:`ToolError` when it has none."""
        question = query.question or query.arguments.get("question")
        if not question or not str(question).strip():
            raise ToolError(f"{self.name}: {media.source}: the query has no question to ask")
        return str(question).strip()

    async def ask(
        self, media: MediaInfo, span: TimeSpan, parts: list[dict[str, Any]], payload: dict[str, Any]
    ) -> Observation:
        """Send ``parts`` (the question among them) to the role's model; its answer over ``span``, with ``payload``
        (the model's name is added)."""
        from detective.llm.client import UNSUPPORTED_INPUT, LLMError  # here: discovering plugins must not import openai
        from detective.models import format_time as clock
        from detective.runtime import current_services

        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": parts}]
        try:
            reply = (
                await current_services()
                .llm(self.role)
                .chat(messages, temperature=self.temperature, max_tokens=self.max_tokens, extra_body=self.extra_body)
            )
        except LLMError as exc:
            if exc.code == UNSUPPORTED_INPUT:  # one clear reason, no paths or hosts: the tool is out for the run
                raise ToolUnavailable(f"{self.name}: unavailable for this run: {exc}") from exc
            raise ToolError(
                f"{self.name}: {media.source} [{clock(span.start)}-{clock(span.end)}]: the {self.model_noun} "
                f"failed: {exc}"
            ) from exc
        answer = (reply.content or "").strip()
        if not answer:
            raise ToolError(f"{self.name}: {media.source}: model {reply.model} returned an empty answer")
        return Observation(
            tool=self.name, kind="description", content=answer, span=span, payload={"model": reply.model, **payload}
        )


def check_tool_name(name: Any, what: str) -> str:
    """``name`` when the planner can call a tool by it; else a ``ValueError`` saying how to name ``what``."""
    if isinstance(name, str) and TOOL_NAME.fullmatch(name):
        return name
    hint = "a lambda has no name of its own: " if name == "<lambda>" else ""
    raise ValueError(
        f"{what} cannot be offered to the planner under the name {name!r}: {hint}a tool's name is 1 to 64 letters, "
        "digits, '_' or '-'. Name it: @tool(name=\"loudness\"), FunctionTool(fn, name=\"loudness\"), a def "
        "with such a name, or set the Tool subclass's `name`"
    )


def check_tool_function(fn: Callable[..., Any], name: str) -> None:
    """Raise a ``TypeError`` unless the Detective can call ``fn(media, query)``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: it is called and judged at run time
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise TypeError(
            f"tool function {name!r} has the signature {name}{signature}, but the Detective calls it as "
            f"{name}(media, query) (a MediaInfo and a Query). Give it those two parameters, e.g. "
            f"def {name}(media, query): ..."
        ) from None


class FunctionTool(Tool):
    """A tool made from a function ``fn(media, query) -> list[Observation] | str``.

    A string result becomes one ``description`` observation over the query's span. The name (``name``, else the
    function's own) and the signature are checked here, so a Detective built with an unusable function fails at
    once with a message saying how to fix it, not in the middle of a run.
    """

    def __init__(
        self,
        fn: Callable[[MediaInfo, Query], Any],
        *,
        name: str | None = None,
        description: str | None = None,
        modalities: Iterable[Modality] = (),
        input_model: type[BaseModel] = QuestionInput,
        version: str = "0",
        asks_questions: bool = True,
    ) -> None:
        self.fn = fn
        self.name = check_tool_name(name or getattr(fn, "__name__", repr(fn)), f"the function {fn!r}")  # type: ignore[misc]
        check_tool_function(fn, self.name)
        self.description = description or (inspect.getdoc(fn) or self.name).splitlines()[0]  # type: ignore[misc]
        self.modalities = tuple(modalities)  # type: ignore[misc]
        self.input_model = input_model  # type: ignore[misc]
        self.version = version  # type: ignore[misc]
        self.asks_questions = asks_questions  # type: ignore[misc]

    async def observe(self, media: MediaInfo, query: Query) -> list[Observation]:  # type: ignore[override]
        """Call the wrapped function and normalise its result."""
        if inspect.iscoroutinefunction(self.fn):
            result = await self.fn(media, query)
        else:
            result = await run_sync(self.fn, media, query, name=f"{self.name}.observe")
        return _normalise(self.name, query, result)


def _normalise(tool: str, query: Query, result: Any) -> list[Observation]:
    if result is None:
        return []
    if isinstance(result, Observation):
        return [result]
    if isinstance(result, str):
        return [Observation(tool=tool, kind="description", content=result, span=query.span)]
    return [o if isinstance(o, Observation) else Observation.model_validate(o) for o in result]


def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    modalities: Iterable[Modality] = (),
    version: str = "0",
) -> Callable[[Callable[[MediaInfo, Query], Any]], FunctionTool]:
    """Decorator: turn ``fn(media, query)`` into a :class:`FunctionTool`."""

    def wrap(fn: Callable[[MediaInfo, Query], Any]) -> FunctionTool:
        return FunctionTool(fn, name=name, description=description, modalities=modalities, version=version)

    return wrap


class LangChainTool(Tool):
    """Adapts a langchain-core ``BaseTool`` into a Tool.

    The LangChain tool is called with the query's arguments (plus ``question`` when its schema has that
    field); its string result becomes a ``description`` observation.
    """

    def __init__(self, lc_tool: Any, modalities: Iterable[Modality] = ()) -> None:
        self.lc_tool = lc_tool
        self.name = lc_tool.name  # type: ignore[misc]
        self.description = lc_tool.description or lc_tool.name  # type: ignore[misc]
        self.modalities = tuple(modalities)  # type: ignore[misc]
        self.version = "langchain"  # type: ignore[misc]
        self.asks_questions = True  # type: ignore[misc]
        schema = getattr(lc_tool, "args_schema", None)
        self.input_model = (  # type: ignore[misc]
            schema if isinstance(schema, type) and issubclass(schema, BaseModel) else QuestionInput
        )

    def invalid_arguments(self, query: Query) -> str | None:
        """As :meth:`Tool.invalid_arguments`; a query with a question and no arguments fits (:meth:`observe` hands
        the question to the tool's first field)."""
        if not query.arguments and query.question is not None:
            return None
        return super().invalid_arguments(query)

    def _build_spec(self) -> ToolSpec:
        """Use the LangChain tool's own argument schema."""
        spec = super()._build_spec()
        try:
            spec.parameters = self.lc_tool.tool_call_schema.model_json_schema()
        except (AttributeError, TypeError):
            spec.parameters = QuestionInput.model_json_schema()
        return spec

    async def observe(self, media: MediaInfo, query: Query) -> list[Observation]:  # type: ignore[override]
        """Invoke the LangChain tool with the query's arguments."""
        args = dict(query.arguments)
        fields = set(self.lc_tool.args.keys()) if hasattr(self.lc_tool, "args") else set()
        if query.question is not None and "question" in fields:
            args.setdefault("question", query.question)
        if "media_path" in fields:
            args.setdefault("media_path", media.path or media.source)
        if not args and query.question is not None:
            args = {next(iter(fields), "input"): query.question} if fields else query.question  # type: ignore[assignment]
        if _sync_only(self.lc_tool):  # LangChain would run it in asyncio's shared executor: see run_sync
            result = await run_sync(self.lc_tool.invoke, args, name=f"{self.name}.invoke")
        else:
            result = await self.lc_tool.ainvoke(args)
        content = getattr(result, "content", result)
        return [Observation(tool=self.name, kind="description", content=str(content), span=query.span)]


def _sync_only(lc_tool: Any) -> bool:
    """True for a LangChain tool with no async implementation (a plain function, or ``_run`` only)."""
    if hasattr(lc_tool, "coroutine"):  # StructuredTool and Tool: made from a function, a coroutine, or both
        return lc_tool.coroutine is None
    from langchain_core.tools import BaseTool

    return type(lc_tool)._arun is BaseTool._arun


def as_tool(obj: Any) -> Tool:
    """Turn a Tool, a langchain-core BaseTool or a plain function into a Tool. Names are resolved elsewhere."""
    if isinstance(obj, Tool):
        return obj
    try:
        from langchain_core.tools import BaseTool
    except ImportError:  # pragma: no cover - langchain-core is a dependency
        BaseTool = ()  # type: ignore[assignment,misc]
    if BaseTool and isinstance(obj, BaseTool):
        return LangChainTool(obj)
    if callable(obj):
        return FunctionTool(obj)
    raise TypeError(f"cannot use {obj!r} as a tool: pass a Tool, a tool name, a langchain BaseTool or a function")
