"""Understanding what callers say, by sound (readings.py): numbers, dates, times, closed sets of
answers (yes/no, what the caller wants), venues and names. Pure functions of the recogniser's
hypotheses: the dialog decides what to do with what they find."""
