"""Compromise response: declaring that a member, cell, contact, safe house,
vehicle, place or handoff is in the adversary's hands, computing its exposure
(what it reveals) from the need-to-know graph, and acting on it."""
