"""Certificates: numbers, signing keys, signed QR tokens, PDFs, verification.

A pure library: it never imports Flask, ``station`` or ``sync``.
"""
