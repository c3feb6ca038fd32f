"""Explorers: thin ipywidgets wiring of controls -> attn_core maths -> attn_core.plot figures.

Each explorer is a function returning an :class:`Explorer`; its ``.controls`` and ``.state``
let a test (or a curious reader) drive it from Python.
"""

from attn_core.widgets.explorer import (
    LIVE_ONLY_CLASS,
    Explorer,
    Slider,
    TextInput,
    parse_numbers,
)

__all__ = ["Explorer", "Slider", "TextInput", "parse_numbers", "LIVE_ONLY_CLASS"]
