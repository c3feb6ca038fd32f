"""The explorer: labelled controls -> attn_core maths -> a picture, alive with or without a kernel.

How it stays alive on the static website: at execution time every
combination of the sliders' values is computed and drawn once, and the pictures are put in
``ipywidgets.Stack`` containers whose ``selected_index`` is linked to the sliders'
``index`` with ``jslink``. The link runs in the browser, so the built page switches
pictures with no Python behind it. With a live kernel the same sliders also update
``.state`` in Python, and text boxes (hidden on the website, where nothing could answer
them) let the reader type numbers of their own, redrawn in place.
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
from matplotlib.figure import Figure

from attn_core._checks import flag, positive_int
from attn_core.plot import figure_to_png, new_figure

__all__ = ["Slider", "TextInput", "Explorer", "parse_numbers", "LIVE_ONLY_CLASS"]

#: CSS class of controls that need a live kernel; the book's stylesheet hides them on the
#: static website (they would be dead there), Jupyter shows them.
LIVE_ONLY_CLASS = "attn-live-only"
MAX_FRAMES = 120


@dataclass(frozen=True)
class Slider:
    """A control that picks one of a few values; one picture is precomputed per value.

    Parameters
    ----------
    label : str
        What the reader sees next to the slider, in full words ("Temperature T").
    options : sequence of (str, value) pairs
        The label shown for each position and the value compute() receives.
    value : optional
        The starting value; default the first option.
    """

    label: str
    options: Sequence[tuple[str, Any]]
    value: Any = None

    def __post_init__(self) -> None:
        _check_text(self.label, "label")
        if isinstance(self.options, (str, bytes)) or not isinstance(self.options, Sequence) or not self.options:
            raise TypeError(f"options must be a non-empty sequence of (label, value) pairs, got {self.options!r:.60}")
        for option in self.options:
            if not (isinstance(option, tuple) and len(option) == 2 and isinstance(option[0], str)):
                raise TypeError(f"options must hold (label, value) pairs with a str label, got {option!r:.60}")
        if self.value is not None and self.value not in [v for _, v in self.options]:
            listed = ", ".join(repr(v) for _, v in self.options)
            raise ValueError(f"value must be None or one of the options' values ({listed}), got {self.value!r:.40}")

    def start_index(self) -> int:
        values = [v for _, v in self.options]
        return 0 if self.value is None else values.index(self.value)


@dataclass(frozen=True)
class TextInput:
    """A text box for a live kernel: the reader types numbers, ``parse`` turns them into a value.

    ``parse`` raises ``ValueError`` with a message for the reader when the text cannot be
    used; the explorer shows that message and keeps the last good picture.
    """

    label: str
    value: str
    parse: Callable[[str], Any]
    placeholder: str = ""

    def __post_init__(self) -> None:
        _check_text(self.label, "label")
        _check_text(self.value, "value")
        _check_text(self.placeholder, "placeholder")
        _check_callable(self.parse, "parse")


def _check_text(value: Any, name: str) -> str:
    """``value`` if it is a str, or raise a TypeError naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r:.40}")
    return value


