"""The labelling rules, in one readable place.

Roles and relations decide first (who wrote an item, what it replies to or quotes, what came
before it); text cues refine the confidence and the evidence. Every label records the rule that
fired and the evidence. Rules, in the order they are tried for a post in a story:

  poll          a story actor's post that carries a poll, inside the window.
  denial        the subject replies to or quotes a claimant's post          (subject-answers-claimant)
                the subject's own post in the story with a negation cue     (subject-negation-cue)
  rebuttal      the claimant replies to or quotes a subject's post           (claimant-answers-subject)
  claim         the claimant's own post that matches the story query         (claimant-post)
  reply         anyone else's reply to a post in the story (gets a stance)  (reply-in-thread)
  mention       any other matching post, or an actor's post no rule above explains

and for an article matching the story query inside the window:

  coverage_of_rebuttal  published after the first rebuttal and carrying a rebuttal cue
  coverage_of_denial    published after the first denial and carrying a denial cue
  mention               published before the claimant's first claim post (background)
  coverage_of_claim     otherwise (it reports the claim; the evidence says what it came after)

A relation without a cue keeps its label at a lower confidence: a denial need not use a negation
word ("Bremmer is not to be believed" and "he must be confused" are both answers to the claim).
"""

from __future__ import annotations


# Cues are RE2 patterns matched case-insensitively on word boundaries; the matched text is
# quoted in the evidence.
NEGATION_CUES = [
    r"only once", r"never", r"not true", r"untrue", r"false", r"fake", r"lie", r"lies",
    r"lying", r"liar", r"did not", r"didn'?t", r"do not", r"don'?t", r"no one should",
    r"nobody should", r"not be believed", r"deny", r"denies", r"nonsense", r"made up",
    r"fabricat\w*", r"not accurate", r"inaccurate", r"wrong", r"no such", r"nothing to do",
]
DENIAL_COVERAGE_CUES = [
    r"deni\w*", r"reject\w*", r"refut\w*", r"dismiss\w*", r"push(es|ed)? back", r"hits? back",
    r"disput\w*", r"only (once|spoke)", r"says? (he|she|they) (never|did not|didn'?t)",
    r"calls? .{0,40}(false|untrue|lie|liar)", r"never happened",
    r"no (such )?(call|conversation)",
    # a few other languages' "denies"
    r"bestreit\w*", r"dementi\w*", r"dément\w*", r"desmient\w*", r"niega\w*", r"smentisc\w*",
]
REBUTTAL_COVERAGE_CUES = [
    r"stands? by", r"doubles? down", r"rebut\w*", r"insist\w*", r"fires? back",
    r"(responds?|responded|replies|replied) to (the|a|his|her|their) (denial|critic\w*)", r"repeat\w* (his|her) claim",
    r"maintain\w*",
]

CONFIDENCE = {
    "poll": 0.95,
    "relation+cue": 0.9,
    "relation": 0.75,
    "cue-only": 0.6,
    "claim": 0.8,
    "coverage+cue": 0.85,
    "coverage": 0.7,
    "reply": 0.9,
    "mention": 0.5,
}


def cue_pattern(cues: list[str]) -> str:
    """One RE2 alternation with word boundaries (any script), case-insensitive."""
    return (r"(?i)(?:^|[^\p{L}\p{N}_])(" + "|".join(cues) + r")(?:$|[^\p{L}\p{N}_])")
