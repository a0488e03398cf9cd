"""Views for people: the terminal summary and the self-contained HTML report."""