def _check_callable(value: Any, name: str) -> Callable:
    """``value`` if it can be called, or raise a TypeError naming ``name``."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__} {value!r:.40}")
    return value


def parse_numbers(text: str, *, count: int | None = None, name: str = "the numbers") -> list[float]:
    """Read numbers separated by commas or spaces, e.g. ``"1, 2.5 -3"``.

    Raises
    ------
    TypeError
        If ``text`` is not a str, or ``count`` is not None or a whole number >= 1.
    ValueError
        With a message for the reader: an entry that is not a number, the wrong count, or a
        value that is not finite.

    Examples
    --------
    >>> parse_numbers("1, 2.5 -3")
    [1.0, 2.5, -3.0]
    >>> parse_numbers("1, x", name="scores")
    Traceback (most recent call last):
    ...
    ValueError: scores: 'x' is not a number
    """
    _check_text(text, "text")
    if count is not None:
        count = positive_int(count, "count")
    return _parse_numbers(text, count=count, name=name)


def _parse_numbers(text: str, *, count: int | None, name: str) -> list[float]:
    """:func:`parse_numbers` without the checks of its arguments."""
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    values = []
    for part in parts:
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(f"{name}: {part!r} is not a number") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{name}: expected {count} numbers, got {len(values)}")
    if not values:
        raise ValueError(f"{name}: type at least one number")
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise ValueError(f"{name}: every number must be finite")
    return values


def _img_tag(png: bytes, alt: str) -> str:
    """An <img> with its PNG inline and alternative text.

    An HTML widget rather than ``ipywidgets.Image``: the static widget manager cannot
    render an Image that has a tooltip, and an <img> without a text alternative is
    invisible to screen readers.
    """
    data = base64.b64encode(png).decode("ascii")
    text = html.escape(alt, quote=True)
    return f'<img class="attn-frame" src="data:image/png;base64,{data}" alt="{text}" title="{text}">'


def _png_of(tag: str) -> bytes:
    start = tag.index("base64,") + len("base64,")
    return base64.b64decode(tag[start:tag.index('"', start)])


class Explorer(w.VBox):
    """Controls that drive attn_core and a picture of the result, with or without a kernel.

    Parameters
    ----------
    compute : callable
        ``compute(**values) -> dict``: the maths, from one value per control to the state
        the picture shows. Calls attn_core; never draws.
    draw : callable
        ``draw(fig, state) -> None``: draws ``state`` on ``fig``. It is called again on the
        same figure for every frame, so it should update artists in place when it can
        (the attn_core.plot functions do).
    sliders : mapping of name -> Slider
        At most two; every combination of their values becomes one precomputed frame.
    texts : mapping of name -> TextInput, optional
        Live-kernel inputs (hidden on the static website).
    describe : callable, optional
        ``describe(state) -> str``: alternative text for a picture (its tooltip and alt).
    title : str
        A sentence above the controls saying what to try.
    figsize : (float, float)
    play : bool
        Add a play button that steps through the (first) slider.

    Attributes
    ----------
    controls : dict of name -> ipywidgets widget
        Set ``controls[name].value`` to move a control from Python (tests do).
    state : dict
        What ``compute`` returned for the current controls.
    message : ipywidgets.HTML
        Tells the reader what was wrong with a typed input; empty otherwise.
    links : list of ipywidgets.Link
        The browser-side links from controls to the picture stacks.
    """

    def __init__(
        self,
        compute: Callable[..., dict],
        draw: Callable[[Figure, dict], None],
        *,
        sliders: Mapping[str, Slider],
        texts: Mapping[str, TextInput] | None = None,
        describe: Callable[[dict], str] | None = None,
        title: str = "",
        figsize: tuple[float, float] = (4.8, 3.2),
        play: bool = False,
    ):
        _check_callable(compute, "compute")
        _check_callable(draw, "draw")
        if describe is not None:
            _check_callable(describe, "describe")
        _check_text(title, "title")
        play = flag(play, "play")
        if not isinstance(sliders, Mapping) or not all(isinstance(s, Slider) for s in sliders.values()):
            raise TypeError(f"sliders must be a mapping of name -> Slider, got {sliders!r:.60}")
        if texts is not None and (not isinstance(texts, Mapping)
                                  or not all(isinstance(t, TextInput) for t in texts.values())):
            raise TypeError(f"texts must be None or a mapping of name -> TextInput, got {texts!r:.60}")
        if not 1 <= len(sliders) <= 2:
            raise ValueError(f"sliders: an explorer has one or two sliders, got {len(sliders)}")
        sizes = [len(s.options) for s in sliders.values()]
        if sizes[0] * (sizes[1] if len(sizes) > 1 else 1) > MAX_FRAMES:
            raise ValueError(f"{' x '.join(map(str, sizes))} frames is more than {MAX_FRAMES}")
        self._compute, self._draw = compute, draw
        self._describe = describe or (lambda state: title or "explorer picture")
        self._slider_specs = dict(sliders)
        self._text_specs = dict(texts or {})
        self._figure = new_figure(*figsize, layout="none")  # frames and live redraws reuse it
        self._laid_out = False
        self.message = w.HTML(value="", layout=w.Layout(min_height="1.2em"))
        self.message.add_class("attn-explorer-message")
        self.redraw_seconds: list[float] = []
        self.links: list[w.Link] = []

        self.controls: dict[str, w.Widget] = {}
        # One label width for every slider of the explorer, so that their tracks line up.
        label_width = f"{0.55 * max(len(s.label) for s in self._slider_specs.values()) + 0.5:.1f}em"
        for name, spec in self._slider_specs.items():
            self.controls[name] = w.SelectionSlider(
                options=list(spec.options),
                index=spec.start_index(),
                description=spec.label,
                continuous_update=True,
                style={"description_width": label_width},
                layout=w.Layout(width="min(100%, 30em)"),
            )
        self._parsed: dict[str, Any] = {}
        for name, spec in self._text_specs.items():
            self._parsed[name] = spec.parse(spec.value)  # the author's default must parse
            box = w.Text(value=spec.value, description=spec.label, placeholder=spec.placeholder,
                         continuous_update=False, style={"description_width": "initial"},
                         layout=w.Layout(width="min(100%, 30em)"))
            box.add_class(LIVE_ONLY_CLASS)
            self.controls[name] = box
        self._defaults = dict(self._parsed)

        self._frames_view = self._build_frames()
        self._live_image = w.HTML(self._first_frame)
        self.view = w.Stack([self._frames_view, self._live_image], selected_index=0)
        self.state = self._compute(**self._values())

        for name in self._slider_specs:
            self.controls[name].observe(self._on_slider, names="index")
        for name in self._text_specs:
            self.controls[name].observe(lambda change, name=name: self._on_text(name, change), names="value")

        rows: list[w.Widget] = []
        if title:
            rows.append(w.HTML(f"<p class='attn-explorer-title'>{html.escape(title)}</p>"))
        first = next(iter(self._slider_specs))
        if play:
            # value = the slider's start: the browser link copies Play's value into the
            # slider when the page loads, so a Play at 0 would move the slider to 0.
            self.play = w.Play(value=self._slider_specs[first].start_index(),
                               min=0, max=len(self._slider_specs[first].options) - 1, interval=700,
                               description=f"Play through {self._slider_specs[first].label}",
                               tooltip=f"Step through {self._slider_specs[first].label}")
            self._link((self.play, "value"), (self.controls[first], "index"))
            rows.append(w.HBox([self.play, self.controls[first]]))
            rows += [self.controls[n] for n in self._slider_specs if n != first]
        else:
            rows += [self.controls[n] for n in self._slider_specs]
        if self._text_specs:
            texts_box = w.VBox([self.controls[n] for n in self._text_specs])
            texts_box.add_class(LIVE_ONLY_CLASS)
            rows.append(texts_box)
        rows += [self.message, self.view]
        super().__init__(rows)
        self.add_class("attn-explorer")

    # ----------------------------------------------------------------- frames
    def _link(self, source: tuple, target: tuple) -> None:
        """jslink (runs in the browser, with or without a kernel); kept for tests to inspect."""
        self.links.append(w.jslink(source, target))

    def _values(self) -> dict[str, Any]:
        values = {n: self.controls[n].value for n in self._slider_specs}
        values.update(self._parsed)
        return values

    def _render(self, state: dict, *, palette: bool) -> bytes:
        self._draw(self._figure, state)
        if not self._laid_out:
            # Lay the figure out once (a layout engine costs ~20 ms on every draw), then
            # keep those positions for every frame and live redraw.
            self._figure.set_layout_engine("constrained")
            self._figure.canvas.draw()
            self._figure.set_layout_engine("none")
            self._laid_out = True
        return figure_to_png(self._figure, palette=palette)

    def _frame(self, values: dict[str, Any]) -> w.HTML:
        state = self._compute(**values, **self._defaults)
        return w.HTML(_img_tag(self._render(state, palette=True), self._describe(state)))

    def _build_frames(self) -> w.Widget:
        """One frame per combination of the sliders' values, in stacks nested one per slider.

        The first slider picks a child of the outer stack; with a second slider every child
        is itself a stack, picked by the second. ``self.frames`` has the same nesting (a
        list of frames, or a list of rows of frames).
        """
        names = list(self._slider_specs)
        self._stacks: list[tuple[str, w.Stack]] = []

        def build(level: int, chosen: dict[str, Any]) -> tuple[list, w.Stack]:
            name = names[level]
            spec = self._slider_specs[name]
            frames: list = []
            children: list[w.Widget] = []
            for _, value in spec.options:
                values = {**chosen, name: value}
                if level == len(names) - 1:
                    frame = self._frame(values)
                    frames.append(frame)
                    children.append(frame)
                else:
                    row, stack = build(level + 1, values)
                    frames.append(row)
                    children.append(stack)
            stack = w.Stack(children, selected_index=spec.start_index())
            self._link((self.controls[name], "index"), (stack, "selected_index"))
            self._stacks.append((name, stack))
            return frames, stack

        self.frames, outer = build(0, {})
        first = self.frames
        for name in names:
            first = first[self._slider_specs[name].start_index()]
        self._first_frame = first.value
        return outer

    # ---------------------------------------------------------------- callbacks
    def _on_slider(self, change: dict) -> None:
        for name, stack in self._stacks:  # what jslink does in the browser, done in Python too
            stack.selected_index = self.controls[name].index
        self._update()

    def _on_text(self, name: str, change: dict) -> None:
        try:
            parsed = self._text_specs[name].parse(change["new"])
            state = self._compute(**{**self._values(), name: parsed})
        except ValueError as err:
            self.message.value = f"<span role='alert'>⚠ {html.escape(str(err), quote=False)}</span>"
            return
        self._parsed[name] = parsed
        self.message.value = ""
        self._update(state)

    def _update(self, state: dict | None = None) -> None:
        """Recompute, then show the precomputed frame, or redraw live if a text was edited."""
        start = time.perf_counter()
        self.state = state if state is not None else self._compute(**self._values())
        if self._parsed == self._defaults:
            self.view.selected_index = 0
        else:
            self._live_image.value = _img_tag(self._render(self.state, palette=False), self._describe(self.state))
            self.view.selected_index = 1
        self.redraw_seconds.append(time.perf_counter() - start)

    # ------------------------------------------------------------------ helpers
    def __repr__(self) -> str:
        labels = ", ".join(spec.label for spec in self._slider_specs.values())
        return f"Explorer({labels}; {self.frame_count()} pictures)"

    def displayed_picture(self) -> w.HTML:
        """The picture the reader sees now: the selected frame, or the live redraw."""
        view = self.view
        while isinstance(view, w.Stack):
            view = view.children[view.selected_index]
        return view

    def displayed_png(self) -> bytes:
        """The PNG bytes of :meth:`displayed_picture`."""
        return _png_of(self.displayed_picture().value)

    def frame_count(self) -> int:
        return sum(len(r) for r in self.frames) if isinstance(self.frames[0], list) else len(self.frames)
