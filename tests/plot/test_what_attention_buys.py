"""Chapter figures for what attention buys: attn_core.plot.what_attention_buys."""

import pytest
from numpy.testing import assert_allclose

from attn_core.plot import new_figure
from attn_core.plot.what_attention_buys import (
    BUYS_STYLES,
    pair_bars,
    paired_bars,
    sensitivity_plot,
)


# ------------------------------------------------------------------ figures
def test_sensitivity_plot_is_logarithmic_with_one_line_per_curve():
    ax = sensitivity_plot(new_figure().add_subplot(), [1, 2, 3],
                          {"recurrent": [1.0, 0.1, 0.01], "attention": [0.2, 0.2, 0.2]})
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["recurrent", "attention"]
    assert_allclose(ax.get_lines()[0].get_ydata(), [1.0, 0.1, 0.01])
    with pytest.raises(ValueError, match=r"curves\['x'\] has shape \(1,\), but distances has 2 points"):
        sensitivity_plot(new_figure().add_subplot(), [1, 2], {"x": [1.0]})


def test_pair_bars_switch_between_linear_and_log():
    ax = new_figure().add_subplot()
    pair_bars(ax, [0.2, 0.8], ["A", "B"], highlight=0)
    assert ax.get_yscale() == "linear" and len(ax.patches) == 2
    assert ax.patches[0].get_facecolor() != ax.patches[1].get_facecolor()
    pair_bars(ax, [1e-3, 1.0], ["A", "B"], log=True, ylim=(1e-4, 10))
    assert ax.get_yscale() == "log" and len(ax.patches) == 2
    with pytest.raises(ValueError, match="> 0 on a log axis"):
        pair_bars(ax, [0.0, 1.0], log=True)


def test_paired_bars_star_the_right_answers():
    ax = paired_bars(new_figure().add_subplot(), [0.1, 0.2, 0.7], [0.7, 0.2, 0.1], ["0", "1", "2"],
                     correct=(2, 0))
    assert len(ax.patches) == 6
    stars = [t for t in ax.texts if t.get_text() == "★"]
    assert [round(s.get_position()[0], 1) for s in stars] == [1.8, 0.2]
    with pytest.raises(ValueError, match="second has 1 entries, but first has 2"):
        paired_bars(new_figure().add_subplot(), [0.5, 0.5], [1.0])


def test_every_reader_of_the_chapter_has_its_own_style():
    from attn_core.experiments.what_attention_buys import CONFIG, run_name

    names = (list(CONFIG["readers"]) + [run_name(name, True) for name in CONFIG["query_first"]]
             + [f"{name}, untrained" for name in CONFIG["readers"]]
             + [f"{name}, lr {rate:g}" for name in CONFIG["readers"] for rate in CONFIG["learning_rates"]])
    assert sorted(BUYS_STYLES) == sorted(names)
    for name in CONFIG["readers"]:  # the untrained reader and the other rates: thin, in their reader's colour
        assert BUYS_STYLES[f"{name}, untrained"]["color"] == BUYS_STYLES[name]["color"]
    main = [tuple(sorted((k, str(v)) for k, v in BUYS_STYLES[name].items())) for name in CONFIG["readers"]]
    assert len(set(main)) == len(main)  # no two main readers look the same
