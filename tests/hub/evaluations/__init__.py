"""Tests of hub/evaluations: the Art. 10 distribution and sending."""
