"""Svenska: the staff pages' words for safe rounds, test mails and meeting changes. Same keys as words_en_safety.py."""

SV_SAFETY: dict[str, str] = {
    "file_meeting_update": "ändrad träff",
    "file_meeting_cancelled": "inställd träff",
    # refusals (domain error codes, with their parameters)
    "refusal_meeting_cancelled": "Träffen ”{meeting}” är inställd, så inga utskick kan göras för den.",
    "refusal_meeting_started": "Träffen ”{meeting}” har redan börjat. Inbjudningar och påminnelser kan inte "
                               "skickas längre (tack och utvärdering kan).",
    "refusal_send_at_invalid": "Utskickstid: ”{text}” är inte ett datum och en tid.",
    "refusal_send_at_past": "Utskickstid: {text} har redan varit. Välj en senare tid, eller skicka nu.",
    "refusal_send_at_after_meeting": "Utskickstid: {text} är efter att träffen börjar. Välj en tidigare tid.",
    "refusal_no_recipients": "Utskicket har inga mottagare, så det finns inget att skicka. Välj fler "
                             "mottagare i ett nytt utskick.",
    "refusal_unsubscribe_missing": "Mallen {file}: avregistreringslänken ({{{{ unsubscribe_url }}}}) saknas i det "
                                   "färdiga mejlet. Den och texten om varför mottagaren får mejlet måste finnas "
                                   "med (de kommer normalt från sidfoten, footer.txt och footer.html).",
    "meeting_refusal_start_in_past": "Starttiden {text} har redan varit. Välj en tid framåt.",
    "meeting_refusal_capacity_below_taken": "Antal platser kan inte bli färre än de {taken} som redan är tagna.",
    "meeting_refusal_meeting_cancelled": "Träffen är inställd och kan inte ändras.",
    "meeting_refusal_already_cancelled": "Träffen är redan inställd.",
    "meeting_refusal_meeting_started_cancel": "Träffen har redan börjat och kan inte ställas in.",
    # the audience: who is left out
    "left_out_answered": "{n} som redan svarat på träffen (ja, nej eller väntelista) är inte med.",
    "left_out_answered_one": "1 som redan svarat på träffen (ja, nej eller väntelista) är inte med.",
    "include_answered": "Ta med även dem som redan svarat på träffen",
    "include_answered_hint": "Gäller inbjudningar och påminnelser. Utan bocken får den som redan svarat inget nytt mejl.",
    # previewing someone who will not get it
    "will_not_get_unsubscribed": "{email} har avregistrerat sig och får inte det här mejlet.",
    "will_not_get_bounced": "Mejl till {email} studsar, så hen får inte det här mejlet.",
    "will_not_get_erased": "{email} är raderad och får inte det här mejlet.",
    "will_not_get_answered": "{email} har redan svarat på träffen och får inte det här mejlet.",
    "will_not_get_not_in_audience": "{email} hör inte till mottagarna och får inte det här mejlet.",
    # meeting changes
    "notify_legend": "Om tid, ort eller lokal ändras",
    "notify_yes": "Mejla de {n} som anmält sig eller står på väntelistan, med ny kalenderfil",
    "notify_no": "Mejla ingen",
    "meeting_saved_notified": "Träffen är sparad. {n} mejl om ändringen skickas till dem som anmält sig.",
    "cancel_meeting_heading": "Ställ in träffen",
    "cancel_meeting_hint": "De {n} som anmält sig eller står på väntelistan får ett mejl om att träffen är "
                           "inställd, som också tar bort den ur deras kalender. Utskick som inte gått iväg stoppas.",
    "cancel_meeting_button": "Ställ in träffen",
    "confirm_cancel_meeting": "Ställa in träffen och mejla dem som anmält sig? Det går inte att ångra.",
    "meeting_cancelled_done": "Träffen är inställd. {n} mejl om det skickas.",
    "meeting_cancelled_tag": "Inställd",
    "meeting_cancelled_note": "Träffen är inställd.",
    "walk_ins_here": "Kom utan anmälan",
}
