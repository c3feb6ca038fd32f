"""The Explorer machinery, driven without a browser: frames, links, live text, messages."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.plot import attention_heatmap, weight_bars
from attn_core.widgets import (
    LIVE_ONLY_CLASS,
    Explorer,
    Slider,
    TextInput,
    parse_numbers,
)

TOKENS = "the cat sat on the mat".split()


def temperature_explorer(**kwargs):
    def compute(temperature, scores):
        return {"weights": ac.softmax(scores, temperature=temperature)}

    def draw(fig, state):
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        weight_bars(ax, state["weights"])

    return Explorer(
        compute, draw,
        sliders={"temperature": Slider("Temperature T", [("0.5", 0.5), ("1", 1.0), ("2", 2.0)], value=1.0)},
        texts={"scores": TextInput("Scores", "1, 2, 3", lambda t: parse_numbers(t, count=3, name="scores"))},
        describe=lambda s: "weights " + ", ".join(f"{x:.2f}" for x in s["weights"]),
        **kwargs,
    )


def test_one_frame_per_option_linked_to_the_slider():
    ex = temperature_explorer()
    assert ex.frame_count() == 3
    assert ex.controls["temperature"].index == 1
    np.testing.assert_allclose(ex.state["weights"], ac.softmax([1, 2, 3]))
    assert any(link.source == (ex.controls["temperature"], "index")
               and link.target == (ex._frames_view, "selected_index") for link in ex.links)


def test_moving_the_slider_changes_state_and_picture():
    ex = temperature_explorer()
    before_png, before = ex.displayed_png(), ex.state["weights"].copy()
    ex.controls["temperature"].value = 0.5
    assert ex._frames_view.selected_index == 0
    np.testing.assert_allclose(ex.state["weights"], ac.softmax([1, 2, 3], temperature=0.5))
    assert ex.state["weights"].max() > before.max()
    assert ex.displayed_png() != before_png
    assert "weights 0.02, 0.12, 0.87" in ex.displayed_picture().value  # the alt text follows


def test_typed_scores_redraw_live_and_bad_text_shows_a_message():
    ex = temperature_explorer()
    ex.controls["scores"].value = "3, 2, 1"
    assert ex.view.selected_index == 1
    np.testing.assert_allclose(ex.state["weights"], ac.softmax([3, 2, 1]))
    good_png = ex.displayed_png()
    assert ex.message.value == ""

    ex.controls["scores"].value = "3, two, 1"
    assert "'two' is not a number" in ex.message.value
    np.testing.assert_allclose(ex.state["weights"], ac.softmax([3, 2, 1]))  # unchanged
    assert ex.displayed_png() == good_png

    ex.controls["scores"].value = "1, 2"
    assert "expected 3 numbers, got 2" in ex.message.value

    ex.controls["scores"].value = "1, 2, 3"  # back to the default: the precomputed frames again
    assert ex.view.selected_index == 0 and ex.message.value == ""


def test_text_inputs_are_hidden_on_the_static_site():
    ex = temperature_explorer()
    assert LIVE_ONLY_CLASS in ex.controls["scores"]._dom_classes


def test_two_sliders_make_nested_stacks():
    def compute(temperature, query):
        return {"weights": ac.softmax(np.eye(3)[query] * 2, temperature=temperature)}

    def draw(fig, state):
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        weight_bars(ax, state["weights"])

    ex = Explorer(compute, draw, sliders={
        "temperature": Slider("Temperature T", [("1", 1.0), ("2", 2.0)]),
        "query": Slider("Query", [("a", 0), ("b", 1), ("c", 2)]),
    })
    assert ex.frame_count() == 6
    pictures = set()
    for t in (1.0, 2.0):
        for q in (0, 1, 2):
            ex.controls["temperature"].value = t
            ex.controls["query"].value = q
            np.testing.assert_allclose(ex.state["weights"], ac.softmax(np.eye(3)[q] * 2, temperature=t))
            pictures.add(ex.displayed_png())
    assert len(pictures) == 6


def test_too_many_frames_is_refused():
    with pytest.raises(ValueError, match="more than"):
        Explorer(lambda a, b: {}, lambda f, s: None, sliders={
            "a": Slider("A", [(str(i), i) for i in range(20)]),
            "b": Slider("B", [(str(i), i) for i in range(20)]),
        })


def test_repr_is_short_and_stable():
    ex = temperature_explorer(title="Try the temperature")
    assert repr(ex) == "Explorer(Temperature T; 3 pictures)"


def test_play_button_is_linked_to_the_first_slider():
    ex = temperature_explorer(play=True)
    assert any(link.source == (ex.play, "value") and link.target == (ex.controls["temperature"], "index")
               for link in ex.links)


def test_live_redraw_updates_the_figure_in_place():
    """A typed change redraws the same matplotlib artists (timed in benchmarks/explorer_redraw.py)."""
    tokens = "the quick brown fox jumps over lazy dogs".split()

    def compute(temperature, shift):
        scores = np.add.outer(np.arange(8.0), np.arange(8.0)) * 0.1 * shift[0]
        return {"weights": ac.softmax(scores, temperature=temperature)}

    def draw(fig, state):
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        attention_heatmap(ax, state["weights"], row_labels=tokens, col_labels=tokens)

    ex = Explorer(compute, draw, figsize=(4.2, 3.8),
                  sliders={"temperature": Slider("Temperature T", [("1", 1.0), ("2", 2.0)])},
                  texts={"shift": TextInput("Shift", "0", lambda t: parse_numbers(t, count=1))})
    image = ex._figure.axes[0].images[0]
    ex.controls["shift"].value = "3"
    assert list(ex._figure.axes[0].images) == [image]  # the same AxesImage, new data
    np.testing.assert_allclose(image.get_array(), ex.state["weights"])
    texts = [t.get_text() for t in ex._figure.axes[0].texts]
    assert texts[:2] == [f"{ex.state['weights'][0, 0]:.2f}", f"{ex.state['weights'][0, 1]:.2f}"]


def test_play_button_starts_where_the_slider_starts():
    """jslink copies Play's value into the slider on page load: it must not reset it."""
    ex = temperature_explorer(play=True)
    assert ex.play.value == ex.controls["temperature"].index == 1


