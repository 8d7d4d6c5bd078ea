"""Privacy (GDPR): what is held about a person, erasure on request, and retention.

Above the packages whose data it handles: it reads the personal-data declaration on
every model column (`mailer.db.personal`) and the foreign keys that lead to a contact
or a meeting, so no list of tables or columns is kept by hand here. Files under the
instance folder (file-outbox messages, staged uploads, exports) are covered too.
"""
