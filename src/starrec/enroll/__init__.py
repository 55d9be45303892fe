"""Few-shot enrolment: stars added from a few photos as embedding prototypes, no retraining."""
