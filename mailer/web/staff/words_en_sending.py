"""English: words about sending through the relay (pauses, limits, timeouts) and the suppression list.
Same keys as words_sv_sending.py."""

EN_SENDING: dict[str, str] = {
    "pause_reason_quota": "The relay's sending quota is used up for now.",
    "pause_reason_policy": "The relay refused the message by its rules.",
    "pause_reason_closing": "The relay is busy and closed the connection (421).",
    "pause_reason_sender": "The relay does not accept our sender address.",
    "pause_reason_login": "The relay refused the log-in.",
    "pause_reason_system": "The relay has a temporary fault.",
    "pause_reason_breaker": "The same reply came for three recipients in a row, so the fault is the relay's, "
                            "not the addresses'.",
    "pause_reason_timeout": "The mail server is not answering.",
    "pause_reason_limit": "The limit of messages per hour or per day is reached.",
    "campaign_paused": "Sending is paused. {reason} No address was suppressed for it.",
    "relay_reply": "The relay's reply:",
    "next_try": "Next try {when}; then sending carries on by itself.",
    "relay_waits": "All sending waits. {reason} Next try {when}.",
    "relay_not_answering": "The mail server is not answering. No message was marked sent or failed for it; "
                           "next try {when}.",
    "limit_progress": "{n} of {total} sent, the rest goes out from {when}.",
    "resume_now": "Try again now",
    "campaign_resume": "Sending carries on; {n} messages wait to go out.",
    "sending_paused_title": "Sending waits",
    "suppressions_title": "Suppressed addresses",
    "suppressions_intro": "No more mailings go to these. The server's reply shows why an address was "
                          "suppressed. If the reply is about the relay rather than the address (a quota or a "
                          "policy, say), the suppression is wrong and can be lifted.",
    "suppression_reason_bounced": "Bounced",
    "suppression_reason_unsubscribed": "Unsubscribed",
    "suppression_reason_erased": "Erased people",
    "suppressions_none": "None.",
    "stored_reply": "The server's reply",
    "suppressed_at": "Suppressed",
    "not_the_address": "Probably wrong: the reply is about the relay, not the address.",
    "lift": "Lift",
    "lift_confirm": "Lift the suppression? The address may get mailings again.",
    "lifted": "{email} is no longer suppressed.",
    "lift_not_the_address": "Lift all {n} that were about the relay",
    "lifted_n": "{n} suppressions lifted.",
    "lift_failed": "Could not lift the suppression: {reason}",
    "erased_person": "(erased person)",
    "all_suppressions": "All suppressed addresses",
}
