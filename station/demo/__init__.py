"""Demo content and the ``station demo`` seeding command."""
