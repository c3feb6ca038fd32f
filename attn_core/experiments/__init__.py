"""The chapters' experiments and toy data, one module per chapter, named by the chapter's label.

``data`` holds the toy inputs several chapters share; every other module belongs to the
chapter whose label it carries (``why_attention`` to chapter 1, ``qkv`` to chapter 2, and so
on). Nothing here is part of ``import attn_core as ac``: import a module explicitly.
"""
