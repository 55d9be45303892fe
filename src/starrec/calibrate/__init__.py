"""Open set: the rule that turns low-confidence faces into `unknown`, its calibration on val
plus held-out people, and the trade-off report (the `calibrate` stage's library)."""
