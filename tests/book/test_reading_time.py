"""Every chapter states the time it takes, and the statement follows the chapter's length."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("reading_time", ROOT / "tools" / "reading_time.py")
reading_time = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reading_time)
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_stated_times_are_within_a_quarter_of_the_estimate(path):
    e = reading_time.estimate(path)
    for kind in ("reading", "exercises"):
        stated, estimated = e[f"stated_{kind}"], e[kind]
        assert abs(stated - estimated) <= reading_time.TOLERANCE * estimated, (
            f"{path.stem}: {kind} stated {stated} min, estimated {estimated:.0f}: "
            "run python tools/reading_time.py --write")


def test_the_estimate_grows_with_the_text(tmp_path):
    nb = json.loads(CHAPTERS[0].read_text())
    before = reading_time.estimate(CHAPTERS[0])["reading"]
    nb["cells"].insert(3, {"cell_type": "markdown", "metadata": {}, "source": ["word " * 1300]})
    longer = tmp_path / "longer.ipynb"
    longer.write_text(json.dumps(nb))
    assert reading_time.estimate(longer)["reading"] == pytest.approx(before + 10, abs=0.01)
