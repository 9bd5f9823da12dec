"""Mail: the one reading of a received message (reader.py), its RFC 3156 analysis (pgpmime.py), a sender's original (original.py), and composing PGP/MIME (compose.py, crlf.py)."""
