"""Workbooks: checks that give a student's own implementation feedback in words.

One module per workbook (named by the chapter label it practises), each with one
``check_<name>(function)`` per exercise, built on :mod:`attn_core.workbooks.feedback` (the
safe runner and its messages). A check compares the student's function with attn_core's
library on fixed, random and edge cases, prints one teaching message and returns a
:class:`~attn_core.workbooks.feedback.Result`. This ring imports the library only.
"""

from attn_core.workbooks.feedback import Result

__all__ = ["Result"]