# ---------------------------------------------------------------- the door checks of the machinery
def _compute(**kwargs):
    return {}


def _draw(figure, state):
    return None


@pytest.mark.parametrize("build, error, message", [
    (lambda: Slider(3, [("a", 1)]), TypeError, "label must be a str"),
    (lambda: Slider("A", "ab"), TypeError, "options must be"),
    (lambda: Slider("A", []), TypeError, "options must be"),
    (lambda: Slider("A", [1, 2]), TypeError, r"options must hold \(label, value\) pairs"),
    (lambda: Slider("A", [("a", 1), ("b", 2)], value=3), ValueError, "value must be None or one of"),
    (lambda: TextInput(None, "1", float), TypeError, "label must be a str"),
    (lambda: TextInput("A", 1.0, float), TypeError, "value must be a str"),
    (lambda: TextInput("A", "1", "float"), TypeError, "parse must be callable"),
    (lambda: Explorer(None, _draw, sliders={"x": Slider("A", [("a", 1)])}), TypeError, "compute must be callable"),
    (lambda: Explorer(_compute, 3, sliders={"x": Slider("A", [("a", 1)])}), TypeError, "draw must be callable"),
    (lambda: Explorer(_compute, _draw, sliders=[("a", 1)]), TypeError, "sliders must be a mapping"),
    (lambda: Explorer(_compute, _draw, sliders={"x": ("a", 1)}), TypeError, "sliders must be a mapping"),
    (lambda: Explorer(_compute, _draw, sliders={}), ValueError, "sliders: an explorer has one or two"),
    (lambda: Explorer(_compute, _draw, sliders={"x": Slider("A", [("a", 1)])}, texts={"t": "1"}),
     TypeError, "texts must be None or a mapping"),
    (lambda: Explorer(_compute, _draw, sliders={"x": Slider("A", [("a", 1)])}, play=1), TypeError, "play must be"),
    (lambda: parse_numbers(3), TypeError, "text must be a str"),
    (lambda: parse_numbers(None), TypeError, "text must be a str"),
    (lambda: parse_numbers("1 2", count=2.0), TypeError, "count must be a whole number"),
    (lambda: parse_numbers("1 2", count=True), TypeError, "count must be a whole number"),
    (lambda: parse_numbers("1 2", count=0), ValueError, "count must be >= 1"),
])
def test_bad_arguments_are_refused_naming_them(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_a_slider_value_among_its_options_is_accepted():
    assert Slider("A", [("a", 1), ("b", 2)], value=2).start_index() == 1
    assert Slider("A", [("a", 1), ("b", 2)]).start_index() == 0


def test_parse_numbers_still_gives_the_reader_a_sentence():
    with pytest.raises(ValueError, match="scores: expected 3 numbers, got 2"):
        parse_numbers("1 2", count=3, name="scores")
    assert parse_numbers("4;5", count=2) == [4.0, 5.0]
