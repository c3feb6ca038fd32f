"""Estimate each chapter's reading and exercise time from what it contains, by one stated rule.

Usage::

    python tools/reading_time.py            # a table: stated against estimated minutes
    python tools/reading_time.py --check    # exit 1 if a stated time is off by more than 25 %
    python tools/reading_time.py --write    # set every stated time to its estimate (to 5 min)

The rule (minutes), applied to the notebook as a reader meets it:

* reading: prose words outside exercises / 130 (a careful pace for technical text),
  + 0.75 per displayed equation, + 0.1 per line of visible code (hidden plotting code is not
  read), + 0.5 per figure, + 2 per explorer (moving its controls);
* exercises: 8 per exercise (thinking and writing) + the words of its statement and solution / 130.

It cannot know how fast a particular reader is; it makes the stated times consistent with each
other and with the chapters' length, and it fails the test suite when a chapter grows and its
stated time does not follow.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 130
TOLERANCE = 0.25
STATED = re.compile(r"\*\*Time:\*\* about (\d+) minutes, plus (\d+) for the exercises")


def _words(text: str) -> int:
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)  # displayed maths counted apart
    text = re.sub(r"\$[^$]*\$", " x ", text)  # inline maths: one word
    text = re.sub(r"\{[a-z]+\}`[^`]*`", " x ", text)  # roles such as {ref}`...`
    return len(re.findall(r"[A-Za-z0-9]+", text))


def estimate(path: Path) -> dict[str, float]:
    """Estimated reading and exercise minutes of one chapter notebook, and its stated ones."""
    cells = json.loads(path.read_text())["cells"]
    reading = exercises = 0.0
    in_exercise = False
    stated = None
    for cell in cells:
        text = "".join(cell["source"])
        if stated is None and (m := STATED.search(text)):
            stated = (int(m.group(1)), int(m.group(2)))
        if cell["cell_type"] == "markdown":
            if "## Exercises" in text:
                in_exercise = True
            if text.lstrip().startswith("## References"):
                in_exercise = False
            words = _words(text) / WORDS_PER_MINUTE
            n_exercises = text.count(":::{exercise}")
            if in_exercise or n_exercises:
                exercises += words + 8 * n_exercises
            else:
                reading += words + 0.75 * len(re.findall(r"\$\$", text)) / 2
        elif cell["cell_type"] == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            lines = 0 if "hide-input" in tags else len(text.splitlines())
            figure = sum(1 for o in cell.get("outputs", []) if "image/png" in o.get("data", {}))
            explorer = "_explorer(" in text
            minutes = 0.1 * lines + 0.5 * figure + 2.0 * explorer
            if in_exercise:
                exercises += minutes
            else:
                reading += minutes
    return {"reading": reading, "exercises": exercises,
            "stated_reading": stated[0] if stated else float("nan"),
            "stated_exercises": stated[1] if stated else float("nan")}


def _five(minutes: float) -> int:
    return max(5, int(5 * round(minutes / 5)))


def write(path: Path) -> None:
    """Replace the stated times of ``path`` by its estimates, rounded to 5 minutes."""
    e = estimate(path)
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if STATED.search(text):
            text = STATED.sub(f"**Time:** about {_five(e['reading'])} minutes, plus "
                              f"{_five(e['exercises'])} for the exercises", text, count=1)
            cell["source"] = [line for line in re.split(r"(?<=\n)", text) if line]
            break
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help=f"fail beyond {TOLERANCE:.0%} off")
    parser.add_argument("--write", action="store_true", help="write the estimates into the chapters")
    args = parser.parse_args()
    if args.write:
        for path in sorted((ROOT / "chapters").glob("*.ipynb")):
            write(path)
    bad = []
    print(f"{'chapter':<40} reading: stated estimated   exercises: stated estimated")
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        e = estimate(path)
        print(f"{path.stem:<40} {e['stated_reading']:>14} {e['reading']:>9.0f}"
              f" {e['stated_exercises']:>18} {e['exercises']:>9.0f}")
        for kind in ("reading", "exercises"):
            if abs(e[f"stated_{kind}"] - e[kind]) > TOLERANCE * e[kind]:
                bad.append(f"{path.stem}: {kind} stated {e[f'stated_{kind}']}, estimated {e[kind]:.0f}")
    if args.check and bad:
        print("\n".join(["", "Stated times more than 25 % off:"] + bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
