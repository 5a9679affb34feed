"""Certificate item banks: items, tasks, bank packages, importers, blueprints and assembly.

A pure library: it never imports Flask, ``station`` or ``sync``.
"""
