"""Svenska: words about sending through the relay (pauses, limits, timeouts) and the suppression list.
Same keys as words_en_sending.py."""

SV_SENDING: dict[str, str] = {
    # why sending waits (the reasons are mailer.mail.replies' and mailer.outbox.relay's)
    "pause_reason_quota": "Reläets sändningskvot är slut för stunden.",
    "pause_reason_policy": "Reläet vägrade ta emot mejlet enligt sina regler.",
    "pause_reason_closing": "Reläet är upptaget och stängde förbindelsen (421).",
    "pause_reason_sender": "Reläet godtar inte vår avsändaradress.",
    "pause_reason_login": "Reläet nekade inloggningen.",
    "pause_reason_system": "Reläet har ett tillfälligt fel.",
    "pause_reason_breaker": "Samma svar kom för tre mottagare i rad, så felet är reläets, inte adressernas.",
    "pause_reason_timeout": "E-postservern svarar inte.",
    "pause_reason_limit": "Gränsen för antal mejl per timme eller dygn är nådd.",
    "campaign_paused": "Utskicket är pausat. {reason} Ingen adress har spärrats för det.",
    "relay_reply": "Reläets svar:",
    "next_try": "Nästa försök {when}; sedan fortsätter utskicket av sig självt.",
    "relay_waits": "Allt utskick väntar. {reason} Nästa försök {when}.",
    "relay_not_answering": "E-postservern svarar inte. Inget mejl har markerats som skickat eller misslyckat "
                           "för det; nästa försök {when}.",
    "limit_progress": "{n} av {total} skickade, resten går ut från {when}.",
    "resume_now": "Försök igen nu",
    "campaign_resume": "Utskicket fortsätter; {n} mejl väntar på att skickas.",
    "sending_paused_title": "Utskicket väntar",
    # the suppression list
    "suppressions_title": "Spärrade adresser",
    "suppressions_intro": "Hit skickas inga fler utskick. Serverns svar visar varför en adress spärrades. "
                          "Gäller svaret reläet och inte adressen (till exempel en kvot eller en policy) "
                          "är spärren fel och kan hävas.",
    "suppression_reason_bounced": "Studsade",
    "suppression_reason_unsubscribed": "Avregistrerade",
    "suppression_reason_erased": "Raderade personer",
    "suppressions_none": "Inga.",
    "stored_reply": "Serverns svar",
    "suppressed_at": "Spärrad",
    "not_the_address": "Troligen fel: svaret gäller reläet, inte adressen.",
    "lift": "Häv spärren",
    "lift_confirm": "Häva spärren? Adressen kan få utskick igen.",
    "lifted": "Spärren för {email} är hävd.",
    "lift_not_the_address": "Häv alla {n} som gällde reläet",
    "lifted_n": "{n} spärrar är hävda.",
    "lift_failed": "Spärren kunde inte hävas: {reason}",
    "erased_person": "(raderad person)",
    "all_suppressions": "Alla spärrade adresser",
}
