//! Portable diesel schema shared by the SQLite and PostgreSQL backends.
//! Keep in step with `migrations/sqlite` and `migrations/postgres`.
//! Private to `store`: code outside the store cannot write a query, scoped or not.

diesel::table! {
    tenants (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        ticket_prefix -> Text,
        created_at -> Timestamp,
        smtp -> Nullable<Text>,
        stats_per_agent -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        email -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        locale -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    queues (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
        ack_template -> Nullable<Text>,
        calendar_id -> Nullable<BigInt>,
        escalation_target_id -> Nullable<BigInt>,
        notify_events -> Text,
        info_class -> Integer,
    }
}

diesel::table! {
    queue_members (queue_id, user_id) {
        tenant_id -> BigInt,
        queue_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mailboxes (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        address -> Text,
        queue_id -> BigInt,
        imap_host -> Text,
        imap_port -> Integer,
        imap_tls -> Text,
        imap_user -> Text,
        imap_password_enc -> Text,
        folder -> Text,
        after_import -> Text,
        processed_folder -> Text,
        reply_from -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
        smtp -> Nullable<Text>,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        preferred_channel -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        language -> Text,
    }
}

diesel::table! {
    ticket_counters (tenant_id, year) {
        tenant_id -> BigInt,
        year -> Integer,
        last_value -> BigInt,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        number -> Text,
        subject -> Text,
        status -> Text,
        priority -> Text,
        queue_id -> BigInt,
        assignee_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        channel -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_response_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        mailbox_id -> Nullable<BigInt>,
        priority_rank -> Integer,
        merged_into_id -> Nullable<BigInt>,
        sla_due_at -> Nullable<Timestamp>,
        sla_warn_at -> Nullable<Timestamp>,
        sla_clock -> Nullable<Text>,
        waiting_on -> Nullable<Text>,
        diarienummer -> Nullable<Text>,
        status_link_version -> BigInt,
        automatic -> Nullable<Text>,
    }
}

diesel::table! {
    sla_calendars (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
        spec -> Text,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        queue_id -> BigInt,
        priority -> Text,
        first_response_minutes -> Nullable<Integer>,
        next_response_minutes -> Nullable<Integer>,
        resolution_minutes -> Nullable<Integer>,
        warn_percent -> Integer,
        rules -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ticket_sla (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        target -> Text,
        cycle -> Integer,
        budget_secs -> BigInt,
        used_secs -> BigInt,
        running_since -> Nullable<Timestamp>,
        warn_at -> Nullable<Timestamp>,
        due_at -> Nullable<Timestamp>,
        met_at -> Nullable<Timestamp>,
        met_in_time -> Nullable<Bool>,
        warned_cycle -> Integer,
        breached_cycle -> Integer,
        next_check_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_cursor (id) {
        id -> Integer,
        last_event_id -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        author_id -> Nullable<BigInt>,
        from_addr -> Nullable<Text>,
        to_addrs -> Text,
        cc_addrs -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        message_id -> Nullable<Text>,
        in_reply_to -> Nullable<Text>,
        references_ -> Nullable<Text>,
        raw_sha256 -> Nullable<Text>,
        created_at -> Timestamp,
        auto_sent -> Bool,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        message_id -> BigInt,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        inline -> Bool,
        content_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        actor_id -> Nullable<BigInt>,
        kind -> Text,
        details -> Text,
        created_at -> Timestamp,
        once_key -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        tenant_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        tenant_id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_start -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    periodic_jobs (name) {
        name -> Text,
        last_run_at -> Timestamp,
        run_by -> Nullable<Text>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        kind -> Text,
        payload -> Text,
        ticket_id -> Nullable<BigInt>,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        done_at -> Nullable<Timestamp>,
        dead_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mailbox_state (mailbox_id) {
        mailbox_id -> BigInt,
        tenant_id -> BigInt,
        uidvalidity -> Nullable<BigInt>,
        last_uid -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_ok_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    message_receipts (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        message_id -> BigInt,
        mailbox_id -> Nullable<BigInt>,
        uidvalidity -> BigInt,
        uid -> BigInt,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_links (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        other_id -> BigInt,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    acknowledgements (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        address -> Text,
        ticket_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> tenants (tenant_id));
diesel::table! {
    ticket_tags (ticket_id, tag) {
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        tag -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        queue_id -> Nullable<BigInt>,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    presence (ticket_id, user_id) {
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        user_id -> BigInt,
        expires_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(ticket_tags -> tickets (ticket_id));
diesel::joinable!(queues -> tenants (tenant_id));
diesel::joinable!(queue_members -> queues (queue_id));
diesel::joinable!(queue_members -> users (user_id));
diesel::joinable!(tickets -> queues (queue_id));
diesel::joinable!(tickets -> contacts (contact_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(attachments -> messages (message_id));

diesel::joinable!(ticket_sla -> tickets (ticket_id));

diesel::table! {
    kb_articles (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        slug -> Text,
        title -> Text,
        summary -> Text,
        body -> Text,
        tags -> Text,
        department -> Text,
        audience -> Text,
        language -> Text,
        status -> Text,
        revision -> Integer,
        views -> BigInt,
        uses -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    kb_revisions (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        article_id -> BigInt,
        revision -> Integer,
        slug -> Text,
        title -> Text,
        summary -> Text,
        body -> Text,
        tags -> Text,
        department -> Text,
        audience -> Text,
        language -> Text,
        status -> Text,
        author_id -> Nullable<BigInt>,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    kb_uses (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        article_id -> BigInt,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    escalation_targets (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
        kind -> Text,
        url -> Nullable<Text>,
        method -> Text,
        headers -> Text,
        auth -> Text,
        auth_user -> Nullable<Text>,
        auth_secret -> Nullable<Text>,
        hmac_secret -> Nullable<Text>,
        content_type -> Text,
        body_template -> Text,
        case_pointer -> Text,
        timeout_seconds -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        referral_email -> Nullable<Text>,
        response_days -> Nullable<Integer>,
        allow_citizen_reply -> Bool,
        transfer_queue_id -> Nullable<BigInt>,
        secret_headers -> Text,
        referral_pauses_sla -> Bool,
    }
}

diesel::table! {
    escalations (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        target_id -> BigInt,
        state -> Text,
        idempotency_key -> Text,
        case_number -> Nullable<Text>,
        requested_by -> Nullable<BigInt>,
        reason -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        due_at -> Nullable<Timestamp>,
        answer -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sms_gateways (tenant_id) {
        tenant_id -> BigInt,
        provider -> Text,
        url -> Nullable<Text>,
        username -> Nullable<Text>,
        password -> Nullable<Text>,
        sender -> Text,
        nordic_gsm7 -> Bool,
        price_ore -> Integer,
        body_template -> Text,
        content_type -> Text,
        id_pointer -> Text,
        report_token -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sms_messages (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> Nullable<BigInt>,
        queue_id -> Nullable<BigInt>,
        to_number -> Text,
        body -> Text,
        encoding -> Text,
        segments -> Integer,
        cost_ore -> BigInt,
        provider -> Text,
        provider_ref -> Nullable<Text>,
        status -> Text,
        error -> Nullable<Text>,
        sent_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(escalations -> escalation_targets (target_id));

diesel::table! {
    referral_handlers (target_id, user_id) {
        tenant_id -> BigInt,
        target_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    routing_rules (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        position -> Integer,
        name -> Text,
        enabled -> Bool,
        match_queue_id -> Nullable<BigInt>,
        match_senders -> Text,
        match_words -> Text,
        match_in -> Text,
        set_priority -> Nullable<Text>,
        set_queue_id -> Nullable<BigInt>,
        add_tag -> Nullable<Text>,
        escalation_target_id -> Nullable<BigInt>,
        stop -> Bool,
        hits -> BigInt,
        last_hit_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
diesel::table! {
    ticket_intake (ticket_id) {
        ticket_id -> BigInt,
        tenant_id -> BigInt,
        channel -> Text,
        answered_at_first_contact -> Bool,
        registered_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}
diesel::joinable!(kb_uses -> kb_articles (article_id));
diesel::joinable!(kb_revisions -> kb_articles (article_id));

diesel::table! {
    sent_mail (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        message_id -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    sla_calendars,
    sla_policies,
    ticket_sla,
    sla_cursor,
    users,
    queues,
    queue_members,
    mailboxes,
    contacts,
    ticket_counters,
    tickets,
    messages,
    attachments,
    ticket_events,
    sessions,
    api_tokens,
    login_throttle,
    periodic_jobs,
    outbox,
    mailbox_state,
    message_receipts,
    ticket_links,
    acknowledgements,
    ticket_tags,
    canned_responses,
    presence,
    kb_articles,
    kb_revisions,
    kb_uses,
    escalation_targets,
    escalations,
    sms_gateways,
    sms_messages,
    routing_rules,
    referral_handlers,
    ticket_intake,
    sent_mail,
);

diesel::table! {
    message_problems (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        message_id -> BigInt,
        kind -> Text,
        filename -> Nullable<Text>,
        size_bytes -> Nullable<BigInt>,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    survey_settings (queue_id) {
        queue_id -> BigInt,
        tenant_id -> BigInt,
        enabled -> Bool,
        matter -> Text,
        period_days -> Integer,
        delay_minutes -> Integer,
    }
}

diesel::table! {
    surveys (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        ticket_id -> BigInt,
        queue_id -> BigInt,
        contact_id -> BigInt,
        matter -> Text,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        channel -> Nullable<Text>,
        skipped -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
        bemotande -> Nullable<Integer>,
        tydlighet -> Nullable<Integer>,
        enkelhet -> Nullable<Integer>,
        comment -> Nullable<Text>,
    }
}

diesel::joinable!(surveys -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(surveys, tickets);
