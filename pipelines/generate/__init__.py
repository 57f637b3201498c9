"""Synthetic input data for pulse: realistic, messy and deterministic per seed.

``generate(out_dir, creators, days, seed, start)`` writes the five JSON Lines
files of the rules (docs/rules.md) (``views``, ``comments``, ``ad_clicks``, ``creator_profiles``,
``campaigns``) and returns the lines per file. Same arguments, same bytes.

What is in it (see the modules for the numbers):

* ``population``: Zipf-like creator popularity, videos per creator, users with a
  home country and device; ~2.5 % of views from bot agents (mixed-case tokens).
  The most viewed creators get roles: HIGH (engagement ~0.03, always above
  0.02), RISER / FALLER (cross 0.02 during the period: eligibility is granted or
  revoked), NORMAL (~0.01); some small creators engage well but lack volume.
* ``traffic``: views on an evening-peaked daily cycle; comments and clicks drawn
  from views; clicks 2 s to 42 min after the view (5 % beyond the 30-minute
  window), 2 % with no view, double clicks and chains, click floods (> 20 in a
  UTC minute) plus near misses (exactly 20; 30 across a minute boundary), clicks
  on paused / ended / unknown campaigns. Every event lies in [start, start+days).
* ``changelogs``: campaign versions (price changes with odd micros, pauses,
  flights ending mid-period, a campaign created mid-period, USD/GBP/EUR) and
  creator profile versions (growth; followers or lifetime views crossing the bar;
  minors; an 18th birthday mid-period; foreign countries; missing and late
  profiles).
* ``anomalies``: file order = event time + arrival delay (3 % a few minutes
  late, a handful 70 min to 8 h late), ~0.5 % exact replays later in the file
  (one click replayed at the very end), and a few malformed lines per file, one
  per rejection reason (future times are a year ahead of the period).
"""

from __future__ import annotations

from pipelines.generate.api import FILES, generate

__all__ = ["FILES", "generate"]
