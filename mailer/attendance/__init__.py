"""Who came to a meeting: check-ins, walk-ins, and who counts as a participant.

Why its own package: campaigns (thanks to participants), evaluations and the reports in
mailer.tracking all ask who came; the reports sit above them, the facts below.
"""
