//! The backend-neutral conformance suite: one `pub async fn` per behaviour, taking the store
//! under test, and [`conformance_suite!`] listing them all so each backend instantiates every
//! one as a test with its own fresh database.

pub mod connection_pages;
pub mod connections;
pub mod connectors;
pub mod events;
pub mod refresh;
pub mod sessions;
pub mod webhooks;
pub mod workspaces;

/// Invokes `$run!(module, function)` for every conformance test.
macro_rules! conformance_suite {
    ($run:ident) => {
        $run!(
            workspaces,
            ensure_workspace_creates_once_and_returns_the_same_workspace
        );
        $run!(workspaces, api_key_is_found_by_id_with_its_hash);
        $run!(workspaces, api_key_with_an_existing_id_is_a_conflict);
        $run!(workspaces, migrate_again_and_ping_succeed);
        $run!(
            connectors,
            upsert_connector_creates_then_replaces_and_bumps_the_generation
        );
        $run!(
            connectors,
            connectors_are_listed_by_name_and_only_in_their_workspace
        );
        $run!(
            connectors,
            a_jwt_bearer_connector_keeps_its_key_until_it_changes_grant_and_rotates_in_two_steps
        );
        $run!(
            connectors,
            delete_connector_reports_deleted_not_found_or_in_use
        );
        $run!(
            connectors,
            recreated_connector_counts_as_changed_for_connections_that_failed_on_it
        );
        $run!(
            connectors,
            a_connection_degraded_by_its_connector_is_due_once_the_connector_changes
        );
        $run!(sessions, connect_session_reads_back_with_its_verifier);
        $run!(sessions, connect_session_is_consumed_once_then_already_used);
        $run!(sessions, expired_connect_session_is_not_consumable);
        $run!(sessions, unknown_state_is_unknown);
        $run!(sessions, concurrent_callbacks_consume_a_state_exactly_once);
        $run!(sessions, second_session_with_the_same_state_is_a_conflict);
        $run!(
            sessions,
            a_page_session_lives_until_it_ends_or_expires_and_only_for_its_workspace
        );
        $run!(
            connections,
            inserted_connection_reads_back_active_with_its_account
        );
        $run!(connections, connection_with_an_existing_id_is_a_conflict);
        $run!(
            connections,
            another_workspace_sees_no_connection_and_no_token
        );
        $run!(
            connections,
            every_connection_method_is_confined_to_its_workspace
        );
        $run!(
            connections,
            list_connections_applies_each_filter_newest_first
        );
        $run!(
            connection_pages,
            pages_visit_every_connection_exactly_once_newest_first
        );
        $run!(
            connection_pages,
            connections_created_in_the_same_millisecond_are_ordered_by_id_across_pages
        );
        $run!(
            connection_pages,
            paging_is_stable_under_inserts_and_status_changes_between_pages
        );
        $run!(connection_pages, filters_keep_working_across_pages);
        $run!(
            connection_pages,
            counts_are_per_connector_and_status_of_the_workspace
        );
        $run!(connection_pages, counts_by_status_span_every_workspace);
        $run!(
            connections,
            current_token_returns_the_access_token_and_its_times
        );
        $run!(connections, touch_last_used_keeps_the_latest_use);
        $run!(connections, an_annotation_marks_only_an_active_connection);
        $run!(
            connections,
            disconnect_erases_the_tokens_once_with_its_event
        );
        $run!(
            connections,
            due_for_retry_lists_due_retries_of_degraded_and_due_rechecks_of_expired_connections
        );
        $run!(
            connections,
            approvals_after_count_the_same_account_on_the_same_connector_only
        );
        $run!(connections, a_rotation_is_not_a_new_approval);
        $run!(
            connections,
            idle_connections_lists_active_ones_with_a_refresh_token_unused_since_the_cutoff_oldest_first
        );
        $run!(
            connections,
            a_claimed_job_is_skipped_by_other_instances_until_its_claim_lapses
        );
        $run!(
            refresh,
            refresh_context_reads_the_connection_its_tokens_and_its_connector_at_once
        );
        $run!(refresh, begin_attempt_is_taken_once_under_contention);
        $run!(
            refresh,
            a_second_caller_is_told_held_while_the_lease_lives_and_moved_once_the_token_moved
        );
        $run!(refresh, a_lapsed_lease_is_taken_by_another_owner);
        $run!(
            refresh,
            an_attempt_that_never_landed_is_reported_to_the_next_one
        );
        $run!(refresh, the_latest_interrupted_attempt_is_the_one_reported);
        $run!(refresh, renew_lease_extends_only_the_owners_lease);
        $run!(
            refresh,
            abandon_attempt_clears_the_lease_and_record_of_its_owner_only
        );
        $run!(
            refresh,
            a_landed_refresh_stores_its_tokens_and_events_and_ends_the_attempt
        );
        $run!(
            refresh,
            a_refresh_without_rotation_keeps_the_refresh_token_and_the_instance
        );
        $run!(
            refresh,
            a_lifetime_warning_landed_with_a_refresh_is_remembered_until_a_reconnect
        );
        $run!(
            refresh,
            a_refresh_outcome_fenced_by_a_stale_version_does_not_land
        );
        $run!(
            refresh,
            a_landed_failure_stores_its_outcome_and_ends_the_attempt
        );
        $run!(
            refresh,
            an_unanswered_failure_keeps_the_start_of_its_attempt
        );
        $run!(refresh, a_salvaged_refresh_token_replaces_the_stored_one);
        $run!(
            refresh,
            adjust_expiry_changes_the_expiry_only_at_the_given_version
        );
        $run!(
            refresh,
            late_refresh_does_not_revive_a_disconnected_connection
        );
        $run!(
            refresh,
            reconnect_replaces_tokens_and_account_and_clears_the_failure
        );
        $run!(refresh, reconnect_refuses_a_disconnected_connection);
        $run!(
            refresh,
            an_annotation_marks_an_active_connection_and_the_next_refresh_clears_it
        );
        $run!(
            refresh,
            a_landing_changes_its_connectors_policy_evidence_with_its_outcome
        );
        $run!(
            refresh,
            a_lapsed_owners_landing_leaves_the_new_owners_lease_and_record
        );
        $run!(events, events_list_newest_first_and_page_with_before_seq);
        $run!(
            events,
            retention_deletes_events_and_connect_sessions_older_than_the_cutoff
        );
        $run!(
            events,
            events_are_listed_only_for_their_connection_and_workspace
        );
        $run!(
            events,
            the_event_cap_keeps_the_newest_events_of_connections_active_since_the_given_time
        );
        $run!(
            webhooks,
            a_change_writes_one_delivery_per_webhook_that_wants_its_event
        );
        $run!(
            webhooks,
            a_refresh_landing_tells_its_status_change_and_a_stale_one_tells_nothing
        );
        $run!(
            webhooks,
            a_claimed_delivery_is_skipped_by_other_instances_and_recorded_once
        );
        $run!(
            webhooks,
            a_failed_attempt_is_due_again_at_its_retry_time_with_the_same_body
        );
        $run!(
            webhooks,
            a_webhook_failing_for_three_days_is_disabled_and_told_then_enabled_again
        );
        $run!(
            webhooks,
            a_rotated_secret_signs_next_to_the_new_one_until_its_time
        );
        $run!(
            webhooks,
            deliveries_page_newest_first_and_go_with_their_webhook
        );
        $run!(
            webhooks,
            retention_deletes_finished_deliveries_of_old_events_and_keeps_pending_ones
        );
    };
}
pub(crate) use conformance_suite;
