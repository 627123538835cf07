"""The browser app: Models, Chat and Evaluate tabs over the shared registry (Gradio Blocks).

Only glue lives here: the lists come from ``share.catalog`` (the window's filter), replies from
``services.serving.stream_chat``, evaluations from ``share.evaluation`` (the CLI's runner and reports).
Every handler checks the model ids it is given against the catalog, because anything the page can do
can also be sent to the API by hand. Errors the user can fix are shown as their plain message
(``gr.Error``); nothing else about the server reaches the browser.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from desktop_app.core.capabilities import can_call_tools
from desktop_app.core.chat import ChatMessage, ChatOptions
from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.model_query import CAPABILITY_CHIPS, CATEGORY_LABELS, CATEGORY_ORDER, Serving
from desktop_app.core.pools import BADGE_POOL, is_pool_id
from desktop_app.core.tools import ToolCallEvent, ToolResultEvent, describe_call
from desktop_app.services.serving import stream_chat
from desktop_app.services.tools import chat_with_tools
from desktop_app.share.catalog import ALL_CATEGORIES, COLUMNS, MAX_LISTED, Catalog
from desktop_app.share.context import ShareContext
from desktop_app.share.evaluation import bundled_suites, load_bundled, read_uploaded_suite, run_evaluation
from desktop_app.share.tools import ShareTools

__all__ = ["MAX_IMAGE_BYTES", "build_app", "describe"]

MAX_IMAGE_BYTES = 8 * 1024 * 1024
# Per-source limits in services.serving/evaluate pace the requests themselves; these only bound
# how many browser sessions stream (or evaluate) at the same time.
CHATS_AT_ONCE = 8
EVALUATIONS_AT_ONCE = 2
SHOWN_RESULT_CHARS = 10_000  # of a tool's result, in the page (the model gets the loop's own cut)
THINK_CHOICES = [("Model's default", "default"), ("On", "on"), ("Off", "off")]
_THINK = {"default": None, "on": True, "off": False}

CSS = """
.md-badge { font-weight: 600; }
#md-metrics { min-height: 1.5em; color: var(--body-text-color-subdued); }
"""


def _size(n: int | None) -> str:
    if not n:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def describe(catalog: Catalog, model_id: str) -> str:
    """The selected model's facts as Markdown. Endpoints (host addresses) are left out on purpose."""
    if not model_id:
        return "Pick a model to see its details."
    m = catalog.require(model_id)
    pooled = is_pool_id(m.id)
    runs = "EXPERIMENTAL" if m.model_type.value != "base" else m.serving_type.value.upper()
    facts = [
        ("Id", f"`{m.id}`"),
        ("Runs", BADGE_POOL if pooled else runs),
        ("Source", ", ".join(m.tags[1:]) if pooled else m.provider),  # a pool's tags: "pool", its hosts
        ("Status", m.status.value + (f" — {m.status_message}" if m.status_message else "")),
        ("Categories", ", ".join(c.value for c in m.categories) or m.category.value),
        ("Capabilities", ", ".join(m.capabilities) or "—"),
        ("Family", m.family or "—"),
        ("Parameters", m.parameter_size or "—"),
        ("Quantization", m.quantization or "—"),
        ("Context length", f"{m.context_length:,}" if m.context_length else "—"),
        ("Size on disk", _size(m.size_bytes)),
        ("Publisher", m.publisher or "—"),
        ("Rate-limit tier", m.rate_limit_tier or "—"),
    ]
    if m.parent_id:
        facts.append(("Based on", f"`{m.parent_id}`"))
    if m.parameters:
        facts.append(("Settings", ", ".join(f"{k}={v}" for k, v in sorted(m.parameters.items()))))
    lines = [f"### {m.name}", ""]
    lines += [f"- **{k}:** {v}" for k, v in facts]
    if m.system_prompt:
        lines += ["", "**System prompt**", "", "> " + m.system_prompt.replace("\n", "\n> ")]
    if m.description:
        lines += ["", m.description]
    return "\n".join(lines)


def _user_error(exc: ModelDeskError) -> gr.Error:
    hint = getattr(exc, "hint", None)
    return gr.Error(f"{exc}" + (f" {hint}" if hint else ""), print_exception=False)


