"""Tests of crypto/mime: the one reading, RFC 3156 analysis, originals, composing."""
