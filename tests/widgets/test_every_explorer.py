"""Every explorer of every chapter: each control changes the picture, pixel for pixel.

The explorers are found, not listed (:func:`conftest.explorer_functions`). For each one,
every precomputed frame's PNG is decoded to pixels; along each control (the other one held
at each of its values) every two frames must differ. Comparing the decoded pixels, not the
``<img>`` HTML, matters: the HTML carries the alternative text, which follows the state even
when the picture does not. The last tests build mutant explorers whose picture ignores the
controls and check that the checker catches them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import pkgutil
from collections.abc import Callable
from itertools import combinations, product

import ipywidgets as w
import pytest
from PIL import Image

import attn_core.widgets
import attn_core.widgets.multihead as multihead_widgets
from attn_core.widgets import Explorer

from .conftest import REQUIRED_INPUTS, explorer_functions, required_parameters

EXPLORERS = explorer_functions()

#: Frames that are equal on purpose: "module.name" -> still(control, fixed, value_a, value_b),
#: with ``fixed`` the values of the other controls.
EXPECTED_STILL: dict[str, Callable[[str, dict, object, object], bool]] = {
    # a boxcar of width 5 or 10 covers every training point: the same weights
    "qkv.kernel_width_explorer":
        lambda control, fixed, a, b: control == "bandwidth" and fixed["kernel"] == "boxcar" and {a, b} == {5.0, 10.0},
}


def pixels_digest(frame: w.HTML) -> str:
    """A digest of the decoded RGBA pixels (and size) of a frame's inline PNG."""
    tag = frame.value
    start = tag.index("base64,") + len("base64,")
    png = base64.b64decode(tag[start:tag.index('"', start)])
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return hashlib.sha256(repr(image.size).encode() + image.tobytes()).hexdigest()


def slider_options(explorer: Explorer) -> dict[str, list]:
    """The explorer's sliders, in order, with the values of their positions."""
    return {name: [value for _, value in control.options] for name, control in explorer.controls.items()
            if isinstance(control, w.SelectionSlider)}


def unchanged_pictures(explorer: Explorer, still: Callable | None = None) -> list[tuple]:
    """Pairs of frames along one control whose pixels are the same.

    Returns
    -------
    list of (control, fixed values of the other controls, value a, value b)
        Empty when every control changes the picture at every step, except the pairs that
        ``still`` says are the same on purpose.
    """
    sliders = slider_options(explorer)
    names = list(sliders)
    digests = {}
    for index in product(*(range(len(values)) for values in sliders.values())):
        frame = explorer.frames
        for i in index:
            frame = frame[i]
        digests[index] = pixels_digest(frame)
    problems = []
    for axis, name in enumerate(names):
        others = [n for n in names if n != name]
        for fixed_index in product(*(range(len(sliders[n])) for n in others)):
            fixed = {n: sliders[n][i] for n, i in zip(others, fixed_index)}
            line = []
            for i in range(len(sliders[name])):
                index = list(fixed_index)
                index.insert(axis, i)
                line.append(digests[tuple(index)])
            for i, j in combinations(range(len(line)), 2):
                a, b = sliders[name][i], sliders[name][j]
                if line[i] == line[j] and not (still and still(name, fixed, a, b)):
                    problems.append((name, fixed, a, b))
    return problems


def test_every_explorer_is_found_and_can_be_built():
    chapter_modules = {info.name for info in pkgutil.iter_modules(attn_core.widgets.__path__)} - {"explorer"}
    assert {name.split(".")[0] for name in EXPLORERS} == chapter_modules  # every chapter's module has one
    assert {"softmax.temperature_explorer", "interpretability.same_output_explorer"} <= set(EXPLORERS)
    for name, function in EXPLORERS.items():
        if required_parameters(function):
            assert name in REQUIRED_INPUTS, f"{name} needs {required_parameters(function)}: add it to REQUIRED_INPUTS"


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_each_control_changes_the_picture(name, shared_explorer):
    explorer = shared_explorer(name)
    assert 1 <= len(slider_options(explorer)) <= 2
    assert unchanged_pictures(explorer, EXPECTED_STILL.get(name)) == []


def test_the_expected_still_frames_are_still_the_same(shared_explorer):
    """The exceptions are not blanket passes: those frames really are equal, and only those."""
    for name, still in EXPECTED_STILL.items():
        problems = unchanged_pictures(shared_explorer(name))
        assert problems, f"{name}: no frames are equal any more, remove its EXPECTED_STILL entry"
        assert all(still(*problem) for problem in problems)


# --------------------------------------------------------------------- the checker catches mutants
class FrozenPicture(Explorer):
    """An explorer whose draw always shows the first state it was given (its alt text still follows)."""

    def __init__(self, compute, draw, **kwargs):
        first = []

        def frozen(fig, state):
            first.append(state)
            draw(fig, first[0])

        super().__init__(compute, frozen, **kwargs)


class IgnoresContext(Explorer):
    """An explorer whose compute ignores the "context" control (always its first option)."""

    def __init__(self, compute, draw, **kwargs):
        first = kwargs["sliders"]["context"].options[0][1]
        super().__init__(lambda **values: compute(**{**values, "context": first}), draw, **kwargs)


def test_the_checker_flags_a_picture_that_ignores_the_controls(monkeypatch):
    monkeypatch.setattr(multihead_widgets, "Explorer", FrozenPicture)
    mutant = multihead_widgets.decode_bytes_explorer()
    problems = unchanged_pictures(mutant)
    assert {control for control, *_ in problems} == {"batch", "context"}
    frames = [frame for row in mutant.frames for frame in row]
    assert len({frame.value for frame in frames}) == len(frames)  # the old <img> comparison passed it


def test_the_checker_flags_one_control_that_changes_nothing(monkeypatch):
    monkeypatch.setattr(multihead_widgets, "Explorer", IgnoresContext)
    mutant = multihead_widgets.decode_bytes_explorer()
    problems = unchanged_pictures(mutant)
    assert problems and {control for control, *_ in problems} == {"context"}
