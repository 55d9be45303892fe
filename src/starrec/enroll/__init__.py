"""Few-shot enrolment: stars added from a few photos as embedding prototypes, no retraining."""


class EnrollError(ValueError):
    """Enrolment cannot go on (the message names the file or star and the reason)."""
