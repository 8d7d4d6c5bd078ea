"""Public sign-up with double opt-in: a pending request, a confirmation mail, then a contact with consent."""