def _options(
    temperature: float | None, top_p: float | None, max_tokens: float | None, seed: float | None
) -> ChatOptions:
    return ChatOptions(
        temperature=temperature,
        top_p=top_p,
        max_tokens=int(max_tokens) if max_tokens else None,
        seed=int(seed) if seed is not None else None,
    )


def _via(answered: list[str]) -> str:
    """The metrics line's " · via gpu-b" when a pool's host answered (``on_host`` gives its entry,
    ``<source>/<model>``)."""
    return f" · via {answered[-1].partition('/')[0]}" if answered else ""


def _image_b64(path: str) -> str:
    p = Path(path)
    if p.stat().st_size > MAX_IMAGE_BYTES:
        raise InvalidInput(
            f"{p.name} is larger than {MAX_IMAGE_BYTES // 1_000_000} MB; attach a smaller image."
        )
    return base64.b64encode(p.read_bytes()).decode("ascii")


def build_app(
    ctx: ShareContext, catalog: Catalog, *, title: str = "ModelDesk", tools: ShareTools | None = None
) -> gr.Blocks:
    """``tools``: what function-calling models may run in the chat (``share.tools``); None: no tools."""
    serving_choices = [("All", Serving.ALL.value), ("Local", Serving.LOCAL.value)]
    if catalog.allow_remote:
        serving_choices.append(("Remote", Serving.REMOTE.value))

    with gr.Blocks(title=title, analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown(f"## {title}\nModels shared from a ModelDesk registry: browse them, chat, evaluate.")
        with gr.Tabs() as tabs:
            # ------------------------------------------------------------------ Models
            with gr.Tab("Models", id="models"):
                category = gr.Radio(
                    [("All", ALL_CATEGORIES)] + [(CATEGORY_LABELS[c], c.value) for c in CATEGORY_ORDER],
                    value=ALL_CATEGORIES,
                    label="Category",
                    elem_id="md-category",
                )
                with gr.Row():
                    search = gr.Textbox(
                        label="Search", placeholder="name, family, capability…", scale=3, elem_id="md-search"
                    )
                    caps = gr.CheckboxGroup(
                        [(label, cap) for cap, label, _tip in CAPABILITY_CHIPS],
                        label="Capabilities (all of them)",
                        scale=3,
                    )
                    serving = gr.Radio(serving_choices, value=Serving.ALL.value, label="Runs", scale=2)
                summary = gr.Markdown()
                with gr.Row():
                    table = gr.Dataframe(
                        headers=list(COLUMNS),
                        interactive=False,
                        wrap=True,
                        max_height=460,
                        scale=3,
                        elem_id="md-models",
                    )
                    with gr.Column(scale=2):
                        picked = gr.Dropdown([], label="Model", allow_custom_value=True)
                        details = gr.Markdown("Pick a model to see its details.", elem_id="md-details")
                        to_chat = gr.Button("Chat with this model", variant="secondary")

            # ------------------------------------------------------------------ Chat
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    chat_model = gr.Dropdown(
                        [], label="Model", scale=3, elem_id="md-chat-model", allow_custom_value=True
                    )
                    think = gr.Dropdown(
                        THINK_CHOICES, value="default", label="Thinking", scale=1, elem_id="md-think"
                    )
                with gr.Accordion("System prompt and parameters", open=False):
                    system = gr.Textbox(label="System prompt", lines=2)
                    with gr.Row():
                        temperature = gr.Number(label="Temperature", value=None, minimum=0, maximum=2)
                        top_p = gr.Number(label="Top p", value=None, minimum=0, maximum=1)
                        max_tokens = gr.Number(label="Max tokens", value=None, minimum=1, precision=0)
                        seed = gr.Number(label="Seed", value=None, precision=0)
                if tools is not None and tools.names:
                    gr.Markdown(
                        "Function-calling models may use these tools here, without asking: "
                        + ", ".join(f"`{name}`" for name in tools.names),
                        elem_id="md-tools",
                    )
                chatbot = gr.Chatbot(label="Conversation", height=420, elem_id="md-chatbot", buttons=["copy"])
                metrics = gr.Markdown(elem_id="md-metrics")
                message = gr.MultimodalTextbox(
                    placeholder="Message (attach images for Vision models)",
                    file_types=["image"],
                    file_count="multiple",
                    show_label=False,
                    elem_id="md-message",
                )
                with gr.Row():
                    stop = gr.Button("Stop", size="sm")
                    clear = gr.Button("Clear", size="sm")
                display = gr.State([])  # what the chatbot shows
                convo = gr.State([])  # what the model is sent (core ChatMessage dicts)

            # ------------------------------------------------------------------ Evaluate
            with gr.Tab("Evaluate", id="evaluate"):
                with gr.Row():
                    suite_name = gr.Dropdown(list(bundled_suites()), label="Bundled suite", scale=2)
                    upload = gr.File(
                        label="…or upload a .prompt.yml",
                        file_types=[".yml", ".yaml"],
                        type="filepath",
                        scale=2,
                    )
                with gr.Row():
                    eval_models = gr.Dropdown(
                        [],
                        multiselect=True,
                        label="Models to compare (none: the suite's own)",
                        scale=3,
                        allow_custom_value=True,
                    )
                    judge = gr.Dropdown(
                        [], label="Judge (for llm evaluators)", scale=2, allow_custom_value=True
                    )
                with gr.Row():
                    run_btn = gr.Button("Run evaluation", variant="primary", elem_id="md-run-eval")
                    stop_eval = gr.Button("Stop")
                eval_status = gr.Markdown(elem_id="md-eval-status")
                results = gr.Dataframe(interactive=False, wrap=True, label="Side by side")
                reports = gr.File(
                    label="Reports (JSON, CSV, HTML)",
                    file_count="multiple",
                    interactive=False,
                    elem_id="md-reports",
                )

        # ---------------------------------------------------------------------- handlers
        def list_models(
            cat: str, text: str, chosen: list[str], serve: str, current: str | None
        ) -> tuple[Any, ...]:
            found = catalog.search(cat or ALL_CATEGORIES, text or "", chosen or (), serve or Serving.ALL)
            shown = found[:MAX_LISTED]
            ids = [f.id for f in shown]
            keep = current if current in ids else (ids[0] if ids else None)
            noun = "model" if len(found) == 1 else "models"
            summary_text = f"{len(found):,} {noun}"
            if len(found) > len(shown):
                summary_text += f" (the first {len(shown)} are listed: search or pick a category to narrow)"
            return (
                gr.update(value=catalog.table(shown), headers=list(COLUMNS)),
                gr.update(choices=ids, value=keep),
                summary_text,
            )

        def show_details(model_id: str | None) -> str:
            try:
                return describe(catalog, model_id or "")
            except ModelDeskError as exc:
                raise _user_error(exc) from None

        def refresh_choices(cat: str) -> tuple[Any, ...]:
            """On page load: counts per category and the model pickers, as the registry is now."""
            chat = catalog.chat_models()
            judges = [(label, i) for label, i in chat if not is_pool_id(i)]  # a judge is one host's model
            suites = list(bundled_suites())
            return (
                gr.update(choices=catalog.category_choices(), value=cat or ALL_CATEGORIES),
                gr.update(choices=chat, value=chat[0][1] if chat else None),
                gr.update(choices=chat),
                gr.update(choices=[("Suite's own judge", ""), *judges], value=""),
                gr.update(choices=suites, value=suites[0] if suites else None),
            )

        def pick_row(evt: gr.SelectData, data: Any) -> Any:
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            try:
                rows = data.values.tolist() if hasattr(data, "values") else data["data"]
                return gr.update(value=rows[row][-1])
            except (IndexError, KeyError, TypeError):
                return gr.update()

        def open_chat(model_id: str | None) -> tuple[Any, ...]:
            return gr.update(value=model_id), gr.Tabs(selected="chat")

        async def respond(
            msg: dict[str, Any] | None,
            shown: list[dict[str, Any]],
            sent: list[dict[str, Any]],
            model_id: str,
            think_choice: str,
            system_prompt: str,
            temp: float | None,
            topp: float | None,
            max_tok: float | None,
            seed_value: float | None,
        ) -> AsyncIterator[tuple[Any, ...]]:
            text = ((msg or {}).get("text") or "").strip()
            files = [f if isinstance(f, str) else f.get("path", "") for f in (msg or {}).get("files") or []]
            if not text and not files:
                raise gr.Error("Type a message first.", print_exception=False)
            try:
                model = catalog.require(model_id)
                if files and not catalog.reads_images(model.id):
                    raise InvalidInput(f"{model.name} does not read images; pick a model marked Vision.")
                images = [_image_b64(p) for p in files]
                options = _options(temp, topp, max_tok, seed_value)
            except ModelDeskError as exc:
                raise _user_error(exc) from None
            shown = [*shown, *({"role": "user", "content": {"path": p}} for p in files)]
            shown.append({"role": "user", "content": text})
            sent = [
                *sent,
                ChatMessage(role="user", content=text, images=images).model_dump(exclude_defaults=True),
            ]
            history = [ChatMessage.model_validate(m) for m in sent]
            system_text = (system_prompt or "").strip()
            if system_text and not any(m.role == "system" for m in history):
                history.insert(0, ChatMessage(role="system", content=system_text))
            session = tools.session() if tools is not None and can_call_tools(model.capabilities) else None
            reply = _Reply(shown)
            answered: list[str] = []  # a pool's chat: the host entry that answered (the last round's)
            before = len(history)
            events: AsyncIterator[Any] = (
                chat_with_tools(
                    ctx,
                    tools.registry,
                    model,
                    history,
                    options,
                    session=session,
                    think=_THINK.get(think_choice),
                    on_host=answered.append,
                )
                if tools is not None and session is not None and session.tools
                else stream_chat(
                    ctx, model, history, options, think=_THINK.get(think_choice), on_host=answered.append
                )
            )
            summary_text = ""
            yield reply.view(pending=True), reply.shown, sent, "", None
            try:
                async for event in events:
                    if isinstance(event, ToolCallEvent):
                        reply.call(event)
                    elif isinstance(event, ToolResultEvent):
                        reply.result(event)
                    else:
                        reply.thinking += event.thinking
                        reply.answer += event.content
                        if event.done and event.metrics is not None:
                            summary_text = event.metrics.summary() + _via(answered)
                            continue  # with tools another round may follow; the stream ends after the last
                    # gr.update() leaves the message box alone: the next message can be typed meanwhile
                    yield reply.view(pending=True), reply.shown, sent, "", gr.update()
            except ModelDeskError as exc:
                hint = getattr(exc, "hint", None)
                note = f"⚠ {exc}" + (f" {hint}" if hint else "")
                final = [*reply.view(pending=False), {"role": "assistant", "content": note}]
                yield final, final, sent, "", gr.update()
                return
            turns = [m.model_dump(exclude_defaults=True) for m in history[before:]]
            final = reply.view(pending=False)
            sent = [*sent, *turns, {"role": "assistant", "content": reply.answer}]
            yield final, final, sent, summary_text, gr.update()

        def clear_chat() -> tuple[Any, ...]:
            return [], [], [], ""

        async def evaluate(
            bundled: str | None, uploaded: str | None, models: list[str] | None, judge_id: str | None
        ) -> AsyncIterator[tuple[Any, ...]]:
            try:
                if judge_id and is_pool_id(judge_id):
                    raise InvalidInput(f"{judge_id} is a pool; pick one host's model as the judge.")
                judge_ref = catalog.require(judge_id).id if judge_id else None
                if uploaded:
                    suite = read_uploaded_suite(uploaded, Path(uploaded).name)
                elif bundled:
                    suite = load_bundled(bundled)
                else:
                    raise InvalidInput("Pick a bundled suite or upload a .prompt.yml file.")
                # None picked: the suite's own `models:` (each must be one shared here).
                chosen = [catalog.require(m).id for m in (models or suite.model_ids())]
                async for update in run_evaluation(ctx, suite, chosen, judge=judge_ref):
                    table_value = (
                        gr.update(value=update.rows, headers=update.header) if update.header else gr.update()
                    )
                    yield update.status, table_value, update.files or None
            except ModelDeskError as exc:
                hint = getattr(exc, "hint", None)
                yield f"⚠ {exc}" + (f" {hint}" if hint else ""), gr.update(), None

        # ---------------------------------------------------------------------- wiring
        filters = [category, search, caps, serving, picked]
        listing = [table, picked, summary]
        demo.load(
            refresh_choices,
            [category],
            [category, chat_model, eval_models, judge, suite_name],
            api_visibility="private",
        ).then(list_models, filters, listing, api_visibility="private")
        for control in (category, caps, serving):
            control.change(list_models, filters, listing, api_visibility="private")
        search.change(list_models, filters, listing, api_name="models", trigger_mode="always_last")
        picked.change(show_details, [picked], [details], api_name="details")
        table.select(pick_row, [table], [picked], api_visibility="private")
        to_chat.click(open_chat, [picked], [chat_model, tabs], api_visibility="private")

        chat_inputs = [
            message,
            display,
            convo,
            chat_model,
            think,
            system,
            temperature,
            top_p,
            max_tokens,
            seed,
        ]
        chat_event = message.submit(
            respond,
            chat_inputs,
            [chatbot, display, convo, metrics, message],
            api_name="chat",
            concurrency_limit=CHATS_AT_ONCE,
        )
        stop.click(None, None, None, cancels=[chat_event], api_visibility="private")
        clear.click(clear_chat, None, [chatbot, display, convo, metrics], api_visibility="private")
        chat_model.change(clear_chat, None, [chatbot, display, convo, metrics], api_visibility="private")

        eval_event = run_btn.click(
            evaluate,
            [suite_name, upload, eval_models, judge],
            [eval_status, results, reports],
            api_name="evaluate",
            concurrency_limit=EVALUATIONS_AT_ONCE,
        )
        stop_eval.click(None, None, None, cancels=[eval_event], api_visibility="private")
    return demo


class _Reply:
    """The reply being streamed, as the chatbot shows it: each round's reasoning apart (open with a
    spinner while it streams, collapsed once done), each tool call as a collapsed "🛠 name(args)"
    message with its result inside, a failed or refused call as a plain message after it, then the
    answer."""

    def __init__(self, shown: list[dict[str, Any]]) -> None:
        self.shown = list(shown)  # the conversation, with the finished parts of this reply
        self.thinking = ""
        self.answer = ""
        self._calls: dict[int, int] = {}  # id(call) → its message's index in ``shown``

    def view(self, *, pending: bool) -> list[dict[str, Any]]:
        view = list(self.shown)
        if self.thinking:
            view.append(
                {
                    "role": "assistant",
                    "content": self.thinking,
                    "metadata": {"title": "Thinking", "status": "pending" if pending else "done"},
                }
            )
        if self.answer or not self.thinking:
            view.append({"role": "assistant", "content": self.answer})
        return view

    def _settle(self) -> None:
        """What the model said before calling a tool stays where it was said."""
        if self.thinking or self.answer:
            self.shown = [m for m in self.view(pending=False) if m.get("content") or m.get("metadata")]
        self.thinking = self.answer = ""

    def call(self, event: ToolCallEvent) -> None:
        self._settle()
        name = event.spec.name if event.spec else event.call.name
        self._calls[id(event.call)] = len(self.shown)
        self.shown.append(
            {
                "role": "assistant",
                "content": "",
                "metadata": {
                    "title": f"🛠 {describe_call(name, event.call.arguments)}",
                    "status": "pending",
                },
            }
        )

    def result(self, event: ToolResultEvent) -> None:
        index = self._calls.get(id(event.call))
        outcome = event.result
        if index is not None:
            message = self.shown[index]
            metadata = dict(message["metadata"], status="done")
            if outcome.duration_s is not None:
                metadata["duration"] = round(outcome.duration_s, 3)
            body = "(no result: see below)" if outcome.is_error else _shown_result(outcome.text)
            self.shown[index] = {**message, "content": body, "metadata": metadata}
        if outcome.is_error:
            text = outcome.text.removeprefix("error: ")
            self.shown.append({"role": "assistant", "content": f"⚠ {event.name}: {_shown_result(text)}"})


def _shown_result(text: str) -> str:
    if len(text) <= SHOWN_RESULT_CHARS:
        return text or "(empty)"
    return text[:SHOWN_RESULT_CHARS] + f"\n… ({len(text) - SHOWN_RESULT_CHARS:,} more characters)"
