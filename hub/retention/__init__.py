"""Retention (law Art. 10/2; AR Art. 5, 6 §4): review dates, early-review triggers and the director's signed
decisions, erasure by crypto-shredding, and the automatic end at 50 years."""
