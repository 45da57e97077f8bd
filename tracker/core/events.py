"""The kinds of event a story item can be (the analysis labels them; analysts may too)."""

EVENT_TYPES = ("claim", "denial", "rebuttal", "coverage_of_claim", "coverage_of_denial",
               "coverage_of_rebuttal", "poll", "reply", "mention")
