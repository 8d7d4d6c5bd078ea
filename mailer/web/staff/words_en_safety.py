"""English: the staff pages' words for safe rounds, test mails and meeting changes. Same keys as words_sv_safety.py."""

EN_SAFETY: dict[str, str] = {
    "file_meeting_update": "meeting changed",
    "file_meeting_cancelled": "meeting cancelled",
    "refusal_meeting_cancelled": "The meeting “{meeting}” is cancelled, so nothing can be sent for it.",
    "refusal_meeting_started": "The meeting “{meeting}” has already started. Invitations and reminders can no "
                               "longer be sent (thanks and evaluation can).",
    "refusal_send_at_invalid": "Send time: “{text}” is not a date and time.",
    "refusal_send_at_past": "Send time: {text} has already passed. Choose a later time, or send now.",
    "refusal_send_at_after_meeting": "Send time: {text} is after the meeting starts. Choose an earlier time.",
    "refusal_no_recipients": "The campaign has no recipients, so there is nothing to send. Choose more recipients "
                             "in a new campaign.",
    "refusal_unsubscribe_missing": "Template {file}: the unsubscribe link ({{{{ unsubscribe_url }}}}) is missing from "
                                   "the finished mail. It and the note on why the person gets the mail must stay "
                                   "(they normally come from the footer, footer.txt and footer.html).",
    "meeting_refusal_start_in_past": "The start {text} has already passed. Choose a time ahead.",
    "meeting_refusal_capacity_below_taken": "The number of places cannot be lower than the {taken} already taken.",
    "meeting_refusal_meeting_cancelled": "The meeting is cancelled and cannot be changed.",
    "meeting_refusal_already_cancelled": "The meeting is already cancelled.",
    "meeting_refusal_meeting_started_cancel": "The meeting has already started and cannot be cancelled.",
    "left_out_answered": "{n} who already answered the meeting (yes, no or waiting list) are left out.",
    "left_out_answered_one": "1 who already answered the meeting (yes, no or waiting list) is left out.",
    "include_answered": "Include those who already answered the meeting",
    "include_answered_hint": "For invitations and reminders. Unticked, those who answered get no new mail.",
    "will_not_get_unsubscribed": "{email} has unsubscribed and will not get this mail.",
    "will_not_get_bounced": "Mail to {email} bounces, so they will not get this mail.",
    "will_not_get_erased": "{email} has been erased and will not get this mail.",
    "will_not_get_answered": "{email} has already answered the meeting and will not get this mail.",
    "will_not_get_not_in_audience": "{email} is not among the recipients and will not get this mail.",
    "notify_legend": "If the time, town or venue changes",
    "notify_yes": "Email the {n} who signed up or are on the waiting list, with a new calendar file",
    "notify_no": "Email nobody",
    "meeting_saved_notified": "The meeting is saved. {n} emails about the change go to those who signed up.",
    "cancel_meeting_heading": "Cancel the meeting",
    "cancel_meeting_hint": "The {n} who signed up or are on the waiting list get an email saying the meeting is "
                           "cancelled, which also removes it from their calendar. Rounds not yet sent are stopped.",
    "cancel_meeting_button": "Cancel the meeting",
    "confirm_cancel_meeting": "Cancel the meeting and email those who signed up? This cannot be undone.",
    "meeting_cancelled_done": "The meeting is cancelled. {n} emails about it are being sent.",
    "meeting_cancelled_tag": "Cancelled",
    "meeting_cancelled_note": "The meeting is cancelled.",
    "walk_ins_here": "Came without signing up",
}
