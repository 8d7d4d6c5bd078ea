"""Bounces that arrive later as mail: the tagged envelope sender (VERP), reading delivery reports,
and what they change (suppressions, soft-bounce counts, unsubscriptions from complaints).

The synchronous side (a relay refusing a recipient during SMTP) is the outbox's; this package
owns what comes back afterwards, by mailbox file, Maildir, mbox or IMAP.
"""
