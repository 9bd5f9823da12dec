"""The duty officer's Textual dashboard (issue 6); reads the store, never secrets."""

__all__: list[str] = []
